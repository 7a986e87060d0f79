#include "diff.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Sort by id. Large tables in place but for one top-level bucket (a million routes would need
 * another 27 MiB for a whole buffer). Ids are uniform 64-bit hashes: a 256-way partition in place on the top byte
 * (American flag sort: 256 write fronts, each moving forward, stay in cache), then each bucket is
 * spread on the next byte into a buffer the size of the largest bucket and finished by insertion
 * sort. Equal ids (identical keys) end up adjacent in snapshot order, which make_unique relies on. */
static void insertion_sort(struct delta_ent *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct delta_ent e = a[i];
		uint32_t j = i;

		while (j && (a[j - 1].id > e.id || (a[j - 1].id == e.id && a[j - 1].idx > e.idx))) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = e;
	}
}

#define BYTE(id, shift) ((uint32_t)((id) >> (shift)) & 255u)
/* the bits of an id below its top byte, bits of them */
#define SPREAD(id, bits) ((uint32_t)((id) << 8 >> (64 - (bits))))
#define SPREAD_BITS 12

/* Up to this many bytes of entries the sort spreads them through a whole second buffer (one
 * counting pass on the top 16 bits, one scatter, insertion sort of buckets of about n/65536):
 * fastest, and a few MiB at most. Larger tables (a full routing table) are sorted in place. */
#define SORT_BUFFERED_MAX (8u << 20)

static int sort_buffered(struct delta_ent *a, uint32_t n)
{
	struct delta_ent *tmp = malloc((size_t)n * sizeof(*tmp));
	uint32_t *start = calloc(65537, sizeof(*start));

	if (!tmp || !start) {
		free(tmp);
		free(start);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		start[(a[i].id >> 48) + 1]++;
	for (uint32_t b = 1; b <= 65536; b++)
		start[b] += start[b - 1];
	for (uint32_t i = 0; i < n; i++)
		tmp[start[a[i].id >> 48]++] = a[i];
	/* start[b] is now the end of bucket b */
	for (uint32_t b = 0, lo = 0; b < 65536; lo = start[b], b++)
		insertion_sort(tmp + lo, start[b] - lo);
	memcpy(a, tmp, (size_t)n * sizeof(*a));
	free(tmp);
	free(start);
	return 0;
}

static int sort_in_place(struct delta_ent *a, uint32_t n);

int delta_sort_by_id(struct delta_ent *a, uint32_t n, bool in_place)
{
	if (n <= 64) {
		insertion_sort(a, n);
		return 0;
	}
	return in_place ? sort_in_place(a, n) : sort_buffered(a, n);
}

static int sort_by_id(struct delta_ent *a, uint32_t n)
{
	return delta_sort_by_id(a, n, (size_t)n * sizeof(*a) > SORT_BUFFERED_MAX);
}

static int sort_in_place(struct delta_ent *a, uint32_t n)
{
	uint32_t start[257] = { 0 }, next[256], cnt[(1u << SPREAD_BITS) + 1], biggest = 0;
	struct delta_ent *tmp;

	for (uint32_t i = 0; i < n; i++)
		start[BYTE(a[i].id, 56) + 1]++;
	for (uint32_t b = 1; b <= 256; b++) {
		if (start[b] > biggest)
			biggest = start[b];
		start[b] += start[b - 1];
	}
	tmp = malloc((size_t)biggest * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	memcpy(next, start, sizeof(next));
	/* bucket b fills [start[b], start[b + 1]); next[b] is its first unsettled slot */
	for (uint32_t b = 0; b < 256; b++) {
		while (next[b] < start[b + 1]) {
			struct delta_ent e = a[next[b]];
			uint32_t d = BYTE(e.id, 56);

			while (d != b) { /* carry e to its bucket, taking what was there */
				struct delta_ent t = a[next[d]];

				a[next[d]++] = e;
				e = t;
				d = BYTE(e.id, 56);
			}
			a[next[b]++] = e;
		}
	}
	for (uint32_t b = 0; b < 256; b++) {
		struct delta_ent *v = a + start[b];
		uint32_t m = start[b + 1] - start[b], bits = 1;

		if (m <= 64) {
			insertion_sort(v, m);
			continue;
		}
		/* spread on the next bits (as many as leave parts of about 4), then each part in
		 * order */
		while (m >> bits > 4 && bits < SPREAD_BITS)
			bits++;
		memset(cnt, 0, ((size_t)1 << bits) * sizeof(*cnt) + sizeof(*cnt));
		for (uint32_t i = 0; i < m; i++)
			cnt[SPREAD(v[i].id, bits) + 1]++;
		for (uint32_t k = 1; k <= 1u << bits; k++)
			cnt[k] += cnt[k - 1];
		for (uint32_t i = 0; i < m; i++)
			tmp[cnt[SPREAD(v[i].id, bits)]++] = v[i];
		for (uint32_t k = 0, lo = 0; k < 1u << bits; lo = cnt[k], k++)
			insertion_sort(tmp + lo, cnt[k] - lo);
		memcpy(v, tmp, (size_t)m * sizeof(*v));
	}
	free(tmp);
	return 0;
}

/* Records whose keys are identical (SO_REUSEPORT listeners, flow-keyed connections, IPv4 routes
 * appended with the same next hop) get an ordinal mixed into their identity, in canonical order. */
static int make_unique(struct delta_ent *a, uint32_t n)
{
	for (int round = 0; round < 4; round++) {
		bool dup = false;

		for (uint32_t i = 1; i < n; i++) {
			uint32_t j = i;

			if (a[i].id != a[i - 1].id)
				continue;
			while (j < n && a[j].id == a[i - 1].id) {
				uint16_t ord = (uint16_t)(j - i + 1 + a[i - 1].ordinal);

				a[j].ordinal = ord;
				a[j].id = hash_mix(a[j].id, ord);
				j++;
			}
			dup = true;
			i = j;
		}
		if (!dup)
			return 0;
		if (sort_by_id(a, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* A mapped state's pages are given back every DROP_RECS records walked, and at a table's end. */
#define DROP_RECS 32768u
static void walked(const struct acked_state *a, const struct acked_table *pt, uint32_t p)
{
	if (a && a->map_len && p && (p % DROP_RECS == 0 || p == pt->n))
		acked_drop(a, &pt->r[(p - 1) / DROP_RECS * DROP_RECS], &pt->r[p]);
}

static int build_table(struct delta_table *dt, const struct canon_ctx *c, enum snap_table t,
		       const struct acked_state *a, const struct acked_table *prev, bool keyed)
{
	const struct snapshot *s = c->s;
	uint32_t n = s->t[t].n, k = 0, p = 0, i = 0;
	uint8_t key[STATE_KEY_LEN];

	dt->cur = malloc((size_t)(n ? n : 1) * sizeof(*dt->cur));
	dt->send = calloc(n ? n : 1, 1);
	if (!dt->cur || !dt->send)
		return -ENOMEM;
	for (uint32_t r = 0; r < n; r++) {
		struct delta_ent *e;

		if (!canon_keep(c, t, r)) {
			dt->filtered++;
			continue;
		}
		e = &dt->cur[k++];
		if (keyed) {
			canon_key(c, t, r, key);
			canon_fps(c, t, r, key, &e->id, &e->content);
		} else {
			e->id = e->content = 0;
		}
		e->idx = r;
		e->ordinal = 0;
		e->kind = DELTA_ADDED;
		e->sent = 0;
	}
	dt->n = k;
	if (keyed && (sort_by_id(dt->cur, k) < 0 || make_unique(dt->cur, k) < 0))
		return -ENOMEM;
	if (!prev) {
		for (i = 0; i < k; i++)
			dt->send[dt->cur[i].idx] = 1;
		dt->added = k;
		return 0;
	}
	dt->removed = malloc((size_t)(prev->n ? prev->n : 1) * sizeof(*dt->removed));
	dt->removed_sent = calloc(prev->n ? prev->n : 1, 1);
	if (!dt->removed || !dt->removed_sent)
		return -ENOMEM;
	/* merge-join, both sides ascending by id */
	while (i < k || p < prev->n) {
		if (p >= prev->n || (i < k && dt->cur[i].id < prev->r[p].id)) {
			dt->cur[i].kind = DELTA_ADDED;
			dt->send[dt->cur[i].idx] = 1;
			dt->added++;
			i++;
		} else if (i >= k || prev->r[p].id < dt->cur[i].id) {
			dt->removed[dt->n_removed++] = p;
			walked(a, prev, ++p);
		} else {
			if (dt->cur[i].content != prev->r[p].content) {
				dt->cur[i].kind = DELTA_CHANGED;
				dt->send[dt->cur[i].idx] = 1;
				dt->changed++;
			} else {
				dt->cur[i].kind = DELTA_UNCHANGED;
				dt->unchanged++;
			}
			i++;
			walked(a, prev, ++p);
		}
	}
	return 0;
}

static int build(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		 unsigned int tables, unsigned int same, bool keyed);

int delta_build(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		unsigned int tables)
{
	return build(d, c, prev, tables, 0, true);
}

int delta_build_same(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		     unsigned int tables, unsigned int same)
{
	return build(d, c, prev, tables, same, true);
}

int delta_build_unkeyed(struct delta *d, const struct canon_ctx *c, unsigned int tables)
{
	return build(d, c, NULL, tables, 0, false);
}

static int build(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		 unsigned int tables, unsigned int same, bool keyed)
{
	memset(d, 0, sizeof(*d));
	if (prev && prev->keying != (uint32_t)c->o->keying)
		prev = NULL; /* identities were made another way: nothing matches */
	if (!prev && same)
		return -EINVAL; /* the same as nothing: the caller must collect those tables */
	d->prev = prev;
	d->full = prev == NULL;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		int r;

		if (!(tables & (1u << t)) || (same & (1u << t))) {
			d->t[t].carried = true;
			if (same & (1u << t)) {
				uint32_t n = c->s->st[t].same_count;

				d->t[t].same = true;
				d->t[t].unchanged = prev->t[t].n;
				d->t[t].filtered = n > prev->t[t].n ? n - prev->t[t].n : 0;
			}
			d->t[t].send = calloc(c->s->t[t].n ? c->s->t[t].n : 1, 1);
			if (!d->t[t].send) {
				delta_free(d);
				return -ENOMEM;
			}
			continue;
		}
		r = build_table(&d->t[t], c, (enum snap_table)t, prev, prev ? &prev->t[t] : NULL, keyed);

		if (r < 0) {
			delta_free(d);
			return r;
		}
	}
	return 0;
}

void delta_free(struct delta *d)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		free(d->t[t].cur);
		free(d->t[t].send);
		free(d->t[t].removed);
		free(d->t[t].removed_sent);
	}
	memset(d, 0, sizeof(*d));
}

void delta_mark_all_sent(struct delta *d)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct delta_table *dt = &d->t[t];

		for (uint32_t i = 0; i < dt->n; i++)
			dt->cur[i].sent = 1;
		if (dt->n_removed)
			memset(dt->removed_sent, 1, dt->n_removed);
	}
}

bool delta_accept_part(struct delta *d, uint8_t *const incl[SNAP_NTABLES],
		       uint8_t *const rincl[SNAP_NTABLES])
{
	bool carried = false;

	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct delta_table *dt = &d->t[t];

		for (uint32_t i = 0; i < dt->n; i++) {
			if (incl[t][dt->cur[i].idx]) {
				dt->cur[i].sent = 1;
				dt->send[dt->cur[i].idx] = 0;
				carried = true;
			} else if (dt->cur[i].kind == DELTA_UNCHANGED) {
				dt->cur[i].sent = 1;
			}
		}
		for (uint32_t i = 0; i < dt->n_removed; i++) {
			if (rincl[t][i]) {
				dt->removed_sent[i] = 1;
				carried = true;
			}
		}
	}
	return carried;
}

static void cur_rec(const struct canon_ctx *c, enum snap_table t, const struct delta_ent *e,
		    struct state_rec *out)
{
	out->id = e->id;
	out->content = e->content;
	canon_key(c, t, e->idx, out->key);
	if (t == SNAP_SOCKS)
		((struct key_sock *)out->key)->ordinal = e->ordinal;
}

int delta_next_state(const struct delta *d, const struct canon_ctx *c, delta_emit_fn emit, void *arg)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &d->t[t];
		const struct acked_table *pt = d->prev ? &d->prev->t[t] : NULL;
		uint32_t i = 0, p = 0, rm = 0, np = pt ? pt->n : 0;
		struct state_rec rec;
		int r = 0;

		while (i < dt->n || p < np) {
			if (p >= np || (i < dt->n && dt->cur[i].id < pt->r[p].id)) {
				/* added: in the state once a report carried it */
				if (dt->cur[i].sent) {
					cur_rec(c, (enum snap_table)t, &dt->cur[i], &rec);
					r = emit(arg, (enum snap_table)t, &rec);
				}
				i++;
			} else if (i >= dt->n || pt->r[p].id < dt->cur[i].id) {
				/* removed: gone from the state once a report said so */
				bool sent = rm < dt->n_removed && dt->removed[rm] == p && dt->removed_sent[rm];

				if (rm < dt->n_removed && dt->removed[rm] == p)
					rm++;
				if (!sent)
					r = emit(arg, (enum snap_table)t, &pt->r[p]);
				walked(d->prev, pt, ++p);
			} else {
				if (dt->cur[i].sent) {
					cur_rec(c, (enum snap_table)t, &dt->cur[i], &rec);
					r = emit(arg, (enum snap_table)t, &rec);
				} else {
					r = emit(arg, (enum snap_table)t, &pt->r[p]);
				}
				i++;
				walked(d->prev, pt, ++p);
			}
			if (r)
				return r;
		}
	}
	return 0;
}

/* Every record of the table went out in accepted reports (or needed not): the next state holds
 * exactly the snapshot's records. */
static bool settled(const struct delta_table *dt)
{
	for (uint32_t i = 0; i < dt->n; i++)
		if (!dt->cur[i].sent && dt->cur[i].kind != DELTA_UNCHANGED)
			return false;
	for (uint32_t i = 0; i < dt->n_removed; i++)
		if (!dt->removed_sent[i])
			return false;
	return true;
}

void delta_next_digest(const struct delta *d, enum snap_table t, uint64_t *digest, bool *repeat)
{
	const struct delta_table *dt = &d->t[t];
	const struct acked_state *p = d->prev;

	*digest = 0;
	*repeat = false;
	if (dt->carried && !dt->same) {
		/* not collected: the records stay the acknowledged ones, and so does their digest */
		if (p) {
			*digest = p->digest[t];
			*repeat = p->repeat[t];
		}
		return;
	}
	if (!d->digest[t] || (!dt->same && !settled(dt)))
		return;
	*digest = d->digest[t];
	*repeat = p && p->digest[t] == d->digest[t];
}

void delta_next_counts(const struct delta *d, uint32_t count[SNAP_NTABLES])
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &d->t[t];
		uint32_t np = d->prev ? d->prev->t[t].n : 0, added_sent = 0, removed_sent = 0;

		for (uint32_t i = 0; i < dt->n; i++)
			if (dt->cur[i].sent && dt->cur[i].kind == DELTA_ADDED)
				added_sent++;
		for (uint32_t i = 0; i < dt->n_removed; i++)
			removed_sent += dt->removed_sent[i];
		count[t] = np + added_sent - removed_sent;
	}
}

void acked_drop(const struct acked_state *a, const void *from, const void *to)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)from + pg - 1) & ~(pg - 1),
		  hi = (uintptr_t)to & ~(pg - 1);

	if (!a->map_len || hi <= lo)
		return;
	if ((const char *)from < (const char *)a->block || (const char *)to > (const char *)a->block + a->map_len)
		return;
	madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void block_release(struct acked_state *a)
{
	if (a->map_len)
		munmap(a->block, a->map_len);
	else
		free(a->block);
}

void acked_free(struct acked_state *a)
{
	block_release(a);
	memset(a, 0, sizeof(*a));
}

/* Union of up to three id-ascending record lists into out (room for all); on equal ids the earlier
 * list wins. Returns the count written. */
static uint32_t union3(const struct state_rec *l[3], const uint32_t n[3], struct state_rec *out)
{
	uint32_t i[3] = { 0, 0, 0 }, k = 0;

	for (;;) {
		int best = -1;

		for (int j = 0; j < 3; j++)
			if (i[j] < n[j] && (best < 0 || l[j][i[j]].id < l[best][i[best]].id))
				best = j;
		if (best < 0)
			return k;
		out[k] = l[best][i[best]];
		for (int j = 0; j < 3; j++)
			if (i[j] < n[j] && l[j][i[j]].id == out[k].id)
				i[j]++;
		k++;
	}
}

int delta_part_unconfirmed(const struct delta *d, const struct canon_ctx *c,
			   uint8_t *const incl[SNAP_NTABLES], uint8_t *const rincl[SNAP_NTABLES],
			   const struct acked_state *also, struct acked_state *out)
{
	size_t total = 0, scratch = 0;
	struct state_rec *block, *ups, *rms, *p;

	memset(out, 0, sizeof(*out));
	for (int t = 0; t < SNAP_NTABLES; t++) {
		size_t here = (size_t)d->t[t].n + d->t[t].n_removed;

		total += here + (also ? also->t[t].n : 0);
		if (here > scratch)
			scratch = here;
	}
	block = malloc((total ? total : 1) * sizeof(*block));
	ups = malloc((scratch ? scratch : 1) * sizeof(*ups));
	rms = malloc((scratch ? scratch : 1) * sizeof(*rms));
	if (!block || !ups || !rms) {
		free(block);
		free(ups);
		free(rms);
		return -ENOMEM;
	}
	p = block;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &d->t[t];
		const struct state_rec *l[3] = { ups, rms, also ? also->t[t].r : NULL };
		uint32_t n[3] = { 0, 0, also ? also->t[t].n : 0 };

		for (uint32_t i = 0; i < dt->n; i++)
			if (incl[t][dt->cur[i].idx])
				cur_rec(c, (enum snap_table)t, &dt->cur[i], &ups[n[0]++]);
		for (uint32_t i = 0; i < dt->n_removed; i++)
			if (rincl[t][i])
				rms[n[1]++] = d->prev->t[t].r[dt->removed[i]];
		out->t[t].r = p;
		out->t[t].n = union3(l, n, p);
		p += out->t[t].n;
	}
	free(ups);
	free(rms);
	out->block = block;
	out->keying = (uint32_t)c->o->keying;
	return 0;
}

int acked_merge_unconfirmed(struct acked_state *a, const struct acked_state *u)
{
	size_t total = 0;
	struct state_rec *block, *p;
	struct acked_state m = *a;

	for (int t = 0; t < SNAP_NTABLES; t++)
		total += (size_t)a->t[t].n + u->t[t].n;
	block = malloc((total ? total : 1) * sizeof(*block));
	if (!block)
		return -ENOMEM;
	p = block;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct acked_table *x = &a->t[t], *y = &u->t[t];
		uint32_t i = 0, j = 0, k = 0;

		while (i < x->n || j < y->n) {
			if (j >= y->n || (i < x->n && x->r[i].id < y->r[j].id)) {
				p[k++] = x->r[i++];
				continue;
			}
			/* the unconfirmed report's key: the record as it was last sent */
			p[k] = y->r[j];
			p[k++].content = STATE_CONTENT_UNKNOWN;
			if (i < x->n && x->r[i].id == y->r[j].id)
				i++;
			j++;
		}
		m.t[t].r = p;
		m.t[t].n = k;
		p += k;
	}
	for (int t = 0; t < SNAP_NTABLES; t++)
		if (u->t[t].n) {
			/* records of unknown content are not what a dump digest stands for */
			m.digest[t] = 0;
			m.repeat[t] = false;
		}
	block_release(a);
	m.block = block;
	m.map_len = 0;
	*a = m;
	return 0;
}
