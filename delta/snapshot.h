/*
 * snapshot: the in-memory model of one collection. Each table is a typed array of fixed-size records
 * (zeroed on creation, so records compare and hash as plain bytes where the layout allows), plus one
 * string table shared by all, and one side array for multipath next hops. Every array has a hard
 * maximum and a truncated flag instead of unbounded growth; one snap_free() releases everything.
 * Strings are referenced by offset (offset 0 is the empty string), never by pointer, so the arrays
 * can grow by realloc.
 */
#ifndef NETINV_SNAPSHOT_H
#define NETINV_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The order is the collection order (links first: the others name interfaces by index) and the
 * order of the tables in the persisted state. */
enum snap_table {
	SNAP_LINKS,
	SNAP_ADDRS,
	SNAP_NEIGH,
	SNAP_ROUTES,
	SNAP_SOCKS,
	SNAP_RULES, /* routing policy (RTM_GETRULE) */
	SNAP_NHOBJ, /* nexthop objects (RTM_GETNEXTHOP) */
	/* Other network namespaces: one record per (namespace, table) and one for the namespace's own
	 * description. Not dumped: made from each namespace's own snapshot (collector/namespaces). */
	SNAP_NETNS,
	SNAP_NTABLES
};

#define SNAP_LLADDR_MAX 32 /* MAX_ADDR_LEN in the kernel */

/* What a link is, by kind (IFLA_INFO_DATA); which member holds is info_kind. */
enum snap_link_info_kind {
	LINFO_NONE,
	LINFO_VLAN,
	LINFO_BOND,
	LINFO_BRIDGE,
	LINFO_VRF,
	LINFO_VXLAN,
	LINFO_MACVLAN,
	LINFO_IPVLAN,
	LINFO_TUNNEL, /* gre, gretap, ip6gre, ip6gretap, ipip, sit, ip6tnl */
	LINFO_TUN,    /* tun and tap */
};

/* What a link is as a member of another (IFLA_INFO_SLAVE_DATA). */
enum snap_link_slave_kind { LSLAVE_NONE, LSLAVE_BOND, LSLAVE_BRIDGE };

union snap_link_info {
	struct {
		uint16_t id;
		uint16_t protocol; /* ETH_P_8021Q or ETH_P_8021AD, host order */
	} vlan;
	struct {
		uint8_t mode, xmit_hash_policy;
		uint32_t active_slave; /* ifindex, 0 = none */
		uint32_t miimon;       /* ms */
	} bond;
	struct {
		uint32_t stp_state;
		uint8_t vlan_filtering;
		uint16_t default_pvid;
	} bridge;
	struct {
		uint32_t table;
	} vrf;
	struct {
		uint32_t vni;
		uint32_t link; /* underlying device, 0 = none */
		uint16_t port; /* destination port, host order */
		uint8_t family, has_local, has_remote;
		uint8_t local[16], remote[16]; /* remote: a unicast peer or the multicast group */
	} vxlan;
	struct {
		uint32_t mode; /* MACVLAN_MODE_* */
	} macvlan;
	struct {
		uint16_t mode; /* IPVLAN_MODE_* */
	} ipvlan;
	struct {
		uint8_t family, ttl, has_local, has_remote;
		uint8_t local[16], remote[16];
	} tunnel;
	struct {
		uint8_t type; /* IFF_TUN or IFF_TAP */
		uint8_t has_owner;
		uint32_t owner;
	} tun;
};

union snap_link_slave {
	struct {
		uint8_t state, mii_status;
		uint32_t link_failure_count;
	} bond;
	struct {
		uint8_t state; /* BR_STATE_* */
		uint16_t priority;
		uint32_t cost;
	} bridge;
};

struct snap_link {
	uint32_t ifindex;
	uint32_t master; /* ifindex, 0 = none */
	uint32_t link;   /* IFLA_LINK (lower device, or a veth's peer), 0 = none */
	uint32_t mtu;
	uint32_t flags; /* IFF_* */
	uint32_t name;  /* strtab */
	uint32_t kind;  /* strtab, IFLA_INFO_KIND; 0 = none */
	uint32_t alias; /* strtab, IFLA_IFALIAS */
	uint16_t type;  /* ARPHRD_* */
	uint8_t operstate;
	uint8_t addr_len;
	uint8_t addr[SNAP_LLADDR_MAX];
	uint8_t brd_len;
	uint8_t brd[SNAP_LLADDR_MAX];
	uint8_t pad[2];
	/* the link's own details */
	uint8_t perm_len; /* IFLA_PERM_ADDRESS: the factory address, 0 = none */
	uint8_t perm[SNAP_LLADDR_MAX];
	uint8_t has_carrier, carrier;
	uint8_t has_netnsid; /* the link (a veth's peer) is in the namespace link_netnsid */
	uint8_t info_kind;   /* enum snap_link_info_kind */
	uint8_t slave_kind;  /* enum snap_link_slave_kind */
	int32_t link_netnsid;
	uint32_t min_mtu, max_mtu, txqlen, group;
	uint32_t qdisc;      /* strtab */
	uint32_t altnames;   /* strtab: the alternative names, space-separated */
	uint32_t parent_dev; /* strtab: IFLA_PARENT_DEV_NAME (a PCI address, ...) */
	uint32_t parent_bus; /* strtab: IFLA_PARENT_DEV_BUS_NAME (pci, usb, ...) */
	/* strtab: a VLAN-filtering bridge's port VLANs (the AF_BRIDGE dump), "VID[-END][ pvid][
	 * untagged]" joined by ','; 0 = none or not filtering */
	uint32_t vlans;
	union snap_link_info info;
	union snap_link_slave slave;
};

struct snap_addr {
	uint8_t family;
	uint8_t prefixlen;
	uint8_t scope;
	uint8_t has_peer; /* IFA_ADDRESS differs from IFA_LOCAL (point-to-point) */
	uint8_t has_brd;
	uint8_t pad[3];
	uint32_t ifindex;
	uint32_t flags; /* IFA_F_*, from IFA_FLAGS when present */
	uint32_t label; /* strtab */
	uint8_t addr[16]; /* IFA_LOCAL, else IFA_ADDRESS */
	uint8_t peer[16];
	uint8_t brd[16];
};

struct snap_neigh {
	uint8_t family;
	uint8_t flags; /* NTF_* */
	uint8_t type;  /* RTN_* */
	uint8_t proxy; /* from the proxy (pneigh) dump */
	uint16_t state; /* NUD_* */
	uint8_t lladdr_len;
	uint8_t has_lladdr;
	uint32_t ifindex;
	uint8_t dst[16];
	uint8_t lladdr[SNAP_LLADDR_MAX];
};

/* A hop of a multipath route, or (for a nexthop group) a member: then ifindex holds the member's
 * nexthop id and weight the NHA_GROUP weight field (the weight - 1). */
struct snap_nexthop {
	uint32_t ifindex;
	uint8_t gw_family; /* 0 = no gateway */
	uint8_t weight;    /* rtnh_hops + 1 */
	uint8_t flags;     /* RTNH_F_* */
	uint8_t pad;
	uint8_t gw[16];
};

struct snap_route {
	uint8_t family;
	uint8_t dst_len;
	uint8_t src_len;
	uint8_t tos;
	uint8_t protocol;
	uint8_t scope;
	uint8_t type;
	uint8_t gw_family; /* 0 = no gateway; AF_INET6 for an IPv4 route via RTA_VIA */
	uint8_t has_prefsrc;
	uint8_t has_pref;
	uint8_t pref; /* RTA_PREF (IPv6 router preference) */
	uint8_t pad;
	uint32_t table;
	uint32_t priority; /* metric */
	uint32_t oif;
	uint32_t flags;    /* rtm_flags */
	uint32_t nh_first; /* index into the next hop array */
	uint32_t nh_count; /* 0 = single path */
	uint8_t dst[16];
	uint8_t src[16];
	uint8_t gw[16];
	uint8_t prefsrc[16];
	/* last: fingerprints of routes without one stay what they were before it existed */
	uint32_t nh_id; /* RTA_NH_ID: the route uses this nexthop object; 0 = none */
	uint32_t flow;  /* RTA_FLOW: realms, from << 16 | to; 0 = none */
};

struct snap_sock {
	uint8_t family;
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t state; /* TCP_* as inet_diag reports it */
	uint8_t pad;
	uint16_t sport; /* host order */
	uint16_t dport;
	uint32_t ifindex; /* bound device, 0 = none */
	uint32_t uid;
	uint32_t inode;
	uint32_t pid;  /* 0 = not attributed */
	uint32_t comm; /* strtab */
	uint8_t src[16];
	uint8_t dst[16];
};

/* One routing policy rule (struct fib_rule_hdr and FRA_* attributes). */
struct snap_rule {
	uint8_t family;
	uint8_t action; /* FR_ACT_* */
	uint8_t dst_len, src_len;
	uint8_t tos;
	uint8_t ip_proto;  /* FRA_IP_PROTO, 0 = any */
	uint8_t l3mdev;    /* FRA_L3MDEV */
	uint8_t protocol;  /* FRA_PROTOCOL: who installed it (RTPROT_*) */
	uint8_t has_fwmark, has_fwmask, has_uid, has_sport, has_dport, has_priority, has_suppress_plen;
	uint8_t has_suppress_ifgroup;
	uint32_t flags; /* FIB_RULE_* (invert) */
	uint32_t priority;
	uint32_t table;
	uint32_t fwmark, fwmask;
	uint32_t goto_target;
	uint32_t suppress_plen;
	uint32_t suppress_ifgroup;
	uint32_t uid_start, uid_end;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint32_t iifname, oifname; /* strtab: the kernel names devices here, not indexes */
	uint8_t src[16], dst[16];
};

/* One nexthop object (struct nhmsg and NHA_* attributes). */
struct snap_nhobj {
	uint32_t id;
	uint32_t ifindex;  /* NHA_OIF, 0 = none */
	uint8_t family;    /* nhm_family (AF_UNSPEC for groups and blackholes) */
	uint8_t gw_family; /* 0 = no gateway */
	uint8_t blackhole;
	uint8_t fdb;
	uint8_t protocol;
	uint8_t scope;
	uint16_t group_type; /* NHA_GROUP_TYPE (NEXTHOP_GRP_TYPE_*) for a group */
	uint32_t flags;      /* nhm_flags: RTNH_F_* (onlink, dead, linkdown) */
	uint32_t grp_first;  /* members, in the next hop array (snap_nexthop) */
	uint32_t grp_count;  /* 0 = not a group */
	uint8_t gw[16];
};

/* How a namespace is identified (the report's `id_type`); the identity survives a container's
 * restart, so a restart is a change of the namespace's records, not a new namespace. */
enum snap_netns_id {
	NETNS_ID_NONE,
	NETNS_ID_CONTAINER, /* ident: the container id's bytes (hex-decoded, at most 32) */
	NETNS_ID_POD,       /* ident: the pod uid's 16 bytes */
	NETNS_ID_NETNS,     /* ident: a /run/netns name */
	NETNS_ID_INODE,     /* ident: the namespace inode, 8 bytes little-endian */
	NETNS_ID_MACHINE,   /* ident: a systemd-nspawn machine or LXC container name */
	NETNS_ID_UNIT,      /* ident: the systemd unit whose sandbox it is (PrivateNetwork=) */
};
#define NETNS_IDENT_MAX 44
/* The table of a namespace's description record (kind, names, host links). */
#define NETNS_META 0xff

/* One table of one other network namespace: which namespace (its identity, and its index in the
 * caller's list of namespaces), which table (enum snap_table or NETNS_META) and the fingerprint
 * of what a report carries for it. The records themselves live in that namespace's snapshot. */
struct snap_netns {
	uint32_t ns;
	uint8_t table;
	uint8_t id_type; /* enum snap_netns_id */
	uint8_t id_len;
	uint8_t pad;
	uint8_t ident[NETNS_IDENT_MAX];
	uint32_t pad2;
	uint64_t content; /* never 0 */
};

struct snap_vec {
	void *v;
	uint32_t n, cap, max;
	uint32_t size;
};

struct snap_table_stats {
	uint32_t attempts;
	uint32_t dropped;    /* malformed records */
	uint32_t fields_skipped; /* malformed optional fields left out of records that were kept */
	uint32_t first_drop; /* errno of the first malformed record */
	uint32_t duplicates; /* identical records removed (a torn dump) */
	uint32_t dump_us;
	/* routes: notifications that arrived during the dump (notifications), and how many records
	 * they changed when the dump was brought up to date with them instead of retried */
	uint32_t notifications, changes_applied;
	int kernel_error;    /* the kernel refused part of the dump */
	/* routes, neighbours: the digest (route_digest, neigh_digest) of a dump parsed whole and
	 * clean, the one the records came from; 0 = none (notifications applied, duplicates, drops,
	 * truncation, a refusal) */
	uint64_t digest;
	/* routes, neighbours: the dump was the one the acknowledged state was made from in every
	 * byte a delta sees (its digest), so it was not parsed: the records are the state's (the table
	 * in the snapshot is empty); same_count is how many the dump held (kept and filtered) */
	bool same_dump;
	uint32_t same_count;
	bool truncated;      /* hit the table cap */
	bool inconsistent;   /* still unstable after the retry budget */
	bool collected;
};

struct snapshot {
	struct snap_vec t[SNAP_NTABLES];
	struct snap_vec nh;
	char *str;
	uint32_t str_len, str_cap, str_max;
	bool str_truncated;
	/* memory ran out while records were added: some may be missing, so the snapshot must not be
	 * reported or diffed (a missing record would read as a removal) */
	bool oom;
	struct snap_table_stats st[SNAP_NTABLES];
};

struct snap_limits {
	uint32_t max[SNAP_NTABLES];
	uint32_t max_nexthops;
	uint32_t max_strtab; /* bytes */
};

extern const struct snap_limits snap_default_limits;
extern const char *const snap_table_names[SNAP_NTABLES];

int snap_init(struct snapshot *s, const struct snap_limits *lim);
void snap_free(struct snapshot *s);

/* A zeroed record at the end of table t, or NULL with errno ENOSPC (cap: truncated flag set) or
 * ENOMEM. */
void *snap_push(struct snapshot *s, enum snap_table t);
/* The same, copying a whole record of table t in (the parsers build theirs on the stack: the
 * record is written once, not zeroed first). */
void *snap_put(struct snapshot *s, enum snap_table t, const void *rec);
/* A zeroed next hop (of a route, or a member of a nexthop group) for a record of table t. */
struct snap_nexthop *snap_push_nh(struct snapshot *s, enum snap_table t);

/* Copy len bytes in as a NUL-terminated string and return its offset; 0 (the empty string) for an
 * empty input, or when the table is full or memory ran out (str_truncated is then set, and the
 * report says so): a missing name never invalidates the record that carries it. */
uint32_t snap_str(struct snapshot *s, const char *p, size_t len);
static inline const char *snap_s(const struct snapshot *s, uint32_t off)
{
	return s->str + off;
}

/* The records a table holds: those in the snapshot, or the acknowledged state's when the dump was
 * the same (same_dump). */
static inline uint32_t snap_records(const struct snapshot *s, enum snap_table t)
{
	return s->st[t].same_dump ? s->st[t].same_count : s->t[t].n;
}

static inline void *snap_at(const struct snapshot *s, enum snap_table t, uint32_t i)
{
	return (char *)s->t[t].v + (size_t)i * s->t[t].size;
}

/* A position to rewind a table to before re-dumping it (tables are dumped one after another). */
struct snap_mark {
	uint32_t n, nh, str;
};
struct snap_mark snap_mark(const struct snapshot *s, enum snap_table t);
void snap_rewind(struct snapshot *s, enum snap_table t, struct snap_mark m);

/* Look up a link by ifindex (links must be sorted, see canon). NULL when absent. */
const struct snap_link *snap_link_by_index(const struct snapshot *s, uint32_t ifindex);

/* What a collection tells about itself, carried by the report's metadata (netlink/ fills it,
 * report/ writes it). */
enum procmap_status {
	PROCMAP_DISABLED,      /* turned off by configuration */
	PROCMAP_OK,            /* every readable process was looked at */
	PROCMAP_PARTIAL,       /* some processes' fd tables could not be read */
	PROCMAP_NOT_PERMITTED, /* no CAP_SYS_PTRACE: not attempted */
	PROCMAP_CAPPED,        /* stopped at the process or descriptor limit */
	PROCMAP_FAILED,        /* /proc could not be opened */
};

extern const char *const procmap_status_names[];

struct procmap_stats {
	enum procmap_status status;
	uint32_t wanted;     /* sockets with an inode */
	uint32_t attributed; /* sockets given a pid */
	uint32_t processes;  /* process directories visited */
	uint32_t unreadable; /* fd tables we were refused */
	uint32_t fds;        /* descriptors examined */
	uint32_t walk_us;
};

struct collect_stats {
	struct procmap_stats proc;
	uint64_t netns_inode;
	uint32_t total_us;
	bool monitor;     /* change notifications were available for the stability check */
	bool tcp_compat;  /* both TCP families in one walk */
	bool ipv6;        /* the kernel answered IPv6 dumps */
};

/* Microseconds of CLOCK_MONOTONIC: the one clock behind every timing a report carries. */
uint64_t snap_mono_us(void);

#endif
