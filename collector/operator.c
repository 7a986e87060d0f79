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

enum run_outcome run_check_config(const struct cli_opts *o, struct config *cfg)
{
	char err[512];

	(void)o;
	if (*cfg->set.enrollment_key_file && !config_enrollment_key(cfg, err, sizeof(err))) {
		config_print(cfg, stdout);
		log_error("%s", err);
		return RUN_CONFIG;
	}
	config_print(cfg, stdout);
	if (!*cfg->set.server_url)
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

	out = run_state_load(&cfg->set, false, &st);
	if (out != RUN_OK) {
		run_state_free(&st);
		return out;
	}
	as = &st.as;
	if (st.have_dir && state_read_key(&st.sd, key, sizeof(key), err, sizeof(err)) != STATE_OK)
		key[0] = 0;
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
