/* Benchmark helper: netinv's dump-only floor. Runs exactly the collection netinv --dry-run runs
 * (every table, stability checks, optional process attribution) and stops before any encoding. */
#include "../../netlink/collect.h"
#include "../../delta/snapshot.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct collect_opts o = { .tables = (1u << SNAP_NTABLES) - 1, .processes = true,
				  .proc_root = "/proc",
				  .proc_limits = { .max_procs = 1u << 20, .max_fds = 1u << 24 } };
	struct collect_stats st;
	struct snapshot s;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-processes"))
			o.processes = false;
		if (!strcmp(argv[i], "--only-routes"))
			o.tables = 1u << SNAP_ROUTES;
	}
	snap_init(&s, NULL);
	r = collect_run(&s, &o, &st);
	fprintf(stderr, "%u routes %u socks\n", s.t[SNAP_ROUTES].n, s.t[SNAP_SOCKS].n);
	snap_free(&s);
	return r < 0;
}
