#include "reconcile.h"
#include "canon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CMP(x, y)                                                                                  \
	do {                                                                                       \
		if ((x) != (y))                                                                    \
			return (x) < (y) ? -1 : 1;                                                 \
	} while (0)

int route_events_init(struct route_events *e, uint32_t max, uint32_t max_seams)
{
	memset(e, 0, sizeof(*e));
	e->max = max;
	e->seams.v = calloc(max_seams ? max_seams : 1, sizeof(*e->seams.v));
	e->seams.max = max_seams;
	if (!e->seams.v)
		return -ENOMEM;
	return snap_init(&e->ev, NULL);
}

void route_events_reset(struct route_events *e)
{
	e->ev.t[SNAP_ROUTES].n = 0;
	e->ev.nh.n = 0;
	e->ev.oom = false;
	e->ev.st[SNAP_ROUTES].truncated = false;
	e->unusable = false;
	e->seams.n = 0;
	e->seams.overflow = e->seams.have_last = false;
}

void route_events_free(struct route_events *e)
{
	snap_free(&e->ev);
	free(e->removal);
	free(e->seams.v);
	memset(e, 0, sizeof(*e));
}

int route_events_note(struct route_events *e, bool removal)
{
	uint32_t i = e->ev.t[SNAP_ROUTES].n - 1;

	if (e->ev.t[SNAP_ROUTES].n == 0 || i >= e->max) {
		e->unusable = true;
		return -ENOSPC;
	}
	if (i >= e->cap) {
		uint32_t ncap = e->cap ? e->cap * 2 : 256;
		uint8_t *n;

		if (ncap > e->max)
			ncap = e->max;
		n = realloc(e->removal, ncap);
		if (!n) {
			e->unusable = true;
			return -ENOMEM;
		}
		e->removal = n;
		e->cap = ncap;
	}
	e->removal[i] = removal;
	return 0;
}

/* The part of a route's identity that leads the canonical order (so one identity's records are
 * adjacent in a sorted table), then the source prefix, which follows the type there. */
static int lead_cmp(const struct snap_route *a, const struct snap_route *b)
{
	int c;

	CMP(a->family, b->family);
	CMP(a->table, b->table);
	if ((c = memcmp(a->dst, b->dst, 16)))
		return c < 0 ? -1 : 1;
	CMP(a->dst_len, b->dst_len);
	CMP(a->tos, b->tos);
	CMP(a->priority, b->priority);
	return 0;
}

static int ident_cmp(const struct snap_route *a, const struct snap_route *b)
{
	int c = lead_cmp(a, b);

	if (c)
		return c;
	if ((c = memcmp(a->src, b->src, 16)))
		return c < 0 ? -1 : 1;
	CMP(a->src_len, b->src_len);
	return 0;
}

static int event_order(const void *x, const void *y, void *arg)
{
	const struct snapshot *ev = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	int c = ident_cmp(snap_at(ev, SNAP_ROUTES, i), snap_at(ev, SNAP_ROUTES, j));

	if (c)
		return c;
	return i < j ? -1 : i > j;
}

/* Is the route the notification states (in ev) the one the table holds (in s)? */
static bool same_route(const struct snapshot *s, const struct snap_route *a, const struct snapshot *ev,
		       const struct snap_route *b)
{
	struct snap_route x = *a, y = *b;

	x.nh_first = y.nh_first = 0;
	if (memcmp(&x, &y, sizeof(x)))
		return false;
	return !a->nh_count || !memcmp((const struct snap_nexthop *)s->nh.v + a->nh_first,
				       (const struct snap_nexthop *)ev->nh.v + b->nh_first,
				       (size_t)a->nh_count * sizeof(struct snap_nexthop));
}

struct plan {
	uint32_t ev;  /* the identity's last notification */
	uint32_t at;  /* the table's record of that identity, or NONE */
	uint32_t nh;  /* where its next hops were copied in s */
	uint8_t act;
};
enum { ACT_NONE, ACT_WRITE, ACT_REMOVE };
#define NONE UINT32_MAX

static int leaf_cmp(const void *x, const void *y)
{
	const struct route_leaf *a = x, *b = y;
	int c;

	CMP(a->table, b->table);
	if ((c = memcmp(a->dst, b->dst, 4)))
		return c < 0 ? -1 : 1;
	CMP(a->dst_len, b->dst_len);
	return 0;
}

/* Can r be placed by identity? Not an IPv6 route, not in a seam's prefix, and in a table the dump
 * read (a table created during the dump may have moved the walk over another). */
static bool placeable(const struct snapshot *s, const struct route_seams *sm, const struct snap_route *r)
{
	struct route_leaf k = { .table = r->table, .dst_len = r->dst_len };
	bool table = false;
	uint32_t lo = 0, hi = s->t[SNAP_ROUTES].n;

	if (r->family != AF_INET)
		return false;
	memcpy(k.dst, r->dst, 4);
	if (sm->n && bsearch(&k, sm->v, sm->n, sizeof(k), leaf_cmp))
		return false;
	while (lo < hi) { /* the table's first IPv4 record, in canonical order */
		uint32_t mid = lo + (hi - lo) / 2;
		const struct snap_route *h = snap_at(s, SNAP_ROUTES, mid);

		if (h->family < AF_INET || (h->family == AF_INET && h->table < r->table))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->t[SNAP_ROUTES].n) {
		const struct snap_route *h = snap_at(s, SNAP_ROUTES, lo);

		table = h->family == AF_INET && h->table == r->table;
	}
	return table;
}

static int plan_build(const struct snapshot *s, const struct route_events *e, struct plan *p, uint32_t *np)
{
	const struct snapshot *ev = &e->ev;
	uint32_t nev = ev->t[SNAP_ROUTES].n, n = s->t[SNAP_ROUTES].n, k = 0;
	uint32_t *idx = malloc((size_t)nev * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < nev; i++)
		idx[i] = i;
	qsort_r(idx, nev, sizeof(*idx), event_order, (void *)ev);
	for (uint32_t g = 0; g < nev; g++) {
		const struct snap_route *r = snap_at(ev, SNAP_ROUTES, idx[g]);
		uint32_t lo = 0, hi = n, at = NONE, matches = 0;

		if (g + 1 < nev && ident_cmp(r, snap_at(ev, SNAP_ROUTES, idx[g + 1])) == 0)
			continue; /* a later notification of the same identity decides */
		while (lo < hi) { /* the first record not before r's lead */
			uint32_t mid = lo + (hi - lo) / 2;

			if (lead_cmp(snap_at(s, SNAP_ROUTES, mid), r) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (uint32_t i = lo; i < n && lead_cmp(snap_at(s, SNAP_ROUTES, i), r) == 0; i++) {
			const struct snap_route *h = snap_at(s, SNAP_ROUTES, i);

			if (ident_cmp(h, r) == 0) {
				matches++;
				at = i;
			}
		}
		if (matches > 1 || !placeable(s, &e->seams, r)) {
			free(idx);
			return -EAGAIN;
		}
		p[k++] = (struct plan){ .ev = idx[g], .at = at, .nh = NONE, .act = ACT_NONE };
	}
	free(idx);
	*np = k;
	return 0;
}

/* Merge the sorted records [n0, n) into the sorted [0, n0) of table t. */
static int merge_tail(struct snapshot *s, uint32_t n0)
{
	struct snap_vec *v = &s->t[SNAP_ROUTES];
	uint32_t k = v->n - n0, sz = v->size;
	int64_t i = (int64_t)n0 - 1, j = (int64_t)k - 1, w = (int64_t)v->n - 1;
	char *tail;

	if (!k)
		return 0;
	tail = malloc((size_t)k * sz);
	if (!tail)
		return -ENOMEM;
	memcpy(tail, snap_at(s, SNAP_ROUTES, n0), (size_t)k * sz);
	while (j >= 0) {
		if (i >= 0 && canon_cmp(s, SNAP_ROUTES, snap_at(s, SNAP_ROUTES, (uint32_t)i), tail + (size_t)j * sz) > 0)
			memcpy(snap_at(s, SNAP_ROUTES, (uint32_t)w--), snap_at(s, SNAP_ROUTES, (uint32_t)i--), sz);
		else
			memcpy(snap_at(s, SNAP_ROUTES, (uint32_t)w--), tail + (size_t)j-- * sz, sz);
	}
	free(tail);
	return 0;
}

static int tail_order(const void *a, const void *b, void *arg)
{
	return canon_cmp(arg, SNAP_ROUTES, a, b);
}

int reconcile_routes(struct snapshot *s, const struct route_events *e)
{
	const struct snapshot *ev = &e->ev;
	struct snap_vec *v = &s->t[SNAP_ROUTES];
	uint32_t n0 = v->n, nh0 = s->nh.n, np = 0, changed = 0, w = 0;
	bool unordered = false;
	struct plan *p;
	int r;

	if (e->unusable || ev->oom || e->seams.overflow)
		return -EAGAIN;
	if (ev->t[SNAP_ROUTES].n == 0)
		return 0;
	p = malloc((size_t)ev->t[SNAP_ROUTES].n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	qsort(e->seams.v, e->seams.n, sizeof(*e->seams.v), leaf_cmp);
	r = plan_build(s, e, p, &np);
	if (r < 0)
		goto out;
	/* Everything that allocates first (new records at the end, next hops), so a failure leaves
	 * the table as dumped. */
	for (uint32_t i = 0; i < np; i++) {
		const struct snap_route *er = snap_at(ev, SNAP_ROUTES, p[i].ev);

		if (e->removal[p[i].ev]) {
			p[i].act = p[i].at != NONE ? ACT_REMOVE : ACT_NONE;
			continue;
		}
		if (p[i].at != NONE && same_route(s, snap_at(s, SNAP_ROUTES, p[i].at), ev, er))
			continue;
		p[i].act = ACT_WRITE;
		p[i].nh = s->nh.n;
		for (uint32_t h = 0; h < er->nh_count; h++) {
			struct snap_nexthop *nh = snap_push_nh(s, SNAP_ROUTES);

			if (!nh) {
				r = -errno;
				goto undo;
			}
			*nh = ((const struct snap_nexthop *)ev->nh.v)[er->nh_first + h];
		}
		if (p[i].at == NONE) {
			if (!snap_push(s, SNAP_ROUTES)) {
				r = -errno;
				goto undo;
			}
			p[i].at = v->n - 1;
		}
	}
	for (uint32_t i = 0; i < np; i++) {
		struct snap_route *h = snap_at(s, SNAP_ROUTES, p[i].at);

		if (p[i].act == ACT_NONE)
			continue;
		changed++;
		if (p[i].act == ACT_REMOVE) {
			h->family = 0; /* gone: compacted below */
			continue;
		}
		*h = *(const struct snap_route *)snap_at(ev, SNAP_ROUTES, p[i].ev);
		h->nh_first = h->nh_count ? p[i].nh : 0;
	}
	/* A record replaced in place keeps its identity, which leads the canonical order, so it stays
	 * between its neighbours; should one not, the table is sorted whole below. */
	for (uint32_t i = 0; i < np && !unordered; i++) {
		uint32_t at = p[i].at, j = at, k = at + 1;

		if (p[i].act != ACT_WRITE || at >= n0)
			continue;
		while (j > 0 && !((const struct snap_route *)snap_at(s, SNAP_ROUTES, j - 1))->family)
			j--;
		while (k < n0 && !((const struct snap_route *)snap_at(s, SNAP_ROUTES, k))->family)
			k++;
		unordered = (j > 0 && canon_cmp(s, SNAP_ROUTES, snap_at(s, SNAP_ROUTES, j - 1), snap_at(s, SNAP_ROUTES, at)) > 0) ||
			    (k < n0 && canon_cmp(s, SNAP_ROUTES, snap_at(s, SNAP_ROUTES, at), snap_at(s, SNAP_ROUTES, k)) > 0);
	}
	/* Drop the removed from the dumped part, keep its order; the added follow, sorted. */
	for (uint32_t i = 0; i < n0; i++) {
		const struct snap_route *h = snap_at(s, SNAP_ROUTES, i);

		if (!h->family)
			continue;
		if (w != i)
			memcpy(snap_at(s, SNAP_ROUTES, w), h, v->size);
		w++;
	}
	if (w != n0) {
		memmove(snap_at(s, SNAP_ROUTES, w), snap_at(s, SNAP_ROUTES, n0), (size_t)(v->n - n0) * v->size);
		v->n -= n0 - w;
	}
	qsort_r(snap_at(s, SNAP_ROUTES, w), v->n - w, v->size, tail_order, s);
	if (unordered || merge_tail(s, w) < 0)
		canon_sort(s, SNAP_ROUTES); /* out of order, or no memory to merge with: sort in place */
	r = (int)changed;
	goto out;
undo:
	v->n = n0;
	s->nh.n = nh0;
out:
	free(p);
	return r;
}
