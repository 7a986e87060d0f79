/* Command line and configuration: every bad input gets one line naming what was wrong; every
 * setting follows flag > NETINV_* > netinv.conf > GRAPHEON_AGENT_* > grapheon-agent.env > default. */
#include "testutil.h"
#include "../../collector/cli.h"
#include "../../collector/config.h"
#include "../../collector/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse(struct cli_opts *o, char *err, ...)
{
	char *argv[16] = { "netinv" };
	int argc = 1;
	va_list ap;

	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	err[0] = 0;
	return cli_parse(argc, argv, o, err, 256);
}

static void test_modes_and_flags(void **state)
{
	struct cli_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, NULL), 0);
	assert_int_equal(o.mode, MODE_NONE);
	assert_int_equal(parse(&o, err, "--dry-run", NULL), 0);
	assert_int_equal(o.mode, MODE_DRY_RUN);
	assert_int_equal(o.tables, (1u << SNAP_NTABLES) - 1);
	assert_true(o.processes);
	assert_int_equal(parse(&o, err, "--dry-run", "--only", "addresses,routes", "--no-processes",
			       "-o", "/tmp/x", "--compact", "--log-level", "debug", "--full", "--gzip",
			       NULL),
			 0);
	assert_int_equal(o.tables, (1u << SNAP_ADDRS) | (1u << SNAP_ROUTES));
	assert_false(o.processes);
	assert_string_equal(o.output, "/tmp/x");
	assert_int_equal(o.format, FMT_COMPACT);
	assert_string_equal(o.set[CFG_LOG_LEVEL], "debug");
	assert_true(o.full && o.gzip);
	assert_int_equal(parse(&o, err, "--register-only", NULL), 0);
	assert_int_equal(o.mode, MODE_REGISTER_ONLY);
	assert_int_equal(parse(&o, err, "--check-in-only", "--force", "--no-jitter", NULL), 0);
	assert_int_equal(o.mode, MODE_CHECK_IN_ONLY);
	assert_true(o.force && o.no_jitter);
	assert_int_equal(parse(&o, err, "status", "--state-dir", "/tmp/s", NULL), 0);
	assert_int_equal(o.mode, MODE_STATUS);
	assert_string_equal(o.set[CFG_STATE_DIR], "/tmp/s");
	assert_int_equal(parse(&o, err, "install-key", "/tmp/k", NULL), 0);
	assert_int_equal(o.mode, MODE_INSTALL_KEY);
	assert_string_equal(o.key_file, "/tmp/k");
	assert_int_equal(parse(&o, err, "--check-config", "--config", "/tmp/c", NULL), 0);
	assert_int_equal(o.mode, MODE_CHECK_CONFIG);
	assert_string_equal(o.config_path, "/tmp/c");
	assert_int_equal(parse(&o, err, "--allow-insecure-http", "--include-time-wait", NULL), 0);
	assert_string_equal(o.set[CFG_ALLOW_INSECURE_HTTP], "yes");
	assert_string_equal(o.set[CFG_INCLUDE_TIME_WAIT], "yes");
	assert_int_equal(parse(&o, err, "--version", NULL), 0);
	assert_int_equal(o.mode, MODE_VERSION);
}

static void test_errors_name_the_problem(void **state)
{
	struct cli_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--only", "addresses,bogus", NULL), -1);
	assert_non_null(strstr(err, "'bogus'"));
	assert_int_equal(parse(&o, err, "--only", "", NULL), -1);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(parse(&o, err, "--frobnicate=secret", NULL), -1);
	assert_non_null(strstr(err, "'--frobnicate'"));
	assert_null(strstr(err, "secret"));
	assert_int_equal(parse(&o, err, "--output", NULL), -1);
	assert_non_null(strstr(err, "--output"));
	assert_int_equal(parse(&o, err, "--dry-run", "--register-only", NULL), -1);
	assert_non_null(strstr(err, "conflicts"));
	assert_int_equal(parse(&o, err, "--dry-run", "extra", NULL), -1);
	assert_non_null(strstr(err, "'extra'"));
	assert_int_equal(parse(&o, err, "install-key", NULL), -1);
	assert_non_null(strstr(err, "install-key needs"));
	/* secrets never ride in argv, and a refused one is not echoed */
	assert_int_equal(parse(&o, err, "--enrollment-key", "gaek_TOPSECRET", NULL), -1);
	assert_non_null(strstr(err, "not accepted on the command line"));
	assert_null(strstr(err, "TOPSECRET"));
	assert_int_equal(parse(&o, err, "--api-key", "gpak_TOPSECRET", NULL), -1);
	assert_null(strstr(err, "TOPSECRET"));
	assert_int_equal(parse(&o, err, "--server-url", "", NULL), -1);
	assert_null(strchr(err, '\n'));
}

static void test_parse_u64_strict(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("1x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(valid_uuid("123e4567-e89b-42d3-a456-426614174000"));
	assert_false(valid_uuid("123E4567-e89b-42d3-a456-426614174000"));
	assert_false(valid_uuid("123e4567e89b-42d3-a456-426614174000-"));
}

/* A valid value of setting i, different for each layer. */
static const char *sample(int i, int layer, char *buf)
{
	static const char *const keying[] = { "flow", "exact", "flow", "exact", "flow" };
	static const char *const lvl[] = { "debug", "error", "warning", "notice", "debug" };
	static const char *const yn[] = { "yes", "no", "yes", "no", "yes" };
	static const char *const nsmode[] = { "host", "all", "host", "all", "host" };

	switch (i) {
	case CFG_SERVER_URL:
		sprintf(buf, "https://layer%d.example/", layer);
		return buf;
	case CFG_TIMEOUT:
	case CFG_CONNECT_TIMEOUT:
		sprintf(buf, "%d", 11 + layer);
		return buf;
	case CFG_LOG_LEVEL:
		return lvl[layer];
	case CFG_CONNECTION_KEYING:
		return keying[layer];
	case CFG_NAMESPACES:
		return nsmode[layer];
	case CFG_ALLOW_INSECURE_HTTP:
	case CFG_INCLUDE_TIME_WAIT:
	case CFG_ALL_NEIGHBORS:
		return yn[layer];
	case CFG_API_KEY_HEADER:
		sprintf(buf, "X-Layer-%d", layer);
		return buf;
	case CFG_PIN_PUBKEY:
		sprintf(buf, "sha256//LAYER%dAAAA=", layer);
		return buf;
	case CFG_STATE_DIR:
	case CFG_ENROLLMENT_KEY_FILE:
	case CFG_CA_FILE:
	case CFG_IMPORT_FROM:
	case CFG_IPROUTE2_DIR:
	case CFG_NETNS_DIR:
	case CFG_CONTAINER_ROOT:
	case CFG_METRICS_FILE:
		sprintf(buf, "/layer%d/%s", layer, cfg_defs[i].key);
		return buf;
	default:
		sprintf(buf, "layer%d-%s", layer, cfg_defs[i].key);
		return buf;
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Each config test gets a scratch directory, removed by the teardown even when the test fails,
 * and an empty configuration file in it: "no netinv.conf" without reading the host's. */
static char tmpdir[64], empty_conf[128];

static int mk_tmp(void **state)
{
	FILE *f;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/netinv-cfg.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(empty_conf, sizeof(empty_conf), "%s/empty.conf", tmpdir);
	f = fopen(empty_conf, "w");
	return f && fclose(f) == 0 ? 0 : -1;
}

static int rm_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	config_grapheon_env_file = GRAPHEON_ENV_FILE;
	for (int i = 0; i < CFG_N; i++) {
		unsetenv(cfg_defs[i].env);
		if (cfg_defs[i].genv)
			unsetenv(cfg_defs[i].genv);
	}
	return system(cmd) == 0 ? 0 : -1;
}

/* For every setting and every pair of layers: the higher layer wins, and each layer alone is
 * used when it is the highest present. Layers: 0 grapheon-agent.env, 1 GRAPHEON_AGENT_* env,
 * 2 netinv.conf, 3 NETINV_* env, 4 flag. */
static void test_precedence_every_setting(void **state)
{
	static char genv[300];
	char *dir = tmpdir, conf[300], err[512], buf[5][300];

	(void)state;
	snprintf(conf, sizeof(conf), "%s/netinv.conf", dir);
	snprintf(genv, sizeof(genv), "%s/grapheon-agent.env", dir);
	config_grapheon_env_file = genv;
	for (int i = 0; i < CFG_N; i++) {
		bool has_g = cfg_defs[i].genv != NULL;

		for (int mask = 0; mask < 32; mask++) {
			const char *flags[CFG_N] = { 0 };
			struct config c;
			char text[600];
			int top = -1;

			if (!has_g && (mask & 3))
				continue;
			for (int l = 0; l < 5; l++)
				if (mask & (1 << l)) {
					const char *v = sample(i, l, buf[l]);

					if (v != buf[l])
						snprintf(buf[l], sizeof(buf[l]), "%s", v);
					top = l;
				}
			unlink(genv);
			unlink(conf);
			unsetenv(cfg_defs[i].env);
			if (has_g)
				unsetenv(cfg_defs[i].genv);
			if (mask & 1) {
				snprintf(text, sizeof(text), "# the Python agent's file\nOTHER=1\n%s=\"%s\"\n",
					 cfg_defs[i].genv, buf[0]);
				write_file(genv, text);
			}
			if (mask & 2)
				setenv(cfg_defs[i].genv, buf[1], 1);
			/* netinv.conf: the NETINV_* spelling, the one the service can read */
			if (mask & 4) {
				snprintf(text, sizeof(text), "  %s = %s  \n", cfg_defs[i].env, buf[2]);
				write_file(conf, text);
			}
			if (mask & 8)
				setenv(cfg_defs[i].env, buf[3], 1);
			if (mask & 16)
				flags[i] = buf[4];
			if (config_load(&c, (mask & 4) ? conf : empty_conf, flags, err, sizeof(err)) < 0)
				fail_msg("setting %s mask %d: %s", cfg_defs[i].key, mask, err);
			if (top < 0) {
				assert_string_equal(cfg_str(&c, (enum cfg_id)i), cfg_defs[i].def);
				assert_string_equal(c.source[i], "default");
			} else if (strcmp(cfg_str(&c, (enum cfg_id)i), buf[top])) {
				fail_msg("setting %s mask %d: got '%s' from %s, want layer %d '%s'",
					 cfg_defs[i].key, mask, cfg_str(&c, (enum cfg_id)i), c.source[i], top,
					 buf[top]);
			}
			config_free(&c);
		}
		unsetenv(cfg_defs[i].env);
		if (has_g)
			unsetenv(cfg_defs[i].genv);
	}
}

static void test_config_errors(void **state)
{
	char *dir = tmpdir, conf[300], err[512], key[300];
	struct config c;
	FILE *f;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/netinv.conf", dir);
	config_grapheon_env_file = "/nonexistent";
	f = fopen(conf, "w");
	fputs("NETINV_SERVER_URL=https://ok.example\nserverurl=x\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown setting 'serverurl'"));
	config_free(&c);
	/* the lowercase spelling (lost under the service's EnvironmentFile=) names the right one */
	f = fopen(conf, "w");
	fputs("server_url = https://ok.example\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: 'server_url': spell it NETINV_SERVER_URL"));
	config_free(&c);
	f = fopen(conf, "w");
	fputs("netinv_timeout=5\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spell it NETINV_TIMEOUT"));
	config_free(&c);
	/* blank lines count: the line named is the line an editor shows */
	f = fopen(conf, "w");
	fputs("# comment\n\nNETINV_SERVER_URL=https://ok.example\n\n\nserverurl=x\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":6: unknown setting 'serverurl'"));
	config_free(&c);
	f = fopen(conf, "w");
	fputs("NETINV_NAMESPACES=containers\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "namespaces: unknown mode 'containers' (expected host or all)"));
	config_free(&c);
	f = fopen(conf, "w");
	fputs("NETINV_TIMEOUT=0\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "timeout"));
	assert_non_null(strstr(err, ":1"));
	config_free(&c);
	f = fopen(conf, "w");
	fputs("just words\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected KEY=VALUE"));
	config_free(&c);
	/* a file named with --config must exist */
	assert_int_equal(config_load(&c, "/nonexistent/netinv.conf", NULL, err, sizeof(err)), -1);
	config_free(&c);
	/* plain http only to loopback */
	setenv("NETINV_SERVER_URL", "http://192.0.2.1/", 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "plain http"));
	config_free(&c);
	setenv("NETINV_SERVER_URL", "http://[::1]:8080/", 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	config_free(&c);
	setenv("NETINV_SERVER_URL", "http://127.0.0.9/", 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	config_free(&c);
	setenv("NETINV_SERVER_URL", "https://user:pw@host/", 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), -1);
	assert_null(strstr(err, "pw"));
	config_free(&c);
	unsetenv("NETINV_SERVER_URL");
	/* the enrollment key: from its file, cleaned, and never printed */
	snprintf(key, sizeof(key), "%s/ek", dir);
	f = fopen(key, "w");
	fputs("gaek_SECRETSECRETSECRET\n", f);
	fclose(f);
	setenv("NETINV_ENROLLMENT_KEY_FILE", key, 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	assert_str_is(config_enrollment_key(&c, err, sizeof(err)), "gaek_SECRETSECRETSECRET");
	{
		char out[8192] = "";
		FILE *m = fmemopen(out, sizeof(out) - 1, "w");

		config_print(&c, m);
		fclose(m);
		assert_null(strstr(out, "SECRET"));
		assert_non_null(strstr(out, "<redacted>"));
	}
	config_free(&c);
	f = fopen(key, "w");
	fputs("gaek_with space\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	assert_null(config_enrollment_key(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "printable"));
	assert_null(strstr(err, "with space"));
	config_free(&c);
	unsetenv("NETINV_ENROLLMENT_KEY_FILE");
	/* systemd credentials (LoadCredential=enrollment_key:...) when no key file is configured */
	snprintf(key, sizeof(key), "%s/enrollment_key", dir);
	f = fopen(key, "w");
	fputs("gaek_FROMCREDENTIAL\n", f);
	fclose(f);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	assert_str_is(config_enrollment_key(&c, err, sizeof(err)), "gaek_FROMCREDENTIAL");
	assert_non_null(strstr(c.key_source, "credential"));
	config_free(&c);
	/* and before a configured key file: netinv.service hides that file from the service, while
	 * the shipped netinv.conf names it for manual runs */
	{
		char other[600];

		snprintf(other, sizeof(other), "%s/hidden.key", dir);
		f = fopen(other, "w");
		fclose(f); /* what the service sees of an InaccessiblePaths= file: nothing */
		setenv("NETINV_ENROLLMENT_KEY_FILE", other, 1);
		assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
		assert_str_is(config_enrollment_key(&c, err, sizeof(err)), "gaek_FROMCREDENTIAL");
		config_free(&c);
		/* no credential: the configured file it is */
		unlink(key);
		assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
		assert_null(config_enrollment_key(&c, err, sizeof(err)));
		assert_non_null(strstr(err, other));
		config_free(&c);
		unsetenv("NETINV_ENROLLMENT_KEY_FILE");
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	/* none anywhere: a clear error naming where to put it */
	assert_int_equal(config_load(&c, empty_conf, NULL, err, sizeof(err)), 0);
	assert_null(config_enrollment_key(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "enrollment_key_file"));
	config_free(&c);
}

/* Bits of one capability line of /proc/self/status ("CapEff:", ...). */
static uint64_t cap_line(const char *name)
{
	char line[256];
	uint64_t v = ~0ull;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)))
			v = strtoull(line + strlen(name), NULL, 16);
	if (f)
		fclose(f);
	return v;
}

/* As the service holds them (an unprivileged user with ambient CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH), the capabilities open a root process's memory; after the drop nothing
 * does, and they are in no set any more. */
static void test_drop_attribution_caps(void **state)
{
	pid_t root_pid = getpid(), pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct data[2] = { { 0 } };
		uint64_t both = (1ull << CAP_SYS_PTRACE) | (1ull << CAP_DAC_READ_SEARCH);
		char mem[64];
		int fd;

		snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)root_pid);
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(10);
		data[0].permitted = data[0].effective = data[0].inheritable = (uint32_t)both;
		if (syscall(SYS_capset, &hdr, data) < 0 ||
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_PTRACE, 0, 0) < 0)
			_exit(11);
		fd = open(mem, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(12); /* the setting the test needs: the hole is open */
		close(fd);
		if (drop_attribution_caps() < 0)
			_exit(13);
		if (open(mem, O_RDONLY | O_CLOEXEC) >= 0)
			_exit(14);
		if ((cap_line("CapEff:") | cap_line("CapPrm:") | cap_line("CapInh:") | cap_line("CapAmb:")) & both)
			_exit(15);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* and root keeps every other capability: only the two go, also from the bounding set */
	pid = fork();
	if (pid == 0) {
		uint64_t other = 1ull << CAP_NET_ADMIN, both = (1ull << CAP_SYS_PTRACE) | (1ull << CAP_DAC_READ_SEARCH);

		if (drop_attribution_caps() < 0)
			_exit(13);
		_exit((cap_line("CapEff:") & both) || (cap_line("CapBnd:") & both) || !(cap_line("CapEff:") & other) ? 16 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes_and_flags),
		cmocka_unit_test(test_errors_name_the_problem),
		cmocka_unit_test(test_parse_u64_strict),
		cmocka_unit_test_setup_teardown(test_precedence_every_setting, mk_tmp, rm_tmp),
		cmocka_unit_test_setup_teardown(test_config_errors, mk_tmp, rm_tmp),
		cmocka_unit_test(test_drop_attribution_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
