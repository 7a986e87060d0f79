/*
 * link: RTM_GETLINK dump request and RTM_NEWLINK parser (ifindex, name, kind, link-layer address of
 * any length, MTU, flags, operstate, master, lower link, alias; the rest in linkinfo).
 */
#ifndef NETINV_LINK_H
#define NETINV_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

size_t link_request(void *buf);
/* A link dump of one family with an IFLA_EXT_MASK (RTEXT_FILTER_*): what link_request and the
 * bridge VLAN dump both send. */
size_t link_request_ext(void *buf, uint8_t family, uint32_t mask);
int link_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
