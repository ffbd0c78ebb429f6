/*
 * udpblast: sends small UDP datagrams to DST:PORT as fast as one core can for SECONDS, 64 per
 * sendmmsg call, and prints how many it sent. The small-packet load of
 * scripts/bench-forwarding.sh (iperf3's UDP sender tops out near 200 kpps on one core, below
 * what either forwarder carries); it runs inside a lab namespace only.
 *
 *   udpblast DST PORT SECONDS [PAYLOAD=18]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: udpblast DST PORT SECONDS [PAYLOAD]\n");
		return 2;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "udpblast: bad address %s\n", argv[1]);
		return 2;
	}
	double secs = atof(argv[3]);
	size_t len = argc > 4 ? (size_t)atoi(argv[4]) : 18;
	char payload[1500] = {0};
	if (len > sizeof payload) len = sizeof payload;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
		perror("udpblast");
		return 1;
	}
	struct iovec iov = {.iov_base = payload, .iov_len = len};
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0;
	double end = now() + secs;
	while (now() < end) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0) sent += (unsigned long long)n;
	}
	printf("%llu\n", sent);
	return 0;
}
