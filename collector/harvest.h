/*
 * harvest: what the dry run and the check-in share. Open the state directory (lock, identity,
 * acknowledged state, agent status), collect the tables over netlink, diff them against the
 * acknowledged state, fill the report's metadata, and log the one summary line of a run.
 */
#ifndef NETINV_HARVEST_H
#define NETINV_HARVEST_H

#include "cli.h"
#include "config.h"
#include "namespaces.h"
#include "run.h"
#include "state.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../netlink/procmap.h"
#include "../report/report.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/utsname.h>

struct run_state {
	struct state_dir sd;
	bool have_dir;
	char uuid[37];
	bool have_identity;
	struct acked_state acked; /* with the unconfirmed records merged in (content unknown) */
	bool have_acked;
	/* Records of reports sent whose replies never came, not yet folded into acked.state on disk
	 * (empty once they are); unconfirmed.state exists while unconf_on_disk. */
	struct acked_state unconf;
	bool unconf_on_disk;
	uint64_t unconf_seq;    /* what unconfirmed.state said when the run began (for status) */
	int64_t unconf_at;
	uint32_t unconf_records;
	/* the last sequence number used: accepted, or sent unconfirmed (never used twice) */
	uint64_t base_seq;
	struct agent_status as; /* agent.status, read once (defaults when there is none) */
	/* acked.state is read and decoded by a thread of its own while the tables are dumped
	 * (run_state_load_async); run_state_acked joins it and finishes the load */
	struct acked_reader *reader;
	bool acked_done;
};

/* One collection and its delta against the acknowledged state. */
struct harvest {
	struct snapshot s;
	struct collect_stats cs;
	struct canon_opts copts;
	struct canon_ctx cc;
	struct delta d;
	unsigned tables;
	struct names_conf *names; /* the iproute2 configuration's names, read once per run */
	struct procmap pm;        /* the /proc walk: socket owners, the namespace census */
	struct ns_set ns;         /* the other network namespaces */
};

enum run_outcome run_state_outcome(enum state_err e, bool writing);
/* Open the state directory, find the identity (creating it only for a committing run) and the
 * acknowledged state. A corrupt state is not an error: it means a full snapshot. */
enum run_outcome run_state_load(const struct settings *set, bool commit, struct run_state *rs);
/* The same without acked.state (megabytes on a host with a full routing table) and what depends
 * on it: harvest reads it on a thread of its own while the tables are dumped (run_state_prefetch),
 * and a run that ends before collecting (not due, backing off) never reads it. Until
 * run_state_acked, rs->acked, have_acked, base_seq and the unconfirmed records are not to be read. */
enum run_outcome run_state_load_async(const struct settings *set, bool commit, struct run_state *rs);
/* Start reading acked.state on a thread (or leave it to run_state_acked when none can be had). */
void run_state_prefetch(struct run_state *rs);
/* Wait for the reader (or read here) and merge what it read: RUN_OK, or the load's error.
 * Idempotent. */
enum run_outcome run_state_acked(struct run_state *rs);
void run_state_free(struct run_state *rs);
/* Walk /proc, open the other namespaces' sockets and give up CAP_SYS_ADMIN, collect the tables
 * (1 << SNAP_*) of the host and of every namespace, and diff them against st's acknowledged
 * state. keyed false: nothing of this run is acknowledged or persisted (a dry run), so a full
 * snapshot is built without identities (delta_build_unkeyed). */
enum run_outcome harvest(const struct cli_opts *o, const struct settings *set,
			 struct run_state *st, unsigned tables, bool keyed, struct harvest *h);
void harvest_free(struct harvest *h);
void harvest_meta(struct report_meta *m, const struct settings *set, const struct run_state *st,
		  struct harvest *h, struct utsname *u, char *fqdn, size_t fqdn_len);
/* The run's one summary line (outcome: "dry-run", "check-in"; more: appended, or NULL). */
void harvest_summary(const struct harvest *h, const char *outcome, const char *what, uint64_t bytes,
		     uint64_t gz_bytes, uint64_t encode_us, const char *more);

#endif
