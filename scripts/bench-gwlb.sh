#!/usr/bin/env bash
# End to end through an inspection appliance: the same client and server, run alternately
#   (K) with the Linux kernel forwarding in the appliance's namespace (the appliance in line:
#       client -> appliance namespace routing -> server), and
#   (U) through vpced on the GWLB path of examples/gwlb-inspection.toml: the internet
#       gateway's edge route, the GWLB endpoint, GENEVE to vpce-appliance (one appliance) and
#       back, on to the web server — and the reply the same way.
# Measured with iperf3 from the client (198.51.100.7) to the server's address 203.0.113.10,
# port 80: TCP throughput (1 stream) and UDP packets per second (64-byte payloads, unlimited
# rate, counting what arrives). Every namespace is checked sealed before traffic is sent.
#
# The appliance is vpce-appliance (APPLIANCE=path to another build of it, for an A/B), or AWS's
# own appliance-side handler with APPLIANCE=gwlbtun (GWLBTUN=its binary, default
# /tmp/gwlbtun/gwlbtun: ../shared/tools/interop/build-gwlbtun.sh builds it), decapsulating to
# its TUN devices with the passthrough hook joining them.
#
#   sudo [APPLIANCE=…] scripts/bench-gwlb.sh [ROUNDS=3] [SECONDS=5] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
ROUNDS=${1:-3}
SECS=${2:-5}
WORKERS=${3:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench-gwlb.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null

K=gk-
U=gu-
SOCK=/run/vpce-bench-gwlb.sock
WORK=$(mktemp -d)
cleanup() { lab_cleanup "$K|$U" "$SOCK" "$WORK"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)

# (K) client -- appliance (kernel forwarding) -- server.
kernel_router "$K" client appliance server 198.51.100.7 198.51.100.1 203.0.113.1 203.0.113.10

# (U) vpced and one appliance (the other is left out: every flow takes the same hop).
sed -e 's|{ protocol = "tcp", ports = 80, cidr = "0.0.0.0/0" },|{ protocol = "tcp", ports = 80, cidr = "0.0.0.0/0" }, { protocol = "udp", ports = 80, cidr = "0.0.0.0/0" },|' \
    -e 's|targets = \[{ instance = "i-0c0000000000000a1" }, { instance = "i-0c0000000000000a2" }\]|targets = [{ instance = "i-0c0000000000000a1" }]|' \
    examples/gwlb-inspection.toml >"$WORK/gwlb.toml"
start_vpced "$U" "$WORK/gwlb.toml" "$SOCK" /dev/stderr --workers "$WORKERS" --log warn
ip -n ${U}internet addr add 198.51.100.7/32 dev lo
APPLIANCE=${APPLIANCE:-target/release/vpce-appliance}
if [ "$APPLIANCE" = gwlbtun ]; then
  GWLBTUN=${GWLBTUN:-/tmp/gwlbtun/gwlbtun}
  [ -x "$GWLBTUN" ] || { echo "no gwlbtun at $GWLBTUN (../shared/tools/interop/build-gwlbtun.sh)" >&2; exit 1; }
  ip netns exec ${U}appliance-1 sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip netns exec ${U}appliance-1 "$GWLBTUN" -c "$(dirname "$GWLBTUN")/example-scripts/create-passthrough.sh" -p 80 \
    >"$WORK/appliance.log" 2>&1 &
else
  ip netns exec ${U}appliance-1 "$APPLIANCE" --listen 10.100.0.11 >"$WORK/appliance.log" 2>&1 &
fi
disown $!
echo "appliance: $APPLIANCE"
sleep 1
scripts/check-isolation.sh $U ${U}internet=203.0.113.10 ${U}web=198.51.100.7 ${U}appliance-1=10.100.0.50 >/dev/null

ip netns exec ${K}server iperf3 -s -D -p 80 -B 203.0.113.10
ip netns exec ${U}web iperf3 -s -D -p 80 -B 10.0.1.10
sleep 1
for ns in ${K}client ${U}internet; do
  ip netns exec $ns curl -s -m 3 -o /dev/null http://203.0.113.10:80/ || true   # warm the path
done

tcp() { ip netns exec "$1" iperf3 -c 203.0.113.10 -p 80 -t "$SECS" -J | gbits; }
udp() { ip netns exec "$1" iperf3 -c 203.0.113.10 -p 80 -u -b 0 -l 64 -t "$SECS" -J | python3 -c '
import json,sys
s=json.load(sys.stdin)["end"]["sum"]
print("%.0f" % (s["packets"]*(1-s["lost_percent"]/100)/s["seconds"]/1e3))'; }

echo "round  K tcp Gbit/s  U tcp Gbit/s  K udp kpps  U udp kpps"
kt=(); ut=(); ku=(); uu=()
for r in $(seq "$ROUNDS"); do
  a=$(tcp ${K}client); b=$(tcp ${U}internet); c=$(udp ${K}client); d=$(udp ${U}internet)
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
echo "vpced's counters (GWLB path):"
VPCE_SOCKET=$SOCK target/release/vpcectl stats | sed -n '/ENDPOINT/,/^$/p;/TARGET_GROUP/,/^$/p;/DROP REASON/,/^$/p'
