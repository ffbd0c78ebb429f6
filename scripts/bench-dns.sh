#!/usr/bin/env bash
# The VPC resolver under load: dnsperf from the seed 000 instance's namespace asks vpced's
# resolver (10.0.0.2) for the interface endpoint's private name (a cached private answer), for
# SECONDS seconds; the baseline, in the same run, is dnsmasq answering the same name with the
# same address to the same dnsperf across a veth pair between two namespaces of its own.
# Every namespace is checked sealed before traffic is sent.
#
#   sudo scripts/bench-dns.sh [SECONDS=10] [CLIENTS=4] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
SECS=${1:-10}
CLIENTS=${2:-4}
WORKERS=${3:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench-dns.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null
command -v dnsperf >/dev/null && command -v dnsmasq >/dev/null || \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dnsperf dnsmasq-base >/dev/null

P=bdns-
SOCK=/run/vpce-bench-dns.sock
NAME=zenn-privatelink.s3.us-east-1.amazonaws.com
cleanup() { lab_cleanup "$P" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)
for _ in $(seq 1000); do echo "$NAME A"; done >"$WORK/queries"

# Baseline: dnsmasq behind a veth pair.
ip netns add ${P}client; ip netns add ${P}server
ip link add vkd-c netns ${P}client type veth peer name vkd-s netns ${P}server
ip -n ${P}client addr add 10.9.0.1/24 dev vkd-c
ip -n ${P}server addr add 10.9.0.2/24 dev vkd-s
for l in "client vkd-c" "server vkd-s" "client lo" "server lo"; do set -- $l; ip -n $P$1 link set $2 up; done
scripts/check-isolation.sh $P ${P}client=10.9.0.2 >/dev/null
ip netns exec ${P}server dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=10.9.0.2 \
  --bind-interfaces --address=/$NAME/10.0.1.125 --cache-size=10000 --log-facility=/dev/null &
disown $!
sleep 0.5

# vpced. Without a query log its workers answer repeated queries from the answer cache; with
# one (the second part) every query goes to the resolver thread.
start_vpced() {
  start_vpced "$P" examples/s3-endpoints.toml "$SOCK" /dev/stderr \
    --workers "$WORKERS" --no-state --log warn "$@"
  scripts/check-isolation.sh $P ${P}s3-instance=10.0.0.2 >/dev/null
}
start_vpced

qps() { awk '/Queries per second/ {print $4}'; }
lost() { awk '/Queries lost/ {print $3}'; }
echo "dnsperf: ${CLIENTS} clients, ${SECS} s, '$NAME A' (a private answer); vpced with ${WORKERS} workers"
for round in 1 2; do
  B=$(ip netns exec ${P}client dnsperf -s 10.9.0.2 -d "$WORK/queries" -l "$SECS" -c "$CLIENTS" -q 200 2>&1)
  U=$(ip netns exec ${P}s3-instance dnsperf -s 10.0.0.2 -d "$WORK/queries" -l "$SECS" -c "$CLIENTS" -q 200 2>&1)
  printf 'round %d: dnsmasq %s q/s (lost %s) | vpced resolver %s q/s (lost %s)\n' "$round" \
    "$(echo "$B" | qps)" "$(echo "$B" | lost)" "$(echo "$U" | qps)" "$(echo "$U" | lost)"
done
# The same resolver with a query log: no answer cache, every query through the resolver thread.
kill "$VPCED_PID"; wait "$VPCED_PID" 2>/dev/null || true
start_vpced --query-log "$WORK/query.log"
for round in 1 2; do
  U=$(ip netns exec ${P}s3-instance dnsperf -s 10.0.0.2 -d "$WORK/queries" -l "$SECS" -c "$CLIENTS" -q 200 2>&1)
  printf 'round %d: vpced resolver with a query log (no answer cache) %s q/s (lost %s)\n' "$round" \
    "$(echo "$U" | qps)" "$(echo "$U" | lost)"
done
