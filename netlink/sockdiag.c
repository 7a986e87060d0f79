#include "sockdiag.h"
#include "attr.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

#define ALL_STATES 0xffffffffu

size_t sd_request_compat_tcp(void *buf)
{
	struct inet_diag_req *req = nl_request_start(buf, TCPDIAG_GETSOCK, sizeof(*req));

	req->idiag_family = AF_INET; /* ignored by the compat dump, which matches both */
	req->idiag_states = ALL_STATES;
	return nl_request_len(buf);
}

size_t sd_request(void *buf, uint8_t family, uint8_t proto)
{
	struct inet_diag_req_v2 *req = nl_request_start(buf, SOCK_DIAG_BY_FAMILY, sizeof(*req));

	req->sdiag_family = family;
	req->sdiag_protocol = proto;
	req->idiag_states = ALL_STATES;
	return nl_request_len(buf);
}

int sd_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	const struct nlattr *tb[INET_DIAG_MAX + 1];
	const struct inet_diag_msg *m;
	struct snap_sock k = { 0 }, *out;
	uint8_t proto = ctx->proto;
	int r;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK)
		return 0;
	r = attr_parse(nlh, sizeof(*m), tb, INET_DIAG_MAX);
	if (r < 0)
		return r;
	m = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EBADMSG;
	if ((r = attr_get_u8(tb[INET_DIAG_PROTOCOL], &proto)) < 0)
		return r;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -EBADMSG;
	k.family = m->idiag_family;
	k.proto = proto;
	k.state = m->idiag_state;
	k.sport = ntohs(m->id.idiag_sport);
	k.dport = ntohs(m->id.idiag_dport);
	k.ifindex = m->id.idiag_if;
	k.uid = m->idiag_uid;
	k.inode = m->idiag_inode;
	memcpy(k.src, m->id.idiag_src, af_addr_len(k.family));
	memcpy(k.dst, m->id.idiag_dst, af_addr_len(k.family));
	out = snap_put(ctx->snap, SNAP_SOCKS, &k);
	return out ? 0 : -errno;
}
