/* Command line: every bad input gets one line naming what was wrong. */
#include "testutil.h"
#include "../../collector/cli.h"
#include "../../collector/util.h"

#include <errno.h>

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

static void test_defaults_and_flags(void **state)
{
	struct cli_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--dry-run", NULL), 0);
	assert_int_equal(o.mode, MODE_DRY_RUN);
	assert_int_equal(o.tables, (1u << SNAP_NTABLES) - 1);
	assert_true(o.processes);
	assert_string_equal(o.state_dir, "/var/lib/netinv");
	assert_int_equal(parse(&o, err, "--dry-run", "--only", "addresses,routes", "--no-processes",
			       "-o", "/tmp/x", "--compact", "--log-level", "debug", NULL),
			 0);
	assert_int_equal(o.tables, (1u << SNAP_ADDRS) | (1u << SNAP_ROUTES));
	assert_false(o.processes);
	assert_string_equal(o.output, "/tmp/x");
	assert_int_equal(o.format, FMT_COMPACT);
	assert_int_equal(o.log_level, LOG_LVL_DEBUG);
	assert_int_equal(parse(&o, err, "--only", "neighbours,sockets", NULL), 0);
	assert_int_equal(o.tables, (1u << SNAP_NEIGH) | (1u << SNAP_SOCKS));
	assert_int_equal(parse(&o, err, "--version", NULL), 0);
	assert_int_equal(o.mode, MODE_VERSION);
	assert_int_equal(parse(&o, err, "--commit-dry-run", "--full", "--connection-keying", "flow",
			       "--include-time-wait", "--gzip", "--import-from", "/x", NULL),
			 0);
	assert_int_equal(o.mode, MODE_COMMIT_DRY_RUN);
	assert_true(o.full && o.flow_keying && o.include_time_wait && o.gzip);
	assert_string_equal(o.import_dir, "/x");
	assert_int_equal(parse(&o, err, "status", "--state-dir", "/tmp/s", NULL), 0);
	assert_int_equal(o.mode, MODE_STATUS);
	assert_string_equal(o.state_dir, "/tmp/s");
	/* the environment names the state directory; a flag beats it */
	setenv("NETINV_STATE_DIR", "/tmp/env", 1);
	assert_int_equal(parse(&o, err, "--dry-run", NULL), 0);
	assert_string_equal(o.state_dir, "/tmp/env");
	assert_int_equal(parse(&o, err, "--dry-run", "--state-dir", "/tmp/flag", NULL), 0);
	assert_string_equal(o.state_dir, "/tmp/flag");
	unsetenv("NETINV_STATE_DIR");
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
	assert_int_equal(parse(&o, err, "--frobnicate", NULL), -1);
	assert_non_null(strstr(err, "--frobnicate"));
	assert_int_equal(parse(&o, err, "--output", NULL), -1);
	assert_non_null(strstr(err, "--output"));
	assert_int_equal(parse(&o, err, "--log-level", "loud", NULL), -1);
	assert_non_null(strstr(err, "'loud'"));
	assert_int_equal(parse(&o, err, "--connection-keying", "fuzzy", NULL), -1);
	assert_non_null(strstr(err, "'fuzzy'"));
	assert_int_equal(parse(&o, err, "--dry-run", "status", NULL), -1);
	assert_non_null(strstr(err, "'status'"));
	assert_int_equal(parse(&o, err, "--dry-run", "extra", NULL), -1);
	assert_non_null(strstr(err, "'extra'"));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_flags),
		cmocka_unit_test(test_errors_name_the_problem),
		cmocka_unit_test(test_parse_u64_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
