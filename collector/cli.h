/*
 * cli: argv to options. Mode flags and output options are parsed here; every setting flag
 * (--server-url, --state-dir, ...) comes from config's table and is handed to config_load, which
 * applies one precedence to all of them. Validates every flag and reports the first problem as one
 * line naming it; no side effects.
 */
#ifndef NETINV_CLI_H
#define NETINV_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"

enum cli_mode {
	MODE_NONE,          /* the timer's run: register if needed, then check in when due */
	MODE_DRY_RUN,
	MODE_COMMIT_DRY_RUN,
	MODE_REGISTER_ONLY,
	MODE_CHECK_IN_ONLY,
	MODE_STATUS,
	MODE_INSTALL_KEY,
	MODE_CHECK_CONFIG,
	MODE_HELP,
	MODE_VERSION
};
enum cli_format { FMT_AUTO, FMT_PRETTY, FMT_COMPACT };

struct cli_opts {
	enum cli_mode mode;
	enum cli_format format;
	const char *output;      /* NULL = stdout */
	const char *config_path; /* --config; NULL = /etc/netinv/netinv.conf if present */
	const char *set[CFG_N];  /* setting flags given */
	const char *key_file;    /* install-key FILE */
	unsigned int tables;     /* 1 << SNAP_* */
	bool processes;
	bool full;               /* ignore the acknowledged state: full snapshot */
	bool gzip;               /* write the report gzip-compressed, as it would be sent */
	bool force;              /* check in now, whatever the cadence or backoff says */
	bool no_jitter;
	bool connect;            /* --check-config --connect: also reach the server */
	bool json;               /* status --json */
};

/* The exit codes and what each means: the one source of --help, and what netinv(8) and README
 * are tested against. */
struct exit_status {
	int code;
	const char *meaning;
};
extern const struct exit_status exit_statuses[];
extern const size_t n_exit_statuses;

/* 0, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen);
/* Parse a --only list ("addresses,routes"); 0 or -1 naming the bad item in err. */
int cli_parse_tables(const char *list, unsigned int *out, char *err, size_t errlen);
void cli_usage(FILE *f);

#endif
