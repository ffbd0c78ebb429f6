#!/usr/bin/env bash
# The region demo: seed 004's build (examples/privatelink-hands-on.toml, as fixed) run by a
# region of two vpced nodes — one per availability zone, ap-northeast-1a and 1c — tied by one
# etcd (UNIX sockets only: nothing listens on a network). Each node serves its own copy of the
# lab here (namespaces demo-rg-a-… and demo-rg-c-…): zonal attachments and the inter-node link
# are the next step. The walk-through: an apply reaches both nodes; zone 1c fails (its node
# forwards and answers nothing, and says why) and is restored; 1c's node is killed with
# SIGKILL (its lease lapses, an apply meanwhile is partial) and restarted (it rejoins at the
# region's generation).
#
# Run as root on Debian:  sudo scripts/demo-region.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh

demo_prepare
command -v etcd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null

P=demo-rg-
VPCECTL=target/release/vpcectl
WORK=$(mktemp -d)
NODE_PIDS=()
cleanup() { region_cleanup "$P" "$WORK"; }
trap cleanup EXIT

sed -e 's|enforce_security_group_inbound_rules_on_private_link_traffic = true|enforce_security_group_inbound_rules_on_private_link_traffic = false|' \
    -e 's|^cross_zone = false|cross_zone = true|' examples/privatelink-hands-on.toml >"$WORK/seed-004.toml"
mkdir -p "$WORK/www"
echo "Hello!" >"$WORK/www/index.html"

curl_in() { # zone letter
  printf '[zone 1%s, EC2-A]$ curl http://10.0.128.100/\n' "$1"
  ip netns exec "${P}$1-ec2-a" curl -s -m 3 http://10.0.128.100/ || echo "  (no answer: curl gave up)"
}
region() { run $VPCECTL region --etcd "$ETCD" "$@"; }

step "etcd, the region's store, on UNIX sockets in $WORK"
start_etcd "$WORK"
region status

step "Apply seed 004's build to the region (validated and compiled here first)"
region apply "$WORK/seed-004.toml"

step "Two nodes join: ap-northeast-1a and ap-northeast-1c (leases of 3 s)"
start_node "${P}a-" ap-northeast-1a "$WORK/a.sock" "$WORK/a.log" --workers 1 --no-state --lease-ttl 3
NODE_PIDS+=("$NODE_PID")
start_node "${P}c-" ap-northeast-1c "$WORK/c.sock" "$WORK/c.log" --workers 1 --no-state --lease-ttl 3
NODE_PIDS+=("$NODE_PID"); C_PID=$NODE_PID
sleep 0.3
region status
for z in a c; do http_server "${P}$z-ec2-b" 80 "$WORK/www" "$WORK/www-$z.log"; done
run scripts/check-isolation.sh "${P}a-" "${P}a-ec2-a=10.0.128.100" "${P}a-ec2-b=10.1.128.50"
run scripts/check-isolation.sh "${P}c-" "${P}c-ec2-a=10.0.128.100" "${P}c-ec2-b=10.1.128.50"
curl_in a
curl_in c

step "An apply reaches every node before it returns"
region apply "$WORK/seed-004.toml"

step "Zone ap-northeast-1c fails (a drill of an AZ outage)"
region fail-zone ap-northeast-1c
sleep 0.3
curl_in c
curl_in a
run $VPCECTL trace --daemon --socket "$WORK/c.sock" --from EC2-A --to vpce-0a000000000000001 --port 80 | grep -A1 '^BLOCKED' || true
region status

step "Zone ap-northeast-1c is back"
region restore-zone ap-northeast-1c
sleep 0.3
curl_in c

step "1c's node is killed (SIGKILL): an apply now is partial; its lease lapses within 3 s"
kill -KILL "$C_PID"
region apply "$WORK/seed-004.toml" --timeout 1 || echo "(exit $?: partial)"
curl_in a
sleep 3.5
region status

step "Restarted, it rejoins at the region's generation"
lab_cleanup "${P}c-" >/dev/null 2>&1 || true
start_node "${P}c-" ap-northeast-1c "$WORK/c.sock" "$WORK/c2.log" --workers 1 --no-state --lease-ttl 3
NODE_PIDS+=("$NODE_PID")
sleep 0.3
region status
http_server "${P}c-ec2-b" 80 "$WORK/www" "$WORK/www-c.log"
curl_in c

step "Done. The nodes stop and remove their devices and namespaces; etcd stops."
