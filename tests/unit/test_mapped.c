/* A state file read through a mapping (persist_decode_mapped): decoded as the copy is, its pages
 * given back behind each walk and read again unchanged, a corrupt one refused, and a diff against
 * it the same as against the copy. Also the in-place sort behind the diff at a million records. */
#include "testutil.h"
#include "../../delta/diff.h"
#include "../../delta/persist.h"
#include "../../delta/canon.h"
#include "../../delta/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define NREC 300000u /* 19 MiB: many slices of pages given back */

/* A state file image of NREC route records (ascending ids) and a few links, in buf. */
static uint8_t *make_file(size_t *len, struct state_rec **recs)
{
	struct persist_meta m = { .sequence = 42, .accepted_at = 1700000000, .keying = KEYING_EXACT };
	uint8_t *buf, *p;
	uint64_t id = 0;
	uint32_t crc;

	m.count[SNAP_LINKS] = 3;
	m.count[SNAP_ROUTES] = NREC;
	*len = (size_t)persist_size(m.count);
	buf = calloc(1, *len);
	assert_non_null(buf);
	persist_header(buf, &m);
	p = buf + PERSIST_HDR_LEN;
	*recs = (struct state_rec *)p;
	for (uint32_t i = 0; i < 3 + NREC; i++) {
		struct state_rec r = { 0 };

		if (i == 3)
			id = 0;
		id += 1 + hash64(&i, sizeof(i), 7) % 1000000;
		r.id = id;
		r.content = hash64(&i, sizeof(i), 9) | 1;
		memcpy(r.key, &i, sizeof(i));
		memcpy(p + (size_t)i * sizeof(r), &r, sizeof(r));
	}
	crc = persist_crc(0, buf, *len - 4);
	memcpy(buf + *len - 4, &crc, 4);
	return buf;
}

static const uint8_t *map_file(const uint8_t *img, size_t len)
{
	char path[] = "/tmp/netinv-mapped.XXXXXX";
	int fd = mkstemp(path);
	void *m;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(m != MAP_FAILED);
	close(fd);
	unlink(path);
	return m;
}

static void test_decode_mapped(void **st)
{
	size_t len;
	struct state_rec *want;
	uint8_t *img = make_file(&len, &want);
	const uint8_t *m = map_file(img, len);
	struct acked_state a;
	const char *why = NULL;

	(void)st;
	assert_int_equal(persist_decode_mapped(m, len, &a, &why), 0);
	assert_null(why);
	assert_int_equal(a.map_len, len);
	assert_int_equal(a.sequence, 42);
	assert_int_equal(a.t[SNAP_LINKS].n, 3);
	assert_int_equal(a.t[SNAP_ROUTES].n, NREC);
	/* every page was given back behind the check; read again, every record is as written */
	assert_memory_equal(a.t[SNAP_LINKS].r, want, 3 * sizeof(struct state_rec));
	assert_memory_equal(a.t[SNAP_ROUTES].r, want + 3, (size_t)NREC * sizeof(struct state_rec));
	/* and again, after giving back a range with unaligned ends */
	acked_drop(&a, (const uint8_t *)a.t[SNAP_ROUTES].r + 100, &a.t[SNAP_ROUTES].r[NREC / 2]);
	assert_memory_equal(a.t[SNAP_ROUTES].r, want + 3, (size_t)NREC * sizeof(struct state_rec));
	/* a range outside the mapping is left alone */
	acked_drop(&a, img, img + len);
	acked_free(&a);
	free(img);
}

static void test_mapped_corrupt(void **st)
{
	size_t len;
	struct state_rec *want;
	uint8_t *img = make_file(&len, &want);
	const uint8_t *m;
	struct acked_state a;
	const char *why = NULL;

	(void)st;
	img[PERSIST_HDR_LEN + 64 * 200000 + 9] ^= 0x40; /* one bit, deep inside */
	m = map_file(img, len);
	assert_int_equal(persist_decode_mapped(m, len, &a, &why), -EBADMSG);
	assert_non_null(why);
	assert_non_null(strstr(why, "checksum"));
	munmap((void *)m, len);
	free(img);
}

/* The diff walks a mapped state and gives its pages back: the delta is the one the copy gives. */
static void test_diff_against_mapped(void **st)
{
	struct snapshot s;
	struct canon_opts o = { 0 };
	struct canon_ctx c;
	struct delta d1, d2;
	struct acked_state copy, mapped;
	const char *why;
	uint8_t *img;
	size_t len = 0;
	const uint8_t *m;
	int wrote = 0;

	(void)st;
	assert_int_equal(snap_init(&s, NULL), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		struct snap_route *r = snap_push(&s, SNAP_ROUTES);

		assert_non_null(r);
		r->family = AF_INET;
		r->dst_len = 32;
		r->table = 254;
		r->type = 1;
		r->dst[0] = 10, r->dst[1] = (uint8_t)(i >> 16), r->dst[2] = (uint8_t)(i >> 8), r->dst[3] = (uint8_t)i;
	}
	canon_sort(&s, SNAP_ROUTES);
	assert_int_equal(canon_ctx_init(&c, &s, &o), 0);
	/* the acknowledged state: this snapshot's, then 1,000 routes changed and 500 gone */
	assert_int_equal(delta_build(&d1, &c, NULL, 1u << SNAP_ROUTES), 0);
	{
		struct persist_meta pm = { .sequence = 7, .keying = KEYING_EXACT };
		uint8_t *p;
		uint32_t crc;

		pm.count[SNAP_ROUTES] = d1.t[SNAP_ROUTES].n;
		len = (size_t)persist_size(pm.count);
		img = calloc(1, len);
		assert_non_null(img);
		persist_header(img, &pm);
		p = img + PERSIST_HDR_LEN;
		for (uint32_t i = 0; i < d1.t[SNAP_ROUTES].n; i++) {
			struct state_rec r = { .id = d1.t[SNAP_ROUTES].cur[i].id,
					       .content = d1.t[SNAP_ROUTES].cur[i].content };

			if (i % 200 == 0)
				r.content ^= 1; /* changed since */
			memcpy(p, &r, sizeof(r));
			p += sizeof(r);
			wrote++;
		}
		crc = persist_crc(0, img, len - 4);
		memcpy(img + len - 4, &crc, 4);
	}
	delta_free(&d1);
	s.t[SNAP_ROUTES].n -= 500; /* the last 500 are gone */
	assert_int_equal(persist_decode_owned(img, len, &copy, &why, false), 0);
	m = map_file(img, len);
	assert_int_equal(persist_decode_mapped(m, len, &mapped, &why), 0);
	assert_int_equal(delta_build(&d1, &c, &copy, 1u << SNAP_ROUTES), 0);
	assert_int_equal(delta_build(&d2, &c, &mapped, 1u << SNAP_ROUTES), 0);
	assert_int_equal(d1.t[SNAP_ROUTES].changed, d2.t[SNAP_ROUTES].changed);
	assert_int_equal(d1.t[SNAP_ROUTES].n_removed, 500);
	assert_int_equal(d2.t[SNAP_ROUTES].n_removed, 500);
	assert_true(d2.t[SNAP_ROUTES].changed >= 990 && d2.t[SNAP_ROUTES].changed <= 1000);
	assert_memory_equal(d1.t[SNAP_ROUTES].removed, d2.t[SNAP_ROUTES].removed, 500 * sizeof(uint32_t));
	assert_memory_equal(d1.t[SNAP_ROUTES].send, d2.t[SNAP_ROUTES].send, s.t[SNAP_ROUTES].n);
	assert_int_equal(wrote, 200000);
	delta_free(&d1);
	delta_free(&d2);
	acked_free(&copy);
	acked_free(&mapped);
	free(img);
	canon_ctx_free(&c);
	snap_free(&s);
}

static int ent_cmp(const void *x, const void *y)
{
	const struct delta_ent *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Both ways of the diff's sort give qsort's order: 400,000 ids, every 50th repeated (identical
 * keys), some sharing their top 20 bits. */
static void test_sort_by_id(void **st)
{
	const uint32_t n = 400000;
	struct delta_ent *want = malloc((size_t)n * sizeof(*want)), *got = malloc((size_t)n * sizeof(*got));
	struct delta_ent *orig = malloc((size_t)n * sizeof(*orig));

	(void)st;
	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(orig);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = hash64(&i, sizeof(i), 3);

		if (i % 50 == 49)
			id = want[i - 7].id; /* a duplicate */
		else if (i % 13 == 0)
			id = (id & 0xfffff00000000000ull) | (i & 0xff); /* a crowded bucket */
		want[i] = (struct delta_ent){ .id = id, .content = i, .idx = i };
	}
	memcpy(orig, want, (size_t)n * sizeof(*orig));
	qsort(want, n, sizeof(*want), ent_cmp);
	for (int in_place = 0; in_place < 2; in_place++) {
		memcpy(got, orig, (size_t)n * sizeof(*got));
		assert_int_equal(delta_sort_by_id(got, n, in_place), 0);
		for (uint32_t i = 0; i < n; i++) {
			assert_true(got[i].id == want[i].id);
			assert_int_equal(got[i].idx, want[i].idx);
		}
	}
	free(want);
	free(got);
	free(orig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_mapped),
		cmocka_unit_test(test_mapped_corrupt),
		cmocka_unit_test(test_diff_against_mapped),
		cmocka_unit_test(test_sort_by_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
