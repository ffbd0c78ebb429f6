#!/usr/bin/env bash
# End-to-end forwarding: the same source and sink, run alternately through
#   (K) a router namespace with the Linux kernel forwarding between two veth pairs, and
#   (U) vpced on the gateway-endpoint path of examples/s3-endpoints.toml (instance -> S3),
# both with the same addresses (10.0.0.176 -> 52.216.39.26). Per round and topology:
#   - iperf3 TCP throughput, 1 and 2 streams;
#   - a small-packet UDP blast (scripts/flood/udpblast.c, sendmmsg, 18-byte payloads: 64-byte
#     frames on Ethernet) counted where it arrives: datagrams reaching the sink's UDP layer
#     (/proc/net/snmp in its namespace: InDatagrams + InErrors + NoPorts). Not the interface's
#     receive counter: vpced hands a flow's datagrams to the kernel as UDP GSO superpackets,
#     which the interface counts as one packet each;
#   - UDP request/response latency, p50/p99/p99.9 (scripts/lib/udp_rr.py, one request in
#     flight);
#   - for U, packets forwarded per CPU-second of vpced during the blast (/proc/PID/stat).
# Medians, min and max over the rounds and the U/K ratios are printed at the end. Every
# namespace is checked sealed before traffic is sent and removed on exit, failure included.
#
#   sudo scripts/bench-forwarding.sh [ROUNDS=5] [SECONDS=5] [WORKERS=2] [VPCED_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
ROUNDS=${1:-5}
SECS=${2:-5}
WORKERS=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
VPCED_ARGS=("$@")
[ "$(id -u)" -eq 0 ] || { echo "bench-forwarding.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null

K=bk-
U=bu-
SOCK=/run/vpce-bench.sock
WORK=
cleanup() { lab_cleanup "$K|$U" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)
gcc -O2 -Wall -o "$WORK/udpblast" scripts/flood/udpblast.c

# (K) kernel router.
kernel_router "$K" src router dst 10.0.0.176 10.0.0.1 52.216.39.1 52.216.39.26

# (U) vpced.
start_vpced "$U" examples/s3-endpoints.toml "$SOCK" /dev/stderr \
  --workers "$WORKERS" --log warn "${VPCED_ARGS[@]}"
scripts/check-isolation.sh $U ${U}s3-instance=52.216.39.26 ${U}s3=10.0.0.176 >/dev/null
U_SINK_DEV=$(ip -n ${U}s3 -o link show | awk -F': ' '$2 ~ /^vps-/ {print $2}' | cut -d@ -f1)

for ns in ${K}dst ${U}s3; do
  ip netns exec $ns iperf3 -s -D -B 52.216.39.26
  ip netns exec $ns python3 scripts/lib/udp_rr.py server 52.216.39.26 7 &
  disown $!
  # The blast's sink: a socket that is never read (no ICMP port unreachable back).
  ip netns exec $ns python3 -c 'import socket,time; s=socket.socket(2,2); s.bind(("52.216.39.26",9)); time.sleep(1e9)' &
  disown $!
done
sleep 1

tcp() { ip netns exec "$1" iperf3 -c 52.216.39.26 -t "$SECS" -P "$2" -J | gbits; }
# blast SRC_NS SINK_NS SINK_DEV [PID]: kpps arriving at the sink; with PID, also that process's
# packets per CPU-second (thousands).
blast() {
  local a b c0 c1 sent
  a=$(rx "$2" "$3"); [ -n "${4:-}" ] && c0=$(cpu "$4")
  sent=$(ip netns exec "$1" "$WORK/udpblast" 52.216.39.26 9 "$SECS")
  sleep 0.2
  b=$(rx "$2" "$3"); [ -n "${4:-}" ] && c1=$(cpu "$4")
  local kpps=$(( (b - a) / SECS / 1000 ))
  if [ -n "${4:-}" ]; then
    local ticks=$(( c1 - c0 )); [ "$ticks" -gt 0 ] || ticks=1
    echo "$kpps $(( (b - a) * $(getconf CLK_TCK) / ticks / 1000 )) $(( sent / SECS / 1000 ))"
  else
    echo "$kpps - $(( sent / SECS / 1000 ))"
  fi
}
rr() { ip netns exec "$1" python3 scripts/lib/udp_rr.py client 52.216.39.26 7 5000; }

printf "%-5s %-3s %8s %8s %9s %9s %9s %8s %8s %8s\n" round via "tcp1 Gb" "tcp2 Gb" "udp kpps" "sent kpps" "kpps/CPU" "p50 us" "p99 us" "p999 us"
: >"$WORK/results"
for r in $(seq "$ROUNDS"); do
  for via in K U; do
    if [ $via = K ]; then src=${K}src; sink=${K}dst; dev=vk-right; pid=; else src=${U}s3-instance; sink=${U}s3; dev=$U_SINK_DEV; pid=$VPCED_PID; fi
    t1=$(tcp $src 1); t2=$(tcp $src 2)
    read -r kpps percpu sent < <(blast $src $sink $dev $pid)
    read -r p50 p99 p999 lost < <(rr $src)
    printf "%-5s %-3s %8s %8s %9s %9s %9s %8s %8s %8s\n" "$r" $via "$t1" "$t2" "$kpps" "$sent" "$percpu" "$p50" "$p99" "$p999"
    echo "$via $t1 $t2 $kpps $percpu $p50 $p99 $p999" >>"$WORK/results"
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = ["TCP 1 stream (Gbit/s)", "TCP 2 streams (Gbit/s)", "UDP small packets at the sink (kpps)",
         "packets per CPU-second of the forwarder (k)", "latency p50 (us)", "latency p99 (us)", "latency p99.9 (us)"]
print()
print(f"{'measure':46} {'K median [min-max]':>26} {'U median [min-max]':>26} {'U/K':>6}")
for i, name in enumerate(names):
    col = lambda via: [float(r[i + 1]) for r in rows if r[0] == via and r[i + 1] != "-"]
    k, u = col("K"), col("U")
    fmt = lambda v: f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]" if v else "-"
    ratio = f"{statistics.median(u) / statistics.median(k):.2f}" if k and u else "-"
    print(f"{name:46} {fmt(k):>26} {fmt(u):>26} {ratio:>6}")
PY
