#!/usr/bin/env bash
# Seeds the fuzz corpora with real packets: the kernel's own TCP, UDP, ICMP, DNS, fragments and
# GENEVE, IPv4 and IPv6, captured with dumpcap on the loopback of a network namespace of our own
# that carries the example deployments' addresses (so the pipeline target meets packets its
# fabrics know: seed 000's instance to S3 and to its resolver, seed 004's client to the
# endpoint ENI, seed 001's internet client and GENEVE between appliance and GWLB node).
# Writes fuzz/seeds/{wire_parse,pipeline,dns,proxy_v2,aws_import}/. Run as root; nothing leaves
# the namespace, which is deleted on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=vpce-fuzzseed-$$
pcap=$(mktemp --suffix .pcap)
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -f "$pcap"; }
trap cleanup EXIT
nsx() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
nsx ip link set lo up mtu 1500
for a in 10.0.0.176 52.216.39.26 10.0.0.2 10.0.5.20 10.0.128.100 198.51.100.7 203.0.113.10 10.100.0.11 10.100.0.50; do
  nsx ip addr add "$a/32" dev lo
done
nsx ip addr add fd00::176/128 dev lo
nsx ip addr add 2600:1f18::1/128 dev lo
ip netns exec "$ns" dumpcap -q -P -i lo -w "$pcap" 2>/dev/null &
cap=$!
sleep 2
ip netns exec "$ns" python3 -m http.server --bind 52.216.39.26 443 >/dev/null 2>&1 &
ip netns exec "$ns" python3 -m http.server --bind 10.0.128.100 80 >/dev/null 2>&1 &
ip netns exec "$ns" python3 -m http.server --bind 203.0.113.10 80 >/dev/null 2>&1 &
sleep 1
nsx curl -s --interface 10.0.0.176 -o /dev/null http://52.216.39.26:443/ || true
nsx curl -s --interface 10.0.5.20 -o /dev/null http://10.0.128.100/ || true
nsx curl -s --interface 198.51.100.7 -o /dev/null http://203.0.113.10/ || true
nsx dig +time=1 +tries=1 -b 10.0.0.176 @10.0.0.2 s3.us-east-1.amazonaws.com A >/dev/null || true
nsx dig +time=1 +tries=1 -b 10.0.0.176 @10.0.0.2 my-bucket.s3.us-east-1.amazonaws.com AAAA +dnssec >/dev/null || true
nsx dig +time=1 +tries=1 -b 10.0.0.176 @10.0.0.2 +tcp vpce-0a000000000000001-abcdefgh.vpce-svc-0b000000000000001.ap-northeast-1.vpce.amazonaws.com >/dev/null || true
nsx ping -c 1 -I 10.0.0.176 52.216.39.26 >/dev/null
nsx ping -c 1 -s 3000 -I 10.0.0.176 52.216.39.26 >/dev/null   # fragments
nsx ping -6 -c 1 -s 2000 -I fd00::176 2600:1f18::1 >/dev/null  # IPv6 fragments
nsx python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.176", 0))
s.sendto(b"x" * 40, ("52.216.39.26", 9))   # a closed port: ICMP port unreachable comes back
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.sendto(b"y" * 40, ("2600:1f18::1", 9))
# GENEVE as a GWLB node sends it to an appliance and back (the kernel's geneve device is not
# on every machine): AWS's three options (class 0x0108: ENI id, attachment id, flow cookie)
# around seed 001's inbound TCP SYN.
import struct
inner = bytes.fromhex("4500003c1c4640004006" "0000" "c6336407cb00710a" "9c4000500000000000000000a002faf00000000002040218")
inner += bytes(60 - len(inner))
opts = b""
for t, v in ((1, 0x0c000000000000e1), (2, 0x0c000000000000a1), (3, 0x763217fb)):
    body = struct.pack(">Q", v) if t != 3 else struct.pack(">I", v)
    opts += struct.pack(">HBB", 0x0108, t, len(body) // 4) + body
hdr = struct.pack(">BBHI", len(opts) // 4, 0, 0x0800, 0)
g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
g.bind(("10.100.0.50", 6081))
g.sendto(hdr + opts + inner, ("10.100.0.11", 6081))
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("10.100.0.11", 40000))
a.sendto(hdr + opts + inner, ("10.100.0.50", 6081))
PY
sleep 1
kill -INT "$cap"; wait "$cap" || true
python3 - "$pcap" "$here" <<'PY'
import hashlib, os, struct, sys
pcap, out = sys.argv[1], sys.argv[2]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
off, packets = 24, []
while off + 16 <= len(data):
    _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
    frame = data[off + 16: off + 16 + caplen]
    off += 16 + caplen
    if frame[12:14] in (b"\x08\x00", b"\x86\xdd"):
        packets.append(frame[14:])
def save(target, blob):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(blob).hexdigest()[:16]), "wb").write(blob)
fabric_of = {b"\x34\xd8\x27\x1a": 0, b"\x0a\x00\x00\x02": 0, b"\x0a\x00\x80\x64": 1,
             b"\xcb\x00\x71\x0a": 2, b"\x0a\x64\x00\x32": 2, b"\x0a\x64\x00\x0b": 2}
for p in packets:
    save("wire_parse", p)
    v4 = p[0] >> 4 == 4
    fabric = fabric_of.get(p[16:20] if v4 else b"", fabric_of.get(p[12:16] if v4 else b"", 0))
    for k in range(8):
        save("pipeline", bytes([fabric + 4 * k]) + p)
    # DNS payloads (UDP port 53).
    if v4 and p[9] == 17:
        ihl = (p[0] & 15) * 4
        sport, dport = struct.unpack(">HH", p[ihl:ihl + 4])
        if 53 in (sport, dport):
            save("dns", p[ihl + 8:])
print(f"{len(packets)} packets")
PY
# PROXY v2 inputs: source, destination (address, port) and an endpoint id.
python3 - "$here" <<'PY'
import os, socket, struct, sys
d = os.path.join(sys.argv[1], "proxy_v2"); os.makedirs(d, exist_ok=True)
for i, (s, sp, t, tp, vpce) in enumerate([("10.1.128.50", 41000, "10.1.5.20", 80, "vpce-0a000000000000001"),
                                          ("10.0.1.50", 39324, "10.0.1.20", 8080, "vpce-38705c62b57a2782e"),
                                          ("255.255.255.255", 65535, "0.0.0.0", 0, "")]):
    open(os.path.join(d, f"seed{i}"), "wb").write(socket.inet_aton(s) + struct.pack(">H", sp) + socket.inet_aton(t) + struct.pack(">H", tp) + vpce.encode())
PY
# AWS import: each file of the fixture, in its place.
python3 - "$here" "$here/../../tests/fixtures/aws-export-gwlb" <<'PY'
import os, sys
out, fx = sys.argv[1], sys.argv[2]
d = os.path.join(out, "aws_import"); os.makedirs(d, exist_ok=True)
for i, name in enumerate(sorted(os.listdir(fx))):
    open(os.path.join(d, name), "wb").write(bytes([i]) + open(os.path.join(fx, name), "rb").read())
PY
echo "seeds in $here: $(for t in wire_parse pipeline dns proxy_v2 aws_import config; do echo -n "$t $(ls "$here/$t" | wc -l)  "; done)"
