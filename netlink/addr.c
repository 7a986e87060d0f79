#include "addr.h"
#include "attr.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

size_t addr_request(void *buf)
{
	struct ifaddrmsg *ifa = nl_request_start(buf, RTM_GETADDR, sizeof(*ifa));

	ifa->ifa_family = AF_UNSPEC;
	return nl_request_len(buf);
}

int addr_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	struct snap_addr a = { 0 }, *out;
	uint8_t local[16] = { 0 }, address[16] = { 0 };
	const char *label = NULL;
	size_t label_len = 0;
	int r;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 0;
	r = attr_parse(nlh, sizeof(*ifa), tb, IFA_MAX);
	if (r < 0)
		return r;
	ifa = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	a.family = ifa->ifa_family;
	a.prefixlen = ifa->ifa_prefixlen;
	a.scope = ifa->ifa_scope;
	a.flags = ifa->ifa_flags;
	a.ifindex = ifa->ifa_index;
	if (a.prefixlen > af_addr_len(a.family) * 8)
		return -EBADMSG;
	if ((r = attr_get_addr(tb[IFA_LOCAL], a.family, local)) < 0 ||
	    (r = attr_get_addr(tb[IFA_ADDRESS], a.family, address)) < 0 ||
	    (r = attr_get_addr(tb[IFA_BROADCAST], a.family, a.brd)) < 0 ||
	    (r = attr_get_u32(tb[IFA_FLAGS], &a.flags)) < 0 ||
	    (r = attr_get_str(tb[IFA_LABEL], IFNAMSIZ - 1, &label, &label_len)) < 0)
		return r;
	if (!tb[IFA_LOCAL] && !tb[IFA_ADDRESS])
		return -EBADMSG;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links
	 * and equals IFA_LOCAL elsewhere (IPv6 sends only IFA_ADDRESS unless a peer is set). */
	if (tb[IFA_LOCAL]) {
		memcpy(a.addr, local, 16);
		if (tb[IFA_ADDRESS] && memcmp(local, address, 16)) {
			memcpy(a.peer, address, 16);
			a.has_peer = 1;
		}
	} else {
		memcpy(a.addr, address, 16);
	}
	a.has_brd = tb[IFA_BROADCAST] != NULL;
	out = snap_push(s, SNAP_ADDRS);
	if (!out)
		return -errno;
	a.label = label ? snap_str(s, label, label_len) : 0;
	*out = a;
	return 0;
}
