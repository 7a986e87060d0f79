/*
 * nexthop: RTM_GETNEXTHOP dump request and the RTM_NEWNEXTHOP parser: nexthop objects (Linux 5.3
 * and later): id, gateway, device, blackhole, fdb, protocol, flags (onlink, dead, linkdown), and
 * for a group its type and members with their weights. A kernel without nexthop objects refuses
 * the dump, which the collector takes as an empty table.
 */
#ifndef NETINV_NEXTHOP_H
#define NETINV_NEXTHOP_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

size_t nexthop_request(void *buf);
int nexthop_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
