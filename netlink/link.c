#include "link.h"
#include "attr.h"
#include "linkinfo.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#ifndef RTEXT_FILTER_SKIP_STATS
#define RTEXT_FILTER_SKIP_STATS (1 << 3)
#endif

size_t link_request_ext(void *buf, uint8_t family, uint32_t mask)
{
	struct nlmsghdr *nlh = buf;
	struct ifinfomsg *ifi = nl_request_start(buf, RTM_GETLINK, sizeof(*ifi));
	struct nlattr *a = (void *)((char *)ifi + NLMSG_ALIGN(sizeof(*ifi)));

	ifi->ifi_family = family;
	a->nla_type = IFLA_EXT_MASK;
	a->nla_len = NLA_HDRLEN + 4;
	memcpy((char *)a + NLA_HDRLEN, &mask, 4);
	nlh->nlmsg_len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*ifi)) + NLA_HDRLEN + 4;
	return nlh->nlmsg_len;
}

size_t link_request(void *buf)
{
	/* Counters are volatile and large (rtnl_link_stats64 twice per link); we never report them. */
	return link_request_ext(buf, AF_UNSPEC, RTEXT_FILTER_SKIP_STATS);
}

int link_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	const struct ifinfomsg *ifi;
	struct snap_link l = { 0 }, *out;
	const char *name = NULL, *kind = NULL, *alias = NULL;
	size_t name_len = 0, kind_len = 0, alias_len = 0;
	bool has_info = true;
	int r;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	r = attr_parse(nlh, sizeof(*ifi), tb, IFLA_MAX);
	if (r < 0)
		return r;
	ifi = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (ifi->ifi_index <= 0 || !tb[IFLA_IFNAME])
		return -EBADMSG;
	l.ifindex = (uint32_t)ifi->ifi_index;
	l.flags = ifi->ifi_flags;
	l.type = ifi->ifi_type;
	if ((r = attr_get_str(tb[IFLA_IFNAME], IFNAMSIZ - 1, &name, &name_len)) < 0 ||
	    (r = attr_get_u32(tb[IFLA_MTU], &l.mtu)) < 0 ||
	    (r = attr_get_u32(tb[IFLA_MASTER], &l.master)) < 0 ||
	    (r = attr_get_u32(tb[IFLA_LINK], &l.link)) < 0 ||
	    (r = attr_get_u8(tb[IFLA_OPERSTATE], &l.operstate)) < 0 ||
	    (r = attr_get_str(tb[IFLA_IFALIAS], 255, &alias, &alias_len)) < 0)
		return r;
	if (name_len == 0)
		return -EBADMSG;
	/* Link-layer addresses come in any length (6 Ethernet, 20 InfiniBand, 4/16 for tunnels, 0 for
	 * none); an empty attribute is simply "no address". */
	if (tb[IFLA_ADDRESS] && attr_len(tb[IFLA_ADDRESS]) &&
	    (r = attr_get_bytes(tb[IFLA_ADDRESS], SNAP_LLADDR_MAX, l.addr, &l.addr_len)) < 0)
		return r;
	if (tb[IFLA_BROADCAST] && attr_len(tb[IFLA_BROADCAST]) &&
	    (r = attr_get_bytes(tb[IFLA_BROADCAST], SNAP_LLADDR_MAX, l.brd, &l.brd_len)) < 0)
		return r;
	/* what the link is: optional detail, so a malformed part is left out and counted */
	if (tb[IFLA_LINKINFO] && attr_parse_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX) < 0) {
		s->st[SNAP_LINKS].fields_skipped++;
		has_info = false;
	}
	if (has_info && tb[IFLA_LINKINFO] &&
	    attr_get_str(li[IFLA_INFO_KIND], 63, &kind, &kind_len) < 0) {
		s->st[SNAP_LINKS].fields_skipped++;
		kind = NULL;
	}
	out = snap_push(s, SNAP_LINKS);
	if (!out)
		return -errno;
	s->st[SNAP_LINKS].fields_skipped +=
		linkinfo_parse(s, tb, has_info && tb[IFLA_LINKINFO] ? li : NULL, &l);
	l.name = snap_str(s, name, name_len);
	l.kind = kind ? snap_str(s, kind, kind_len) : 0;
	l.alias = alias ? snap_str(s, alias, alias_len) : 0;
	*out = l;
	return 0;
}
