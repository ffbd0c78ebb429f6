#!/usr/bin/env bash
# The vpce demo: the seed 000 deployment (examples/s3-endpoints.toml) as a lab on this machine.
#
# An EC2 instance (namespace demo-s3-instance) reaches S3 (a web server at 52.216.39.26 in
# namespace demo-s3) through the gateway endpoint, and 8.8.8.8 (a web server in namespace
# demo-internet) through the internet gateway, with vpced forwarding every packet between TUN
# devices from a namespace of its own. A blackholed destination is dropped with its reason.
# Nothing leaves the machine: scripts/check-isolation.sh proves it before traffic is sent.
#
# Run as root on Debian:  sudo scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh

demo_prepare

P=demo-
SOCK=/run/vpce-demo.sock
CONFIG=examples/s3-endpoints.toml
VPCECTL=target/release/vpcectl
export VPCE_SOCKET=$SOCK
LOG=$(mktemp /tmp/vpced-demo.XXXXXX.log)

cleanup() { lab_cleanup "$P" "$SOCK"; }
trap cleanup EXIT
cleanup


step "The configuration: validate it and see its route tables"
run $VPCECTL validate $CONFIG
run $VPCECTL show route-tables $CONFIG --id rtb-0c0ffee000000001 | head -n 8
echo "   … (the 21 S3 prefixes of pl-63a5400a, routed by the gateway endpoint)"

step "Start vpced in its own namespace (${P}fabric, no uplink)"
start_vpced "$P" "$CONFIG" "$SOCK" "$LOG"
run $VPCECTL status

step "Servers: S3 answers on 52.216.39.26, the internet on 8.8.8.8"
ip -n ${P}internet addr add 8.8.8.8/32 dev lo
ip -n ${P}internet addr add 2001:4860:4860::8888/128 dev lo
WWW=$(mktemp -d)
mkdir -p "$WWW/s3" "$WWW/internet"
echo "hello from S3 (its network behind the gateway and interface endpoints)" >"$WWW/s3/index.html"
echo "hello from the internet (8.8.8.8), reached through the internet gateway" >"$WWW/internet/index.html"
http_server ${P}s3 80 "$WWW/s3" "$WWW/s3.log"
http_server ${P}internet 80 "$WWW/internet" "$WWW/internet.log"

step "Isolation: every lab namespace is sealed, every address routes through vpced"
run scripts/check-isolation.sh $P ${P}s3-instance=52.216.39.26 ${P}s3-instance=8.8.8.8 \
  ${P}s3-instance=192.0.2.1 ${P}internet=203.0.113.176 ${P}s3=10.0.0.176

step "Path 2, gateway endpoint: curl S3 from the instance"
run $VPCECTL lookup $CONFIG --route-table rtb-0c0ffee000000001 52.216.39.26
in_ns s3-instance curl -s -m 5 http://52.216.39.26/
in_ns s3-instance curl -s -m 5 -g 'http://[2600:1fa0:8000::1a]/'
run $VPCECTL stats | sed -n '/ENDPOINT/,/^$/p'

step "Path 1, internet gateway: curl 8.8.8.8 from the instance (source becomes 203.0.113.176)"
run $VPCECTL lookup $CONFIG --route-table rtb-0c0ffee000000001 8.8.8.8
in_ns s3-instance curl -s -m 5 http://8.8.8.8/
in_ns s3-instance ping -c 2 -i 0.2 8.8.8.8
run $VPCECTL stats | sed -n '/INTERNET_GATEWAY/,/^$/p'

step "Path 3, interface endpoint with private DNS: the S3 name answers the endpoint's ENI"
in_ns s3-instance dig @10.0.0.2 +short zenn-privatelink.s3.us-east-1.amazonaws.com
in_ns s3-instance curl -s -m 5 http://10.0.1.125/

step "A blackholed destination is dropped, with its reason"
run $VPCECTL lookup $CONFIG --route-table rtb-0c0ffee000000001 192.0.2.1
in_ns s3-instance ping -c 3 -i 0.2 -W 1 192.0.2.1 || true
run $VPCECTL stats | sed -n '/DROP REASON/,$p'

step "Why: trace explains a path from the configuration, hop by hop (here: SSH from the internet)"
run $VPCECTL trace $CONFIG --from internet --to i-08c0b194dec370347 --port 22 || true

step "Done: vpced stops, its devices and namespaces are removed"
