#!/usr/bin/env bash
# The hub demo: AWS's "centralized access to VPC interface endpoints"
# (examples/centralized-endpoints.toml) as a lab. Two spoke VPCs and an on-premises data
# centre (namespace demo-hub-dc-1, over a Site-to-Site VPN) reach the interface endpoints of a
# shared-services VPC through one transit gateway:
#   1. the transit gateway's two route tables: the spokes see the shared VPC and the data
#      centre, not each other;
#   2. a spoke and the data centre curl the api endpoint (an NLB-backed endpoint service);
#   3. the data centre asks the shared VPC's resolver through the inbound Resolver endpoint,
#      and a spoke's resolver forwards corp.example to the data centre's DNS server (dnsmasq)
#      through the outbound endpoint;
#   4. spoke to spoke is dropped at the transit gateway, and trace says why;
#   5. a network ACL without the rule for the replies' ephemeral ports breaks the path, and
#      trace names the ACL and its rule.
# Nothing leaves the machine: scripts/check-isolation.sh proves it before traffic is sent.
#
# Run as root on Debian:  sudo scripts/demo-hub.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh

demo_prepare
command -v dnsmasq >/dev/null || { echo "demo-hub.sh: dnsmasq is needed (Debian package dnsmasq-base; scripts/setup.sh --test installs it)" >&2; exit 1; }

P=demo-hub-
SOCK=/run/vpce-demo-hub.sock
CONFIG=examples/centralized-endpoints.toml
VPCECTL=target/release/vpcectl
export VPCE_SOCKET=$SOCK
LOG=$(mktemp /tmp/vpced-demo-hub.XXXXXX.log)

cleanup() {
  [ -z "${DNSMASQ:-}" ] || kill "$DNSMASQ" 2>/dev/null || true
  lab_cleanup "$P" "$SOCK" "${WORK:-}"
}
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)

step "The hub: a transit gateway, its route tables, the data centre behind a VPN"
run $VPCECTL validate $CONFIG
run $VPCECTL show transit-gateway-attachments $CONFIG
run $VPCECTL show transit-gateway-route-tables $CONFIG

step "Start vpced in its own namespace (${P}fabric, no uplink)"
start_vpced "$P" "$CONFIG" "$SOCK" "$LOG"
run $VPCECTL status

step "Servers: the api behind its NLB (provider VPC), a DNS server in the data centre"
mkdir -p "$WORK/www"
echo "hello from the api, through PrivateLink" >"$WORK/www/index.html"
http_server ${P}api-web 80 "$WORK/www" "$WORK/www.log"
ip netns exec ${P}dc-1 dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=192.168.10.53 \
  --bind-interfaces --host-record=db.corp.example,192.168.10.20 >/dev/null 2>&1 &
DNSMASQ=$!

step "Isolation: every lab namespace is sealed, every address routes through vpced"
run scripts/check-isolation.sh $P ${P}spoke-1=10.100.1.20 ${P}dc-1=10.100.1.20 ${P}dc-1=10.100.1.53 ${P}spoke-1=10.2.1.10

step "A spoke reaches the api endpoint in the shared VPC through the transit gateway"
in_ns spoke-1 dig @10.1.0.2 +short api.example.internal
in_ns spoke-1 curl -s -m 5 http://10.100.1.20/
run $VPCECTL trace --daemon --from spoke-1-web --to vpce-0c00000000000a001 --port 80 | sed -n '1,12p'

step "The data centre, over the VPN: DNS through the inbound Resolver endpoint, then curl"
in_ns dc-1 dig @10.100.1.53 +short api.example.internal
in_ns dc-1 curl -s -m 5 http://10.100.2.20/

step "A spoke's resolver forwards corp.example to the data centre (outbound endpoint, rule)"
run $VPCECTL show resolver-rules $CONFIG
sleep 0.5
in_ns spoke-1 dig @10.1.0.2 +short db.corp.example

step "Spoke to spoke: the spokes' route table has no route to the other spoke"
in_ns spoke-1 curl -s -m 2 http://10.2.1.10/ || echo "  (no answer: dropped)"
run $VPCECTL trace $CONFIG --from spoke-1-web --to spoke-2-web --port 80 | grep -A1 '^BLOCKED' || true
run $VPCECTL stats | sed -n '/DROP REASON/,/^$/p'

step "A network ACL without the return rule: requests get in, the replies cannot leave"
sed -e '/rule = 100, action = "allow", protocol = "tcp", ports = "1024-65535"/d' $CONFIG >"$WORK/no-return.toml"
run $VPCECTL apply "$WORK/no-return.toml"
in_ns spoke-1 curl -s -m 2 http://10.100.1.20/ || echo "  (no answer: the reply was dropped)"
run $VPCECTL trace --daemon --from spoke-1-web --to vpce-0c00000000000a001 --port 80 | grep -A1 '^BLOCKED' || true
run $VPCECTL stats | sed -n '/NETWORK ACL/,/^$/p'
run $VPCECTL apply $CONFIG
in_ns spoke-1 curl -s -m 5 http://10.100.1.20/

step "Done. vpced stops and removes its devices and namespaces."
