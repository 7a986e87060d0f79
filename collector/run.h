/*
 * run: one run of netinv, end to end, returning an outcome that main() maps to an exit code. Today
 * that is the dry run: collect, encode, write the report to stdout or a file, log a summary line.
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
	RUN_CANTCREAT, /* output file */
	RUN_IOERR,     /* writing the report */
};

enum run_outcome run_dry(const struct cli_opts *o);

#endif
