/* libnl-route-3 as an independent oracle: the same recorded dumps parsed by libnl's caches must agree
 * with netinv's parsers field by field, for links, addresses, neighbours and routes. */
#include "testutil.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"

#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <linux/neighbour.h>

/* Messages libnl refused as "object exists": its route identity (family, table, TOS, destination,
 * priority) omits the output device, so e.g. ff00::/8 in table local on several devices collide. */
static int libnl_exists;

/* Load a fixture into a libnl cache of the given type, message by message. */
static struct nl_cache *libnl_cache(const char *type, const char *fixture)
{
	struct nl_cache *c = NULL;
	size_t len, off = 0;
	uint8_t *b = load_file(fixture, &len);

	assert_int_equal(nl_cache_alloc_name(type, &c), 0);
	while (off + 4 <= len) {
		uint32_t l, moff = 0;

		memcpy(&l, b + off, 4);
		off += 4;
		while (moff + NLMSG_HDRLEN <= l) {
			struct nlmsghdr *h = (void *)(b + off + moff);

			if (h->nlmsg_type >= NLMSG_MIN_TYPE) {
				struct nl_msg *m = nlmsg_convert(h);

				int r;

				assert_non_null(m);
				r = nl_cache_parse_and_add(c, m);
				if (r == -NLE_EXIST)
					libnl_exists++;
				else
					assert_int_equal(r, 0);
				nlmsg_free(m);
			}
			moff += NLMSG_ALIGN(h->nlmsg_len);
		}
		off += l;
	}
	free(b);
	return c;
}

static void assert_addr_eq(struct nl_addr *a, uint8_t family, const uint8_t *mine)
{
	assert_non_null(a);
	assert_int_equal(nl_addr_get_family(a), family);
	assert_memory_equal(nl_addr_get_binary_addr(a), mine, nl_addr_get_len(a));
}

static void test_links(void **state)
{
	struct snapshot s;
	struct parse_ctx c = { .snap = &s };
	struct nl_cache *cache;
	int seen = 0;

	(void)state;
	snap_init(&s, NULL);
	feed_fixture("links.nldump", link_parse, &c);
	cache = libnl_cache("route/link", "links.nldump");
	assert_int_equal(nl_cache_nitems(cache), s.t[SNAP_LINKS].n);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const struct snap_link *m = NULL;
		struct nl_addr *lla = rtnl_link_get_addr(l);

		for (uint32_t i = 0; i < s.t[SNAP_LINKS].n; i++)
			if (((struct snap_link *)snap_at(&s, SNAP_LINKS, i))->ifindex ==
			    (uint32_t)rtnl_link_get_ifindex(l))
				m = snap_at(&s, SNAP_LINKS, i);
		assert_non_null(m);
		assert_string_equal(rtnl_link_get_name(l), snap_s(&s, m->name));
		assert_int_equal(rtnl_link_get_mtu(l), m->mtu);
		assert_int_equal(rtnl_link_get_flags(l), m->flags);
		assert_int_equal(rtnl_link_get_master(l), (int)m->master);
		assert_int_equal(rtnl_link_get_operstate(l), m->operstate);
		assert_int_equal(rtnl_link_get_arptype(l), m->type);
		if (m->kind)
			assert_string_equal(rtnl_link_get_type(l), snap_s(&s, m->kind));
		else
			assert_null(rtnl_link_get_type(l));
		if (m->alias)
			assert_string_equal(rtnl_link_get_ifalias(l), snap_s(&s, m->alias));
		if (m->addr_len) {
			assert_non_null(lla);
			assert_int_equal(nl_addr_get_len(lla), m->addr_len);
			assert_memory_equal(nl_addr_get_binary_addr(lla), m->addr, m->addr_len);
		} else {
			assert_true(!lla || nl_addr_get_len(lla) == 0);
		}
		seen++;
	}
	assert_int_equal(seen, 7);
	nl_cache_free(cache);
	snap_free(&s);
}

static void test_addrs(void **state)
{
	struct snapshot s;
	struct parse_ctx c = { .snap = &s };
	struct nl_cache *cache;
	int seen = 0;

	(void)state;
	snap_init(&s, NULL);
	feed_fixture("addrs.nldump", addr_parse, &c);
	cache = libnl_cache("route/addr", "addrs.nldump");
	assert_int_equal(nl_cache_nitems(cache), s.t[SNAP_ADDRS].n);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a), *peer = rtnl_addr_get_peer(a);
		const struct snap_addr *m = NULL;

		assert_non_null(local);
		for (uint32_t i = 0; i < s.t[SNAP_ADDRS].n; i++) {
			const struct snap_addr *x = snap_at(&s, SNAP_ADDRS, i);

			if (x->family == rtnl_addr_get_family(a) &&
			    !memcmp(x->addr, nl_addr_get_binary_addr(local), nl_addr_get_len(local)))
				m = x;
		}
		assert_non_null(m);
		assert_int_equal(rtnl_addr_get_ifindex(a), (int)m->ifindex);
		assert_int_equal(rtnl_addr_get_prefixlen(a), m->prefixlen);
		assert_int_equal(rtnl_addr_get_scope(a), m->scope);
		assert_int_equal((uint32_t)rtnl_addr_get_flags(a), m->flags);
		if (m->label)
			assert_string_equal(rtnl_addr_get_label(a), snap_s(&s, m->label));
		if (m->has_peer)
			assert_addr_eq(peer, m->family, m->peer);
		if (m->has_brd)
			assert_addr_eq(rtnl_addr_get_broadcast(a), m->family, m->brd);
		seen++;
	}
	assert_true(seen >= 8);
	nl_cache_free(cache);
	snap_free(&s);
}

static void test_neigh(void **state)
{
	struct snapshot s;
	struct parse_ctx c = { .snap = &s };
	struct nl_cache *cache;
	int seen = 0;

	(void)state;
	snap_init(&s, NULL);
	feed_fixture("neigh.nldump", neigh_parse, &c);
	cache = libnl_cache("route/neigh", "neigh.nldump");
	assert_int_equal(nl_cache_nitems(cache), s.t[SNAP_NEIGH].n);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_neigh *n = (struct rtnl_neigh *)o;
		struct nl_addr *dst = rtnl_neigh_get_dst(n), *ll = rtnl_neigh_get_lladdr(n);
		const struct snap_neigh *m = NULL;

		for (uint32_t i = 0; i < s.t[SNAP_NEIGH].n; i++) {
			const struct snap_neigh *x = snap_at(&s, SNAP_NEIGH, i);

			if (x->family == rtnl_neigh_get_family(n) &&
			    x->ifindex == (uint32_t)rtnl_neigh_get_ifindex(n) &&
			    !memcmp(x->dst, nl_addr_get_binary_addr(dst), nl_addr_get_len(dst)))
				m = x;
		}
		assert_non_null(m);
		assert_int_equal(rtnl_neigh_get_state(n), m->state);
		assert_int_equal((unsigned)rtnl_neigh_get_flags(n), m->flags);
		if (m->has_lladdr) {
			assert_non_null(ll);
			assert_int_equal(nl_addr_get_len(ll), m->lladdr_len);
			assert_memory_equal(nl_addr_get_binary_addr(ll), m->lladdr, m->lladdr_len);
		} else {
			assert_true(!ll || nl_addr_get_len(ll) == 0);
		}
		seen++;
	}
	assert_true(seen >= 5);
	nl_cache_free(cache);
	snap_free(&s);
}

static const struct snap_route *match_route(const struct snapshot *s, struct rtnl_route *r)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	for (uint32_t i = 0; i < s->t[SNAP_ROUTES].n; i++) {
		const struct snap_route *x = snap_at(s, SNAP_ROUTES, i);

		if (x->family == rtnl_route_get_family(r) && x->table == rtnl_route_get_table(r) &&
		    x->dst_len == nl_addr_get_prefixlen(dst) && x->priority == rtnl_route_get_priority(r) &&
		    x->type == rtnl_route_get_type(r) &&
		    !memcmp(x->dst, nl_addr_get_binary_addr(dst), nl_addr_get_len(dst)))
			return x;
	}
	return NULL;
}

static void check_routes(const char *fixture)
{
	struct snapshot s;
	struct parse_ctx c = { .snap = &s };
	struct nl_cache *cache;
	const struct snap_nexthop *nhs;
	int seen = 0, multipath = 0, via = 0;

	snap_init(&s, NULL);
	feed_fixture(fixture, route_parse, &c);
	nhs = s.nh.v;
	libnl_exists = 0;
	cache = libnl_cache("route/route", fixture);
	assert_int_equal(nl_cache_nitems(cache) + libnl_exists, s.t[SNAP_ROUTES].n);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		const struct snap_route *m = match_route(&s, r);
		int nn = rtnl_route_get_nnexthops(r);

		assert_non_null(m);
		assert_int_equal(rtnl_route_get_protocol(r), m->protocol);
		assert_int_equal(rtnl_route_get_scope(r), m->scope);
		assert_int_equal(rtnl_route_get_tos(r), m->tos);
		if (m->has_prefsrc)
			assert_addr_eq(rtnl_route_get_pref_src(r), m->family, m->prefsrc);
		else
			assert_null(rtnl_route_get_pref_src(r));
		if (m->nh_count) {
			/* multipath: every hop, in kernel order */
			assert_int_equal(nn, (int)m->nh_count);
			for (int i = 0; i < nn; i++) {
				struct rtnl_nexthop *h = rtnl_route_nexthop_n(r, i);
				const struct snap_nexthop *x = &nhs[m->nh_first + (uint32_t)i];

				assert_int_equal(rtnl_route_nh_get_ifindex(h), (int)x->ifindex);
				assert_int_equal(rtnl_route_nh_get_weight(h), x->weight - 1);
				assert_addr_eq(rtnl_route_nh_get_gateway(h), x->gw_family, x->gw);
			}
			multipath++;
		} else if (nn == 1) {
			/* libnl folds a single path into one next hop */
			struct rtnl_nexthop *h = rtnl_route_nexthop_n(r, 0);

			assert_int_equal(rtnl_route_nh_get_ifindex(h), (int)m->oif);
			if (m->gw_family == m->family) {
				assert_addr_eq(rtnl_route_nh_get_gateway(h), m->family, m->gw);
			} else if (m->gw_family) {
				assert_addr_eq(rtnl_route_nh_get_via(h), m->gw_family, m->gw);
				via++;
			} else {
				assert_null(rtnl_route_nh_get_gateway(h));
			}
		} else {
			/* no next hop at all: blackhole/unreachable */
			assert_int_equal(m->oif, 0);
			assert_int_equal(m->gw_family, 0);
		}
		seen++;
	}
	assert_true(seen > 8);
	if (!strcmp(fixture, "routes4.nldump")) {
		assert_int_equal(multipath, 1);
		assert_int_equal(via, 1);
	}
	nl_cache_free(cache);
	snap_free(&s);
}

static void test_routes4(void **state)
{
	(void)state;
	check_routes("routes4.nldump");
}

static void test_routes6(void **state)
{
	(void)state;
	check_routes("routes6.nldump");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links),	cmocka_unit_test(test_addrs),
		cmocka_unit_test(test_neigh),	cmocka_unit_test(test_routes4),
		cmocka_unit_test(test_routes6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
