/*
 * Fuzz driver for CI (no clang needed): feeds every datagram of the given recorded dumps to the
 * harness under each parser, then runs a fixed number of seeded mutations (bit flips, interesting
 * bytes, length fields rewritten, truncation, splices). Deterministic for a given seed, so a failure
 * reproduces. Files ending in .bin are raw harness inputs (saved crashes, tests/fuzz/regressions)
 * and are run once as they are; files ending in .seed are raw harness inputs added to the pool that
 * mutations start from (a state file for the decoder). Usage: fuzz_driver [-n ITERATIONS] [-s SEED] FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dg {
	uint8_t *p;
	size_t n;
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	struct dg *dgs = NULL;
	size_t ndg = 0, cap = 0;
	unsigned long iters = 20000;
	uint8_t *buf = malloc(1 << 17);
	int opt;

	rng = 0x6e6574696e76ull;
	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			iters = strtoul(optarg, NULL, 10);
		else if (opt == 's')
			rng = strtoull(optarg, NULL, 10) | 1;
	}
	for (int i = optind; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t nl = strlen(argv[i]);
		uint32_t l;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		if (nl > 4 && !strcmp(argv[i] + nl - 4, ".bin")) {
			size_t got = fread(buf, 1, 1 << 17, f);

			LLVMFuzzerTestOneInput(buf, got);
			fclose(f);
			continue;
		}
		if (nl > 5 && !strcmp(argv[i] + nl - 5, ".seed")) {
			size_t got = fread(buf, 1, 1 << 16, f);

			if (ndg == cap) {
				cap = cap ? cap * 2 : 64;
				dgs = realloc(dgs, cap * sizeof(*dgs));
			}
			dgs[ndg].p = malloc(got ? got : 1);
			memcpy(dgs[ndg].p, buf, got);
			dgs[ndg].n = got;
			ndg++;
			fclose(f);
			continue;
		}
		while (fread(&l, 4, 1, f) == 1 && l < (1 << 16)) {
			if (ndg == cap) {
				cap = cap ? cap * 2 : 64;
				dgs = realloc(dgs, cap * sizeof(*dgs));
			}
			dgs[ndg].p = malloc(l + 1);
			dgs[ndg].n = l + 1;
			if (fread(dgs[ndg].p + 1, 1, l, f) != l)
				break;
			ndg++;
		}
		fclose(f);
	}
	if (!ndg) {
		fprintf(stderr, "fuzz_driver: no datagrams in the input files\n");
		return 1;
	}
	/* every datagram under every parser and flag combination */
	for (size_t i = 0; i < ndg; i++) {
		for (int sel = 0; sel < 128; sel += 1) {
			dgs[i].p[0] = (uint8_t)sel;
			LLVMFuzzerTestOneInput(dgs[i].p, dgs[i].n);
		}
	}
	for (unsigned long it = 0; it < iters; it++) {
		struct dg *d = &dgs[next() % ndg];
		size_t n = d->n;
		int muts = 1 + (int)(next() % 8);

		memcpy(buf, d->p, n);
		if (next() % 2 || (buf[0] & 7) != 7)
			buf[0] = (uint8_t)next();
		for (int k = 0; k < muts && n > 1; k++) {
			size_t at = 1 + next() % (n - 1);

			switch (next() % 6) {
			case 0:
				buf[at] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1: {
				static const uint8_t v[] = { 0, 1, 3, 4, 0x7f, 0x80, 0xfe, 0xff };

				buf[at] = v[next() % sizeof(v)];
				break;
			}
			case 2: /* rewrite a 16-bit length at an aligned offset (nla_len / rtnh_len) */
				at = 1 + ((at - 1) & ~(size_t)3);
				if (at + 2 <= n) {
					uint16_t l = (uint16_t)(next() % 64);

					memcpy(buf + at, &l, 2);
				}
				break;
			case 3: /* truncate */
				n = 1 + next() % (n - 1);
				break;
			case 4: /* rewrite a 32-bit nlmsg_len */
				at = 1 + ((at - 1) & ~(size_t)3);
				if (at + 4 <= n) {
					uint32_t l = (uint32_t)(next() % (n + 32));

					memcpy(buf + at, &l, 4);
				}
				break;
			default: { /* splice bytes from another datagram */
				struct dg *o = &dgs[next() % ndg];
				size_t from = 1 + next() % (o->n - 1), len = next() % 32;

				if (from + len > o->n)
					len = o->n - from;
				if (at + len > n)
					len = n - at;
				memcpy(buf + at, o->p + from, len);
			}
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_driver: %zu datagrams x 128 selectors, %lu mutations: no crash\n", ndg, iters);
	for (size_t i = 0; i < ndg; i++)
		free(dgs[i].p);
	free(dgs);
	free(buf);
	return 0;
}
