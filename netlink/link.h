/*
 * link: RTM_GETLINK dump request and RTM_NEWLINK parser (ifindex, name, kind, link-layer address of
 * any length, MTU, flags, operstate, master, lower link, alias).
 */
#ifndef NETINV_LINK_H
#define NETINV_LINK_H

#include <stddef.h>
#include <linux/netlink.h>

size_t link_request(void *buf);
int link_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
