#include "run.h"
#include "log.h"
#include "util.h"
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../report/json.h"
#include "../report/names.h"
#include "../report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef NETINV_VERSION
#define NETINV_VERSION "0.0.0"
#endif

#define ZERO_UUID "00000000-0000-0000-0000-000000000000"

/* The identity is created at enrollment; a dry run only reads it, and never creates one. */
static bool load_identity(const char *state_dir, char *uuid, size_t len)
{
	int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return false;
	r = read_small_file(dfd, "agent_uuid", uuid, len);
	close(dfd);
	if (r < 0)
		return false;
	if (!valid_uuid(uuid)) {
		log_warn("%s/agent_uuid is not a UUID; reporting without an identity", state_dir);
		return false;
	}
	return true;
}

static void summary(const struct snapshot *s, const struct collect_stats *cs, uint64_t bytes,
		    uint64_t encode_us)
{
	char inc[128] = "";
	size_t n = 0;

	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (s->st[t].inconsistent)
			n += (size_t)snprintf(inc + n, sizeof(inc) - n, " %s", snap_table_names[t]);
		if (s->st[t].truncated)
			log_warn("%s table truncated at %u records", snap_table_names[t], s->t[t].n);
		if (s->st[t].dropped)
			log_warn("%s: dropped %u malformed netlink records (first: %s)",
				 snap_table_names[t], s->st[t].dropped, strerror((int)s->st[t].first_drop));
	}
	if (inc[0])
		log_warn("tables still changing after %d attempts, reported as inconsistent:%s",
			 COLLECT_MAX_ATTEMPTS, inc);
	log_info("collected %u links, %u addresses, %u neighbours, %u routes, %u sockets in %.1f ms; "
		 "report %llu bytes in %.1f ms; processes: %s",
		 s->t[SNAP_LINKS].n, s->t[SNAP_ADDRS].n, s->t[SNAP_NEIGH].n, s->t[SNAP_ROUTES].n,
		 s->t[SNAP_SOCKS].n, cs->total_us / 1000.0, (unsigned long long)bytes,
		 encode_us / 1000.0, procmap_status_names[cs->proc.status]);
}

enum run_outcome run_dry(const struct cli_opts *o)
{
	struct collect_opts co = {
		.tables = o->tables,
		.processes = o->processes,
		.proc_root = "/proc",
		.proc_limits = { .max_procs = 1u << 20, .max_fds = 1u << 24 },
		.record_fd = -1,
	};
	struct collect_stats cs;
	struct report_stats rs;
	struct report_meta m = { 0 };
	struct snapshot s;
	struct json_w w;
	struct utsname u;
	char uuid[64], fqdn[256 + 65];
	static char buf[1 << 16];
	enum run_outcome out = RUN_OK;
	uint64_t t0;
	int fd = STDOUT_FILENO, r;
	bool pretty;

	names_init();
	if (snap_init(&s, NULL) < 0) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	m.observed_at = time(NULL);
	r = collect_run(&s, &co, &cs);
	if (r < 0) {
		log_error("cannot open a netlink socket: %s", strerror(-r));
		snap_free(&s);
		return r == -EPERM || r == -EACCES ? RUN_NOPERM : RUN_UNAVAILABLE;
	}
	if (cs.proc.status == PROCMAP_NOT_PERMITTED)
		log_info("process attribution skipped: CAP_SYS_PTRACE is not in the effective set");

	if (o->output) {
		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", o->output, strerror(errno));
			snap_free(&s);
			return RUN_CANTCREAT;
		}
	}
	pretty = o->format == FMT_PRETTY || (o->format == FMT_AUTO && isatty(fd));

	uname(&u);
	m.identity_missing = !load_identity(o->state_dir, uuid, sizeof(uuid));
	m.agent_uuid = m.identity_missing ? ZERO_UUID : uuid;
	m.hostname = u.nodename;
	/* No resolver calls: a passive collector must not stall on DNS. The FQDN is known only when
	 * the node name already is one, or the kernel holds a domain name. */
	if (strchr(u.nodename, '.')) {
		m.fqdn = u.nodename;
	} else if (u.domainname[0] && strcmp(u.domainname, "(none)")) {
		snprintf(fqdn, sizeof(fqdn), "%s.%s", u.nodename, u.domainname);
		m.fqdn = fqdn;
	}
	m.agent_version = NETINV_VERSION;
	m.platform_release = u.release;
	m.full_snapshot = true;
	m.tables = o->tables;
	m.collect = &cs;

	t0 = mono_us();
	json_init(&w, buf, sizeof(buf), json_fd_sink, &fd, pretty);
	report_write(&w, &s, &m, &rs);
	r = json_finish(&w);
	if (r < 0) {
		log_error("cannot write the report to %s: %s", o->output ? o->output : "stdout",
			  strerror(-r));
		out = RUN_IOERR;
	}
	if (o->output && close(fd) < 0 && out == RUN_OK) {
		log_error("cannot write the report to %s: %s", o->output, strerror(errno));
		out = RUN_IOERR;
	}
	if (out == RUN_OK)
		summary(&s, &cs, w.total, mono_us() - t0);
	snap_free(&s);
	return out;
}
