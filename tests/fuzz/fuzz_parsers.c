/*
 * One libFuzzer harness for every parser of outside input: the first byte picks the parser. For
 * the netlink parsers the rest is a received buffer that goes through the same walker as a live
 * dump; whatever lands in the snapshot is then sorted, deduplicated, fingerprinted, diffed and
 * encoded as a report. A first byte with its low three bits set (0x07, 0x0f, ...) feeds the rest to
 * the state file decoder instead; low bits 6 (0x06, 0x0e, ...) feed it to the fleet server's reply
 * parsers as a body, under a status picked by the high bits. Build with `make fuzz`
 * (clang) for coverage-guided runs; tests/fuzz/driver.c runs it in CI without clang.
 */
#include "../../netlink/nl.h"
#include "../../netlink/attr.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"
#include "../../netlink/rule.h"
#include "../../netlink/nexthop.h"
#include "../../netlink/linkinfo.h"
#include "../../netlink/sockdiag.h"
#include "../../delta/snapshot.h"
#include "../../delta/canon.h"
#include "../../delta/diff.h"
#include "../../delta/persist.h"
#include "../../report/json.h"
#include "../../report/names.h"
#include "../../report/report.h"
#include "../../report/proto.h"
#include "../../report/skim.h"
#include "../../collector/exec/cmdlog.h"
#include "../../collector/nsname.h"
#include "../../delta/crc32c.h"

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

/* The skimmer's verdict and output do not depend on how a reply arrives in pieces. */
static void skim_pieces(const char *p, size_t n, size_t step)
{
	static const struct skim_rule rules[] = { { "status", SKIM_WHOLE, 0 }, { "a", SKIM_SCALARS, 0 },
						  { "c", SKIM_WHOLE, 2 } };
	static char o1[4096], o2[4096];
	struct skim a, b;

	skim_init(&a, rules, 3, o1, sizeof(o1));
	skim_init(&b, rules, 3, o2, sizeof(o2));
	skim_feed(&a, p, n);
	for (size_t i = 0; i < n; i += step)
		skim_feed(&b, p + i, n - i < step ? n - i : step);
	if ((skim_finish(&a) == 0) != (skim_finish(&b) == 0) || a.len != b.len || memcmp(o1, o2, a.len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const nl_msg_fn fns[] = { link_parse, addr_parse, neigh_parse,   route_parse,
					 sd_parse,   rule_parse, nexthop_parse, bridge_vlan_parse };
	struct snap_limits lim = snap_default_limits;
	struct snapshot s;
	uint64_t digest = 1;
	struct parse_ctx c = { .snap = &s };
	struct nl_walk w = { 0 };
	struct report_meta m = { .agent_uuid = "x", .hostname = "h", .agent_version = "v",
				 .platform_release = "r", .tables = (1u << SNAP_NTABLES) - 1 };
	struct report_stats rs;
	static char wb[JSON_MIN_BUF];
	struct json_w jw;
	uint8_t *buf;

	if (size < 1)
		return 0;
	if ((data[0] & 7) == 7 && (data[0] & 0x80)) { /* the command journal */
		struct cmdlog l;
		const char *why;

		buf = malloc(size - 1 ? size - 1 : 1);
		memcpy(buf, data + 1, size - 1);
		/* half the inputs get a valid checksum, so the entries' parsing is explored too */
		if ((data[0] & 0x40) && size - 1 >= 4) {
			uint32_t crc = crc32c(0, buf, size - 5);

			memcpy(buf + size - 5, &crc, 4);
		}
		if (cmdlog_decode(&l, (const char *)buf, size - 1, &why) == 0)
			cmdlog_free(&l);
		free(buf);
		return 0;
	}
	if ((data[0] & 7) == 7 && (data[0] & 0x20)) { /* what names a namespace */
		struct ns_cgroup_info ci;
		char out[512], *txt = malloc(size);

		memcpy(txt, data + 1, size - 1);
		txt[size - 1] = 0;
		if (ns_cgroup_pick(txt, out, sizeof(out)) == 0)
			ns_cgroup_parse(out, &ci);
		ns_cgroup_parse(txt, &ci);
		ns_docker_name(txt, size - 1, out, sizeof(out));
		ns_storage_name(txt, size - 1, "0123", out, sizeof(out));
		free(txt);
		return 0;
	}
	if ((data[0] & 7) == 7) {
		struct acked_state a;
		const char *why;

		buf = malloc(size - 1 ? size - 1 : 1);
		memcpy(buf, data + 1, size - 1);
		if (persist_decode_owned(buf, size - 1, &a, &why, true) == 0)
			acked_free(&a); /* owns buf now */
		else
			free(buf);
		return 0;
	}
	if ((data[0] & 7) == 6) {
		static const long statuses[] = { 200, 201, 401, 403, 409, 413, 422, 503 };
		struct proto_reply *r = malloc(sizeof(*r));
		struct policy p;

		policy_defaults(&p);
		buf = malloc(size - 1 ? size - 1 : 1);
		memcpy(buf, data + 1, size - 1);
		proto_parse_register(statuses[(data[0] >> 3) & 7], (const char *)buf, size - 1,
				     data[0] & 0x80, &p, r);
		proto_parse_checkin(statuses[(data[0] >> 3) & 7], (const char *)buf, size - 1, &p, r);
		skim_pieces((const char *)buf, size - 1, (size_t)(data[0] >> 3) + 1);
		free(buf);
		free(r);
		return 0;
	}
	for (int t = 0; t < SNAP_NTABLES; t++)
		lim.max[t] = 64;
	lim.max_nexthops = 64;
	lim.max_strtab = 4096;
	if (snap_init(&s, &lim) < 0)
		return 0;
	c.proto = (data[0] & 0x10) ? IPPROTO_UDP : IPPROTO_TCP;
	c.proxy = (data[0] & 0x20) != 0;
	/* the route and neighbour parsers fold every message into a dump digest as well */
	if (data[0] & 0x40)
		c.digest = &digest;
	/* exact-size copy: any read past the end is an ASan report */
	buf = malloc(size - 1 ? size - 1 : 1);
	memcpy(buf, data + 1, size - 1);
	/* the bridge VLAN parser annotates links: give it some to find first */
	if (fns[(data[0] >> 3) % 8] == bridge_vlan_parse)
		for (uint32_t i = 1; i <= 8; i++) {
			struct snap_link *l = snap_push(&s, SNAP_LINKS);

			if (l)
				l->ifindex = i;
		}
	nl_walk_buf(buf, size - 1, &w, fns[(data[0] >> 3) % 8], &c);
	free(buf);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		canon_sort(&s, (enum snap_table)t);
		canon_dedup(&s, (enum snap_table)t);
		canon_fingerprint(&s, (enum snap_table)t);
	}
	{
		struct canon_opts co = { .keying = (data[0] & 0x80) ? KEYING_FLOW : KEYING_EXACT };
		struct canon_ctx cc;
		struct delta d;

		if (canon_ctx_init(&cc, &s, &co) == 0) {
			if (delta_build(&d, &cc, NULL, (1u << SNAP_NTABLES) - 1) == 0) {
				m.delta = &d;
				json_init(&jw, wb, sizeof(wb), null_sink, NULL, false);
				report_write(&jw, &s, &m, &rs);
				json_finish(&jw);
				m.delta = NULL;
				delta_free(&d);
			}
			canon_ctx_free(&cc);
		}
	}
	json_init(&jw, wb, sizeof(wb), null_sink, NULL, data[0] & 0x40);
	report_write(&jw, &s, &m, &rs);
	json_finish(&jw);
	snap_free(&s);
	return 0;
}
