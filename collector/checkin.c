#include "agent.h"
#include "metrics.h"
#include "exec/dispatch.h"
#include "exec/exec.h"
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

/* One check-in run: the harvest, the part being built and what the parts so far carried. */
struct checkin {
	struct agent *a;
	struct harvest h;
	struct report_part part;
	struct report_meta m;
	struct report_stats rs;
	struct results_ctx rc;
	struct proto_reply *r;
	struct utsname u;
	char fqdn[256 + 65];
	char *buf;              /* the part being built */
	struct once body;       /* ... and its bytes once built */
	unsigned budget;        /* decoded bytes a part may have */
	unsigned parts, shrinks;
	uint64_t sent_bytes, sent_gz;
};

/* Collect, give up the attribution capabilities, open the connection, and make room for the
 * per-part record marks. */
static enum run_outcome checkin_start(struct checkin *c)
{
	struct agent *a = c->a;
	unsigned tables = a->o->tables & policy_tables(&a->st.as.policy);
	enum run_outcome out = harvest(a->o, a->set, &a->st, tables, true, &c->h);
	int e;

	if (out != RUN_OK)
		return out;
	/* The /proc walk is done: what reads the server's replies and runs its commands does so
	 * without the power to read other processes' memory (/proc/PID/mem) or any file. */
	commands_prepare(a);
	e = drop_attribution_caps();
	if (e < 0)
		log_warn("cannot give up the attribution capabilities: %s", strerror(-e));
	if (agent_http_open(a) < 0)
		return RUN_SOFTWARE;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		c->part.incl[t] = calloc(c->h.s.t[t].n ? c->h.s.t[t].n : 1, 1);
		c->part.rincl[t] = calloc(c->h.d.t[t].n_removed ? c->h.d.t[t].n_removed : 1, 1);
		if (!c->part.incl[t] || !c->part.rincl[t]) {
			log_error("out of memory preparing the report parts");
			return RUN_SOFTWARE;
		}
	}
	c->part.ns_partial = calloc(c->h.s.t[SNAP_NETNS].n ? c->h.s.t[SNAP_NETNS].n : 1, 1);
	if (!c->part.ns_partial) {
		log_error("out of memory preparing the report parts");
		return RUN_SOFTWARE;
	}
	return RUN_OK;
}

/* Build the next part whole in c->buf (c->body): as many records as fit the budget, the results of
 * earlier commands in the first part (in at most half of it). */
static enum run_outcome part_build(struct checkin *c)
{
	struct agent *a = c->a;
	size_t cap = (size_t)c->budget + (64u << 10);
	struct json_w w;

	free(c->buf);
	c->buf = malloc(cap);
	if (!c->buf) {
		log_error("out of memory building a report part");
		return RUN_SOFTWARE;
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		memset(c->part.incl[t], 0, c->h.s.t[t].n ? c->h.s.t[t].n : 1);
		memset(c->part.rincl[t], 0, c->h.d.t[t].n_removed ? c->h.d.t[t].n_removed : 1);
	}
	memset(c->part.ns_partial, 0, c->h.s.t[SNAP_NETNS].n ? c->h.s.t[SNAP_NETNS].n : 1);
	report_ns_reset_pending(&c->h.ns.rep);
	c->part.more = false;
	c->part.index = c->parts;
	/* room kept for the metadata and the closing brackets */
	c->part.budget = c->budget > 12288 ? c->budget - 12288 : c->budget / 2;
	harvest_meta(&c->m, a->set, &a->st, &c->h, &c->u, c->fqdn, sizeof(c->fqdn));
	c->m.full_snapshot = c->h.d.full && c->parts == 0;
	c->m.part = &c->part;
	if (c->parts == 0 && cmdlog_pending_results(&a->cmds)) {
		free(c->rc.incl);
		c->rc.incl = calloc(a->cmds.n, 1);
		c->rc.limit = c->budget / 2;
		c->rc.n = 0;
		if (c->rc.incl) {
			c->m.extra = commands_write_results;
			c->m.extra_ctx = &c->rc;
		}
	}
	c->body = (struct once){ 0 };
	json_init(&w, c->buf, cap, once_sink, &c->body, false);
	report_write(&w, &c->h.s, &c->m, &c->rs);
	if (json_finish(&w) < 0 || c->body.n > c->budget) {
		log_error("a report part did not fit its %u-byte budget", c->budget);
		return RUN_SOFTWARE;
	}
	return RUN_OK;
}

/* Before a part goes out: what it carries (with the records of earlier unconfirmed reports not yet
 * folded into the acknowledged state) and its sequence number are made durable, so a reply that
 * never comes, or a kill at any point after this, cannot lose track of what the server may hold.
 * The sequence number is spent here, whatever the outcome. */
static enum run_outcome part_record_unconfirmed(struct checkin *c)
{
	struct run_state *st = &c->a->st;
	struct acked_state u;
	char err[512];
	enum state_err e;

	uint8_t *ns = c->part.incl[SNAP_NETNS];
	uint32_t nns = c->h.s.t[SNAP_NETNS].n;
	int r;

	/* a namespace table of which this part carries a piece is unconfirmed too */
	for (uint32_t i = 0; i < nns; i++)
		ns[i] |= (uint8_t)(c->part.ns_partial[i] << 1);
	r = delta_part_unconfirmed(&c->h.d, &c->h.cc, c->part.incl, c->part.rincl,
				   c->h.d.prev ? &st->unconf : NULL, &u);
	for (uint32_t i = 0; i < nns; i++)
		ns[i] &= 1;
	if (r < 0) {
		log_error("out of memory recording the report part");
		return RUN_SOFTWARE;
	}
	e = state_write_unconfirmed(&st->sd, &u, c->m.sequence_number, c->m.full_snapshot, err,
				    sizeof(err));
	acked_free(&u);
	if (e != STATE_OK) {
		log_error("%s", err);
		return RUN_CANTCREAT;
	}
	st->unconf_on_disk = true;
	st->base_seq = c->m.sequence_number;
	return RUN_OK;
}

/* gzip the part, record it, and post it; c->r holds the server's answer. */
static enum run_outcome part_send(struct checkin *c, size_t *gzlen)
{
	struct agent *a = c->a;
	size_t cap = gz_bound(c->body.n);
	unsigned char *gz = malloc(cap);
	enum run_outcome out;

	if (!gz || gz_buffer(c->body.p, c->body.n, Z_DEFAULT_COMPRESSION, gz, cap, gzlen) < 0) {
		free(gz);
		log_error("cannot compress the report");
		return RUN_SOFTWARE;
	}
	if ((out = part_record_unconfirmed(c)) != RUN_OK) {
		free(gz);
		return out;
	}
	proto_checkin(a->http, a->set->server_url, a->set->api_key_header,
		      a->key, gz, *gzlen, c->body.n, &a->st.as.policy, c->r);
	free(gz);
	return RUN_OK;
}

static bool acked_empty(const struct acked_state *a)
{
	for (int t = 0; t < SNAP_NTABLES; t++)
		if (a->t[t].n)
			return false;
	return true;
}

/* The server accepted the part: the state advances by exactly what it carried, before anything
 * else; then the delivered results, the learnt policy and status, and the reply's commands. */
static enum run_outcome part_accepted(struct checkin *c, bool *carried)
{
	struct agent *a = c->a;
	struct run_state *st = &a->st;
	char err[512];

	*carried = delta_accept_part(&c->h.d, c->part.incl, c->part.rincl);
	report_ns_accept(&c->h.ns.rep); /* pieces of namespace tables */
	for (uint32_t i = 0; i < c->h.s.t[SNAP_NETNS].n; i++)
		*carried |= c->part.ns_partial[i];
	/* A part that carried no record leaves the records as they are: only the sequence
	 * advances, in agent.status (a large state is not rewritten every quiet run). Records of
	 * earlier unconfirmed reports are folded into the acknowledged state by the first commit. */
	if ((*carried || c->h.d.full || !st->have_acked || !acked_empty(&st->unconf)) &&
	    state_commit(&st->sd, &c->h.d, &c->h.cc, c->m.sequence_number, (int64_t)time(NULL),
			 (uint32_t)c->h.copts.keying, err, sizeof(err)) != STATE_OK) {
		log_error("%s", err);
		return RUN_CANTCREAT;
	}
	acked_free(&st->unconf);
	/* tables found as acknowledged (a quiet run commits nothing, so acked.state cannot say so):
	 * the next run may digest them instead of parsing them */
	for (int t = 0; t < SNAP_NTABLES; t++)
		st->as.seen[t] = c->h.d.prev && c->h.d.digest[t] &&
					 c->h.d.digest[t] == c->h.d.prev->digest[t] ?
				 c->h.d.digest[t] :
				 0;
	st->base_seq = c->m.sequence_number;
	a->st.as.last_sequence = c->m.sequence_number;
	if (c->m.extra && c->rc.n) {
		int e;

		cmdlog_delivered(&a->cmds, c->rc.incl);
		e = cmdlog_save(&a->cmds, &a->st.sd);
		if (e < 0)
			log_warn("cannot record that %u command result%s were delivered: %s", c->rc.n,
				 c->rc.n == 1 ? "" : "s", strerror(-e));
		else
			log_info("delivered %u command result%s", c->rc.n, c->rc.n == 1 ? "" : "s");
	}
	/* the reply's size grows with the report (the server echoes its addresses): worth seeing */
	log_debug("part %u accepted (check-in %s); reply %llu bytes", c->parts + 1,
		  c->r->checkin_id[0] ? c->r->checkin_id : "?", (unsigned long long)c->r->reply_bytes);
	agent_learn(a, c->r);
	a->st.as.last_checkin = (int64_t)time(NULL);
	a->st.as.failures = 0;
	a->st.as.next_attempt = 0;
	a->st.as.last_error[0] = 0;
	/* the sequence number now lives in agent.status (or acked.state): the record of the part
	 * can go. Kept if that failed: it only makes the next report re-send what it carried. */
	if (agent_save_status(a) && state_drop_unconfirmed(&st->sd) == 0)
		st->unconf_on_disk = false;
	commands_handle(a, c->r);
	return RUN_OK;
}

/* The parts loop: build, send, and on acceptance advance; a 413 halves the part size (at most
 * four times, never under 16 KiB) and sends the same part again. */
static enum run_outcome checkin_parts(struct checkin *c)
{
	struct agent *a = c->a;
	enum run_outcome out;

	for (;;) {
		size_t gzlen = 0;
		bool carried = false;

		if ((out = part_build(c)) != RUN_OK || (out = part_send(c, &gzlen)) != RUN_OK)
			return out;
		if (c->r->outcome == PROTO_TOO_LARGE && c->budget / 2 >= 16384 && c->shrinks++ < 4) {
			c->budget /= 2;
			a->st.as.part_budget = c->budget;
			agent_save_status(a);
			log_warn("%s; retrying in parts of at most %u bytes", c->r->message, c->budget);
			continue;
		}
		if (c->r->outcome != PROTO_ACCEPTED) {
			agent_record_failure(a, c->r);
			return agent_outcome(c->r->outcome);
		}
		if ((out = part_accepted(c, &carried)) != RUN_OK)
			return out;
		c->parts++;
		c->sent_bytes += c->body.n;
		c->sent_gz += gzlen;
		if (!c->part.more)
			return RUN_OK;
		if (!carried) {
			log_error("a single record does not fit a %u-byte report part", c->budget);
			return RUN_SOFTWARE;
		}
	}
}

enum run_outcome agent_checkin(struct agent *a)
{
	struct checkin *c = calloc(1, sizeof(*c));
	uint64_t t0 = snap_mono_us();
	enum run_outcome out;

	if (!c || !(c->r = calloc(1, sizeof(*c->r)))) {
		free(c);
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	c->a = a;
	c->rc.l = &a->cmds;
	c->budget = a->st.as.policy.max_report;
	if (a->st.as.part_budget && a->st.as.part_budget < c->budget)
		c->budget = a->st.as.part_budget;
	out = checkin_start(c);
	if (out == RUN_OK)
		out = checkin_parts(c);
	if (out == RUN_OK) {
		/* a smaller part size learnt from a 413 relaxes again, one doubling per clean run */
		if (a->st.as.part_budget && !c->shrinks) {
			a->st.as.part_budget *= 2;
			if (a->st.as.part_budget >= a->st.as.policy.max_report)
				a->st.as.part_budget = 0;
			agent_save_status(a);
		}
		char more[96];

		run_metrics.parts = c->parts;
		run_metrics.outcome = "checked_in";
		snprintf(more, sizeof(more), "; %u part%s accepted, sequence %llu", c->parts,
			 c->parts == 1 ? "" : "s", (unsigned long long)a->st.base_seq);
		harvest_summary(&c->h, "check-in", "check-in accepted in", c->sent_bytes, c->sent_gz,
				snap_mono_us() - t0, more);
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		free(c->part.incl[t]);
		free(c->part.rincl[t]);
		c->part.incl[t] = c->part.rincl[t] = NULL;
	}
	free(c->part.ns_partial);
	c->part.ns_partial = NULL;
	free(c->buf);
	free(c->rc.incl);
	free(c->r);
	harvest_free(&c->h);
	free(c);
	return out;
}
