/*
 * One libFuzzer harness for every netlink parser: the first byte picks the parser, the rest is a
 * received buffer that goes through the same walker as a live dump; whatever lands in the snapshot
 * is then sorted, deduplicated, fingerprinted and encoded as a report. Build with `make fuzz`
 * (clang) for coverage-guided runs; tests/fuzz/driver.c runs it in CI without clang.
 */
#include "../../netlink/nl.h"
#include "../../netlink/attr.h"
#include "../../netlink/link.h"
#include "../../netlink/addr.h"
#include "../../netlink/neigh.h"
#include "../../netlink/route.h"
#include "../../netlink/sockdiag.h"
#include "../../delta/snapshot.h"
#include "../../delta/canon.h"
#include "../../report/json.h"
#include "../../report/names.h"
#include "../../report/report.h"

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

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
	static const nl_msg_fn fns[] = { link_parse, addr_parse, neigh_parse, route_parse, sd_parse };
	struct snap_limits lim = snap_default_limits;
	struct snapshot s;
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
	names_init();
	for (int t = 0; t < SNAP_NTABLES; t++)
		lim.max[t] = 64;
	lim.max_nexthops = 64;
	lim.max_strtab = 4096;
	if (snap_init(&s, &lim) < 0)
		return 0;
	c.proto = (data[0] & 0x10) ? IPPROTO_UDP : IPPROTO_TCP;
	c.proxy = (data[0] & 0x20) != 0;
	/* exact-size copy: any read past the end is an ASan report */
	buf = malloc(size - 1 ? size - 1 : 1);
	memcpy(buf, data + 1, size - 1);
	nl_walk_buf(buf, size - 1, &w, fns[data[0] % 5], &c);
	free(buf);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		canon_sort(&s, (enum snap_table)t);
		canon_dedup(&s, (enum snap_table)t);
		canon_fingerprint(&s, (enum snap_table)t);
	}
	json_init(&jw, wb, sizeof(wb), null_sink, NULL, data[0] & 0x40);
	report_write(&jw, &s, &m, &rs);
	json_finish(&jw);
	snap_free(&s);
	return 0;
}
