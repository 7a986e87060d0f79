/*
 * keys: the persisted identity key of each record type. A record of the acknowledged state is
 * 64 bytes: identity fingerprint (8), content fingerprint (8) and this 48-byte key, which is what a
 * removal is reported with once the record itself is gone. Layouts are fixed, little-endian, zero
 * padded; they are part of the state file format (versions 1 and 2).
 */
#ifndef NETINV_KEYS_H
#define NETINV_KEYS_H

#include <stdint.h>

#define STATE_KEY_LEN 48
/* A content fingerprint no record has (canon_fps never yields it): the record went out in a report
 * whose reply never came, so the server may hold it in any version, or not at all. It matches no
 * current content, so the next report sends the record again, or its removal. */
#define STATE_CONTENT_UNKNOWN 0

struct key_link {
	uint32_t ifindex;
	char name[16];
};

/* An address (aux = prefix length) or a neighbour (aux = 1 for a proxy entry) on an interface. */
struct key_ifaddr {
	uint8_t family, aux, pad[2];
	uint32_t ifindex;
	uint8_t addr[16];
	char ifname[16]; /* the interface's name when the record was acknowledged */
};

struct key_route {
	uint8_t family; /* | KEY_ROUTE_GW6 when an IPv4 route has an IPv6 next hop (RTA_VIA) */
	uint8_t dst_len, tos, type;
	uint32_t table, metric, oif; /* oif and gw are 0 for multipath: its hops are content */
	uint8_t dst[16];
	uint8_t gw[16];
};
#define KEY_ROUTE_GW6 0x80

/* A rule is nothing but its selectors and action: any change is another rule. */
struct key_rule {
	uint8_t family, action, pad[2];
	uint32_t priority, table;
	uint32_t pad2;
	uint64_t selectors; /* canon_rule_hash: every field of the rule */
};

struct key_nhobj {
	uint32_t id; /* NHA_ID */
};

struct key_sock {
	uint8_t proto, family;
	uint8_t flow; /* client side keyed without its ephemeral local port */
	uint8_t listener;
	uint32_t ifindex;
	uint16_t sport, dport;
	uint16_t ordinal; /* n-th socket with the same key (SO_REUSEPORT, flow keying) */
	uint8_t pad[2];
	uint8_t src[16];
	uint8_t dst[16];
};

/* A table of another network namespace: its identity (the report's id and id_type) and the table
 * (enum snap_table, or NETNS_META for the namespace's description). */
struct key_netns {
	uint8_t table, id_type, id_len, pad;
	uint8_t ident[44];
};

_Static_assert(sizeof(struct key_netns) == STATE_KEY_LEN, "key_netns");
_Static_assert(sizeof(struct key_link) <= STATE_KEY_LEN, "key_link");
_Static_assert(sizeof(struct key_ifaddr) <= STATE_KEY_LEN, "key_ifaddr");
_Static_assert(sizeof(struct key_route) == STATE_KEY_LEN, "key_route");
_Static_assert(sizeof(struct key_sock) == STATE_KEY_LEN, "key_sock");
_Static_assert(sizeof(struct key_rule) <= STATE_KEY_LEN, "key_rule");
_Static_assert(sizeof(struct key_nhobj) <= STATE_KEY_LEN, "key_nhobj");

struct state_rec {
	uint64_t id;
	uint64_t content;
	uint8_t key[STATE_KEY_LEN];
};
_Static_assert(sizeof(struct state_rec) == 64, "state_rec is 64 bytes on disk and in memory");

#endif
