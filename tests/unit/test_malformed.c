/* Hand-made malformed messages for every parser: each is a counted drop (or a clean ignore), never a
 * crash, never a half-filled record, never a read past the message (buffers are exact-size heap
 * blocks, so ASan sees any overrun). */
#include "testutil.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"
#include "../../netlink/rule.h"
#include "../../netlink/nexthop.h"
#include "../../netlink/linkinfo.h"
#include "../../netlink/sockdiag.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>
#include <linux/fib_rules.h>
#include <linux/if_tunnel.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/nexthop.h>
#include <linux/inet_diag.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

static uint8_t B[4096];

static struct nlmsghdr *msg(uint16_t type, size_t hdrlen)
{
	struct nlmsghdr *h;

	memset(B, 0, sizeof(B));
	h = mnl_nlmsg_put_header(B);
	h->nlmsg_type = type;
	mnl_nlmsg_put_extra_header(h, hdrlen);
	return h;
}

static uint32_t total(const struct snapshot *s)
{
	uint32_t n = s->nh.n;

	for (int t = 0; t < SNAP_NTABLES; t++)
		n += s->t[t].n;
	return n;
}

static void restore(struct snapshot *s, const uint32_t *n, uint32_t nh)
{
	for (int t = 0; t < SNAP_NTABLES; t++)
		s->t[t].n = n[t];
	s->nh.n = nh;
}

/* Parse one message directly, then again through the walker: both must agree, a rejected message
 * must leave the snapshot exactly as it was and count as one drop. Returns the parser's verdict. */
static int parse1(struct nlmsghdr *h, size_t len, nl_msg_fn fn, struct snapshot *s)
{
	struct parse_ctx c = { .snap = s, .proto = IPPROTO_TCP };
	struct nl_walk w = { 0 };
	uint8_t *copy = malloc(len);
	uint32_t n[SNAP_NTABLES], nh = s->nh.n, before = total(s), direct;
	int r;

	for (int t = 0; t < SNAP_NTABLES; t++)
		n[t] = s->t[t].n;
	memcpy(copy, h, len);
	r = fn((struct nlmsghdr *)copy, &c);
	direct = total(s);
	if (r < 0)
		assert_int_equal(direct, before);
	restore(s, n, nh);
	assert_int_equal(nl_walk_buf(copy, len, &w, fn, &c), 0);
	assert_int_equal(total(s), direct);
	assert_int_equal(w.dropped, r < 0 && r != -ENOSPC ? 1 : 0);
	free(copy);
	return r;
}

static struct nlmsghdr *good_link(void)
{
	struct nlmsghdr *h = msg(RTM_NEWLINK, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);

	ifi->ifi_index = 3;
	mnl_attr_put_strz(h, IFLA_IFNAME, "eth0");
	mnl_attr_put_u32(h, IFLA_MTU, 1500);
	return h;
}

static void test_link(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	struct nlattr *a;
	uint8_t ib[20] = { 0x80, 0, 0, 0x48, 0xfe, 0x80 };

	(void)state;
	snap_init(&s, NULL);
	/* baseline: valid, with a 20-byte (InfiniBand) address and an unknown attribute */
	h = good_link();
	mnl_attr_put(h, IFLA_ADDRESS, sizeof(ib), ib);
	mnl_attr_put_u32(h, 999, 1);
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), 0);
	assert_int_equal(s.t[SNAP_LINKS].n, 1);
	assert_int_equal(((struct snap_link *)snap_at(&s, SNAP_LINKS, 0))->addr_len, 20);
	s.t[SNAP_LINKS].n = 0;

	/* no name */
	h = msg(RTM_NEWLINK, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(h))->ifi_index = 3;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* unterminated name */
	h = good_link();
	a = mnl_nlmsg_get_payload_offset(h, sizeof(struct ifinfomsg));
	((char *)mnl_attr_get_payload(a))[4] = 'X';
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* name longer than IFNAMSIZ-1 */
	h = msg(RTM_NEWLINK, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(h))->ifi_index = 3;
	mnl_attr_put_strz(h, IFLA_IFNAME, "a-very-long-interface-name");
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* MTU of the wrong width */
	h = good_link();
	mnl_attr_put_u16(h, IFLA_MTU, 1500);
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* link-layer address longer than MAX_ADDR_LEN */
	h = good_link();
	{
		uint8_t big[33] = { 0 };

		mnl_attr_put(h, IFLA_ADDRESS, sizeof(big), big);
	}
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* attribute length past the end of the message */
	h = good_link();
	a = mnl_nlmsg_get_payload_offset(h, sizeof(struct ifinfomsg));
	a->nla_len = 200;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* attribute length below the attribute header */
	h = good_link();
	a = mnl_nlmsg_get_payload_offset(h, sizeof(struct ifinfomsg));
	a->nla_len = 2;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* message shorter than its family header */
	h = msg(RTM_NEWLINK, 4);
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* ifindex 0 */
	h = good_link();
	((struct ifinfomsg *)mnl_nlmsg_get_payload(h))->ifi_index = 0;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), -EBADMSG);
	/* a malformed IFLA_LINKINFO nest: what the link is is optional detail, so the link is kept
	 * without it and the skipped field counted (issue 12: never a dropped link) */
	h = good_link();
	{
		struct nlattr *n = mnl_attr_nest_start(h, IFLA_LINKINFO);

		mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
		mnl_attr_nest_end(h, n);
		((struct nlattr *)mnl_attr_get_payload(n))->nla_len = 60;
	}
	s.st[SNAP_LINKS].fields_skipped = 0;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), 0);
	assert_int_equal(s.t[SNAP_LINKS].n, 1);
	assert_int_equal(((struct snap_link *)snap_at(&s, SNAP_LINKS, 0))->kind, 0);
	assert_int_equal(s.st[SNAP_LINKS].fields_skipped, 2); /* once direct, once through the walker */
	s.t[SNAP_LINKS].n = 0;
	/* other message types are ignored, not dropped */
	h = good_link();
	h->nlmsg_type = RTM_DELLINK;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, &s), 0);
	assert_int_equal(s.t[SNAP_LINKS].n, 0);
	snap_free(&s);
}

/* A link of kind `kind` with IFLA_INFO_DATA filled by fill (h is the message, inside the nest). */
static struct nlmsghdr *kind_link(const char *kind, void (*fill)(struct nlmsghdr *h))
{
	struct nlmsghdr *h = good_link();
	struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO), *d;

	mnl_attr_put_strz(h, IFLA_INFO_KIND, kind);
	if (fill) {
		d = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		fill(h);
		mnl_attr_nest_end(h, d);
	}
	mnl_attr_nest_end(h, li);
	return h;
}

static void fill_vlan(struct nlmsghdr *h)
{
	mnl_attr_put_u16(h, IFLA_VLAN_ID, 100);
	mnl_attr_put_u16(h, IFLA_VLAN_PROTOCOL, htons(0x88a8));
}

static void fill_bad_vlan(struct nlmsghdr *h)
{
	mnl_attr_put_u32(h, IFLA_VLAN_ID, 100); /* u16 expected */
}

static void fill_bond(struct nlmsghdr *h)
{
	mnl_attr_put_u8(h, IFLA_BOND_MODE, 1);
	mnl_attr_put_u32(h, IFLA_BOND_ACTIVE_SLAVE, 3);
	mnl_attr_put_u32(h, IFLA_BOND_MIIMON, 100);
	mnl_attr_put_u8(h, IFLA_BOND_XMIT_HASH_POLICY, 1);
}

static void fill_vrf(struct nlmsghdr *h)
{
	mnl_attr_put_u32(h, IFLA_VRF_TABLE, 1001);
}

static void fill_gre(struct nlmsghdr *h)
{
	uint32_t l = htonl(0xc0000201), r = htonl(0xcb007101);

	mnl_attr_put(h, IFLA_GRE_LOCAL, 4, &l);
	mnl_attr_put(h, IFLA_GRE_REMOTE, 4, &r);
	mnl_attr_put_u8(h, IFLA_GRE_TTL, 64);
}

static void fill_ip6tnl(struct nlmsghdr *h)
{
	uint8_t r[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };

	mnl_attr_put(h, IFLA_IPTUN_REMOTE, 16, r);
	mnl_attr_put_u8(h, IFLA_IPTUN_TTL, 5);
}

static void fill_tun(struct nlmsghdr *h)
{
	mnl_attr_put_u8(h, IFLA_TUN_TYPE, 2 /* IFF_TAP */);
	mnl_attr_put_u32(h, IFLA_TUN_OWNER, 1000);
}

static const struct snap_link *parse_link(struct snapshot *s, struct nlmsghdr *h)
{
	s->t[SNAP_LINKS].n = 0;
	assert_int_equal(parse1(h, h->nlmsg_len, link_parse, s), 0);
	assert_int_equal(s->t[SNAP_LINKS].n, 1);
	return snap_at(s, SNAP_LINKS, 0);
}

/* The kinds this machine's kernel cannot create, built field by field from linux/if_link.h and
 * linux/if_tunnel.h: vlan, bond and a bond member, vrf, gre, ip6tnl, tap with an owner, wireguard
 * (kind only); the link's own details (permanent address, alternative names, parent device); a
 * malformed kind field is left out and counted, and the link kept. */
static void test_link_kinds(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	const struct snap_link *l;

	(void)state;
	snap_init(&s, NULL);
	l = parse_link(&s, kind_link("vlan", fill_vlan));
	assert_int_equal(l->info_kind, LINFO_VLAN);
	assert_int_equal(l->info.vlan.id, 100);
	assert_int_equal(l->info.vlan.protocol, 0x88a8);
	l = parse_link(&s, kind_link("bond", fill_bond));
	assert_int_equal(l->info_kind, LINFO_BOND);
	assert_int_equal(l->info.bond.mode, 1);
	assert_int_equal(l->info.bond.active_slave, 3);
	assert_int_equal(l->info.bond.miimon, 100);
	l = parse_link(&s, kind_link("vrf", fill_vrf));
	assert_int_equal(l->info.vrf.table, 1001);
	l = parse_link(&s, kind_link("gre", fill_gre));
	assert_int_equal(l->info_kind, LINFO_TUNNEL);
	assert_int_equal(l->info.tunnel.family, AF_INET);
	assert_int_equal(l->info.tunnel.ttl, 64);
	assert_true(l->info.tunnel.has_remote);
	assert_int_equal(l->info.tunnel.remote[0], 203);
	l = parse_link(&s, kind_link("ip6tnl", fill_ip6tnl));
	assert_int_equal(l->info.tunnel.family, AF_INET6);
	assert_false(l->info.tunnel.has_local);
	assert_int_equal(l->info.tunnel.remote[15], 9);
	l = parse_link(&s, kind_link("tun", fill_tun));
	assert_int_equal(l->info.tun.type, 2);
	assert_true(l->info.tun.has_owner);
	assert_int_equal(l->info.tun.owner, 1000);
	l = parse_link(&s, kind_link("wireguard", NULL));
	assert_int_equal(l->info_kind, LINFO_NONE);
	assert_string_equal(snap_s(&s, l->kind), "wireguard");
	/* a bond member: the slave data */
	h = good_link();
	{
		struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO), *d;

		mnl_attr_put_strz(h, IFLA_INFO_SLAVE_KIND, "bond");
		d = mnl_attr_nest_start(h, IFLA_INFO_SLAVE_DATA);
		mnl_attr_put_u8(h, IFLA_BOND_SLAVE_STATE, 1);
		mnl_attr_put_u8(h, IFLA_BOND_SLAVE_MII_STATUS, 2);
		mnl_attr_put_u32(h, IFLA_BOND_SLAVE_LINK_FAILURE_COUNT, 7);
		mnl_attr_nest_end(h, d);
		mnl_attr_nest_end(h, li);
	}
	l = parse_link(&s, h);
	assert_int_equal(l->slave_kind, LSLAVE_BOND);
	assert_int_equal(l->slave.bond.state, 1);
	assert_int_equal(l->slave.bond.link_failure_count, 7);
	/* the link's own details */
	h = good_link();
	{
		uint8_t perm[6] = { 2, 0, 0, 0, 0, 0x42 };
		struct nlattr *pl;

		mnl_attr_put(h, IFLA_PERM_ADDRESS, 6, perm);
		pl = mnl_attr_nest_start(h, IFLA_PROP_LIST);
		mnl_attr_put_strz(h, IFLA_ALT_IFNAME, "enp3s0f0");
		mnl_attr_put_strz(h, IFLA_ALT_IFNAME, "uplink-a");
		mnl_attr_nest_end(h, pl);
		mnl_attr_put_strz(h, IFLA_PARENT_DEV_NAME, "0000:03:00.0");
		mnl_attr_put_strz(h, IFLA_PARENT_DEV_BUS_NAME, "pci");
		mnl_attr_put_u32(h, IFLA_LINK_NETNSID, 4);
	}
	l = parse_link(&s, h);
	assert_int_equal(l->perm_len, 6);
	assert_int_equal(l->perm[5], 0x42);
	assert_string_equal(snap_s(&s, l->altnames), "enp3s0f0 uplink-a");
	assert_string_equal(snap_s(&s, l->parent_dev), "0000:03:00.0");
	assert_string_equal(snap_s(&s, l->parent_bus), "pci");
	assert_true(l->has_netnsid);
	assert_int_equal(l->link_netnsid, 4);
	/* malformed details: left out, counted, the link kept */
	s.st[SNAP_LINKS].fields_skipped = 0;
	l = parse_link(&s, kind_link("vlan", fill_bad_vlan));
	assert_int_equal(l->info.vlan.id, 0);
	assert_string_equal(snap_s(&s, l->kind), "vlan");
	assert_int_equal(s.st[SNAP_LINKS].fields_skipped, 2); /* direct and walker */
	h = good_link();
	mnl_attr_put(h, IFLA_QDISC, 4, "noqu"); /* no NUL */
	mnl_attr_put_u16(h, IFLA_TXQLEN, 5);	/* u32 expected */
	s.st[SNAP_LINKS].fields_skipped = 0;
	l = parse_link(&s, h);
	assert_int_equal(l->qdisc, 0);
	assert_int_equal(l->txqlen, 0);
	assert_int_equal(s.st[SNAP_LINKS].fields_skipped, 4);
	snap_free(&s);
}

static struct nlmsghdr *bridge_vlan_msg(int ifindex, const struct bridge_vlan_info *v, int n)
{
	struct nlmsghdr *h = msg(RTM_NEWLINK, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	struct nlattr *spec;

	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = ifindex;
	mnl_attr_put_strz(h, IFLA_IFNAME, "port");
	spec = mnl_attr_nest_start(h, IFLA_AF_SPEC);
	mnl_attr_put_u16(h, IFLA_BRIDGE_FLAGS, 0);
	for (int i = 0; i < n; i++)
		mnl_attr_put(h, IFLA_BRIDGE_VLAN_INFO, sizeof(v[i]), &v[i]);
	mnl_attr_nest_end(h, spec);
	return h;
}

/* The bridge VLAN view from uapi-built AF_BRIDGE messages (this kernel has no VLAN filtering):
 * a port's VLANs, ranges compressed as the kernel sends them, PVID and untagged, land on its link
 * record; a range without its end, a VID out of range or an entry of the wrong size is left out
 * and counted; a port the link dump did not see is ignored. */
static void test_bridge_vlans(void **state)
{
	struct snapshot s;
	struct snap_link *l;
	struct nlmsghdr *h;
	const struct bridge_vlan_info good[] = {
		{ BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 1 },
		{ BRIDGE_VLAN_INFO_RANGE_BEGIN, 10 },
		{ BRIDGE_VLAN_INFO_RANGE_END, 20 },
		{ 0, 30 },
	};
	const struct bridge_vlan_info open_range[] = { { BRIDGE_VLAN_INFO_RANGE_BEGIN, 10 } };
	const struct bridge_vlan_info too_big[] = { { 0, 4095 } };

	(void)state;
	snap_init(&s, NULL);
	l = snap_push(&s, SNAP_LINKS);
	l->ifindex = 5;
	h = bridge_vlan_msg(5, good, 4);
	assert_int_equal(bridge_vlan_parse(h, &(struct parse_ctx){ .snap = &s }), 0);
	l = snap_at(&s, SNAP_LINKS, 0);
	assert_string_equal(snap_s(&s, l->vlans), "1 pvid untagged,10-20,30");
	h = bridge_vlan_msg(5, open_range, 1);
	assert_int_equal(bridge_vlan_parse(h, &(struct parse_ctx){ .snap = &s }), 0);
	h = bridge_vlan_msg(5, too_big, 1);
	assert_int_equal(bridge_vlan_parse(h, &(struct parse_ctx){ .snap = &s }), 0);
	assert_int_equal(s.st[SNAP_LINKS].fields_skipped, 2);
	assert_string_equal(snap_s(&s, l->vlans), "1 pvid untagged,10-20,30"); /* kept */
	h = bridge_vlan_msg(9, good, 1); /* no such link */
	assert_int_equal(bridge_vlan_parse(h, &(struct parse_ctx){ .snap = &s }), 0);
	assert_int_equal(s.t[SNAP_LINKS].n, 1);
	{
		uint8_t buf[64];

		assert_true(bridge_vlan_request(buf) > NLMSG_HDRLEN);
		assert_int_equal(((struct ifinfomsg *)(buf + NLMSG_HDRLEN))->ifi_family, AF_BRIDGE);
	}
	snap_free(&s);
}

static struct nlmsghdr *addr_msg(uint8_t family, uint8_t plen)
{
	struct nlmsghdr *h = msg(RTM_NEWADDR, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);

	ifa->ifa_family = family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = 2;
	return h;
}

static void test_addr(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint32_t v4 = htonl(0xc0000201);

	(void)state;
	snap_init(&s, NULL);
	h = addr_msg(AF_INET, 24);
	mnl_attr_put(h, IFA_LOCAL, 4, &v4);
	mnl_attr_put_strz(h, IFA_LABEL, "eth0");
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), 0);
	assert_int_equal(s.t[SNAP_ADDRS].n, 1);
	s.t[SNAP_ADDRS].n = 0;
	/* IPv6-sized address in an IPv4 message */
	h = addr_msg(AF_INET, 24);
	mnl_attr_put(h, IFA_ADDRESS, 16, v6);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* IPv4-sized address in an IPv6 message */
	h = addr_msg(AF_INET6, 64);
	mnl_attr_put(h, IFA_ADDRESS, 4, &v4);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* prefix longer than the address */
	h = addr_msg(AF_INET, 33);
	mnl_attr_put(h, IFA_LOCAL, 4, &v4);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* no address at all */
	h = addr_msg(AF_INET6, 64);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* IFA_FLAGS of the wrong width */
	h = addr_msg(AF_INET, 24);
	mnl_attr_put(h, IFA_LOCAL, 4, &v4);
	mnl_attr_put_u8(h, IFA_FLAGS, 1);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* unterminated label */
	h = addr_msg(AF_INET, 24);
	mnl_attr_put(h, IFA_LOCAL, 4, &v4);
	mnl_attr_put(h, IFA_LABEL, 4, "eth0");
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), -EBADMSG);
	/* another family is ignored */
	h = addr_msg(AF_PACKET, 0);
	assert_int_equal(parse1(h, h->nlmsg_len, addr_parse, &s), 0);
	assert_int_equal(s.t[SNAP_ADDRS].n, 0);
	snap_free(&s);
}

static void test_neigh(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	struct ndmsg *nd;
	uint32_t v4 = htonl(0xc0000214);
	uint8_t big[33] = { 0 };

	(void)state;
	snap_init(&s, NULL);
	h = msg(RTM_NEWNEIGH, sizeof(*nd));
	nd = mnl_nlmsg_get_payload(h);
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = 2;
	assert_int_equal(parse1(h, h->nlmsg_len, neigh_parse, &s), -EBADMSG); /* no NDA_DST */
	mnl_attr_put(h, NDA_DST, 4, &v4);
	mnl_attr_put(h, NDA_LLADDR, sizeof(big), big);
	assert_int_equal(parse1(h, h->nlmsg_len, neigh_parse, &s), -EBADMSG); /* lladdr > 32 */
	h = msg(RTM_NEWNEIGH, sizeof(*nd));
	nd = mnl_nlmsg_get_payload(h);
	nd->ndm_family = AF_INET6;
	mnl_attr_put(h, NDA_DST, 4, &v4); /* 4-byte IPv6 address */
	assert_int_equal(parse1(h, h->nlmsg_len, neigh_parse, &s), -EBADMSG);
	/* an empty lladdr is "no address", not an error */
	h = msg(RTM_NEWNEIGH, sizeof(*nd));
	nd = mnl_nlmsg_get_payload(h);
	nd->ndm_family = AF_INET;
	mnl_attr_put(h, NDA_DST, 4, &v4);
	mnl_attr_put(h, NDA_LLADDR, 0, NULL);
	assert_int_equal(parse1(h, h->nlmsg_len, neigh_parse, &s), 0);
	assert_int_equal(s.t[SNAP_NEIGH].n, 1);
	assert_false(((struct snap_neigh *)snap_at(&s, SNAP_NEIGH, 0))->has_lladdr);
	snap_free(&s);
}

static struct nlmsghdr *route_msg(uint8_t family, uint8_t dst_len)
{
	struct nlmsghdr *h = msg(RTM_NEWROUTE, sizeof(struct rtmsg));
	struct rtmsg *rtm = mnl_nlmsg_get_payload(h);

	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	return h;
}

static void test_route(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	struct nlattr *mp;
	struct rtnexthop *nh;
	uint32_t gw = htonl(0xc0000201), dst = htonl(0x0a000000);

	(void)state;
	snap_init(&s, NULL);
	/* valid multipath with two hops */
	h = route_msg(AF_INET, 8);
	mnl_attr_put(h, RTA_DST, 4, &dst);
	mp = mnl_attr_nest_start(h, RTA_MULTIPATH);
	for (int i = 0; i < 2; i++) {
		nh = mnl_nlmsg_get_payload_tail(h);
		memset(nh, 0, sizeof(*nh));
		nh->rtnh_ifindex = 2 + i;
		h->nlmsg_len += RTNH_ALIGN(sizeof(*nh));
		mnl_attr_put(h, RTA_GATEWAY, 4, &gw);
		nh->rtnh_len = (unsigned short)((char *)mnl_nlmsg_get_payload_tail(h) - (char *)nh);
	}
	mnl_attr_nest_end(h, mp);
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), 0);
	assert_int_equal(s.t[SNAP_ROUTES].n, 1);
	assert_int_equal(((struct snap_route *)snap_at(&s, SNAP_ROUTES, 0))->nh_count, 2);
	assert_int_equal(s.nh.n, 2);
	/* the same with the second hop claiming more bytes than the nest holds: the whole route is
	 * dropped and the first hop's record is rolled back */
	s.t[SNAP_ROUTES].n = 0;
	s.nh.n = 0;
	nh->rtnh_len = 200;
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	assert_int_equal(s.nh.n, 0);
	/* a multipath attribute with no hop at all */
	h = route_msg(AF_INET, 8);
	mnl_attr_put(h, RTA_MULTIPATH, 0, NULL);
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* RTA_VIA whose length disagrees with its family */
	h = route_msg(AF_INET, 8);
	{
		uint8_t via[2 + 4] = { AF_INET6, 0, 1, 2, 3, 4 };

		mnl_attr_put(h, RTA_VIA, sizeof(via), via);
	}
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* RTA_VIA shorter than its family field */
	h = route_msg(AF_INET, 8);
	mnl_attr_put(h, RTA_VIA, 1, "x");
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* prefix longer than the family allows */
	h = route_msg(AF_INET6, 129);
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* table id of the wrong width */
	h = route_msg(AF_INET, 0);
	mnl_attr_put_u16(h, RTA_TABLE, 1000);
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* gateway of the wrong family size */
	h = route_msg(AF_INET, 0);
	{
		uint8_t g6[16] = { 0 };

		mnl_attr_put(h, RTA_GATEWAY, 16, g6);
	}
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), -EBADMSG);
	/* cloned IPv6 cache entries and other families are ignored */
	h = route_msg(AF_INET6, 128);
	((struct rtmsg *)mnl_nlmsg_get_payload(h))->rtm_flags = RTM_F_CLONED;
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), 0);
	h = route_msg(128 /* RTNL_FAMILY_IPMR */, 0);
	assert_int_equal(parse1(h, h->nlmsg_len, route_parse, &s), 0);
	assert_int_equal(s.t[SNAP_ROUTES].n, 0);
	snap_free(&s);
}

static void test_sockdiag(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	struct inet_diag_msg *m;

	(void)state;
	snap_init(&s, NULL);
	h = msg(SOCK_DIAG_BY_FAMILY, sizeof(*m));
	m = mnl_nlmsg_get_payload(h);
	m->idiag_family = AF_INET;
	m->idiag_state = 10;
	m->id.idiag_sport = htons(22);
	m->idiag_inode = 1234;
	assert_int_equal(parse1(h, h->nlmsg_len, sd_parse, &s), 0);
	assert_int_equal(s.t[SNAP_SOCKS].n, 1);
	assert_int_equal(((struct snap_sock *)snap_at(&s, SNAP_SOCKS, 0))->sport, 22);
	s.t[SNAP_SOCKS].n = 0;
	/* a payload shorter than inet_diag_msg */
	h = msg(SOCK_DIAG_BY_FAMILY, 20);
	assert_int_equal(parse1(h, h->nlmsg_len, sd_parse, &s), -EBADMSG);
	/* unknown family */
	h = msg(SOCK_DIAG_BY_FAMILY, sizeof(*m));
	m = mnl_nlmsg_get_payload(h);
	m->idiag_family = AF_UNIX;
	assert_int_equal(parse1(h, h->nlmsg_len, sd_parse, &s), -EBADMSG);
	/* a protocol attribute naming something that is neither TCP nor UDP */
	h = msg(SOCK_DIAG_BY_FAMILY, sizeof(*m));
	m = mnl_nlmsg_get_payload(h);
	m->idiag_family = AF_INET;
	mnl_attr_put_u8(h, INET_DIAG_PROTOCOL, IPPROTO_SCTP);
	assert_int_equal(parse1(h, h->nlmsg_len, sd_parse, &s), -EBADMSG);
	assert_int_equal(s.t[SNAP_SOCKS].n, 0);
	snap_free(&s);
}

static struct nlmsghdr *rule_msg(uint8_t family, uint8_t src_len)
{
	struct nlmsghdr *h = msg(RTM_NEWRULE, sizeof(struct fib_rule_hdr));
	struct fib_rule_hdr *f = mnl_nlmsg_get_payload(h);

	f->family = family;
	f->src_len = src_len;
	f->action = FR_ACT_TO_TBL;
	f->table = 254;
	return h;
}

/* Rules built field by field from linux/fib_rules.h: every selector read back; each malformed
 * attribute drops the rule whole (counted), and other families are ignored. */
static void test_rule(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	const struct snap_rule *r;
	uint32_t src = htonl(0x0a010000);
	struct fib_rule_uid_range uid = { 100, 200 };
	struct fib_rule_port_range dp = { 443, 443 };

	(void)state;
	snap_init(&s, NULL);
	h = rule_msg(AF_INET, 16);
	mnl_attr_put(h, FRA_SRC, 4, &src);
	mnl_attr_put_u32(h, FRA_PRIORITY, 1000);
	mnl_attr_put_u32(h, FRA_TABLE, 1000);
	mnl_attr_put_u32(h, FRA_FWMARK, 0x10);
	mnl_attr_put_u32(h, FRA_FWMASK, 0xff);
	mnl_attr_put_strz(h, FRA_IIFNAME, "eth0");
	mnl_attr_put(h, FRA_UID_RANGE, sizeof(uid), &uid);
	mnl_attr_put(h, FRA_DPORT_RANGE, sizeof(dp), &dp);
	mnl_attr_put_u8(h, FRA_IP_PROTO, 6);
	mnl_attr_put_u32(h, FRA_SUPPRESS_PREFIXLEN, 0xffffffff);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), 0);
	assert_int_equal(s.t[SNAP_RULES].n, 1);
	r = snap_at(&s, SNAP_RULES, 0);
	assert_int_equal(r->priority, 1000);
	assert_int_equal(r->table, 1000); /* FRA_TABLE beyond the header's 8 bits */
	assert_int_equal(r->src_len, 16);
	assert_memory_equal(r->src, &src, 4);
	assert_int_equal(r->fwmark, 0x10);
	assert_int_equal(r->fwmask, 0xff);
	assert_string_equal(snap_s(&s, r->iifname), "eth0");
	assert_true(r->has_uid);
	assert_int_equal(r->uid_end, 200);
	assert_int_equal(r->dport_lo, 443);
	assert_int_equal(r->ip_proto, 6);
	assert_false(r->has_suppress_plen); /* -1: not set */
	s.t[SNAP_RULES].n = 0;
	/* a uid range upside down */
	h = rule_msg(AF_INET, 0);
	uid.start = 300;
	mnl_attr_put(h, FRA_UID_RANGE, sizeof(uid), &uid);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	/* a port range of the wrong size */
	h = rule_msg(AF_INET, 0);
	mnl_attr_put(h, FRA_SPORT_RANGE, 2, &dp);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	/* an interface name without its NUL */
	h = rule_msg(AF_INET, 0);
	mnl_attr_put(h, FRA_OIFNAME, 4, "eth0");
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	/* a source longer than the family allows, and one of the wrong size */
	h = rule_msg(AF_INET, 33);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	h = rule_msg(AF_INET6, 16);
	mnl_attr_put(h, FRA_SRC, 4, &src);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	/* a priority of the wrong width */
	h = rule_msg(AF_INET, 0);
	mnl_attr_put_u16(h, FRA_PRIORITY, 7);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), -EBADMSG);
	/* other families (DECnet, MPLS) are not this inventory's */
	h = rule_msg(28 /* AF_MPLS */, 0);
	assert_int_equal(parse1(h, h->nlmsg_len, rule_parse, &s), 0);
	assert_int_equal(s.t[SNAP_RULES].n, 0);
	snap_free(&s);
}

static struct nlmsghdr *nh_msg(uint8_t family, uint32_t id)
{
	struct nlmsghdr *h = msg(RTM_NEWNEXTHOP, sizeof(struct nhmsg));

	((struct nhmsg *)mnl_nlmsg_get_payload(h))->nh_family = family;
	if (id)
		mnl_attr_put_u32(h, NHA_ID, id);
	return h;
}

/* Nexthop objects from linux/nexthop.h: a gateway, a group with weights, a blackhole; an object
 * without an id, a group of odd size or with a member id 0, a gateway of the wrong size: dropped,
 * and a dropped group leaves no member behind. */
static void test_nexthop(void **state)
{
	struct snapshot s;
	struct nlmsghdr *h;
	const struct snap_nhobj *n;
	uint32_t gw = htonl(0xc0000201);
	struct nexthop_grp g[2] = { { .id = 1, .weight = 0 }, { .id = 2, .weight = 4 } };

	(void)state;
	snap_init(&s, NULL);
	h = nh_msg(AF_INET, 1);
	mnl_attr_put_u32(h, NHA_OIF, 3);
	mnl_attr_put(h, NHA_GATEWAY, 4, &gw);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), 0);
	n = snap_at(&s, SNAP_NHOBJ, 0);
	assert_int_equal(n->id, 1);
	assert_int_equal(n->ifindex, 3);
	assert_int_equal(n->gw_family, AF_INET);
	h = nh_msg(AF_UNSPEC, 3);
	mnl_attr_put(h, NHA_GROUP, sizeof(g), g);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), 0);
	n = snap_at(&s, SNAP_NHOBJ, 1);
	assert_int_equal(n->grp_count, 2);
	assert_int_equal(((const struct snap_nexthop *)s.nh.v)[n->grp_first + 1].ifindex, 2);
	assert_int_equal(((const struct snap_nexthop *)s.nh.v)[n->grp_first + 1].weight, 4);
	h = nh_msg(AF_UNSPEC, 4);
	mnl_attr_put(h, NHA_BLACKHOLE, 0, NULL);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), 0);
	assert_true(((const struct snap_nhobj *)snap_at(&s, SNAP_NHOBJ, 2))->blackhole);
	/* no id, or id 0 */
	h = nh_msg(AF_INET, 0);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	h = nh_msg(AF_INET, 0);
	mnl_attr_put_u32(h, NHA_ID, 0);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	/* a group of odd size; a member with id 0 (after a good one: no member is left behind) */
	h = nh_msg(AF_UNSPEC, 5);
	mnl_attr_put(h, NHA_GROUP, 6, g);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	g[1].id = 0;
	h = nh_msg(AF_UNSPEC, 5);
	mnl_attr_put(h, NHA_GROUP, sizeof(g), g);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	/* a gateway of the wrong size, or without a family */
	h = nh_msg(AF_INET6, 6);
	mnl_attr_put(h, NHA_GATEWAY, 4, &gw);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	h = nh_msg(AF_UNSPEC, 6);
	mnl_attr_put(h, NHA_GATEWAY, 4, &gw);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	/* a blackhole flag with a payload */
	h = nh_msg(AF_UNSPEC, 7);
	mnl_attr_put_u32(h, NHA_BLACKHOLE, 1);
	assert_int_equal(parse1(h, h->nlmsg_len, nexthop_parse, &s), -EBADMSG);
	assert_int_equal(s.t[SNAP_NHOBJ].n, 3);
	assert_int_equal(s.nh.n, 2);
	snap_free(&s);
}

/* A table at its cap: the record is refused with -ENOSPC, the walker counts a truncation (not a
 * drop) and the snapshot says truncated. */
static void test_table_cap(void **state)
{
	struct snap_limits lim = snap_default_limits;
	struct snapshot s;
	struct parse_ctx c = { .snap = &s };
	struct nl_walk w = { 0 };
	uint8_t buf[1024];
	size_t l = 0;

	(void)state;
	lim.max[SNAP_LINKS] = 2;
	snap_init(&s, &lim);
	for (int i = 0; i < 3; i++) {
		struct nlmsghdr *h = good_link();

		memcpy(buf + l, h, h->nlmsg_len);
		l += NLMSG_ALIGN(h->nlmsg_len);
	}
	assert_int_equal(nl_walk_buf(buf, l, &w, link_parse, &c), 0);
	assert_int_equal(s.t[SNAP_LINKS].n, 2);
	assert_int_equal(w.truncated, 1);
	assert_int_equal(w.dropped, 0);
	assert_true(s.st[SNAP_LINKS].truncated);
	snap_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),	 cmocka_unit_test(test_addr),
		cmocka_unit_test(test_neigh),	 cmocka_unit_test(test_route),
		cmocka_unit_test(test_sockdiag), cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_rule),	 cmocka_unit_test(test_nexthop),
		cmocka_unit_test(test_link_kinds),	 cmocka_unit_test(test_bridge_vlans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
