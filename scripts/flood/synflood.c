/*
 * synflood: sends COUNT TCP SYNs, each a new flow, from SRC (the sender's own address, so
 * that a source/destination check passes) to addresses of DST_NET/16 on port 443, through a
 * raw socket, at most RATE packets per second. Used by scripts/bench-synflood.sh inside a lab
 * namespace; it never runs outside one.
 *
 *   synflood SRC DST_NET COUNT RATE
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint32_t sum16(const void *data, size_t len, uint32_t acc) {
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2) acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1) acc += (uint32_t)(p[len - 1] << 8);
	return acc;
}

static uint16_t fold(uint32_t acc) {
	while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: synflood SRC DST_NET COUNT RATE\n");
		return 2;
	}
	struct in_addr src, net;
	if (!inet_aton(argv[1], &src) || !inet_aton(argv[2], &net)) {
		fprintf(stderr, "synflood: bad address\n");
		return 2;
	}
	long count = atol(argv[3]);
	double rate = atof(argv[4]);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("synflood: socket");
		return 1;
	}
	uint8_t pkt[40];
	double start = now();
	long sent = 0, failed = 0;
	for (long i = 0; i < count; i++) {
		uint32_t dst = ntohl(net.s_addr) + (uint32_t)(i / 60000) * 7 + 1;
		uint16_t sport = (uint16_t)(1024 + i % 60000);
		memset(pkt, 0, sizeof pkt);
		pkt[0] = 0x45;
		pkt[3] = 40;
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, &src.s_addr, 4);
		uint32_t d = htonl(dst);
		memcpy(pkt + 16, &d, 4);
		uint16_t c = fold(sum16(pkt, 20, 0));
		pkt[10] = c >> 8;
		pkt[11] = c & 0xff;
		uint8_t *t = pkt + 20;
		t[0] = sport >> 8;
		t[1] = sport & 0xff;
		t[2] = 443 >> 8;
		t[3] = 443 & 0xff;
		uint32_t seq = htonl((uint32_t)i * 2654435761u);
		memcpy(t + 4, &seq, 4);
		t[12] = 5 << 4;
		t[13] = 0x02; /* SYN */
		t[14] = 0xfa;
		t[15] = 0xf0;
		uint8_t pseudo[12];
		memcpy(pseudo, pkt + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 6;
		pseudo[10] = 0;
		pseudo[11] = 20;
		c = fold(sum16(t, 20, sum16(pseudo, 12, 0)));
		t[16] = c >> 8;
		t[17] = c & 0xff;
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = d};
		if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) < 0)
			failed++;
		else
			sent++;
		/* Pace in steps of 100 packets: never ahead of RATE. */
		if ((i + 1) % 100 == 0) {
			double wait = start + (double)(i + 1) / rate - now();
			if (wait > 0) usleep((useconds_t)(wait * 1e6));
		}
	}
	double secs = now() - start;
	printf("{\"sent\": %ld, \"send_failures\": %ld, \"seconds\": %.2f, \"pps\": %.0f}\n", sent,
	       failed, secs, sent / secs);
	return 0;
}
