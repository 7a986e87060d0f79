/* The small state files written next to the acknowledged state: agent.status (registration, cached
 * policy, backoff) and api_key. Damage never crashes and never yields values out of range: a bad
 * line is skipped and its default kept; a key that is not a token is refused. */
#include "statefix.h"
#include "../../collector/state.h"

#include <unistd.h>

static void put(const char *name, const char *text)
{
	scratch_put(dir, name, text, 0600);
}

static void test_status_round_trip_and_damage(void **state)
{
	struct agent_status a, b;
	char err[256], big[10000];

	(void)state;
	/* absent: defaults */
	state_read_status(&sd, &a);
	assert_int_equal(a.registration[0], 0);
	assert_int_equal(a.policy.interval, 3600);
	/* round trip */
	snprintf(a.registration, sizeof(a.registration), "active");
	snprintf(a.agent_id, sizeof(a.agent_id), "42");
	a.have_policy = true;
	a.policy.interval = 900;
	a.policy.enabled[3] = false;
	a.failures = 3;
	a.next_attempt = 1800000000;
	a.last_sequence = 77;
	a.seen[SNAP_ROUTES] = 0xfedcba9876543210ull; /* beyond INT64_MAX: written and read as hex */
	a.seen[SNAP_NEIGH] = 5;
	snprintf(a.last_error, sizeof(a.last_error), "line one\nline two");
	snprintf(a.server_peer, sizeof(a.server_peer), "127.0.0.1 8443");
	assert_int_equal(state_write_status(&sd, &a, err, sizeof(err)), STATE_OK);
	state_read_status(&sd, &b);
	assert_string_equal(b.registration, "active");
	assert_string_equal(b.agent_id, "42");
	assert_int_equal(b.policy.interval, 900);
	assert_false(b.policy.enabled[3]);
	assert_true(b.policy.enabled[0]);
	assert_int_equal(b.failures, 3);
	assert_int_equal(b.next_attempt, 1800000000);
	assert_int_equal(b.last_sequence, 77);
	assert_true(b.seen[SNAP_ROUTES] == 0xfedcba9876543210ull);
	assert_int_equal(b.seen[SNAP_NEIGH], 5);
	assert_string_equal(b.last_error, "line one line two"); /* one line, always */
	assert_string_equal(b.server_peer, "127.0.0.1 8443");
	/* damaged lines: skipped, defaults kept, nothing out of range */
	put("agent.status", "registration=hacked\nno equals sign\npolicy_interval=5\n"
			    "policy_jitter=999999\nfailures=-1\nfailures=99999999999999999999\n"
			    "policy_max_report_bytes=12\nunknown_key=1\nnext_attempt=soon\n"
			    "part_budget=1\npolicy_enabled=99\nroutes_seen=12zz\nneighbors_seen=\n"
			    "routes_seen=1ffffffffffffffff\n");
	state_read_status(&sd, &b);
	assert_int_equal(b.registration[0], 0);
	assert_int_equal(b.policy.interval, 3600);
	assert_int_equal(b.policy.jitter, 300);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.policy.max_report, 262144);
	assert_int_equal(b.next_attempt, 0);
	assert_int_equal(b.part_budget, 0);
	assert_true(b.policy.enabled[0] && b.policy.enabled[3]);
	assert_int_equal(b.seen[SNAP_ROUTES], 0); /* not hex, or past 64 bits: no hint */
	assert_int_equal(b.seen[SNAP_NEIGH], 0);
	/* larger than any status netinv writes: ignored as a whole */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "registration=active\n", 20);
	put("agent.status", big);
	state_read_status(&sd, &b);
	assert_int_equal(b.registration[0], 0);
}

static void test_api_key(void **state)
{
	char key[300], err[256], p[128];

	(void)state;
	assert_int_equal(state_read_key(&sd, key, sizeof(key), err, sizeof(err)), STATE_ABSENT);
	assert_int_equal(state_write_key(&sd, "gpak_abc", err, sizeof(err)), STATE_OK);
	assert_int_equal(state_read_key(&sd, key, sizeof(key), err, sizeof(err)), STATE_OK);
	assert_string_equal(key, "gpak_abc");
	put("api_key", "gpak with space\n");
	assert_int_equal(state_read_key(&sd, key, sizeof(key), err, sizeof(err)), STATE_IDENTITY);
	assert_non_null(strstr(err, "not a printable token"));
	assert_null(strstr(err, "with space"));
	put("api_key", "");
	assert_int_equal(state_read_key(&sd, key, sizeof(key), err, sizeof(err)), STATE_IDENTITY);
	put("api_key", "gpak_abc\n");
	snprintf(p, sizeof(p), "%s/api_key", dir);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_int_equal(state_read_key(&sd, key, sizeof(key), err, sizeof(err)), STATE_IDENTITY);
	assert_non_null(strstr(err, "owned by another user"));
	assert_int_equal(state_key_valid("gpak_ok"), 0);
	assert_int_equal(state_key_valid(""), -1);
	assert_int_equal(state_key_valid("a\tb"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_round_trip_and_damage),
		cmocka_unit_test(test_api_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
