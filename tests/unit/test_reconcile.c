/* reconcile: a dumped route table brought up to date with the notifications of its dump, checked
 * against a model (the set of routes after the same changes), and every case it must refuse. */
#include "testutil.h"
#include "../../delta/canon.h"
#include "../../delta/reconcile.h"
#include "../../netlink/route.h"

#include <linux/rtnetlink.h>
#include <errno.h>
#include <sys/socket.h>

static struct snap_route v4(uint32_t table, uint32_t dst, uint8_t len, uint32_t metric, uint32_t gw)
{
	struct snap_route r = { .family = AF_INET, .dst_len = len, .table = table, .priority = metric,
				.type = RTN_UNICAST, .protocol = RTPROT_STATIC, .gw_family = AF_INET, .oif = 2 };

	dst = htonl(dst);
	gw = htonl(gw);
	memcpy(r.dst, &dst, 4);
	memcpy(r.gw, &gw, 4);
	return r;
}

static void put(struct snapshot *s, struct snap_route r)
{
	struct snap_route *p = snap_push(s, SNAP_ROUTES);

	assert_non_null(p);
	*p = r;
}

static void event(struct route_events *e, struct snap_route r, bool removal)
{
	put(&e->ev, r);
	assert_int_equal(route_events_note(e, removal), 0);
}

static void dumped(struct snapshot *s)
{
	canon_sort(s, SNAP_ROUTES);
	assert_int_equal(canon_dedup(s, SNAP_ROUTES), 0);
}

/* sorted (canon_sort finds nothing to do) and holding no identical records */
static void assert_canonical(struct snapshot *s)
{
	for (uint32_t i = 1; i < s->t[SNAP_ROUTES].n; i++)
		assert_true(canon_cmp(s, SNAP_ROUTES, snap_at(s, SNAP_ROUTES, i - 1), snap_at(s, SNAP_ROUTES, i)) < 0);
}

static int find(const struct snapshot *s, uint32_t dst, uint32_t metric)
{
	dst = htonl(dst);
	for (uint32_t i = 0; i < s->t[SNAP_ROUTES].n; i++) {
		const struct snap_route *r = snap_at(s, SNAP_ROUTES, i);

		if (!memcmp(r->dst, &dst, 4) && r->priority == metric)
			return (int)i;
	}
	return -1;
}

static void setup(struct snapshot *s, struct route_events *e)
{
	assert_int_equal(snap_init(s, NULL), 0);
	assert_int_equal(route_events_init(e, 1024, 64), 0);
	for (uint32_t i = 0; i < 100; i++)
		put(s, v4(254, 0x0a000000 | i << 8, 24, 0, 0x0a000102));
	dumped(s);
}

static void teardown(struct snapshot *s, struct route_events *e)
{
	snap_free(s);
	route_events_free(e);
}

static void test_add_remove_replace(void **st)
{
	struct snapshot s;
	struct route_events e;
	const struct snap_route *r;
	int i;

	(void)st;
	setup(&s, &e);
	event(&e, v4(254, 0x0b000000, 24, 0, 0x0a000102), false);  /* new */
	event(&e, v4(254, 0x0a000500, 24, 0, 0x0a000102), true);   /* removed */
	event(&e, v4(254, 0x0a000600, 24, 0, 0x0a000199), false);  /* replaced: another gateway */
	event(&e, v4(254, 0x0a000700, 24, 0, 0x0a000102), false);  /* as dumped: no change */
	event(&e, v4(254, 0x0c000000, 24, 0, 0x0a000102), false);  /* added, then removed */
	event(&e, v4(254, 0x0c000000, 24, 0, 0x0a000102), true);
	event(&e, v4(254, 0x0a000800, 24, 0, 0x0a000102), true);   /* removed, then back changed */
	event(&e, v4(254, 0x0a000800, 24, 0, 0x0a000177), false);
	event(&e, v4(254, 0x0d000000, 24, 0, 0x0a000102), true);   /* removal of what the dump missed */
	assert_int_equal(reconcile_routes(&s, &e), 4);
	assert_int_equal(s.t[SNAP_ROUTES].n, 100);
	assert_canonical(&s);
	assert_true(find(&s, 0x0b000000, 0) >= 0);
	assert_int_equal(find(&s, 0x0a000500, 0), -1);
	assert_int_equal(find(&s, 0x0c000000, 0), -1);
	i = find(&s, 0x0a000600, 0);
	assert_true(i >= 0);
	r = snap_at(&s, SNAP_ROUTES, (uint32_t)i);
	assert_int_equal(r->gw[3], 0x99);
	i = find(&s, 0x0a000800, 0);
	assert_true(i >= 0);
	r = snap_at(&s, SNAP_ROUTES, (uint32_t)i);
	assert_int_equal(r->gw[3], 0x77);
	teardown(&s, &e);
}

static void test_multipath_hops_copied(void **st)
{
	struct snapshot s;
	struct route_events e;
	struct snap_route m = v4(254, 0x0a000300, 24, 0, 0);
	const struct snap_route *r;
	const struct snap_nexthop *nh;
	int i;

	(void)st;
	setup(&s, &e);
	m.gw_family = 0;
	memset(m.gw, 0, sizeof(m.gw));
	m.oif = 0;
	m.nh_first = e.ev.nh.n;
	m.nh_count = 2;
	for (int h = 0; h < 2; h++) {
		struct snap_nexthop *p = snap_push_nh(&e.ev, SNAP_ROUTES);

		assert_non_null(p);
		p->ifindex = 7 + (uint32_t)h;
		p->gw_family = AF_INET;
		p->gw[0] = 10, p->gw[3] = (uint8_t)(50 + h);
		p->weight = 1;
	}
	event(&e, m, false);
	assert_int_equal(reconcile_routes(&s, &e), 1);
	i = find(&s, 0x0a000300, 0);
	assert_true(i >= 0);
	r = snap_at(&s, SNAP_ROUTES, (uint32_t)i);
	assert_int_equal(r->nh_count, 2);
	nh = (const struct snap_nexthop *)s.nh.v + r->nh_first;
	assert_int_equal(nh[0].ifindex, 7);
	assert_int_equal(nh[1].gw[3], 51);
	assert_canonical(&s);
	teardown(&s, &e);
}

/* Each refusal leaves the dumped table exactly as it was. */
static void refused(struct snapshot *s, struct route_events *e)
{
	uint64_t fp = canon_fingerprint(s, SNAP_ROUTES);
	uint32_t n = s->t[SNAP_ROUTES].n;

	assert_int_equal(reconcile_routes(s, e), -EAGAIN);
	assert_int_equal(s->t[SNAP_ROUTES].n, n);
	assert_true(canon_fingerprint(s, SNAP_ROUTES) == fp);
}

static void test_refusals(void **st)
{
	struct snapshot s;
	struct route_events e;
	struct snap_route r6 = { .family = AF_INET6, .dst_len = 64, .table = 254, .type = RTN_UNICAST };

	(void)st;
	/* an IPv6 notification: that dump restarts by position */
	setup(&s, &e);
	event(&e, v4(254, 0x0b000000, 24, 0, 0x0a000102), false);
	event(&e, r6, false);
	refused(&s, &e);
	teardown(&s, &e);
	/* a prefix where a datagram ended (the dump resumed there by index) */
	setup(&s, &e);
	e.seams.v[0] = (struct route_leaf){ .table = 254, .dst = { 10, 0, 5, 0 }, .dst_len = 24 };
	e.seams.n = 1;
	event(&e, v4(254, 0x0a000500, 24, 10, 0x0a000102), false);
	refused(&s, &e);
	e.seams.v[0].dst[2] = 6; /* another prefix: placed */
	assert_int_equal(reconcile_routes(&s, &e), 1);
	teardown(&s, &e);
	/* a table the dump did not hold (created meanwhile) */
	setup(&s, &e);
	event(&e, v4(100, 0x0b000000, 24, 0, 0x0a000102), false);
	refused(&s, &e);
	teardown(&s, &e);
	/* an identity the dump holds twice (ip route append) */
	setup(&s, &e);
	put(&s, v4(254, 0x0a000500, 24, 0, 0x0a000103));
	dumped(&s);
	event(&e, v4(254, 0x0a000500, 24, 0, 0x0a000102), true);
	refused(&s, &e);
	teardown(&s, &e);
	/* marked unusable (an appended route, a malformed notification), or seams overflowed */
	setup(&s, &e);
	event(&e, v4(254, 0x0b000000, 24, 0, 0x0a000102), false);
	e.unusable = true;
	refused(&s, &e);
	e.unusable = false;
	e.seams.overflow = true;
	refused(&s, &e);
	teardown(&s, &e);
}

/* A replaced record that no longer sorts where it was (two records share the order's leading
 * fields, the replacement changes one that follows them): the table is sorted whole. */
static void test_replaced_out_of_order(void **st)
{
	struct snapshot s;
	struct route_events e;
	struct snap_route a = v4(254, 0x0b000500, 24, 0, 0x0a000102), b = a, ev;

	(void)st;
	setup(&s, &e);
	b.src_len = 8;
	b.src[0] = 1;
	put(&s, a);
	put(&s, b);
	dumped(&s);
	ev = a;
	ev.type = RTN_BLACKHOLE; /* after b's type (unicast): a now sorts after b */
	event(&e, ev, false);
	assert_int_equal(reconcile_routes(&s, &e), 1);
	assert_canonical(&s);
	assert_int_equal(s.t[SNAP_ROUTES].n, 102);
	teardown(&s, &e);
}

static void test_event_cap(void **st)
{
	struct route_events e;

	(void)st;
	assert_int_equal(route_events_init(&e, 2, 1), 0);
	for (int i = 0; i < 2; i++) {
		put(&e.ev, v4(254, 0x0b000000 + (uint32_t)i, 32, 0, 1));
		assert_int_equal(route_events_note(&e, false), 0);
	}
	put(&e.ev, v4(254, 0x0b0000ff, 32, 0, 1));
	assert_int_equal(route_events_note(&e, false), -ENOSPC);
	assert_true(e.unusable);
	route_events_reset(&e);
	assert_false(e.unusable);
	assert_int_equal(e.ev.t[SNAP_ROUTES].n, 0);
	route_events_free(&e);
}

/* 20,000 dumped routes, 3,000 random changes over 4,000 prefixes: the result is the model's set. */
static void test_against_model(void **st)
{
	struct snapshot s;
	struct route_events e;
	uint8_t model[4000], gw[4000];
	uint32_t present = 0;

	(void)st;
	srandom(15);
	assert_int_equal(snap_init(&s, NULL), 0);
	assert_int_equal(route_events_init(&e, 65536, 64), 0);
	for (uint32_t i = 0; i < 16000; i++)
		put(&s, v4(254, 0x14000000 | i << 8, 24, 5, 0x0a000102));
	for (uint32_t i = 0; i < 4000; i++) {
		model[i] = (uint8_t)(random() & 1);
		gw[i] = 1;
		if (model[i])
			put(&s, v4(254, 0x0b000000 | i, 32, 0, 0x0a000001));
	}
	dumped(&s);
	for (int k = 0; k < 3000; k++) {
		uint32_t i = (uint32_t)random() % 4000;
		bool removal = model[i] && (random() & 1);

		if (removal) {
			event(&e, v4(254, 0x0b000000 | i, 32, 0, 0x0a000000u | gw[i]), true);
			model[i] = 0;
		} else {
			gw[i] = (uint8_t)(1 + random() % 200);
			event(&e, v4(254, 0x0b000000 | i, 32, 0, 0x0a000000u | gw[i]), false);
			model[i] = 1;
		}
	}
	assert_true(reconcile_routes(&s, &e) > 0);
	assert_canonical(&s);
	for (uint32_t i = 0; i < 4000; i++) {
		int at = find(&s, 0x0b000000 | i, 0);

		present += model[i];
		assert_int_equal(at >= 0, model[i]);
		if (at >= 0)
			assert_int_equal(((const struct snap_route *)snap_at(&s, SNAP_ROUTES, (uint32_t)at))->gw[3], gw[i]);
	}
	assert_int_equal(s.t[SNAP_ROUTES].n, 16000 + present);
	teardown(&s, &e);
}

/* route_parse reads an RTM_DELROUTE only as a notification, and notes where datagrams ended. */
static void test_parse_notification(void **st)
{
	union {
		struct nlmsghdr h;
		uint8_t b[256];
	} m;
	struct rtmsg *rtm;
	struct rtattr *a;
	struct snapshot s;
	struct route_seams sm = { 0 };
	struct route_leaf leaves[4];
	struct nl_walk w = { .datagrams = 1 };
	struct parse_ctx pc = { .snap = &s };

	(void)st;
	assert_int_equal(snap_init(&s, NULL), 0);
	memset(&m, 0, sizeof(m));
	m.h.nlmsg_type = RTM_DELROUTE;
	m.h.nlmsg_len = NLMSG_LENGTH(sizeof(*rtm));
	rtm = NLMSG_DATA(&m.h);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 24;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	a = (struct rtattr *)(m.b + m.h.nlmsg_len);
	a->rta_type = RTA_DST;
	a->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(a), (uint8_t[]){ 10, 9, 8, 0 }, 4);
	m.h.nlmsg_len += RTA_ALIGN(a->rta_len);
	assert_int_equal(route_parse(&m.h, &pc), 0);
	assert_int_equal(s.t[SNAP_ROUTES].n, 0); /* a dump never holds one */
	pc.event = 1;
	assert_int_equal(route_parse(&m.h, &pc), 0);
	assert_int_equal(s.t[SNAP_ROUTES].n, 1);
	/* seams: the prefix of the last route of each datagram that is followed by another */
	m.h.nlmsg_type = RTM_NEWROUTE;
	pc.event = 0;
	sm.v = leaves;
	sm.max = 1;
	pc.seams = &sm;
	pc.walk = &w;
	assert_int_equal(route_parse(&m.h, &pc), 0);
	assert_int_equal(sm.n, 0);
	w.datagrams = 2;
	((uint8_t *)RTA_DATA(a))[2] = 7;
	assert_int_equal(route_parse(&m.h, &pc), 0);
	assert_int_equal(sm.n, 1);
	assert_int_equal(leaves[0].dst[2], 8);
	assert_int_equal(leaves[0].dst_len, 24);
	assert_int_equal(leaves[0].table, RT_TABLE_MAIN);
	w.datagrams = 3;
	assert_int_equal(route_parse(&m.h, &pc), 0);
	assert_true(sm.overflow); /* past the caller's room: reconciliation refuses */
	snap_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_remove_replace),
		cmocka_unit_test(test_multipath_hops_copied),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_replaced_out_of_order),
		cmocka_unit_test(test_event_cap),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_parse_notification),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
