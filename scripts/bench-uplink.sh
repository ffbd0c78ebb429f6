#!/usr/bin/env bash
# The uplink's packet sockets: vpced's internet gateway on a veth "uplink" (as
# tests/e2e/uplink.rs), its sockets read through receive rings (R, the default:
# PACKET_RX_RING, dataplane::io::rxring) or with one read(2) per frame (P, --no-uplink-ring),
# alternately, in the same run; frames leave by writev(2) in both. Per round and mode, each way:
#   - a small-packet UDP blast (scripts/flood/udpblast.c): in, from the router's side of the
#     uplink to the instance's public address (203.0.113.176:9, through the gateway's 1:1
#     translation); out, from the instance to 198.51.100.1:9. Counted where it arrives
#     (the sink namespace's /proc/net/snmp), with vpced's packets per CPU-second during it
#     (/proc/PID/stat);
#   - iperf3 TCP, router's side to instance (-R; superpackets larger than a ring slot: read
#     whole from the socket, in their place in the ring's order) and instance to router, Gbit/s.
# Medians, min and max over the rounds and the R/P ratios are printed at the end. Every
# namespace is checked sealed before traffic is sent and removed on exit, failure included.
#
#   sudo scripts/bench-uplink.sh [ROUNDS=5] [SECONDS=5] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
ROUNDS=${1:-5}
SECS=${2:-5}
WORKERS=${3:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench-uplink.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null

P=bul-
SOCK=/run/vpce-bench-uplink.sock
WORK=
cleanup() { lab_cleanup "$P" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)
gcc -O2 -Wall -o "$WORK/udpblast" scripts/flood/udpblast.c

# The example with its internet side on the veth, and UDP port 9 open to the router's side.
mkdir -p "$WORK/cfg"
ln -s "$PWD/examples/data" "$WORK/cfg/data"
python3 - examples/s3-endpoints.toml "$WORK/cfg/uplink.toml" <<'PY'
import sys
text = open(sys.argv[1]).read()
old = 'vpc = "vpc-09efc2534d3f29483"\nnamespace = "internet"'
assert old in text
text = text.replace(old, 'vpc = "vpc-09efc2534d3f29483"\ninterface = "vk-up"\nnext_hop = "198.51.100.1"')
rule = '  { protocol = "icmp", icmp_type = 8, cidr = "0.0.0.0/0", description = "ping" },\n'
assert rule in text
text = text.replace(rule, rule + '  { protocol = "udp", ports = 9, cidr = "198.51.100.0/24", description = "the benchmark\'s blast" },\n', 1)
open(sys.argv[2], "w").write(text)
PY

# lab MODE_ARGS...: the uplink's two namespaces and the veth between them, then vpced.
lab() {
  ip netns add ${P}fabric
  ip netns add ${P}uplink
  ip link add vk-up netns ${P}fabric type veth peer name vk-upp netns ${P}uplink
  ip -n ${P}uplink link set lo up
  ip -n ${P}uplink addr add 198.51.100.1/24 dev vk-upp
  ip -n ${P}uplink link set vk-upp up
  ip -n ${P}uplink route add 203.0.113.0/24 dev vk-upp
  start_vpced "$P" "$WORK/cfg/uplink.toml" "$SOCK" "$WORK/vpced.log" \
    --workers "$WORKERS" --log info "$@"
  scripts/check-isolation.sh $P ${P}uplink=203.0.113.176 ${P}s3-instance=198.51.100.1 >/dev/null
  ip netns exec ${P}uplink iperf3 -s -D -B 198.51.100.1
  ip netns exec ${P}s3-instance python3 -c 'import socket,time; s=socket.socket(2,2); s.bind(("10.0.0.176",9)); time.sleep(1e9)' &
  disown $!
  ip netns exec ${P}uplink python3 -c 'import socket,time; s=socket.socket(2,2); s.bind(("198.51.100.1",9)); time.sleep(1e9)' &
  disown $!
  # The router learns vpced's address for the public one (ARP), then the blast may start.
  ip netns exec ${P}uplink ping -c 3 -i 0.3 -W 1 203.0.113.176 >/dev/null ||
    { echo "the uplink does not reach the instance; vpced's log:" >&2; cat "$WORK/vpced.log" >&2; exit 1; }
}


# blast FROM_NS SINK_NS DST: kpps arriving, vpced's packets per CPU-second (k), kpps sent.
blast() {
  local a b c0 c1 sent ticks
  a=$(rx "$2"); c0=$(cpu "$VPCED_PID")
  sent=$(ip netns exec "$1" "$WORK/udpblast" "$3" 9 "$SECS")
  sleep 0.2
  b=$(rx "$2"); c1=$(cpu "$VPCED_PID")
  ticks=$(( c1 - c0 )); [ "$ticks" -gt 0 ] || ticks=1
  echo "$(( (b - a) / SECS / 1000 )) $(( (b - a) * $(getconf CLK_TCK) / ticks / 1000 )) $(( sent / SECS / 1000 ))"
}
# tcp [-R]: Gbit/s between the instance (which opens the connection: its security group lets
# only TCP 80 in) and the router's side; -R: the router's side sends.
tcp() {
  ip netns exec ${P}s3-instance iperf3 -c 198.51.100.1 "$@" -t "$SECS" -J | gbits
}

printf "%-5s %-4s %8s %8s %8s %8s %8s %8s %7s %7s\n" round mode "in kpps" "sent" "in k/CPU" \
  "out kpps" "sent" "out k/CPU" "in Gb" "out Gb"
: >"$WORK/results"
for r in $(seq "$ROUNDS"); do
  for mode in R P; do
    if [ $mode = R ]; then lab; else lab --no-uplink-ring; fi
    grep -q "uplink opened" "$WORK/vpced.log"
    read -r ik ic is < <(blast ${P}uplink ${P}s3-instance 203.0.113.176)
    read -r ok oc os < <(blast ${P}s3-instance ${P}uplink 198.51.100.1)
    ig=$(tcp -R); og=$(tcp)
    printf "%-5s %-4s %8s %8s %8s %8s %8s %8s %7s %7s\n" "$r" $mode "$ik" "$is" "$ic" "$ok" "$os" "$oc" "$ig" "$og"
    echo "$mode $ik $ic $ok $oc $ig $og" >>"$WORK/results"
    lab_cleanup "$P" "$SOCK"
    unset VPCED_PID
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = ["in: UDP small packets at the instance (kpps)", "in: packets per CPU-second of vpced (k)",
         "out: UDP small packets at the router (kpps)", "out: packets per CPU-second of vpced (k)",
         "TCP router -> instance (Gbit/s)", "TCP instance -> router (Gbit/s)"]
print()
print(f"{'measure':46} {'R rings median [min-max]':>26} {'P read(2) median [min-max]':>31} {'R/P':>6}")
for i, name in enumerate(names):
    col = lambda m: [float(r[i + 1]) for r in rows if r[0] == m]
    ring, plain = col("R"), col("P")
    fmt = lambda v: f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
    print(f"{name:46} {fmt(ring):>26} {fmt(plain):>31} {statistics.median(ring) / statistics.median(plain):>6.2f}")
PY
