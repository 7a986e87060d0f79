#include "cadence.h"
#include "harvest.h"
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
	out = run_state_load(&cfg->set, true, &st);
	if (out == RUN_OK && !st.have_identity) {
		log_error("no agent identity in %s: install-key is for an enrolled agent whose key was "
			  "rotated; register with --register-only instead",
			  cfg->set.state_dir);
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
	run_state_free(&st);
	return out;
}

/* A file a setting names: a readable regular file. */
static bool check_file(const char *setting, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s=%s: %s", setting, path,
			  fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* --connect: resolve, connect, TLS, one GET of the server's base URL (it changes nothing there). */
static bool check_connect(const struct config *cfg)
{
	const struct settings *s = &cfg->set;
	struct http_opts ho = { .ca_file = s->ca_file,
				.pin_pubkey = s->pin_pubkey,
				.proxy = s->proxy,
				.connect_timeout = s->connect_timeout,
				.total_timeout = s->timeout };
	struct http_resp hr;
	const char *step = "load";
	char err[256];
	struct http *h = http_new(&ho, err, sizeof(err));
	int r;

	if (!h) {
		log_error("connect: %s", err);
		return false;
	}
	r = http_probe(h, s->server_url, &hr, &step);
	http_free(h);
	if (r == 0) {
		printf("connect: %s answered HTTP %ld (resolve, connect%s, request: ok)\n", s->server_url,
		       hr.status, strncmp(s->server_url, "https:", 6) ? "" : ", TLS");
		return true;
	}
	log_error("connect: the %s step failed: %s%s%s", step, hr.config[0] ? hr.config : hr.error,
		  hr.config[0] ? ": " : "", hr.config[0] ? hr.error : "");
	return false;
}

enum run_outcome run_check_config(const struct cli_opts *o, struct config *cfg)
{
	const struct settings *s = &cfg->set;
	char err[512], keyerr[512] = "";
	bool ok = true;

	/* the key is read first, so the listing shows it was found (redacted) */
	if (*s->enrollment_key_file && !config_enrollment_key(cfg, keyerr, sizeof(keyerr)) && !keyerr[0])
		snprintf(keyerr, sizeof(keyerr), "the enrollment key cannot be read");
	config_print(cfg, stdout);
	fflush(stdout);
	/* everything that can be checked without the network, each error on its own line */
	if (!*s->server_url) {
		log_error("no server_url: set it in %s, NETINV_SERVER_URL or --server-url",
			  o->config_path ? o->config_path : CONFIG_FILE_DEFAULT);
		ok = false;
	} else if (config_check_url(s->server_url, s->allow_insecure_http, err, sizeof(err)) < 0) {
		log_error("%s", err);
		ok = false;
	}
	if (*s->ca_file && !check_file("ca_file", s->ca_file))
		ok = false;
	if (keyerr[0]) {
		char path[4096];
		struct stat st;

		/* removing the key file after enrollment is supported: the agent key is what counts */
		snprintf(path, sizeof(path), "%s/api_key", s->state_dir);
		if (stat(path, &st) == 0) {
			log_info("%s; not needed: this agent holds its key", keyerr);
		} else {
			log_error("%s", keyerr);
			ok = false;
		}
	}
	if (ok && o->connect && !check_connect(cfg))
		ok = false;
	if (fflush(stdout) != 0)
		return RUN_IOERR;
	return ok ? RUN_OK : RUN_CONFIG;
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

static void jtime(struct json_w *w, const char *k, size_t kl, int64_t t)
{
	json_keyn(w, k, kl);
	if (t > 0)
		json_time(w, (time_t)t);
	else
		json_null(w);
}
#define key_time(w, k, t) jtime(w, k, sizeof(k) - 1, t)

/* When the timer's next run checks in (0: its first run; never before the backoff ends), and the
 * agent's slot in the interval (-1: none, the interval is at most the timer's period). */
struct next_checkin {
	int64_t at;
	long slot;
	bool from_id;
	unsigned jitter; /* this agent's jitter offset under the policy */
};

static struct next_checkin next_checkin(const struct run_state *st)
{
	const struct agent_status *as = &st->as;
	struct cadence_agent who = { .agent_id = as->agent_id, .uuid = st->uuid };
	struct next_checkin n = { .slot = -1 };

	n.jitter = st->have_identity ? cadence_offset(st->uuid, as->policy.jitter) : 0;
	if (as->policy.interval > CADENCE_TIMER_PERIOD)
		n.slot = (long)cadence_slot(as->policy.interval, &who, &n.from_id);
	if (as->last_checkin)
		n.at = cadence_next_due(as->last_checkin, as->policy.interval, &who);
	if (as->next_attempt > (int64_t)time(NULL) && as->next_attempt > n.at)
		n.at = as->next_attempt;
	return n;
}

#define key_sn(w, k, v) json_key_str_or_null(w, k, sizeof(k) - 1, v)

/* status --json: the same facts for a machine, with the documented keys (README, netinv(8)). */
static enum run_outcome status_json(const struct cli_opts *o, const struct config *cfg,
				    struct run_state *st, bool have_key)
{
	const struct agent_status *as = &st->as;
	int fd = 1;
	static char wb[JSON_MIN_BUF];
	struct json_w w;
	char *ex = NULL;
	size_t exn = 0;
	FILE *mf;
	unsigned tables = policy_tables(&as->policy);
	int64_t attempt = as->last_checkin > as->last_error_at ? as->last_checkin : as->last_error_at;

	fflush(stdout);
	json_init(&w, wb, sizeof(wb), json_fd_sink, &fd, o->format == FMT_PRETTY);
	json_obj_begin(&w);
	key_str(&w, "netinv_version", NETINV_VERSION);
	key_sn(&w, "state_dir", cfg->set.state_dir);
	key_bool(&w, "state_dir_exists", st->have_dir);
	key_sn(&w, "identity", st->have_identity ? st->uuid : NULL);
	key_sn(&w, "server_url", cfg->set.server_url);
	key_sn(&w, "registration", as->registration);
	key_sn(&w, "agent_id", as->agent_id);
	key_bool(&w, "agent_key", have_key);
	json_key(&w, "policy");
	json_obj_begin(&w);
	key_bool(&w, "learnt", as->have_policy);
	key_u64(&w, "interval_seconds", as->policy.interval);
	key_u64(&w, "jitter_seconds", as->policy.jitter);
	key_u64(&w, "max_report_bytes", as->policy.max_report);
	key_bool(&w, "commands_enabled", as->policy.commands);
	json_obj_end(&w);
	json_key(&w, "last_attempt");
	json_obj_begin(&w);
	key_time(&w, "at", attempt);
	key_str(&w, "outcome", !attempt ? "none" : as->last_error_at > as->last_checkin ? "failed" : "ok");
	key_sn(&w, "error", as->last_error_at > as->last_checkin ? as->last_error : NULL);
	json_obj_end(&w);
	key_time(&w, "last_success", as->last_checkin > st->acked.accepted_at ? as->last_checkin :
									      st->acked.accepted_at);
	json_key(&w, "backoff");
	json_obj_begin(&w);
	key_u64(&w, "failures", as->failures);
	key_time(&w, "until", as->next_attempt > (int64_t)time(NULL) ? as->next_attempt : 0);
	json_obj_end(&w);
	{
		struct next_checkin n = next_checkin(st);

		json_key(&w, "next_checkin");
		json_obj_begin(&w);
		key_time(&w, "at", n.at);
		json_key(&w, "slot_seconds");
		if (n.slot >= 0)
			json_u64(&w, (uint64_t)n.slot);
		else
			json_null(&w);
		key_sn(&w, "slot_from", n.slot < 0 ? NULL : n.from_id ? "agent_id" : "identity");
		key_u64(&w, "jitter_offset_seconds", n.jitter);
		json_obj_end(&w);
	}
	key_u64(&w, "sequence", st->base_seq);
	json_key(&w, "acknowledged");
	if (st->have_acked) {
		long long bytes = state_acked_bytes(&st->sd);

		json_obj_begin(&w);
		key_time(&w, "accepted_at", st->acked.accepted_at);
		key_str(&w, "connection_keying", st->acked.keying == KEYING_FLOW ? "flow" : "exact");
		json_key(&w, "records");
		json_obj_begin(&w);
		for (int t = 0; t < SNAP_NTABLES; t++)
			key_u64(&w, snap_table_names[t], st->acked.t[t].n);
		json_obj_end(&w);
		key_u64(&w, "state_bytes", bytes > 0 ? (uint64_t)bytes : 0);
		json_obj_end(&w);
	} else {
		json_null(&w);
	}
	json_key(&w, "unconfirmed");
	if (st->unconf_on_disk) {
		json_obj_begin(&w);
		key_bool(&w, "readable", st->unconf_seq != 0);
		key_u64(&w, "sequence", st->unconf_seq);
		key_u64(&w, "records", st->unconf_records);
		key_time(&w, "since", st->unconf_at);
		json_obj_end(&w);
	} else {
		json_null(&w);
	}
	json_key(&w, "tables_allowed");
	json_arr_begin(&w);
	for (int t = 0; t < SNAP_NETNS; t++)
		if (tables & (1u << t))
			json_str(&w, snap_table_names[t]);
	json_arr_end(&w);
	key_str(&w, "namespaces", cfg->set.all_namespaces ? "all" : "host");
	json_key(&w, "commands");
	json_obj_begin(&w);
	if (st->have_dir) {
		struct cmdlog cl;
		char cerr[512];
		bool bad = cmdlog_load(&cl, &st->sd, false, cerr, sizeof(cerr)) < 0 || cl.quarantined;

		key_bool(&w, "journal_ok", !bad);
		key_u64(&w, "received", bad ? 0 : cl.n);
		key_u64(&w, "results_pending", bad ? 0 : cmdlog_pending_results(&cl));
		cmdlog_free(&cl);
	}
	key_bool(&w, "policy_allows", as->policy.commands);
	if ((mf = open_memstream(&ex, &exn))) {
		exec_print_status(o->config_path, as->policy.commands, mf);
		fclose(mf);
		if (exn && ex[exn - 1] == '\n')
			ex[exn - 1] = 0;
	}
	key_sn(&w, "execution", ex);
	free(ex);
	json_obj_end(&w);
	json_obj_end(&w);
	if (json_finish(&w) < 0 || json_write_all(1, "\n", 1) < 0)
		return RUN_IOERR;
	return RUN_OK;
}

enum run_outcome run_status(const struct cli_opts *o, struct config *cfg)
{
	struct run_state st;
	const struct agent_status *as;
	enum run_outcome out;
	long long bytes;
	uint64_t total = 0;
	char key[300] = "", err[256];

	out = run_state_load(&cfg->set, false, &st);
	if (out != RUN_OK) {
		run_state_free(&st);
		return out;
	}
	as = &st.as;
	if (st.have_dir && state_read_key(&st.sd, key, sizeof(key), err, sizeof(err)) != STATE_OK)
		key[0] = 0;
	if (o->json) {
		out = status_json(o, cfg, &st, key[0] != 0);
		explicit_bzero(key, sizeof(key));
		run_state_free(&st);
		return out;
	}
	printf("state directory:  %s%s\n", cfg->set.state_dir, st.have_dir ? "" : " (does not exist)");
	printf("identity:         %s\n", st.have_identity ? st.uuid : "none (not enrolled)");
	printf("server:           %s\n", *cfg->set.server_url ? cfg->set.server_url : "(not configured)");
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
	{
		struct next_checkin n = next_checkin(&st);

		if (n.at)
			print_time("next check-in:", n.at);
		else
			printf("next check-in:    the timer's next run\n");
		if (n.slot >= 0)
			printf("check-in slot:    %lds into each %us interval (from the %s)\n", n.slot,
			       as->policy.interval, n.from_id ? "server's agent id" : "agent identity");
		printf("jitter offset:    %us (when a check-in is due at the timer's run)\n", n.jitter);
	}
	if (as->last_error[0]) {
		print_time("last error at:", as->last_error_at);
		printf("last error:       %s\n", as->last_error);
	}
	if (st.have_acked) {
		print_time("last accepted:", as->last_checkin > st.acked.accepted_at ? as->last_checkin :
								    st.acked.accepted_at);
		printf("sequence number:  %llu\n", (unsigned long long)st.base_seq);
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
	if (st.unconf_on_disk && st.unconf_seq) {
		print_time("unconfirmed since:", st.unconf_at);
		printf("unconfirmed:      sequence %llu, %u record%s (no reply came; the next report "
		       "sends them again)\n",
		       (unsigned long long)st.unconf_seq, st.unconf_records,
		       st.unconf_records == 1 ? "" : "s");
	} else if (st.unconf_on_disk) {
		printf("unconfirmed:      unreadable (the next report is a full snapshot)\n");
	}
	if (st.have_dir) {
		struct cmdlog cl;
		char cerr[512];

		if (cmdlog_load(&cl, &st.sd, false, cerr, sizeof(cerr)) < 0 || cl.quarantined)
			printf("commands:         %s\n", cerr);
		else if (cl.n)
			printf("commands:         %u received, %u result%s waiting for the next check-in\n",
			       cl.n, cmdlog_pending_results(&cl),
			       cmdlog_pending_results(&cl) == 1 ? "" : "s");
		cmdlog_free(&cl);
	}
	exec_print_status(o->config_path, as->policy.commands, stdout);
	run_state_free(&st);
	return fflush(stdout) == 0 ? RUN_OK : RUN_IOERR;
}
