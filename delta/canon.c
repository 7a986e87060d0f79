#include "canon.h"
#include "hash.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CMP(x, y)                                                                                  \
	do {                                                                                       \
		if ((x) != (y))                                                                    \
			return (x) < (y) ? -1 : 1;                                                 \
	} while (0)
#define CMPB(x, y, n)                                                                              \
	do {                                                                                       \
		int c_ = (n) == 16 ? cmp16((x), (y)) : memcmp((x), (y), (n));                      \
		if (c_)                                                                            \
			return c_ < 0 ? -1 : 1;                                                    \
	} while (0)

/* memcmp order of two 16-byte addresses, as two big-endian integer compares (the canonical sort
 * spends most of its time here). */
static inline int cmp16(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y;

	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	if (x != y)
		return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	memcpy(&x, a + 8, 8);
	memcpy(&y, b + 8, 8);
	if (x != y)
		return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	return 0;
}
#define CMPS(s, x, y)                                                                              \
	do {                                                                                       \
		if ((x) != (y)) {                                                                  \
			int c_ = strcmp(snap_s(s, x), snap_s(s, y));                               \
			if (c_)                                                                    \
				return c_ < 0 ? -1 : 1;                                            \
		}                                                                                  \
	} while (0)

static int cmp_bytes(const void *a, const void *b, size_t n)
{
	int c = memcmp(a, b, n);

	return c < 0 ? -1 : c > 0;
}

static int cmp_link(const struct snapshot *s, const struct snap_link *a, const struct snap_link *b)
{
	CMP(a->ifindex, b->ifindex);
	CMPS(s, a->name, b->name);
	CMPS(s, a->kind, b->kind);
	CMPS(s, a->alias, b->alias);
	CMP(a->master, b->master);
	CMP(a->link, b->link);
	CMP(a->mtu, b->mtu);
	CMP(a->flags, b->flags);
	CMP(a->type, b->type);
	CMP(a->operstate, b->operstate);
	CMP(a->addr_len, b->addr_len);
	CMPB(a->addr, b->addr, a->addr_len);
	CMP(a->brd_len, b->brd_len);
	CMPB(a->brd, b->brd, a->brd_len);
	CMPS(s, a->qdisc, b->qdisc);
	CMPS(s, a->altnames, b->altnames);
	CMPS(s, a->parent_dev, b->parent_dev);
	CMPS(s, a->parent_bus, b->parent_bus);
	CMPS(s, a->vlans, b->vlans);
	{
		/* the details: plain bytes in a zeroed record, strings compared above */
		struct snap_link x = *a, y = *b;

		x.name = x.kind = x.alias = x.qdisc = x.altnames = x.parent_dev = x.parent_bus = 0;
		y.name = y.kind = y.alias = y.qdisc = y.altnames = y.parent_dev = y.parent_bus = 0;
		x.vlans = y.vlans = 0;
		return cmp_bytes(&x, &y, sizeof(x));
	}
}

static int cmp_addr(const struct snapshot *s, const struct snap_addr *a, const struct snap_addr *b)
{
	CMP(a->family, b->family);
	CMP(a->ifindex, b->ifindex);
	CMPB(a->addr, b->addr, 16);
	CMP(a->prefixlen, b->prefixlen);
	CMPB(a->peer, b->peer, 16);
	CMP(a->has_peer, b->has_peer);
	CMP(a->scope, b->scope);
	CMP(a->flags, b->flags);
	CMP(a->has_brd, b->has_brd);
	CMPB(a->brd, b->brd, 16);
	CMPS(s, a->label, b->label);
	return 0;
}

static int cmp_neigh(const struct snap_neigh *a, const struct snap_neigh *b)
{
	CMP(a->family, b->family);
	CMP(a->ifindex, b->ifindex);
	CMPB(a->dst, b->dst, 16);
	CMP(a->proxy, b->proxy);
	/* The rest is plain bytes in a zeroed record. */
	return cmp_bytes(a, b, sizeof(*a));
}

static int cmp_nh(const struct snap_nexthop *a, const struct snap_nexthop *b)
{
	return cmp_bytes(a, b, sizeof(*a));
}

static int cmp_route(const struct snapshot *s, const struct snap_route *a, const struct snap_route *b)
{
	const struct snap_nexthop *nh = s->nh.v;

	CMP(a->family, b->family);
	CMP(a->table, b->table);
	CMPB(a->dst, b->dst, 16);
	CMP(a->dst_len, b->dst_len);
	CMP(a->tos, b->tos);
	CMP(a->priority, b->priority);
	CMP(a->type, b->type);
	CMPB(a->src, b->src, 16);
	CMP(a->src_len, b->src_len);
	CMP(a->protocol, b->protocol);
	CMP(a->scope, b->scope);
	CMP(a->gw_family, b->gw_family);
	CMPB(a->gw, b->gw, 16);
	CMP(a->oif, b->oif);
	CMP(a->has_prefsrc, b->has_prefsrc);
	CMPB(a->prefsrc, b->prefsrc, 16);
	CMP(a->flags, b->flags);
	CMP(a->has_pref, b->has_pref);
	CMP(a->pref, b->pref);
	CMP(a->nh_count, b->nh_count);
	for (uint32_t i = 0; i < a->nh_count; i++) {
		int c = cmp_nh(&nh[a->nh_first + i], &nh[b->nh_first + i]);

		if (c)
			return c;
	}
	return 0;
}

static int cmp_sock(const struct snapshot *s, const struct snap_sock *a, const struct snap_sock *b)
{
	CMP(a->proto, b->proto);
	CMP(a->family, b->family);
	CMPB(a->src, b->src, 16);
	CMP(a->sport, b->sport);
	CMPB(a->dst, b->dst, 16);
	CMP(a->dport, b->dport);
	CMP(a->ifindex, b->ifindex);
	CMP(a->state, b->state);
	CMP(a->inode, b->inode);
	CMP(a->uid, b->uid);
	CMP(a->pid, b->pid);
	CMPS(s, a->comm, b->comm);
	return 0;
}

static int cmp_rule(const struct snapshot *s, const struct snap_rule *a, const struct snap_rule *b)
{
	CMP(a->family, b->family);
	CMP(a->priority, b->priority);
	CMPS(s, a->iifname, b->iifname);
	CMPS(s, a->oifname, b->oifname);
	{
		struct snap_rule x = *a, y = *b;

		x.iifname = x.oifname = y.iifname = y.oifname = 0;
		return cmp_bytes(&x, &y, sizeof(x));
	}
}

static int cmp_nhobj(const struct snapshot *s, const struct snap_nhobj *a, const struct snap_nhobj *b)
{
	const struct snap_nexthop *nh = s->nh.v;
	struct snap_nhobj x = *a, y = *b;

	CMP(a->id, b->id);
	CMP(a->grp_count, b->grp_count);
	for (uint32_t i = 0; i < a->grp_count; i++) {
		int c = cmp_nh(&nh[a->grp_first + i], &nh[b->grp_first + i]);

		if (c)
			return c;
	}
	x.grp_first = y.grp_first = 0;
	return cmp_bytes(&x, &y, sizeof(x));
}

/* A namespace's records together (by identity), its description first, then its tables. */
static int cmp_netns(const struct snap_netns *a, const struct snap_netns *b)
{
	int r;

	if (a->id_type != b->id_type)
		return a->id_type < b->id_type ? -1 : 1;
	if (a->id_len != b->id_len)
		return a->id_len < b->id_len ? -1 : 1;
	if ((r = memcmp(a->ident, b->ident, a->id_len)))
		return r;
	if (a->table != b->table)
		return (uint8_t)(a->table + 1) < (uint8_t)(b->table + 1) ? -1 : 1;
	if (a->content != b->content)
		return a->content < b->content ? -1 : 1;
	return 0;
}

int canon_cmp(const struct snapshot *s, enum snap_table t, const void *a, const void *b)
{
	switch (t) {
	case SNAP_LINKS:
		return cmp_link(s, a, b);
	case SNAP_ADDRS:
		return cmp_addr(s, a, b);
	case SNAP_NEIGH:
		return cmp_neigh(a, b);
	case SNAP_ROUTES:
		return cmp_route(s, a, b);
	case SNAP_SOCKS:
		return cmp_sock(s, a, b);
	case SNAP_RULES:
		return cmp_rule(s, a, b);
	case SNAP_NHOBJ:
		return cmp_nhobj(s, a, b);
	case SNAP_NETNS:
		return cmp_netns(a, b);
	default:
		return 0;
	}
}

struct sort_ctx {
	const struct snapshot *s;
	enum snap_table t;
};

static int qcmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;

	return canon_cmp(c->s, c->t, a, b);
}

/* A stable merge sort of record indexes with the table's comparison called directly (qsort_r
 * calls it through two pointers); the records are then moved once into their order, in place.
 * Runs of 16 are insertion-sorted first. Returns whichever of a and tmp holds the order. */
#define IDX_SORT(name, type, cmp)                                                                  \
	static uint32_t *name(const struct snapshot *s, const type *r, uint32_t *a, uint32_t *tmp, \
			      uint32_t n)                                                          \
	{                                                                                          \
		(void)s;                                                                           \
		for (uint32_t lo = 0; lo < n; lo += 16) {                                          \
			uint32_t hi = lo + 16 < n ? lo + 16 : n;                                   \
			for (uint32_t i = lo + 1; i < hi; i++) {                                   \
				uint32_t x = a[i], j = i;                                          \
				while (j > lo && cmp(&r[a[j - 1]], &r[x]) > 0) {                   \
					a[j] = a[j - 1];                                           \
					j--;                                                       \
				}                                                                  \
				a[j] = x;                                                          \
			}                                                                          \
		}                                                                                  \
		for (uint32_t w = 16; w < n; w *= 2) {                                             \
			uint32_t *sw;                                                              \
			for (uint32_t lo = 0; lo < n; lo += 2 * w) {                               \
				uint32_t mid = lo + w < n ? lo + w : n;                            \
				uint32_t hi = n - lo > 2 * w ? lo + 2 * w : n;                     \
				uint32_t i = lo, j = mid, k = lo;                                  \
				while (i < mid && j < hi)                                          \
					tmp[k++] = cmp(&r[a[j]], &r[a[i]]) < 0 ? a[j++] : a[i++];  \
				while (i < mid)                                                    \
					tmp[k++] = a[i++];                                         \
				while (j < hi)                                                     \
					tmp[k++] = a[j++];                                         \
			}                                                                          \
			sw = a;                                                                    \
			a = tmp;                                                                   \
			tmp = sw;                                                                  \
		}                                                                                  \
		return a;                                                                          \
	}

#define NEIGH_CMP(x, y) cmp_neigh((x), (y))
#define SOCK_CMP(x, y) cmp_sock(s, (x), (y))
#define ADDR_CMP(x, y) cmp_addr(s, (x), (y))
#define ROUTE_CMP(x, y) cmp_route(s, (x), (y))
IDX_SORT(sort_neigh, struct snap_neigh, NEIGH_CMP)
IDX_SORT(sort_sock, struct snap_sock, SOCK_CMP)
IDX_SORT(sort_addr, struct snap_addr, ADDR_CMP)
IDX_SORT(sort_route, struct snap_route, ROUTE_CMP)

/* Move the records into order (order[i]: the record that belongs at i) in place, a cycle at a
 * time, with one record of room: a table's own size again is never needed (a million routes are
 * 100 MiB). order ends as the identity. */
static void permute(char *base, size_t size, uint32_t *order, uint32_t n)
{
	char tmp[128];

	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;

		if (order[i] == i)
			continue;
		memcpy(tmp, base + (size_t)i * size, size);
		for (;;) {
			uint32_t k = order[j];

			order[j] = j;
			if (k == i) {
				memcpy(base + (size_t)j * size, tmp, size);
				break;
			}
			memcpy(base + (size_t)j * size, base + (size_t)k * size, size);
			j = k;
		}
	}
}

_Static_assert(sizeof(struct snap_route) <= 128 && sizeof(struct snap_neigh) <= 128 &&
		       sizeof(struct snap_sock) <= 128 && sizeof(struct snap_addr) <= 128,
	       "permute's room holds one record");

/* Sort table t through an index (8 bytes a record): false when it has no typed sort or memory ran
 * short (the caller falls back to qsort_r). */
static bool sort_typed(struct snapshot *s, enum snap_table t)
{
	struct snap_vec *v = &s->t[t];
	uint32_t *idx, *order = NULL;

	if (t != SNAP_NEIGH && t != SNAP_SOCKS && t != SNAP_ADDRS && t != SNAP_ROUTES)
		return false;
	idx = malloc((size_t)v->n * 2 * sizeof(*idx));
	if (!idx)
		return false;
	for (uint32_t i = 0; i < v->n; i++)
		idx[i] = i;
	switch (t) {
	case SNAP_NEIGH:
		order = sort_neigh(s, v->v, idx, idx + v->n, v->n);
		break;
	case SNAP_SOCKS:
		order = sort_sock(s, v->v, idx, idx + v->n, v->n);
		break;
	case SNAP_ADDRS:
		order = sort_addr(s, v->v, idx, idx + v->n, v->n);
		break;
	default:
		order = sort_route(s, v->v, idx, idx + v->n, v->n);
		break;
	}
	permute(v->v, v->size, order, v->n);
	free(idx);
	return true;
}

int canon_sort(struct snapshot *s, enum snap_table t)
{
	struct snap_vec *v = &s->t[t];
	struct sort_ctx c = { s, t };
	bool equal = false;
	uint32_t i;

	if (t == SNAP_ROUTES) { /* the largest table by far: its comparison inlined */
		const struct snap_route *rt = v->v;

		for (i = 1; i < v->n; i++) {
			int r = cmp_route(s, &rt[i - 1], &rt[i]);

			if (r > 0)
				break;
			equal |= r == 0;
		}
	} else {
		for (i = 1; i < v->n; i++) {
			int r = canon_cmp(s, t, snap_at(s, t, i - 1), snap_at(s, t, i));

			if (r > 0)
				break;
			equal |= r == 0;
		}
	}
	if (i >= v->n)
		return equal; /* already in order (the kernel's order often is) */
	if (!sort_typed(s, t))
		qsort_r(v->v, v->n, v->size, qcmp, &c);
	return 1;
}

uint32_t canon_dedup(struct snapshot *s, enum snap_table t)
{
	struct snap_vec *v = &s->t[t];
	uint32_t w = 0, removed = 0;

	for (uint32_t i = 0; i < v->n; i++) {
		if (w && canon_cmp(s, t, snap_at(s, t, w - 1), snap_at(s, t, i)) == 0) {
			removed++;
			continue;
		}
		if (w != i)
			memcpy(snap_at(s, t, w), snap_at(s, t, i), v->size);
		w++;
	}
	v->n = w;
	return removed;
}

static uint64_t hash_str(const struct snapshot *s, uint32_t off, uint64_t h)
{
	return off ? hash64(snap_s(s, off), strlen(snap_s(s, off)), h) : hash_mix(h, 0);
}

uint16_t canon_nud_class(uint16_t st)
{
	const uint16_t dynamic = 0x02 | 0x04 | 0x08 | 0x10; /* REACHABLE STALE DELAY PROBE */

	return (st & dynamic) ? (uint16_t)((st & ~dynamic) | 0x02) : st;
}

/* One record hashed by value: strings and next hops by their bytes, not their offsets. content:
 * the delta's view, where volatile fields are folded (neighbour reachability, a socket's inode, a
 * flow-keyed client's ephemeral port); otherwise every field counts (the stability check). */
static uint64_t record_hash(const struct snapshot *s, enum snap_table t, const void *r, uint64_t h,
			    bool content, bool flow)
{
	switch (t) {
	case SNAP_LINKS: {
		struct snap_link l = *(const struct snap_link *)r;

		h = hash_str(s, l.name, h);
		h = hash_str(s, l.kind, h);
		h = hash_str(s, l.alias, h);
		h = hash_str(s, l.qdisc, h);
		h = hash_str(s, l.altnames, h);
		h = hash_str(s, l.parent_dev, h);
		h = hash_str(s, l.parent_bus, h);
		h = hash_str(s, l.vlans, h);
		l.name = l.kind = l.alias = l.qdisc = l.altnames = l.parent_dev = l.parent_bus = 0;
		l.vlans = 0;
		return hash64(&l, sizeof(l), h);
	}
	case SNAP_ADDRS: {
		struct snap_addr a = *(const struct snap_addr *)r;

		h = hash_str(s, a.label, h);
		a.label = 0;
		return hash64(&a, sizeof(a), h);
	}
	case SNAP_NEIGH: {
		struct snap_neigh n = *(const struct snap_neigh *)r;

		if (content)
			n.state = canon_nud_class(n.state);
		return hash64(&n, sizeof(n), h);
	}
	case SNAP_ROUTES: {
		struct snap_route rt = *(const struct snap_route *)r;

		h = hash64((const struct snap_nexthop *)s->nh.v + rt.nh_first,
			   rt.nh_count * sizeof(struct snap_nexthop), h);
		rt.nh_first = 0;
		/* nh_id came later and is hashed only when set: routes without it keep the
		 * fingerprints they had before */
		h = hash64(&rt, offsetof(struct snap_route, nh_id), h);
		if (rt.nh_id)
			h = hash_mix(h, rt.nh_id);
		return rt.flow ? hash_mix(h, 0x666c6f77ull ^ rt.flow) : h;
	}
	case SNAP_RULES: {
		struct snap_rule ru = *(const struct snap_rule *)r;

		h = hash_str(s, ru.iifname, h);
		h = hash_str(s, ru.oifname, h);
		ru.iifname = ru.oifname = 0;
		return hash64(&ru, sizeof(ru), h);
	}
	case SNAP_NHOBJ: {
		struct snap_nhobj n = *(const struct snap_nhobj *)r;

		h = hash64((const struct snap_nexthop *)s->nh.v + n.grp_first,
			   n.grp_count * sizeof(struct snap_nexthop), h);
		n.grp_first = 0;
		return hash64(&n, sizeof(n), h);
	}
	case SNAP_SOCKS: {
		struct snap_sock k = *(const struct snap_sock *)r;

		h = hash_str(s, k.comm, h);
		k.comm = 0;
		if (content) {
			/* the inode names one socket instance; a restarted service's listener is the
			 * same listener (its new pid is the change) */
			k.inode = 0;
			if (flow)
				k.sport = 0;
		}
		return hash64(&k, sizeof(k), h);
	}
	default:
		return h;
	}
}

uint64_t canon_rule_hash(const struct snapshot *s, const struct snap_rule *r)
{
	return record_hash(s, SNAP_RULES, r, 0x72756c65ull, true, false);
}

uint64_t canon_fingerprint(const struct snapshot *s, enum snap_table t)
{
	const struct snap_vec *v = &s->t[t];
	uint64_t h = hash_mix(0x6e6574696e76ull, t);

	for (uint32_t i = 0; i < v->n; i++)
		h = record_hash(s, t, snap_at(s, t, i), h, false, false);
	return hash_mix(h, v->n);
}

/* ---- identity and content for deltas ---- */

int canon_ctx_init(struct canon_ctx *c, const struct snapshot *s, const struct canon_opts *o)
{
	const struct snap_vec *v = &s->t[SNAP_SOCKS];

	c->s = s;
	c->o = o;
	c->listening = calloc(2 * 65536 / 8, 1);
	if (!c->listening)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct snap_sock *k = snap_at(s, SNAP_SOCKS, i);
		unsigned bit;

		/* TCP LISTEN, or a UDP socket with no peer: this port serves. */
		if (!((k->proto == 6 && k->state == 10) || (k->proto == 17 && k->state == 7)))
			continue;
		bit = (k->proto == 17 ? 65536u : 0u) + k->sport;
		c->listening[bit / 8] |= (uint8_t)(1u << (bit % 8));
	}
	return 0;
}

void canon_ctx_free(struct canon_ctx *c)
{
	free(c->listening);
	c->listening = NULL;
}

bool canon_client_side(const struct canon_ctx *c, const struct snap_sock *k)
{
	unsigned bit = (k->proto == 17 ? 65536u : 0u) + k->sport;
	static const uint8_t zero[16];

	if (!memcmp(k->dst, zero, 16) && !k->dport)
		return false; /* no peer: a listener or an unconnected UDP socket */
	return !(c->listening[bit / 8] & (1u << (bit % 8)));
}

bool canon_keep(const struct canon_ctx *c, enum snap_table t, uint32_t i)
{
	const struct snap_sock *k;

	if (t == SNAP_NEIGH) {
		const struct snap_neigh *n = snap_at(c->s, SNAP_NEIGH, i);

		/* NUD_NOARP: a mapping the kernel computes (multicast, broadcast, a NOARP device),
		 * not a neighbour it learnt; proxy entries are configuration and stay */
		return c->o->all_neighbors || n->proxy || !(n->state & 0x40);
	}
	if (t != SNAP_SOCKS)
		return true;
	k = snap_at(c->s, SNAP_SOCKS, i);
	/* TIME_WAIT sockets are closed connections the kernel keeps for 60 s: pure churn. */
	if (k->proto == 6 && k->state == 6 && !c->o->include_time_wait)
		return false;
	/* The agent's own connections (to its server) are not part of the host's inventory. */
	if (c->o->self_pid && k->pid == c->o->self_pid)
		return false;
	if (c->o->peer_family && k->family == c->o->peer_family && k->dport == c->o->peer_port &&
	    !memcmp(k->dst, c->o->peer_addr, 16))
		return false;
	return true;
}

static void copy_name(char dst[16], const struct snapshot *s, uint32_t ifindex)
{
	const struct snap_link *l = ifindex ? snap_link_by_index(s, ifindex) : NULL;

	memset(dst, 0, 16);
	if (l && l->name)
		strncpy(dst, snap_s(s, l->name), 15);
}

void canon_key(const struct canon_ctx *c, enum snap_table t, uint32_t i, uint8_t key[STATE_KEY_LEN])
{
	const struct snapshot *s = c->s;
	const void *r = snap_at(s, t, i);

	memset(key, 0, STATE_KEY_LEN);
	switch (t) {
	case SNAP_LINKS: {
		const struct snap_link *l = r;
		struct key_link *k = (void *)key;

		k->ifindex = l->ifindex;
		strncpy(k->name, snap_s(s, l->name), 15);
		break;
	}
	case SNAP_ADDRS:
	case SNAP_NEIGH: {
		struct key_ifaddr *k = (void *)key;

		if (t == SNAP_ADDRS) {
			const struct snap_addr *a = r;

			k->family = a->family;
			k->aux = a->prefixlen;
			k->ifindex = a->ifindex;
			memcpy(k->addr, a->addr, 16);
		} else {
			const struct snap_neigh *n = r;

			k->family = n->family;
			k->aux = n->proxy;
			k->ifindex = n->ifindex;
			memcpy(k->addr, n->dst, 16);
		}
		copy_name(k->ifname, s, k->ifindex);
		break;
	}
	case SNAP_ROUTES: {
		const struct snap_route *rt = r;
		struct key_route *k = (void *)key;

		k->family = rt->family;
		k->dst_len = rt->dst_len;
		k->tos = rt->tos;
		k->type = rt->type;
		k->table = rt->table;
		k->metric = rt->priority;
		memcpy(k->dst, rt->dst, 16);
		/* The kernel keeps several routes to one prefix apart by their next hop (IPv6 per
		 * device, IPv4 `ip route append`): a single path's device and gateway are identity. */
		if (!rt->nh_count) {
			k->oif = rt->oif;
			if (rt->gw_family) {
				memcpy(k->gw, rt->gw, 16);
				if (rt->gw_family != rt->family)
					k->family |= KEY_ROUTE_GW6;
			}
		}
		break;
	}
	case SNAP_RULES: {
		const struct snap_rule *ru = r;
		struct key_rule *k = (void *)key;

		k->family = ru->family;
		k->action = ru->action;
		k->priority = ru->priority;
		k->table = ru->table;
		k->selectors = canon_rule_hash(s, ru);
		break;
	}
	case SNAP_NHOBJ: {
		struct key_nhobj *k = (void *)key;

		k->id = ((const struct snap_nhobj *)r)->id;
		break;
	}
	case SNAP_NETNS: {
		const struct snap_netns *n = r;
		struct key_netns *k = (void *)key;

		k->table = n->table;
		k->id_type = n->id_type;
		k->id_len = n->id_len;
		memcpy(k->ident, n->ident, sizeof(k->ident));
		break;
	}
	case SNAP_SOCKS: {
		const struct snap_sock *x = r;
		struct key_sock *k = (void *)key;

		k->proto = x->proto;
		k->family = x->family;
		k->ifindex = x->ifindex;
		k->sport = x->sport;
		k->dport = x->dport;
		memcpy(k->src, x->src, 16);
		memcpy(k->dst, x->dst, 16);
		k->listener = !memcmp(x->dst, (uint8_t[16]){ 0 }, 16) && !x->dport;
		/* connection_keying=flow: a client's ephemeral port changes with every connection; the
		 * flow (local address to remote service) is what the inventory tracks. */
		if (c->o->keying == KEYING_FLOW && canon_client_side(c, x)) {
			k->flow = 1;
			k->sport = 0;
		}
		break;
	}
	default:
		break;
	}
}

void canon_fps(const struct canon_ctx *c, enum snap_table t, uint32_t i, const uint8_t *key,
	       uint64_t *id, uint64_t *content)
{
	const struct snapshot *s = c->s;
	const void *r = snap_at(s, t, i);

	*id = hash64(key, STATE_KEY_LEN, 0x6964656e74ull + t);
	if (t == SNAP_ROUTES) {
		const struct snap_route *rt = r;

		/* source-specific routes: the source prefix is identity the key has no room for */
		if (rt->src_len) {
			*id = hash_mix(*id, rt->src_len);
			*id = hash64(rt->src, 16, *id);
		}
	}
	if (t == SNAP_NETNS)
		*content = ((const struct snap_netns *)r)->content; /* made by its namespace */
	else
		*content = record_hash(s, t, r, hash_mix(0x636f6e74656e74ull, t), true,
				       t == SNAP_SOCKS && ((const struct key_sock *)key)->flow);
	if (*content == STATE_CONTENT_UNKNOWN)
		*content = 1; /* 0 is reserved: "the server may hold any version of this record" */
}
