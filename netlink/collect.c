#include "collect.h"
#include "nl.h"
#include "attr.h"
#include "link.h"
#include "linkinfo.h"
#include "addr.h"
#include "neigh.h"
#include "route.h"
#include "rule.h"
#include "nexthop.h"
#include "sockdiag.h"
#include "../delta/snapshot.h"
#include "../delta/canon.h"
#include "../delta/reconcile.h"
#include "../delta/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/net_namespace.h>

struct collector {
	struct nlconn rt, sd, mon;
	bool have_mon;
	bool tcp_compat_failed;
	uint32_t changed[SNAP_NTABLES];
	bool mon_lost;
	/* route notifications kept (parsed) while a route dump's listener is drained */
	bool keep_routes;
	bool have_rev;
	struct route_events rev;
	struct collect_stats *st;
	const struct collect_opts *o;
};

/* The bind(2) mask bit of a multicast group (groups 1..32 fit the mask). */
#define GRP(g) (1u << ((g) - 1))

/* The maximum of route notifications kept from one route dump: the listener's 1 MiB buffer
 * overflows long before (a lost notification makes the dump one to retry anyway). */
#define ROUTE_EVENTS_MAX 65536
/* Datagrams of an IPv4 route dump whose seams are kept: 4M routes at ~250 a datagram. */
#define ROUTE_SEAMS_MAX 16384

static void keep_route_event(struct collector *c, const struct nlmsghdr *nlh)
{
	struct parse_ctx pc = { .snap = &c->rev.ev, .event = 1 };
	uint32_t n = c->rev.ev.t[SNAP_ROUTES].n;

	if (c->rev.unusable)
		return;
	/* an appended route shares its identity with another: not one to place by identity */
	if (nlh->nlmsg_type == RTM_NEWROUTE && (nlh->nlmsg_flags & NLM_F_APPEND)) {
		c->rev.unusable = true;
		return;
	}
	if (route_parse(nlh, &pc) < 0)
		c->rev.unusable = true;
	else if (c->rev.ev.t[SNAP_ROUTES].n != n)
		route_events_note(&c->rev, nlh->nlmsg_type == RTM_DELROUTE);
}

static int mon_classify(const struct nlmsghdr *nlh, void *arg)
{
	struct collector *c = arg;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		c->changed[SNAP_LINKS]++;
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		c->changed[SNAP_ADDRS]++;
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		c->changed[SNAP_NEIGH]++;
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		c->changed[SNAP_ROUTES]++;
		if (c->keep_routes)
			keep_route_event(c, nlh);
		break;
	case RTM_NEWRULE:
	case RTM_DELRULE:
		c->changed[SNAP_RULES]++;
		break;
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		c->changed[SNAP_NHOBJ]++;
		break;
	}
	return 0;
}

static void mon_drain(struct collector *c)
{
	if (!c->have_mon)
		return;
	/* Overflow means notifications were lost: assume every table changed. */
	if (nl_conn_drain(&c->mon, mon_classify, c) < 0)
		c->mon_lost = true;
}

/* One request of a table's dump. A kernel refusal is recorded and the rest of the table goes on;
 * a framing error resets the socket and fails the attempt. */
static int dump_one(struct nlconn *nc, void *req, enum snap_table t,
		    struct parse_ctx *pc, nl_msg_fn fn, bool *intr)
{
	struct snap_table_stats *ts = &pc->snap->st[t];
	struct nl_walk w = { 0 };
	int r;

	pc->walk = &w;
	r = nl_conn_dump(nc, req, &w, fn, pc);

	if (w.dropped) {
		if (!ts->dropped)
			ts->first_drop = (uint32_t)w.first_drop;
		ts->dropped += w.dropped;
	}
	if (w.intr)
		*intr = true;
	if (r < 0) {
		nl_conn_reopen(nc);
		return r;
	}
	if (w.kernel_error)
		return w.kernel_error;
	return 0;
}

static bool vlan_filtering_bridge(const struct snapshot *s)
{
	for (uint32_t i = 0; i < s->t[SNAP_LINKS].n; i++) {
		const struct snap_link *l = snap_at(s, SNAP_LINKS, i);

		if (l->info_kind == LINFO_BRIDGE && l->info.bridge.vlan_filtering)
			return true;
	}
	return false;
}

/* The family byte (the first of rtmsg and of ndmsg) of a message long enough to have one. */
static int msg_family(const struct nlmsghdr *nlh, size_t hdrlen)
{
	const uint8_t *p = (const uint8_t *)nlh + NLMSG_HDRLEN;

	return nlh->nlmsg_len >= NLMSG_HDRLEN + hdrlen ? p[0] : -1;
}

static int digest_route(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *pc = arg;
	int f = msg_family(nlh, sizeof(struct rtmsg));

	*pc->digest = route_digest(nlh, *pc->digest);
	/* the records route_parse makes: IPv4 and IPv6 routes, not cached clones */
	if (nlh->nlmsg_type == RTM_NEWROUTE && (f == AF_INET || f == AF_INET6) &&
	    !(((const struct rtmsg *)NLMSG_DATA(nlh))->rtm_flags & RTM_F_CLONED))
		pc->digested++;
	return 0;
}

static int digest_neigh(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *pc = arg;
	int f = msg_family(nlh, sizeof(struct ndmsg));

	*pc->digest = neigh_digest(nlh, *pc->digest, !pc->keep_noarp && !pc->proxy);
	if (nlh->nlmsg_type == RTM_NEWNEIGH && (f == AF_INET || f == AF_INET6))
		pc->digested++;
	return 0;
}

/* One attempt at table t. digest (routes, neighbours): folded over every message. records
 * non-NULL: the table is only digested, not parsed, and *records counts what parsing would have
 * kept. */
static int dump_table(struct collector *c, struct snapshot *s, enum snap_table t, bool *intr,
		      uint64_t *digest, uint32_t *records)
{
	union {
		struct nlmsghdr h;
		uint8_t b[256];
	} req;
	struct parse_ctx pc = { .snap = s, .digest = digest, .keep_noarp = c->o->all_neighbors };
	nl_msg_fn neigh_fn = records ? digest_neigh : neigh_parse;
	nl_msg_fn route_fn = records ? digest_route : route_parse;
	int r = 0;

	switch (t) {
	case SNAP_LINKS:
		link_request(&req);
		r = dump_one(&c->rt, &req, t, &pc, link_parse, intr);
		if (r < 0 || !vlan_filtering_bridge(s))
			return r;
		/* the ports' VLANs (`bridge vlan show`), only where a bridge filters by VLAN; the
		 * parser finds each port by binary search (a no-op when the kernel's order held) */
		canon_sort(s, SNAP_LINKS);
		bridge_vlan_request(&req);
		r = dump_one(&c->rt, &req, t, &pc, bridge_vlan_parse, intr);
		return r == -EOPNOTSUPP || r == -EINVAL ? 0 : r;
	case SNAP_ADDRS:
		addr_request(&req);
		return dump_one(&c->rt, &req, t, &pc, addr_parse, intr);
	case SNAP_NEIGH:
		neigh_request(&req, false);
		r = dump_one(&c->rt, &req, t, &pc, neigh_fn, intr);
		if (r < 0)
			return r;
		pc.proxy = 1;
		neigh_request(&req, true);
		r = dump_one(&c->rt, &req, t, &pc, neigh_fn, intr);
		if (records)
			*records = pc.digested;
		/* Kernels built without proxy support refuse the request; that is an empty table. */
		return r == -EOPNOTSUPP || r == -EINVAL ? 0 : r;
	case SNAP_ROUTES:
		pc.seams = c->keep_routes ? &c->rev.seams : NULL;
		route_request(&req, AF_INET);
		r = dump_one(&c->rt, &req, t, &pc, route_fn, intr);
		if (r < 0)
			return r;
		route_request(&req, AF_INET6);
		r = dump_one(&c->rt, &req, t, &pc, route_fn, intr);
		if (records)
			*records = pc.digested;
		if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP) {
			c->st->ipv6 = false; /* IPv6 disabled or not built */
			return 0;
		}
		return r;
	case SNAP_RULES:
		rule_request(&req, AF_INET);
		r = dump_one(&c->rt, &req, t, &pc, rule_parse, intr);
		if (r < 0)
			return r;
		rule_request(&req, AF_INET6);
		r = dump_one(&c->rt, &req, t, &pc, rule_parse, intr);
		/* IPv6 disabled, or built without policy routing: no IPv6 rules */
		return r == -EAFNOSUPPORT || r == -EOPNOTSUPP ? 0 : r;
	case SNAP_NHOBJ:
		nexthop_request(&req);
		r = dump_one(&c->rt, &req, t, &pc, nexthop_parse, intr);
		/* kernels before 5.3 have no nexthop objects: an empty table */
		return r == -EOPNOTSUPP || r == -EINVAL || r == -EAFNOSUPPORT ? 0 : r;
	case SNAP_SOCKS: {
		static const uint8_t fams[2] = { AF_INET, AF_INET6 };

		pc.proto = IPPROTO_TCP;
		if (!c->tcp_compat_failed) {
			sd_request_compat_tcp(&req);
			r = dump_one(&c->sd, &req, t, &pc, sd_parse, intr);
			if (r == 0) {
				c->st->tcp_compat = true;
			} else {
				/* A kernel without the compat request: fall back to one walk per
				 * family for the rest of the run. */
				c->tcp_compat_failed = true;
				s->t[SNAP_SOCKS].n = 0;
			}
		}
		if (c->tcp_compat_failed) {
			for (int i = 0; i < 2; i++) {
				sd_request(&req, fams[i], IPPROTO_TCP);
				r = dump_one(&c->sd, &req, t, &pc, sd_parse, intr);
				if (r < 0 && !(i == 1 && (r == -ENOENT || r == -EAFNOSUPPORT)))
					return r;
			}
		}
		pc.proto = IPPROTO_UDP;
		for (int i = 0; i < 2; i++) {
			sd_request(&req, fams[i], IPPROTO_UDP);
			r = dump_one(&c->sd, &req, t, &pc, sd_parse, intr);
			/* udp_diag is a module; without it (or without IPv6) there is nothing to list. */
			if (r < 0 && r != -ENOENT && r != -EAFNOSUPPORT)
				return r;
		}
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* The route notifications of this attempt, emptied; false when there is no listener or no
 * memory for them (the dump is then checked as the other tables are). */
static bool route_events_ready(struct collector *c)
{
	if (!c->have_mon)
		return false;
	if (!c->have_rev) {
		if (route_events_init(&c->rev, ROUTE_EVENTS_MAX, ROUTE_SEAMS_MAX) < 0) {
			route_events_free(&c->rev);
			return false;
		}
		c->have_rev = true;
	}
	route_events_reset(&c->rev);
	return true;
}

/* Can a route dump that saw changes be brought up to date from its notifications? Only an IPv4
 * dump that resumed by key (no NLM_F_DUMP_INTR: IPv6 restarts by position once its tree changes),
 * held no record twice, lost no notification, and saw no change that removes routes without
 * announcing each (a link going down, an address or a nexthop object removed). */
static bool reconcilable(const struct collector *c, bool intr, uint32_t dups)
{
	return c->have_rev && !intr && !dups && !c->mon_lost && !c->rev.unusable && !c->changed[SNAP_LINKS] &&
	       !c->changed[SNAP_ADDRS] && !c->changed[SNAP_NHOBJ];
}

/* Where table t's digest starts: the caller's seed and the table; for neighbours also every
 * link's index and name (their identities name the device). */
static uint64_t digest_start(const struct collector *c, const struct snapshot *s, enum snap_table t)
{
	uint64_t h = hash_mix(c->o->digest_seed, t);

	if (t == SNAP_NEIGH)
		for (uint32_t i = 0; i < s->t[SNAP_LINKS].n; i++) {
			const struct snap_link *l = snap_at(s, SNAP_LINKS, i);
			const char *name = snap_s(s, l->name);

			h = hash64(name, strlen(name), hash_mix(h, l->ifindex));
		}
	return h;
}

/* Table t (routes, neighbours) dumped only to be digested: true when the dump is the one the
 * acknowledged records were made from (o->same[t]) and nothing that changes the table was
 * announced while it ran. A dump that breaks off, is refused or interrupted is not the same (it
 * is then dumped again). */
static bool table_same(struct collector *c, struct snapshot *s, enum snap_table t, uint32_t *records)
{
	uint64_t digest = digest_start(c, s, t);
	uint32_t n = 0;
	bool intr = false, changed;

	mon_drain(c);
	memset(c->changed, 0, sizeof(c->changed));
	c->mon_lost = false;
	if (dump_table(c, s, t, &intr, &digest, &n) < 0)
		return false;
	mon_drain(c);
	changed = c->changed[t] || c->changed[SNAP_LINKS];
	if (t == SNAP_ROUTES)
		changed |= c->changed[SNAP_ADDRS] || c->changed[SNAP_NHOBJ];
	if (intr || c->mon_lost || changed)
		return false;
	*records = n;
	return (digest ? digest : 1) == c->o->same[t];
}

static void collect_table(struct collector *c, struct snapshot *s, enum snap_table t)
{
	struct snap_table_stats *ts = &s->st[t];
	struct snap_mark m = snap_mark(s, t);
	uint64_t prev_fp = 0, t0 = snap_mono_us();
	unsigned int max = c->o->max_attempts ? c->o->max_attempts : COLLECT_MAX_ATTEMPTS;
	bool have_prev = false;

	ts->collected = true;
	ts->digest = 0;
	ts->same_dump = false;
	if ((t == SNAP_ROUTES || t == SNAP_NEIGH) && c->o->same[t] && c->o->digest_seed && c->have_mon &&
	    table_same(c, s, t, &ts->same_count)) {
		ts->attempts = 1;
		ts->same_dump = true;
		ts->digest = c->o->same[t];
		ts->dump_us = (uint32_t)(snap_mono_us() - t0);
		return;
	}
	for (unsigned int attempt = 1; attempt <= max; attempt++) {
		bool intr = false, changed, digested;
		uint32_t dups;
		uint64_t fp, digest;
		int r;

		ts->attempts = attempt;
		ts->kernel_error = 0;
		ts->inconsistent = false;
		ts->changes_applied = ts->notifications = 0;
		if (attempt > 1) {
			snap_rewind(s, t, m);
			ts->dropped = 0;
			ts->fields_skipped = 0;
		}
		mon_drain(c); /* discard what happened before this attempt */
		memset(c->changed, 0, sizeof(c->changed));
		c->mon_lost = false;
		c->keep_routes = t == SNAP_ROUTES && route_events_ready(c);
		digested = (t == SNAP_ROUTES || t == SNAP_NEIGH) && c->o->digest_seed;
		digest = digested ? digest_start(c, s, t) : 0;
		r = dump_table(c, s, t, &intr, digested ? &digest : NULL, NULL);
		dups = canon_sort(s, t) ? canon_dedup(s, t) : 0;
		ts->duplicates = dups;
		if (r < 0 && r != -EINTR) {
			/* A refused or broken dump: keep what arrived, say so, try again. */
			ts->kernel_error = r;
			intr = true;
		}
		mon_drain(c);
		c->keep_routes = false;
		/* Without a listener (c) cannot be checked, and a clean dump is accepted as is. */
		changed = c->have_mon && t != SNAP_SOCKS && (c->mon_lost || c->changed[t]);
		if (!intr && !dups && !changed) {
			/* the records are what the bytes say: the digest stands for them */
			if (digested && !ts->dropped && !ts->fields_skipped && !ts->truncated && !s->oom)
				ts->digest = digest ? digest : 1;
			break;
		}
		if (t == SNAP_ROUTES && reconcilable(c, intr, dups)) {
			int a = reconcile_routes(s, &c->rev);

			if (a >= 0) {
				ts->changes_applied = (uint32_t)a;
				ts->notifications = c->changed[SNAP_ROUTES];
				break;
			}
		}
		/* Only an attempt that saw changes needs its fingerprint (for the next comparison). */
		fp = canon_fingerprint(s, t);
		if (!intr && !dups && have_prev && fp == prev_fp)
			break;
		prev_fp = fp;
		have_prev = !intr && !dups;
		if (attempt == max)
			ts->inconsistent = true;
	}
	ts->dump_us = (uint32_t)(snap_mono_us() - t0);
}

int collect_open(struct collect_socks *k, unsigned int tables)
{
	int r;

	memset(k, 0, sizeof(*k));
	r = nl_conn_open(&k->rt, NETLINK_ROUTE, 0);
	if (r < 0)
		return r;
	nl_conn_strict(&k->rt);
	if (tables & (1u << SNAP_SOCKS)) {
		r = nl_conn_open(&k->sd, NETLINK_SOCK_DIAG, 0);
		if (r < 0) {
			nl_conn_close(&k->rt);
			return r;
		}
		k->have_sd = true;
	}
	if (nl_conn_open(&k->mon, NETLINK_ROUTE,
			 RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
				 RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | GRP(RTNLGRP_IPV4_RULE) |
				 GRP(RTNLGRP_IPV6_RULE) | GRP(RTNLGRP_NEXTHOP)) == 0) {
		int sz = 1 << 20;

		/* Room for a burst of notifications during a long route dump; FORCE needs
		 * CAP_NET_ADMIN, the plain option is capped by rmem_max. */
		if (setsockopt(nl_conn_fd(&k->mon), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(nl_conn_fd(&k->mon), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		k->have_mon = true;
	}
	return 0;
}

void collect_pin(struct collect_socks *k)
{
	k->rt.pinned = k->sd.pinned = k->mon.pinned = true;
}

void collect_close(struct collect_socks *k)
{
	if (k->rt.mnl)
		nl_conn_close(&k->rt);
	if (k->have_sd)
		nl_conn_close(&k->sd);
	if (k->have_mon)
		nl_conn_close(&k->mon);
	memset(k, 0, sizeof(*k));
}

int collect_run_on(struct collect_socks *k, struct snapshot *s, const struct collect_opts *o,
		   struct collect_stats *st)
{
	struct collector c = { .o = o, .st = st };
	uint64_t t0 = snap_mono_us();
	unsigned int tables = o->tables;

	memset(st, 0, sizeof(*st));
	st->ipv6 = true;
	st->proc.status = PROCMAP_DISABLED;
	if (!k->have_sd)
		tables &= ~(1u << SNAP_SOCKS);
	c.rt = k->rt;
	c.sd = k->sd;
	c.mon = k->mon;
	c.have_mon = k->have_mon;
	st->monitor = c.have_mon;

	/* Links first and always (unless they are in s already): every other table names
	 * interfaces by index. */
	if (!o->skip_links)
		collect_table(&c, s, SNAP_LINKS);
	for (int t = SNAP_ADDRS; t < SNAP_NTABLES; t++)
		if (tables & (1u << t))
			collect_table(&c, s, (enum snap_table)t);
	if (c.have_rev)
		route_events_free(&c.rev);
	/* a host socket re-opened after a framing error is the caller's to close */
	k->rt = c.rt;
	k->sd = c.sd;
	k->mon = c.mon;
	st->total_us = (uint32_t)(snap_mono_us() - t0);
	return 0;
}

static int nsid_parse(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[NETNSA_MAX + 1];
	int32_t *nsid = arg;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return 0;
	if (attr_parse(nlh, NLMSG_ALIGN(sizeof(struct rtgenmsg)), tb, NETNSA_MAX) < 0 || !tb[NETNSA_NSID] ||
	    attr_get_u32(tb[NETNSA_NSID], &v) < 0)
		return -EBADMSG;
	*nsid = (int32_t)v;
	return 0;
}

int collect_peer_nsid(struct collect_socks *k, int ns_fd, int32_t *nsid)
{
	union {
		struct nlmsghdr h;
		uint8_t b[64];
	} req;
	struct nlattr *a;
	struct nl_walk w = { 0 };
	uint32_t fd = (uint32_t)ns_fd;
	int r;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_type = RTM_GETNSID;
	req.h.nlmsg_len = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg)));
	a = (struct nlattr *)(req.b + req.h.nlmsg_len);
	a->nla_type = NETNSA_FD;
	a->nla_len = NLA_HDRLEN + sizeof(fd);
	memcpy((uint8_t *)a + NLA_HDRLEN, &fd, sizeof(fd));
	req.h.nlmsg_len += NLA_ALIGN(a->nla_len);
	*nsid = -1;
	r = nl_conn_request(&k->rt, &req.h, &w, nsid_parse, nsid);
	if (r < 0)
		return r;
	if (w.kernel_error)
		return w.kernel_error;
	return w.dropped ? -EBADMSG : 0;
}

int collect_run(struct snapshot *s, const struct collect_opts *o, struct collect_stats *st)
{
	struct collect_socks k;
	struct stat sb;
	int r = collect_open(&k, o->tables);

	if (r < 0)
		return r;
	r = collect_run_on(&k, s, o, st);
	if (stat("/proc/self/ns/net", &sb) == 0)
		st->netns_inode = sb.st_ino;
	collect_close(&k);
	return r;
}
