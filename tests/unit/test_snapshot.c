/* Snapshot model and canonical order: caps and truncation, the string table, rewinding a table for a
 * retried dump, sort, dedup and fingerprints. */
#include "testutil.h"
#include "../../delta/canon.h"
#include "../../delta/hash.h"

#include <errno.h>

static void test_caps_and_truncation(void **state)
{
	struct snap_limits lim = snap_default_limits;
	struct snapshot s;

	(void)state;
	lim.max[SNAP_NEIGH] = 100;
	assert_int_equal(snap_init(&s, &lim), 0);
	for (int i = 0; i < 100; i++)
		assert_non_null(snap_push(&s, SNAP_NEIGH));
	assert_false(s.st[SNAP_NEIGH].truncated);
	errno = 0;
	assert_null(snap_push(&s, SNAP_NEIGH));
	assert_int_equal(errno, ENOSPC);
	assert_true(s.st[SNAP_NEIGH].truncated);
	assert_int_equal(s.t[SNAP_NEIGH].n, 100);
	/* records come zeroed */
	s.t[SNAP_NEIGH].n = 0;
	((struct snap_neigh *)snap_push(&s, SNAP_NEIGH))->ifindex = 7;
	s.t[SNAP_NEIGH].n = 0;
	assert_int_equal(((struct snap_neigh *)snap_push(&s, SNAP_NEIGH))->ifindex, 0);
	snap_free(&s);
}

static void test_strtab(void **state)
{
	struct snap_limits lim = snap_default_limits;
	struct snapshot s;
	uint32_t a, b;

	(void)state;
	lim.max_strtab = 16;
	snap_init(&s, &lim);
	assert_int_equal(snap_str(&s, "", 0), 0);
	a = snap_str(&s, "eth0", 4);
	b = snap_str(&s, "wlan0xx", 7);
	assert_string_equal(snap_s(&s, a), "eth0");
	assert_string_equal(snap_s(&s, b), "wlan0xx");
	assert_false(s.str_truncated);
	/* 1 + 5 + 8 = 14 used: a 3-byte string does not fit in 16 */
	assert_int_equal(snap_str(&s, "abc", 3), 0);
	assert_true(s.str_truncated);
	assert_string_equal(snap_s(&s, a), "eth0");
	snap_free(&s);
}

static void test_rewind(void **state)
{
	struct snapshot s;
	struct snap_mark m;

	(void)state;
	snap_init(&s, NULL);
	snap_push(&s, SNAP_ROUTES);
	m = snap_mark(&s, SNAP_ROUTES);
	snap_push(&s, SNAP_ROUTES);
	snap_push_nh(&s, SNAP_ROUTES);
	snap_str(&s, "x", 1);
	s.st[SNAP_ROUTES].truncated = true;
	snap_rewind(&s, SNAP_ROUTES, m);
	assert_int_equal(s.t[SNAP_ROUTES].n, 1);
	assert_int_equal(s.nh.n, 0);
	assert_int_equal(s.str_len, 1);
	assert_false(s.st[SNAP_ROUTES].truncated);
	snap_free(&s);
}

static void add_sock(struct snapshot *s, uint8_t proto, uint16_t sport, uint32_t inode)
{
	struct snap_sock *k = snap_push(s, SNAP_SOCKS);

	k->family = AF_INET;
	k->proto = proto;
	k->sport = sport;
	k->inode = inode;
}

static void test_sort_dedup_fingerprint(void **state)
{
	struct snapshot a, b;
	uint64_t fa, fb;

	(void)state;
	snap_init(&a, NULL);
	snap_init(&b, NULL);
	add_sock(&a, 17, 53, 1);
	add_sock(&a, 6, 443, 2);
	add_sock(&a, 6, 22, 3);
	add_sock(&b, 6, 22, 3);
	add_sock(&b, 17, 53, 1);
	add_sock(&b, 6, 443, 2);
	canon_sort(&a, SNAP_SOCKS);
	canon_sort(&b, SNAP_SOCKS);
	assert_int_equal(((struct snap_sock *)snap_at(&a, SNAP_SOCKS, 0))->sport, 22);
	assert_int_equal(((struct snap_sock *)snap_at(&a, SNAP_SOCKS, 2))->proto, 17);
	fa = canon_fingerprint(&a, SNAP_SOCKS);
	fb = canon_fingerprint(&b, SNAP_SOCKS);
	assert_int_equal(fa, fb);
	/* the same socket twice (a torn dump) is removed; a distinct socket on the same port (SO_REUSEPORT:
	 * another inode) is kept */
	add_sock(&a, 6, 443, 2);
	add_sock(&a, 6, 443, 9);
	canon_sort(&a, SNAP_SOCKS);
	assert_int_equal(canon_dedup(&a, SNAP_SOCKS), 1);
	assert_int_equal(a.t[SNAP_SOCKS].n, 4);
	assert_int_not_equal(canon_fingerprint(&a, SNAP_SOCKS), fb);
	/* strings count by value, not by offset */
	{
		struct snap_link *l1, *l2;

		snap_str(&b, "padding", 7);
		l1 = snap_push(&a, SNAP_LINKS);
		l1->ifindex = 1;
		l1->name = snap_str(&a, "lo", 2);
		l2 = snap_push(&b, SNAP_LINKS);
		l2->ifindex = 1;
		l2->name = snap_str(&b, "lo", 2);
		assert_int_not_equal(l1->name, l2->name);
		assert_int_equal(canon_fingerprint(&a, SNAP_LINKS), canon_fingerprint(&b, SNAP_LINKS));
		l2->name = snap_str(&b, "lo2", 3);
		assert_int_not_equal(canon_fingerprint(&a, SNAP_LINKS),
				     canon_fingerprint(&b, SNAP_LINKS));
	}
	snap_free(&a);
	snap_free(&b);
}

/* canon_sort's own sort (an index merge sort per table) gives qsort's order: for every table it
 * has one, at sizes around its runs of 16 and merge widths, with many equal keys. */
static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

static void fill(struct snapshot *s, enum snap_table t, uint32_t n, uint32_t *seed)
{
	static const char *const comm[] = { "sshd", "nginx", "a", "" };

	for (uint32_t i = 0; i < n; i++) {
		void *r = snap_push(s, t);

		switch (t) {
		case SNAP_NEIGH: {
			struct snap_neigh *x = r;

			x->family = lcg(seed) % 2 ? 2 : 10;
			x->ifindex = lcg(seed) % 3;
			x->dst[15] = (uint8_t)(lcg(seed) % 7);
			x->proxy = lcg(seed) % 2;
			x->state = (uint16_t)(lcg(seed) % 3);
			break;
		}
		case SNAP_SOCKS: {
			struct snap_sock *x = r;
			const char *c = comm[lcg(seed) % 4];

			x->proto = lcg(seed) % 2 ? 6 : 17;
			x->sport = (uint16_t)(lcg(seed) % 5);
			x->dst[3] = (uint8_t)(lcg(seed) % 3);
			x->inode = lcg(seed) % 4;
			x->comm = snap_str(s, c, strlen(c));
			break;
		}
		case SNAP_ADDRS: {
			struct snap_addr *x = r;

			x->ifindex = lcg(seed) % 4;
			x->addr[0] = (uint8_t)(lcg(seed) % 5);
			x->prefixlen = (uint8_t)(lcg(seed) % 3);
			break;
		}
		default: {
			struct snap_route *x = r;

			x->family = 2;
			x->table = lcg(seed) % 3;
			x->dst[0] = (uint8_t)(lcg(seed) % 9);
			x->dst_len = (uint8_t)(lcg(seed) % 3);
			x->priority = lcg(seed) % 2;
			break;
		}
		}
	}
}

struct qctx {
	const struct snapshot *s;
	enum snap_table t;
};

static int ref_cmp(const void *a, const void *b, void *arg)
{
	const struct qctx *q = arg;

	return canon_cmp(q->s, q->t, a, b);
}

static void test_typed_sort_is_qsort(void **state)
{
	static const enum snap_table tabs[] = { SNAP_NEIGH, SNAP_SOCKS, SNAP_ADDRS, SNAP_ROUTES };
	static const uint32_t sizes[] = { 2, 15, 16, 17, 31, 33, 100, 1000, 4097 };
	uint32_t seed = 99;

	(void)state;
	for (size_t ti = 0; ti < 4; ti++) {
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			enum snap_table t = tabs[ti];
			struct snapshot s;
			struct qctx q = { &s, t };
			uint32_t n = sizes[si], sz;
			char *ref;

			assert_int_equal(snap_init(&s, NULL), 0);
			fill(&s, t, n, &seed);
			sz = s.t[t].size;
			ref = malloc((size_t)n * sz);
			memcpy(ref, s.t[t].v, (size_t)n * sz);
			qsort_r(ref, n, sz, ref_cmp, &q);
			canon_sort(&s, t);
			assert_int_equal(s.t[t].n, n);
			for (uint32_t i = 0; i < n; i++)
				if (canon_cmp(&s, t, snap_at(&s, t, i), ref + (size_t)i * sz) != 0)
					fail_msg("table %d, %u records: record %u out of qsort's order", t, n, i);
			/* the table still grows after its buffer was replaced */
			assert_non_null(snap_push(&s, t));
			free(ref);
			snap_free(&s);
		}
	}
}

static void test_hash_stable(void **state)
{
	(void)state;
	/* fingerprints are persisted later: pin the function's output */
	assert_int_equal(hash64("", 0, 0), hash64("", 0, 0));
	assert_int_not_equal(hash64("a", 1, 0), hash64("b", 1, 0));
	assert_int_not_equal(hash64("a", 1, 0), hash64("a", 1, 1));
	assert_int_not_equal(hash64("abcdefgh", 8, 0), hash64("abcdefgh\0", 9, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_and_truncation),
		cmocka_unit_test(test_strtab),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_sort_dedup_fingerprint),
		cmocka_unit_test(test_hash_stable),
		cmocka_unit_test(test_typed_sort_is_qsort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
