/*
 * neigh: RTM_GETNEIGH dump requests (the neighbour cache, and separately the proxy entries, which
 * the kernel only returns when the request carries NTF_PROXY) and the RTM_NEWNEIGH parser for IPv4
 * ARP and IPv6 NDP entries (state, flags, link-layer address of any length).
 */
#ifndef NETINV_NEIGH_H
#define NETINV_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/netlink.h>

size_t neigh_request(void *buf, bool proxy);
int neigh_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
