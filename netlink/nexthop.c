#include "nexthop.h"
#include "attr.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

size_t nexthop_request(void *buf)
{
	struct nhmsg *nhm = nl_request_start(buf, RTM_GETNEXTHOP, sizeof(*nhm));

	nhm->nh_family = AF_UNSPEC;
	return nl_request_len(buf);
}

/* NHA_GROUP: an array of struct nexthop_grp; each member becomes a snap_nexthop whose ifindex is
 * the member's id. */
static int parse_group(struct snapshot *s, struct snap_nhobj *nh, const struct nlattr *a)
{
	const struct nexthop_grp *g = attr_data(a);
	size_t n = attr_len(a) / sizeof(*g);

	if (!n || attr_len(a) % sizeof(*g))
		return -EBADMSG;
	nh->grp_first = s->nh.n;
	for (size_t i = 0; i < n; i++) {
		struct nexthop_grp m;
		struct snap_nexthop *h;

		memcpy(&m, &g[i], sizeof(m));
		if (!m.id)
			return -EBADMSG;
		if (!(h = snap_push_nh(s, SNAP_NHOBJ)))
			return -errno;
		h->ifindex = m.id;
		h->weight = m.weight; /* the kernel's weight - 1, as in the message */
		nh->grp_count++;
	}
	return 0;
}

int nexthop_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[NHA_MAX + 1];
	const struct nhmsg *nhm;
	struct snap_nhobj nh = { 0 }, *out;
	uint32_t nh_mark = s->nh.n;
	int e;

	if (nlh->nlmsg_type != RTM_NEWNEXTHOP)
		return 0;
	if ((e = attr_parse(nlh, sizeof(*nhm), tb, NHA_MAX)) < 0)
		return e;
	nhm = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	nh.family = nhm->nh_family;
	nh.protocol = nhm->nh_protocol;
	nh.scope = nhm->nh_scope;
	nh.flags = nhm->nh_flags;
	if ((e = attr_get_u32(tb[NHA_ID], &nh.id)) < 0 || (e = attr_get_u32(tb[NHA_OIF], &nh.ifindex)) < 0 ||
	    (e = attr_get_u16(tb[NHA_GROUP_TYPE], &nh.group_type)) < 0)
		return e;
	if (!tb[NHA_ID] || !nh.id)
		return -EBADMSG; /* an object without an id cannot be referred to or tracked */
	if (tb[NHA_BLACKHOLE] && attr_len(tb[NHA_BLACKHOLE]))
		return -EBADMSG;
	if (tb[NHA_FDB] && attr_len(tb[NHA_FDB]))
		return -EBADMSG;
	nh.blackhole = tb[NHA_BLACKHOLE] != NULL;
	nh.fdb = tb[NHA_FDB] != NULL;
	if (tb[NHA_GATEWAY]) {
		if (nh.family != AF_INET && nh.family != AF_INET6)
			return -EBADMSG;
		if ((e = attr_get_addr(tb[NHA_GATEWAY], nh.family, nh.gw)) < 0)
			return e;
		nh.gw_family = nh.family;
	}
	if (tb[NHA_GROUP] && (e = parse_group(s, &nh, tb[NHA_GROUP])) < 0) {
		s->nh.n = nh_mark;
		return e;
	}
	out = snap_push(s, SNAP_NHOBJ);
	if (!out) {
		s->nh.n = nh_mark;
		return -errno;
	}
	*out = nh;
	return 0;
}
