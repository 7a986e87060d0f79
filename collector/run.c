#include "run.h"
#include "cmdlog.h"
#if NETINV_EXEC
#include "exec.h"
#endif
#include "log.h"
#include "state.h"
#include "util.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/hash.h"
#include "../delta/persist.h"
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
	struct agent_status as; /* agent.status, read once (defaults when there is none) */
};

/* Open the state directory, find the identity (creating it only for a committing run) and the
 * acknowledged state. A corrupt state is not an error: it means a full snapshot. */
static enum run_outcome load_state(const struct config *cfg, bool commit, struct run_state *rs)
{
	const char *dir = cfg_str(cfg, CFG_STATE_DIR), *import = cfg_str(cfg, CFG_IMPORT_FROM);
	char err[512];
	const char *corrupt = NULL;
	enum state_err e;

	memset(rs, 0, sizeof(*rs));
	policy_defaults(&rs->as.policy);
	{
		char who[96];
		int r = state_adopt_owner(dir, who, sizeof(who), err, sizeof(err));

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
		return state_outcome(e, commit);
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
		return state_outcome(e, commit);
	}
	rs->have_identity = e == STATE_OK;
	e = state_read_acked(&rs->sd, &rs->acked, &corrupt, err, sizeof(err));
	if (e == STATE_IO) {
		log_error("%s", err);
		return state_outcome(e, false);
	}
	if (e == STATE_OK && corrupt) {
		log_warn("the acknowledged state in %s is unusable (%s); sending a full snapshot", dir,
			 corrupt);
	} else if (e == STATE_OK) {
		rs->have_acked = true;
		if (rs->acked.sequence > rs->base_seq)
			rs->base_seq = rs->acked.sequence;
	}
	state_read_status(&rs->sd, &rs->as);
	/* a no-change check-in advances the sequence in agent.status only */
	if (rs->as.last_sequence > rs->base_seq)
		rs->base_seq = rs->as.last_sequence;
	return RUN_OK;
}

static void free_state(struct run_state *rs)
{
	acked_free(&rs->acked);
	state_close(&rs->sd);
}

/* One collection and its delta against the acknowledged state. */
struct harvest {
	struct snapshot s;
	struct collect_stats cs;
	struct canon_opts copts;
	struct canon_ctx cc;
	struct delta d;
	unsigned tables;
};

static enum run_outcome harvest(const struct cli_opts *o, const struct config *cfg,
				const struct run_state *st, unsigned tables, struct harvest *h)
{
	struct collect_opts co = {
		.tables = tables,
		.processes = o->processes,
		.proc_root = "/proc",
		.proc_limits = { .max_procs = 1u << 20, .max_fds = 1u << 24 },
	};
	int r;

	memset(h, 0, sizeof(*h));
	h->tables = tables;
	h->copts = (struct canon_opts){
		.keying = strcmp(cfg_str(cfg, CFG_CONNECTION_KEYING), "flow") ? KEYING_EXACT : KEYING_FLOW,
		.include_time_wait = cfg_bool(cfg, CFG_INCLUDE_TIME_WAIT),
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
	if (snap_init(&h->s, NULL) < 0) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	r = collect_run(&h->s, &co, &h->cs);
	if (r < 0) {
		log_error("cannot open a netlink socket: %s", strerror(-r));
		return r == -EPERM || r == -EACCES ? RUN_NOPERM : RUN_UNAVAILABLE;
	}
	if (h->cs.proc.status == PROCMAP_NOT_PERMITTED)
		log_info("process attribution skipped: CAP_SYS_PTRACE is not in the effective set");
	if (canon_ctx_init(&h->cc, &h->s, &h->copts) < 0 ||
	    delta_build(&h->d, &h->cc, (st->have_acked && !o->full) ? &st->acked : NULL, tables) < 0) {
		log_error("out of memory computing the delta");
		return RUN_SOFTWARE;
	}
	return RUN_OK;
}

static void harvest_free(struct harvest *h)
{
	delta_free(&h->d);
	canon_ctx_free(&h->cc);
	snap_free(&h->s);
}

static void fill_meta(struct report_meta *m, const struct config *cfg, const struct run_state *st,
		      struct harvest *h, struct utsname *u, char *fqdn, size_t fqdn_len)
{
	memset(m, 0, sizeof(*m));
	uname(u);
	m->observed_at = time(NULL);
	m->identity_missing = !st->have_identity;
	m->agent_uuid = st->have_identity ? st->uuid : ZERO_UUID;
	m->hostname = *cfg_str(cfg, CFG_HOSTNAME) ? cfg_str(cfg, CFG_HOSTNAME) : u->nodename;
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
}

static void summary(const struct harvest *h, const char *what, uint64_t bytes, uint64_t gz_bytes,
		    uint64_t encode_us)
{
	const struct snapshot *s = &h->s;
	const struct delta *d = &h->d;
	uint32_t add = 0, chg = 0, rem = 0;
	char inc[128] = "", gzs[48] = "";
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
	log_info("collected %u links, %u addresses, %u neighbours, %u routes, %u sockets in %.1f ms; "
		 "%s: %u added, %u changed, %u removed; %s %llu bytes%s in %.1f ms; processes: %s",
		 s->t[SNAP_LINKS].n, s->t[SNAP_ADDRS].n, s->t[SNAP_NEIGH].n, s->t[SNAP_ROUTES].n,
		 s->t[SNAP_SOCKS].n, h->cs.total_us / 1000.0, d->full ? "full snapshot" : "delta", add,
		 chg, rem, what, (unsigned long long)bytes, gzs, encode_us / 1000.0,
		 procmap_status_names[h->cs.proc.status]);
}

enum run_outcome run_report(const struct cli_opts *o, const struct config *cfg, bool commit)
{
	struct report_stats rs;
	struct report_meta m;
	struct harvest h;
	struct run_state st;
	struct json_w w;
	struct utsname u;
	char fqdn[256 + 65], err[512];
	static char buf[1 << 16];
	enum run_outcome out;
	struct gz_out *gz = NULL;
	uint64_t t0, gz_bytes = 0;
	int fd = STDOUT_FILENO, r;
	bool pretty;

	out = load_state(cfg, commit, &st);
	if (out != RUN_OK) {
		free_state(&st);
		return out;
	}
	out = harvest(o, cfg, &st, o->tables, &h);
	if (out != RUN_OK)
		goto done;
	if (o->output) {
		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", o->output, strerror(errno));
			out = RUN_CANTCREAT;
			goto done;
		}
	}
	pretty = !o->gzip && (o->format == FMT_PRETTY || (o->format == FMT_AUTO && isatty(fd)));
	fill_meta(&m, cfg, &st, &h, &u, fqdn, sizeof(fqdn));
	t0 = snap_mono_us();
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
	report_write(&w, &h.s, &m, &rs);
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
		summary(&h, "report", w.total, gz_bytes, snap_mono_us() - t0);
	/* Only what a server accepted becomes the acknowledged state; --commit-dry-run plays the
	 * server's part. A dry run never writes. */
	if (out == RUN_OK && commit) {
		enum state_err e;

		delta_mark_all_sent(&h.d);
		e = state_commit(&st.sd, &h.d, &h.cc, m.sequence_number, (int64_t)time(NULL),
				 (uint32_t)h.copts.keying, err, sizeof(err));
		if (e != STATE_OK) {
			log_error("%s", err);
			out = state_outcome(e, true);
		} else {
			log_info("recorded sequence %llu as acknowledged in %s",
				 (unsigned long long)m.sequence_number, cfg_str(cfg, CFG_STATE_DIR));
		}
	}
done:
	free(gz);
	harvest_free(&h);
	free_state(&st);
	return out;
}

/* ---- the fleet server ---- */

struct agent {
	const struct cli_opts *o;
	struct config *cfg;
	struct run_state st; /* st.as is the agent's status, kept up to date and saved */
	char key[257];
	bool have_key;
	struct http *http;
	struct cmdlog cmds;   /* server-sent commands and their results */
	bool cmds_broken;     /* the journal is unusable this run: commands are refused */
	uint64_t cmds_us;     /* time this run spent running commands */
	char cmds_err[512];
#if NETINV_EXEC
	bool exec_ready;
	struct exec_local local;
	struct exec_allowlist allow;
#endif
};

/* ---- server-sent commands (the gated exec module decides what runs) ---- */

struct results_ctx {
	struct cmdlog *l;
	size_t limit;
	uint8_t *incl;
	unsigned n;
};

static void write_results(struct json_w *w, void *ctx)
{
	struct results_ctx *rc = ctx;

	rc->n = cmdlog_write_results(w, rc->l, rc->limit, rc->incl);
}

/* The local gate (root-owned netinv.conf) and the allowlist are read before the attribution
 * capabilities are given up: under the service, CAP_DAC_READ_SEARCH is what reads them. */
static void exec_prepare(struct agent *a)
{
#if NETINV_EXEC
	if (!a->exec_ready) {
		exec_local_load(&a->local, a->o->config_path);
		if (a->local.enabled)
			exec_allowlist_load(&a->allow, a->local.commands_dir);
		exec_cleanup_scripts(&a->st.sd);
		a->exec_ready = true;
	}
#else
	(void)a;
#endif
}

static void handle_commands(struct agent *a, const struct proto_reply *r)
{
#if NETINV_EXEC
	struct exec_env env;
#endif

	if (r->cmds_ignored)
		log_warn("ignored %u command%s in the server's reply (no usable id, or more than %d)",
			 r->cmds_ignored, r->cmds_ignored == 1 ? "" : "s", PROTO_MAX_COMMANDS);
	if (!r->n_cmds)
		return;
	exec_prepare(a);
#if NETINV_EXEC
	env = (struct exec_env){ .local = &a->local, .allow = &a->allow, .policy = &r->policy,
				 .sd = &a->st.sd };
#endif
	for (unsigned i = 0; i < r->n_cmds; i++) {
		const struct proto_command *c = &r->cmds[i];
		struct cmd_entry *e;
		int err;

		if (a->cmds_broken) {
			log_warn("command %s (%s) refused: %s", c->id, c->name, a->cmds_err);
			continue;
		}
		e = cmdlog_find(&a->cmds, c->id);
		/* A run spends at most twice the policy's command timeout on commands, so the
		 * oneshot stays well inside its TimeoutStartSec; the rest are not recorded and come
		 * again with a later check-in. */
		if (!e && cmdlog_backlogged(&a->cmds)) {
			log_warn("command %s (%s) deferred: %u results are still to be delivered", c->id,
				 c->name, cmdlog_pending_results(&a->cmds));
			continue;
		}
		if (!e && a->cmds_us >= 2000000ull * r->policy.cmd_timeout) {
			log_info("command %s (%s) deferred: this run spent its %us on commands", c->id,
				 c->name, 2 * r->policy.cmd_timeout);
			continue;
		}
		if (e) {
			log_info("command %s (%s) was received before (%s); not run again", c->id,
				 c->name, e->delivered ? "result delivered" : cmd_status_names[e->status]);
			continue;
		}
		e = cmdlog_add(&a->cmds, c->id, c->name);
		if (!e) {
			log_error("out of memory recording command %s", c->id);
			return;
		}
		/* at most once: the id is on disk before anything runs */
		err = cmdlog_save(&a->cmds, &a->st.sd);
		if (err < 0) {
			a->cmds.n--;
			a->cmds_broken = true;
			snprintf(a->cmds_err, sizeof(a->cmds_err),
				 "cannot record it in %.200s/%s (%s), so it cannot run", a->st.sd.path,
				 CMDLOG_FILE, strerror(-err));
			log_error("command %s (%s) refused: %s", c->id, c->name, a->cmds_err);
			continue;
		}
#if NETINV_EXEC
		{
			uint64_t t0 = snap_mono_us();

			exec_command(&env, r, c, e);
			a->cmds_us += snap_mono_us() - t0;
		}
#else
		cmd_entry_reason(e, CMD_REFUSED,
				 "command execution is not compiled into this netinv (built with EXEC=0)");
#endif
		if (e->status == CMD_COMPLETED)
			log_notice("command %s (%s) ran: %s %d in %u ms%s; stdout %u bytes%s, stderr %u "
				   "bytes%s",
				   c->id, c->name, e->signal ? "signal" : "exit",
				   e->signal ? e->signal : e->exit_code, e->duration_ms,
				   e->timed_out ? " (killed at its timeout)" : "", e->out_len,
				   e->out_trunc ? " (truncated)" : "", e->err_len,
				   e->err_trunc ? " (truncated)" : "");
		else
			log_warn("command %s (%s) %s: %s", c->id, c->name, cmd_status_names[e->status],
				 e->reason);
		err = cmdlog_save(&a->cmds, &a->st.sd);
		if (err < 0)
			log_error("cannot record the result of command %s in %s/%s: %s; it will be "
				  "reported as interrupted",
				  c->id, a->st.sd.path, CMDLOG_FILE, strerror(-err));
	}
}

static enum run_outcome proto_outcome_code(enum proto_outcome p)
{
	switch (p) {
	case PROTO_ACCEPTED:
	case PROTO_PENDING:
	case PROTO_ACTIVE:
		return RUN_OK;
	case PROTO_TEMPORARY:
	case PROTO_RATE_LIMITED:
	case PROTO_UNKNOWN:
		return RUN_TEMPFAIL;
	case PROTO_UNAUTHORIZED:
	case PROTO_FORBIDDEN:
	case PROTO_CONFLICT:
	case PROTO_KEY_LOST:
		return RUN_NOPERM;
	case PROTO_INVALID:
		return RUN_DATAERR;
	case PROTO_TOO_LARGE:
	case PROTO_ENCODING:
	case PROTO_BAD_REPLY:
	default:
		return RUN_PROTOCOL;
	}
}

static void save_status(struct agent *a)
{
	char err[512];

	if (state_write_status(&a->st.sd, &a->st.as, err, sizeof(err)) != STATE_OK)
		log_warn("%s", err);
}

/* A per-agent offset in [0, span]: stable for an agent, spread across a fleet (clones share a
 * machine-id but not an agent identity). */
static unsigned agent_offset(const char *uuid, unsigned span)
{
	return span ? (unsigned)(hash64(uuid, strlen(uuid), 0x6a6974746572ull) % ((uint64_t)span + 1)) : 0;
}

/* Record a failure; temporary ones back off exponentially (15 min doubling, capped at the policy
 * interval, spread by the agent's offset), at least as long as a Retry-After asked. */
static void record_failure(struct agent *a, const struct proto_reply *r)
{
	int64_t now = (int64_t)time(NULL);

	snprintf(a->st.as.last_error, sizeof(a->st.as.last_error), "%.255s", r->message);
	a->st.as.last_error_at = now;
	if (r->outcome == PROTO_TEMPORARY || r->outcome == PROTO_RATE_LIMITED ||
	    r->outcome == PROTO_UNKNOWN) {
		uint64_t delay = 900, cap = a->st.as.policy.interval;

		if (a->st.as.failures < 20)
			a->st.as.failures++;
		for (unsigned i = 1; i < a->st.as.failures && delay < cap; i++)
			delay *= 2;
		if (delay > cap)
			delay = cap;
		delay -= delay / 4;
		delay += agent_offset(a->st.uuid, (unsigned)(delay / 2));
		if (r->retry_after > 0 && (uint64_t)r->retry_after > delay)
			delay = (uint64_t)r->retry_after;
		a->st.as.next_attempt = now + (int64_t)delay;
		log_warn("%s (attempt %u; next try after %llds)", r->message, a->st.as.failures,
			 (long long)delay);
	} else {
		log_error("%s", r->message);
	}
	save_status(a);
}

static void learn(struct agent *a, const struct proto_reply *r)
{
	if (r->policy_warnings[0])
		log_warn("server policy: %s; keeping the cached values", r->policy_warnings);
	if (r->have_policy) {
		a->st.as.policy = r->policy;
		a->st.as.have_policy = true;
	}
	if (r->server_time)
		a->st.as.server_time = r->server_time;
	if (r->peer[0])
		snprintf(a->st.as.server_peer, sizeof(a->st.as.server_peer), "%s", r->peer);
}

static int http_open(struct agent *a)
{
	struct http_opts ho = {
		.ca_file = cfg_str(a->cfg, CFG_CA_FILE),
		.pin_pubkey = cfg_str(a->cfg, CFG_PIN_PUBKEY),
		.proxy = cfg_str(a->cfg, CFG_PROXY),
		.connect_timeout = cfg_uint(a->cfg, CFG_CONNECT_TIMEOUT),
		.total_timeout = cfg_uint(a->cfg, CFG_TIMEOUT),
		.verbose = !strcmp(cfg_str(a->cfg, CFG_LOG_LEVEL), "debug"),
		.secret = a->have_key ? a->key : a->cfg->enrollment_key,
	};
	char err[256];

	if (a->http)
		return 0;
	a->http = http_new(&ho, err, sizeof(err));
	if (!a->http) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static enum run_outcome do_register(struct agent *a)
{
	struct register_req q = { 0 };
	struct proto_reply *r = calloc(1, sizeof(*r));
	struct utsname u;
	char err[512];
	const char *ek;
	enum run_outcome out;

	if (!r)
		return RUN_SOFTWARE;
	ek = config_enrollment_key(a->cfg, err, sizeof(err));
	if (!ek) {
		log_error("cannot register: %s", err);
		free(r);
		return RUN_CONFIG;
	}
	if (http_open(a) < 0) {
		free(r);
		return RUN_SOFTWARE;
	}
	uname(&u);
	q.enrollment_key = ek;
	q.agent_uuid = a->st.uuid;
	q.display_name = cfg_str(a->cfg, CFG_DISPLAY_NAME);
	q.site_name = cfg_str(a->cfg, CFG_SITE_NAME);
	q.hostname = *cfg_str(a->cfg, CFG_HOSTNAME) ? cfg_str(a->cfg, CFG_HOSTNAME) : u.nodename;
	q.platform_release = u.release;
	q.agent_version = NETINV_VERSION;
	proto_register(a->http, cfg_str(a->cfg, CFG_SERVER_URL), &q, a->have_key, &a->st.as.policy, r);
	out = proto_outcome_code(r->outcome);
	if (r->outcome == PROTO_PENDING || r->outcome == PROTO_ACTIVE) {
		/* the key first: a crash after this must not lose it (the server sends it once) */
		if (r->api_key[0]) {
			if (state_write_key(&a->st.sd, r->api_key, err, sizeof(err)) != STATE_OK) {
				log_error("%s; the server will not send this key again", err);
				explicit_bzero(r, sizeof(*r));
				free(r);
				return RUN_CANTCREAT;
			}
			snprintf(a->key, sizeof(a->key), "%s", r->api_key);
			a->have_key = true;
		}
		snprintf(a->st.as.registration, sizeof(a->st.as.registration), "%s", r->status);
		if (r->agent_id[0])
			snprintf(a->st.as.agent_id, sizeof(a->st.as.agent_id), "%s", r->agent_id);
		learn(a, r);
		a->st.as.failures = 0;
		a->st.as.next_attempt = 0;
		a->st.as.last_error[0] = 0;
		save_status(a);
		if (r->outcome == PROTO_PENDING)
			log_notice("registered as %s; waiting for approval on the server", a->st.uuid);
		else
			log_notice("registration active for %s%s", a->st.uuid,
				   r->api_key[0] ? "; agent key stored" : "");
	} else {
		record_failure(a, r);
	}
	explicit_bzero(r, sizeof(*r));
	free(r);
	return out;
}

/* A part is built whole in the writer's buffer (so a record that does not fit can be taken back):
 * the only flush is the final one, whose bytes are the part. */
struct once {
	const char *p;
	size_t n;
	int calls;
};

static int once_sink(void *ctx, const void *p, size_t n)
{
	struct once *o = ctx;

	if (o->calls++)
		return -EMSGSIZE;
	o->p = p;
	o->n = n;
	return 0;
}

/* Collect, then send the delta in as many parts as the limits need; after each accepted part the
 * acknowledged state advances by exactly what that part carried. */
static enum run_outcome do_checkin(struct agent *a)
{
	struct report_meta m;
	struct report_stats rs;
	struct report_part part = { 0 };
	struct harvest h;
	struct utsname u;
	struct proto_reply *r = calloc(1, sizeof(*r));
	char fqdn[256 + 65], err[512], *buf = NULL;
	unsigned budget = a->st.as.policy.max_report, parts = 0, shrinks = 0;
	uint64_t sent_bytes = 0, sent_gz = 0, t0 = snap_mono_us();
	enum run_outcome out;
	unsigned tables = a->o->tables & policy_tables(&a->st.as.policy);
	struct results_ctx rc = { .l = &a->cmds };

	if (!r)
		return RUN_SOFTWARE;
	if (a->st.as.part_budget && a->st.as.part_budget < budget)
		budget = a->st.as.part_budget;
	out = harvest(a->o, a->cfg, &a->st, tables, &h);
	if (out != RUN_OK)
		goto done;
	/* The /proc walk is done: what reads the server's replies and runs its commands does so
	 * without the power to read other processes' memory (/proc/PID/mem) or any file. */
	exec_prepare(a);
	{
		int e = drop_attribution_caps();

		if (e < 0)
			log_warn("cannot give up the attribution capabilities: %s", strerror(-e));
	}
	if (http_open(a) < 0) {
		out = RUN_SOFTWARE;
		goto done;
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		part.incl[t] = calloc(h.s.t[t].n ? h.s.t[t].n : 1, 1);
		part.rincl[t] = calloc(h.d.t[t].n_removed ? h.d.t[t].n_removed : 1, 1);
		if (!part.incl[t] || !part.rincl[t]) {
			out = RUN_SOFTWARE;
			goto done;
		}
	}
	for (;;) {
		struct json_w w;
		struct once body = { 0 };
		unsigned char *gz = NULL;
		size_t gzlen = 0, cap = (size_t)budget + (64u << 10);
		bool carried = false;

		free(buf);
		buf = malloc(cap);
		if (!buf) {
			out = RUN_SOFTWARE;
			break;
		}
		for (int t = 0; t < SNAP_NTABLES; t++) {
			memset(part.incl[t], 0, h.s.t[t].n ? h.s.t[t].n : 1);
			memset(part.rincl[t], 0, h.d.t[t].n_removed ? h.d.t[t].n_removed : 1);
		}
		part.more = false;
		part.index = parts;
		/* room kept for the metadata and the closing brackets */
		part.budget = budget > 12288 ? budget - 12288 : budget / 2;
		fill_meta(&m, a->cfg, &a->st, &h, &u, fqdn, sizeof(fqdn));
		m.full_snapshot = h.d.full && parts == 0;
		m.part = &part;
		/* results of earlier commands ride in the first part, in at most half of it */
		if (parts == 0 && cmdlog_pending_results(&a->cmds)) {
			free(rc.incl);
			rc.incl = calloc(a->cmds.n, 1);
			rc.limit = budget / 2;
			rc.n = 0;
			if (rc.incl) {
				m.extra = write_results;
				m.extra_ctx = &rc;
			}
		}
		json_init(&w, buf, cap, once_sink, &body, false);
		report_write(&w, &h.s, &m, &rs);
		if (json_finish(&w) < 0 || body.n > budget) {
			log_error("a report part did not fit its %u-byte budget", budget);
			out = RUN_SOFTWARE;
			break;
		}
		gz = malloc(gz_bound(body.n));
		if (!gz || gz_buffer(body.p, body.n, Z_DEFAULT_COMPRESSION, gz, gz_bound(body.n), &gzlen) < 0) {
			free(gz);
			log_error("cannot compress the report");
			out = RUN_SOFTWARE;
			break;
		}
		proto_checkin(a->http, cfg_str(a->cfg, CFG_SERVER_URL), cfg_str(a->cfg, CFG_API_KEY_HEADER),
			      a->key, gz, gzlen, body.n, &a->st.as.policy, r);
		free(gz);
		if (r->outcome == PROTO_TOO_LARGE && budget / 2 >= 16384 && shrinks++ < 4) {
			budget /= 2;
			a->st.as.part_budget = budget;
			save_status(a);
			log_warn("%s; retrying in parts of at most %u bytes", r->message, budget);
			continue;
		}
		if (r->outcome != PROTO_ACCEPTED) {
			record_failure(a, r);
			out = proto_outcome_code(r->outcome);
			break;
		}
		/* accepted: the state advances by what this part carried, before anything else */
		carried = delta_accept_part(&h.d, part.incl, part.rincl);
		/* A part that carried no record leaves the records as they are: only the sequence
		 * advances, in agent.status (a large state is not rewritten every quiet run). */
		if ((carried || h.d.full || !a->st.have_acked) &&
		    state_commit(&a->st.sd, &h.d, &h.cc, m.sequence_number, (int64_t)time(NULL),
				 (uint32_t)h.copts.keying, err, sizeof(err)) != STATE_OK) {
			log_error("%s", err);
			out = RUN_CANTCREAT;
			break;
		}
		a->st.base_seq = m.sequence_number;
		a->st.as.last_sequence = m.sequence_number;
		if (m.extra && rc.n) {
			int e2;

			cmdlog_delivered(&a->cmds, rc.incl);
			e2 = cmdlog_save(&a->cmds, &a->st.sd);
			if (e2 < 0)
				log_warn("cannot record that %u command result%s were delivered: %s", rc.n,
					 rc.n == 1 ? "" : "s", strerror(-e2));
			else
				log_info("delivered %u command result%s", rc.n, rc.n == 1 ? "" : "s");
		}
		learn(a, r);
		a->st.as.last_checkin = (int64_t)time(NULL);
		a->st.as.failures = 0;
		a->st.as.next_attempt = 0;
		a->st.as.last_error[0] = 0;
		save_status(a);
		handle_commands(a, r);
		parts++;
		sent_bytes += body.n;
		sent_gz += gzlen;
		if (!part.more)
			break;
		if (!carried) {
			log_error("a single record does not fit a %u-byte report part", budget);
			out = RUN_SOFTWARE;
			break;
		}
	}
	if (out == RUN_OK) {
		/* a smaller part size learnt from a 413 relaxes again, one doubling per clean run */
		if (a->st.as.part_budget && !shrinks) {
			a->st.as.part_budget *= 2;
			if (a->st.as.part_budget >= a->st.as.policy.max_report)
				a->st.as.part_budget = 0;
			save_status(a);
		}
		summary(&h, "check-in accepted in", sent_bytes, sent_gz, snap_mono_us() - t0);
		log_info("%u part%s accepted; sequence %llu", parts, parts == 1 ? "" : "s",
			 (unsigned long long)a->st.base_seq);
	}
done:
	for (int t = 0; t < SNAP_NTABLES; t++) {
		free(part.incl[t]);
		free(part.rincl[t]);
	}
	free(buf);
	free(rc.incl);
	free(r);
	harvest_free(&h);
	return out;
}

enum run_outcome run_agent(const struct cli_opts *o, struct config *cfg)
{
	struct agent a = { .o = o, .cfg = cfg };
	enum run_outcome out;
	char err[512];
	enum state_err e;
	int64_t now = (int64_t)time(NULL);
	bool manual = isatty(STDIN_FILENO) || isatty(STDERR_FILENO);

	if (!*cfg_str(cfg, CFG_SERVER_URL)) {
		log_error("no server_url configured (set it in %s, NETINV_SERVER_URL or --server-url)",
			  o->config_path ? o->config_path : CONFIG_FILE_DEFAULT);
		return RUN_CONFIG;
	}
	/* root reads the enrollment key before it acts as the state directory's owner (as systemd
	 * hands it to the service); a missing key is reported when registration needs it */
	if (geteuid() == 0)
		config_enrollment_key(cfg, err, sizeof(err));
	out = load_state(cfg, true, &a.st);
	if (out != RUN_OK)
		goto done;
	e = state_read_key(&a.st.sd, a.key, sizeof(a.key), err, sizeof(err));
	if (e == STATE_IDENTITY) {
		log_error("%s", err);
		out = RUN_DATAERR;
		goto done;
	}
	a.have_key = e == STATE_OK;
	if (cmdlog_load(&a.cmds, &a.st.sd, true, a.cmds_err, sizeof(a.cmds_err)) < 0) {
		log_error("%s", a.cmds_err);
		a.cmds_broken = true;
	}
	if (o->mode == MODE_CHECK_IN_ONLY && !a.have_key) {
		log_error("not registered yet: no agent key in %s (run netinv --register-only first, "
			  "or install a key with 'netinv install-key FILE')",
			  cfg_str(cfg, CFG_STATE_DIR));
		out = RUN_NOPERM;
		goto done;
	}
	if (!o->force && o->mode == MODE_NONE && a.st.as.next_attempt > now) {
		log_info("backing off after %u failed attempt%s; next try in %llds (--force to try now)",
			 a.st.as.failures, a.st.as.failures == 1 ? "" : "s",
			 (long long)(a.st.as.next_attempt - now));
		goto done;
	}
	if (o->mode == MODE_REGISTER_ONLY || (o->mode == MODE_NONE && !a.have_key) ||
	    (o->mode == MODE_NONE && strcmp(a.st.as.registration, "active") && !a.have_key)) {
		if (o->mode == MODE_REGISTER_ONLY && a.have_key && !strcmp(a.st.as.registration, "active")) {
			log_info("already registered and active as %s", a.st.uuid);
			goto done;
		}
		out = do_register(&a);
		if (out != RUN_OK || o->mode == MODE_REGISTER_ONLY || !a.have_key)
			goto done; /* pending: exit 0 and try again on a later run */
	}
	if (o->mode == MODE_NONE && !o->force && a.st.as.last_checkin &&
	    now < a.st.as.last_checkin + (int64_t)a.st.as.policy.interval - 60) {
		log_info("next check-in due in %llds (policy interval %us; --force to check in now)",
			 (long long)(a.st.as.last_checkin + a.st.as.policy.interval - 60 - now),
			 a.st.as.policy.interval);
		goto done;
	}
	if (!o->no_jitter && !manual && a.st.as.policy.jitter) {
		unsigned off = agent_offset(a.st.uuid, a.st.as.policy.jitter);
		struct timespec ts = { .tv_sec = off };

		log_debug("waiting %us (this agent's jitter offset)", off);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	out = do_checkin(&a);
done:
	cmdlog_free(&a.cmds);
#if NETINV_EXEC
	exec_allowlist_free(&a.allow);
#endif
	http_free(a.http);
	explicit_bzero(a.key, sizeof(a.key));
	free_state(&a.st);
	return out;
}

enum run_outcome run_install_key(const struct cli_opts *o, struct config *cfg)
{
	struct run_state st;
	char key[300], err[512];
	enum run_outcome out;
	int r;

	r = read_small_file(AT_FDCWD, o->key_file, key, sizeof(key));
	if (r < 0) {
		log_error("cannot read the key file %s: %s", o->key_file,
			  r == -EFBIG ? "larger than a key" : strerror(-r));
		return RUN_IOERR;
	}
	key[strcspn(key, "\r\n")] = 0;
	if (state_key_valid(key) < 0) {
		log_error("%s does not hold a key (one printable token, no spaces, at most 256 characters)",
			  o->key_file);
		explicit_bzero(key, sizeof(key));
		return RUN_DATAERR;
	}
	out = load_state(cfg, true, &st);
	if (out == RUN_OK && !st.have_identity) {
		log_error("no agent identity in %s: install-key is for an enrolled agent whose key was "
			  "rotated; register with --register-only instead",
			  cfg_str(cfg, CFG_STATE_DIR));
		out = RUN_CONFIG;
	}
	if (out == RUN_OK && state_write_key(&st.sd, key, err, sizeof(err)) != STATE_OK) {
		log_error("%s", err);
		out = RUN_CANTCREAT;
	}
	if (out == RUN_OK) {
		struct agent_status *as = &st.as;

		snprintf(as->registration, sizeof(as->registration), "active");
		as->failures = 0;
		as->next_attempt = 0;
		as->last_error[0] = 0;
		if (state_write_status(&st.sd, as, err, sizeof(err)) != STATE_OK)
			log_warn("%s", err);
		log_notice("installed the agent key %.9s... for %s", key, st.uuid);
	}
	explicit_bzero(key, sizeof(key));
	free_state(&st);
	return out;
}

enum run_outcome run_check_config(const struct cli_opts *o, struct config *cfg)
{
	char err[512];

	(void)o;
	if (*cfg_str(cfg, CFG_ENROLLMENT_KEY_FILE) && !config_enrollment_key(cfg, err, sizeof(err))) {
		config_print(cfg, stdout);
		log_error("%s", err);
		return RUN_CONFIG;
	}
	config_print(cfg, stdout);
	if (!*cfg_str(cfg, CFG_SERVER_URL))
		log_warn("no server_url: only --dry-run works");
	return fflush(stdout) == 0 ? RUN_OK : RUN_IOERR;
}

static void print_time(const char *label, int64_t t)
{
	char when[64] = "never";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-18s%s\n", label, when);
}

enum run_outcome run_status(const struct cli_opts *o, struct config *cfg)
{
	struct run_state st;
	const struct agent_status *as;
	enum run_outcome out;
	long long bytes;
	uint64_t total = 0;
	char key[300] = "", err[256];

	out = load_state(cfg, false, &st);
	if (out != RUN_OK) {
		free_state(&st);
		return out;
	}
	as = &st.as;
	if (st.have_dir && state_read_key(&st.sd, key, sizeof(key), err, sizeof(err)) != STATE_OK)
		key[0] = 0;
	printf("state directory:  %s%s\n", cfg_str(cfg, CFG_STATE_DIR), st.have_dir ? "" : " (does not exist)");
	printf("identity:         %s\n", st.have_identity ? st.uuid : "none (not enrolled)");
	printf("server:           %s\n", *cfg_str(cfg, CFG_SERVER_URL) ? cfg_str(cfg, CFG_SERVER_URL) : "(not configured)");
	printf("registration:     %s\n", as->registration[0] ? as->registration : "not registered");
	printf("agent id:         %s\n", as->agent_id[0] ? as->agent_id : "-");
	if (key[0])
		printf("agent key:        %.9s... (%zu characters)\n", key, strlen(key));
	else
		printf("agent key:        none\n");
	explicit_bzero(key, sizeof(key));
	printf("policy:           every %us, jitter %us, reports up to %u bytes%s\n", as->policy.interval,
	       as->policy.jitter, as->policy.max_report, as->have_policy ? "" : " (defaults)");
	print_time("last check-in:", as->last_checkin);
	if (as->next_attempt > (int64_t)time(NULL))
		print_time("backing off until:", as->next_attempt);
	if (as->last_error[0]) {
		print_time("last error at:", as->last_error_at);
		printf("last error:       %s\n", as->last_error);
	}
	if (st.have_acked) {
		print_time("last accepted:", as->last_checkin > st.acked.accepted_at ? as->last_checkin :
								    st.acked.accepted_at);
		printf("sequence number:  %llu\n",
		       (unsigned long long)(as->last_sequence > st.acked.sequence ? as->last_sequence :
										  st.acked.sequence));
		printf("connection keying: %s\n", st.acked.keying == KEYING_FLOW ? "flow" : "exact");
		printf("acknowledged records:\n");
		for (int t2 = 0; t2 < SNAP_NTABLES; t2++) {
			printf("  %-10s %u\n", snap_table_names[t2], st.acked.t[t2].n);
			total += st.acked.t[t2].n;
		}
		if ((bytes = state_acked_bytes(&st.sd)) >= 0)
			printf("state file:       %lld bytes (%.1f bytes per record)\n", bytes,
			       total ? (double)bytes / (double)total : 0.0);
	} else {
		printf("last accepted:    never (the next report is a full snapshot)\n");
		printf("sequence number:  %llu\n", (unsigned long long)st.base_seq);
	}
	if (st.have_dir) {
		struct cmdlog cl;
		char cerr[512];

		if (cmdlog_load(&cl, &st.sd, false, cerr, sizeof(cerr)) < 0)
			printf("commands:         %s\n", cerr);
		else if (cl.n)
			printf("commands:         %u received, %u result%s waiting for the next check-in\n",
			       cl.n, cmdlog_pending_results(&cl),
			       cmdlog_pending_results(&cl) == 1 ? "" : "s");
		cmdlog_free(&cl);
	}
#if NETINV_EXEC
	{
		struct exec_local lg;
		struct exec_allowlist al;

		exec_local_load(&lg, o->config_path);
		if (lg.enabled) {
			exec_allowlist_load(&al, lg.commands_dir);
			printf("command execution: on here (%u allowlisted in %s%s); the server's policy "
			       "%s commands\n",
			       al.n, lg.commands_dir, lg.allow_scripts ? ", scripts allowed" : "",
			       as->policy.commands ? "allows" : "does not allow");
			exec_allowlist_free(&al);
		} else {
			printf("command execution: off (%s)\n", lg.why);
		}
	}
#else
	(void)o;
	printf("command execution: not compiled in\n");
#endif
	free_state(&st);
	return fflush(stdout) == 0 ? RUN_OK : RUN_IOERR;
}
