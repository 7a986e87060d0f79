#include "linkinfo.h"
#include "attr.h"
#include "link.h"
#include "../delta/snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>

/* Each helper: 0 when the field was read or absent, -1 when it was malformed (and left out). */
static int str_field(struct snapshot *s, const struct nlattr *a, size_t max, uint32_t *out)
{
	const char *p;
	size_t n;

	if (!a)
		return 0;
	if (attr_get_str(a, max, &p, &n) < 0)
		return -1;
	*out = snap_str(s, p, n);
	return 0;
}

/* IFLA_PROP_LIST: the alternative names, kept as one space-separated string. */
static int altnames(struct snapshot *s, const struct nlattr *list, uint32_t *out)
{
	char joined[1024];
	size_t len = 0;
	const struct nlattr *a;
	size_t off = 0, total;

	if (!list)
		return 0;
	total = attr_len(list);
	while (off + NLA_HDRLEN <= total) {
		const char *p;
		size_t n;

		a = (const void *)((const char *)attr_data(list) + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > total - off)
			return -1;
		if ((a->nla_type & NLA_TYPE_MASK) == IFLA_ALT_IFNAME) {
			if (attr_get_str(a, 127, &p, &n) < 0 || !n || len + n + 1 >= sizeof(joined))
				return -1;
			if (len)
				joined[len++] = ' ';
			memcpy(joined + len, p, n);
			len += n;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	*out = len ? snap_str(s, joined, len) : 0;
	return 0;
}

/* An address of either family, from whichever of two attributes (v4, v6) is present. */
static int addr_pair(const struct nlattr *v4, const struct nlattr *v6, uint8_t *family,
		     uint8_t *has, uint8_t out[16])
{
	static const uint8_t zero[16];

	if (v4 && attr_get_addr(v4, AF_INET, out) == 0) {
		*family = AF_INET;
	} else if (v6 && attr_get_addr(v6, AF_INET6, out) == 0) {
		*family = AF_INET6;
	} else if (v4 || v6) {
		memset(out, 0, 16);
		return -1;
	} else {
		return 0;
	}
	*has = memcmp(out, zero, 16) != 0;
	return 0;
}

static bool kind_is(const char *kind, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(kind, *names))
			return true;
	return false;
}

static unsigned info_data(const char *kind, const struct nlattr *data, struct snap_link *l)
{
	static const char *const gre[] = { "gre", "gretap", "ip6gre", "ip6gretap", NULL };
	static const char *const iptun[] = { "ipip", "sit", "ip6tnl", NULL };
	const struct nlattr *tb[64] = { 0 };
	union snap_link_info *in = &l->info;
	unsigned bad = 0;

	if (!data)
		return 0;
	if (attr_parse_nested(data, tb, 63) < 0)
		return 1;
#define GET(fn, a, out) (bad += fn(tb[a], out) < 0)
	if (!strcmp(kind, "vlan")) {
		uint16_t proto = 0;

		l->info_kind = LINFO_VLAN;
		GET(attr_get_u16, IFLA_VLAN_ID, &in->vlan.id);
		GET(attr_get_u16, IFLA_VLAN_PROTOCOL, &proto);
		in->vlan.protocol = ntohs(proto);
	} else if (!strcmp(kind, "bond")) {
		l->info_kind = LINFO_BOND;
		GET(attr_get_u8, IFLA_BOND_MODE, &in->bond.mode);
		GET(attr_get_u32, IFLA_BOND_ACTIVE_SLAVE, &in->bond.active_slave);
		GET(attr_get_u32, IFLA_BOND_MIIMON, &in->bond.miimon);
		GET(attr_get_u8, IFLA_BOND_XMIT_HASH_POLICY, &in->bond.xmit_hash_policy);
	} else if (!strcmp(kind, "bridge")) {
		l->info_kind = LINFO_BRIDGE;
		GET(attr_get_u32, IFLA_BR_STP_STATE, &in->bridge.stp_state);
		GET(attr_get_u8, IFLA_BR_VLAN_FILTERING, &in->bridge.vlan_filtering);
		GET(attr_get_u16, IFLA_BR_VLAN_DEFAULT_PVID, &in->bridge.default_pvid);
	} else if (!strcmp(kind, "vrf")) {
		l->info_kind = LINFO_VRF;
		GET(attr_get_u32, IFLA_VRF_TABLE, &in->vrf.table);
	} else if (!strcmp(kind, "vxlan")) {
		uint16_t port = 0;
		uint8_t fam = 0;

		l->info_kind = LINFO_VXLAN;
		GET(attr_get_u32, IFLA_VXLAN_ID, &in->vxlan.vni);
		GET(attr_get_u32, IFLA_VXLAN_LINK, &in->vxlan.link);
		GET(attr_get_u16, IFLA_VXLAN_PORT, &port);
		in->vxlan.port = ntohs(port);
		bad += addr_pair(tb[IFLA_VXLAN_LOCAL], tb[IFLA_VXLAN_LOCAL6], &fam,
				 &in->vxlan.has_local, in->vxlan.local) < 0;
		bad += addr_pair(tb[IFLA_VXLAN_GROUP], tb[IFLA_VXLAN_GROUP6], &fam,
				 &in->vxlan.has_remote, in->vxlan.remote) < 0;
		in->vxlan.family = fam;
	} else if (!strcmp(kind, "macvlan") || !strcmp(kind, "macvtap")) {
		l->info_kind = LINFO_MACVLAN;
		GET(attr_get_u32, IFLA_MACVLAN_MODE, &in->macvlan.mode);
	} else if (!strcmp(kind, "ipvlan") || !strcmp(kind, "ipvtap")) {
		l->info_kind = LINFO_IPVLAN;
		GET(attr_get_u16, IFLA_IPVLAN_MODE, &in->ipvlan.mode);
	} else if (kind_is(kind, gre) || kind_is(kind, iptun)) {
		bool g = kind_is(kind, gre);
		bool six = !strncmp(kind, "ip6", 3);
		uint8_t fam = 0;

		l->info_kind = LINFO_TUNNEL;
		bad += addr_pair(six ? NULL : tb[g ? IFLA_GRE_LOCAL : IFLA_IPTUN_LOCAL],
				 six ? tb[g ? IFLA_GRE_LOCAL : IFLA_IPTUN_LOCAL] : NULL, &fam,
				 &in->tunnel.has_local, in->tunnel.local) < 0;
		bad += addr_pair(six ? NULL : tb[g ? IFLA_GRE_REMOTE : IFLA_IPTUN_REMOTE],
				 six ? tb[g ? IFLA_GRE_REMOTE : IFLA_IPTUN_REMOTE] : NULL, &fam,
				 &in->tunnel.has_remote, in->tunnel.remote) < 0;
		in->tunnel.family = fam ? fam : (six ? AF_INET6 : AF_INET);
		GET(attr_get_u8, g ? IFLA_GRE_TTL : IFLA_IPTUN_TTL, &in->tunnel.ttl);
	} else if (!strcmp(kind, "tun")) {
		l->info_kind = LINFO_TUN;
		GET(attr_get_u8, IFLA_TUN_TYPE, &in->tun.type);
		if (tb[IFLA_TUN_OWNER]) {
			in->tun.has_owner = attr_get_u32(tb[IFLA_TUN_OWNER], &in->tun.owner) == 0;
			bad += !in->tun.has_owner;
		}
	}
#undef GET
	return bad;
}

static unsigned slave_data(const char *kind, const struct nlattr *data, struct snap_link *l)
{
	const struct nlattr *tb[64] = { 0 };
	union snap_link_slave *sl = &l->slave;
	unsigned bad = 0;

	if (!data)
		return 0;
	if (attr_parse_nested(data, tb, 63) < 0)
		return 1;
	if (!strcmp(kind, "bond")) {
		l->slave_kind = LSLAVE_BOND;
		bad += attr_get_u8(tb[IFLA_BOND_SLAVE_STATE], &sl->bond.state) < 0;
		bad += attr_get_u8(tb[IFLA_BOND_SLAVE_MII_STATUS], &sl->bond.mii_status) < 0;
		bad += attr_get_u32(tb[IFLA_BOND_SLAVE_LINK_FAILURE_COUNT],
				    &sl->bond.link_failure_count) < 0;
	} else if (!strcmp(kind, "bridge")) {
		l->slave_kind = LSLAVE_BRIDGE;
		bad += attr_get_u8(tb[IFLA_BRPORT_STATE], &sl->bridge.state) < 0;
		bad += attr_get_u16(tb[IFLA_BRPORT_PRIORITY], &sl->bridge.priority) < 0;
		bad += attr_get_u32(tb[IFLA_BRPORT_COST], &sl->bridge.cost) < 0;
	}
	return bad;
}

unsigned linkinfo_parse(struct snapshot *s, const struct nlattr *const *tb,
			const struct nlattr *const *li, struct snap_link *l)
{
	unsigned bad = 0;
	int32_t nsid = 0;

	if (tb[IFLA_PERM_ADDRESS] && attr_len(tb[IFLA_PERM_ADDRESS]))
		bad += attr_get_bytes(tb[IFLA_PERM_ADDRESS], SNAP_LLADDR_MAX, l->perm,
				      &l->perm_len) < 0;
	if (tb[IFLA_CARRIER])
		l->has_carrier = attr_get_u8(tb[IFLA_CARRIER], &l->carrier) == 0;
	bad += tb[IFLA_CARRIER] && !l->has_carrier;
	bad += attr_get_u32(tb[IFLA_MIN_MTU], &l->min_mtu) < 0;
	bad += attr_get_u32(tb[IFLA_MAX_MTU], &l->max_mtu) < 0;
	bad += attr_get_u32(tb[IFLA_TXQLEN], &l->txqlen) < 0;
	bad += attr_get_u32(tb[IFLA_GROUP], &l->group) < 0;
	if (tb[IFLA_LINK_NETNSID]) {
		l->has_netnsid = attr_get_u32(tb[IFLA_LINK_NETNSID], (uint32_t *)&nsid) == 0;
		bad += !l->has_netnsid;
		l->link_netnsid = nsid;
	}
	bad += str_field(s, tb[IFLA_QDISC], 63, &l->qdisc) < 0;
	bad += str_field(s, tb[IFLA_PARENT_DEV_NAME], 127, &l->parent_dev) < 0;
	bad += str_field(s, tb[IFLA_PARENT_DEV_BUS_NAME], 63, &l->parent_bus) < 0;
	bad += altnames(s, tb[IFLA_PROP_LIST], &l->altnames) < 0;
	if (li) {
		const char *k;
		size_t n;

		if (li[IFLA_INFO_KIND] && attr_get_str(li[IFLA_INFO_KIND], 63, &k, &n) == 0)
			bad += info_data(k, li[IFLA_INFO_DATA], l);
		if (li[IFLA_INFO_SLAVE_KIND]) {
			if (attr_get_str(li[IFLA_INFO_SLAVE_KIND], 63, &k, &n) == 0)
				bad += slave_data(k, li[IFLA_INFO_SLAVE_DATA], l);
			else
				bad++;
		}
	}
	return bad;
}

size_t bridge_vlan_request(void *buf)
{
	return link_request_ext(buf, AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED | RTEXT_FILTER_SKIP_STATS);
}

/* IFLA_AF_SPEC's IFLA_BRIDGE_VLAN_INFO entries as "VID[-END][ pvid][ untagged],...". -1 when
 * malformed (an entry of the wrong size, a range without its end, a VID out of 1..4094). */
static int vlan_list(const struct nlattr *spec, char *out, size_t cap)
{
	size_t len = 0, off = 0, total = attr_len(spec);
	uint16_t begin = 0;
	bool in_range = false;

	out[0] = 0;
	while (off + NLA_HDRLEN <= total) {
		const struct nlattr *a = (const void *)((const char *)attr_data(spec) + off);
		struct bridge_vlan_info v;
		int n;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > total - off)
			return -1;
		off += NLA_ALIGN(a->nla_len);
		if ((a->nla_type & NLA_TYPE_MASK) != IFLA_BRIDGE_VLAN_INFO)
			continue;
		if (attr_len(a) != sizeof(v))
			return -1;
		memcpy(&v, attr_data(a), sizeof(v));
		if (v.vid < 1 || v.vid > 4094)
			return -1;
		if (v.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
			if (in_range)
				return -1;
			begin = v.vid;
			in_range = true;
			continue;
		}
		if (in_range != !!(v.flags & BRIDGE_VLAN_INFO_RANGE_END) || (in_range && v.vid <= begin))
			return -1;
		n = in_range ? snprintf(out + len, cap - len, "%s%u-%u", len ? "," : "", begin, v.vid)
			     : snprintf(out + len, cap - len, "%s%u", len ? "," : "", v.vid);
		if (n < 0 || (size_t)n >= cap - len)
			return -1;
		len += (size_t)n;
		n = snprintf(out + len, cap - len, "%s%s",
			     v.flags & BRIDGE_VLAN_INFO_PVID ? " pvid" : "",
			     v.flags & BRIDGE_VLAN_INFO_UNTAGGED ? " untagged" : "");
		if (n < 0 || (size_t)n >= cap - len)
			return -1;
		len += (size_t)n;
		in_range = false;
	}
	return in_range ? -1 : 0;
}

int bridge_vlan_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct parse_ctx *ctx = arg;
	struct snapshot *s = ctx->snap;
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	struct snap_link *l = NULL;
	char list[4096];
	int r;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if ((r = attr_parse(nlh, sizeof(*ifi), tb, IFLA_MAX)) < 0)
		return r;
	ifi = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (ifi->ifi_family != AF_BRIDGE || !tb[IFLA_AF_SPEC])
		return 0;
	/* the links are in ifindex order (the caller sorted them): one binary search a port, not a
	 * scan of every link */
	l = (struct snap_link *)snap_link_by_index(s, (uint32_t)ifi->ifi_index);
	if (!l)
		return 0; /* a port that appeared after the link dump: the next run has it */
	if (vlan_list(tb[IFLA_AF_SPEC], list, sizeof(list)) < 0) {
		s->st[SNAP_LINKS].fields_skipped++;
		return 0;
	}
	l->vlans = list[0] ? snap_str(s, list, strlen(list)) : 0;
	return 0;
}
