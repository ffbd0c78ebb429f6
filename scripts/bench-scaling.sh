#!/usr/bin/env bash
# Multicore scaling of vpced against the Linux kernel, in one run: the same namespaces and
# addresses as scripts/bench-forwarding.sh (10.0.0.176 -> 52.216.39.26, the gateway-endpoint
# path of examples/s3-endpoints.toml), measured
#   (K) through a router namespace where the kernel forwards between two veth pairs, then
#   (U) through vpced with W = each of WORKERS (`--workers W --pin-workers`),
# per round and forwarder:
#   - TCP, 1 stream: one iperf3 pair;
#   - TCP, P pairs: P iperf3 clients, one stream each, on ports of their own (5201…), at once;
#   - small UDP: M blasters (scripts/flood/udpblast.c, sendmmsg, 18-byte payloads) at once,
#     counted where they arrive (the sink's UDP counters, as bench-forwarding.sh explains);
#   - for U, packets forwarded per CPU-second of vpced during the blast.
# It prints every round, then medians [min-max] per forwarder and U/K; and the scaling of each
# measure from the smallest W, as a fraction of linear (1.00 = W times the smallest W's figure).
# Namespaces are checked sealed before traffic and removed on exit, failure included.
#
#   sudo scripts/bench-scaling.sh [ROUNDS=3] [SECONDS=5] [PAIRS=8] [BLASTERS=6] [WORKERS="1 2"]
#
# On a bare many-core machine (no apt, no compiler): `bash .devkit/env.sh scripts/bench-scaling.sh
# …` with the kit of ../shared/tools/server-kit (iperf3, ip and a static udpblast on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
ROUNDS=${1:-3}
SECS=${2:-5}
PAIRS=${3:-8}
BLASTERS=${4:-6}
WORKERS=${5:-"1 2"}
[ "$(id -u)" -eq 0 ] || { echo "bench-scaling.sh needs root" >&2; exit 1; }
[ -x target/release/vpced ] || { echo "build first: cargo build --release --bins" >&2; exit 1; }
if ! command -v iperf3 >/dev/null && command -v apt-get >/dev/null; then
  scripts/setup.sh --test >/dev/null
fi
for t in iperf3 ip python3; do
  command -v $t >/dev/null || { echo "bench-scaling.sh needs $t" >&2; exit 1; }
done

K=sk-
U=su-
SOCK=/run/vpce-scaling.sock
WORK=
cleanup() { lab_cleanup "$K|$U" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)
if command -v udpblast >/dev/null; then
  BLAST=$(command -v udpblast)
else
  gcc -O2 -Wall -o "$WORK/udpblast" scripts/flood/udpblast.c
  BLAST=$WORK/udpblast
fi
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "run: $ROUNDS rounds of $SECS s; $PAIRS iperf3 pairs, $BLASTERS blasters; vpced workers: $WORKERS"

# servers NS: P iperf3 servers on their own ports, the round-trip echo, the blasts' sink (a
# socket never read).
servers() {
  for i in $(seq "$PAIRS"); do ip netns exec "$1" iperf3 -s -D -B 52.216.39.26 -p $((5200 + i)); done
  ip netns exec "$1" python3 -c 'import socket,time; s=socket.socket(2,2); s.bind(("52.216.39.26",9)); time.sleep(1e9)' &
  disown $!
  sleep 1
}
# tcp NS N: Gbit/s received by N iperf3 clients at once, one stream each.
tcp() {
  local i
  for i in $(seq "$2"); do
    ip netns exec "$1" iperf3 -c 52.216.39.26 -p $((5200 + i)) -t "$SECS" -J >"$WORK/ip$i.json" &
  done
  wait
  python3 - "$WORK" "$2" <<'PY'
import json, sys
print("%.2f" % (sum(json.load(open(f"{sys.argv[1]}/ip{i}.json"))["end"]["sum_received"]["bits_per_second"]
                    for i in range(1, int(sys.argv[2]) + 1)) / 1e9))
PY
}
# udp SRC SINK [PID]: "kpps-delivered kpps-per-CPU-second" with M blasters at once.
udp() {
  local a b c0=0 c1=0 i
  a=$(rx "$2"); [ -n "${3:-}" ] && c0=$(cpu "$3")
  for i in $(seq "$BLASTERS"); do ip netns exec "$1" "$BLAST" 52.216.39.26 9 "$SECS" >/dev/null & done
  wait
  sleep 0.3
  b=$(rx "$2"); [ -n "${3:-}" ] && c1=$(cpu "$3")
  local ticks=$((c1 - c0)); [ "$ticks" -gt 0 ] || ticks=1
  if [ -n "${3:-}" ]; then
    echo "$(((b - a) / SECS / 1000)) $(((b - a) * $(getconf CLK_TCK) / ticks / 1000))"
  else
    echo "$(((b - a) / SECS / 1000)) -"
  fi
}

: >"$WORK/results"
printf "%-5s %-6s %9s %10s %10s %9s\n" round via "tcp1 Gb" "tcp${PAIRS} Gb" "udp kpps" "kpps/CPU"
measure() { # ROUND LABEL SRC SINK [PID]
  local t1 tp kpps percpu
  t1=$(tcp "$3" 1)
  tp=$(tcp "$3" "$PAIRS")
  read -r kpps percpu < <(udp "$3" "$4" "${5:-}")
  printf "%-5s %-6s %9s %10s %10s %9s\n" "$1" "$2" "$t1" "$tp" "$kpps" "$percpu"
  echo "$2 $t1 $tp $kpps $percpu" >>"$WORK/results"
}
for r in $(seq "$ROUNDS"); do
  kernel_router "$K" src router dst 10.0.0.176 10.0.0.1 52.216.39.1 52.216.39.26
  servers ${K}dst
  measure "$r" K ${K}src ${K}dst
  lab_cleanup "$K"
  for w in $WORKERS; do
    start_vpced "$U" examples/s3-endpoints.toml "$SOCK" "$WORK/vpced.log" \
      --workers "$w" --pin-workers --no-state --log warn
    scripts/check-isolation.sh $U ${U}s3-instance=52.216.39.26 ${U}s3=10.0.0.176 >/dev/null
    servers ${U}s3
    measure "$r" "U$w" ${U}s3-instance ${U}s3 "$VPCED_PID"
    lab_cleanup "$U" "$SOCK"
    VPCED_PID=
  done
done
python3 - "$WORK/results" "$PAIRS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
pairs = sys.argv[2]
names = ["TCP 1 stream (Gbit/s)", f"TCP {pairs} pairs (Gbit/s)", "UDP small packets delivered (kpps)",
         "packets per CPU-second of vpced (k)"]
labels = []
for r in rows:
    if r[0] not in labels:
        labels.append(r[0])
col = lambda via, i: [float(r[i + 1]) for r in rows if r[0] == via and r[i + 1] != "-"]
med = lambda v: statistics.median(v) if v else None
fmt = lambda v: f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]" if v else "-"
us = [l for l in labels if l.startswith("U")]
print()
print(f"{'measure':40} " + " ".join(f"{l + ' median [min-max]':>24} {'/K':>5}" if l != "K" else f"{'K median [min-max]':>24}" for l in labels))
for i, name in enumerate(names):
    k = med(col("K", i))
    cells = []
    for l in labels:
        v = col(l, i)
        cells.append(f"{fmt(v):>24}" + ("" if l == "K" else f" {med(v) / k:>5.2f}" if v and k else f" {'-':>5}"))
    print(f"{name:40} " + " ".join(cells))
if len(us) > 1:
    w0 = int(us[0][1:])
    print()
    print(f"scaling from W={w0}, as a fraction of linear:")
    for i, name in enumerate(names[:3]):
        base = med(col(us[0], i))
        parts = [f"W={int(l[1:])}: {med(col(l, i)) / (base * int(l[1:]) / w0):.2f}" for l in us[1:] if base]
        print(f"  {name:38} " + ", ".join(parts))
PY
