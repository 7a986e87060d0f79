#include "cadence.h"
#include "../delta/hash.h"

#include <stdio.h>
#include <string.h>

/* How far ahead a recorded time can honestly be: the longest backoff or Retry-After, plus a
 * margin for a clock that was stepped a little. */
#define CADENCE_SLACK 300

unsigned cadence_offset(const char *uuid, unsigned span)
{
	return span ? (unsigned)(hash64(uuid, strlen(uuid), 0x6a6974746572ull) % ((uint64_t)span + 1)) : 0;
}

uint64_t cadence_backoff(unsigned failures, unsigned interval, const char *uuid, long retry_after,
			 bool *capped)
{
	uint64_t delay = CADENCE_BACKOFF_BASE, cap = interval;

	*capped = false;
	for (unsigned i = 1; i < failures && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	delay -= delay / 4;
	delay += cadence_offset(uuid, (unsigned)(delay / 2));
	if (retry_after > 0) {
		uint64_t ra = (uint64_t)retry_after;

		/* a server must not be able to silence a fleet for a week */
		if (ra > CADENCE_RETRY_AFTER_MAX) {
			ra = CADENCE_RETRY_AFTER_MAX;
			*capped = true;
		}
		if (ra > delay)
			delay = ra;
	}
	return delay;
}

/* 2^64 / golden ratio: n * CADENCE_GOLDEN (mod 2^64) is the fraction n / phi (mod 1), 64 bits of it */
#define CADENCE_GOLDEN 0x9e3779b97f4a7c15ull

/* The server's agent id as a number: decimal digits only, 1 .. 2^63 (0: not a number). */
static uint64_t numeric_id(const char *id)
{
	uint64_t n = 0;

	if (!id || !*id)
		return 0;
	for (const char *p = id; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX / 2 - 9) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	return n;
}

unsigned cadence_slot(unsigned interval, const struct cadence_agent *who, bool *from_id)
{
	uint64_t n = numeric_id(who->agent_id);
	char salt[80];

	*from_id = n != 0;
	if (n) /* the interval times the fractional part of n / phi */
		return (unsigned)(((unsigned __int128)(n * CADENCE_GOLDEN) * interval) >> 64);
	snprintf(salt, sizeof(salt), "slot:%.64s", who->uuid ? who->uuid : "");
	return cadence_offset(salt, interval ? interval - 1 : 0);
}

int64_t cadence_next_due(int64_t last, unsigned interval, const struct cadence_agent *who)
{
	int64_t slot, base, t;
	bool from_id;

	/* at or below the timer's period: every run, once the interval has passed */
	if (interval <= CADENCE_TIMER_PERIOD)
		return last + (int64_t)interval;
	slot = (int64_t)cadence_slot(interval, who, &from_id);
	/* the first slot more than a timer period after the last check-in: a first check-in, or one
	 * made a minute before its slot or by a retry after an outage, is not followed by the slot
	 * right after it (after an outage that would double the fleet's load for an interval) */
	base = last + CADENCE_TIMER_PERIOD;
	t = base + (((slot - base) % (int64_t)interval) + (int64_t)interval) % (int64_t)interval;
	if (t <= base)
		t += interval;
	return t;
}

enum cadence_verdict cadence_decide(int64_t now, int64_t last_checkin, int64_t last_failure,
				    int64_t next_attempt, unsigned interval,
				    const struct cadence_agent *who, bool waits, int64_t *wait,
				    bool *clock_back)
{
	int64_t longest = (int64_t)(interval > CADENCE_RETRY_AFTER_MAX ? interval : CADENCE_RETRY_AFTER_MAX);
	int64_t due;

	*wait = 0;
	*clock_back = false;
	if (next_attempt > now) {
		/* a failure "in the future", or a wait no backoff is that long: the clock went back */
		if (last_failure > now + CADENCE_SLACK || next_attempt - now > longest + CADENCE_SLACK) {
			*clock_back = true;
		} else {
			*wait = next_attempt - now;
			return CADENCE_BACKING_OFF;
		}
	}
	if (!last_checkin)
		return CADENCE_DUE;
	if (last_checkin > now + CADENCE_SLACK) {
		*clock_back = true; /* checked in "in the future": the clock went back */
		return CADENCE_DUE;
	}
	due = cadence_next_due(last_checkin, interval, who);
	if (now >= due)
		return CADENCE_DUE;
	*wait = due - now;
	if (waits && interval > CADENCE_TIMER_PERIOD && *wait <= CADENCE_SLOT_WAIT)
		return CADENCE_AT_SLOT;
	if (*wait <= 60) { /* a timer tick a minute early still counts */
		*wait = 0;
		return CADENCE_DUE;
	}
	return CADENCE_NOT_DUE;
}
