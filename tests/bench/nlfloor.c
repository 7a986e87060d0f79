/* Benchmark helper: two floors for netinv's runs.
 *
 *   nlfloor [--no-processes] [--only-routes]         the collection floor: exactly the collection
 *       netinv --dry-run runs (the /proc walk for attribution unless --no-processes, every table
 *       with its stability checks, the attribution), stopped before any encoding;
 *   nlfloor --raw [--only-routes]                    the kernel's own dump cost: the same dump
 *       requests netinv sends, each reply only received into a 32 KiB buffer and its bytes
 *       counted (no parsing, no records, no library).
 */
#include "../../netlink/collect.h"
#include "../../netlink/procmap.h"
#include "../../netlink/attr.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"
#include "../../netlink/rule.h"
#include "../../netlink/nexthop.h"
#include "../../netlink/sockdiag.h"
#include "../../delta/snapshot.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

/* Send one dump request and count the reply's bytes up to NLMSG_DONE or an error. */
static long long raw_dump(int fd, void *req, uint32_t seq)
{
	static uint8_t buf[32768];
	struct nlmsghdr *h = req;
	long long bytes = 0;

	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = seq;
	if (send(fd, req, h->nlmsg_len, 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *m = (const void *)buf;

		if (n <= 0)
			return -1;
		bytes += n;
		/* the dump's last datagram ends in DONE (or an error) */
		for (ssize_t off = 0; off + (ssize_t)sizeof(*m) <= n && m->nlmsg_len >= sizeof(*m);
		     off += NLMSG_ALIGN(m->nlmsg_len), m = (const void *)(buf + off))
			if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR)
				return bytes;
	}
}

static int raw(bool only_routes)
{
	union {
		struct nlmsghdr h;
		uint8_t b[256];
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, rt = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int sd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	long long total = 0;
	uint32_t seq = 1;

	if (rt < 0 || sd < 0 || bind(rt, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    bind(sd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	setsockopt(rt, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
#define DUMP(fd, build)                                                                            \
	do {                                                                                       \
		memset(&req, 0, sizeof(req));                                                      \
		build;                                                                             \
		total += raw_dump(fd, &req, seq++);                                                \
	} while (0)
	DUMP(rt, link_request(&req));
	if (!only_routes) {
		DUMP(rt, addr_request(&req));
		DUMP(rt, neigh_request(&req, false));
		DUMP(rt, neigh_request(&req, true));
	}
	DUMP(rt, route_request(&req, AF_INET));
	DUMP(rt, route_request(&req, AF_INET6));
	if (!only_routes) {
		DUMP(rt, rule_request(&req, AF_INET));
		DUMP(rt, rule_request(&req, AF_INET6));
		DUMP(rt, nexthop_request(&req));
		DUMP(sd, sd_request_compat_tcp(&req));
		DUMP(sd, sd_request(&req, AF_INET, IPPROTO_UDP));
		DUMP(sd, sd_request(&req, AF_INET6, IPPROTO_UDP));
	}
	fprintf(stderr, "%lld bytes\n", total);
	close(rt);
	close(sd);
	return 0;
}

int main(int argc, char **argv)
{
	struct collect_opts o = { .tables = (1u << SNAP_NTABLES) - 1 };
	struct procmap_limits lim = { .max_procs = 1u << 20, .max_fds = 1u << 24 };
	struct procmap pm = { 0 };
	struct procmap_stats ps;
	struct collect_stats st;
	struct snapshot s;
	bool processes = true, raw_only = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-processes"))
			processes = false;
		if (!strcmp(argv[i], "--only-routes"))
			o.tables = 1u << SNAP_ROUTES;
		if (!strcmp(argv[i], "--raw"))
			raw_only = true;
	}
	if (raw_only)
		return raw(o.tables == 1u << SNAP_ROUTES);
	if (processes && (o.tables & (1u << SNAP_SOCKS)))
		procmap_walk(&pm, "/proc", &lim, PROCMAP_SOCKETS | PROCMAP_CHECK_CAPS, &ps);
	snap_init(&s, NULL);
	r = collect_run(&s, &o, &st);
	if (pm.nsock)
		procmap_attribute(&pm, &s, &ps);
	fprintf(stderr, "%u routes %u socks\n", s.t[SNAP_ROUTES].n, s.t[SNAP_SOCKS].n);
	procmap_free(&pm);
	snap_free(&s);
	return r < 0;
}
