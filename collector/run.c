#include "run.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/persist.h"
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../report/gzip.h"
#include "../report/json.h"
#include "../report/names.h"
#include "../report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef NETINV_VERSION
#define NETINV_VERSION "0.0.0"
#endif

#define ZERO_UUID "00000000-0000-0000-0000-000000000000"

static enum run_outcome state_outcome(enum state_err e, bool writing)
{
	switch (e) {
	case STATE_LOCKED:
		return RUN_LOCKED;
	case STATE_UNSAFE:
		return RUN_UNSAFE;
	case STATE_IDENTITY:
		return RUN_DATAERR;
	case STATE_IO:
		return writing ? RUN_CANTCREAT : RUN_IOERR;
	default:
		return RUN_SOFTWARE;
	}
}

struct run_state {
	struct state_dir sd;
	bool have_dir;
	char uuid[37];
	bool have_identity;
	struct acked_state acked;
	bool have_acked;
	uint64_t base_seq; /* sequence of the last accepted report (imported or from the state) */
};

/* Open the state directory, find the identity (creating it only for a committing run) and the
 * acknowledged state. A corrupt state is not an error: it means a full snapshot. */
static enum run_outcome load_state(const struct cli_opts *o, bool commit, struct run_state *rs)
{
	char err[512];
	const char *corrupt = NULL;
	enum state_err e;

	memset(rs, 0, sizeof(*rs));
	e = state_open(&rs->sd, o->state_dir, commit, commit, err, sizeof(err));
	if (e == STATE_ABSENT)
		return RUN_OK; /* a dry run before the first commit */
	if (e != STATE_OK) {
		log_error("%s", err);
		state_close(&rs->sd);
		return state_outcome(e, commit);
	}
	rs->have_dir = true;
	e = state_identity(&rs->sd, rs->uuid, err, sizeof(err));
	if (e == STATE_ABSENT && commit) {
		bool imported = false;

		e = state_create_identity(&rs->sd, o->import_dir, rs->uuid, &rs->base_seq, &imported,
					  err, sizeof(err));
		if (e == STATE_OK && imported)
			log_notice("imported the identity %s (sequence %llu) from the Graphēon agent "
				   "state in %s",
				   rs->uuid, (unsigned long long)rs->base_seq, o->import_dir);
		else if (e == STATE_OK)
			log_notice("created the agent identity %s in %s", rs->uuid, o->state_dir);
	}
	if (e != STATE_OK && e != STATE_ABSENT) {
		log_error("%s", err);
		return state_outcome(e, commit);
	}
	rs->have_identity = e == STATE_OK;
	e = state_read_acked(&rs->sd, &rs->acked, &corrupt, err, sizeof(err));
	if (e == STATE_IO) {
		log_error("%s", err);
		return state_outcome(e, false);
	}
	if (e == STATE_OK && corrupt) {
		log_warn("the acknowledged state %s/acked.state is unusable (%s); sending a full "
			 "snapshot",
			 o->state_dir, corrupt);
	} else if (e == STATE_OK) {
		rs->have_acked = true;
		if (rs->acked.sequence > rs->base_seq)
			rs->base_seq = rs->acked.sequence;
	}
	return RUN_OK;
}

static void free_state(struct run_state *rs)
{
	acked_free(&rs->acked);
	state_close(&rs->sd);
}

static void summary(const struct snapshot *s, const struct collect_stats *cs, const struct delta *d,
		    uint64_t bytes, uint64_t gz_bytes, uint64_t encode_us)
{
	uint32_t add = 0, chg = 0, rem = 0;

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
	for (int t = 0; t < SNAP_NTABLES; t++) {
		add += d->t[t].added;
		chg += d->t[t].changed;
		rem += d->t[t].n_removed;
	}
	log_info("collected %u links, %u addresses, %u neighbours, %u routes, %u sockets in %.1f ms; "
		 "%s: %u added, %u changed, %u removed; report %llu bytes%s%llu in %.1f ms; "
		 "processes: %s",
		 s->t[SNAP_LINKS].n, s->t[SNAP_ADDRS].n, s->t[SNAP_NEIGH].n, s->t[SNAP_ROUTES].n,
		 s->t[SNAP_SOCKS].n, cs->total_us / 1000.0, d->full ? "full snapshot" : "delta", add,
		 chg, rem, (unsigned long long)bytes, gz_bytes ? ", gzip " : "",
		 (unsigned long long)gz_bytes, encode_us / 1000.0,
		 procmap_status_names[cs->proc.status]);
}

enum run_outcome run_report(const struct cli_opts *o, bool commit)
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
	struct canon_opts copts = { .keying = o->flow_keying ? KEYING_FLOW : KEYING_EXACT,
				    .include_time_wait = o->include_time_wait,
				    .self_pid = (uint32_t)getpid() };
	struct canon_ctx cc = { 0 };
	struct delta d = { 0 };
	struct run_state st;
	struct snapshot s;
	struct json_w w;
	struct utsname u;
	char fqdn[256 + 65], err[512];
	static char buf[1 << 16];
	enum run_outcome out = RUN_OK;
	struct gz_out *gz = NULL;
	uint64_t t0, gz_bytes = 0;
	int fd = STDOUT_FILENO, r;
	bool pretty;

	names_init();
	out = load_state(o, commit, &st);
	if (out != RUN_OK) {
		free_state(&st);
		return out;
	}
	if (snap_init(&s, NULL) < 0) {
		log_error("out of memory");
		free_state(&st);
		return RUN_SOFTWARE;
	}
	m.observed_at = time(NULL);
	r = collect_run(&s, &co, &cs);
	if (r < 0) {
		log_error("cannot open a netlink socket: %s", strerror(-r));
		snap_free(&s);
		free_state(&st);
		return r == -EPERM || r == -EACCES ? RUN_NOPERM : RUN_UNAVAILABLE;
	}
	if (canon_ctx_init(&cc, &s, &copts) < 0 ||
	    delta_build(&d, &cc, (st.have_acked && !o->full) ? &st.acked : NULL) < 0) {
		log_error("out of memory computing the delta");
		out = RUN_SOFTWARE;
		goto done;
	}
	if (cs.proc.status == PROCMAP_NOT_PERMITTED)
		log_info("process attribution skipped: CAP_SYS_PTRACE is not in the effective set");

	if (o->output) {
		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", o->output, strerror(errno));
			out = RUN_CANTCREAT;
			goto done;
		}
	}
	pretty = !o->gzip && (o->format == FMT_PRETTY || (o->format == FMT_AUTO && isatty(fd)));

	uname(&u);
	m.identity_missing = !st.have_identity;
	m.agent_uuid = st.have_identity ? st.uuid : ZERO_UUID;
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
	m.full_snapshot = d.full;
	m.sequence_number = st.base_seq + 1;
	m.tables = o->tables;
	m.collect = &cs;
	m.delta = &d;
	m.canon = &cc;

	t0 = mono_us();
	if (o->gzip) {
		gz = malloc(sizeof(*gz));
		if (!gz || gz_init(gz, fd, Z_DEFAULT_COMPRESSION) < 0) {
			log_error("out of memory starting the gzip stream");
			out = RUN_SOFTWARE;
			goto done;
		}
		json_init(&w, buf, sizeof(buf), gz_sink, gz, false);
	} else {
		json_init(&w, buf, sizeof(buf), json_fd_sink, &fd, pretty);
	}
	report_write(&w, &s, &m, &rs);
	r = json_finish(&w);
	if (gz) {
		int g = gz_finish(gz);

		if (!r)
			r = g;
		gz_bytes = gz->out_bytes;
	}
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
		summary(&s, &cs, &d, w.total, gz_bytes, mono_us() - t0);
	/* Only what a server accepted becomes the acknowledged state; --commit-dry-run plays the
	 * server's part. A dry run never writes. */
	if (out == RUN_OK && commit) {
		enum state_err e;

		delta_mark_all_sent(&d);
		e = state_commit(&st.sd, &d, &cc, m.sequence_number, (int64_t)time(NULL),
				 (uint32_t)copts.keying, err, sizeof(err));
		if (e != STATE_OK) {
			log_error("%s", err);
			out = state_outcome(e, true);
		} else {
			log_info("recorded sequence %llu as acknowledged in %s",
				 (unsigned long long)m.sequence_number, o->state_dir);
		}
	}
done:
	free(gz);
	delta_free(&d);
	canon_ctx_free(&cc);
	snap_free(&s);
	free_state(&st);
	return out;
}

enum run_outcome run_status(const struct cli_opts *o)
{
	struct run_state st;
	enum run_outcome out;
	struct stat sb;
	uint64_t total = 0;

	out = load_state(o, false, &st);
	if (out != RUN_OK) {
		free_state(&st);
		return out;
	}
	printf("state directory:  %s%s\n", o->state_dir, st.have_dir ? "" : " (does not exist)");
	printf("identity:         %s\n", st.have_identity ? st.uuid : "none (not enrolled)");
	if (st.have_acked) {
		char when[64] = "never";
		time_t t = (time_t)st.acked.accepted_at;
		struct tm tm;

		if (t && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("last accepted:    %s\n", when);
		printf("sequence number:  %llu\n", (unsigned long long)st.acked.sequence);
		printf("connection keying: %s\n", st.acked.keying == KEYING_FLOW ? "flow" : "exact");
		printf("acknowledged records:\n");
		for (int t2 = 0; t2 < SNAP_NTABLES; t2++) {
			printf("  %-10s %u\n", snap_table_names[t2], st.acked.t[t2].n);
			total += st.acked.t[t2].n;
		}
		if (fstatat(st.sd.dfd, "acked.state", &sb, AT_SYMLINK_NOFOLLOW) == 0)
			printf("state file:       %lld bytes (%.1f bytes per record)\n",
			       (long long)sb.st_size, total ? (double)sb.st_size / (double)total : 0.0);
	} else {
		printf("last accepted:    never (the next report is a full snapshot)\n");
		printf("sequence number:  %llu\n", (unsigned long long)st.base_seq);
	}
	free_state(&st);
	return fflush(stdout) == 0 ? RUN_OK : RUN_IOERR;
}
