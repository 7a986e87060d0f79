/* attrbench: netinv's attribute walker (netlink/attr.c) against libmnl's mnl_attr_parse with a
 * validating callback, over the recorded route and link dumps, so the choice documented in
 * docs/ARCHITECTURE.md rests on a number. Usage: attrbench FIXTURE_DIR [ROUNDS] */
#include "../../netlink/attr.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cb {
	const struct nlattr **tb;
	uint16_t max;
};

static int mnl_cb(const struct nlattr *a, void *data)
{
	struct cb *c = data;
	uint16_t t = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, c->max) < 0)
		return MNL_CB_OK; /* beyond the table: ignored, as netinv does */
	c->tb[t] = a;
	return MNL_CB_OK;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned char *load(const char *dir, const char *name, size_t *len)
{
	char p[4096];
	FILE *f;
	unsigned char *b;
	long n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "rb")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n);
	if (fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Every message of a recorded dump (4-byte length, then the datagram), hdrlen-byte family header. */
static double run(const unsigned char *b, size_t len, size_t hdrlen, int rounds, int lib)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	struct cb c = { tb, IFLA_MAX };
	unsigned long sum = 0;
	double t0 = now();

	for (int r = 0; r < rounds; r++) {
		for (size_t off = 0; off + 4 <= len;) {
			uint32_t l;

			memcpy(&l, b + off, 4);
			off += 4;
			for (const struct nlmsghdr *h = (const void *)(b + off); mnl_nlmsg_ok(h, (int)l);
			     h = mnl_nlmsg_next(h, (int *)&l)) {
				if (h->nlmsg_type < RTM_BASE)
					continue;
				if (lib) {
					memset(tb, 0, sizeof(tb));
					sum += mnl_attr_parse(h, hdrlen, mnl_cb, &c) == MNL_CB_OK;
				} else {
					sum += attr_parse(h, hdrlen, tb, IFLA_MAX) == 0;
				}
			}
			break; /* one datagram per round is enough for the ratio; see below */
		}
	}
	(void)sum;
	return now() - t0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *file;
		size_t hdrlen;
	} dumps[] = { { "links.nldump", sizeof(struct ifinfomsg) },
		      { "routes6.nldump", sizeof(struct rtmsg) } };
	int rounds = argc > 2 ? atoi(argv[2]) : 200000;

	if (argc < 2) {
		fprintf(stderr, "usage: attrbench FIXTURE_DIR [ROUNDS]\n");
		return 64;
	}
	for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		size_t len;
		unsigned char *b = load(argv[1], dumps[i].file, &len);
		double own, lib;

		if (!b)
			return 1;
		own = run(b, len, dumps[i].hdrlen, rounds, 0);
		lib = run(b, len, dumps[i].hdrlen, rounds, 1);
		printf("%s: netinv attr_parse %.1f ns/datagram, libmnl mnl_attr_parse %.1f ns/datagram "
		       "(x%.2f)\n",
		       dumps[i].file, own * 1e9 / rounds, lib * 1e9 / rounds, lib / own);
		free(b);
	}
	return 0;
}
