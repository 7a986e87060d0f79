#include "cli.h"
#include "../delta/snapshot.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_TABLES ((1u << SNAP_NTABLES) - 1)

void cli_usage(FILE *f)
{
	fputs("Usage: netinv [OPTIONS]\n"
	      "       netinv status [--state-dir DIR]\n"
	      "\n"
	      "Collect this host's network inventory (links, addresses, neighbours, routes in every\n"
	      "table, TCP/UDP sockets with their processes) over netlink and report it.\n"
	      "\n"
	      "Modes:\n"
	      "  --dry-run             collect and print the report that would be sent: the delta\n"
	      "                        against the acknowledged state (nothing is written)\n"
	      "  --commit-dry-run      as --dry-run, then record the report as acknowledged, as if\n"
	      "                        a server had accepted it (testing and manual baselines)\n"
	      "  status                identity, last accepted report, sequence number, state counts\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version and the libraries in use\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE     write the report to FILE (mode 0600) instead of stdout\n"
	      "  --pretty              indented JSON (the default when stdout is a terminal)\n"
	      "  --compact             one-line JSON (the default otherwise)\n"
	      "  --gzip                write the report gzip-compressed, as it would be sent\n"
	      "  --only LIST           collect only these tables, comma-separated:\n"
	      "                        links, addresses, neighbors, routes, sockets\n"
	      "  --no-processes        do not attribute sockets to processes (no /proc walk)\n"
	      "  --full                report everything, not the delta\n"
	      "  --connection-keying MODE  exact (default): a connection is its full 4-tuple;\n"
	      "                        flow: client connections are keyed without their ephemeral\n"
	      "                        local port, so reconnects are not reported as new\n"
	      "  --include-time-wait   report TIME_WAIT sockets (left out by default)\n"
	      "  --state-dir DIR       state directory (default $NETINV_STATE_DIR, else\n"
	      "                        /var/lib/netinv)\n"
	      "  --import-from DIR     Graphēon agent state to take the identity from on first run\n"
	      "                        (default /var/lib/grapheon-agent)\n"
	      "  --log-level LEVEL     error, warning, notice, info (default), debug\n"
	      "\n"
	      "Examples:\n"
	      "  netinv --dry-run                         full report, pretty on a terminal\n"
	      "  netinv --dry-run --only addresses,routes\n"
	      "  netinv --dry-run --compact -o /tmp/inventory.json\n"
	      "  netinv --dry-run --full                  everything, ignoring the acknowledged state\n"
	      "  netinv status\n"
	      "  ip netns exec blue netinv --dry-run      inventory of another network namespace\n"
	      "\n"
	      "Exit status: 0 ok, 64 usage, 65 unusable identity file, 69 netlink unavailable,\n"
	      "70 internal error, 73 cannot create the output or state file, 74 read/write error,\n"
	      "75 another run holds the lock, 77 permission denied, 78 unsafe state directory.\n",
	      f);
}

int cli_parse_tables(const char *list, unsigned int *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int t;
	} names[] = { { "links", SNAP_LINKS },	   { "addresses", SNAP_ADDRS },
		      { "neighbors", SNAP_NEIGH }, { "neighbours", SNAP_NEIGH },
		      { "routes", SNAP_ROUTES },   { "sockets", SNAP_SOCKS },
		      { "connections", SNAP_SOCKS } };
	unsigned int mask = 0;
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool found = false;

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n)) {
				mask |= 1u << names[i].t;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen,
				 "--only: unknown table '%.*s' (expected links, addresses, neighbors, "
				 "routes, sockets)",
				 (int)(n > 64 ? 64 : n), p);
			return -1;
		}
		p += n + (e ? 1 : 0);
	}
	if (!mask) {
		snprintf(err, errlen, "--only: empty table list");
		return -1;
	}
	*out = mask;
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen)
{
	enum { OPT_DRY = 256, OPT_PRETTY, OPT_COMPACT, OPT_ONLY, OPT_NOPROC, OPT_STATE, OPT_LOG,
	       OPT_COMMIT, OPT_FULL, OPT_KEYING, OPT_TW, OPT_IMPORT, OPT_GZIP };
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "output", required_argument, NULL, 'o' },
		{ "pretty", no_argument, NULL, OPT_PRETTY },
		{ "compact", no_argument, NULL, OPT_COMPACT },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "no-processes", no_argument, NULL, OPT_NOPROC },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "commit-dry-run", no_argument, NULL, OPT_COMMIT },
		{ "full", no_argument, NULL, OPT_FULL },
		{ "connection-keying", required_argument, NULL, OPT_KEYING },
		{ "include-time-wait", no_argument, NULL, OPT_TW },
		{ "import-from", required_argument, NULL, OPT_IMPORT },
		{ "gzip", no_argument, NULL, OPT_GZIP },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->tables = ALL_TABLES;
	o->processes = true;
	o->state_dir = getenv("NETINV_STATE_DIR");
	if (!o->state_dir || !*o->state_dir)
		o->state_dir = "/var/lib/netinv";
	o->import_dir = "/var/lib/grapheon-agent";
	o->log_level = LOG_LVL_INFO;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVo:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY:
			o->mode = MODE_DRY_RUN;
			break;
		case OPT_COMMIT:
			o->mode = MODE_COMMIT_DRY_RUN;
			break;
		case OPT_FULL:
			o->full = true;
			break;
		case OPT_TW:
			o->include_time_wait = true;
			break;
		case OPT_KEYING:
			if (!strcmp(optarg, "flow")) {
				o->flow_keying = true;
			} else if (!strcmp(optarg, "exact")) {
				o->flow_keying = false;
			} else {
				snprintf(err, errlen,
					 "--connection-keying: unknown mode '%.32s' (expected exact or "
					 "flow)",
					 optarg);
				return -1;
			}
			break;
		case OPT_IMPORT:
			o->import_dir = optarg;
			break;
		case OPT_GZIP:
			o->gzip = true;
			break;
		case 'h':
			o->mode = MODE_HELP;
			return 0;
		case 'V':
			o->mode = MODE_VERSION;
			return 0;
		case 'o':
			if (!*optarg) {
				snprintf(err, errlen, "--output: empty file name");
				return -1;
			}
			o->output = optarg;
			break;
		case OPT_PRETTY:
			o->format = FMT_PRETTY;
			break;
		case OPT_COMPACT:
			o->format = FMT_COMPACT;
			break;
		case OPT_ONLY:
			if (cli_parse_tables(optarg, &o->tables, err, errlen) < 0)
				return -1;
			break;
		case OPT_NOPROC:
			o->processes = false;
			break;
		case OPT_STATE:
			if (!*optarg) {
				snprintf(err, errlen, "--state-dir: empty path");
				return -1;
			}
			o->state_dir = optarg;
			break;
		case OPT_LOG:
			if (log_parse_level(optarg, &o->log_level) < 0) {
				snprintf(err, errlen,
					 "--log-level: unknown level '%.32s' (expected error, warning, "
					 "notice, info, debug)",
					 optarg);
				return -1;
			}
			break;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		default:
			snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "status") && o->mode == MODE_NONE) {
		o->mode = MODE_STATUS;
		optind++;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%.64s' (see --help)", argv[optind]);
		return -1;
	}
	return 0;
}
