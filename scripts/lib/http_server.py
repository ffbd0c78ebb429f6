#!/usr/bin/env python3
"""A static web server for the lab: serves DIRECTORY on PORT, IPv4 and IPv6 ([::], dual
stack), and logs each request to stderr.

Unlike `python3 -m http.server`, it looks up no name before it listens: http.server's bind
calls socket.getfqdn(), which inside a sealed lab namespace (no resolver reachable) waits
about 10 s for DNS when the host's name is not in /etc/hosts. Prints `listening on PORT` to
stdout once it listens.

    http_server.py PORT DIRECTORY
"""
import functools
import http.server
import socket
import socketserver
import sys


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)  # no getfqdn()
        self.server_name = "lab"
        self.server_port = self.server_address[1]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: http_server.py PORT DIRECTORY")
    port, directory = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    with Server(("::", port), handler) as httpd:
        print(f"listening on {port}", flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
