#include "neigh.h"
#include "attr.h"
#include "../delta/snapshot.h"
#include "../delta/canon.h"
#include "../delta/hash.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

size_t neigh_request(void *buf, bool proxy)
{
	struct ndmsg *nd = nl_request_start(buf, RTM_GETNEIGH, sizeof(*nd));

	nd->ndm_family = AF_UNSPEC;
	if (proxy)
		nd->ndm_flags = NTF_PROXY;
	return nl_request_len(buf);
}

uint64_t neigh_digest(const struct nlmsghdr *nlh, uint64_t h, bool skip_noarp)
{
	const uint8_t *p = (const uint8_t *)nlh + NLMSG_HDRLEN;
	size_t len = nlh->nlmsg_len - NLMSG_HDRLEN, from = 0;
	bool whole = len >= sizeof(struct ndmsg);
	struct ndmsg nd;

	if (whole) {
		memcpy(&nd, p, sizeof(nd));
		/* what canon_keep leaves out */
		if (skip_noarp && nlh->nlmsg_type == RTM_NEWNEIGH && (nd.ndm_state & NUD_NOARP) &&
		    !(nd.ndm_flags & NTF_PROXY))
			return h;
	}
	h = hash_mix(h, nlh->nlmsg_type);
	if (whole) {
		nd.ndm_state = canon_nud_class(nd.ndm_state);
		h = hash64(&nd, sizeof(nd), h);
		from = sizeof(nd);
	}
	return attr_digest(p, len, NLMSG_ALIGN(sizeof(struct ndmsg)), from, h, NDA_CACHEINFO, NDA_PROBES);
}

int neigh_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	const struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *nd;
	struct snap_neigh n = { 0 }, *out;
	int r;

	if (ctx->digest)
		*ctx->digest = neigh_digest(nlh, *ctx->digest, !ctx->keep_noarp && !ctx->proxy);
	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return 0;
	r = attr_parse(nlh, sizeof(*nd), tb, NDA_MAX);
	if (r < 0)
		return r;
	nd = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6)
		return 0;
	n.family = nd->ndm_family;
	n.ifindex = (uint32_t)nd->ndm_ifindex;
	n.state = nd->ndm_state;
	n.flags = nd->ndm_flags;
	n.type = nd->ndm_type;
	n.proxy = ctx->proxy || (nd->ndm_flags & NTF_PROXY);
	if (!tb[NDA_DST])
		return -EBADMSG;
	if ((r = attr_get_addr(tb[NDA_DST], n.family, n.dst)) < 0)
		return r;
	if (tb[NDA_LLADDR] && attr_len(tb[NDA_LLADDR])) {
		if ((r = attr_get_bytes(tb[NDA_LLADDR], SNAP_LLADDR_MAX, n.lladdr, &n.lladdr_len)) < 0)
			return r;
		n.has_lladdr = 1;
	}
	out = snap_put(ctx->snap, SNAP_NEIGH, &n);
	return out ? 0 : -errno;
}
