#include "cli.h"
#include "../delta/snapshot.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_TABLES ((1u << SNAP_NTABLES) - 1)

const struct exit_status exit_statuses[] = {
	{ 0, "success; also: registration pending, check-in not due" },
	{ 64, "usage error: an unknown option, a missing or bad argument, a secret on the command line" },
	{ 65, "data error: the identity or key file is unusable, or the server rejected the report as invalid (422)" },
	{ 69, "netlink is unavailable (no netlink socket)" },
	{ 70, "internal error (out of memory, a bug)" },
	{ 73, "cannot create the output file or a state file (a full disk: nothing is sent)" },
	{ 74, "read or write error (the report output, the state files)" },
	{ 75, "temporary failure: the server is unreachable or failing (5xx, timeout, refused, rate limited), its reply was lost, another run holds the lock, or the run was skipped while backing off after such a failure" },
	{ 76, "the server answered outside the protocol (400, 415, 413 at the smallest part, a reply netinv cannot trust)" },
	{ 77, "refused: the server answered 401, 403 or 409, the agent is not registered, or netinv lacks a permission (netlink, the state directory's owner)" },
	{ 78, "configuration error: a setting is missing or wrong (server_url, ca_file, pin_pubkey, the server's certificate not trusted, proxy credentials, an unsafe state directory)" },
};
const size_t n_exit_statuses = sizeof(exit_statuses) / sizeof(exit_statuses[0]);

void cli_usage(FILE *f)
{
	fputs("Usage: netinv [MODE] [OPTIONS]\n"
	      "       netinv status | install-key FILE | --check-config\n"
	      "\n"
	      "Collect this host's network inventory (links, addresses, neighbours, routes in every\n"
	      "table, TCP/UDP sockets with their processes) over netlink and report what changed to\n"
	      "the fleet server.\n"
	      "\n"
	      "Modes (default: register if needed, then check in when the policy says it is due):\n"
	      "  --register-only       enroll with the enrollment key and stop (rollout)\n"
	      "  --check-in-only       collect and check in now; error when not registered\n"
	      "  --dry-run             collect and print the report that would be sent: the delta\n"
	      "                        against the acknowledged state (nothing is sent or written)\n"
	      "  --commit-dry-run      as --dry-run, then record the report as acknowledged, as if\n"
	      "                        a server had accepted it (testing and manual baselines)\n"
	      "  status                identity, registration, key prefix, policy, last accepted\n"
	      "                        report, sequence number, last error, state counts; --json\n"
	      "                        for a machine (read-only: creates nothing)\n"
	      "  install-key FILE      install an agent key rotated by an administrator\n"
	      "  --check-config        validate and print the effective configuration (secrets\n"
	      "                        redacted) with where each value came from; exit 78 on any\n"
	      "                        error. With --connect also resolve, connect, complete the\n"
	      "                        TLS handshake and make one GET, and say which step failed\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version and the libraries in use\n"
	      "\n"
	      "Run options:\n"
	      "  --force               check in now even if not due or backing off\n"
	      "  --no-jitter           do not wait for the per-agent offset (never waits on a terminal)\n"
	      "  --full                report everything, not the delta\n"
	      "  --only LIST           collect only these tables, comma-separated:\n"
	      "                        links, addresses, neighbors, routes, sockets,\n"
	      "                        rules, nexthops\n"
	      "  --no-processes        do not attribute sockets to processes (no /proc walk)\n"
	      "  -o, --output FILE     write a dry run's report to FILE (mode 0600) instead of stdout\n"
	      "  --pretty              indented JSON (the default when stdout is a terminal)\n"
	      "  --compact             one-line JSON (the default otherwise)\n"
	      "  --gzip                write the report gzip-compressed, as it would be sent\n"
	      "  --config FILE         configuration file (default /etc/netinv/netinv.conf)\n"
	      "\n"
	      "Settings (flag > NETINV_* environment > config file > GRAPHEON_AGENT_* > default):\n",
	      f);
	for (int i = 0; i < CFG_N; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s", cfg_defs[i].flag,
			 cfg_flag_is_switch((enum cfg_id)i) ? "" : " VALUE");
		fprintf(f, "  %-26s %s [%s%s%s]\n", left, cfg_defs[i].help, cfg_defs[i].key,
			*cfg_defs[i].def ? ", default " : "", cfg_defs[i].def);
	}
	fputs("\n"
	      "Secrets are never given on the command line: the enrollment key is read from\n"
	      "enrollment_key_file or the systemd credential enrollment_key (--enrollment-key,\n"
	      "--api-key and --key exist only to refuse them).\n"
	      "\n"
	      "Examples:\n"
	      "  netinv --register-only                   rollout: enroll, then wait for approval\n"
	      "  netinv --check-in-only --force           collect and report now\n"
	      "  netinv --dry-run                         the report, pretty on a terminal\n"
	      "  netinv --dry-run --only addresses,routes\n"
	      "  netinv --dry-run --full --compact -o /tmp/inventory.json\n"
	      "  netinv install-key /root/new.key         after an administrator rotated the key\n"
	      "  ip netns exec blue netinv --dry-run      inventory of another network namespace\n"
	      "\n"
	      "Exit status:\n",
	      f);
	for (size_t i = 0; i < n_exit_statuses; i++)
		fprintf(f, "  %-3d %s\n", exit_statuses[i].code, exit_statuses[i].meaning);
}

int cli_parse_tables(const char *list, unsigned int *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int t;
	} names[] = { { "links", SNAP_LINKS },	   { "addresses", SNAP_ADDRS },
		      { "neighbors", SNAP_NEIGH }, { "neighbours", SNAP_NEIGH },
		      { "routes", SNAP_ROUTES },   { "sockets", SNAP_SOCKS },
		      { "connections", SNAP_SOCKS }, { "rules", SNAP_RULES },
		      { "nexthops", SNAP_NHOBJ } };
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
				 "routes, sockets, rules, nexthops)",
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

enum { OPT_DRY = 256, OPT_PRETTY, OPT_COMPACT, OPT_ONLY, OPT_NOPROC, OPT_COMMIT, OPT_FULL, OPT_GZIP,
       OPT_REGISTER, OPT_CHECKIN, OPT_FORCE, OPT_NOJITTER, OPT_CHECKCONF, OPT_CONFIG, OPT_SECRET,
       OPT_CONNECT, OPT_JSON, OPT_SETTING = 1000 };

static const struct option base_options[] = {
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "output", required_argument, NULL, 'o' },
	{ "pretty", no_argument, NULL, OPT_PRETTY },
	{ "compact", no_argument, NULL, OPT_COMPACT },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "no-processes", no_argument, NULL, OPT_NOPROC },
	{ "commit-dry-run", no_argument, NULL, OPT_COMMIT },
	{ "full", no_argument, NULL, OPT_FULL },
	{ "gzip", no_argument, NULL, OPT_GZIP },
	{ "register-only", no_argument, NULL, OPT_REGISTER },
	{ "check-in-only", no_argument, NULL, OPT_CHECKIN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "no-jitter", no_argument, NULL, OPT_NOJITTER },
	{ "check-config", no_argument, NULL, OPT_CHECKCONF },
	{ "connect", no_argument, NULL, OPT_CONNECT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "config", required_argument, NULL, OPT_CONFIG },
	/* exact names, so getopt's prefix matching never turns a secret into another option's
	 * value (and an error message that would print it) */
	{ "enrollment-key", required_argument, NULL, OPT_SECRET },
	{ "api-key", required_argument, NULL, OPT_SECRET },
	{ "key", required_argument, NULL, OPT_SECRET },
};
#define N_BASE (sizeof(base_options) / sizeof(base_options[0]))

/* The fixed options, then one per setting (--server-url ...), then the terminator. */
static void build_options(struct option opts[N_BASE + CFG_N + 1])
{
	size_t n = N_BASE;

	memcpy(opts, base_options, sizeof(base_options));
	for (int i = 0; i < CFG_N; i++)
		opts[n++] = (struct option){ cfg_defs[i].flag + 2,
					     cfg_flag_is_switch((enum cfg_id)i) ? no_argument :
										   required_argument,
					     NULL, OPT_SETTING + i };
	opts[n] = (struct option){ 0 };
}

/* One run mode per invocation: a second, different one is an error naming it. */
static int set_mode(enum cli_mode *mode, enum cli_mode m, const char *arg, char *err, size_t errlen)
{
	if (*mode != MODE_NONE && *mode != m) {
		snprintf(err, errlen, "'%s' conflicts with another mode given before it", arg);
		return -1;
	}
	*mode = m;
	return 0;
}

static int file_arg(const char *opt, const char *val, const char **out, char *err, size_t errlen)
{
	if (!*val) {
		snprintf(err, errlen, "%s: empty file name", opt);
		return -1;
	}
	*out = val;
	return 0;
}

/* One option getopt returned: 0 to go on, 1 when parsing is done (help, version), -1 with err. */
static int cli_option(int c, const char *arg, struct cli_opts *o, enum cli_mode *mode, char *err,
		      size_t errlen)
{
	if (c >= OPT_SETTING && c < OPT_SETTING + CFG_N) {
		int id = c - OPT_SETTING;

		/* enrollment keys never travel in argv: only a file naming them */
		o->set[id] = cfg_flag_is_switch((enum cfg_id)id) ? "yes" : optarg;
		if (!cfg_flag_is_switch((enum cfg_id)id) && !*optarg) {
			snprintf(err, errlen, "%s: empty value", cfg_defs[id].flag);
			return -1;
		}
		return 0;
	}
	switch (c) {
	case OPT_DRY:
		return set_mode(mode, MODE_DRY_RUN, arg, err, errlen);
	case OPT_COMMIT:
		return set_mode(mode, MODE_COMMIT_DRY_RUN, arg, err, errlen);
	case OPT_REGISTER:
		return set_mode(mode, MODE_REGISTER_ONLY, arg, err, errlen);
	case OPT_CHECKIN:
		return set_mode(mode, MODE_CHECK_IN_ONLY, arg, err, errlen);
	case OPT_CHECKCONF:
		return set_mode(mode, MODE_CHECK_CONFIG, arg, err, errlen);
	case OPT_CONNECT:
		o->connect = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case 'h':
		o->mode = MODE_HELP;
		return 1;
	case 'V':
		o->mode = MODE_VERSION;
		return 1;
	case 'o':
		return file_arg("--output", optarg, &o->output, err, errlen);
	case OPT_CONFIG:
		return file_arg("--config", optarg, &o->config_path, err, errlen);
	case OPT_PRETTY:
		o->format = FMT_PRETTY;
		return 0;
	case OPT_COMPACT:
		o->format = FMT_COMPACT;
		return 0;
	case OPT_GZIP:
		o->gzip = true;
		return 0;
	case OPT_FULL:
		o->full = true;
		return 0;
	case OPT_FORCE:
		o->force = true;
		return 0;
	case OPT_NOJITTER:
		o->no_jitter = true;
		return 0;
	case OPT_ONLY:
		return cli_parse_tables(optarg, &o->tables, err, errlen);
	case OPT_NOPROC:
		o->processes = false;
		return 0;
	case OPT_SECRET:
		snprintf(err, errlen,
			 "secrets are not accepted on the command line (argv is visible to every user): "
			 "put the key in a file and use --enrollment-key-file, or 'netinv install-key "
			 "FILE' for an agent key");
		return -1;
	case ':':
		snprintf(err, errlen, "option '%s' needs a value", arg);
		return -1;
	default:
		/* print the option's name only: "--x=value" could carry a secret */
		snprintf(err, errlen, "unknown option '%.*s' (see --help)", (int)strcspn(arg, "="),
			 arg);
		return -1;
	}
}

/* The words after the options: `status`, `install-key FILE`; nothing else. */
static int cli_words(int argc, char **argv, struct cli_opts *o, enum cli_mode *mode, char *err,
		     size_t errlen)
{
	if (optind < argc && *mode == MODE_NONE) {
		if (!strcmp(argv[optind], "status")) {
			*mode = MODE_STATUS;
			optind++;
		} else if (!strcmp(argv[optind], "install-key")) {
			if (optind + 1 >= argc) {
				snprintf(err, errlen, "install-key needs the path of the key file");
				return -1;
			}
			*mode = MODE_INSTALL_KEY;
			o->key_file = argv[optind + 1];
			optind += 2;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%.64s' (see --help)", argv[optind]);
		return -1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen)
{
	struct option opts[N_BASE + CFG_N + 1];
	enum cli_mode mode = MODE_NONE;
	int c;

	memset(o, 0, sizeof(*o));
	build_options(opts);
	o->tables = ALL_TABLES;
	o->processes = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVo:", opts, NULL)) != -1) {
		int r = cli_option(c, argv[optind - 1], o, &mode, err, errlen);

		if (r)
			return r < 0 ? -1 : 0;
	}
	if (cli_words(argc, argv, o, &mode, err, errlen) < 0)
		return -1;
	if (o->connect && mode != MODE_CHECK_CONFIG) {
		snprintf(err, errlen, "--connect goes with --check-config");
		return -1;
	}
	if (o->json && mode != MODE_STATUS) {
		snprintf(err, errlen, "--json goes with status");
		return -1;
	}
	o->mode = mode;
	return 0;
}
