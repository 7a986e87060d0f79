/*
 * cli: argv to options. Validates every flag (unknown collectors, bad levels, missing values) and
 * reports the first problem as one line naming it; no side effects.
 */
#ifndef NETINV_CLI_H
#define NETINV_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "log.h"

enum cli_mode { MODE_NONE, MODE_DRY_RUN, MODE_COMMIT_DRY_RUN, MODE_STATUS, MODE_HELP, MODE_VERSION };
enum cli_format { FMT_AUTO, FMT_PRETTY, FMT_COMPACT };

struct cli_opts {
	enum cli_mode mode;
	enum cli_format format;
	const char *output;    /* NULL = stdout */
	const char *state_dir; /* flag > NETINV_STATE_DIR > /var/lib/netinv */
	const char *import_dir; /* a Graphēon agent's state to take the identity from */
	unsigned int tables;   /* 1 << SNAP_* */
	bool processes;
	bool full;             /* ignore the acknowledged state: full snapshot */
	bool flow_keying;      /* connection_keying=flow */
	bool include_time_wait;
	bool gzip;             /* write the report gzip-compressed, as it would be sent */
	enum log_level log_level;
};

/* 0, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen);
/* Parse a --only list ("addresses,routes"); 0 or -1 naming the bad item in err. */
int cli_parse_tables(const char *list, unsigned int *out, char *err, size_t errlen);
void cli_usage(FILE *f);

#endif
