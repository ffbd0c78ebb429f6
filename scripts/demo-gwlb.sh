#!/usr/bin/env bash
# The Gateway Load Balancer demo: seed 001 (examples/gwlb-inspection.toml) as a lab.
#
# A client on the "internet" (namespace demo-gw-internet, 198.51.100.7) fetches the web
# server's page (i-0c00000000000000c, public 203.0.113.10, namespace demo-gw-web). The internet
# gateway's edge route table sends the application subnet's range to the GWLB endpoint; the
# GWLB carries each packet in GENEVE to one of two appliances (vpce-appliance in namespaces
# demo-gw-appliance-1/-2), which return it with the header echoed; the reply goes back through
# the same appliance. Along the way:
#   - tshark, in the appliances' namespaces, shows the GENEVE packets and AWS's options,
#   - each appliance's log shows the flows it carried (each flow on exactly one, both ways),
#   - the appliances drop telnet (TCP 23): HTTP passes, telnet does not,
#   - one appliance dies: the health checks notice, new flows go to the other.
# Nothing leaves the machine: scripts/check-isolation.sh proves it before traffic is sent.
#
# Run as root on Debian:  sudo scripts/demo-gwlb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh

demo_prepare

P=demo-gw-
SOCK=/run/vpce-demo-gw.sock
VPCECTL=target/release/vpcectl
APPLIANCE=target/release/vpce-appliance
export VPCE_SOCKET=$SOCK
LOG=$(mktemp /tmp/vpced-demo-gw.XXXXXX.log)

cleanup() { lab_cleanup "$P" "$SOCK" "${WORK:-}"; }
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)

start_appliance() {
  ip netns exec "$P$1" $APPLIANCE --listen "$2" --drop-tcp-port 23 >>"$WORK/$1.log" 2>&1 &
  disown $!
  for _ in $(seq 50); do grep -q listening "$WORK/$1.log" 2>/dev/null && break; sleep 0.1; done
}

# Health checks at AWS's shortest interval, so that the demo does not wait half a minute.
sed -e 's|interval_seconds = 10, timeout_seconds = 5 }|interval_seconds = 5, timeout_seconds = 2, healthy_threshold = 2, unhealthy_threshold = 2 }|' \
  examples/gwlb-inspection.toml >"$WORK/gwlb.toml"

step "The build: an application VPC with a GWLB endpoint, a security VPC with two appliances"
run $VPCECTL validate "$WORK/gwlb.toml"
run $VPCECTL show route-tables "$WORK/gwlb.toml"
run $VPCECTL show endpoints "$WORK/gwlb.toml"

step "Start vpced in its own namespace (${P}fabric, no uplink)"
start_vpced "$P" "$WORK/gwlb.toml" "$SOCK" "$LOG" --state-dir "$WORK/state"
run $VPCECTL status

step "The web server, the client's address, and the two appliances"
mkdir -p "$WORK/www"
echo "Hello through the inspection VPC!" >"$WORK/www/index.html"
http_server ${P}web 80 "$WORK/www" "$WORK/www.log"
http_server ${P}web 23 "$WORK/www" "$WORK/www-23.log"
ip -n ${P}internet addr add 198.51.100.7/32 dev lo
start_appliance appliance-1 10.100.0.11
start_appliance appliance-2 10.100.0.12
for _ in $(seq 50); do ip netns exec ${P}web ss -ltn | grep -q ':80 ' && break; sleep 0.1; done

step "Isolation: every lab namespace is sealed, every address routes through vpced"
run scripts/check-isolation.sh $P ${P}internet=203.0.113.10 ${P}web=198.51.100.7 \
  ${P}appliance-1=10.100.0.50 ${P}appliance-2=10.100.0.50

step "Why the page gets through, from the configuration alone (vpcectl trace)"
run $VPCECTL trace --daemon --from internet --to i-0c00000000000000c --port 80

step "The page, through an appliance — with tshark watching the GENEVE side"
for a in appliance-1 appliance-2; do
  ip netns exec $P$a tshark -q -i any -f 'udp port 6081' -w "$WORK/$a.pcap" 2>/dev/null &
  disown $!
done
sleep 2
in_ns internet curl -s -m 3 http://203.0.113.10/
for port in $(seq 42000 42009); do
  ip netns exec ${P}internet curl -s -m 3 --local-port "$port" -o /dev/null http://203.0.113.10/
done
sleep 1
pkill -INT -f "tshark -q -i any -f udp port 6081 -w $WORK" || true
sleep 1
for a in appliance-1 appliance-2; do
  echo "-- GENEVE on $a (outer addresses; AWS options: class, type, bytes):"
  tshark -r "$WORK/$a.pcap" -c 4 -d udp.port==6081,geneve -T fields -E separator=' ' -E aggregator=, \
    -e ip.src -e ip.dst -e geneve.option.class -e geneve.option.type -e geneve.option 2>/dev/null || true
done

step "Each flow went through one appliance, both ways (the appliances' logs)"
for a in appliance-1 appliance-2; do echo "-- $a:"; grep -E '^pass tcp' "$WORK/$a.log" | sed -n 1,8p; done
run $VPCECTL stats

step "The appliances drop telnet (TCP 23); HTTP still passes"
in_ns internet python3 -c "import socket; socket.create_connection(('203.0.113.10', 23), timeout=3)" >/dev/null 2>&1 \
  && echo "  telnet connected (not expected)" || echo "  telnet: no connection (the appliance drops TCP 23)"
grep -h '^drop' "$WORK"/appliance-*.log | sed -n 1,3p
in_ns internet curl -s -m 3 http://203.0.113.10/

step "appliance-1 dies: the health checks notice, new flows go to appliance-2"
for pid in $(ip netns pids ${P}appliance-1); do kill "$pid"; done
for _ in $(seq 60); do $VPCECTL show target-health | grep -q unhealthy && break; sleep 0.5; done
run $VPCECTL show target-health
for port in $(seq 43000 43004); do
  ip netns exec ${P}internet curl -s -m 3 --local-port "$port" -o /dev/null -w "flow :$port -> HTTP %{http_code}\n" http://203.0.113.10/
done
echo "-- appliance-2 carried them:"
grep -E ':4300[0-4] ' "$WORK/appliance-2.log" | grep -c pass | sed 's/$/ log lines for the new flows/'

step "Done. vpced stops and removes its devices and namespaces."
