/*
 * nlrecord: record raw netlink dump replies for the parser fixtures. Each dump goes to its own file
 * as a sequence of [u32 length][datagram] frames, exactly as the kernel sent them. Run it inside the
 * scratch namespace tests/fixtures/record.sh builds.
 */
#include "../../netlink/nl.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"
#include "../../netlink/rule.h"
#include "../../netlink/nexthop.h"
#include "../../netlink/sockdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>

static int noop(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(*(unsigned *)arg)++;
	return 0;
}

static int record(const char *dir, const char *name, int bus, void *req)
{
	struct nlconn c;
	struct nl_walk w = { 0 };
	char path[512];
	unsigned n = 0;
	int r;

	snprintf(path, sizeof(path), "%s/%s.nldump", dir, name);
	if ((r = nl_conn_open(&c, bus, 0)) < 0)
		return r;
	if (bus == NETLINK_ROUTE)
		nl_conn_strict(&c);
	c.record_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c.record_fd < 0)
		return -errno;
	r = nl_conn_dump(&c, req, &w, noop, &n);
	close(c.record_fd);
	nl_conn_close(&c);
	fprintf(stderr, "%s: %u messages, rc %d, kernel error %d\n", name, n, r, w.kernel_error);
	return r;
}

int main(int argc, char **argv)
{
	union {
		struct nlmsghdr h;
		unsigned char b[256];
	} q;
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: nlrecord DIR\n");
		return 64;
	}
	link_request(&q);
	r |= record(argv[1], "links", NETLINK_ROUTE, &q);
	addr_request(&q);
	r |= record(argv[1], "addrs", NETLINK_ROUTE, &q);
	neigh_request(&q, false);
	r |= record(argv[1], "neigh", NETLINK_ROUTE, &q);
	neigh_request(&q, true);
	r |= record(argv[1], "neigh_proxy", NETLINK_ROUTE, &q);
	route_request(&q, AF_INET);
	r |= record(argv[1], "routes4", NETLINK_ROUTE, &q);
	route_request(&q, AF_INET6);
	r |= record(argv[1], "routes6", NETLINK_ROUTE, &q);
	rule_request(&q, AF_INET);
	r |= record(argv[1], "rules4", NETLINK_ROUTE, &q);
	rule_request(&q, AF_INET6);
	r |= record(argv[1], "rules6", NETLINK_ROUTE, &q);
	nexthop_request(&q);
	r |= record(argv[1], "nexthops", NETLINK_ROUTE, &q);
	sd_request_compat_tcp(&q);
	r |= record(argv[1], "tcp", NETLINK_SOCK_DIAG, &q);
	sd_request(&q, AF_INET, IPPROTO_UDP);
	r |= record(argv[1], "udp4", NETLINK_SOCK_DIAG, &q);
	sd_request(&q, AF_INET6, IPPROTO_UDP);
	r |= record(argv[1], "udp6", NETLINK_SOCK_DIAG, &q);
	return r ? 1 : 0;
}
