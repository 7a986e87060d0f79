#include "route.h"
#include "attr.h"
#include "../delta/snapshot.h"
#include "nl.h"
#include "../delta/reconcile.h"
#include "../delta/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>

size_t route_request(void *buf, uint8_t family)
{
	/* rtm_table 0 and no RTA_TABLE: every table. Strict mode wants every other field zero. */
	struct rtmsg *rtm = nl_request_start(buf, RTM_GETROUTE, sizeof(*rtm));

	rtm->rtm_family = family;
	return nl_request_len(buf);
}

/* RTA_VIA: a u16 family followed by an address of that family. */
static int get_via(const struct nlattr *a, uint8_t *fam, uint8_t gw[16])
{
	uint16_t f;
	size_t l;

	if (attr_len(a) < 2)
		return -EBADMSG;
	memcpy(&f, attr_data(a), 2);
	l = af_addr_len((uint8_t)f);
	if (f > 255 || !l || attr_len(a) != 2 + l)
		return -EBADMSG;
	memset(gw, 0, 16);
	memcpy(gw, (const char *)attr_data(a) + 2, l);
	*fam = (uint8_t)f;
	return 0;
}

static int parse_gateway(const struct nlattr *const *tb, uint8_t family, uint8_t *gw_family,
			 uint8_t gw[16])
{
	int r;

	if (tb[RTA_GATEWAY]) {
		if ((r = attr_get_addr(tb[RTA_GATEWAY], family, gw)) < 0)
			return r;
		*gw_family = family;
	} else if (tb[RTA_VIA]) {
		if ((r = get_via(tb[RTA_VIA], gw_family, gw)) < 0)
			return r;
	}
	return 0;
}

static int parse_multipath(struct snapshot *s, struct snap_route *rt, const struct nlattr *mp)
{
	const uint8_t *p = attr_data(mp);
	size_t len = attr_len(mp), off = 0;

	rt->nh_first = s->nh.n;
	while (off < len && len - off >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *rtnh = (const void *)(p + off);
		const struct nlattr *tb[RTA_MAX + 1];
		struct snap_nexthop *nh;
		int r;

		if (rtnh->rtnh_len < sizeof(*rtnh) || rtnh->rtnh_len > len - off)
			return -EBADMSG;
		r = attr_parse_area(p + off + RTNH_ALIGN(sizeof(*rtnh)),
				    rtnh->rtnh_len - RTNH_ALIGN(sizeof(*rtnh)), tb, RTA_MAX);
		if (r < 0)
			return r;
		nh = snap_push_nh(s, SNAP_ROUTES);
		if (!nh)
			return -errno;
		nh->ifindex = (uint32_t)rtnh->rtnh_ifindex;
		nh->weight = (uint8_t)(rtnh->rtnh_hops + 1);
		nh->flags = rtnh->rtnh_flags;
		r = parse_gateway(tb, rt->family, &nh->gw_family, nh->gw);
		if (r < 0)
			return r;
		rt->nh_count++;
		off += RTNH_ALIGN(rtnh->rtnh_len);
	}
	if (off < len && len - off >= sizeof(struct rtnexthop))
		return -EBADMSG;
	if (rt->nh_count == 0)
		return -EBADMSG;
	return 0;
}

/* The IPv4 dump resumes at the prefix it stopped in, at the index of the route it stopped at
 * within that prefix: the last prefix of a datagram is where a change can shift a route past the
 * resume point. Each is recorded (the caller's array; past its size, overflow). */
static void seam_note(struct route_seams *sm, const struct snap_route *rt, uint32_t dgram)
{
	if (sm->have_last && sm->last_dgram != dgram) {
		if (sm->n < sm->max)
			sm->v[sm->n++] = sm->last;
		else
			sm->overflow = true;
	}
	sm->last.table = rt->table;
	memcpy(sm->last.dst, rt->dst, 4);
	sm->last.dst_len = rt->dst_len;
	sm->last_dgram = dgram;
	sm->have_last = true;
}

uint64_t route_digest(const struct nlmsghdr *nlh, uint64_t h)
{
	return attr_digest((const uint8_t *)nlh + NLMSG_HDRLEN, nlh->nlmsg_len - NLMSG_HDRLEN,
			   NLMSG_ALIGN(sizeof(struct rtmsg)), 0, hash_mix(h, nlh->nlmsg_type), RTA_CACHEINFO,
			   RTA_EXPIRES);
}

int route_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	struct snap_route rt = { 0 }, *out;
	uint32_t nh_mark = s->nh.n;
	int r;

	if (ctx->digest)
		*ctx->digest = route_digest(nlh, *ctx->digest);
	if (nlh->nlmsg_type != RTM_NEWROUTE && !(ctx->event && nlh->nlmsg_type == RTM_DELROUTE))
		return 0;
	r = attr_parse(nlh, sizeof(*rtm), tb, RTA_MAX);
	if (r < 0)
		return r;
	rtm = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return 0;
	/* Cached clones (IPv6 PMTU exceptions) are per-destination state, not configuration. */
	if (rtm->rtm_flags & RTM_F_CLONED)
		return 0;
	rt.family = rtm->rtm_family;
	rt.dst_len = rtm->rtm_dst_len;
	rt.src_len = rtm->rtm_src_len;
	rt.tos = rtm->rtm_tos;
	rt.protocol = rtm->rtm_protocol;
	rt.scope = rtm->rtm_scope;
	rt.type = rtm->rtm_type;
	rt.table = rtm->rtm_table;
	rt.flags = rtm->rtm_flags;
	if (rt.dst_len > af_addr_len(rt.family) * 8 || rt.src_len > af_addr_len(rt.family) * 8)
		return -EBADMSG;
	if ((r = attr_get_u32(tb[RTA_TABLE], &rt.table)) < 0 ||
	    (r = attr_get_addr(tb[RTA_DST], rt.family, rt.dst)) < 0 ||
	    (r = attr_get_addr(tb[RTA_SRC], rt.family, rt.src)) < 0 ||
	    (r = attr_get_addr(tb[RTA_PREFSRC], rt.family, rt.prefsrc)) < 0 ||
	    (r = attr_get_u32(tb[RTA_OIF], &rt.oif)) < 0 ||
	    (r = attr_get_u32(tb[RTA_PRIORITY], &rt.priority)) < 0 ||
	    (r = attr_get_u8(tb[RTA_PREF], &rt.pref)) < 0 ||
	    (r = attr_get_u32(tb[RTA_NH_ID], &rt.nh_id)) < 0 ||
	    (r = attr_get_u32(tb[RTA_FLOW], &rt.flow)) < 0 ||
	    (r = parse_gateway(tb, rt.family, &rt.gw_family, rt.gw)) < 0)
		return r;
	if (ctx->seams && ctx->walk && rt.family == AF_INET)
		seam_note(ctx->seams, &rt, ctx->walk->datagrams);
	rt.has_prefsrc = tb[RTA_PREFSRC] != NULL;
	rt.has_pref = tb[RTA_PREF] != NULL;
	if (tb[RTA_MULTIPATH]) {
		r = parse_multipath(s, &rt, tb[RTA_MULTIPATH]);
		if (r < 0) {
			s->nh.n = nh_mark;
			return r;
		}
	}
	out = snap_put(s, SNAP_ROUTES, &rt);
	if (!out) {
		s->nh.n = nh_mark;
		return -errno;
	}
	return 0;
}
