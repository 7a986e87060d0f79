/*
 * cadence: when the timer's run checks in, as pure functions of the clock, the agent's record and
 * the policy, so they can be tested with any clock. Each agent has a slot in the policy interval: a
 * check-in is due at the first slot more than one timer period (15 minutes) after the last accepted
 * one, so a fleet that booted together, or came back together after an outage, spreads over the
 * interval within one interval. The slot comes from the server's agent id when that is a number
 * (servers number agents as they register; the golden-ratio sequence places any run of consecutive
 * numbers evenly over the interval, with gaps of at most three lengths), else from the agent's
 * identity (a random place). A timer's run that finds its slot before the timer's next run waits
 * for it, so check-ins land on their slots, not wherever the timer's ticks fall. An interval at or
 * below the timer's 15 minutes makes every run due once it has passed. After a temporary failure
 * the next attempts back off (15 minutes doubling up to the interval, a quarter less and a
 * per-agent share of half of it, or as long as a Retry-After asks, at most 24 hours). The host's
 * clock is not trusted to move forward: a last check-in or a next attempt further in the future
 * than any interval or backoff could put it means the clock went back, and it no longer holds a
 * check-in up.
 */
#ifndef NETINV_CADENCE_H
#define NETINV_CADENCE_H

#include <stdbool.h>
#include <stdint.h>

#define CADENCE_RETRY_AFTER_MAX 86400u /* seconds: the longest Retry-After honoured */
#define CADENCE_BACKOFF_BASE 900u      /* the first backoff */
#define CADENCE_TIMER_PERIOD 900       /* netinv.timer's OnUnitInactiveSec= */
/* The longest wait for a slot: the timer's next run starts at least a period after this one ends. */
#define CADENCE_SLOT_WAIT (CADENCE_TIMER_PERIOD + 60)

/* Who the agent is, for its slot and offsets. */
struct cadence_agent {
	const char *agent_id; /* the server's id for it ("" or NULL before registration) */
	const char *uuid;     /* its identity */
};

enum cadence_verdict {
	CADENCE_DUE,
	CADENCE_AT_SLOT,     /* *wait: seconds until this agent's slot, at most CADENCE_SLOT_WAIT */
	CADENCE_NOT_DUE,     /* *wait: seconds until due */
	CADENCE_BACKING_OFF, /* *wait: seconds until the next attempt */
};

/* now: the host's clock; last_checkin, last_failure (when the failure that set next_attempt
 * happened), next_attempt: unix seconds from the agent's record (0 = none); interval: the policy's.
 * waits: the run can wait for its slot (a timer's run): a slot at most CADENCE_SLOT_WAIT ahead
 * gives CADENCE_AT_SLOT; otherwise a slot at most a minute ahead (a timer's tick a little early)
 * is due now. *clock_back is set when a recorded time lies in the future (beyond a few minutes'
 * step): the clock went back since, and that record holds nothing up. */
enum cadence_verdict cadence_decide(int64_t now, int64_t last_checkin, int64_t last_failure,
				    int64_t next_attempt, unsigned interval,
				    const struct cadence_agent *who, bool waits, int64_t *wait,
				    bool *clock_back);
/* When the check-in after one at last is due (unix seconds): this agent's first slot more than a
 * timer period after it, or last + interval when the interval is at most the timer's period. */
int64_t cadence_next_due(int64_t last, unsigned interval, const struct cadence_agent *who);
/* The agent's slot, seconds into each interval counted from the epoch (interval > 0); *from_id set
 * when it came from the server's agent id. */
unsigned cadence_slot(unsigned interval, const struct cadence_agent *who, bool *from_id);
/* The delay before the next attempt after the failures-th consecutive temporary failure (>= 1),
 * with the server's Retry-After (seconds, <= 0 = none; capped, *capped set when it was). */
uint64_t cadence_backoff(unsigned failures, unsigned interval, const char *uuid, long retry_after,
			 bool *capped);
/* A per-agent offset in [0, span]: stable for an agent, spread across a fleet (clones share a
 * machine-id, not an agent identity). */
unsigned cadence_offset(const char *uuid, unsigned span);

#endif
