/*
 * addr: RTM_GETADDR dump request and RTM_NEWADDR parser for IPv4 and IPv6 (address, prefix, scope,
 * flags, label, peer and broadcast; lifetimes are volatile and deliberately omitted).
 */
#ifndef NETINV_ADDR_H
#define NETINV_ADDR_H

#include <stddef.h>
#include <linux/netlink.h>

size_t addr_request(void *buf);
int addr_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
