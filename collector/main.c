/*
 * main: argv -> mode -> exit code. The only place outcomes become sysexits-style exit codes.
 */
#include "cli.h"
#include "log.h"
#include "run.h"
#include "metrics.h"
#include "config.h"
#include "exec/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "../report/http.h"
#include <netlink/version.h>
#include <zlib.h>

#ifndef NETINV_VERSION
#define NETINV_VERSION "0.0.0"
#endif
#ifndef LIBMNL_BUILD_VERSION
#define LIBMNL_BUILD_VERSION "unknown"
#endif

enum { EX_OK_ = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_UNAVAILABLE_ = 69, EX_SOFTWARE_ = 70,
       EX_CANTCREAT_ = 73, EX_IOERR_ = 74, EX_TEMPFAIL_ = 75, EX_PROTOCOL_ = 76, EX_NOPERM_ = 77,
       EX_CONFIG_ = 78 };

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
	case RUN_TEMPFAIL:
		return EX_TEMPFAIL_;
	case RUN_PROTOCOL:
		return EX_PROTOCOL_;
	case RUN_CONFIG:
		return EX_CONFIG_;
	case RUN_SOFTWARE:
	default:
		return EX_SOFTWARE_;
	}
}

/* The metrics file's outcome when the run named none: after its exit code. */
static const char *outcome_name(int code)
{
	switch (code) {
	case 0:
		return "success";
	case EX_TEMPFAIL_:
		return "temporary_failure";
	case EX_CONFIG_:
		return "configuration_error";
	case EX_NOPERM_:
		return "refused";
	case EX_PROTOCOL_:
		return "protocol_error";
	case EX_DATAERR_:
		return "data_error";
	case EX_UNAVAILABLE_:
		return "unavailable";
	case EX_CANTCREAT_:
	case EX_IOERR_:
		return "io_error";
	default:
		return "internal_error";
	}
}

static void version(void)
{
	printf("netinv %s\n", NETINV_VERSION);
	printf("libmnl %s (build)\n", LIBMNL_BUILD_VERSION);
	printf("libnl %d.%d.%d (runtime), %s (build)\n", nl_ver_maj, nl_ver_min, nl_ver_mic,
	       LIBNL_STRING);
	printf("%s\n", http_curl_version());
	printf("zlib %s, cJSON %s\n", zlibVersion(), cJSON_Version());
	printf("%s\n", exec_build_note());
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	struct config cfg;
	enum log_level lvl = LOG_LVL_INFO;
	enum run_outcome out;
	char err[512];

	if (cli_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		log_setup(LOG_LVL_INFO);
		log_error("%s", err);
		return EX_USAGE_;
	}
	if (o.mode == MODE_HELP) {
		cli_usage(stdout);
		return EX_OK_;
	}
	if (o.mode == MODE_VERSION) {
		version();
		return EX_OK_;
	}
	log_setup(LOG_LVL_INFO);
	/* NETINV_CONFIG names the file as --config does (and, like it, must exist); every reader of
	 * the file (settings, the command gate, status) gets this one path */
	if (!o.config_path && getenv("NETINV_CONFIG") && *getenv("NETINV_CONFIG"))
		o.config_path = getenv("NETINV_CONFIG");
	if (config_load(&cfg, o.config_path, o.set, err, sizeof(err)) < 0) {
		log_error("configuration: %s", err);
		config_free(&cfg);
		return EX_CONFIG_;
	}
	log_parse_level(cfg.set.log_level, &lvl);
	log_setup(lvl);
	run_metrics.start_us = snap_mono_us();
	switch (o.mode) {
	case MODE_DRY_RUN:
		out = run_report(&o, &cfg, false);
		break;
	case MODE_COMMIT_DRY_RUN:
		out = run_report(&o, &cfg, true);
		break;
	case MODE_STATUS:
		out = run_status(&o, &cfg);
		break;
	case MODE_INSTALL_KEY:
		out = run_install_key(&o, &cfg);
		break;
	case MODE_CHECK_CONFIG:
		out = run_check_config(&o, &cfg);
		break;
	default:
		out = run_agent(&o, &cfg);
		/* the timer's runs (and their manual forms) leave their figures for node_exporter */
		if (*cfg.set.metrics_file) {
			int code = exit_code(out);

			if (metrics_write(cfg.set.metrics_file, &run_metrics, NETINV_VERSION,
					  run_metrics.outcome && !code ? run_metrics.outcome :
					  run_metrics.outcome && code == EX_TEMPFAIL_ ?
									 run_metrics.outcome :
									 outcome_name(code),
					  code, err, sizeof(err)) < 0)
				log_warn("%s", err);
		}
	}
	config_free(&cfg);
	return exit_code(out);
}
