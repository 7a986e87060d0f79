/*
 * route: RTM_GETROUTE dump request for one family (all tables) and the RTM_NEWROUTE parser: table
 * (RTA_TABLE beyond 255), protocol, scope, type, metric, destination/source prefixes, gateway
 * (RTA_GATEWAY, or RTA_VIA for an IPv4 route through an IPv6 next hop), preferred source, output
 * interface, IPv6 router preference, multipath next hops and the nexthop object a route uses
 * (RTA_NH_ID; the kernel also states that object's gateway and device in the route).
 */
#ifndef NETINV_ROUTE_H
#define NETINV_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

size_t route_request(void *buf, uint8_t family);
int route_parse(const struct nlmsghdr *nlh, void *ctx);
/* Fold one message of a route dump into h: every byte after the netlink header that route_parse
 * could read, which is all of them but RTA_CACHEINFO and RTA_EXPIRES (ages and timers that move
 * while the route stays as it is). Two dumps with equal digests parse into equal tables. The
 * message need not be well formed (a malformed attribute area is hashed as it is). */
uint64_t route_digest(const struct nlmsghdr *nlh, uint64_t h);

#endif
