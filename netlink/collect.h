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
 */
#ifndef NETINV_COLLECT_H
#define NETINV_COLLECT_H

#include <stdbool.h>
#include <stdint.h>
#include "procmap.h"

struct snapshot;

#define COLLECT_MAX_ATTEMPTS 4

struct collect_opts {
	unsigned int tables;     /* bit mask of 1 << SNAP_*; links are always dumped (names) */
	bool processes;          /* attribute sockets to processes */
	const char *proc_root;   /* "/proc" */
	struct procmap_limits proc_limits;
	unsigned int max_attempts;
};

/* 0, or a negative errno when netlink itself is unusable (no socket, no permission). */
int collect_run(struct snapshot *s, const struct collect_opts *o, struct collect_stats *st);

#endif
