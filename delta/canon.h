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
/* Sort table t; a table that is already in order (the kernel's dump order often is) costs one pass. */
int canon_sort(struct snapshot *s, enum snap_table t);
/* Remove records identical to their predecessor in a sorted table; returns how many went. */
uint32_t canon_dedup(struct snapshot *s, enum snap_table t);
uint64_t canon_fingerprint(const struct snapshot *s, enum snap_table t);

#endif
