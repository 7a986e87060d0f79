/*
 * rule: RTM_GETRULE dump request for one family and the RTM_NEWRULE parser: the routing policy.
 * Priority, selectors (from, to, iif, oif, fwmark/mask, tos, uid range, ip proto, sport and dport
 * ranges, l3mdev), the action (table lookup, goto, nop, blackhole, unreachable, prohibit), table
 * (FRA_TABLE beyond 255), goto target, suppress_prefixlength and suppress_ifgroup, and who
 * installed it (FRA_PROTOCOL).
 */
#ifndef NETINV_RULE_H
#define NETINV_RULE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

size_t rule_request(void *buf, uint8_t family);
int rule_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
