/*
 * linkinfo: what a link is, from the attributes of RTM_NEWLINK beyond its name and addresses: the
 * link's own details (permanent address, alternative names, carrier, MTU range, queue length,
 * qdisc, group, parent device and bus, the peer's namespace id) and, by kind, IFLA_INFO_DATA
 * (vlan, bond, bridge, vrf, vxlan, macvlan/macvtap, ipvlan, the IP tunnels, tun/tap) and
 * IFLA_INFO_SLAVE_DATA (a bond member's or a bridge port's state). Every one of these is optional:
 * a malformed one is left out and counted (fields_skipped), never a reason to drop the link.
 * Unknown kinds keep their kind name and nothing else.
 */
#ifndef NETINV_LINKINFO_H
#define NETINV_LINKINFO_H

#include <stddef.h>
#include <linux/netlink.h>

struct snapshot;
struct snap_link;

/* tb: the link's attributes, indexed up to IFLA_MAX; li: IFLA_LINKINFO's, up to IFLA_INFO_MAX
 * (NULL when absent). Fills l; returns how many fields were left out as malformed. */
unsigned linkinfo_parse(struct snapshot *s, const struct nlattr *const *tb,
			const struct nlattr *const *li, struct snap_link *l);

/* The bridge VLAN view (`bridge vlan show`): an AF_BRIDGE link dump asking for compressed VLAN
 * lists, made only when some bridge filters by VLAN; each port's list goes into its link record
 * (already collected, and sorted by ifindex: found by binary search). A malformed list is left
 * out and counted. */
size_t bridge_vlan_request(void *buf);
int bridge_vlan_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
