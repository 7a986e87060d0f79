#include "rule.h"
#include "attr.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

size_t rule_request(void *buf, uint8_t family)
{
	struct fib_rule_hdr *frh = nl_request_start(buf, RTM_GETRULE, sizeof(*frh));

	frh->family = family;
	return nl_request_len(buf);
}

/* A port range: two u16, low <= high. */
static int get_ports(const struct nlattr *a, uint8_t *has, uint16_t *lo, uint16_t *hi)
{
	struct fib_rule_port_range pr;

	if (!a)
		return 0;
	if (attr_len(a) != sizeof(pr))
		return -EBADMSG;
	memcpy(&pr, attr_data(a), sizeof(pr));
	if (pr.start > pr.end)
		return -EBADMSG;
	*lo = pr.start;
	*hi = pr.end;
	*has = 1;
	return 0;
}

static int get_name(struct snapshot *s, const struct nlattr *a, uint32_t *out)
{
	const char *p;
	size_t n;
	int r;

	if (!a)
		return 0;
	if ((r = attr_get_str(a, 15, &p, &n)) < 0)
		return r;
	*out = snap_str(s, p, n);
	return 0;
}

/* The selectors and values carried as attributes. */
static int rule_attrs(struct snapshot *s, const struct nlattr *const *tb, struct snap_rule *r)
{
	int e;

	if ((e = attr_get_addr(tb[FRA_SRC], r->family, r->src)) < 0 ||
	    (e = attr_get_addr(tb[FRA_DST], r->family, r->dst)) < 0 ||
	    (e = attr_get_u32(tb[FRA_TABLE], &r->table)) < 0 ||
	    (e = attr_get_u32(tb[FRA_PRIORITY], &r->priority)) < 0 ||
	    (e = attr_get_u32(tb[FRA_FWMARK], &r->fwmark)) < 0 ||
	    (e = attr_get_u32(tb[FRA_FWMASK], &r->fwmask)) < 0 ||
	    (e = attr_get_u32(tb[FRA_GOTO], &r->goto_target)) < 0 ||
	    (e = attr_get_u32(tb[FRA_SUPPRESS_PREFIXLEN], &r->suppress_plen)) < 0 ||
	    (e = attr_get_u32(tb[FRA_SUPPRESS_IFGROUP], &r->suppress_ifgroup)) < 0 ||
	    (e = attr_get_u8(tb[FRA_L3MDEV], &r->l3mdev)) < 0 ||
	    (e = attr_get_u8(tb[FRA_PROTOCOL], &r->protocol)) < 0 ||
	    (e = attr_get_u8(tb[FRA_IP_PROTO], &r->ip_proto)) < 0 ||
	    (e = get_ports(tb[FRA_SPORT_RANGE], &r->has_sport, &r->sport_lo, &r->sport_hi)) < 0 ||
	    (e = get_ports(tb[FRA_DPORT_RANGE], &r->has_dport, &r->dport_lo, &r->dport_hi)) < 0 ||
	    (e = get_name(s, tb[FRA_IIFNAME], &r->iifname)) < 0 ||
	    (e = get_name(s, tb[FRA_OIFNAME], &r->oifname)) < 0)
		return e;
	if (tb[FRA_UID_RANGE]) {
		struct fib_rule_uid_range u;

		if (attr_len(tb[FRA_UID_RANGE]) != sizeof(u))
			return -EBADMSG;
		memcpy(&u, attr_data(tb[FRA_UID_RANGE]), sizeof(u));
		if (u.start > u.end)
			return -EBADMSG;
		r->uid_start = u.start;
		r->uid_end = u.end;
		r->has_uid = 1;
	}
	r->has_fwmark = tb[FRA_FWMARK] != NULL;
	r->has_fwmask = tb[FRA_FWMASK] != NULL;
	r->has_priority = tb[FRA_PRIORITY] != NULL;
	/* the kernel sends suppress_prefixlength -1 (and ifgroup -1) for "not set" */
	r->has_suppress_plen = tb[FRA_SUPPRESS_PREFIXLEN] && r->suppress_plen != UINT32_MAX;
	r->has_suppress_ifgroup = tb[FRA_SUPPRESS_IFGROUP] && r->suppress_ifgroup != UINT32_MAX;
	if (!r->has_suppress_plen)
		r->suppress_plen = 0;
	if (!r->has_suppress_ifgroup)
		r->suppress_ifgroup = 0;
	return 0;
}

int rule_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[FRA_MAX + 1];
	const struct fib_rule_hdr *frh;
	struct snap_rule r = { 0 }, *out;
	uint32_t str_mark = s->str_len;
	int e;

	if (nlh->nlmsg_type != RTM_NEWRULE)
		return 0;
	if ((e = attr_parse(nlh, sizeof(*frh), tb, FRA_MAX)) < 0)
		return e;
	frh = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (frh->family != AF_INET && frh->family != AF_INET6)
		return 0;
	r.family = frh->family;
	r.dst_len = frh->dst_len;
	r.src_len = frh->src_len;
	r.tos = frh->tos;
	r.action = frh->action;
	r.table = frh->table;
	r.flags = frh->flags;
	if (r.dst_len > af_addr_len(r.family) * 8 || r.src_len > af_addr_len(r.family) * 8)
		return -EBADMSG;
	if ((e = rule_attrs(s, tb, &r)) < 0) {
		s->str_len = str_mark;
		return e;
	}
	out = snap_push(s, SNAP_RULES);
	if (!out) {
		s->str_len = str_mark;
		return -errno;
	}
	*out = r;
	return 0;
}
