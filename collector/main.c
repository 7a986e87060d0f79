/*
 * main: argv -> mode -> exit code. The only place outcomes become sysexits-style exit codes.
 */
#include "cli.h"
#include "log.h"
#include "run.h"

#include <stdio.h>
#include <string.h>
#include <netlink/version.h>

#ifndef NETINV_VERSION
#define NETINV_VERSION "0.0.0"
#endif
#ifndef LIBMNL_BUILD_VERSION
#define LIBMNL_BUILD_VERSION "unknown"
#endif

enum { EX_OK_ = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_UNAVAILABLE_ = 69, EX_SOFTWARE_ = 70,
       EX_CANTCREAT_ = 73, EX_IOERR_ = 74, EX_TEMPFAIL_ = 75, EX_NOPERM_ = 77, EX_CONFIG_ = 78 };

static int exit_code(enum run_outcome o)
{
	switch (o) {
	case RUN_OK:
		return EX_OK_;
	case RUN_USAGE:
		return EX_USAGE_;
	case RUN_UNAVAILABLE:
		return EX_UNAVAILABLE_;
	case RUN_NOPERM:
		return EX_NOPERM_;
	case RUN_CANTCREAT:
		return EX_CANTCREAT_;
	case RUN_IOERR:
		return EX_IOERR_;
	case RUN_LOCKED:
		return EX_TEMPFAIL_;
	case RUN_UNSAFE:
		return EX_CONFIG_;
	case RUN_DATAERR:
		return EX_DATAERR_;
	case RUN_SOFTWARE:
	default:
		return EX_SOFTWARE_;
	}
}

static void version(void)
{
	printf("netinv %s\n", NETINV_VERSION);
	printf("libmnl %s (build)\n", LIBMNL_BUILD_VERSION);
	printf("libnl %d.%d.%d (runtime), %s (build)\n", nl_ver_maj, nl_ver_min, nl_ver_mic,
	       LIBNL_STRING);
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	char err[256];

	if (cli_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		log_setup(LOG_LVL_INFO);
		log_error("%s", err);
		return EX_USAGE_;
	}
	log_setup(o.log_level);
	switch (o.mode) {
	case MODE_HELP:
		cli_usage(stdout);
		return EX_OK_;
	case MODE_VERSION:
		version();
		return EX_OK_;
	case MODE_DRY_RUN:
		return exit_code(run_report(&o, false));
	case MODE_COMMIT_DRY_RUN:
		return exit_code(run_report(&o, true));
	case MODE_STATUS:
		return exit_code(run_status(&o));
	case MODE_NONE:
	default:
		log_error("no mode given: netinv %s collects with --dry-run (fleet server check-ins "
			  "are not in this version); see --help",
			  NETINV_VERSION);
		return EX_USAGE_;
	}
}
