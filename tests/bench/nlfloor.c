/* Benchmark helper: netinv's dump-only floor. Runs exactly the collection netinv --dry-run runs
 * (the /proc walk for attribution unless --no-processes, every table with its stability checks,
 * the attribution) and stops before any encoding. */
#include "../../netlink/collect.h"
#include "../../netlink/procmap.h"
#include "../../delta/snapshot.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct collect_opts o = { .tables = (1u << SNAP_NTABLES) - 1 };
	struct procmap_limits lim = { .max_procs = 1u << 20, .max_fds = 1u << 24 };
	struct procmap pm = { 0 };
	struct procmap_stats ps;
	struct collect_stats st;
	struct snapshot s;
	bool processes = true;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-processes"))
			processes = false;
		if (!strcmp(argv[i], "--only-routes"))
			o.tables = 1u << SNAP_ROUTES;
	}
	if (processes && (o.tables & (1u << SNAP_SOCKS)))
		procmap_walk(&pm, "/proc", &lim, PROCMAP_SOCKETS | PROCMAP_CHECK_CAPS, &ps);
	snap_init(&s, NULL);
	r = collect_run(&s, &o, &st);
	if (pm.nsock)
		procmap_attribute(&pm, &s, &ps);
	fprintf(stderr, "%u routes %u socks\n", s.t[SNAP_ROUTES].n, s.t[SNAP_SOCKS].n);
	procmap_free(&pm);
	snap_free(&s);
	return r < 0;
}
