/*
 * run: one run of netinv, end to end, returning an outcome that main() maps to an exit code: open
 * the state directory, collect, diff against the acknowledged state, write the report, and (only
 * for --commit-dry-run) record it as acknowledged; the agent's run against the fleet server
 * (register, wait for approval, check in when due, in parts); install-key, status, check-config.
 */
#ifndef NETINV_RUN_H
#define NETINV_RUN_H

#include "cli.h"
#include "config.h"

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
	RUN_DATAERR,   /* the identity or key file is unusable; the server found the report invalid */
	RUN_TEMPFAIL,  /* the server is unavailable for now: retry later */
	RUN_PROTOCOL,  /* the server answered outside the protocol */
	RUN_CONFIG,    /* configuration missing or wrong */
};

enum run_outcome run_report(const struct cli_opts *o, const struct config *cfg, bool commit);
enum run_outcome run_agent(const struct cli_opts *o, struct config *cfg);
enum run_outcome run_install_key(const struct cli_opts *o, struct config *cfg);
enum run_outcome run_check_config(const struct cli_opts *o, struct config *cfg);
enum run_outcome run_status(const struct cli_opts *o, struct config *cfg);

#endif
