/* Shared helpers for netinv's cmocka unit tests: load recorded dumps, feed them through the walker. */
#ifndef NETINV_TESTUTIL_H
#define NETINV_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "../../netlink/nl.h"
#include "../../netlink/attr.h"
#include "../../delta/snapshot.h"

/* assert_string_equal on a pointer that may be NULL: cmocka would strcmp it and crash the run
 * (a host's configuration naming a missing key file once did, in test_cli). */
#define assert_str_is(a, b)                                                                        \
	do {                                                                                       \
		const char *s_ = (a);                                                              \
		assert_non_null(s_);                                                               \
		assert_string_equal(s_, (b));                                                      \
	} while (0)

static inline uint8_t *load_file(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	uint8_t *b;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Walk every recorded datagram ([u32 len][bytes] frames) of a fixture; returns the walk summary. */
static inline struct nl_walk feed_fixture(const char *name, nl_msg_fn fn, struct parse_ctx *ctx)
{
	struct nl_walk w = { 0 };
	size_t len, off = 0;
	uint8_t *b = load_file(name, &len);

	while (off + 4 <= len) {
		uint32_t l;
		uint8_t *dg;

		memcpy(&l, b + off, 4);
		off += 4;
		assert_true(off + l <= len);
		/* Copy to an exact-size heap block so ASan catches any read past the datagram. */
		dg = malloc(l);
		memcpy(dg, b + off, l);
		assert_int_equal(nl_walk_buf(dg, l, &w, fn, ctx), 0);
		free(dg);
		off += l;
	}
	assert_true(w.done);
	free(b);
	return w;
}

static inline void ip_parse(const char *s, uint8_t *fam, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*fam = AF_INET;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
	*fam = AF_INET6;
}

/* A scratch directory under /tmp for one test (dir receives its path), and its removal. */
static inline int scratch_make(char *dir, size_t n, const char *tag)
{
	snprintf(dir, n, "/tmp/netinv-%s.XXXXXX", tag);
	return mkdtemp(dir) ? 0 : -1;
}

/* Write text to dir/name and give it mode. */
static inline void scratch_put(const char *dir, const char *name, const char *text, unsigned mode)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static inline int scratch_remove(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
