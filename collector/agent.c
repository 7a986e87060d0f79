#include "agent.h"
#include "cadence.h"
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

#ifndef NETINV_VERSION
#define NETINV_VERSION "0.0.0"
#endif



enum run_outcome agent_outcome(enum proto_outcome p)
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
	case PROTO_CONFIG:
		return RUN_CONFIG;
	case PROTO_TOO_LARGE:
	case PROTO_ENCODING:
	case PROTO_BAD_REPLY:
	default:
		return RUN_PROTOCOL;
	}
}

bool agent_save_status(struct agent *a)
{
	char err[512];

	if (state_write_status(&a->st.sd, &a->st.as, err, sizeof(err)) != STATE_OK) {
		log_warn("%s", err);
		return false;
	}
	return true;
}

void agent_record_failure(struct agent *a, const struct proto_reply *r)
{
	int64_t now = (int64_t)time(NULL);

	snprintf(a->st.as.last_error, sizeof(a->st.as.last_error), "%.255s", r->message);
	a->st.as.last_error_at = now;
	if (r->outcome == PROTO_TEMPORARY || r->outcome == PROTO_RATE_LIMITED ||
	    r->outcome == PROTO_UNKNOWN) {
		bool capped;
		uint64_t delay;

		if (a->st.as.failures < 20)
			a->st.as.failures++;
		delay = cadence_backoff(a->st.as.failures, a->st.as.policy.interval, a->st.uuid,
					r->retry_after, &capped);
		if (capped)
			log_warn("the server asked to wait %lds (Retry-After); waiting at most %us",
				 r->retry_after, CADENCE_RETRY_AFTER_MAX);
		a->st.as.next_attempt = now + (int64_t)delay;
		log_warn("%s (attempt %u; next try after %llds)", r->message, a->st.as.failures,
			 (long long)delay);
	} else {
		log_error("%s", r->message);
	}
	agent_save_status(a);
}

void agent_learn(struct agent *a, const struct proto_reply *r)
{
	if (r->policy_warnings[0])
		log_warn("server policy: %s; keeping the cached values", r->policy_warnings);
	if (r->have_policy) {
		a->st.as.policy = r->policy;
		a->st.as.have_policy = true;
	}
	if (r->server_time)
		a->st.as.server_time = r->server_time;
	/* the server's number for the agent places its slot (an identity taken over from the
	 * Graphēon agent learns it from its first check-in) */
	if (r->agent_id[0])
		snprintf(a->st.as.agent_id, sizeof(a->st.as.agent_id), "%s", r->agent_id);
	if (r->peer[0])
		snprintf(a->st.as.server_peer, sizeof(a->st.as.server_peer), "%s", r->peer);
}

int agent_http_open(struct agent *a)
{
	struct http_opts ho = {
		.ca_file = a->set->ca_file,
		.pin_pubkey = a->set->pin_pubkey,
		.proxy = a->set->proxy,
		.connect_timeout = a->set->connect_timeout,
		.total_timeout = a->set->timeout,
		.verbose = !strcmp(a->set->log_level, "debug"),
		/* a->key is read at each trace line: a key received by this run's registration is
		 * redacted from the check-in that follows */
		.secrets = { a->cfg->enrollment_key, a->key },
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

	if (!r) {
		log_error("out of memory");
		return RUN_SOFTWARE;
	}
	ek = config_enrollment_key(a->cfg, err, sizeof(err));
	if (!ek) {
		log_error("cannot register: %s", err);
		free(r);
		return RUN_CONFIG;
	}
	if (agent_http_open(a) < 0) {
		free(r);
		return RUN_SOFTWARE;
	}
	uname(&u);
	q.enrollment_key = ek;
	q.agent_uuid = a->st.uuid;
	q.display_name = a->set->display_name;
	q.site_name = a->set->site_name;
	q.hostname = *a->set->hostname ? a->set->hostname : u.nodename;
	q.platform_release = u.release;
	q.agent_version = NETINV_VERSION;
	proto_register(a->http, a->set->server_url, &q, a->have_key, &a->st.as.policy, r);
	out = agent_outcome(r->outcome);
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
		agent_learn(a, r);
		a->st.as.failures = 0;
		a->st.as.next_attempt = 0;
		a->st.as.last_error[0] = 0;
		agent_save_status(a);
		if (r->outcome == PROTO_PENDING)
			log_notice("registered as %s; waiting for approval on the server", a->st.uuid);
		else
			log_notice("registration active for %s%s", a->st.uuid,
				   r->api_key[0] ? "; agent key stored" : "");
	} else {
		agent_record_failure(a, r);
	}
	explicit_bzero(r, sizeof(*r));
	free(r);
	return out;
}

/* One pass of the timer's run. A pass that may pause and finds it should wait first (for the
 * agent's slot, or its jitter offset) stops before collecting, with *pause set: the caller waits with
 * the state directory unlocked and starts a second pass, which decides afresh and never pauses. */
static enum run_outcome agent_pass(const struct cli_opts *o, struct config *cfg, bool may_pause,
				   int64_t *pause)
{
	struct agent a = { .o = o, .cfg = cfg, .set = &cfg->set };
	enum run_outcome out;
	char err[512];
	enum state_err e;
	int64_t now = (int64_t)time(NULL), wait = 0;
	bool manual = isatty(STDIN_FILENO) || isatty(STDERR_FILENO), clock_back = false;
	/* no waits from a terminal or with --no-jitter; only the timer's own runs (no mode, not
	 * forced) wait for their slot */
	bool jitters = may_pause && !manual && !o->no_jitter;
	bool waits = jitters && !o->force && o->mode == MODE_NONE;
	enum cadence_verdict verdict = CADENCE_DUE;
	struct cadence_agent who;

	if (!*cfg->set.server_url) {
		log_error("no server_url configured (set it in %s, NETINV_SERVER_URL or --server-url)",
			  o->config_path ? o->config_path : CONFIG_FILE_DEFAULT);
		return RUN_CONFIG;
	}
	/* root reads the enrollment key before it acts as the state directory's owner (as systemd
	 * hands it to the service); a missing key is reported when registration needs it */
	if (geteuid() == 0)
		config_enrollment_key(cfg, err, sizeof(err));
	out = run_state_load_async(&cfg->set, true, &a.st);
	if (out != RUN_OK)
		goto done;
	e = state_read_key(&a.st.sd, a.key, sizeof(a.key), err, sizeof(err));
	if (e == STATE_IDENTITY) {
		log_error("%s", err);
		out = RUN_DATAERR;
		goto done;
	}
	a.have_key = e == STATE_OK;
	if (cmdlog_load(&a.cmds, &a.st.sd, true, a.cmds_err, sizeof(a.cmds_err)) < 0 ||
	    a.cmds.quarantined) {
		log_error("%s", a.cmds_err);
		a.cmds_broken = true;
	}
	if (o->mode == MODE_CHECK_IN_ONLY && !a.have_key) {
		log_error("not registered yet: no agent key in %s (run netinv --register-only first, "
			  "or install a key with 'netinv install-key FILE')",
			  cfg->set.state_dir);
		out = RUN_NOPERM;
		goto done;
	}
	who.agent_id = a.st.as.agent_id;
	who.uuid = a.st.uuid;
	verdict = cadence_decide(now, a.st.as.last_checkin, a.st.as.last_error_at, a.st.as.next_attempt,
				 a.st.as.policy.interval, &who, waits, &wait, &clock_back);
	if (clock_back)
		log_warn("the clock went back (a recorded check-in or retry time lies in the future): "
			 "not waiting for it");
	if (!o->force && o->mode == MODE_NONE && verdict == CADENCE_BACKING_OFF) {
		/* exit 75 like the failure itself: the unit stays failed through an outage, until a
		 * check-in succeeds (README, "When the server says no") */
		log_info("backing off after %u failed attempt%s; next try in %llds (--force to try now)",
			 a.st.as.failures, a.st.as.failures == 1 ? "" : "s", (long long)wait);
		run_metrics.outcome = "backing_off";
		out = RUN_TEMPFAIL;
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
	if (o->mode == MODE_NONE && !o->force && verdict == CADENCE_NOT_DUE) {
		run_metrics.outcome = "not_due";
		log_info("next check-in due in %llds (this agent's slot in the policy interval of %us; "
			 "--force to check in now)",
			 (long long)wait, a.st.as.policy.interval);
		goto done;
	}
	if (waits && verdict == CADENCE_AT_SLOT) {
		/* the slot is the agent's spread: no jitter on top */
		log_info("waiting %llds for this agent's slot in the policy interval of %us",
			 (long long)wait, a.st.as.policy.interval);
		*pause = wait;
		goto done;
	}
	if (jitters) {
		unsigned off = cadence_offset(a.st.uuid, a.st.as.policy.jitter);

		if (off) {
			log_info("waiting %us (this agent's jitter offset)", off);
			*pause = off;
			goto done;
		}
	}
	out = agent_checkin(&a);
done:
	/* what the metrics file says of the agent, whatever the run did */
	run_metrics.have_agent = a.st.have_dir;
	run_metrics.last_success = a.st.as.last_checkin;
	run_metrics.failures = a.st.as.failures;
	snprintf(run_metrics.agent_uuid, sizeof(run_metrics.agent_uuid), "%s",
		 a.st.have_identity ? a.st.uuid : "");
	snprintf(run_metrics.agent_id, sizeof(run_metrics.agent_id), "%s", a.st.as.agent_id);
	cmdlog_free(&a.cmds);
	exec_ctx_free(&a.exec);
	http_free(a.http);
	explicit_bzero(a.key, sizeof(a.key));
	run_state_free(&a.st);
	return out;
}

enum run_outcome run_agent(const struct cli_opts *o, struct config *cfg)
{
	int64_t pause = 0;
	enum run_outcome out = agent_pass(o, cfg, true, &pause);
	struct timespec ts = { .tv_sec = (time_t)pause };

	if (out != RUN_OK || pause <= 0)
		return out;
	/* the state directory is unlocked meanwhile: `netinv status` answers, a manual check-in
	 * runs, and the next pass sees what it did */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	run_metrics.waited_s = (uint32_t)pause;
	run_metrics.start_us = snap_mono_us();
	return agent_pass(o, cfg, false, &pause);
}
