/*
 * collect: one consistent collection of the selected tables into a snapshot. Each table is dumped,
 * sorted into canonical order and checked for stability; an unstable dump is retried a bounded
 * number of times and, failing that, kept but marked inconsistent in the stats.
 *
 * Stability. The kernel sets NLM_F_DUMP_INTR only where a table keeps a generation counter (links,
 * addresses, IPv6 routes); IPv4 route, neighbour and socket dumps resume by position between
 * datagrams and tear silently under churn (measured on 6.18: duplicated and skipped entries). So a
 * dump counts as stable only when (a) no message carried NLM_F_DUMP_INTR, (b) it holds no record
 * twice, and (c) no change notification for that table arrived on a multicast listener opened before
 * the dump began, or, when one did, the table's fingerprint equals the previous attempt's (state
 * changes such as a neighbour going STALE do not move entries). Sockets have no creation
 * notifications; their check is (a) and (b), since an insert before the resume point shows up as a
 * duplicate.
 *
 * Unchanged routes and neighbours are not parsed: when the caller holds the digest of the dump its
 * acknowledged records came from, the table is first dumped only to digest it (the kernel's cost
 * and a hash), and a dump identical to that one in every byte a delta sees, with no change
 * announced meanwhile, is reported as the same instead (same_dump). Any difference costs one more
 * dump, which is then parsed.
 *
 * Routes under churn are not retried: the route notifications that arrive while the table is
 * dumped are parsed and applied to the dump (delta/reconcile.h says when that is exact and when it
 * refuses), so the table is as of the last notification. Only when they cannot be applied is the
 * table checked and retried as above.
 */
#ifndef NETINV_COLLECT_H
#define NETINV_COLLECT_H

#include <stdbool.h>
#include <stdint.h>
#include "nl.h"
#include "../delta/snapshot.h"

struct snapshot;

#define COLLECT_MAX_ATTEMPTS 4

struct collect_opts {
	unsigned int tables;     /* bit mask of 1 << SNAP_*; links are always dumped (names) */
	unsigned int max_attempts;
	/* the links are in the snapshot already: this is a second collection of other tables */
	bool skip_links;
	/* Route and neighbour dump digests (snap_table_stats.digest), chained from this seed; 0 =
	 * none. The seed stands for everything besides the bytes that shapes what a delta sees of
	 * the records (the parser's version, options); a neighbour digest adds the links' names. */
	uint64_t digest_seed;
	/* Per table (routes, neighbours), non-zero (with a seed and a change listener): the digest
	 * the acknowledged records were made from. The table is first dumped only to digest it; when
	 * nothing announced a change and the digest is this, it is left empty with same_dump set,
	 * else dumped again and parsed. */
	uint64_t same[SNAP_NTABLES];
	/* the neighbour digest covers NUD_NOARP entries (the snapshot keeps them: all_neighbors) */
	bool all_neighbors;
};

/* The sockets one namespace's collection uses: requests (rt), sock_diag (sd) and the change
 * listener (mon). They belong to the namespace they were opened in, wherever the process is later,
 * which is how other namespaces are read: opened there, used from here. */
struct collect_socks {
	struct nlconn rt, sd, mon;
	bool have_sd, have_mon;
};

/* Open the sockets in the current network namespace (sd only when tables has SNAP_SOCKS; mon when
 * the kernel allows). 0 or a negative errno. */
int collect_open(struct collect_socks *k, unsigned int tables);
/* Sockets of another namespace: never re-opened (that would open them here); a request socket
 * that lost sync is drained instead, and a table it cannot dump is reported as refused. */
void collect_pin(struct collect_socks *k);
void collect_close(struct collect_socks *k);
/* Collect the selected tables over k into s. 0 (a refused table is a stat, not an error). */
int collect_run_on(struct collect_socks *k, struct snapshot *s, const struct collect_opts *o,
		   struct collect_stats *st);
/* The id by which k's namespace knows the namespace behind ns_fd (RTM_GETNSID): the
 * IFLA_LINK_NETNSID its links carry for a peer there. 0 with *nsid (-1: none assigned), or a
 * negative errno. */
int collect_peer_nsid(struct collect_socks *k, int ns_fd, int32_t *nsid);
/* collect_open + collect_run_on + collect_close in the current namespace: 0, or a negative errno
 * when netlink itself is unusable (no socket, no permission). */
int collect_run(struct snapshot *s, const struct collect_opts *o, struct collect_stats *st);

#endif
