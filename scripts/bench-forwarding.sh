#!/usr/bin/env bash
# End-to-end forwarding: the same source and sink, run alternately through
#   (K) a router namespace with the Linux kernel forwarding between two veth pairs, and
#   (U) vpced on the gateway-endpoint path of examples/s3-endpoints.toml (instance -> S3),
# measured with iperf3: TCP throughput (1 stream) and UDP packets per second (64-byte
# payloads, unlimited rate, counting what arrives). Both topologies use the same addresses
# (10.0.0.176 -> 52.216.39.26); every namespace is checked sealed before traffic is sent.
#
#   sudo scripts/bench-forwarding.sh [ROUNDS=3] [SECONDS=5] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
ROUNDS=${1:-3}
SECS=${2:-5}
WORKERS=${3:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench-forwarding.sh needs root" >&2; exit 1; }
scripts/setup.sh >/dev/null

K=bk-
U=bu-
SOCK=/run/vpce-bench.sock
cleanup() { lab_cleanup "$K|$U" "$SOCK"; }
trap cleanup EXIT
cleanup

# (K) kernel router.
for n in src router dst; do ip netns add $K$n; ip -n $K$n link set lo up; done
ip link add vk-src netns ${K}src type veth peer name vk-rs netns ${K}router
ip link add vk-dst netns ${K}dst type veth peer name vk-rd netns ${K}router
ip -n ${K}src addr add 10.0.0.176/24 dev vk-src
ip -n ${K}router addr add 10.0.0.1/24 dev vk-rs
ip -n ${K}router addr add 52.216.39.1/24 dev vk-rd
ip -n ${K}dst addr add 52.216.39.26/24 dev vk-dst
for l in "src vk-src" "router vk-rs" "router vk-rd" "dst vk-dst"; do set -- $l; ip -n $K$1 link set $2 up; done
ip -n ${K}src route add default via 10.0.0.1
ip -n ${K}dst route add default via 52.216.39.1
ip netns exec ${K}router sysctl -qw net.ipv4.ip_forward=1
scripts/check-isolation.sh $K ${K}src=52.216.39.26 ${K}dst=10.0.0.176 >/dev/null

# (U) vpced.
target/release/vpced --config examples/s3-endpoints.toml --control-socket $SOCK --netns ${U}fabric \
  --netns-prefix $U --workers "$WORKERS" --log warn &
VPCED_PID=$!
wait_for_vpced "$SOCK"
scripts/check-isolation.sh $U ${U}s3-instance=52.216.39.26 ${U}s3=10.0.0.176 >/dev/null

ip netns exec ${K}dst iperf3 -s -D -B 52.216.39.26
ip netns exec ${U}s3 iperf3 -s -D -B 52.216.39.26
sleep 0.5

tcp() { ip netns exec "$1" iperf3 -c 52.216.39.26 -t "$SECS" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'; }
udp() { ip netns exec "$1" iperf3 -c 52.216.39.26 -u -b 0 -l 64 -t "$SECS" -J | python3 -c '
import json,sys
s=json.load(sys.stdin)["end"]["sum"]
print("%.0f" % (s["packets"]*(1-s["lost_percent"]/100)/s["seconds"]/1e3))'; }

echo "round  K tcp Gbit/s  U tcp Gbit/s  K udp kpps  U udp kpps"
kt=(); ut=(); ku=(); uu=()
for r in $(seq "$ROUNDS"); do
  a=$(tcp ${K}src); b=$(tcp ${U}s3-instance); c=$(udp ${K}src); d=$(udp ${U}s3-instance)
  kt+=("$a"); ut+=("$b"); ku+=("$c"); uu+=("$d")
  printf "%5s  %12s  %12s  %10s  %10s\n" "$r" "$a" "$b" "$c" "$d"
done
python3 - "${kt[*]}" "${ut[*]}" "${ku[*]}" "${uu[*]}" <<'PY'
import statistics, sys
kt, ut, ku, uu = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m = statistics.median
print(f"median  K tcp {m(kt):.2f} Gbit/s, U tcp {m(ut):.2f} Gbit/s, ratio U/K {m(ut)/m(kt):.2f}")
print(f"median  K udp {m(ku):.0f} kpps, U udp {m(uu):.0f} kpps, ratio U/K {m(uu)/m(ku):.2f}")
PY
