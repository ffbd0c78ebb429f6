#!/usr/bin/env bash
# The PrivateLink demo: seed 004's hands-on build (examples/privatelink-hands-on.toml) as a lab,
# with the article's two mistakes and their fixes, each applied to the running vpced.
#
# EC2-A (namespace demo-pl-ec2-a, VPC privatelink-A) curls the interface endpoint's address
# 10.0.128.100; the endpoint service's NLB sends the connection to EC2-B (namespace
# demo-pl-ec2-b, VPC privatelink-B), where a web server answers "Hello!". Along the way:
#   0. the connection waits for the provider's acceptance (vpcectl endpoint-connections accept),
#   1. NLB-B's security group has no inbound rule and is enforced on PrivateLink traffic,
#   2. the endpoint is in ap-northeast-1a, EC2-B in 1c, and cross-zone load balancing is off.
# Each failure shows the drop counter that says why. Then EC2-B's server stops: the health
# checks turn the target unhealthy and traffic stops; it starts again and traffic resumes.
# Nothing leaves the machine: scripts/check-isolation.sh proves it before traffic is sent.
#
# Run as root on Debian:  sudo scripts/demo-privatelink.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh

demo_prepare

P=demo-pl-
SOCK=/run/vpce-demo-pl.sock
VPCECTL=target/release/vpcectl
export VPCE_SOCKET=$SOCK
LOG=$(mktemp /tmp/vpced-demo-pl.XXXXXX.log)

cleanup() { lab_cleanup "$P" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)

curl_endpoint() {
  in_ns ec2-a curl -s -m 3 http://10.0.128.100/ || echo "  (no answer: curl gave up)"
}
drops() { echo "vpced's drop counters:"; $VPCECTL stats | sed -n '/DROP REASON/,/^$/p'; }
# What a Reachability Analyzer run would have told the article's author — free, offline.
why() {
  run $VPCECTL trace --daemon --from EC2-A --to vpce-0a000000000000001 --port 80 | grep -A1 -E '^BLOCKED|^reachable' || true
}

# The article's build as first made: connection not yet accepted, both mistakes in place.
# Health checks at AWS's shortest interval, so that the demo does not wait 90 seconds.
sed -e 's|health_check = { protocol = "HTTP", path = "/index.html" }|health_check = { protocol = "HTTP", path = "/index.html", interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }|' \
    -e 's|^connections = .*||' examples/privatelink-hands-on.toml >"$WORK/1-as-built.toml"
sed -e 's|enforce_security_group_inbound_rules_on_private_link_traffic = true|enforce_security_group_inbound_rules_on_private_link_traffic = false|' \
    "$WORK/1-as-built.toml" >"$WORK/2-no-nlb-sg.toml"
sed -e 's|^cross_zone = false|cross_zone = true|' "$WORK/2-no-nlb-sg.toml" >"$WORK/3-cross-zone.toml"

step "The build: two VPCs, an interface endpoint, an endpoint service behind NLB-B"
run $VPCECTL validate "$WORK/1-as-built.toml"
run $VPCECTL show endpoints "$WORK/1-as-built.toml"
run $VPCECTL show load-balancers "$WORK/1-as-built.toml"

step "Start vpced in its own namespace (${P}fabric, no uplink)"
start_vpced "$P" "$WORK/1-as-built.toml" "$SOCK" "$LOG" --state-dir "$WORK/state"
run $VPCECTL status

step "EC2-B runs a web server: Hello!"
mkdir -p "$WORK/www"
echo "Hello!" >"$WORK/www/index.html"
http_server ${P}ec2-b 80 "$WORK/www" "$WORK/www.log"
SERVER=$HTTP_SERVER_PID
for _ in $(seq 50); do ip netns exec ${P}ec2-b ss -ltn | grep -q ':80 ' && break; sleep 0.1; done

step "Isolation: every lab namespace is sealed, every address routes through vpced"
run scripts/check-isolation.sh $P ${P}ec2-a=10.0.128.100 ${P}ec2-b=10.1.128.50

step "0. The request to the endpoint service waits for the provider's acceptance"
curl_endpoint
drops
why
run $VPCECTL endpoint-connections list
run $VPCECTL endpoint-connections accept vpce-0a000000000000001

step "1. Accepted — and still nothing: NLB-B's security group has no inbound rule, and is enforced on PrivateLink traffic"
curl_endpoint
drops
run $VPCECTL stats | sed -n '/SECURITY GROUP/,/^$/p'
why

step "Fix 1: stop enforcing NLB-B's group on PrivateLink traffic (the endpoint's group controls access)"
run $VPCECTL apply "$WORK/2-no-nlb-sg.toml"
curl_endpoint
echo "2. The endpoint is in ap-northeast-1a, EC2-B in 1c, and cross-zone load balancing is off:"
drops
why

step "Fix 2: turn cross-zone load balancing on"
run $VPCECTL apply "$WORK/3-cross-zone.toml"
why
curl_endpoint
run $VPCECTL show target-health
echo "EC2-B's server log — the client is NLB-B's node in 1a (10.1.128.50), never EC2-A:"
grep -v index.html "$WORK/www.log" | tail -n 2

step "EC2-B's server stops: the health checks turn the target unhealthy, traffic stops"
kill "$SERVER"
for _ in $(seq 60); do $VPCECTL show target-health | grep -q unhealthy && break; sleep 0.5; done
run $VPCECTL show target-health
curl_endpoint
drops

step "It starts again: healthy, traffic resumes"
http_server ${P}ec2-b 80 "$WORK/www" "$WORK/www.log"
for _ in $(seq 60); do $VPCECTL show target-health | grep -q ' healthy' && break; sleep 0.5; done
run $VPCECTL show target-health
curl_endpoint

step "Done. vpced stops and removes its devices and namespaces."
