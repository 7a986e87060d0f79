/* The report: server-compatibility rules and the extensions, checked by parsing the output back. */
#include "testutil.h"
#include "../../report/json.h"
#include "../../report/names.h"
#include "../../report/report.h"
#include "../../delta/canon.h"
#include "../../netlink/collect.h"

#include <cjson/cJSON.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[1 << 16];
static size_t out_len;

static int sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	assert_true(out_len + n < sizeof(out));
	memcpy(out + out_len, p, n);
	out_len += n;
	out[out_len] = 0;
	return 0;
}

static void ip(uint8_t *dst, const char *s)
{
	uint8_t fam;

	ip_parse(s, &fam, dst);
}

static void build(struct snapshot *s)
{
	struct snap_link *l;
	struct snap_addr *a;
	struct snap_neigh *n;
	struct snap_route *r;
	struct snap_nexthop *h;
	struct snap_sock *k;

	snap_init(s, NULL);
	l = snap_push(s, SNAP_LINKS);
	l->ifindex = 2;
	l->name = snap_str(s, "eth0", 4);
	l->vlans = snap_str(s, "1 pvid untagged,10-20,30", 24);
	l->addr_len = 6;
	memcpy(l->addr, "\x02\x00\x00\x00\x00\x01", 6);
	l = snap_push(s, SNAP_LINKS);
	l->ifindex = 3;
	l->name = snap_str(s, "ib0", 3);
	l->addr_len = 20;
	a = snap_push(s, SNAP_ADDRS);
	a->family = AF_INET;
	a->ifindex = 2;
	a->prefixlen = 24;
	ip(a->addr, "192.0.2.10");
	a = snap_push(s, SNAP_ADDRS);
	a->family = AF_INET;
	a->ifindex = 3;
	a->prefixlen = 16;
	ip(a->addr, "10.1.0.1");
	a = snap_push(s, SNAP_ADDRS); /* unspecified: dropped */
	a->family = AF_INET6;
	a->ifindex = 2;
	n = snap_push(s, SNAP_NEIGH);
	n->family = AF_INET;
	n->ifindex = 3;
	n->state = NUD_REACHABLE;
	n->has_lladdr = 1;
	n->lladdr_len = 20;
	ip(n->dst, "10.1.0.2");
	n = snap_push(s, SNAP_NEIGH); /* unspecified: dropped */
	n->family = AF_INET;
	n->ifindex = 2;
	r = snap_push(s, SNAP_ROUTES);
	r->family = AF_INET;
	r->table = RT_TABLE_MAIN;
	r->type = RTN_UNICAST;
	r->protocol = RTPROT_BOOT;
	r->oif = 2;
	r->gw_family = AF_INET; /* unspecified gateway: nulled */
	r = snap_push(s, SNAP_ROUTES);
	r->family = AF_INET;
	r->table = 1000;
	r->dst_len = 8;
	r->type = RTN_UNICAST;
	ip(r->dst, "10.0.0.0");
	r->nh_first = s->nh.n;
	r->nh_count = 2;
	h = snap_push_nh(s, SNAP_ROUTES);
	h->ifindex = 2;
	h->gw_family = AF_INET;
	h->weight = 1;
	ip(h->gw, "192.0.2.1");
	h = snap_push_nh(s, SNAP_ROUTES);
	h->ifindex = 3;
	h->gw_family = AF_INET;
	h->weight = 2;
	ip(h->gw, "10.1.0.254");
	k = snap_push(s, SNAP_SOCKS); /* 0.0.0.0:22 LISTEN */
	k->family = AF_INET;
	k->proto = 6;
	k->state = 10;
	k->sport = 22;
	k->pid = 1;
	k->comm = snap_str(s, "sshd", 4);
	k = snap_push(s, SNAP_SOCKS); /* ::ffff:0.0.0.0 is a wildcard too */
	k->family = AF_INET6;
	k->proto = 17;
	k->state = 7;
	k->sport = 53;
	k->src[10] = k->src[11] = 0xff;
	k = snap_push(s, SNAP_SOCKS); /* 127.0.0.1:631 LISTEN */
	k->family = AF_INET;
	k->proto = 6;
	k->state = 10;
	k->sport = 631;
	ip(k->src, "127.0.0.1");
	k = snap_push(s, SNAP_SOCKS); /* established */
	k->family = AF_INET;
	k->proto = 6;
	k->state = 1;
	k->sport = 22;
	k->dport = 50000;
	ip(k->src, "192.0.2.10");
	ip(k->dst, "198.51.100.7");
	k = snap_push(s, SNAP_SOCKS); /* a state outside the enumeration */
	k->family = AF_INET;
	k->proto = 6;
	k->state = 99;
	k->sport = 1;
	ip(k->src, "192.0.2.10");
	for (int t = 0; t < SNAP_NTABLES; t++) {
		canon_sort(s, (enum snap_table)t);
		s->st[t].collected = true;
	}
}

static cJSON *render(const struct snapshot *s, unsigned tables, struct report_stats *rs)
{
	struct report_meta m = { .agent_uuid = "123e4567-e89b-42d3-a456-426614174000",
				 .hostname = "h",
				 .agent_version = "0.1.0",
				 .platform_release = "6.1",
				 .observed_at = 1700000000,
				 .full_snapshot = true,
				 .tables = tables };
	static char wb[JSON_MIN_BUF];
	struct json_w w;
	cJSON *j;

	out_len = 0;
	json_init(&w, wb, sizeof(wb), sink, NULL, false);
	assert_int_equal(report_write(&w, s, &m, rs), 0);
	assert_int_equal(json_finish(&w), 0);
	j = cJSON_ParseWithLength(out, out_len);
	assert_non_null(j);
	return j;
}

static cJSON *get(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v)
		fail_msg("missing key %s", k);
	return v;
}

static void test_compat_rules(void **state)
{
	struct snapshot s;
	struct report_stats rs;
	cJSON *j, *x, *e;

	(void)state;
	build(&s);
	j = render(&s, (1u << SNAP_NTABLES) - 1, &rs);
	assert_string_equal(get(j, "observed_at")->valuestring, "2023-11-14T22:13:20Z");
	assert_true(cJSON_IsTrue(get(j, "full_snapshot")));
	/* a VLAN-filtering bridge port's VLANs, as `bridge -json vlan show` lists them */
	x = get(cJSON_GetArrayItem(get(j, "links"), 0), "vlans");
	assert_int_equal(cJSON_GetArraySize(x), 3);
	e = cJSON_GetArrayItem(x, 0);
	assert_int_equal(get(e, "vlan")->valueint, 1);
	assert_string_equal(cJSON_GetArrayItem(get(e, "flags"), 0)->valuestring, "PVID");
	assert_string_equal(cJSON_GetArrayItem(get(e, "flags"), 1)->valuestring, "Egress Untagged");
	e = cJSON_GetArrayItem(x, 1);
	assert_int_equal(get(e, "vlan")->valueint, 10);
	assert_int_equal(get(e, "vlanEnd")->valueint, 20);
	assert_int_equal(cJSON_GetArraySize(get(e, "flags")), 0);
	assert_int_equal(get(cJSON_GetArrayItem(x, 2), "vlan")->valueint, 30);
	/* addresses: the unspecified one is gone, the InfiniBand one has a null MAC */
	x = get(j, "addresses");
	assert_int_equal(cJSON_GetArraySize(x), 2);
	e = cJSON_GetArrayItem(x, 0);
	assert_string_equal(get(e, "ip_address")->valuestring, "192.0.2.10");
	assert_string_equal(get(e, "mac_address")->valuestring, "02:00:00:00:00:01");
	assert_string_equal(get(e, "interface")->valuestring, "eth0");
	e = cJSON_GetArrayItem(x, 1);
	assert_true(cJSON_IsNull(get(e, "mac_address")));
	assert_int_equal(rs.addresses_unspecified, 1);
	/* neighbours */
	x = get(j, "neighbors");
	assert_int_equal(cJSON_GetArraySize(x), 1);
	e = cJSON_GetArrayItem(x, 0);
	assert_true(cJSON_IsNull(get(e, "mac_address")));
	assert_string_equal(get(e, "state")->valuestring, "REACHABLE");
	assert_int_equal(strlen(get(e, "lladdr")->valuestring), 20 * 3 - 1);
	assert_int_equal(rs.neighbors_unspecified, 1);
	assert_int_equal(rs.mac_not_6_octets, 2);
	/* routes: default with its unspecified gateway nulled; multipath with first hop on top */
	x = get(j, "routes");
	e = cJSON_GetArrayItem(x, 0);
	assert_string_equal(get(e, "destination")->valuestring, "default");
	assert_true(cJSON_IsNull(get(e, "gateway")));
	assert_string_equal(get(e, "protocol")->valuestring, "boot");
	e = cJSON_GetArrayItem(x, 1);
	assert_string_equal(get(e, "destination")->valuestring, "10.0.0.0/8");
	assert_string_equal(get(e, "gateway")->valuestring, "192.0.2.1");
	assert_string_equal(get(e, "table")->valuestring, "1000");
	assert_int_equal(cJSON_GetArraySize(get(e, "nexthops")), 2);
	assert_string_equal(get(cJSON_GetArrayItem(get(e, "nexthops"), 1), "interface")->valuestring,
			    "ib0");
	assert_int_equal(rs.gateway_unspecified, 1);
	/* sockets: no unspecified local_ip in connections, ever */
	x = get(j, "connections");
	assert_int_equal(cJSON_GetArraySize(x), 3);
	cJSON_ArrayForEach(e, x)
	{
		assert_string_not_equal(get(e, "local_ip")->valuestring, "0.0.0.0");
		assert_string_not_equal(get(e, "local_ip")->valuestring, "::ffff:0.0.0.0");
	}
	e = cJSON_GetArrayItem(x, 0);
	assert_string_equal(get(e, "state")->valuestring, "listen");
	assert_int_equal(get(e, "local_port")->valueint, 631);
	x = get(j, "listeners");
	assert_int_equal(cJSON_GetArraySize(x), 2);
	e = cJSON_GetArrayItem(x, 0);
	assert_int_equal(get(e, "pid")->valueint, 1);
	assert_string_equal(get(e, "process_name")->valuestring, "sshd");
	assert_string_equal(get(cJSON_GetArrayItem(x, 1), "state")->valuestring, "closed");
	assert_string_equal(get(cJSON_GetArrayItem(x, 1), "kernel_state")->valuestring, "UNCONN");
	assert_int_equal(rs.listeners, 2);
	assert_int_equal(rs.states_unknown, 1);
	/* the counts reach the report */
	x = get(get(get(j, "metadata"), "stats"), "compat");
	assert_int_equal(get(x, "wildcard_sockets_as_listeners")->valueint, 2);
	assert_int_equal(get(x, "mac_not_6_octets_nulled")->valueint, 2);
	cJSON_Delete(j);
	snap_free(&s);
}

/* --only: the four server lists are always present, filled or not; links only when asked for. */
static void test_only_selection(void **state)
{
	struct snapshot s;
	struct report_stats rs;
	cJSON *j;

	(void)state;
	build(&s);
	j = render(&s, 1u << SNAP_ROUTES, &rs);
	/* a list not collected is left out, never written empty: "not collected" is not "none" */
	for (const char *const *k = (const char *const[]){ "links", "addresses", "neighbors",
							   "connections", "listeners", "rules",
							   "nexthops", "namespaces", NULL };
	     *k; k++)
		assert_null(cJSON_GetObjectItemCaseSensitive(j, *k));
	assert_int_equal(cJSON_GetArraySize(get(j, "routes")), 2);
	{
		cJSON *tc = cJSON_GetObjectItemCaseSensitive(get(j, "metadata"), "tables_collected");

		assert_int_equal(cJSON_GetArraySize(tc), 1);
		assert_string_equal(cJSON_GetArrayItem(tc, 0)->valuestring, "routes");
	}
	cJSON_Delete(j);
	snap_free(&s);
}

/* Equal snapshots give byte-identical reports. */
static void test_deterministic(void **state)
{
	struct snapshot s;
	struct report_stats rs;
	char first[sizeof(out)];
	size_t first_len;

	(void)state;
	build(&s);
	cJSON_Delete(render(&s, (1u << SNAP_NTABLES) - 1, &rs));
	memcpy(first, out, out_len);
	first_len = out_len;
	snap_free(&s);
	build(&s);
	cJSON_Delete(render(&s, (1u << SNAP_NTABLES) - 1, &rs));
	assert_int_equal(out_len, first_len);
	assert_memory_equal(out, first, out_len);
	snap_free(&s);
}

static void test_names(void **state)
{
	char b[32];

	(void)state;
	/* without a configuration: the kernel's names */
	assert_string_equal(name_rtproto(NULL, RTPROT_KERNEL), "kernel");
	assert_string_equal(name_rtproto(NULL, 16), "dhcp");
	assert_string_equal(name_rtproto(NULL, 186), "bgp");
	assert_string_equal(name_rtproto(NULL, 250), "250");
	assert_string_equal(name_scope(NULL, RT_SCOPE_LINK), "link");
	assert_string_equal(name_rtntype(RTN_BLACKHOLE), "blackhole");
	assert_string_equal(name_table(NULL, RT_TABLE_MAIN, b, sizeof(b)), "main");
	assert_string_equal(name_table(NULL, 100000, b, sizeof(b)), "100000");
	assert_string_equal(name_nud(NUD_STALE, NULL, 0), "STALE");
	assert_string_equal(name_nud(0, NULL, 0), "NONE");
	assert_string_equal(name_sock_state(6, 10), "listen");
	assert_string_equal(name_sock_state(6, 12), "syn_recv");
	assert_string_equal(name_sock_state(17, 1), "established");
	assert_string_equal(name_sock_state(6, 200), "unknown");
}

static void put_file(const char *dir, const char *name, const char *text)
{
	scratch_put(dir, name, text, 0644);
}

/* The iproute2 configuration: rt_tables with 32-bit ids and rt_tables.d overriding it, rt_protos
 * from the fallback directory when the configuration has none, rt_scopes; malformed lines are
 * counted and skipped, a FIFO does not hang, and the bounds hold. */
static void test_iproute2_names(void **state)
{
	char dir[] = "/tmp/netinv-names.XXXXXX", fb[] = "/tmp/netinv-namesfb.XXXXXX", p[600], b[32];
	struct names_conf *nc = malloc(sizeof(*nc));

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(fb));
	snprintf(p, sizeof(p), "%s/rt_tables.d", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	put_file(dir, "rt_tables", "# comment\n255\tlocal\n254 main\n100 isp1\n1000\tbig-table\n"
				   "0x10000 hex_table # trailing comment\n"
				   "abc nope\n42\n7 two words\n");
	put_file(dir, "rt_tables.d/a.conf", "100 isp1-renamed\n");
	put_file(dir, "rt_tables.d/ignored.txt", "101 not-a-conf\n");
	put_file(dir, "rt_scopes", "0 global\n77 campus\n");
	put_file(dir, "rt_realms", "0 cosmos\n3 campus-a\n70000 too-big\n");
	put_file(fb, "rt_protos", "2 kernel\n250 myrouted\n");
	snprintf(p, sizeof(p), "%s/rt_protos.d", dir);
	assert_int_equal(mkfifo(p, 0600), 0); /* not a directory: skipped, and never hangs */
	names_conf_load(nc, dir, fb);
	assert_string_equal(name_table(nc, 1000, b, sizeof(b)), "big-table"); /* beyond 255 */
	assert_string_equal(name_table(nc, 0x10000, b, sizeof(b)), "hex_table");
	assert_string_equal(name_table(nc, 100, b, sizeof(b)), "isp1-renamed"); /* .d wins */
	assert_string_equal(name_table(nc, 101, b, sizeof(b)), "101");
	assert_string_equal(name_table(nc, 253, b, sizeof(b)), "default"); /* the kernel's */
	assert_string_equal(name_rtproto(nc, 250), "myrouted"); /* from the fallback */
	assert_string_equal(name_rtproto(nc, 186), "bgp");
	assert_string_equal(name_scope(nc, 77), "campus");
	assert_string_equal(name_realm(nc, 3, b, sizeof(b)), "campus-a");
	assert_string_equal(name_realm(nc, 4, b, sizeof(b)), "4");
	assert_string_equal(name_realm(NULL, 0, b, sizeof(b)), "cosmos");
	assert_int_equal(nc->bad_lines, 4); /* the three in rt_tables, a realm over 16 bits */
	assert_non_null(strstr(nc->first_bad, "rt_tables:7"));
	/* a file over the bound is read as far as it goes and counted */
	{
		char *big = malloc(NAMES_MAX_FILE + 100);

		memset(big, '#', NAMES_MAX_FILE + 99);
		big[NAMES_MAX_FILE + 99] = 0;
		put_file(dir, "rt_scopes", big);
		free(big);
	}
	names_conf_load(nc, dir, NULL);
	assert_int_equal(nc->bad_lines, 4 + 1);
	assert_string_equal(name_rtproto(nc, 250), "250"); /* no fallback this time */
	/* more table names than the bound: the rest are counted, never stored */
	{
		size_t cap = (NAMES_MAX_TABLES + 10) * 16 + 1;
		char *many = malloc(cap), *w = many;

		for (int i = 0; i < NAMES_MAX_TABLES + 10; i++)
			w += sprintf(w, "%d t%d\n", 5000 + i, i);
		put_file(dir, "rt_tables", many);
		free(many);
	}
	snprintf(p, sizeof(p), "%s/rt_tables.d/a.conf", dir);
	unlink(p);
	names_conf_load(nc, dir, NULL);
	assert_int_equal(nc->ntables, NAMES_MAX_TABLES);
	assert_true(nc->bad_lines >= 10);
	/* more files in a .d directory than the bound: the rest are counted, not read */
	for (int i = 0; i < NAMES_MAX_DFILES + 3; i++) {
		char f[64];

		snprintf(f, sizeof(f), "rt_tables.d/f%03d.conf", i);
		put_file(dir, f, "# nothing\n");
	}
	names_conf_load(nc, dir, NULL);
	assert_int_equal(nc->files, 1 + NAMES_MAX_DFILES + 1 + 1); /* rt_tables, 64 of .d, scopes, realms */
	free(nc);
	snprintf(p, sizeof(p), "rm -rf %s %s", dir, fb);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compat_rules),
		cmocka_unit_test(test_only_selection),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_iproute2_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
