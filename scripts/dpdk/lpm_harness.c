/*
 * DPDK baseline for vpce's LPM: builds rte_fib (DIR-24-8) or rte_fib6 (trie) from a table file
 * written by `vpcectl bench lpm --write-table`, looks up the keys written by `--write-keys` in
 * bulks of 64, and prints one JSON line: build time, lookups/s (best pass within SECONDS), and
 * the checksum of the next hops found (missing route = 65535), the same sum vpcectl prints.
 *
 *   lpm_harness v4|v6 TABLE KEYS [SECONDS]
 *
 * Record formats (see src/vpcectl/bench.rs): IPv4 table 12 bytes (u32 LE address, u8 length,
 * 3 pad, u32 LE next hop), IPv6 table 24 bytes (16-byte address, u8 length, 3 pad, u32 LE next
 * hop); keys u32 LE (IPv4) or 16 bytes (IPv6). Runs without hugepages or PCI devices.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#define BULK 64
#define MISS 65535

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *path, size_t *len) {
	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); exit(2); }
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(*len ? *len : 1);
	if (fread(b, 1, *len, f) != *len) { perror(path); exit(2); }
	fclose(f);
	return b;
}

static uint32_t le32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: %s v4|v6 TABLE KEYS [SECONDS]\n", argv[0]);
		return 2;
	}
	int v6 = strcmp(argv[1], "v6") == 0;
	double seconds = argc > 4 ? atof(argv[4]) : 2.0;
	char *eal[] = {"lpm_harness", "--no-huge", "--no-pci", "--no-shconf", "-m", "3072", "-l", "0",
		"--log-level", "*:error", NULL};
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	size_t tlen, klen;
	uint8_t *table = slurp(argv[2], &tlen);
	uint8_t *keys = slurp(argv[3], &klen);
	size_t rec = v6 ? 24 : 12, nroutes = tlen / rec, nkeys = klen / (v6 ? 16 : 4);
	uint64_t *nh = malloc(sizeof(uint64_t) * BULK);
	double t0 = now(), build, best = 1e30;
	uint64_t sum = 0;
	if (!v6) {
		struct rte_fib_conf c;
		memset(&c, 0, sizeof c);
		c.type = RTE_FIB_DIR24_8;
		c.default_nh = MISS;
		c.max_routes = nroutes + 16;
		c.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
		c.dir24_8.num_tbl8 = 1 << 17;
		struct rte_fib *fib = rte_fib_create("vpce_v4", -1, &c);
		if (!fib) { fprintf(stderr, "rte_fib_create failed\n"); return 1; }
		for (size_t i = 0; i < nroutes; i++) {
			const uint8_t *r = table + i * rec;
			if (rte_fib_add(fib, le32(r), r[4], le32(r + 8)) < 0) {
				fprintf(stderr, "rte_fib_add failed at record %zu\n", i);
				return 1;
			}
		}
		build = now() - t0;
		uint32_t *ips = malloc(sizeof(uint32_t) * nkeys);
		for (size_t i = 0; i < nkeys; i++) ips[i] = le32(keys + 4 * i);
		double start = now();
		for (int round = 0; round < 3 || now() - start < seconds; round++) {
			double t = now();
			uint64_t s = 0;
			for (size_t i = 0; i < nkeys; i += BULK) {
				int n = nkeys - i < BULK ? (int)(nkeys - i) : BULK;
				rte_fib_lookup_bulk(fib, ips + i, nh, n);
				for (int k = 0; k < n; k++) s += nh[k];
			}
			t = now() - t;
			if (t < best) best = t;
			sum = s;
			if (round > 1000) break;
		}
	} else {
		struct rte_fib6_conf c;
		memset(&c, 0, sizeof c);
		c.type = RTE_FIB6_TRIE;
		c.default_nh = MISS;
		c.max_routes = nroutes + 16;
		c.trie.nh_sz = RTE_FIB6_TRIE_4B;
		c.trie.num_tbl8 = 1 << 20;
		struct rte_fib6 *fib = rte_fib6_create("vpce_v6", -1, &c);
		if (!fib) { fprintf(stderr, "rte_fib6_create failed\n"); return 1; }
		for (size_t i = 0; i < nroutes; i++) {
			const uint8_t *r = table + i * rec;
			if (rte_fib6_add(fib, r, r[16], le32(r + 20)) < 0) {
				fprintf(stderr, "rte_fib6_add failed at record %zu\n", i);
				return 1;
			}
		}
		build = now() - t0;
		uint8_t (*ips)[16] = (uint8_t (*)[16])keys;
		double start = now();
		for (int round = 0; round < 3 || now() - start < seconds; round++) {
			double t = now();
			uint64_t s = 0;
			for (size_t i = 0; i < nkeys; i += BULK) {
				int n = nkeys - i < BULK ? (int)(nkeys - i) : BULK;
				rte_fib6_lookup_bulk(fib, ips + i, nh, n);
				for (int k = 0; k < n; k++) s += nh[k];
			}
			t = now() - t;
			if (t < best) best = t;
			sum = s;
			if (round > 1000) break;
		}
	}
	printf("{\"family\":\"%s\",\"prefixes\":%zu,\"build_seconds\":%.4f,\"lookups_per_second\":%.0f,\"checksum\":%llu}\n",
		v6 ? "v6" : "v4", nroutes, build, nkeys / best, (unsigned long long)sum);
	rte_eal_cleanup();
	return 0;
}
