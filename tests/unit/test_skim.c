/* The reply skimmer: keeps only the members netinv reads, in a fixed buffer, whatever the reply's
 * size; still refuses any reply that is not one well-formed JSON value, in the dropped parts too;
 * gives the same answer however the reply is cut into pieces. */
#include "testutil.h"
#include "../../report/skim.h"
#include "../../report/proto.h"

#include <cjson/cJSON.h>

static const struct skim_rule rules[] = {
	{ "status", SKIM_WHOLE, 0 },  { "agent", SKIM_SCALARS, 0 }, { "policy", SKIM_WHOLE, 0 },
	{ "commands", SKIM_WHOLE, 3 }, { "meta", SKIM_SCALARS, 0 },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static char out[4096];

/* Skim doc in pieces of `step` bytes (0 = whole); returns the error or NULL. */
static const char *skim_str(const char *doc, size_t step, struct skim *s)
{
	size_t n = strlen(doc);

	skim_init(s, rules, NRULES, out, sizeof(out));
	if (!step)
		step = n ? n : 1;
	for (size_t i = 0; i < n; i += step)
		skim_feed(s, doc + i, n - i < step ? n - i : step);
	skim_finish(s);
	return s->err;
}

static void test_keeps_what_netinv_reads(void **state)
{
	struct skim s;

	(void)state;
	assert_null(skim_str("{\"status\":\"accepted\",\"summary\":{\"ip_addresses_seen\":[\"10.0.0.1\"]},"
			     "\"agent\":{\"id\":7,\"last_ip_addresses\":[\"10.0.0.1\"],\"name\":\"h\","
			     "\"meta\":{\"x\":1},\"ok\":true,\"gone\":null},"
			     "\"policy\":{\"enabled_commands\":{\"ip_addr\":false}},\"other\":[[[]]]}",
			     0, &s));
	assert_string_equal(out, "{\"status\":\"accepted\",\"agent\":{\"id\":7,\"name\":\"h\",\"ok\":true,"
				 "\"gone\":null},\"policy\":{\"enabled_commands\":{\"ip_addr\":false}}}");
	assert_int_equal(s.len, strlen(out));
	/* whitespace goes, escapes and numbers stay as sent */
	assert_null(skim_str(" { \"status\" : \"a\\\"\\u00e9\\n\" ,\n\"policy\":{\"n\":-1.5e+3,\"z\":0,"
			     "\"a\":[ ]} } \r\n", 0, &s));
	assert_string_equal(out, "{\"status\":\"a\\\"\\u00e9\\n\",\"policy\":{\"n\":-1.5e+3,\"z\":0,\"a\":[]}}");
	/* a member no rule names, before or after the kept ones, leaves no stray comma */
	assert_null(skim_str("{\"x\":1,\"status\":2,\"y\":[3],\"policy\":4,\"z\":{}}", 0, &s));
	assert_string_equal(out, "{\"status\":2,\"policy\":4}");
	assert_null(skim_str("{}", 0, &s));
	assert_string_equal(out, "{}");
	/* a top-level value that is not an object is kept whole: the caller says what is wrong */
	assert_null(skim_str("[1,{\"a\":2}]", 0, &s));
	assert_string_equal(out, "[1,{\"a\":2}]");
	assert_null(skim_str("-0.5", 0, &s));
	assert_string_equal(out, "-0.5");
	/* scalars of an array under a SCALARS rule, its nested values dropped */
	assert_null(skim_str("{\"meta\":[1,[2],\"3\",{}]}", 0, &s));
	assert_string_equal(out, "{\"meta\":[1,\"3\"]}");
}

static void test_limits(void **state)
{
	struct skim s;
	char *doc;
	size_t n;

	(void)state;
	/* only the first items of a limited array; the rest counted */
	assert_null(skim_str("{\"commands\":[1,2,3,4,5]}", 0, &s));
	assert_string_equal(out, "{\"commands\":[1,2,3]}");
	assert_int_equal(s.dropped[3], 2);
	/* a key longer than the skimmer holds is dropped, never cut */
	doc = malloc(300);
	n = (size_t)snprintf(doc, 300, "{\"policy\":{\"%0100d\":1,\"k\":2},\"%0100d\":3}", 0, 0);
	assert_true(n < 300);
	assert_null(skim_str(doc, 0, &s));
	assert_string_equal(out, "{\"policy\":{\"k\":2}}");
	free(doc);
	/* kept members larger than the buffer: an error, never a cut value */
	doc = malloc(10000);
	n = (size_t)snprintf(doc, 10000, "{\"status\":\"");
	memset(doc + n, 'x', 5000);
	snprintf(doc + n + 5000, 100, "\"}");
	assert_string_equal(skim_str(doc, 0, &s), "the members netinv reads do not fit the reply buffer");
	/* the same bulk in a dropped member costs nothing */
	memcpy(doc + 2, "stxtus", 6);
	assert_null(skim_str(doc, 0, &s));
	assert_string_equal(out, "{}");
	free(doc);
	/* 32 levels pass, 33 do not */
	doc = calloc(1, 200);
	memset(doc, '[', 32);
	memset(doc + 32, ']', 32);
	assert_null(skim_str(doc, 0, &s));
	memset(doc, '[', 33);
	memset(doc + 33, ']', 33);
	assert_string_equal(skim_str(doc, 0, &s), "the reply is nested deeper than 32 levels");
	free(doc);
	/* the same member twice: parsers disagree on which counts */
	assert_string_equal(skim_str("{\"status\":\"accepted\",\"status\":\"rejected\"}", 0, &s),
			    "a member netinv reads appears twice");
	/* a NUL would cut a kept string short; in a dropped one it is harmless */
	assert_string_equal(skim_str("{\"status\":\"gpak_ab\\u0000cd\"}", 0, &s),
			    "a string holds a NUL character");
	assert_null(skim_str("{\"x\":\"\\u0000\"}", 0, &s));
}

/* Malformed anywhere, kept part or dropped part: refused. */
static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"status\":\"accepted\"",
		"{\"status\":\"accepted\",\"summary\":[1,2,]}",
		"{\"summary\":[1 2]}",
		"{\"x\":tru}",
		"{\"x\":truex}",
		"{\"x\":nul}",
		"{\"x\":01}",
		"{\"x\":1.}",
		"{\"x\":.5}",
		"{\"x\":1e}",
		"{\"x\":1e+}",
		"{\"x\":-}",
		"{\"x\":+1}",
		"{\"x\":\"\x01\"}",
		"{\"x\":\"\\q\"}",
		"{\"x\":\"\\u12G4\"}",
		"{\"x\":\"unterminated}",
		"[1}",
		"{\"a\":1]",
		"{\"a\" 1}",
		"{\"a\":1}}",
		"{\"a\":1} x",
		"{\"a\":1}{}",
		"{1:2}",
		"{\"a\":1,}",
		"{,}",
		"[,1]",
		"{\"a\"}",
		"'single'",
		"\x1f\x8b\x08\x00",
		"<html><body>Welcome to nginx!</body></html>",
	};
	struct skim s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t step = 0; step < 3; step++) {
			if (!skim_str(bad[i], step, &s))
				fail_msg("accepted malformed reply #%zu (step %zu): %s", i, step, bad[i]);
		}
		assert_int_equal(s.in, strlen(bad[i]));
	}
}

/* Every way of cutting a reply into two pieces, and byte by byte, gives the same output. */
static void test_chunking(void **state)
{
	static const char *const docs[] = {
		"{\"status\":\"accepted\",\"agent\":{\"id\":12,\"last\":[\"a\",\"b\"]},\"n\":-12.5e-3,"
		"\"policy\":{\"t\":true,\"f\":false,\"n\":null,\"s\":\"\\u00e9\\\\\"},\"commands\":[{}]}",
		"{\"a\":[1,2,{\"b\":[[],{}]}],\"status\":0}",
		"12345",
		"{\"status\":\"x\"} ",
	};
	char whole[4096];
	struct skim s;

	(void)state;
	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		size_t n = strlen(docs[d]);

		assert_null(skim_str(docs[d], 0, &s));
		strcpy(whole, out);
		/* the kept part is itself JSON cJSON reads */
		{
			cJSON *j = cJSON_ParseWithLength(out, s.len);

			assert_non_null(j);
			cJSON_Delete(j);
		}
		assert_null(skim_str(docs[d], 1, &s));
		assert_string_equal(out, whole);
		for (size_t cut = 1; cut < n; cut++) {
			skim_init(&s, rules, NRULES, out, sizeof(out));
			skim_feed(&s, docs[d], cut);
			skim_feed(&s, docs[d] + cut, n - cut);
			assert_int_equal(skim_finish(&s), 0);
			assert_string_equal(out, whole);
		}
	}
}

/* A reply shaped like the Graphēon server's (every address echoed three times), megabytes long:
 * accepted, with the ids, time and policy read, in the fixed buffer. */
static void test_real_server_reply(void **state)
{
	size_t cap = 8u << 20, n = 0;
	char *b = malloc(cap), list[64];
	struct policy prev;
	static struct proto_reply r;
	const int addrs = 60000;

	(void)state;
	assert_non_null(b);
	policy_defaults(&prev);
#define ADD(...) (n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__))
#define IPS()                                                                                      \
	do {                                                                                       \
		for (int i = 0; i < addrs; i++)                                                    \
			ADD("%s\"10.%d.%d.%d\"", i ? ", " : "", i >> 16, (i >> 8) & 255, i & 255); \
	} while (0)
	snprintf(list, sizeof(list), "\"mac_addresses_seen\": [\"aa:bb:cc:dd:ee:ff\"]");
	ADD("{\"status\": \"accepted\", \"server_time\": \"2026-12-01T10:00:00.5\", \"agent\": {\"id\": 42, "
	    "\"hostname\": \"h\", \"last_ip_addresses\": [");
	IPS();
	ADD("], \"last_mac_addresses\": [\"aa:bb:cc:dd:ee:ff\"]}, \"policy\": {\"checkin_interval_seconds\": 900}, "
	    "\"checkin\": {\"id\": 9001, \"status\": \"accepted\", \"summary\": {\"ip_addresses_seen\": [");
	IPS();
	ADD("], %s}}, \"summary\": {\"hosts_created\": 3, \"ip_addresses_seen\": [", list);
	IPS();
	ADD("], %s}}", list);
	assert_true(n > 2000000 && n < cap);
	proto_parse_checkin(200, b, n, &prev, &r);
	assert_int_equal(r.outcome, PROTO_ACCEPTED);
	assert_string_equal(r.checkin_id, "9001");
	assert_int_equal(r.policy.interval, 900);
	assert_int_equal(r.server_time, 1796119200);
	assert_int_equal(r.reply_bytes, n);
	/* one broken byte deep inside an echoed list: the server said 200, so the outcome is unknown */
	b[n / 2] = '\x01';
	proto_parse_checkin(200, b, n, &prev, &r);
	assert_int_equal(r.outcome, PROTO_UNKNOWN);
	assert_non_null(strstr(r.message, "may have stored the report"));
	free(b);
	/* the bound: 64 KiB and four bytes per byte sent, at most 64 MiB */
	assert_int_equal(proto_reply_limit(0), 65536);
	assert_int_equal(proto_reply_limit(262144), 65536 + 4 * 262144);
	assert_int_equal(proto_reply_limit(1ull << 40), 64ull << 20);
#undef ADD
#undef IPS
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeps_what_netinv_reads),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_real_server_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
