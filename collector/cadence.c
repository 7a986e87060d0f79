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

int64_t cadence_next_due(int64_t last, unsigned interval, const char *uuid)
{
	char salt[80];
	int64_t slot, base, t;

	/* at or below the timer's period: every run, once the interval has passed */
	if (interval <= CADENCE_TIMER_PERIOD)
		return last + (int64_t)interval - 60;
	snprintf(salt, sizeof(salt), "slot:%.64s", uuid);
	slot = (int64_t)cadence_offset(salt, interval - 1);
	/* the first slot more than two minutes after the last check-in (a check-in made a minute
	 * before its slot is not due again at that slot) */
	base = last + 120;
	t = base + (((slot - base) % (int64_t)interval) + (int64_t)interval) % (int64_t)interval;
	if (t <= base)
		t += interval;
	return t - 60; /* a timer tick a minute early still counts */
}

enum cadence_verdict cadence_decide(int64_t now, int64_t last_checkin, int64_t last_failure,
				    int64_t next_attempt, unsigned interval, const char *uuid,
				    int64_t *wait, bool *clock_back)
{
	int64_t longest = (int64_t)(interval > CADENCE_RETRY_AFTER_MAX ? interval : CADENCE_RETRY_AFTER_MAX);

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
	{
		int64_t due = cadence_next_due(last_checkin, interval, uuid);

		if (now < due) {
			*wait = due - now;
			return CADENCE_NOT_DUE;
		}
	}
	return CADENCE_DUE;
}
