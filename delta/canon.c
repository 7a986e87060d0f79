#include "canon.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CMP(x, y)                                                                                  \
	do {                                                                                       \
		if ((x) != (y))                                                                    \
			return (x) < (y) ? -1 : 1;                                                 \
	} while (0)
#define CMPB(x, y, n)                                                                              \
	do {                                                                                       \
		int c_ = memcmp((x), (y), (n));                                                    \
		if (c_)                                                                            \
			return c_ < 0 ? -1 : 1;                                                    \
	} while (0)
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
	return 0;
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

int canon_sort(struct snapshot *s, enum snap_table t)
{
	struct snap_vec *v = &s->t[t];
	struct sort_ctx c = { s, t };
	uint32_t i;

	for (i = 1; i < v->n; i++)
		if (canon_cmp(s, t, snap_at(s, t, i - 1), snap_at(s, t, i)) > 0)
			break;
	if (i >= v->n)
		return 0;
	qsort_r(v->v, v->n, v->size, qcmp, &c);
	return 0;
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

uint64_t canon_fingerprint(const struct snapshot *s, enum snap_table t)
{
	const struct snap_vec *v = &s->t[t];
	uint64_t h = hash_mix(0x6e6574696e76ull, t);

	for (uint32_t i = 0; i < v->n; i++) {
		const void *r = snap_at(s, t, i);

		switch (t) {
		case SNAP_LINKS: {
			struct snap_link l = *(const struct snap_link *)r;

			h = hash_str(s, l.name, h);
			h = hash_str(s, l.kind, h);
			h = hash_str(s, l.alias, h);
			l.name = l.kind = l.alias = 0;
			h = hash64(&l, sizeof(l), h);
			break;
		}
		case SNAP_ADDRS: {
			struct snap_addr a = *(const struct snap_addr *)r;

			h = hash_str(s, a.label, h);
			a.label = 0;
			h = hash64(&a, sizeof(a), h);
			break;
		}
		case SNAP_ROUTES: {
			struct snap_route rt = *(const struct snap_route *)r;

			h = hash64((const struct snap_nexthop *)s->nh.v + rt.nh_first,
				   rt.nh_count * sizeof(struct snap_nexthop), h);
			rt.nh_first = 0;
			h = hash64(&rt, sizeof(rt), h);
			break;
		}
		case SNAP_SOCKS: {
			struct snap_sock k = *(const struct snap_sock *)r;

			h = hash_str(s, k.comm, h);
			k.comm = 0;
			h = hash64(&k, sizeof(k), h);
			break;
		}
		default:
			h = hash64(r, v->size, h);
		}
	}
	return hash_mix(h, v->n);
}
