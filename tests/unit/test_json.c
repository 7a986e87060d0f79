/* The streaming JSON writer: escaping, UTF-8 validation, numbers, addresses, layout, flushing. */
#include "testutil.h"
#include "../../report/json.h"

#include <errno.h>

struct mem {
	char buf[65536];
	size_t len;
	int fail_after; /* fail the Nth flush (1-based); 0 = never */
	int flushes;
};

static int mem_sink(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;

	m->flushes++;
	if (m->fail_after && m->flushes >= m->fail_after)
		return -ENOSPC;
	assert_true(m->len + n < sizeof(m->buf));
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	m->buf[m->len] = 0;
	return 0;
}

static char wbuf[8192];

static const char *render_str(const char *s, size_t n)
{
	static struct mem m;
	struct json_w w;

	memset(&m, 0, sizeof(m));
	json_init(&w, wbuf, sizeof(wbuf), mem_sink, &m, false);
	json_strn(&w, s, n);
	assert_int_equal(json_finish(&w), 0);
	m.buf[m.len - 1] = 0; /* drop the newline */
	return m.buf;
}

static void test_escaping(void **state)
{
	(void)state;
	assert_string_equal(render_str("plain", 5), "\"plain\"");
	assert_string_equal(render_str("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	assert_string_equal(render_str("\n\t\r\x01\x1f", 5), "\"\\n\\t\\r\\u0001\\u001f\"");
	assert_string_equal(render_str("nul\0x", 5), "\"nul\\u0000x\"");
	/* valid UTF-8 passes through: é (2 bytes), € (3), 😀 (4) */
	assert_string_equal(render_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9),
			    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* invalid: lone continuation, overlong, surrogate, truncated sequence, 0xff */
	assert_string_equal(render_str("\x80", 1), "\"\\ufffd\"");
	assert_string_equal(render_str("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
	assert_string_equal(render_str("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(render_str("a\xe2\x82", 3), "\"a\\ufffd\\ufffd\"");
	assert_string_equal(render_str("\xff", 1), "\"\\ufffd\"");
	assert_string_equal(render_str("\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_values_and_layout(void **state)
{
	struct mem m = { 0 };
	struct json_w w;
	uint8_t v4[16] = { 192, 0, 2, 1 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t mac[6] = { 0xde, 0xad, 0xbe, 0xef, 0, 0x0a };

	(void)state;
	json_init(&w, wbuf, sizeof(wbuf), mem_sink, &m, false);
	json_obj_begin(&w);
	json_key(&w, "a");
	json_u64(&w, 0);
	json_key(&w, "b");
	json_u64(&w, UINT64_MAX);
	json_key(&w, "c");
	json_i64(&w, INT64_MIN);
	json_key(&w, "d");
	json_arr_begin(&w);
	json_ip(&w, AF_INET, v4);
	json_ip(&w, AF_INET6, v6);
	json_cidr(&w, AF_INET, v4, 24);
	json_hex(&w, mac, 6);
	json_hex(&w, mac, 0);
	json_bool(&w, true);
	json_null(&w);
	json_milli(&w, 1234567);
	json_milli(&w, 5);
	json_arr_end(&w);
	json_key(&w, "e");
	json_obj_begin(&w);
	json_obj_end(&w);
	json_key(&w, "f");
	json_arr_begin(&w);
	json_arr_end(&w);
	json_obj_end(&w);
	assert_int_equal(json_finish(&w), 0);
	assert_string_equal(m.buf, "{\"a\":0,\"b\":18446744073709551615,\"c\":-9223372036854775808,"
				   "\"d\":[\"192.0.2.1\",\"2001:db8::1\",\"192.0.2.1/24\","
				   "\"de:ad:be:ef:00:0a\",null,true,null,1234.567,0.005],"
				   "\"e\":{},\"f\":[]}\n");

	memset(&m, 0, sizeof(m));
	json_init(&w, wbuf, sizeof(wbuf), mem_sink, &m, true);
	json_obj_begin(&w);
	json_key(&w, "k");
	json_arr_begin(&w);
	json_u64(&w, 1);
	json_u64(&w, 2);
	json_arr_end(&w);
	json_key(&w, "e");
	json_arr_begin(&w);
	json_arr_end(&w);
	json_obj_end(&w);
	assert_int_equal(json_finish(&w), 0);
	assert_string_equal(m.buf, "{\n  \"k\": [\n    1,\n    2\n  ],\n  \"e\": []\n}\n");
}

/* A tiny buffer forces a flush every few bytes; the output must not change. */
static void test_small_buffer_same_output(void **state)
{
	static struct mem a, b;
	char small[JSON_MIN_BUF];
	struct json_w w1, w2;
	char name[300];

	(void)state;
	memset(name, 'x', sizeof(name));
	name[10] = '"';
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	json_init(&w1, wbuf, sizeof(wbuf), mem_sink, &a, true);
	json_init(&w2, small, sizeof(small), mem_sink, &b, true);
	for (int k = 0; k < 2; k++) {
		struct json_w *w = k ? &w2 : &w1;

		json_arr_begin(w);
		for (int i = 0; i < 50; i++) {
			json_obj_begin(w);
			json_key(w, "n");
			json_u64(w, (uint64_t)i * 1000003);
			json_key(w, "s");
			json_strn(w, name, sizeof(name));
			json_obj_end(w);
		}
		json_arr_end(w);
		assert_int_equal(json_finish(w), 0);
	}
	assert_true(b.flushes > 30);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	assert_int_equal(w2.total, b.len);
}

static void test_sink_error_sticks(void **state)
{
	struct mem m = { .fail_after = 2 };
	char small[JSON_MIN_BUF], tiny[64];
	struct json_w w;

	(void)state;
	/* a buffer too small for the largest item is refused up front, and writes are inert */
	json_init(&w, tiny, sizeof(tiny), mem_sink, &m, false);
	assert_int_equal(w.err, -EINVAL);
	json_str(&w, "0123456789012345678901234567890123456789012345678901234567890123456789");
	assert_int_equal(json_finish(&w), -EINVAL);
	assert_int_equal(m.flushes, 0);
	json_init(&w, small, sizeof(small), mem_sink, &m, false);
	json_arr_begin(&w);
	for (int i = 0; i < 1000; i++)
		json_str(&w, "0123456789");
	json_arr_end(&w);
	assert_int_equal(json_finish(&w), -ENOSPC);
	assert_int_equal(w.err, -ENOSPC);
}

static void test_depth_limit(void **state)
{
	struct mem m = { 0 };
	struct json_w w;

	(void)state;
	json_init(&w, wbuf, sizeof(wbuf), mem_sink, &m, false);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_arr_begin(&w);
	assert_int_equal(w.err, -E2BIG);
	/* closing more than was opened is an error too */
	json_init(&w, wbuf, sizeof(wbuf), mem_sink, &m, false);
	json_arr_end(&w);
	assert_int_equal(w.err, -EINVAL);
}

static void test_fmt_ip_mapped(void **state)
{
	char out[64];
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };

	(void)state;
	fmt_ip(out, AF_INET6, a);
	assert_string_equal(out, "::ffff:10.0.0.1");
	memset(a, 0, 16);
	fmt_ip(out, AF_INET, a);
	assert_string_equal(out, "0.0.0.0");
}

/* The hand-written IPv6 text is glibc's inet_ntop's, byte for byte: every pattern of zero and
 * non-zero groups (which decides the "::" and the dotted forms) with random values, plus the
 * special forms. */
static void test_fmt_ip6_is_inet_ntop(void **state)
{
	static const char *const special[] = { "::", "::1", "::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:0",
						"1::", "1:0:0:1::", "0:1::", "fe80::2", "2001:db8::1:0:0:1",
						"::ffff:0.0.0.0", "::0.0.0.2", "::2:3", "1:2:3:4:5:6:7:8" };
	uint8_t a[16];
	char want[64], got[64];
	unsigned seed = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		assert_int_equal(inet_pton(AF_INET6, special[i], a), 1);
		assert_non_null(inet_ntop(AF_INET6, a, want, sizeof(want)));
		assert_int_equal(fmt_ip(got, AF_INET6, a), strlen(want));
		assert_string_equal(got, want);
	}
	for (unsigned mask = 0; mask < 256; mask++) {
		for (int rep = 0; rep < 64; rep++) {
			for (int g = 0; g < 8; g++) {
				seed = seed * 1103515245u + 12345u;
				/* values of every width: 1 to 4 hex digits, and 0xffff */
				unsigned v = (seed >> 8) >> (4 * (rep % 4));

				if (rep == 5 && g == 5)
					v = 0xffff;
				if (!(mask & (1u << g)))
					v = 0;
				else if (!v)
					v = 1;
				a[2 * g] = (uint8_t)(v >> 8);
				a[2 * g + 1] = (uint8_t)v;
			}
			assert_non_null(inet_ntop(AF_INET6, a, want, sizeof(want)));
			assert_int_equal(fmt_ip(got, AF_INET6, a), strlen(want));
			assert_string_equal(got, want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_values_and_layout),
		cmocka_unit_test(test_small_buffer_same_output),
		cmocka_unit_test(test_sink_error_sticks),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_fmt_ip_mapped),
		cmocka_unit_test(test_fmt_ip6_is_inet_ntop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
