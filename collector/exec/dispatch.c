#include "dispatch.h"
#include "../log.h"
#include "../../delta/snapshot.h"
#include "../../report/proto.h"

#include <stdio.h>
#include <string.h>

void commands_write_results(struct json_w *w, void *ctx)
{
	struct results_ctx *rc = ctx;

	rc->n = cmdlog_write_results(w, rc->l, rc->limit, rc->incl);
}

void commands_prepare(struct agent *a)
{
	const char *problems = exec_ctx_prepare(&a->exec, a->o->config_path, &a->st.sd);

	if (problems && *problems)
		log_error("%s", problems);
}

void commands_handle(struct agent *a, const struct proto_reply *r)
{
	if (r->cmds_ignored)
		log_warn("ignored %u command%s in the server's reply (no usable id, or more than %d)",
			 r->cmds_ignored, r->cmds_ignored == 1 ? "" : "s", PROTO_MAX_COMMANDS);
	if (!r->n_cmds)
		return;
	commands_prepare(a);
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
		{
			uint64_t t0 = snap_mono_us();

			exec_ctx_run(&a->exec, r, c, e, &a->st.sd);
			a->cmds_us += snap_mono_us() - t0;
		}
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
