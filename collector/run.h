/*
 * run: one run of netinv, end to end, returning an outcome that main() maps to an exit code: open
 * the state directory, collect, diff against the acknowledged state, write the report, and (only
 * for --commit-dry-run until a server is wired) record it as acknowledged. And `netinv status`.
 */
#ifndef NETINV_RUN_H
#define NETINV_RUN_H

#include "cli.h"

enum run_outcome {
	RUN_OK,
	RUN_USAGE,
	RUN_UNAVAILABLE, /* netlink could not be used */
	RUN_NOPERM,
	RUN_SOFTWARE,
	RUN_CANTCREAT, /* output file, state file */
	RUN_IOERR,     /* writing the report, reading state */
	RUN_LOCKED,    /* another run holds the state lock */
	RUN_UNSAFE,    /* the state directory is not safe to use */
	RUN_DATAERR,   /* the identity file is unusable */
};

enum run_outcome run_report(const struct cli_opts *o, bool commit);
enum run_outcome run_status(const struct cli_opts *o);

#endif
