/*
 * neigh: RTM_GETNEIGH dump requests (the neighbour cache, and separately the proxy entries, which
 * the kernel only returns when the request carries NTF_PROXY) and the RTM_NEWNEIGH parser for IPv4
 * ARP and IPv6 NDP entries (state, flags, link-layer address of any length).
 */
#ifndef NETINV_NEIGH_H
#define NETINV_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

size_t neigh_request(void *buf, bool proxy);
int neigh_parse(const struct nlmsghdr *nlh, void *ctx);
/* Fold one message of a neighbour dump into h: every byte after the netlink header that
 * neigh_parse could read, with the state as change detection sees it (canon_nud_class: reachable,
 * stale, delay and probe are one), and without NDA_CACHEINFO and NDA_PROBES (ages and counters
 * that move while the entry stays). skip_noarp: an entry in NUD_NOARP that is not a proxy entry
 * leaves h as it is (the pseudo-neighbours a snapshot leaves out unless all_neighbors, which the
 * kernel makes and drops as multicast comes and goes). Two dumps with equal digests differ in no
 * way a delta sees. */
uint64_t neigh_digest(const struct nlmsghdr *nlh, uint64_t h, bool skip_noarp);

#endif
