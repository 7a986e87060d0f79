/*
 * agent: the run the timer starts, against the fleet server. Cadence (this agent's slot in the
 * policy interval), backoff after temporary failures, the wait for the slot or the per-agent jitter
 * offset (with the state directory unlocked); register with the enrollment key until approved, then
 * check in (checkin.c: the parts loop). The failure record, the learnt policy and the status file
 * are kept here.
 */
#ifndef NETINV_AGENT_H
#define NETINV_AGENT_H

#include "harvest.h"
#include "exec/exec.h"
#include "../report/proto.h"

#include <stdbool.h>
#include <stdint.h>

struct agent {
	const struct cli_opts *o;
	struct config *cfg;
	const struct settings *set; /* &cfg->set */
	struct run_state st; /* st.as is the agent's status, kept up to date and saved */
	char key[257];
	bool have_key;
	struct http *http;
	struct cmdlog cmds;   /* server-sent commands and their results */
	bool cmds_broken;     /* the journal is unusable this run: commands are refused */
	uint64_t cmds_us;     /* time this run spent running commands */
	char cmds_err[512];
	struct exec_ctx exec;      /* the command module's gate and allowlist, read once */
};

/* The outcome of a server call as the run's. */
enum run_outcome agent_outcome(enum proto_outcome p);
bool agent_save_status(struct agent *a);
/* Record a failure; temporary ones back off exponentially (15 min doubling, capped at the policy
 * interval, spread by the agent's offset), at least as long as a Retry-After asked. */
void agent_record_failure(struct agent *a, const struct proto_reply *r);
/* What a successful reply teaches: the policy, the server's time, the peer, the agent's id. */
void agent_learn(struct agent *a, const struct proto_reply *r);
int agent_http_open(struct agent *a);
/* Collect, then send the delta in as many parts as the limits need; after each accepted part the
 * acknowledged state advances by exactly what that part carried. */
enum run_outcome agent_checkin(struct agent *a);

#endif
