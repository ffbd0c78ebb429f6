/*
 * flowblast: one small UDP datagram to each of COUNT distinct destinations, (address, port)
 * pairs from BASE: ports 1..65535 of BASE, then of BASE+1, and so on; every datagram a new
 * flow for a stateful forwarder. 64 per sendmmsg call. Prints how many it sent. For the
 * flow-table exhaustion test (tests/e2e/faults.rs); runs inside a lab namespace only.
 *
 *   flowblast BASE COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: flowblast BASE COUNT\n");
		return 2;
	}
	struct in_addr base;
	if (inet_pton(AF_INET, argv[1], &base) != 1) {
		fprintf(stderr, "flowblast: bad address %s\n", argv[1]);
		return 2;
	}
	long count = atol(argv[2]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	static char payload[18];
	struct sockaddr_in to[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	long sent = 0;
	while (sent < count) {
		int n = 0;
		for (; n < BATCH && sent + n < count; n++) {
			long i = sent + n;
			memset(&to[n], 0, sizeof to[n]);
			to[n].sin_family = AF_INET;
			to[n].sin_addr.s_addr = htonl(ntohl(base.s_addr) + (uint32_t)(i / 65535));
			to[n].sin_port = htons((uint16_t)(i % 65535 + 1));
			iov[n].iov_base = payload;
			iov[n].iov_len = sizeof payload;
			memset(&msgs[n], 0, sizeof msgs[n]);
			msgs[n].msg_hdr.msg_name = &to[n];
			msgs[n].msg_hdr.msg_namelen = sizeof to[n];
			msgs[n].msg_hdr.msg_iov = &iov[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			usleep(100); /* ENOBUFS: the device queue is full; let it drain */
			continue;
		}
		sent += r;
	}
	printf("%ld\n", sent);
	return 0;
}
