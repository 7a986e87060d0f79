#include "report.h"
#include "json.h"
#include "names.h"
#include "../delta/snapshot.h"
#include "../delta/diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/neighbour.h>

bool addr_unspecified(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET)
		return !memcmp(a, zero, 4);
	/* :: and ::ffff:0.0.0.0 (a v4 wildcard seen through a dual-stack socket) */
	return !memcmp(a, zero, 16) || (!memcmp(a, mapped, 12) && !memcmp(a + 12, zero, 4));
}

/* Interface name for an ifindex, or null when unknown (0, or a link that vanished mid-run). */
#define key_ifname(w, s, k, ifindex)                                                               \
	do {                                                                                       \
		json_key(w, k);                                                                    \
		ifname(w, s, ifindex);                                                             \
	} while (0)

static void ifname(struct json_w *w, const struct snapshot *s, uint32_t ifindex)
{
	const struct snap_link *l = ifindex ? snap_link_by_index(s, ifindex) : NULL;

	if (l && l->name)
		json_str(w, snap_s(s, l->name));
	else
		json_null(w);
}

/* Emit "a,b,c" as ["a","b","c"]. */
#define flag_list(w, k, csv)                                                                       \
	do {                                                                                       \
		json_key(w, k);                                                                    \
		flag_arr(w, csv);                                                                  \
	} while (0)

static void flag_arr(struct json_w *w, const char *csv)
{
	json_arr_begin(w);
	while (*csv) {
		const char *e = strchr(csv, ',');
		size_t n = e ? (size_t)(e - csv) : strlen(csv);

		if (n)
			json_lit(w, csv, n);
		csv += n + (e ? 1 : 0);
	}
	json_arr_end(w);
}

/* Budgeting a part: write a record, and take it back when it passed the budget. */
struct jsave {
	size_t len;
	bool first;
};

static inline bool part_skip(const struct report_meta *m)
{
	return m->part && m->part->more;
}

static inline void part_save(const struct json_w *w, struct jsave *sv)
{
	sv->len = w->len;
	sv->first = w->first[w->depth];
}

/* After a record: true when it is kept. */
static inline bool part_keep(struct json_w *w, const struct report_meta *m, const struct jsave *sv)
{
	if (!m->part || !m->part->budget || w->total + w->len <= m->part->budget) {
		if (m->part)
			m->part->kept++;
		return true;
	}
	w->len = sv->len;
	w->first[w->depth] = sv->first;
	m->part->more = true;
	return false;
}

static inline void part_mark(const struct report_meta *m, enum snap_table t, uint32_t i)
{
	if (m->part)
		m->part->incl[t][i] = 1;
}

/* Per-record selection of the delta (NULL: everything). */
static const uint8_t *selection(const struct report_meta *m, enum snap_table t)
{
	return m->delta ? m->delta->t[t].send : NULL;
}

static const char *family_name(uint8_t f)
{
	return f == AF_INET ? "inet" : "inet6";
}

static const char *pick(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : NULL;
}
#define PICK(names, v) pick(names, sizeof(names) / sizeof(names[0]), v)

static void key_name_or_num(struct json_w *w, const char *k, const char *name, uint64_t v)
{
	json_key(w, k);
	if (name)
		json_str(w, name);
	else
		json_u64(w, v);
}

static void key_addr(struct json_w *w, const char *k, uint8_t family, const uint8_t *a)
{
	json_key(w, k);
	json_ip(w, family, a);
}

/* IFLA_INFO_DATA as `ip -d -json link show` names it. */
static void info_data(struct json_w *w, const struct snapshot *s, const struct snap_link *l)
{
	static const char *const bond_modes[] = { "balance-rr", "active-backup", "balance-xor",
						  "broadcast", "802.3ad", "balance-tlb",
						  "balance-alb" };
	static const char *const hashes[] = { "layer2", "layer3+4", "layer2+3", "encap2+3",
					      "encap3+4", "vlan+srcmac" };
	static const char *const mv_modes[] = { [1] = "private", [2] = "vepa", [4] = "bridge",
						[8] = "passthru", [16] = "source" };
	static const char *const ipv_modes[] = { "l2", "l3", "l3s" };
	const union snap_link_info *in = &l->info;

	json_key(w, "info_data");
	json_obj_begin(w);
	switch (l->info_kind) {
	case LINFO_VLAN:
		key_str(w, "protocol", in->vlan.protocol == 0x88a8 ? "802.1ad" : "802.1Q");
		key_u64(w, "id", in->vlan.id);
		break;
	case LINFO_BOND:
		key_name_or_num(w, "mode", PICK(bond_modes, in->bond.mode), in->bond.mode);
		if (in->bond.active_slave)
			key_ifname(w, s, "active_slave", in->bond.active_slave);
		key_u64(w, "miimon", in->bond.miimon);
		key_name_or_num(w, "xmit_hash_policy", PICK(hashes, in->bond.xmit_hash_policy),
				in->bond.xmit_hash_policy);
		break;
	case LINFO_BRIDGE:
		key_u64(w, "stp_state", in->bridge.stp_state);
		key_u64(w, "vlan_filtering", in->bridge.vlan_filtering);
		key_u64(w, "vlan_default_pvid", in->bridge.default_pvid);
		break;
	case LINFO_VRF:
		key_u64(w, "table", in->vrf.table);
		break;
	case LINFO_VXLAN:
		key_u64(w, "id", in->vxlan.vni);
		if (in->vxlan.has_local)
			key_addr(w, "local", in->vxlan.family, in->vxlan.local);
		if (in->vxlan.has_remote)
			key_addr(w,
				 (in->vxlan.family == AF_INET ? in->vxlan.remote[0] >= 224 &&
								      in->vxlan.remote[0] <= 239
							      : in->vxlan.remote[0] == 0xff)
					 ? "group"
					 : "remote",
				 in->vxlan.family, in->vxlan.remote);
		if (in->vxlan.link)
			key_ifname(w, s, "link", in->vxlan.link);
		key_u64(w, "port", in->vxlan.port);
		break;
	case LINFO_MACVLAN:
		key_name_or_num(w, "mode", PICK(mv_modes, in->macvlan.mode), in->macvlan.mode);
		break;
	case LINFO_IPVLAN:
		key_name_or_num(w, "mode", PICK(ipv_modes, in->ipvlan.mode), in->ipvlan.mode);
		break;
	case LINFO_TUNNEL:
		if (in->tunnel.has_local)
			key_addr(w, "local", in->tunnel.family, in->tunnel.local);
		if (in->tunnel.has_remote)
			key_addr(w, "remote", in->tunnel.family, in->tunnel.remote);
		key_u64(w, "ttl", in->tunnel.ttl);
		break;
	case LINFO_TUN:
		key_str(w, "type", in->tun.type == 2 /* IFF_TAP */ ? "tap" : "tun");
		if (in->tun.has_owner)
			key_u64(w, "owner", in->tun.owner);
		break;
	default:
		break;
	}
	json_obj_end(w);
}

/* IFLA_INFO_SLAVE_DATA: a bond member's or a bridge port's state. */
static void slave_data(struct json_w *w, const struct snap_link *l)
{
	static const char *const br_states[] = { "disabled", "listening", "learning", "forwarding",
						 "blocking" };
	static const char *const bond_states[] = { "ACTIVE", "BACKUP" };
	static const char *const mii[] = { "UP", "GOING_DOWN", "DOWN", "GOING_BACK" };
	const union snap_link_slave *sl = &l->slave;

	key_str(w, "info_slave_kind", l->slave_kind == LSLAVE_BOND ? "bond" : "bridge");
	json_key(w, "info_slave_data");
	json_obj_begin(w);
	if (l->slave_kind == LSLAVE_BOND) {
		key_name_or_num(w, "state", PICK(bond_states, sl->bond.state), sl->bond.state);
		key_name_or_num(w, "mii_status", PICK(mii, sl->bond.mii_status), sl->bond.mii_status);
		key_u64(w, "link_failure_count", sl->bond.link_failure_count);
	} else {
		key_name_or_num(w, "state", PICK(br_states, sl->bridge.state), sl->bridge.state);
		key_u64(w, "priority", sl->bridge.priority);
		key_u64(w, "cost", sl->bridge.cost);
	}
	json_obj_end(w);
}

/* A VLAN-filtering bridge port's VLANs, as `bridge -json vlan show` lists them. */
static void port_vlans(struct json_w *w, const char *p)
{
	json_key(w, "vlans");
	json_arr_begin(w);
	while (*p) {
		unsigned long vid = strtoul(p, (char **)&p, 10), end = 0;

		json_obj_begin(w);
		key_u64(w, "vlan", vid);
		if (*p == '-') {
			end = strtoul(p + 1, (char **)&p, 10);
			key_u64(w, "vlanEnd", end);
		}
		json_key(w, "flags");
		json_arr_begin(w);
		if (!strncmp(p, " pvid", 5)) {
			json_str(w, "PVID");
			p += 5;
		}
		if (!strncmp(p, " untagged", 9)) {
			json_str(w, "Egress Untagged");
			p += 9;
		}
		json_arr_end(w);
		json_obj_end(w);
		if (*p != ',')
			break;
		p++;
	}
	json_arr_end(w);
}

/* The link's own details and what it is, named as `ip -d -json link show` names them; what the
 * kernel did not state is left out. */
static void link_details(struct json_w *w, const struct snapshot *s, const struct snap_link *l)
{
	if (l->perm_len) {
		json_key(w, "permaddr");
		json_hex(w, l->perm, l->perm_len);
	}
	if (l->altnames) {
		const char *p = snap_s(s, l->altnames);

		json_key(w, "altnames");
		json_arr_begin(w);
		while (*p) {
			size_t n = strcspn(p, " ");

			json_strn(w, p, n);
			p += n + (p[n] == ' ');
		}
		json_arr_end(w);
	}
	if (l->has_carrier) {
		json_key(w, "carrier");
		json_bool(w, l->carrier);
	}
	key_u64(w, "min_mtu", l->min_mtu);
	key_u64(w, "max_mtu", l->max_mtu);
	key_u64(w, "txqlen", l->txqlen);
	if (l->qdisc)
		key_str(w, "qdisc", snap_s(s, l->qdisc));
	key_u64(w, "group_id", l->group);
	if (l->parent_bus)
		key_str(w, "parentbus", snap_s(s, l->parent_bus));
	if (l->parent_dev)
		key_str(w, "parentdev", snap_s(s, l->parent_dev));
	if (l->link)
		key_u64(w, "link_index", l->link);
	if (l->vlans)
		port_vlans(w, snap_s(s, l->vlans));
	if (l->has_netnsid && l->link_netnsid >= 0) /* -1: the peer's namespace has no id here */
		key_u64(w, "link_netnsid", (uint64_t)l->link_netnsid);
	if (!l->kind && !l->slave_kind)
		return;
	json_key(w, "linkinfo");
	json_obj_begin(w);
	if (l->kind) {
		key_str(w, "info_kind", snap_s(s, l->kind));
		if (l->info_kind)
			info_data(w, s, l);
	}
	if (l->slave_kind)
		slave_data(w, l);
	json_obj_end(w);
}

static void write_links(struct json_w *w, const struct snapshot *s, const uint8_t *sel,
			const struct report_meta *m)
{
	const struct snap_vec *v = &s->t[SNAP_LINKS];
	char buf[256];
	struct jsave sv;

	json_key(w, "links");
	json_arr_begin(w);
	for (uint32_t i = 0; i < v->n; i++) {
		const struct snap_link *l = snap_at(s, SNAP_LINKS, i);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		part_save(w, &sv);
		json_obj_begin(w);
		key_u64(w, "ifindex", l->ifindex);
		key_str(w, "name", snap_s(s, l->name));
		json_key(w, "kind");
		if (l->kind)
			json_str(w, snap_s(s, l->kind));
		else
			json_null(w);
		key_str(w, "type", name_arphrd(l->type, buf, sizeof(buf)));
		json_key(w, "mac_address");
		json_hex(w, l->addr, l->addr_len);
		json_key(w, "broadcast");
		json_hex(w, l->brd, l->brd_len);
		key_u64(w, "mtu", l->mtu);
		flag_list(w, "flags", name_link_flags(l->flags, buf, sizeof(buf)));
		key_str(w, "operstate", name_operstate(l->operstate));
		key_ifname(w, s, "master", l->master);
		json_key(w, "alias");
		if (l->alias)
			json_str(w, snap_s(s, l->alias));
		else
			json_null(w);
		link_details(w, s, l);
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_LINKS, i);
	}
	json_arr_end(w);
}

static void write_addresses(struct json_w *w, const struct snapshot *s, bool on, const uint8_t *sel,
			    const struct report_meta *m,
			    struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_ADDRS];
	char buf[256];
	uint32_t last_flags = UINT32_MAX;
	struct jsave sv;

	json_key(w, "addresses");
	json_arr_begin(w);
	for (uint32_t i = 0; on && i < v->n; i++) {
		const struct snap_addr *a = snap_at(s, SNAP_ADDRS, i);
		const struct snap_link *l = snap_link_by_index(s, a->ifindex);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		if (addr_unspecified(a->family, a->addr)) {
			rs->addresses_unspecified++;
			part_mark(m, SNAP_ADDRS, i); /* never sent, so carried */
			continue;
		}
		part_save(w, &sv);
		json_obj_begin(w);
		json_key(w, "ip_address");
		json_ip(w, a->family, a->addr);
		key_ifname(w, s, "interface", a->ifindex);
		key_u64(w, "prefix_length", a->prefixlen);
		json_key(w, "mac_address");
		if (l && l->addr_len == 6) {
			json_hex(w, l->addr, 6);
		} else {
			if (l && l->addr_len)
				rs->mac_not_6_octets++;
			json_null(w);
		}
		key_str(w, "family", family_name(a->family));
		key_str(w, "scope", name_scope(m->names, a->scope));
		key_u64(w, "scope_id", a->scope);
		if (a->flags != last_flags) {
			name_addr_flags(a->flags, buf, sizeof(buf));
			last_flags = a->flags;
		}
		flag_list(w, "flags", buf);
		json_key(w, "label");
		if (a->label)
			json_str(w, snap_s(s, a->label));
		else
			json_null(w);
		json_key(w, "peer");
		if (a->has_peer)
			json_cidr(w, a->family, a->peer, a->prefixlen);
		else
			json_null(w);
		json_key(w, "broadcast");
		if (a->has_brd)
			json_ip(w, a->family, a->brd);
		else
			json_null(w);
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_ADDRS, i);
	}
	json_arr_end(w);
}

static void write_neighbors(struct json_w *w, const struct snapshot *s, bool on, const uint8_t *sel,
			    const struct report_meta *m,
			    struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_NEIGH];
	char buf[128], nb[52];
	struct jsave sv;

	json_key(w, "neighbors");
	json_arr_begin(w);
	for (uint32_t i = 0; on && i < v->n; i++) {
		const struct snap_neigh *n = snap_at(s, SNAP_NEIGH, i);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		if (addr_unspecified(n->family, n->dst)) {
			rs->neighbors_unspecified++;
			part_mark(m, SNAP_NEIGH, i);
			continue;
		}
		part_save(w, &sv);
		json_obj_begin(w);
		json_key(w, "ip_address");
		json_ip(w, n->family, n->dst);
		json_key(w, "mac_address");
		if (n->has_lladdr && n->lladdr_len == 6) {
			json_hex(w, n->lladdr, 6);
		} else {
			if (n->has_lladdr)
				rs->mac_not_6_octets++;
			json_null(w);
		}
		key_ifname(w, s, "interface", n->ifindex);
		key_str(w, "state", name_nud(n->state, nb, sizeof(nb)));
		json_key(w, "hostname");
		json_null(w);
		key_str(w, "family", family_name(n->family));
		json_key(w, "lladdr");
		json_hex(w, n->lladdr, n->has_lladdr ? n->lladdr_len : 0);
		flag_list(w, "flags", name_neigh_flags(n->flags & (uint8_t)~NTF_PROXY, buf, sizeof(buf)));
		json_key(w, "proxy");
		json_bool(w, n->proxy);
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_NEIGH, i);
	}
	json_arr_end(w);
}

/* The last name a field was given: routes mostly repeat theirs (table, protocol, scope, type,
 * device), so a million routes need a handful of look-ups. A name that needs no escaping and fits
 * is kept in txt and written with one fixed-size copy. */
#define MEMO_TXT 48
struct memo {
	const char *s; /* NULL: null */
	size_t n;
	uint32_t id;
	bool set, in_txt;
	char txt[MEMO_TXT];
};

static void memo_set(struct memo *m, uint32_t id, const char *s)
{
	m->s = s;
	m->n = s ? strlen(s) : 0;
	m->id = id;
	m->set = true;
	m->in_txt = s && m->n < MEMO_TXT;
	for (size_t i = 0; m->in_txt && i < m->n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			m->in_txt = false;
	}
	if (m->in_txt)
		memcpy(m->txt, s, m->n);
}

static inline void memo_write(struct json_w *w, const struct memo *m)
{
	if (m->in_txt)
		json_lit_in(w, m->txt, m->n, MEMO_TXT);
	else if (m->s)
		json_strn(w, m->s, m->n);
	else
		json_null(w);
}

#define memo_lit(w, k, m, idv, lookup)                                                             \
	do {                                                                                       \
		uint32_t id_ = (idv);                                                              \
		if (!(m)->set || (m)->id != id_)                                                   \
			memo_set((m), id_, (lookup));                                              \
		json_key(w, k);                                                                    \
		memo_write(w, (m));                                                                \
	} while (0)

/* A device name (escaped as any string: names are bytes) through the memo; null for none. */
static void memo_ifname(struct json_w *w, const struct snapshot *s, struct memo *m,
			uint32_t ifindex)
{
	if (!m->set || m->id != ifindex) {
		const struct snap_link *l = ifindex ? snap_link_by_index(s, ifindex) : NULL;

		memo_set(m, ifindex, l && l->name ? snap_s(s, l->name) : NULL);
	}
	memo_write(w, m);
}

/* The last gateway's text: most routes share one. */
struct gw_memo {
	uint8_t fam, gw[16];
	uint8_t n;
	char txt[48];
};

static void gateway(struct json_w *w, uint8_t fam, const uint8_t *gw, struct report_stats *rs,
		    struct gw_memo *m)
{
	json_key(w, "gateway");
	if (!fam) {
		json_null(w);
	} else if (addr_unspecified(fam, gw)) {
		rs->gateway_unspecified++;
		json_null(w);
	} else if (m) {
		if (m->fam != fam || memcmp(m->gw, gw, 16)) {
			m->fam = fam;
			memcpy(m->gw, gw, 16);
			m->n = (uint8_t)fmt_ip(m->txt, fam, gw);
		}
		json_lit_in(w, m->txt, m->n, sizeof(m->txt));
	} else {
		json_ip(w, fam, gw);
	}
}

static void write_routes(struct json_w *w, const struct snapshot *s, bool on, const uint8_t *sel,
			    const struct report_meta *m,
			 struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_ROUTES];
	const struct snap_nexthop *nh = s->nh.v;
	char tbuf[16];
	struct jsave sv;
	struct memo dev = { 0 }, fam = { 0 }, table = { 0 }, proto = { 0 }, scope = { 0 }, type = { 0 };
	struct gw_memo gwm = { 0 };

	json_key(w, "routes");
	json_arr_begin(w);
	for (uint32_t i = 0; on && i < v->n; i++) {
		const struct snap_route *r = snap_at(s, SNAP_ROUTES, i);
		const struct snap_nexthop *first = r->nh_count ? &nh[r->nh_first] : NULL;

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		part_save(w, &sv);
		json_obj_begin(w);
		json_key(w, "destination");
		if (r->dst_len == 0)
			json_str(w, "default");
		else
			json_cidr(w, r->family, r->dst, r->dst_len);
		/* For a multipath route the server's single gateway/interface is the first hop;
		 * all hops are in `nexthops`. */
		if (first)
			gateway(w, first->gw_family, first->gw, rs, &gwm);
		else
			gateway(w, r->gw_family, r->gw, rs, &gwm);
		json_key(w, "source_ip");
		if (!r->has_prefsrc) {
			json_null(w);
		} else if (addr_unspecified(r->family, r->prefsrc)) {
			rs->source_unspecified++;
			json_null(w);
		} else {
			json_ip(w, r->family, r->prefsrc);
		}
		json_key(w, "interface");
		memo_ifname(w, s, &dev, first ? first->ifindex : r->oif);
		memo_lit(w, "family", &fam, r->family, family_name(r->family));
		memo_lit(w, "table", &table, r->table, name_table(m->names, r->table, tbuf, sizeof(tbuf)));
		key_u64(w, "table_id", r->table);
		memo_lit(w, "protocol", &proto, r->protocol, name_rtproto(m->names, r->protocol));
		key_u64(w, "protocol_id", r->protocol);
		memo_lit(w, "scope", &scope, r->scope, name_scope(m->names, r->scope));
		key_u64(w, "scope_id", r->scope);
		memo_lit(w, "type", &type, r->type, name_rtntype(r->type));
		key_u64(w, "metric", r->priority);
		key_u64(w, "tos", r->tos);
		if (r->src_len) {
			json_key(w, "source_prefix");
			json_cidr(w, r->family, r->src, r->src_len);
		}
		if (r->has_pref)
			key_u64(w, "pref", r->pref);
		if (r->gw_family && r->gw_family != r->family)
			key_str(w, "gateway_family", family_name(r->gw_family));
		/* a route through a nexthop object: its id (the kernel also states the object's
		 * gateway and device in the route, reported above) */
		if (r->nh_id)
			key_u64(w, "nexthop_id", r->nh_id);
		/* realms, as `ip -json route` prints them: from only when set */
		if (r->flow) {
			char rb[16];

			json_key(w, "flow");
			json_obj_begin(w);
			if (r->flow >> 16) {
				key_str(w, "from", name_realm(m->names, r->flow >> 16, rb, sizeof(rb)));
				key_u64(w, "from_id", r->flow >> 16);
			}
			key_str(w, "to", name_realm(m->names, r->flow & 0xffff, rb, sizeof(rb)));
			key_u64(w, "to_id", r->flow & 0xffff);
			json_obj_end(w);
		}
		if (r->nh_count) {
			json_key(w, "nexthops");
			json_arr_begin(w);
			for (uint32_t k = 0; k < r->nh_count; k++) {
				const struct snap_nexthop *h = &nh[r->nh_first + k];

				json_obj_begin(w);
				gateway(w, h->gw_family, h->gw, rs, NULL);
				key_ifname(w, s, "interface", h->ifindex);
				key_u64(w, "weight", h->weight);
				key_u64(w, "flags", h->flags);
				json_obj_end(w);
			}
			json_arr_end(w);
		}
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_ROUTES, i);
	}
	json_arr_end(w);
}

static const char *rule_action(uint8_t a)
{
	static const char *const names[] = { [1] = "lookup",	  [2] = "goto",
					      [3] = "nop",	  [6] = "blackhole",
					      [7] = "unreachable", [8] = "prohibit" };

	return a < sizeof(names) / sizeof(names[0]) && names[a] ? names[a] : "unknown";
}

static void key_hex64(struct json_w *w, const char *k, uint64_t v)
{
	char buf[17];

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
	key_str(w, k, buf);
}

static void key_range(struct json_w *w, const char *k, uint32_t lo, uint32_t hi)
{
	json_key(w, k);
	json_obj_begin(w);
	key_u64(w, "start", lo);
	key_u64(w, "end", hi);
	json_obj_end(w);
}

/* Selectors as `ip -json rule show` names them; what a rule does not select on is left out. */
static void rule_selectors(struct json_w *w, const struct snapshot *s, const struct snap_rule *r)
{
	if (r->src_len) {
		json_key(w, "src");
		json_cidr(w, r->family, r->src, r->src_len);
	}
	if (r->dst_len) {
		json_key(w, "dst");
		json_cidr(w, r->family, r->dst, r->dst_len);
	}
	if (r->iifname)
		key_str(w, "iif", snap_s(s, r->iifname));
	if (r->oifname)
		key_str(w, "oif", snap_s(s, r->oifname));
	if (r->has_fwmark)
		key_u64(w, "fwmark", r->fwmark);
	if (r->has_fwmask && r->fwmask != UINT32_MAX) /* all ones: the default, as ip leaves it out */
		key_u64(w, "fwmask", r->fwmask);
	if (r->tos)
		key_u64(w, "tos", r->tos);
	if (r->has_uid)
		key_range(w, "uid_range", r->uid_start, r->uid_end);
	if (r->ip_proto)
		key_u64(w, "ipproto", r->ip_proto);
	if (r->has_sport)
		key_range(w, "sport_range", r->sport_lo, r->sport_hi);
	if (r->has_dport)
		key_range(w, "dport_range", r->dport_lo, r->dport_hi);
	if (r->l3mdev) {
		json_key(w, "l3mdev");
		json_bool(w, true);
	}
}

/* Extension `rules`: the routing policy, both families. `id` is the rule's identity (every field:
 * the kernel has no other key for a rule), the key `removed.rules` names it by. */
static void write_rules(struct json_w *w, const struct snapshot *s, const uint8_t *sel,
			const struct report_meta *m)
{
	const struct snap_vec *v = &s->t[SNAP_RULES];
	char tbuf[16];
	struct jsave sv;

	json_key(w, "rules");
	json_arr_begin(w);
	for (uint32_t i = 0; i < v->n; i++) {
		const struct snap_rule *r = snap_at(s, SNAP_RULES, i);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		part_save(w, &sv);
		json_obj_begin(w);
		key_hex64(w, "id", canon_rule_hash(s, r));
		key_str(w, "family", family_name(r->family));
		key_u64(w, "priority", r->priority);
		json_key(w, "not");
		json_bool(w, r->flags & 0x2 /* FIB_RULE_INVERT */);
		rule_selectors(w, s, r);
		key_str(w, "action", rule_action(r->action));
		if (r->action == 1) {
			key_str(w, "table", name_table(m->names, r->table, tbuf, sizeof(tbuf)));
			key_u64(w, "table_id", r->table);
		}
		if (r->action == 2)
			key_u64(w, "goto", r->goto_target);
		if (r->has_suppress_plen)
			key_u64(w, "suppress_prefixlen", r->suppress_plen);
		if (r->has_suppress_ifgroup)
			key_u64(w, "suppress_ifgroup", r->suppress_ifgroup);
		key_str(w, "protocol", name_rtproto(m->names, r->protocol));
		key_u64(w, "protocol_id", r->protocol);
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_RULES, i);
	}
	json_arr_end(w);
}

/* Extension `nexthops`: nexthop objects (`ip nexthop show`), by their kernel id. */
static void write_nexthops(struct json_w *w, const struct snapshot *s, const uint8_t *sel,
			   const struct report_meta *m, struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_NHOBJ];
	const struct snap_nexthop *nh = s->nh.v;
	struct jsave sv;

	json_key(w, "nexthops");
	json_arr_begin(w);
	for (uint32_t i = 0; i < v->n; i++) {
		const struct snap_nhobj *n = snap_at(s, SNAP_NHOBJ, i);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		part_save(w, &sv);
		json_obj_begin(w);
		key_u64(w, "id", n->id);
		if (n->grp_count) {
			key_str(w, "group_type", n->group_type == 1 ? "resilient" : "mpath");
			json_key(w, "group");
			json_arr_begin(w);
			for (uint32_t k = 0; k < n->grp_count; k++) {
				json_obj_begin(w);
				key_u64(w, "id", nh[n->grp_first + k].ifindex);
				key_u64(w, "weight", (uint64_t)nh[n->grp_first + k].weight + 1);
				json_obj_end(w);
			}
			json_arr_end(w);
		} else {
			if (n->family == AF_INET || n->family == AF_INET6)
				key_str(w, "family", family_name(n->family));
			gateway(w, n->gw_family, n->gw, rs, NULL);
			key_ifname(w, s, "interface", n->ifindex);
		}
		json_key(w, "blackhole");
		json_bool(w, n->blackhole);
		if (n->fdb) {
			json_key(w, "fdb");
			json_bool(w, true);
		}
		json_key(w, "flags");
		json_arr_begin(w);
		if (n->flags & 1) /* RTNH_F_DEAD */
			json_str(w, "dead");
		if (n->flags & 4) /* RTNH_F_ONLINK */
			json_str(w, "onlink");
		if (n->flags & 16) /* RTNH_F_LINKDOWN */
			json_str(w, "linkdown");
		json_arr_end(w);
		key_str(w, "protocol", name_rtproto(m->names, n->protocol));
		key_u64(w, "protocol_id", n->protocol);
		json_obj_end(w);
		if (part_keep(w, m, &sv))
			part_mark(m, SNAP_NHOBJ, i);
	}
	json_arr_end(w);
}

static void write_socket(struct json_w *w, const struct snapshot *s, const struct snap_sock *k,
			 struct report_stats *rs)
{
	const char *st = name_sock_state(k->proto, k->state);

	if (!strcmp(st, "unknown"))
		rs->states_unknown++;
	json_obj_begin(w);
	json_key(w, "local_ip");
	json_ip(w, k->family, k->src);
	key_u64(w, "local_port", k->sport);
	json_key(w, "remote_ip");
	json_ip(w, k->family, k->dst);
	key_u64(w, "remote_port", k->dport);
	key_str(w, "protocol", k->proto == 6 ? "tcp" : "udp");
	key_str(w, "state", st);
	json_key(w, "pid");
	if (k->pid)
		json_u64(w, k->pid);
	else
		json_null(w);
	json_key(w, "process_name");
	if (k->comm)
		json_str(w, snap_s(s, k->comm));
	else
		json_null(w);
	key_str(w, "family", family_name(k->family));
	key_str(w, "kernel_state", name_sock_state_ss(k->proto, k->state));
	key_u64(w, "uid", k->uid);
	key_u64(w, "inode", k->inode);
	key_ifname(w, s, "interface", k->ifindex);
	json_obj_end(w);
}

/* PROTOCOL.md: an unspecified local_ip in `connections` makes the server reject the whole check-in,
 * so wildcard sockets are listed under the `listeners` extension instead. */
static void write_sockets(struct json_w *w, const struct snapshot *s, bool on, bool wildcard,
			  const uint8_t *sel, const struct report_meta *m, struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_SOCKS];
	struct jsave sv;

	json_key(w, wildcard ? "listeners" : "connections");
	json_arr_begin(w);
	for (uint32_t i = 0; on && i < v->n; i++) {
		const struct snap_sock *k = snap_at(s, SNAP_SOCKS, i);

		if ((sel && !sel[i]) || part_skip(m))
			continue;
		if (addr_unspecified(k->family, k->src) != wildcard)
			continue;
		part_save(w, &sv);
		write_socket(w, s, k, rs);
		if (part_keep(w, m, &sv)) {
			part_mark(m, SNAP_SOCKS, i);
			if (wildcard)
				rs->listeners++;
		}
	}
	json_arr_end(w);
}


static const char *const ns_id_types[] = { "none", "container", "pod", "netns",
					   "inode", "machine", "unit" };

const char *report_ns_id_type(uint8_t id_type)
{
	return id_type < sizeof(ns_id_types) / sizeof(ns_id_types[0]) ? ns_id_types[id_type] : "none";
}

void report_ns_ident(uint8_t id_type, const uint8_t *ident, uint8_t id_len, char *out, size_t len)
{
	size_t o = 0;

	if (id_len > NETNS_IDENT_MAX)
		id_len = NETNS_IDENT_MAX;
	out[0] = 0;
	switch (id_type) {
	case NETNS_ID_CONTAINER:
		for (uint8_t i = 0; i < id_len && o + 3 <= len; i++)
			o += (size_t)snprintf(out + o, len - o, "%02x", ident[i]);
		break;
	case NETNS_ID_POD:
		for (uint8_t i = 0; i < id_len && o + 4 <= len; i++)
			o += (size_t)snprintf(out + o, len - o, "%s%02x",
					      (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
					      ident[i]);
		break;
	case NETNS_ID_INODE: {
		uint64_t v = 0;

		for (int i = 0; i < 8 && i < id_len; i++)
			v |= (uint64_t)ident[i] << (8 * i);
		snprintf(out, len, "%llu", (unsigned long long)v);
		break;
	}
	default:
		snprintf(out, len, "%.*s", (int)id_len, (const char *)ident);
	}
}

#define key_opt(w, k, v) json_key_str_or_null(w, k, sizeof(k) - 1, v)

/* A namespace's identity and description: what it is, where it is wired to the host. */
static void ns_header(struct json_w *w, const struct snap_netns *r, const struct report_ns *v,
		      const struct snapshot *host)
{
	char id[2 * NETNS_IDENT_MAX + 16];

	report_ns_ident(r->id_type, r->ident, r->id_len, id, sizeof(id));
	json_key(w, "id");
	json_str(w, id);
	key_str(w, "id_type", report_ns_id_type(r->id_type));
	if (!v)
		return;
	key_str(w, "kind", v->kind);
	key_opt(w, "name", v->name);
	key_opt(w, "container_id", v->container_id);
	json_key(w, "pod");
	if (v->pod_uid && *v->pod_uid) {
		json_obj_begin(w);
		key_opt(w, "namespace", v->pod_namespace);
		key_opt(w, "name", v->pod_name);
		key_opt(w, "uid", v->pod_uid);
		json_obj_end(w);
	} else {
		json_null(w);
	}
	key_opt(w, "netns_name", v->netns_name);
	key_opt(w, "cgroup", v->cgroup);
	key_u64(w, "inode", v->inode);
	key_str(w, "status", v->status);
	json_key(w, "processes");
	json_obj_begin(w);
	key_u64(w, "count", v->nproc);
	json_key(w, "pid");
	if (v->pid)
		json_u64(w, v->pid);
	else
		json_null(w);
	json_key(w, "names");
	json_arr_begin(w);
	for (uint32_t i = 0; i < v->ncomm; i++)
		json_str(w, v->comm[i]);
	json_arr_end(w);
	json_obj_end(w);
	json_key(w, "host_links");
	json_arr_begin(w);
	for (uint32_t i = 0; i < v->n_host_links; i++) {
		const struct snap_link *pl = v->s ? snap_link_by_index(v->s, v->host_link[i].peer_ifindex) : NULL;

		json_obj_begin(w);
		key_ifname(w, host, "interface", v->host_link[i].ifindex);
		key_u64(w, "interface_index", v->host_link[i].ifindex);
		key_opt(w, "peer_interface", pl ? snap_s(v->s, pl->name) : NULL);
		key_u64(w, "peer_interface_index", v->host_link[i].peer_ifindex);
		json_obj_end(w);
	}
	json_arr_end(w);
	if (v->collect) {
		const struct snapshot *s = v->s;

		json_key(w, "collect");
		json_obj_begin(w);
		json_key(w, "inconsistent");
		json_arr_begin(w);
		for (int t = 0; s && t < SNAP_NETNS; t++)
			if (s->st[t].inconsistent)
				json_str(w, snap_table_names[t]);
		json_arr_end(w);
		json_key(w, "truncated");
		json_arr_begin(w);
		for (int t = 0; s && t < SNAP_NETNS; t++)
			if (s->st[t].truncated)
				json_str(w, snap_table_names[t]);
		json_arr_end(w);
		json_key(w, "collect_ms");
		json_milli(w, v->collect->total_us);
		json_obj_end(w);
	}
}

/* One of a namespace's tables (sel: the records to write, its noise rules applied), with the host's
 * list names. */
static void ns_table(struct json_w *w, const struct report_ns *v, enum snap_table t,
		     const uint8_t *sel, const struct report_meta *m2, struct report_stats *rs)
{
	switch (t) {
	case SNAP_LINKS:
		write_links(w, v->s, sel, m2);
		break;
	case SNAP_ADDRS:
		write_addresses(w, v->s, true, sel, m2, rs);
		break;
	case SNAP_NEIGH:
		write_neighbors(w, v->s, true, sel, m2, rs);
		break;
	case SNAP_ROUTES:
		write_routes(w, v->s, true, sel, m2, rs);
		break;
	case SNAP_SOCKS:
		write_sockets(w, v->s, true, false, sel, m2, rs);
		write_sockets(w, v->s, true, true, sel, m2, rs);
		break;
	case SNAP_RULES:
		write_rules(w, v->s, sel, m2);
		break;
	case SNAP_NHOBJ:
		write_nexthops(w, v->s, sel, m2, rs);
		break;
	default:
		break;
	}
}

static void ns_list_names(struct json_w *w, enum snap_table t)
{
	if (t == SNAP_SOCKS) {
		json_str(w, "connections");
		json_str(w, "listeners");
	} else if (t == SNAP_NEIGH) {
		json_str(w, "neighbors");
	} else {
		json_str(w, snap_table_names[t]);
	}
}

void report_ns_accept(const struct report_netns *nn)
{
	for (uint32_t i = 0; nn && i < nn->n; i++) {
		const struct report_ns *v = &nn->v[i];

		for (int t = 0; v->s && t < SNAP_NETNS; t++) {
			if (!v->sent[t] || !v->pending[t])
				continue;
			for (uint32_t r = 0; r < v->s->t[t].n; r++)
				v->sent[t][r] |= v->pending[t][r];
			memset(v->pending[t], 0, v->s->t[t].n);
		}
	}
}

void report_ns_reset_pending(const struct report_netns *nn)
{
	for (uint32_t i = 0; nn && i < nn->n; i++)
		for (int t = 0; nn->v[i].s && t < SNAP_NETNS; t++)
			if (nn->v[i].pending[t])
				memset(nn->v[i].pending[t], 0, nn->v[i].s->t[t].n);
}

/* One table of a namespace into a part: the records earlier parts did not carry, as many as fit.
 * Returns 1 when the rest of the table is in (complete), 0 when some waits for the next part, -1
 * when none fitted (nothing was written: an empty list would read as "no records"). */
static int ns_table_part(struct json_w *w, const struct report_ns *v, enum snap_table t,
			 const struct report_meta *m, struct report_stats *rs, bool *continued)
{
	uint32_t n = v->s->t[t].n, todo = 0, wrote = 0;
	struct report_part sub = { .budget = m->part->budget };
	struct report_meta m2 = *m;
	uint8_t *sel = malloc(n ? n : 1);
	struct jsave sv;

	if (!sel) {
		w->err = w->err ? w->err : -ENOMEM;
		return -1;
	}
	*continued = false;
	for (uint32_t r = 0; r < n; r++) {
		sel[r] = v->keep[t][r] && !v->sent[t][r];
		todo += sel[r];
		*continued |= v->keep[t][r] && v->sent[t][r];
	}
	memset(v->pending[t], 0, n ? n : 1);
	sub.incl[t] = v->pending[t];
	m2.part = &sub;
	m2.delta = NULL;
	part_save(w, &sv);
	ns_table(w, v, t, sel, &m2, rs);
	free(sel);
	for (uint32_t r = 0; r < n; r++)
		wrote += v->pending[t][r];
	if (todo && !wrote) {
		w->len = sv.len;
		w->first[w->depth] = sv.first;
		return -1;
	}
	m->part->kept += wrote ? wrote : 1;
	return wrote == todo;
}
static bool over_budget(const struct json_w *w, const struct report_meta *m)
{
	return m->part && m->part->budget && w->total + w->len > m->part->budget;
}

/* Back to a point saved at an outer depth (a whole namespace object taken back). */
static void jrestore(struct json_w *w, size_t len, int depth, bool first)
{
	w->len = len;
	w->depth = depth;
	w->first[depth] = first;
	w->after_key = false;
}

static bool same_ns(const struct snap_netns *a, const struct snap_netns *b)
{
	return a->id_type == b->id_type && a->id_len == b->id_len &&
	       !memcmp(a->ident, b->ident, a->id_len);
}

/* Extension `namespaces`: every other network namespace whose description or tables changed,
 * each changed table whole. Parts: a table larger than what is left of a part goes in pieces, the
 * first with its list named in "partial", the next ones also in "continued" (a reader appends
 * them); a table is acknowledged with its last piece. */
static void write_namespaces(struct json_w *w, const struct snapshot *s, const uint8_t *sel,
			     const struct report_meta *m, struct report_stats *rs)
{
	const struct snap_vec *v = &s->t[SNAP_NETNS];
	const struct report_netns *nn = m->netns;
	struct report_meta m2 = *m;

	m2.part = NULL;
	m2.delta = NULL;
	json_key(w, "namespaces");
	json_arr_begin(w);
	for (uint32_t g = 0, e; g < v->n && !part_skip(m); g = e) {
		const struct snap_netns *r0 = snap_at(s, SNAP_NETNS, g);
		const struct report_ns *view = nn && r0->ns < nn->n ? &nn->v[r0->ns] : NULL;
		size_t save_len = w->len;
		int save_depth = w->depth;
		bool save_first = w->first[w->depth], any = false;
		uint8_t partial[SNAP_NETNS] = { 0 }, cont[SNAP_NETNS] = { 0 };
		bool flag[2] = { false, false }; /* any partial, any continued */

		for (e = g; e < v->n && same_ns(r0, snap_at(s, SNAP_NETNS, e)); e++)
			any |= !sel || sel[e];
		if (!any || !view)
			continue;
		json_obj_begin(w);
		ns_header(w, r0, view, s);
		if (over_budget(w, m) && m->part->kept) {
			/* not even the description fits: all of it waits */
			jrestore(w, save_len, save_depth, save_first);
			m->part->more = true;
			break;
		}
		for (uint32_t i = g; i < e && !part_skip(m); i++) {
			const struct snap_netns *r = snap_at(s, SNAP_NETNS, i);
			enum snap_table t = (enum snap_table)r->table;
			bool continued;
			int done;

			if ((sel && !sel[i]) || r->table == NETNS_META || !view->s)
				continue;
			if (!m->part || !view->sent[t]) {
				ns_table(w, view, t, view->keep[t], &m2, rs);
				part_mark(m, SNAP_NETNS, i);
				continue;
			}
			done = ns_table_part(w, view, t, m, rs, &continued);
			if (done < 0) {
				m->part->more = true;
				break;
			}
			if (continued)
				cont[t] = flag[1] = true;
			if (done) {
				part_mark(m, SNAP_NETNS, i);
			} else {
				partial[t] = flag[0] = m->part->more = true;
				if (m->part->ns_partial)
					m->part->ns_partial[i] = 1;
			}
		}
		for (int f = 0; f < 2; f++) {
			const uint8_t *set = f ? cont : partial;

			if (!flag[f])
				continue;
			json_key(w, f ? "continued" : "partial");
			json_arr_begin(w);
			for (int t = 0; t < SNAP_NETNS; t++)
				if (set[t])
					ns_list_names(w, (enum snap_table)t);
			json_arr_end(w);
		}
		json_obj_end(w);
		if (r0->table == NETNS_META && (!sel || sel[g]))
			part_mark(m, SNAP_NETNS, g);
		if (m->part)
			m->part->kept++;
	}
	json_arr_end(w);
}

static int cmp_removed_ns(const void *a, const void *b, void *arg)
{
	const struct acked_table *pt = arg;
	const struct key_netns *x = (const void *)pt->r[*(const uint32_t *)a].key;
	const struct key_netns *y = (const void *)pt->r[*(const uint32_t *)b].key;
	int r;

	if (x->id_type != y->id_type)
		return x->id_type < y->id_type ? -1 : 1;
	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	if ((r = memcmp(x->ident, y->ident, x->id_len)))
		return r;
	return (uint8_t)(x->table + 1) < (uint8_t)(y->table + 1) ? -1 : (x->table != y->table);
}

/* removed.namespaces: a namespace that is gone is one entry, whatever it held; a table of a
 * namespace still there that is no longer reported names its lists. */
static void write_removed_ns(struct json_w *w, const struct report_meta *m)
{
	const struct delta_table *dt = &m->delta->t[SNAP_NETNS];
	const struct acked_table *pt = &m->delta->prev->t[SNAP_NETNS];
	uint32_t *idx = malloc((dt->n_removed ? dt->n_removed : 1) * sizeof(*idx));
	uint32_t *pos = malloc((dt->n_removed ? dt->n_removed : 1) * sizeof(*pos));
	uint32_t n = 0;

	json_key(w, "namespaces");
	json_arr_begin(w);
	if (!idx || !pos) {
		w->err = w->err ? w->err : -ENOMEM; /* the report is not written */
		goto out;
	}
	for (uint32_t i = 0; i < dt->n_removed; i++)
		if (!dt->removed_sent[i])
			pos[n++] = i;
	for (uint32_t i = 0; i < n; i++)
		idx[i] = dt->removed[pos[i]];
	/* sort removal positions by their records' keys (pos and idx together) */
	for (uint32_t i = 1; i < n; i++) {
		for (uint32_t j = i; j > 0 && cmp_removed_ns(&idx[j - 1], &idx[j], (void *)pt) > 0; j--) {
			uint32_t t = idx[j];

			idx[j] = idx[j - 1];
			idx[j - 1] = t;
			t = pos[j];
			pos[j] = pos[j - 1];
			pos[j - 1] = t;
		}
	}
	for (uint32_t g = 0, e; g < n && !part_skip(m); g = e) {
		const struct key_netns *k0 = (const void *)pt->r[idx[g]].key;
		char id[2 * NETNS_IDENT_MAX + 16];
		struct jsave sv;
		bool whole = false;

		for (e = g; e < n; e++) {
			const struct key_netns *k = (const void *)pt->r[idx[e]].key;

			if (k->id_type != k0->id_type || k->id_len != k0->id_len ||
			    memcmp(k->ident, k0->ident, k0->id_len))
				break;
			whole |= k->table == NETNS_META;
		}
		part_save(w, &sv);
		json_obj_begin(w);
		report_ns_ident(k0->id_type, k0->ident, k0->id_len, id, sizeof(id));
		json_key(w, "id");
		json_str(w, id);
		key_str(w, "id_type", report_ns_id_type(k0->id_type));
		if (!whole) {
			json_key(w, "lists");
			json_arr_begin(w);
			for (uint32_t i = g; i < e; i++) {
				const struct key_netns *k = (const void *)pt->r[idx[i]].key;

				if (k->table < SNAP_NETNS)
					json_str(w, snap_table_names[k->table]);
			}
			json_arr_end(w);
		}
		json_obj_end(w);
		if (part_keep(w, m, &sv) && m->part)
			for (uint32_t i = g; i < e; i++)
				m->part->rincl[SNAP_NETNS][pos[i]] = 1;
	}
out:
	json_arr_end(w);
	free(idx);
	free(pos);
}

static void removed_key(struct json_w *w, const struct snapshot *s,
			const struct names_conf *names, enum snap_table t,
			const struct state_rec *rec)
{
	static const uint8_t zero[16];
	char tbuf[16];

	json_obj_begin(w);
	switch (t) {
	case SNAP_LINKS: {
		const struct key_link *k = (const void *)rec->key;

		key_u64(w, "ifindex", k->ifindex);
		json_key(w, "name");
		json_strn(w, k->name, strnlen(k->name, sizeof(k->name)));
		break;
	}
	case SNAP_ADDRS:
	case SNAP_NEIGH: {
		const struct key_ifaddr *k = (const void *)rec->key;

		json_key(w, "ip_address");
		json_ip(w, k->family, k->addr);
		if (t == SNAP_ADDRS) {
			key_u64(w, "prefix_length", k->aux);
		} else {
			json_key(w, "proxy");
			json_bool(w, k->aux);
		}
		json_key(w, "interface");
		json_strn(w, k->ifname, strnlen(k->ifname, sizeof(k->ifname)));
		key_str(w, "family", family_name(k->family));
		break;
	}
	case SNAP_ROUTES: {
		const struct key_route *k = (const void *)rec->key;
		uint8_t fam = k->family & (uint8_t)~KEY_ROUTE_GW6;
		uint8_t gwfam = (k->family & KEY_ROUTE_GW6) ? AF_INET6 : fam;

		json_key(w, "destination");
		if (k->dst_len == 0)
			json_str(w, "default");
		else
			json_cidr(w, fam, k->dst, k->dst_len);
		json_key(w, "gateway");
		if (memcmp(k->gw, zero, 16))
			json_ip(w, gwfam, k->gw);
		else
			json_null(w);
		key_ifname(w, s, "interface", k->oif);
		key_u64(w, "interface_index", k->oif);
		key_str(w, "family", family_name(fam));
		key_str(w, "table", name_table(names, k->table, tbuf, sizeof(tbuf)));
		key_u64(w, "table_id", k->table);
		key_str(w, "type", name_rtntype(k->type));
		key_u64(w, "metric", k->metric);
		key_u64(w, "tos", k->tos);
		break;
	}
	case SNAP_SOCKS: {
		const struct key_sock *k = (const void *)rec->key;

		json_key(w, "local_ip");
		json_ip(w, k->family, k->src);
		json_key(w, "local_port");
		if (k->flow)
			json_null(w); /* flow-keyed: the ephemeral port is not part of the identity */
		else
			json_u64(w, k->sport);
		json_key(w, "remote_ip");
		json_ip(w, k->family, k->dst);
		key_u64(w, "remote_port", k->dport);
		key_str(w, "protocol", k->proto == 6 ? "tcp" : "udp");
		key_str(w, "family", family_name(k->family));
		key_ifname(w, s, "interface", k->ifindex);
		if (k->ordinal)
			key_u64(w, "ordinal", k->ordinal);
		break;
	}
	case SNAP_RULES: {
		const struct key_rule *k = (const void *)rec->key;

		key_hex64(w, "id", k->selectors);
		key_str(w, "family", family_name(k->family));
		key_u64(w, "priority", k->priority);
		break;
	}
	case SNAP_NHOBJ:
		key_u64(w, "id", ((const struct key_nhobj *)(const void *)rec->key)->id);
		break;
	default:
		break;
	}
	json_obj_end(w);
}

/* Extension `removed`: per list, the identity keys that vanished since the acknowledged state. */
static void write_removed(struct json_w *w, const struct snapshot *s, const struct report_meta *m)
{
	static const struct {
		const char *list;
		enum snap_table t;
		int wildcard; /* sockets: -1 any, 0 connections, 1 listeners */
	} lists[] = { { "links", SNAP_LINKS, -1 },	   { "addresses", SNAP_ADDRS, -1 },
		      { "neighbors", SNAP_NEIGH, -1 },	   { "routes", SNAP_ROUTES, -1 },
		      { "connections", SNAP_SOCKS, 0 }, { "listeners", SNAP_SOCKS, 1 },
		      { "rules", SNAP_RULES, -1 },	   { "nexthops", SNAP_NHOBJ, -1 } };
	const struct delta *d = m->delta;

	json_key(w, "removed");
	json_obj_begin(w);
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		const struct delta_table *dt = &d->t[lists[l].t];
		const struct acked_table *pt = &d->prev->t[lists[l].t];

		if (!(m->tables & (1u << lists[l].t)))
			continue;
		json_key(w, lists[l].list);
		json_arr_begin(w);
		for (uint32_t i = 0; i < dt->n_removed; i++) {
			const struct state_rec *rec = &pt->r[dt->removed[i]];
			struct jsave sv;

			if (dt->removed_sent[i] || part_skip(m))
				continue;
			if (lists[l].wildcard >= 0) {
				const struct key_sock *k = (const void *)rec->key;

				if (addr_unspecified(k->family, k->src) != (lists[l].wildcard == 1))
					continue;
			}
			part_save(w, &sv);
			removed_key(w, s, m->names, lists[l].t, rec);
			if (part_keep(w, m, &sv) && m->part)
				m->part->rincl[lists[l].t][i] = 1;
		}
		json_arr_end(w);
	}
	if (m->tables & (1u << SNAP_NETNS))
		write_removed_ns(w, m);
	json_obj_end(w);
}

static void write_delta_stats(struct json_w *w, const struct report_meta *m)
{
	json_key(w, "delta");
	json_obj_begin(w);
	json_key(w, "full_snapshot");
	json_bool(w, m->delta->full);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &m->delta->t[t];

		if (!(m->tables & (1u << t)))
			continue;
		json_key(w, snap_table_names[t]);
		json_obj_begin(w);
		key_u64(w, "added", dt->added);
		key_u64(w, "changed", dt->changed);
		key_u64(w, "removed", dt->n_removed);
		key_u64(w, "unchanged", dt->unchanged);
		key_u64(w, "filtered", dt->filtered);
		json_obj_end(w);
	}
	json_obj_end(w);
}

static void write_table_stats(struct json_w *w, const struct snapshot *s, unsigned int tables)
{
	json_key(w, "tables");
	json_obj_begin(w);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct snap_table_stats *ts = &s->st[t];

		if (!(tables & (1u << t)) || !ts->collected)
			continue;
		json_key(w, snap_table_names[t]);
		json_obj_begin(w);
		key_u64(w, "count", snap_records(s, (enum snap_table)t));
		key_u64(w, "attempts", ts->attempts);
		if (ts->same_dump) {
			json_key(w, "same_dump");
			json_bool(w, true);
		}
		json_key(w, "inconsistent");
		json_bool(w, ts->inconsistent);
		json_key(w, "truncated");
		json_bool(w, ts->truncated);
		key_u64(w, "dropped", ts->dropped);
		if (ts->dropped) {
			json_key(w, "first_drop_error");
			json_str(w, strerror((int)ts->first_drop));
		}
		key_u64(w, "duplicates", ts->duplicates);
		if (ts->notifications) {
			key_u64(w, "notifications", ts->notifications);
			key_u64(w, "changes_applied", ts->changes_applied);
		}
		if (ts->fields_skipped)
			key_u64(w, "fields_skipped", ts->fields_skipped);
		json_key(w, "kernel_error");
		if (ts->kernel_error)
			json_str(w, strerror(-ts->kernel_error));
		else
			json_null(w);
		json_key(w, "dump_ms");
		json_milli(w, ts->dump_us);
		json_obj_end(w);
	}
	json_obj_end(w);
}

static void write_metadata(struct json_w *w, const struct snapshot *s, const struct report_meta *m,
			   const struct report_stats *rs)
{
	const struct collect_stats *c = m->collect;

	json_key(w, "metadata");
	json_obj_begin(w);
	key_str(w, "collector", "netinv");
	if (m->part) {
		json_key(w, "part");
		json_obj_begin(w);
		key_u64(w, "index", m->part->index);
		json_key(w, "final");
		json_bool(w, !m->part->more);
		json_obj_end(w);
	}
	if (m->identity_missing) {
		json_key(w, "identity");
		json_str(w, "none");
	}
	if (c)
		key_u64(w, "netns_inode", c->netns_inode);
	json_key(w, "tables_collected");
	json_arr_begin(w);
	for (int t = 0; t < SNAP_NTABLES; t++)
		if (m->tables & (1u << t))
			json_str(w, snap_table_names[t]);
	json_arr_end(w);
	json_key(w, "stats");
	json_obj_begin(w);
	write_table_stats(w, s, m->tables | (1u << SNAP_LINKS));
	if (m->delta)
		write_delta_stats(w, m);
	json_key(w, "strings_truncated");
	json_bool(w, s->str_truncated);
	if (c) {
		json_key(w, "processes");
		json_obj_begin(w);
		key_str(w, "status", procmap_status_names[c->proc.status]);
		key_u64(w, "sockets_with_inode", c->proc.wanted);
		key_u64(w, "attributed", c->proc.attributed);
		key_u64(w, "processes_scanned", c->proc.processes);
		key_u64(w, "unreadable", c->proc.unreadable);
		key_u64(w, "descriptors", c->proc.fds);
		json_key(w, "walk_ms");
		json_milli(w, c->proc.walk_us);
		json_obj_end(w);
		json_key(w, "change_monitor");
		json_bool(w, c->monitor);
		json_key(w, "tcp_single_walk");
		json_bool(w, c->tcp_compat);
		json_key(w, "ipv6");
		json_bool(w, c->ipv6);
		json_key(w, "collect_ms");
		json_milli(w, c->total_us);
	}
	if (m->netns) {
		const struct report_netns *n = m->netns;

		json_key(w, "namespaces");
		json_obj_begin(w);
		key_str(w, "mode", n->mode);
		key_str(w, "status", n->status);
		key_u64(w, "found", n->found);
		key_u64(w, "read", n->read);
		key_u64(w, "not_permitted", n->not_permitted);
		key_u64(w, "failed", n->failed);
		key_u64(w, "gone", n->gone);
		key_u64(w, "skipped", n->skipped);
		json_obj_end(w);
	}
	json_key(w, "compat");
	json_obj_begin(w);
	key_u64(w, "addresses_unspecified_dropped", rs->addresses_unspecified);
	key_u64(w, "neighbors_unspecified_dropped", rs->neighbors_unspecified);
	key_u64(w, "mac_not_6_octets_nulled", rs->mac_not_6_octets);
	key_u64(w, "gateway_unspecified_nulled", rs->gateway_unspecified);
	key_u64(w, "source_unspecified_nulled", rs->source_unspecified);
	key_u64(w, "wildcard_sockets_as_listeners", rs->listeners);
	key_u64(w, "socket_states_unknown", rs->states_unknown);
	json_obj_end(w);
	json_obj_end(w);
	json_obj_end(w);
}

int report_write(struct json_w *w, const struct snapshot *s, const struct report_meta *m,
		 struct report_stats *rs)
{
	unsigned int t = m->tables;

	memset(rs, 0, sizeof(*rs));
	json_obj_begin(w);
	key_u64(w, "schema_version", REPORT_SCHEMA_VERSION);
	key_str(w, "agent_uuid", m->agent_uuid);
	json_key(w, "observed_at");
	json_time(w, m->observed_at);
	key_u64(w, "sequence_number", m->sequence_number);
	json_key(w, "full_snapshot");
	json_bool(w, m->full_snapshot);
	key_str(w, "hostname", m->hostname);
	json_key(w, "fqdn");
	if (m->fqdn)
		json_str(w, m->fqdn);
	else
		json_null(w);
	key_str(w, "agent_version", m->agent_version);
	key_str(w, "platform", "linux");
	key_str(w, "platform_release", m->platform_release);
	if (m->extra)
		m->extra(w, m->extra_ctx);
	/* every list is left out when its table was not collected, so "not collected" never reads
	 * as "none" (a Graphēon server defaults a missing list to empty); metadata names the tables
	 * collected */
	if (t & (1u << SNAP_LINKS))
		write_links(w, s, selection(m, SNAP_LINKS), m);
	if (t & (1u << SNAP_ADDRS))
		write_addresses(w, s, true, selection(m, SNAP_ADDRS), m, rs);
	if (t & (1u << SNAP_NEIGH))
		write_neighbors(w, s, true, selection(m, SNAP_NEIGH), m, rs);
	if (t & (1u << SNAP_ROUTES))
		write_routes(w, s, true, selection(m, SNAP_ROUTES), m, rs);
	if (t & (1u << SNAP_SOCKS)) {
		write_sockets(w, s, true, false, selection(m, SNAP_SOCKS), m, rs);
		write_sockets(w, s, true, true, selection(m, SNAP_SOCKS), m, rs);
	}
	if (t & (1u << SNAP_RULES))
		write_rules(w, s, selection(m, SNAP_RULES), m);
	if (t & (1u << SNAP_NHOBJ))
		write_nexthops(w, s, selection(m, SNAP_NHOBJ), m, rs);
	if (t & (1u << SNAP_NETNS))
		write_namespaces(w, s, selection(m, SNAP_NETNS), m, rs);
	if (m->delta && !m->delta->full)
		write_removed(w, s, m);
	/* Last, so it can count what the lists above changed for the server. */
	write_metadata(w, s, m, rs);
	json_obj_end(w);
	return w->err;
}
