/*
 * canon: canonical order for every table. Records sort by their identity key (a link by ifindex; an
 * address by family, interface, address, prefix; a neighbour by family, interface, address; a route
 * by family, table, destination, prefix length, TOS, metric, type; a socket by protocol, family,
 * local and remote endpoint) and then by every remaining field, so two equal tables always produce
 * byte-identical reports, and two records that compare equal are the same record seen twice (a torn
 * dump), which canon_dedup removes and counts. canon_fingerprint hashes a sorted table (strings and
 * next hops by value, not by offset) so two dumps of an unchanged table agree.
 */
#ifndef NETINV_CANON_H
#define NETINV_CANON_H

#include <stdint.h>
#include "snapshot.h"

int canon_cmp(const struct snapshot *s, enum snap_table t, const void *a, const void *b);
/* Sort table t; a table that is already in order (the kernel's dump order often is) costs one pass.
 * Returns 1 when the table may hold identical records (canon_dedup is needed), 0 when the pass
 * proved it does not. */
int canon_sort(struct snapshot *s, enum snap_table t);
/* Remove records identical to their predecessor in a sorted table; returns how many went. */
uint32_t canon_dedup(struct snapshot *s, enum snap_table t);
uint64_t canon_fingerprint(const struct snapshot *s, enum snap_table t);


/* A rule's identity: every field (the kernel has no other key for a rule). */
uint64_t canon_rule_hash(const struct snapshot *s, const struct snap_rule *r);
/* Identity and content of a record for deltas. */
#include <stdbool.h>
#include "keys.h"

enum canon_keying { KEYING_EXACT = 0, KEYING_FLOW = 1 };

struct canon_opts {
	enum canon_keying keying;
	bool include_time_wait; /* TIME_WAIT sockets are left out by default */
	/* NOARP neighbour entries (the kernel's multicast and broadcast mappings, 33:33:.. for
	 * ff02::/16) are left out by default, as `ip neigh show` leaves them out */
	bool all_neighbors;
	uint32_t self_pid;      /* sockets of this process (the agent's own) are left out; 0 = none */
	/* connections to the fleet server (as last seen by curl) are the agent's own too, also the
	 * ones a previous run left closing; peer_family 0 = none */
	uint8_t peer_family;
	uint8_t peer_addr[16];
	uint16_t peer_port;
};

struct canon_ctx {
	const struct snapshot *s;
	const struct canon_opts *o;
	uint8_t *listening; /* bitmap: (proto is UDP) * 65536 + port -> a listening socket exists */
};

int canon_ctx_init(struct canon_ctx *c, const struct snapshot *s, const struct canon_opts *o);
void canon_ctx_free(struct canon_ctx *c);
/* false when the record is left out of reports and state (noise control). */
bool canon_keep(const struct canon_ctx *c, enum snap_table t, uint32_t i);
/* The persisted key (STATE_KEY_LEN bytes, zero padded) and the two fingerprints of record i. The
 * identity hashes the key plus identity fields that do not fit in it; the content hashes every
 * non-volatile field outside the identity. */
void canon_key(const struct canon_ctx *c, enum snap_table t, uint32_t i, uint8_t key[STATE_KEY_LEN]);
void canon_fps(const struct canon_ctx *c, enum snap_table t, uint32_t i, const uint8_t *key,
	       uint64_t *id, uint64_t *content);
/* Is this socket a client-side connection (its local port is not a listening port here)? */
bool canon_client_side(const struct canon_ctx *c, const struct snap_sock *k);
/* Neighbour reachability moves REACHABLE -> STALE -> DELAY -> PROBE on its own every few minutes;
 * those are one "dynamic" state for change detection (PERMANENT, NOARP, FAILED, INCOMPLETE stay). */
uint16_t canon_nud_class(uint16_t state);

#endif
