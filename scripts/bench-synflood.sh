#!/usr/bin/env bash
# Connection tracking under a SYN flood: a million new flows from one namespace while an
# established flow from another keeps forwarding.
#
# The lab is examples/s3-endpoints.toml plus a second instance (`flooder`, 10.0.0.77) in the
# same subnet. vpced runs in its own namespace with --max-flows 1048576. The established flow
# is a ping from the first instance to S3 (52.216.39.26, through the gateway endpoint) at 200
# packets per second for the whole run; the flood is COUNT TCP SYNs from the flooder to
# distinct (address, port) pairs of S3's 52.216.0.0/15, each a new tracked flow, at RATE
# packets per second (scripts/flood/synflood.c, raw socket). Every namespace is checked sealed
# before traffic is sent.
#
# Prints the ping's loss, the flows in the table, flow_table_full and flow_quota_exceeded
# drops (the flooder's ENI holds at most --max-flows-per-eni, a quarter of the table by
# default) and vpced's resident memory; exits non-zero if the established flow lost a packet.
#
#   sudo scripts/bench-synflood.sh [COUNT=1000000] [RATE=100000] [MAX_FLOWS=1048576]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
COUNT=${1:-1000000}
RATE=${2:-100000}
MAX_FLOWS=${3:-1048576}
[ "$(id -u)" -eq 0 ] || { echo "bench-synflood.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null

P=bsf-
SOCK=/run/vpce-synflood.sock
cleanup() { lab_cleanup "$P" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)

gcc -O2 -Wall -o "$WORK/synflood" scripts/flood/synflood.c
cp examples/s3-endpoints.toml "$WORK/lab.toml"
cp -r examples/data "$WORK/data"
cat >> "$WORK/lab.toml" <<'TOML'

[[instances]]
id = "i-0000000000000f100"
name = "flooder"
subnet = "subnet-0a0000000000000a1"
private_ip = "10.0.0.77"
security_groups = ["sg-0a00000000000ec21"]
namespace = "flooder"
TOML

start_vpced "$P" "$WORK/lab.toml" "$SOCK" /dev/stderr \
  --workers 2 --max-flows "$MAX_FLOWS" --no-state --log warn
scripts/check-isolation.sh $P ${P}s3-instance=52.216.39.26 ${P}flooder=52.216.39.26 \
  ${P}flooder=52.216.0.1 >/dev/null

rss() { awk '/VmRSS/ {print $2}' /proc/"$VPCED_PID"/status; }
RSS0=$(rss)
PING_SECS=$(( COUNT / RATE + 6 ))
ip netns exec ${P}s3-instance ping -q -i 0.005 -c $(( PING_SECS * 200 )) 52.216.39.26 >"$WORK/ping" 2>&1 &
PING=$!
sleep 2
ip netns exec ${P}flooder "$WORK/synflood" 10.0.0.77 52.216.0.0 "$COUNT" "$RATE" >"$WORK/flood"
wait $PING || true
RSS1=$(rss)
STATS=$(VPCE_SOCKET=$SOCK target/release/vpcectl stats -o json)
python3 - "$WORK/ping" "$WORK/flood" "$RSS0" "$RSS1" "$STATS" <<'PY'
import json, re, sys
ping = open(sys.argv[1]).read()
flood = json.loads(open(sys.argv[2]).read())
rss0, rss1 = int(sys.argv[3]), int(sys.argv[4])
stats = json.loads(sys.argv[5])
m = re.search(r"(\d+) packets transmitted, (\d+) received", ping)
tx, rx = int(m.group(1)), int(m.group(2))
flows = stats.get("flows", {})
drops = stats.get("drops", {})
rx_flood = stats["entities"]["attachment"].get("eni-0000000000000f100", {}).get("rx_packets", 0)
print(f"flood: {flood['sent']} SYNs (new flows) in {flood['seconds']} s = {flood['pps']:.0f}/s; "
      f"{rx_flood} reached vpced (the rest overflowed the flooder's own device queue)")
print(f"established flow (ping, 200/s): {rx}/{tx} received, {tx - rx} lost")
print(f"flow table: {flows.get('entries')} entries of {flows.get('capacity')} "
      f"({flows.get('per_eni_limit')} per ENI), {flows.get('memory_bytes', 0) / 2**20:.0f} MiB; "
      f"flow_table_full drops: {drops.get('flow_table_full', 0)}; "
      f"flow_quota_exceeded drops: {drops.get('flow_quota_exceeded', 0)}")
print(f"vpced resident memory: {rss0 / 1024:.0f} MiB before, {rss1 / 1024:.0f} MiB after")
sys.exit(0 if tx == rx else 1)
PY
