#include "snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const snap_table_names[SNAP_NTABLES] = { "links",   "addresses", "neighbors", "routes",
						     "sockets", "rules",     "nexthops", "namespaces" };

/* Defaults sized for the largest hosts we expect (full BGP tables run to ~1M IPv4 routes) while
 * keeping a hostile or runaway kernel table from eating the machine. */
const struct snap_limits snap_default_limits = {
	.max = { [SNAP_LINKS] = 65536,
		 [SNAP_ADDRS] = 262144,
		 [SNAP_NEIGH] = 1048576,
		 [SNAP_ROUTES] = 4194304,
		 [SNAP_SOCKS] = 1048576,
		 [SNAP_RULES] = 65536,
		 [SNAP_NHOBJ] = 1048576,
		 [SNAP_NETNS] = 65536 },
	.max_nexthops = 4194304,
	.max_strtab = 64u << 20,
};

static const uint32_t rec_size[SNAP_NTABLES] = {
	[SNAP_LINKS] = sizeof(struct snap_link),   [SNAP_ADDRS] = sizeof(struct snap_addr),
	[SNAP_NEIGH] = sizeof(struct snap_neigh),  [SNAP_ROUTES] = sizeof(struct snap_route),
	[SNAP_SOCKS] = sizeof(struct snap_sock),   [SNAP_RULES] = sizeof(struct snap_rule),
	[SNAP_NHOBJ] = sizeof(struct snap_nhobj), [SNAP_NETNS] = sizeof(struct snap_netns),
};

int snap_init(struct snapshot *s, const struct snap_limits *lim)
{
	memset(s, 0, sizeof(*s));
	if (!lim)
		lim = &snap_default_limits;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		s->t[t].size = rec_size[t];
		s->t[t].max = lim->max[t];
	}
	s->nh.size = sizeof(struct snap_nexthop);
	s->nh.max = lim->max_nexthops;
	s->str_max = lim->max_strtab < 1 ? 1 : lim->max_strtab;
	s->str_cap = 4096 < s->str_max ? 4096 : s->str_max;
	s->str = calloc(1, s->str_cap);
	if (!s->str)
		return -ENOMEM;
	s->str_len = 1; /* offset 0 is "" */
	return 0;
}

void snap_free(struct snapshot *s)
{
	for (int t = 0; t < SNAP_NTABLES; t++)
		free(s->t[t].v);
	free(s->nh.v);
	free(s->str);
	memset(s, 0, sizeof(*s));
}

static void *vec_grow(struct snap_vec *v)
{
	void *rec;

	if (v->n >= v->max) {
		errno = ENOSPC;
		return NULL;
	}
	if (v->n == v->cap) {
		uint64_t ncap = v->cap ? (uint64_t)v->cap * 2 : 64;
		void *nv;

		if (ncap > v->max)
			ncap = v->max;
		nv = realloc(v->v, (size_t)ncap * v->size);
		if (!nv) {
			errno = ENOMEM;
			return NULL;
		}
		v->v = nv;
		v->cap = (uint32_t)ncap;
	}
	rec = (char *)v->v + (size_t)v->n * v->size;
	v->n++;
	return rec;
}

static void *vec_push(struct snap_vec *v)
{
	void *rec = vec_grow(v);

	if (rec)
		memset(rec, 0, v->size);
	return rec;
}

void *snap_push(struct snapshot *s, enum snap_table t)
{
	void *r = vec_push(&s->t[t]);

	if (!r && errno == ENOSPC)
		s->st[t].truncated = true;
	else if (!r)
		s->oom = true;
	return r;
}

void *snap_put(struct snapshot *s, enum snap_table t, const void *rec)
{
	void *r = vec_grow(&s->t[t]);

	if (!r && errno == ENOSPC)
		s->st[t].truncated = true;
	else if (!r)
		s->oom = true;
	else
		memcpy(r, rec, s->t[t].size);
	return r;
}

struct snap_nexthop *snap_push_nh(struct snapshot *s, enum snap_table t)
{
	struct snap_nexthop *r = vec_push(&s->nh);

	if (!r && errno == ENOSPC)
		s->st[t].truncated = true;
	else if (!r)
		s->oom = true;
	return r;
}

uint32_t snap_str(struct snapshot *s, const char *p, size_t len)
{
	uint32_t off;

	if (len == 0)
		return 0;
	if (len >= s->str_max || s->str_len > s->str_max - len - 1) {
		s->str_truncated = true;
		return 0;
	}
	if (s->str_len + len + 1 > s->str_cap) {
		uint64_t ncap = s->str_cap;
		char *n;

		while (ncap < (uint64_t)s->str_len + len + 1)
			ncap *= 2;
		if (ncap > s->str_max)
			ncap = s->str_max;
		n = realloc(s->str, (size_t)ncap);
		if (!n) {
			s->oom = true;
			return 0;
		}
		s->str = n;
		s->str_cap = (uint32_t)ncap;
	}
	off = s->str_len;
	memcpy(s->str + off, p, len);
	s->str[off + len] = 0;
	s->str_len += (uint32_t)len + 1;
	return off;
}

struct snap_mark snap_mark(const struct snapshot *s, enum snap_table t)
{
	return (struct snap_mark){ .n = s->t[t].n, .nh = s->nh.n, .str = s->str_len };
}

void snap_rewind(struct snapshot *s, enum snap_table t, struct snap_mark m)
{
	s->t[t].n = m.n;
	s->nh.n = m.nh;
	s->str_len = m.str;
	s->st[t].truncated = false;
}

const struct snap_link *snap_link_by_index(const struct snapshot *s, uint32_t ifindex)
{
	const struct snap_link *l = s->t[SNAP_LINKS].v;
	uint32_t lo = 0, hi = s->t[SNAP_LINKS].n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (l[mid].ifindex == ifindex)
			return &l[mid];
		if (l[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t snap_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *const procmap_status_names[] = { "disabled",      "ok",     "partial",
					     "not_permitted", "capped", "failed" };
