/*
 * metrics: the run's figures for node_exporter's textfile collector. The timer's runs (register,
 * check in, or skip) fill one record as they go (what was collected, what changed, what went out,
 * how it ended) and main() writes it, success or failure, to `metrics_file`: Prometheus text
 * exposition format, `netinv_` names, gauges only (each value is this run's, or a timestamp), written
 * to a temporary file in the same directory and renamed over the old one (mode 0644), so the
 * collector never reads half a file. Writing it never changes the run's exit code.
 */
#ifndef NETINV_METRICS_H
#define NETINV_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../delta/snapshot.h"

struct run_metrics {
	uint64_t start_us;        /* CLOCK_MONOTONIC at the start of the run (after any wait) */
	uint32_t waited_s;        /* seconds the run waited for its slot or jitter offset */
	bool collected;           /* a collection happened this run */
	unsigned tables;          /* 1 << SNAP_*: the tables collected */
	uint32_t records[SNAP_NTABLES];
	uint32_t added[SNAP_NTABLES], changed[SNAP_NTABLES], removed[SNAP_NTABLES];
	uint32_t dump_us[SNAP_NTABLES];
	uint32_t inconsistent;    /* tables still changing after the retries */
	uint64_t bytes, gz_bytes; /* what went out (a dry run: what would have) */
	unsigned parts;
	uint32_t ns_found, ns_read;
	bool have_agent;          /* the agent's state was read: the fields below hold */
	int64_t last_success;     /* the last accepted check-in, unix seconds, 0 = never */
	unsigned failures;        /* consecutive failed attempts */
	char agent_uuid[37], agent_id[72];
	const char *outcome;      /* what the run did: checked_in, registered, pending, not_due,
				   * backing_off; NULL: named after the exit code */
};

/* The one record of this process's run. */
extern struct run_metrics run_metrics;

/* Render m into buf (at most len bytes): the exposition text. Returns its length, or -1 when it does
 * not fit. Pure; exposed for tests. */
int metrics_render(char *buf, size_t len, const struct run_metrics *m, const char *version,
		   const char *outcome, int exit_code, int64_t now);
/* Write it atomically to path (temp file in the same directory, fsync, rename; mode 0644). 0, or -1
 * with a one-line reason in err. */
int metrics_write(const char *path, const struct run_metrics *m, const char *version,
		  const char *outcome, int exit_code, char *err, size_t errlen);

#endif
