#!/usr/bin/env bash
# How fast an apply reaches every node of a region: one etcd (UNIX sockets only), N vpced
# nodes (one per zone, each its own lab), APPLIES applies of seed 004's build through
# `vpcectl region apply`; for each, the time until every node reports the new generation
# (what `vpcectl region apply` waits for). Prints the median, p99 and maximum. Target (issue
# "A region of nodes"): p99 at most 1 s with 3 nodes.
#
#   sudo scripts/bench-region.sh [APPLIES=100] [NODES=3]
#
# No traffic is sent; nothing listens on a network.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
APPLIES=${1:-100}
NODES=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "bench-region.sh needs root (namespaces, TUN devices)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "etcd is not installed: scripts/setup.sh --test (Debian package etcd-server)" >&2; exit 1; }
[ -x target/release/vpced ] || cargo build --release -q
P=bench-rg
WORK=$(mktemp -d)
NODE_PIDS=()
cleanup() { region_cleanup "$P" "$WORK"; }
trap cleanup EXIT

# Seed 004's build over NODES zones (the nodes' zones must be the configuration's).
LETTERS=(a c d b e f g h)
[ "$NODES" -ge 1 ] && [ "$NODES" -le ${#LETTERS[@]} ] || { echo "NODES: 1 to ${#LETTERS[@]}" >&2; exit 2; }
ZONES=()
for i in $(seq 0 $((NODES - 1))); do ZONES+=("ap-northeast-1${LETTERS[$i]}"); done
LIST=$(printf '"%s", ' "${ZONES[@]}")
sed -e "s|^availability_zones = .*|availability_zones = [${LIST%, }]|" \
  examples/privatelink-hands-on.toml >"$WORK/region.toml"

start_etcd "$WORK"
target/release/vpcectl region --etcd "$ETCD" apply "$WORK/region.toml" >/dev/null
for i in "${!ZONES[@]}"; do
  start_node "$P$i-" "${ZONES[$i]}" "$WORK/node$i.sock" "$WORK/node$i.log" --workers 1 --no-state
  NODE_PIDS+=("$NODE_PID")
done
for _ in $(seq 50); do
  n=$(target/release/vpcectl region --etcd "$ETCD" status -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))')
  [ "$n" -eq "$NODES" ] && break
  sleep 0.1
done
echo "region: $NODES nodes (${ZONES[*]}), etcd $(etcd --version | head -n1 | awk '{print $3}'), $(nproc) CPUs"

for _ in $(seq "$APPLIES"); do
  target/release/vpcectl region --etcd "$ETCD" apply "$WORK/region.toml" --timeout 5 -o json \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["complete"], d; print(d["rollout"]["waited"])'
done >"$WORK/waited"
python3 - "$WORK/waited" "$NODES" <<'PY'
import sys
w = sorted(float(x) for x in open(sys.argv[1]))
q = lambda p: w[min(len(w) - 1, int(round(p * (len(w) - 1))))]
print(f"apply visible on all {sys.argv[2]} nodes, {len(w)} applies: median {q(0.5)*1000:.0f} ms, "
      f"p99 {q(0.99)*1000:.0f} ms, max {w[-1]*1000:.0f} ms (target: p99 <= 1000 ms: "
      f"{'met' if q(0.99) <= 1.0 else 'MISSED'})")
PY
