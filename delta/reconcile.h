/*
 * reconcile: bring a route table dumped under churn up to date with the change notifications that
 * arrived while it was being dumped, as routing daemons reconcile a dump with the event stream, so
 * the table is what the kernel held when the last notification was sent instead of a dump to retry.
 *
 * Sound only where the dump resumes by key and every change is announced: IPv4's FIB dump resumes
 * at the prefix it stopped in, so an untouched route is read exactly once whatever changes around
 * it, except within the prefix a datagram ended in (the dump resumes there by index: a "seam") and
 * across a table created meanwhile (tables are walked by position). IPv6's dump restarts by
 * position once its tree changes, so an IPv6 notification is never applied. The caller checks the
 * rest (no NLM_F_DUMP_INTR, no duplicate, no lost notification, no link, address or nexthop object
 * change that can flush routes silently); reconcile_routes refuses, changing nothing, whatever it
 * cannot place exactly: a notification in a seam's prefix or a table the dump did not hold, an
 * identity the dump holds twice (routes added with NLM_F_APPEND), an appended route, an IPv6 one.
 *
 * A route's identity here is the kernel's: family, table, destination and prefix length, TOS,
 * metric, source prefix. The last notification of an identity decides: RTM_NEWROUTE puts the route
 * in (in place of what the dump held), RTM_DELROUTE takes it out.
 */
#ifndef NETINV_RECONCILE_H
#define NETINV_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include "snapshot.h"

/* An IPv4 prefix of one table: where a datagram of the dump ended. */
struct route_leaf {
	uint32_t table;
	uint8_t dst[4];
	uint8_t dst_len;
	uint8_t pad[3];
};

struct route_seams {
	struct route_leaf *v; /* the caller's array of max */
	uint32_t n, max;
	bool overflow;
	bool have_last;
	uint32_t last_dgram;
	struct route_leaf last;
};

/* Notifications as parsed records: ev's route table in arrival order, removal[i] set for an
 * RTM_DELROUTE. */
struct route_events {
	struct snapshot ev;
	uint8_t *removal;
	uint32_t cap;
	uint32_t max;     /* more than this many notifications: give up (unusable) */
	bool unusable;    /* one arrived that cannot be applied (appended route, malformed, full) */
	struct route_seams seams; /* of the dump the notifications are applied to */
};

/* max notifications, and room for max_seams seams. 0 or -ENOMEM. */
int route_events_init(struct route_events *e, uint32_t max, uint32_t max_seams);
/* Empty, before a dump (the seams) and the notifications that follow it. */
void route_events_reset(struct route_events *e);
void route_events_free(struct route_events *e);
/* Record that the record just parsed into e->ev (the last of its route table) was announced as a
 * removal or not. 0, or -ENOMEM / -ENOSPC (e is then unusable). */
int route_events_note(struct route_events *e, bool removal);

/* Apply e to s's route table, which canon_sort and canon_dedup have ordered (e's seams are sorted
 * in place on the way). Returns the number of
 * notifications that changed the table (>= 0), or -EAGAIN when the notifications cannot be placed
 * exactly (s is unchanged), or -ENOMEM / -ENOSPC when records could not be added (s is unchanged
 * apart from its oom or truncated flag). The table is in canonical order afterwards. */
int reconcile_routes(struct snapshot *s, const struct route_events *e);

#endif
