#!/usr/bin/env python3
"""UDP request/response latency for the forwarding benchmarks.

    udp_rr.py server ADDRESS PORT          echo every datagram back (runs until killed)
    udp_rr.py client ADDRESS PORT COUNT    COUNT sequential requests; prints p50 p99 p99.9 in µs

One request in flight at a time, 32-byte payloads; the first 100 answers warm the path and
are not counted. Both topologies pay the same Python overhead on both ends."""
import socket
import sys
import time


def server(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def client(addr, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.settimeout(1.0)
    rtts = []
    lost = 0
    for i in range(count + 100):
        t = time.perf_counter_ns()
        s.send(b"x" * 32)
        try:
            s.recv(2048)
        except socket.timeout:
            lost += 1
            continue
        if i >= 100:
            rtts.append((time.perf_counter_ns() - t) / 1000)
    rtts.sort()
    pick = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))]
    print(f"{pick(0.50):.1f} {pick(0.99):.1f} {pick(0.999):.1f} {lost}")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
