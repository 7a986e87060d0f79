/* The dump walker: framing, sequence and port checks, DONE/ERROR handling, DUMP_INTR. */
#include "testutil.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

static int count(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(*(int *)arg)++;
	return 0;
}

static int reject(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(void)arg;
	return -EBADMSG;
}

/* Walk a copy in an exact-size heap block: ASan flags any read past the end. */
static int walk(const void *buf, size_t len, struct nl_walk *w, nl_msg_fn fn, void *arg)
{
	void *c = malloc(len ? len : 1);
	int r;

	memcpy(c, buf, len);
	r = nl_walk_buf(c, len, w, fn, arg);
	free(c);
	return r;
}

static size_t put_msg(uint8_t *buf, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid,
		      size_t payload)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = seq;
	h->nlmsg_pid = pid;
	memset(mnl_nlmsg_put_extra_header(h, payload), 0, payload);
	return h->nlmsg_len;
}

static size_t put_done(uint8_t *buf, uint32_t seq, int status)
{
	size_t l = put_msg(buf, NLMSG_DONE, NLM_F_MULTI, seq, 0, sizeof(int));

	memcpy(buf + NLMSG_HDRLEN, &status, sizeof(int));
	return l;
}

static void test_good_dump(void **state)
{
	uint8_t b[1024];
	size_t l = 0;
	struct nl_walk w = { .seq = 7, .portid = 99 };
	int n = 0;

	(void)state;
	l += put_msg(b + l, RTM_NEWLINK, NLM_F_MULTI, 7, 99, 16);
	l += put_msg(b + l, RTM_NEWLINK, NLM_F_MULTI, 7, 99, 20);
	l += put_msg(b + l, NLMSG_NOOP, 0, 7, 99, 0);
	l += put_done(b + l, 7, 0);
	assert_int_equal(walk(b, l, &w, count, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(w.msgs, 2);
	assert_true(w.done);
	assert_false(w.intr);
	assert_int_equal(w.kernel_error, 0);
}

static void test_short_header(void **state)
{
	uint8_t b[64];
	struct nl_walk w = { 0 };
	int n = 0;
	size_t l = put_msg(b, RTM_NEWLINK, 0, 0, 0, 8);

	(void)state;
	((struct nlmsghdr *)b)->nlmsg_len = 8; /* less than a header */
	assert_int_equal(walk(b, l, &w, count, &n), -EBADMSG);
	assert_int_equal(n, 0);
	/* fewer bytes than a header at the end of the buffer: trailing garbage */
	memset(&w, 0, sizeof(w));
	l = put_msg(b, RTM_NEWLINK, 0, 0, 0, 0);
	assert_int_equal(walk(b, l + 4, &w, count, &n), -EBADMSG);
}

static void test_claims_more_than_received(void **state)
{
	uint8_t b[256];
	struct nl_walk w = { 0 };
	int n = 0;
	size_t l = put_msg(b, RTM_NEWLINK, 0, 0, 0, 32);

	(void)state;
	((struct nlmsghdr *)b)->nlmsg_len = (uint32_t)l + 100;
	assert_int_equal(walk(b, l, &w, count, &n), -EBADMSG);
	assert_int_equal(n, 0);
	((struct nlmsghdr *)b)->nlmsg_len = 0xffffffffu;
	assert_int_equal(walk(b, l, &w, count, &n), -EBADMSG);
}

static void test_seq_and_port(void **state)
{
	uint8_t b[256];
	struct nl_walk w = { .seq = 5, .portid = 10 };
	int n = 0;
	size_t l = put_msg(b, RTM_NEWLINK, 0, 6, 10, 16);

	(void)state;
	assert_int_equal(walk(b, l, &w, count, &n), -ESRCH);
	l = put_msg(b, RTM_NEWLINK, 0, 5, 11, 16);
	assert_int_equal(walk(b, l, &w, count, &n), -EPROTO);
	assert_int_equal(n, 0);
}

static void test_error_and_done_status(void **state)
{
	uint8_t b[256];
	struct nl_walk w = { 0 };
	int n = 0, err = -EOPNOTSUPP;
	size_t l = put_msg(b, NLMSG_ERROR, 0, 0, 0, sizeof(struct nlmsgerr));

	(void)state;
	memcpy(b + NLMSG_HDRLEN, &err, sizeof(err));
	assert_int_equal(walk(b, l, &w, count, &n), 0);
	assert_true(w.done);
	assert_int_equal(w.kernel_error, -EOPNOTSUPP);
	/* an error message too short to hold struct nlmsgerr */
	memset(&w, 0, sizeof(w));
	l = put_msg(b, NLMSG_ERROR, 0, 0, 0, 4);
	assert_int_equal(walk(b, l, &w, count, &n), -EBADMSG);
	/* a positive "errno" is nonsense */
	memset(&w, 0, sizeof(w));
	l = put_msg(b, NLMSG_ERROR, 0, 0, 0, sizeof(struct nlmsgerr));
	err = 5;
	memcpy(b + NLMSG_HDRLEN, &err, sizeof(err));
	assert_int_equal(walk(b, l, &w, count, &n), -EBADMSG);
	/* DONE carrying the dump's failure */
	memset(&w, 0, sizeof(w));
	l = put_done(b, 0, -EMSGSIZE);
	assert_int_equal(walk(b, l, &w, count, &n), 0);
	assert_int_equal(w.kernel_error, -EMSGSIZE);
	/* a bare DONE without the status int (old kernels) is fine */
	memset(&w, 0, sizeof(w));
	l = put_msg(b, NLMSG_DONE, 0, 0, 0, 0);
	assert_int_equal(walk(b, l, &w, count, &n), 0);
	assert_true(w.done);
	assert_int_equal(w.kernel_error, 0);
}

static void test_dump_intr_and_overrun(void **state)
{
	uint8_t b[256];
	struct nl_walk w = { 0 };
	int n = 0;
	size_t l = put_msg(b, RTM_NEWROUTE, NLM_F_MULTI | NLM_F_DUMP_INTR, 0, 0, 12);

	(void)state;
	l += put_done(b + l, 0, 0);
	assert_int_equal(walk(b, l, &w, count, &n), 0);
	assert_true(w.intr);
	assert_int_equal(n, 1);
	memset(&w, 0, sizeof(w));
	l = put_msg(b, NLMSG_OVERRUN, 0, 0, 0, 0);
	assert_int_equal(walk(b, l, &w, count, &n), -ENOBUFS);
}

static void test_drops_are_counted_and_walk_goes_on(void **state)
{
	uint8_t b[256];
	struct nl_walk w = { 0 };
	size_t l = 0;

	(void)state;
	l += put_msg(b + l, RTM_NEWLINK, 0, 0, 0, 16);
	l += put_msg(b + l, RTM_NEWLINK, 0, 0, 0, 16);
	l += put_done(b + l, 0, 0);
	assert_int_equal(walk(b, l, &w, reject, NULL), 0);
	assert_int_equal(w.dropped, 2);
	assert_int_equal(w.first_drop, EBADMSG);
	assert_true(w.done);
}

/* A real dump from the kernel through the socket layer (the test's own namespace is fine: it only
 * reads). */
static void test_live_dump(void **state)
{
	struct nlconn c;
	union {
		struct nlmsghdr h;
		uint8_t b[64];
	} q;
	struct nl_walk w = { 0 };
	int n = 0;

	(void)state;
	assert_int_equal(nl_conn_open(&c, NETLINK_ROUTE, 0), 0);
	memset(&q, 0, sizeof(q));
	q.h.nlmsg_type = RTM_GETLINK;
	q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	assert_int_equal(nl_conn_dump(&c, &q.h, &w, count, &n), 0);
	assert_true(n >= 1); /* at least lo */
	assert_true(w.done);
	assert_int_equal(w.seq, c.seq);
	nl_conn_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_dump),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_claims_more_than_received),
		cmocka_unit_test(test_seq_and_port),
		cmocka_unit_test(test_error_and_done_status),
		cmocka_unit_test(test_dump_intr_and_overrun),
		cmocka_unit_test(test_drops_are_counted_and_walk_goes_on),
		cmocka_unit_test(test_live_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
