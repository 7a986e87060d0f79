/* Replies of the fleet server: every status to its own outcome, hostile bodies refused, policy
 * ranges enforced with the cached value kept, the naive UTC server time understood. */
#include "testutil.h"
#include "../../report/proto.h"
#include "../../report/http.h"

static struct proto_reply R;
static struct policy P;

#define REG(status, body, havekey) proto_parse_register(status, body, strlen(body), havekey, &P, &R)
#define CHK(status, body) proto_parse_checkin(status, body, strlen(body), &P, &R)

static int setup(void **state)
{
	(void)state;
	policy_defaults(&P);
	return 0;
}

static void test_register(void **state)
{
	(void)state;
	REG(200, "{\"status\":\"pending\",\"approval_required\":true,\"api_key\":null,\"agent\":{\"id\":7},"
		 "\"policy\":null,\"server_time\":\"2026-11-23T10:00:00.123456\"}", false);
	assert_int_equal(R.outcome, PROTO_PENDING);
	assert_string_equal(R.agent_id, "7");
	assert_int_equal(R.server_time, 1795428000);
	assert_false(R.have_policy);
	REG(200, "{\"status\":\"active\",\"api_key\":\"gpak_abc\",\"agent\":{\"id\":\"a-1\"},"
		 "\"policy\":{\"checkin_interval_seconds\":600,\"jitter_seconds\":0,\"new_key\":1}}", false);
	assert_int_equal(R.outcome, PROTO_ACTIVE);
	assert_string_equal(R.api_key, "gpak_abc");
	assert_string_equal(R.agent_id, "a-1");
	assert_true(R.have_policy);
	assert_int_equal(R.policy.interval, 600);
	assert_int_equal(R.policy.jitter, 0);
	assert_int_equal(R.policy.max_report, 262144); /* absent: kept */
	/* active without a key: fine when one is stored, a lost key otherwise */
	REG(200, "{\"status\":\"active\",\"api_key\":null,\"agent\":{\"id\":9}}", true);
	assert_int_equal(R.outcome, PROTO_ACTIVE);
	REG(200, "{\"status\":\"active\",\"api_key\":null,\"agent\":{\"id\":9}}", false);
	assert_int_equal(R.outcome, PROTO_KEY_LOST);
	assert_non_null(strstr(R.message, "/api/agents/9/rotate-api-key"));
	assert_non_null(strstr(R.message, "install-key"));
	REG(401, "{\"detail\":\"Invalid or inactive enrollment key\"}", false);
	assert_int_equal(R.outcome, PROTO_UNAUTHORIZED);
	assert_non_null(strstr(R.message, "enrollment key"));
	REG(403, "{\"detail\":\"Enrollment key expired\"}", false);
	assert_int_equal(R.outcome, PROTO_FORBIDDEN);
	assert_non_null(strstr(R.message, "expired"));
	REG(409, "{}", false);
	assert_int_equal(R.outcome, PROTO_CONFLICT);
	assert_non_null(strstr(R.message, "another enrollment key"));
	REG(422, "{\"detail\":\"Validation failed\",\"errors\":[{\"field\":\"agent_uuid\",\"message\":\"required\"}]}",
	    false);
	assert_int_equal(R.outcome, PROTO_INVALID);
	assert_non_null(strstr(R.message, "agent_uuid: required"));
	REG(503, "<html>busy</html>", false);
	assert_int_equal(R.outcome, PROTO_TEMPORARY);
	/* hostile or broken 200s */
	REG(200, "not json", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	REG(200, "{\"status\":\"approved\"}", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	REG(200, "{\"status\":\"active\",\"api_key\":\"gpak with space\"}", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	/* a key with a NUL would be stored cut short ("gpak_ab"): refused whole */
	REG(200, "{\"status\":\"active\",\"api_key\":\"gpak_ab\\u0000cd\"}", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	assert_int_equal(R.api_key[0], 0);
	assert_non_null(strstr(R.message, "NUL"));
	REG(200, "{\"status\":7}", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	REG(302, "", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	REG(200, "[]", false);
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
}

/* The command extension: what a reply may carry, and every malformed shape refused or ignored. */
static void test_commands(void **state)
{
	static char body[70000];
	size_t n;

	(void)state;
	policy_defaults(&P);
	CHK(200, "{\"status\":\"accepted\"}");
	assert_int_equal(R.n_cmds, 0);
	assert_false(R.policy.commands); /* a plain server allows no commands */
	CHK(200, "{\"status\":\"accepted\",\"policy\":{\"commands_enabled\":true},\"commands\":["
		 "{\"id\":\"c-1\",\"name\":\"ping\",\"args\":[\"a\",\"b c\"]},"
		 "{\"id\":\"c-2\",\"name\":\"s\",\"script\":\"echo hi\"},"
		 "{\"id\":\"c-1\",\"name\":\"again\"},"
		 "{\"name\":\"no-id\"},{\"id\":\"bad id\",\"name\":\"x\"},{\"id\":7,\"name\":\"x\"},"
		 "\"not an object\","
		 "{\"id\":\"c-3\"},"
		 "{\"id\":\"c-4\",\"name\":\"x\",\"args\":\"a b\"},"
		 "{\"id\":\"c-5\",\"name\":\"x\",\"args\":[1]},"
		 "{\"id\":\"c-6\",\"name\":\"x\",\"script\":{}},"
		 "{\"id\":\"c-7\",\"name\":\"a\\nb\"}]}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_true(R.policy.commands);
	assert_int_equal(R.n_cmds, 7);
	assert_int_equal(R.cmds_ignored, 4);
	assert_string_equal(R.cmds[0].id, "c-1");
	assert_string_equal(R.cmds[0].name, "ping");
	assert_int_equal(R.cmds[0].argc, 2);
	assert_string_equal(proto_cmd_arg(&R, &R.cmds[0], 1), "b c");
	assert_int_equal(R.cmds[0].script_off, -1);
	assert_string_equal(R.arena + R.cmds[1].script_off, "echo hi");
	assert_string_equal(R.cmds[2].id, "c-3");
	assert_string_equal(R.cmds[2].bad, "the command has no name (a string of 1 to 64 bytes)");
	assert_string_equal(R.cmds[3].bad, "args is not an array");
	assert_string_equal(R.cmds[4].bad, "argument 1 is not a string");
	assert_string_equal(R.cmds[5].bad, "script is not a string");
	assert_string_equal(R.cmds[6].bad, "the command name has control characters");
	assert_string_equal(R.cmds[6].name, "a?b");
	for (unsigned i = 0; i < R.n_cmds; i++)
		assert_true(i < 2 ? !R.cmds[i].bad[0] : R.cmds[i].bad[0] != 0);
	/* more than 16: the rest are ignored (and sent again by the server later) */
	n = (size_t)snprintf(body, sizeof(body), "{\"status\":\"accepted\",\"commands\":[");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"id\":\"k%d\",\"name\":\"n\"}",
				      i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "]}");
	CHK(200, body);
	assert_int_equal(R.n_cmds, PROTO_MAX_COMMANDS);
	assert_int_equal(R.cmds_ignored, 4);
	/* past 64 the skimmer drops them unread; all are counted as ignored */
	n = (size_t)snprintf(body, sizeof(body), "{\"status\":\"accepted\",\"commands\":[");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"id\":\"k%d\",\"name\":\"n\"}",
				      i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "]}");
	CHK(200, body);
	assert_int_equal(R.n_cmds, PROTO_MAX_COMMANDS);
	assert_int_equal(R.cmds_ignored, 70 - PROTO_MAX_COMMANDS);
	/* 33 arguments */
	n = (size_t)snprintf(body, sizeof(body), "{\"status\":\"accepted\",\"commands\":[{\"id\":\"a\",\"name\":\"n\",\"args\":[");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"x\"", i ? "," : "");
	snprintf(body + n, sizeof(body) - n, "]}]}");
	CHK(200, body);
	assert_string_equal(R.cmds[0].bad, "more than 32 arguments");
	/* a policy without the key takes commands away again */
	CHK(200, "{\"status\":\"accepted\",\"policy\":{\"jitter_seconds\":1}}");
	assert_false(R.policy.commands);
	policy_defaults(&P);
}

static void test_checkin(void **state)
{
	(void)state;
	CHK(200, "{\"status\":\"accepted\",\"server_time\":\"2026-11-23T10:00:00\",\"policy\":"
		 "{\"max_report_bytes\":16384,\"enabled_commands\":{\"ss_tunap\":false,\"zz\":true}}}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_int_equal(R.policy.max_report, 16384);
	assert_false(R.policy.enabled[3]);
	assert_true(R.policy.enabled[0]);
	assert_int_equal(policy_tables(&R.policy) & (1u << SNAP_SOCKS), 0);
	/* out-of-range values are refused, the cached ones kept, and said */
	P.interval = 1234;
	CHK(200, "{\"status\":\"accepted\",\"policy\":{\"checkin_interval_seconds\":5,"
		 "\"jitter_seconds\":99999,\"max_report_bytes\":1.5,\"command_timeout_seconds\":\"x\"}}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_int_equal(R.policy.interval, 1234);
	assert_int_equal(R.policy.jitter, 300);
	assert_int_equal(R.policy.max_report, 262144);
	assert_non_null(strstr(R.policy_warnings, "checkin_interval_seconds out of range"));
	assert_non_null(strstr(R.policy_warnings, "jitter_seconds"));
	policy_defaults(&P);
	CHK(401, "{\"detail\":\"Invalid API key\"}");
	assert_int_equal(R.outcome, PROTO_UNAUTHORIZED);
	assert_non_null(strstr(R.message, "install-key"));
	CHK(403, "{\"detail\":\"Agent pending\"}");
	assert_int_equal(R.outcome, PROTO_FORBIDDEN);
	assert_non_null(strstr(R.message, "Agent pending"));
	CHK(409, "{}");
	assert_int_equal(R.outcome, PROTO_CONFLICT);
	CHK(413, "{\"detail\":\"decoded report too large\"}");
	assert_int_equal(R.outcome, PROTO_TOO_LARGE);
	assert_non_null(strstr(R.message, "decoded report too large"));
	CHK(415, "{}");
	assert_int_equal(R.outcome, PROTO_ENCODING);
	CHK(400, "{\"detail\":\"body is not gzip\"}");
	assert_int_equal(R.outcome, PROTO_ENCODING);
	assert_non_null(strstr(R.message, "netinv bug"));
	CHK(429, "");
	assert_int_equal(R.outcome, PROTO_RATE_LIMITED);
	CHK(500, "");
	assert_int_equal(R.outcome, PROTO_TEMPORARY);
	CHK(200, "{\"status\":\"rejected\"}");
	assert_int_equal(R.outcome, PROTO_BAD_REPLY);
	/* a 2xx that cannot be read: the server may have stored the report */
	CHK(200, "not json");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(R.message, "may have stored the report"));
	CHK(200, "{\"status\":\"accepted\",\"summary\":[1,]}");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(R.message, "a value is malformed"));
	CHK(200, "{\"status\":\"accepted\",\"status\":\"rejected\"}");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	/* a member netinv reads, twice in a nested object: parsers disagree on which counts */
	CHK(200, "{\"status\":\"accepted\",\"policy\":{\"max_report_bytes\":16384,"
		 "\"max_report_bytes\":10485760}}");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(R.message, "the member policy.max_report_bytes appears twice"));
	assert_int_equal(R.policy.max_report, 262144);
	CHK(200, "{\"status\":\"accepted\",\"policy\":{\"enabled_commands\":{\"ip_addr\":false,"
		 "\"ip_addr\":true}}}");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(R.message, "policy.enabled_commands.ip_addr appears twice"));
	CHK(200, "{\"status\":\"accepted\",\"commands\":[{\"id\":\"a\",\"name\":\"x\",\"id\":\"b\"}]}");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(R.message, "commands[].id appears twice"));
	assert_int_equal(R.n_cmds, 0);
	/* the same name in two different objects is fine */
	CHK(200, "{\"status\":\"accepted\",\"commands\":[{\"id\":\"a\",\"name\":\"x\"},"
		 "{\"id\":\"b\",\"name\":\"x\"}]}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_int_equal(R.n_cmds, 2);
	CHK(201, "");
	assert_int_equal(R.outcome, PROTO_UNKNOWN);
	/* the same for a refusal: no body needed to classify it */
	CHK(502, "<html>bad gateway</html>");
	assert_int_equal(R.outcome, PROTO_TEMPORARY);
	/* control characters from the server never reach a log line raw */
	CHK(403, "{\"detail\":\"line one\\nline two\\u0007\"}");
	assert_null(strchr(R.message, '\n'));
	assert_null(strchr(R.message, '\a'));
}

/* The agent's id in a check-in reply (it places the agent's slot): agent.id, else checkin.agent_id;
 * anything that is not a string or a plain non-negative number is no id. */
static void test_checkin_agent_id(void **state)
{
	(void)state;
	CHK(200, "{\"status\":\"accepted\",\"agent\":{\"id\":1234,\"agent_uuid\":\"u\"},"
		 "\"checkin\":{\"id\":9,\"agent_id\":77}}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_string_equal(R.agent_id, "1234");
	CHK(200, "{\"status\":\"accepted\",\"agent\":{\"agent_uuid\":\"u\"},\"checkin\":{\"agent_id\":77}}");
	assert_string_equal(R.agent_id, "77");
	CHK(200, "{\"status\":\"accepted\",\"agent\":{\"id\":\"ag-5\"}}");
	assert_string_equal(R.agent_id, "ag-5");
	CHK(200, "{\"status\":\"accepted\",\"agent\":{\"id\":-3},\"checkin\":{\"agent_id\":1e300}}");
	assert_string_equal(R.agent_id, "");
	CHK(200, "{\"status\":\"accepted\",\"agent\":[1],\"checkin\":{\"agent_id\":{\"n\":1}}}");
	assert_int_equal(R.outcome, PROTO_ACCEPTED);
	assert_string_equal(R.agent_id, "");
	/* a refused check-in teaches nothing */
	CHK(401, "{\"detail\":\"Invalid API key\",\"agent\":{\"id\":5}}");
	assert_string_equal(R.agent_id, "");
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(proto_parse_time("1970-01-01T00:00:00"), 0);
	assert_int_equal(proto_parse_time("2026-11-23T10:00:00Z"), 1795428000);
	assert_int_equal(proto_parse_time("2026-11-23T12:00:00+02:00"), 1795428000);
	assert_int_equal(proto_parse_time("2026-11-23T10:00:00.999999"), 1795428000);
	assert_int_equal(proto_parse_time("yesterday"), -1);
	assert_int_equal(proto_parse_time("2026-11-23T10:00:00junk"), -1);
}

static void test_register_body(void **state)
{
	struct register_req q = { .enrollment_key = "gaek_k", .agent_uuid = "u", .hostname = "h\"x",
				  .platform_release = "6.1", .agent_version = "0.3.0" };
	char buf[1024], tiny[600];
	size_t n;

	(void)state;
	n = proto_register_body(&q, buf, sizeof(buf));
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "\"enrollment_key\":\"gaek_k\""));
	assert_non_null(strstr(buf, "\"hostname\":\"h\\\"x\""));
	assert_non_null(strstr(buf, "\"platform\":\"linux\""));
	assert_null(strstr(buf, "display_name"));
	/* a body that does not fit is refused, not truncated */
	{
		char big[700];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		q.display_name = big;
		assert_int_equal(proto_register_body(&q, tiny, sizeof(tiny)), 0);
	}
}

/* Every secret the run knows, with or without a prefix, at every offset: redacted over the whole
 * trace piece, before the 1,023-byte cut of a trace line could split it. */
static void test_redact(void **state)
{
	static const char plain[] = "PLAINSECRETKEY0123456789";
	const char *secrets[HTTP_MAX_SECRETS] = { NULL, "", "gaek_OTHERKEY", plain };
	char buf[1200];

	(void)state;
	for (size_t off = 0; off + sizeof(plain) - 1 <= sizeof(buf); off++) {
		memset(buf, 'a', sizeof(buf));
		memcpy(buf + off, plain, sizeof(plain) - 1);
		http_redact(buf, sizeof(buf), secrets, HTTP_MAX_SECRETS);
		if (memmem(buf, sizeof(buf), "PLAIN", 5) || memmem(buf, sizeof(buf), "6789", 4))
			fail_msg("the key survived at offset %zu", off);
		for (size_t i = 0; i < sizeof(plain) - 1; i++)
			assert_int_equal(buf[off + i], '*');
		assert_int_equal(buf[off ? off - 1 : sizeof(plain) - 1], 'a'); /* nothing else touched */
	}
	/* prefixed tokens whatever the header, several secrets in one piece */
	snprintf(buf, sizeof(buf), "X-Custom: gpak_AbC-d_9 rest gaek_OTHERKEY and PLAINSECRETKEY0123456789!");
	http_redact(buf, strlen(buf), secrets, HTTP_MAX_SECRETS);
	assert_string_equal(buf, "X-Custom: gpak_******* rest ************* and ************************!");
	/* a prefix at the very end of the piece is harmless */
	snprintf(buf, sizeof(buf), "tail gpak_");
	http_redact(buf, strlen(buf), secrets, HTTP_MAX_SECRETS);
	assert_string_equal(buf, "tail gpak_");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_checkin),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_checkin_agent_id),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_register_body),
		cmocka_unit_test(test_redact),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
