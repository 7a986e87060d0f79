#include "harvest.h"
#include "metrics.h"
#include "exec/exec.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/hash.h"
#include "../delta/persist.h"

#include <pthread.h>
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../report/gzip.h"
#include "../report/http.h"
#include "../report/proto.h"
#include "../report/json.h"
#include "../report/names.h"
#include "../report/report.h"

#include <arpa/inet.h>
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

enum run_outcome run_state_outcome(enum state_err e, bool writing)
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

/* Reports sent whose replies never came: the server may hold anything between the acknowledged
 * state and what they carried. Their records join the acknowledged state with their content
 * unknown, so the next delta sends each again (or its removal); an unconfirmed full snapshot, or a
 * record of them that cannot be read, means the next report is a full snapshot. Their sequence
 * numbers are never used again. */
static enum run_outcome run_state_load_unconfirmed(struct run_state *rs, const char *dir)
{
	const char *corrupt = NULL;
	char err[512];
	enum state_err e = state_read_unconfirmed(&rs->sd, &rs->unconf, &corrupt, err, sizeof(err));
	uint32_t n = 0;

	if (e == STATE_ABSENT)
		return RUN_OK;
	if (e != STATE_OK) {
		log_error("%s", err);
		return RUN_IOERR;
	}
	rs->unconf_on_disk = true;
	if (corrupt) {
		log_warn("the record of an unconfirmed report in %s is unusable (%s); sending a full "
			 "snapshot", dir, corrupt);
		rs->have_acked = false;
		return RUN_OK;
	}
	if (rs->unconf.sequence > rs->base_seq)
		rs->base_seq = rs->unconf.sequence;
	for (int t = 0; t < SNAP_NTABLES; t++)
		n += rs->unconf.t[t].n;
	rs->unconf_seq = rs->unconf.sequence;
	rs->unconf_at = rs->unconf.accepted_at;
	rs->unconf_records = n;
	if (rs->unconf.flags & PERSIST_FLAG_FULL) {
		log_info("the full snapshot sent as sequence %llu was never confirmed; sending a full "
			 "snapshot", (unsigned long long)rs->unconf.sequence);
		rs->have_acked = false;
	} else if (rs->have_acked && rs->unconf.keying != rs->acked.keying) {
		rs->have_acked = false;
	} else if (rs->have_acked && n) {
		if (acked_merge_unconfirmed(&rs->acked, &rs->unconf) < 0) {
			log_error("out of memory reading the unconfirmed reports");
			return RUN_IOERR;
		}
		log_info("%u record%s sent up to sequence %llu were never confirmed; sending them again",
			 n, n == 1 ? "" : "s", (unsigned long long)rs->unconf.sequence);
	}
	if (!rs->have_acked)
		acked_free(&rs->unconf); /* a full snapshot needs none of it */
	return RUN_OK;
}

/* The thread that reads acked.state: nothing but state_read_acked (no log, no other state). */
struct acked_reader {
	pthread_t tid;
	bool started;
	struct run_state *rs;
	enum state_err e;
	const char *corrupt;
	char err[512];
};

static void *acked_read(void *arg)
{
	struct acked_reader *ar = arg;

	ar->e = state_read_acked(&ar->rs->sd, &ar->rs->acked, &ar->corrupt, ar->err, sizeof(ar->err));
	return NULL;
}

enum run_outcome run_state_acked(struct run_state *rs)
{
	struct acked_reader *ar = rs->reader;
	enum run_outcome out = RUN_OK;

	if (rs->acked_done || !ar)
		return RUN_OK;
	if (ar->started)
		pthread_join(ar->tid, NULL);
	else
		acked_read(ar); /* not prefetched, or no thread to be had: read it here */
	rs->acked_done = true;
	rs->reader = NULL;
	if (ar->e == STATE_IO) {
		log_error("%s", ar->err);
		out = run_state_outcome(ar->e, false);
		goto done;
	}
	if (ar->e == STATE_OK && ar->corrupt) {
		log_warn("the acknowledged state in %s is unusable (%s); sending a full snapshot", rs->sd.path,
			 ar->corrupt);
	} else if (ar->e == STATE_OK) {
		rs->have_acked = true;
		if (rs->acked.sequence > rs->base_seq)
			rs->base_seq = rs->acked.sequence;
	}
	if (run_state_load_unconfirmed(rs, rs->sd.path) != RUN_OK) {
		out = RUN_IOERR;
		goto done;
	}
	/* a no-change check-in advances the sequence in agent.status only */
	if (rs->as.last_sequence > rs->base_seq)
		rs->base_seq = rs->as.last_sequence;
done:
	free(ar);
	return out;
}

enum run_outcome run_state_load(const struct settings *set, bool commit, struct run_state *rs)
{
	enum run_outcome out = run_state_load_async(set, commit, rs);

	return out == RUN_OK ? run_state_acked(rs) : out;
}

enum run_outcome run_state_load_async(const struct settings *set, bool commit, struct run_state *rs)
{
	const char *dir = set->state_dir, *import = set->import_from;
	char err[512];
	enum state_err e;
	struct acked_reader *ar;

	memset(rs, 0, sizeof(*rs));
	policy_defaults(&rs->as.policy);
	{
		char who[96];
		int r = state_adopt_owner(dir, set->all_namespaces, who, sizeof(who), err, sizeof(err));

		if (r < 0) {
			log_error("%s", err);
			return RUN_NOPERM;
		}
		if (r > 0)
			log_debug("running as %s, the owner of %s", who, dir);
	}
	e = state_open(&rs->sd, dir, commit, commit, err, sizeof(err));
	if (e == STATE_ABSENT)
		return RUN_OK; /* a dry run before the first commit */
	if (e != STATE_OK) {
		log_error("%s", err);
		state_close(&rs->sd);
		return run_state_outcome(e, commit);
	}
	rs->have_dir = true;
	e = state_identity(&rs->sd, rs->uuid, err, sizeof(err));
	if (e == STATE_ABSENT && commit) {
		bool imported = false;

		e = state_create_identity(&rs->sd, import, rs->uuid, &rs->base_seq, &imported, err,
					  sizeof(err));
		if (e == STATE_OK && imported)
			log_notice("imported the identity %s (sequence %llu) from the Graphēon agent "
				   "state in %s",
				   rs->uuid, (unsigned long long)rs->base_seq, import);
		else if (e == STATE_OK)
			log_notice("created the agent identity %s in %s", rs->uuid, dir);
	}
	if (e != STATE_OK && e != STATE_ABSENT) {
		log_error("%s", err);
		return run_state_outcome(e, commit);
	}
	rs->have_identity = e == STATE_OK;
	state_read_status(&rs->sd, &rs->as);
	ar = calloc(1, sizeof(*ar));
	if (!ar) {
		log_error("out of memory reading the state in %s", dir);
		return RUN_IOERR;
	}
	ar->rs = rs;
	rs->reader = ar;
	return RUN_OK;
}

void run_state_prefetch(struct run_state *rs)
{
	struct acked_reader *ar = rs->reader;
	pthread_attr_t at;

	if (!ar || ar->started || rs->acked_done || pthread_attr_init(&at) != 0)
		return;
	/* little stack: state_read_acked's buffers are on the heap */
	pthread_attr_setstacksize(&at, 256u << 10);
	ar->started = pthread_create(&ar->tid, &at, acked_read, ar) == 0;
	pthread_attr_destroy(&at);
}

void run_state_free(struct run_state *rs)
{
	if (rs->reader) { /* a run that stopped before it needed the state */
		if (rs->reader->started)
			pthread_join(rs->reader->tid, NULL);
		free(rs->reader);
		rs->reader = NULL;
	}
	/* what the store met without failing, once per run */
	if (rs->sd.note[0])
		log_warn("state directory: %s", rs->sd.note);
	acked_free(&rs->acked);
	acked_free(&rs->unconf);
	state_close(&rs->sd);
}

#define NETNS_BIT (1u << SNAP_NETNS)

/* The other namespaces: found by the walk, named, their sockets opened. Then CAP_SYS_ADMIN goes,
 * whatever happened, before a byte of any dump is parsed. */
static enum run_outcome open_namespaces(const struct settings *set, unsigned tables,
					struct harvest *h)
{
	struct ns_paths paths = { .proc_root = "/proc",
				  .netns_dir = set->netns_dir,
				  .container_root = set->container_root };
	int r = 0, e;

	h->ns.all = set->all_namespaces;
	if (h->ns.all) {
		if (ns_discover(&h->ns, &h->pm, &paths, 4096) < 0) {
			log_error("out of memory listing the network namespaces");
			return RUN_SOFTWARE;
		}
		ns_name(&h->ns, &h->pm, &paths);
		r = ns_open(&h->ns, &paths, tables & ~NETNS_BIT);
	}
	e = drop_admin_cap();
	if (r < 0) {
		/* never collect from a namespace that is not netinv's own */
		log_error("cannot return to netinv's own network namespace: %s", strerror(-r));
		return RUN_SOFTWARE;
	}
	if (e < 0)
		log_warn("cannot give up CAP_SYS_ADMIN: %s", strerror(-e));
	if (h->ns.all && !h->ns.permitted)
		log_info("other network namespaces skipped (%u found): %s", h->ns.n,
			 h->ns.n && h->ns.v[0].err == -EPERM ?
				 "entering them was refused (setns: Operation not permitted)" :
				 "CAP_SYS_ADMIN is not in the effective set");
	return RUN_OK;
}

/* What shapes a delta's view of route and neighbour records besides their dumps' bytes: this
 * build's parser and records, and the neighbour option (which entries are kept). */
static uint64_t digest_seed(const struct settings *set)
{
	uint64_t h = hash64(NETINV_VERSION, strlen(NETINV_VERSION), 0x726f75746573ull);

	h = hash_mix(h, sizeof(struct snap_route));
	h = hash_mix(h, sizeof(struct snap_nexthop));
	h = hash_mix(h, sizeof(struct snap_neigh));
	h = hash_mix(h, snap_default_limits.max[SNAP_ROUTES] ^
				((uint64_t)snap_default_limits.max_nexthops << 32));
	h = hash_mix(h, snap_default_limits.max[SNAP_NEIGH]);
	return hash_mix(h, set->all_neighbors);
}

/* Tables whose dump was the same as the acknowledged state's: carried when that state turned out
 * to be the one the digest came from (read whole, same keying, nothing unconfirmed), else dumped
 * again and parsed (a state found corrupt after its header was read). */
static enum run_outcome tables_same(struct harvest *h, const struct run_state *st,
				    const struct acked_state *prev, const struct collect_opts *co,
				    unsigned *same)
{
	struct collect_opts again = *co;
	struct collect_stats cs;
	unsigned redo = 0;
	int r;

	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct snap_table_stats *ts = &h->s.st[t];

		if (!ts->same_dump)
			continue;
		if (prev && prev->keying == (uint32_t)h->copts.keying && prev->digest[t] == ts->digest &&
		    !st->unconf_on_disk) {
			*same |= 1u << t;
			log_debug("the %s dump was the acknowledged one (digest %016llx): %u records "
				  "carried, not parsed", snap_table_names[t], (unsigned long long)ts->digest,
				  prev->t[t].n);
			continue;
		}
		log_debug("the %s were dumped as they were acknowledged, but that state cannot stand "
			  "for them: dumping them again", snap_table_names[t]);
		ts->same_dump = false;
		redo |= 1u << t;
	}
	if (!redo)
		return RUN_OK;
	again.tables = redo;
	again.skip_links = true;
	memset(again.same, 0, sizeof(again.same));
	r = collect_run(&h->s, &again, &cs);
	if (r < 0) {
		log_error("cannot open a netlink socket: %s", strerror(-r));
		return r == -EPERM || r == -EACCES ? RUN_NOPERM : RUN_UNAVAILABLE;
	}
	h->cs.total_us += cs.total_us;
	h->cs.ipv6 = h->cs.ipv6 && cs.ipv6;
	if (h->s.oom) {
		log_error("out of memory collecting the tables");
		return RUN_SOFTWARE;
	}
	return RUN_OK;
}

enum run_outcome harvest(const struct cli_opts *o, const struct settings *set,
				struct run_state *st, unsigned tables, bool keyed, struct harvest *h)
{
	struct collect_opts co = { .tables = tables & ~NETNS_BIT };
	struct procmap_limits lim = { .max_procs = 1u << 20, .max_fds = 1u << 24, .max_netns = 4096 };
	struct procmap_stats walk;
	const struct acked_state *prev;
	unsigned what = 0, same = 0;
	enum run_outcome out;
	int r;

	memset(h, 0, sizeof(*h));
	h->copts = (struct canon_opts){
		.keying = set->flow_keying ? KEYING_FLOW : KEYING_EXACT,
		.include_time_wait = set->include_time_wait,
		.all_neighbors = set->all_neighbors,
		.self_pid = (uint32_t)getpid(),
	};
	{
		char ip[64];
		unsigned port;

		if (sscanf(st->as.server_peer, "%63s %u", ip, &port) == 2 && port < 65536) {
			if (inet_pton(AF_INET, ip, h->copts.peer_addr) == 1)
				h->copts.peer_family = AF_INET;
			else if (inet_pton(AF_INET6, ip, h->copts.peer_addr) == 1)
				h->copts.peer_family = AF_INET6;
			h->copts.peer_port = (uint16_t)port;
		}
	}
	/* one pass over /proc, while the capabilities are held: socket owners and namespaces */
	if (o->processes && (tables & (1u << SNAP_SOCKS)))
		what |= PROCMAP_SOCKETS | PROCMAP_CHECK_CAPS;
	if (set->all_namespaces)
		what |= PROCMAP_NETNS;
	if (procmap_walk(&h->pm, "/proc", &lim, what, &walk) < 0) {
		log_error("out of memory walking /proc");
		return RUN_SOFTWARE;
	}
	if ((out = open_namespaces(set, tables, h)) != RUN_OK)
		return out;
	/* acked.state is read while the kernel dumps, by a thread started only now that
	 * CAP_SYS_ADMIN is gone (capabilities are per thread; it inherits the reduced set) */
	run_state_prefetch(st);
	if (snap_init(&h->s, NULL) < 0) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	if (co.tables & PERSIST_DIGESTED) {
		uint64_t digest[SNAP_NTABLES];
		bool repeat[SNAP_NTABLES], any = false;

		/* a table the same in the last two commits, or found as acknowledged by the last
		 * check-in, likely is now: a dump only digested costs the kernel's time alone (a table
		 * that keeps changing is parsed straight away) */
		if (st->have_dir && !o->full && state_digest_hint(&st->sd, digest, repeat))
			for (int t = 0; t < SNAP_NTABLES; t++)
				if (digest[t] && (repeat[t] || st->as.seen[t] == digest[t])) {
					co.same[t] = digest[t];
					any = true;
				}
		/* a digest is for a state to keep, or to compare with */
		if (keyed || any) {
			co.digest_seed = digest_seed(set);
			co.all_neighbors = set->all_neighbors;
		}
	}
	r = collect_run(&h->s, &co, &h->cs);
	if (r < 0) {
		log_error("cannot open a netlink socket: %s", strerror(-r));
		return r == -EPERM || r == -EACCES ? RUN_NOPERM : RUN_UNAVAILABLE;
	}
	/* the other namespaces' tables: parsed, no digests */
	co.digest_seed = 0;
	memset(co.same, 0, sizeof(co.same));
	h->cs.proc = walk;
	if (walk.status != PROCMAP_DISABLED && walk.status != PROCMAP_NOT_PERMITTED)
		procmap_attribute(&h->pm, &h->s, &h->cs.proc);
	if (h->s.oom) {
		/* a record left out for want of memory would read as removed: nothing goes out */
		log_error("out of memory collecting the tables");
		return RUN_SOFTWARE;
	}
	if (h->cs.proc.status == PROCMAP_NOT_PERMITTED)
		log_info("process attribution skipped: CAP_SYS_PTRACE is not in the effective set");
	/* names for the report, from the iproute2 configuration (a missing one: the kernel's) */
	h->names = malloc(sizeof(*h->names));
	if (h->names) {
		names_conf_load(h->names, set->iproute2_dir, "/usr/share/iproute2");
		if (h->names->bad_lines)
			log_warn("iproute2 names: %u line%s or file%s ignored (first: %s)",
				 h->names->bad_lines, h->names->bad_lines == 1 ? "" : "s",
				 h->names->bad_lines == 1 ? "" : "s", h->names->first_bad);
	}
	if (h->ns.all) {
		ns_collect(&h->ns, &co, &h->pm, &walk, &h->copts, &h->s);
		for (uint32_t i = 0; i < h->ns.n; i++)
			if (h->ns.v[i].have_s && h->ns.v[i].s.oom) {
				log_error("out of memory collecting the tables of another namespace");
				return RUN_SOFTWARE;
			}
	}
	if (h->s.oom) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	out = run_state_acked(st);
	if (out != RUN_OK)
		return out;
	prev = (st->have_acked && !o->full) ? &st->acked : NULL;
	if (h->s.st[SNAP_ROUTES].same_dump || h->s.st[SNAP_NEIGH].same_dump) {
		struct collect_opts rco = { .tables = tables & ~NETNS_BIT, .digest_seed = digest_seed(set),
					    .all_neighbors = set->all_neighbors };

		if ((out = tables_same(h, st, prev, &rco, &same)) != RUN_OK)
			return out;
	}
	/* Namespaces are a table of the delta: read (or, in host mode, to withdraw what an earlier
	 * run reported), or carried over untouched when they could not be entered. */
	h->tables = tables & ~NETNS_BIT;
	if (ns_report(&h->ns) < 0) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	if ((h->ns.all && h->ns.permitted) || (!h->ns.all && prev && prev->t[SNAP_NETNS].n)) {
		h->tables |= NETNS_BIT;
		if (ns_records(&h->ns, &h->s, tables & ~NETNS_BIT, prev) < 0) {
			log_error("out of memory");
			return RUN_SOFTWARE;
		}
	}
	if (canon_ctx_init(&h->cc, &h->s, &h->copts) < 0 ||
	    (!prev && !keyed ? delta_build_unkeyed(&h->d, &h->cc, h->tables)
			     : delta_build_same(&h->d, &h->cc, prev, h->tables, same)) < 0) {
		log_error("out of memory computing the delta");
		return RUN_SOFTWARE;
	}
	for (int t = 0; t < SNAP_NTABLES; t++)
		h->d.digest[t] = h->s.st[t].digest;
	return RUN_OK;
}

void harvest_free(struct harvest *h)
{
	ns_free(&h->ns);
	procmap_free(&h->pm);
	free(h->names);
	h->names = NULL;
	delta_free(&h->d);
	canon_ctx_free(&h->cc);
	snap_free(&h->s);
}

void harvest_meta(struct report_meta *m, const struct settings *set, const struct run_state *st,
		      struct harvest *h, struct utsname *u, char *fqdn, size_t fqdn_len)
{
	memset(m, 0, sizeof(*m));
	uname(u);
	m->observed_at = time(NULL);
	m->identity_missing = !st->have_identity;
	m->agent_uuid = st->have_identity ? st->uuid : ZERO_UUID;
	m->hostname = *set->hostname ? set->hostname : u->nodename;
	/* No resolver calls: a passive collector must not stall on DNS. The FQDN is known only when
	 * the name already is one, or the kernel holds a domain name. */
	if (strchr(m->hostname, '.')) {
		m->fqdn = m->hostname;
	} else if (u->domainname[0] && strcmp(u->domainname, "(none)")) {
		snprintf(fqdn, fqdn_len, "%s.%s", m->hostname, u->domainname);
		m->fqdn = fqdn;
	}
	m->agent_version = NETINV_VERSION;
	m->platform_release = u->release;
	m->full_snapshot = h->d.full;
	m->sequence_number = st->base_seq + 1;
	m->tables = h->tables;
	m->collect = &h->cs;
	m->delta = &h->d;
	m->names = h->names;
	m->netns = &h->ns.rep;
}

/* "1 link", "2 links" */
static const char *count(char *buf, size_t len, uint64_t n, const char *one, const char *many)
{
	snprintf(buf, len, "%llu %s", (unsigned long long)n, n == 1 ? one : many);
	return buf;
}

void harvest_summary(const struct harvest *h, const char *outcome, const char *what, uint64_t bytes,
		     uint64_t gz_bytes, uint64_t encode_us, const char *more)
{
	const struct snapshot *s = &h->s;
	const struct delta *d = &h->d;
	uint32_t add = 0, chg = 0, rem = 0;
	char inc[128] = "", gzs[48] = "", nss[96] = "", msg[900], c[5][48];
	struct log_field f[16];
	unsigned nf = 0;
	size_t n = 0;

	if (gz_bytes)
		snprintf(gzs, sizeof(gzs), " (gzip %llu)", (unsigned long long)gz_bytes);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (s->st[t].inconsistent)
			n += (size_t)snprintf(inc + n, sizeof(inc) - n, " %s", snap_table_names[t]);
		if (s->st[t].truncated)
			log_warn("%s table truncated at %u records", snap_table_names[t], s->t[t].n);
		if (s->st[t].dropped)
			log_warn("%s: dropped %u malformed netlink records (first: %s)",
				 snap_table_names[t], s->st[t].dropped, strerror((int)s->st[t].first_drop));
		add += d->t[t].added;
		chg += d->t[t].changed;
		rem += d->t[t].n_removed;
	}
	if (inc[0])
		log_warn("tables still changing after %d attempts, reported as inconsistent:%s",
			 COLLECT_MAX_ATTEMPTS, inc);
	if (h->ns.all)
		snprintf(nss, sizeof(nss), "; namespaces: %u of %u read (%s)", h->ns.rep.read,
			 h->ns.rep.found, h->ns.rep.status);
	snprintf(msg, sizeof(msg),
		 "collected %s, %s, %s, %s, %s in %.1f ms; %s: %u added, %u changed, %u removed; %s "
		 "%llu bytes%s in %.1f ms%s; processes: %s%s",
		 count(c[0], sizeof(c[0]), s->t[SNAP_LINKS].n, "link", "links"),
		 count(c[1], sizeof(c[1]), s->t[SNAP_ADDRS].n, "address", "addresses"),
		 count(c[2], sizeof(c[2]), snap_records(s, SNAP_NEIGH), "neighbour", "neighbours"),
		 count(c[3], sizeof(c[3]), snap_records(s, SNAP_ROUTES), "route", "routes"),
		 count(c[4], sizeof(c[4]), s->t[SNAP_SOCKS].n, "socket", "sockets"),
		 h->cs.total_us / 1000.0, d->full ? "full snapshot" : "delta", add, chg, rem, what,
		 (unsigned long long)bytes, gzs, encode_us / 1000.0, more ? more : "",
		 procmap_status_names[h->cs.proc.status], nss);
#define FIELD(k, ...) (f[nf].key = (k), snprintf(f[nf].value, sizeof(f[nf].value), __VA_ARGS__), nf++)
	FIELD("outcome", "%s", outcome);
	FIELD("links", "%u", s->t[SNAP_LINKS].n);
	FIELD("addresses", "%u", s->t[SNAP_ADDRS].n);
	FIELD("neighbors", "%u", snap_records(s, SNAP_NEIGH));
	FIELD("routes", "%u", snap_records(s, SNAP_ROUTES));
	FIELD("sockets", "%u", s->t[SNAP_SOCKS].n);
	FIELD("full_snapshot", "%s", d->full ? "yes" : "no");
	FIELD("added", "%u", add);
	FIELD("changed", "%u", chg);
	FIELD("removed", "%u", rem);
	FIELD("bytes", "%llu", (unsigned long long)bytes);
	FIELD("gzip_bytes", "%llu", (unsigned long long)gz_bytes);
	FIELD("collect_ms", "%.1f", h->cs.total_us / 1000.0);
	FIELD("inconsistent", "%s", inc[0] ? inc + 1 : "none");
	FIELD("namespaces_read", "%u", h->ns.rep.read);
#undef FIELD
	log_summary(msg, f, nf);
	run_metrics.collected = true;
	run_metrics.tables = h->tables;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		run_metrics.records[t] = snap_records(s, (enum snap_table)t);
		run_metrics.added[t] = d->t[t].added;
		run_metrics.changed[t] = d->t[t].changed;
		run_metrics.removed[t] = d->t[t].n_removed;
		run_metrics.dump_us[t] = s->st[t].dump_us;
		run_metrics.inconsistent += s->st[t].inconsistent;
	}
	run_metrics.bytes = bytes;
	run_metrics.gz_bytes = gz_bytes;
	run_metrics.ns_found = h->ns.rep.found;
	run_metrics.ns_read = h->ns.rep.read;
}
