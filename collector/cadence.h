/*
 * cadence: when the timer's run checks in, as pure functions of the clock, the agent's record and
 * the policy, so they can be tested with any clock. Each agent has a slot in the policy interval
 * (a stable offset from its identity): a check-in is due at the first slot more than two minutes
 * after the last accepted one, so a fleet that booted together, or came back together after an
 * outage, spreads over the interval within one interval. An interval at or below the timer's 15
 * minutes makes every run due once it has passed. After a temporary failure the next attempts back off
 * (15 minutes doubling up to the interval, a quarter less and a per-agent share of half of it,
 * or as long as a Retry-After asks, at most 24 hours). The host's clock is not trusted to move
 * forward: a last check-in or a next attempt further in the future than any interval or backoff
 * could put it means the clock went back, and it no longer holds a check-in up.
 */
#ifndef NETINV_CADENCE_H
#define NETINV_CADENCE_H

#include <stdbool.h>
#include <stdint.h>

#define CADENCE_RETRY_AFTER_MAX 86400u /* seconds: the longest Retry-After honoured */
#define CADENCE_BACKOFF_BASE 900u      /* the first backoff */

enum cadence_verdict {
	CADENCE_DUE,
	CADENCE_NOT_DUE,     /* *wait: seconds until due */
	CADENCE_BACKING_OFF, /* *wait: seconds until the next attempt */
};

/* now: the host's clock; last_checkin, last_failure (when the failure that set next_attempt
 * happened), next_attempt: unix seconds from the agent's record (0 = none); interval: the policy's.
 * *clock_back is set when a recorded time lies in the future (beyond a few minutes' step): the
 * clock went back since, and that record holds nothing up. */
enum cadence_verdict cadence_decide(int64_t now, int64_t last_checkin, int64_t last_failure,
				    int64_t next_attempt, unsigned interval, const char *uuid,
				    int64_t *wait, bool *clock_back);
/* When the check-in after one at last is due (unix seconds). */
int64_t cadence_next_due(int64_t last, unsigned interval, const char *uuid);
#define CADENCE_TIMER_PERIOD 900 /* netinv.timer's OnUnitInactiveSec= */
/* The delay before the next attempt after the failures-th consecutive temporary failure (>= 1),
 * with the server's Retry-After (seconds, <= 0 = none; capped, *capped set when it was). */
uint64_t cadence_backoff(unsigned failures, unsigned interval, const char *uuid, long retry_after,
			 bool *capped);
/* A per-agent offset in [0, span]: stable for an agent, spread across a fleet (clones share a
 * machine-id, not an agent identity). */
unsigned cadence_offset(const char *uuid, unsigned span);

#endif
