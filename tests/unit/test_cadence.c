/* The timer's cadence (collector/cadence.c), netinv's own functions under a faked clock:
 *  - one agent whose timer fires every 15 minutes of true time, whose host clock is off by a
 *    constant (a day ahead of the server, a day behind, years behind) or jumps between runs
 *    (backwards by hours or years, forwards by years, also while backing off after an outage):
 *    gaps between check-ins never exceed one policy interval plus one timer period (and two
 *    minutes of slack), and netinv never checks in on every tick;
 *  - a fleet of 1,000 agents that booted within the same 15 minutes, over two days with a
 *    two-hour outage: arrivals spread over the interval (with the server's ids handed out in order,
 *    every minute within 1.5x the mean at steady state; per 5 minutes whatever the ids) and the
 *    recovery after the outage peaks under 2x the steady rate. */
#include "testutil.h"
#include "../../collector/cadence.h"

#define TICK 900
#define INTERVAL 3600
#define DAY 86400LL
#define YEAR (365 * DAY)

#define OUTAGE_END (1800000000LL + 10 * TICK + 7200)

struct agent_sim {
	int64_t last_checkin, last_failure, next_attempt; /* host-clock values, as agent.status holds */
	unsigned failures;
	int checkins;
	int64_t last_true;       /* true time of the last check-in */
	int64_t max_gap;         /* the longest true-time gap between check-ins */
	int64_t min_gap;
	int short_gaps;          /* check-ins sooner than the interval after the one before */
	int64_t first_after;     /* true time of the first check-in after OUTAGE_END */
	int clock_back;
};

typedef int64_t (*skew_fn)(int64_t t);
typedef bool (*up_fn)(int64_t t);

static const struct cadence_agent test_agent = { .agent_id = "42", .uuid = "test-agent" };

static bool always_up(int64_t t)
{
	(void)t;
	return true;
}

/* One agent over `ticks` timer runs; the server answers when up(t). */
static void run(struct agent_sim *a, skew_fn skew, up_fn up, int ticks, int64_t t0)
{
	memset(a, 0, sizeof(*a));
	a->min_gap = INT64_MAX;
	for (int k = 0; k < ticks; k++) {
		int64_t t = t0 + (int64_t)k * TICK, now = t + skew(t), wait;
		bool back;
		enum cadence_verdict v = cadence_decide(now, a->last_checkin, a->last_failure,
							a->next_attempt, INTERVAL, &test_agent, true,
							&wait, &back);

		a->clock_back += back;
		if (v == CADENCE_AT_SLOT) { /* the run waits for its slot */
			assert_true(wait > 0 && wait <= CADENCE_SLOT_WAIT);
			t += wait;
			now += wait;
		} else if (v != CADENCE_DUE) {
			continue;
		}
		if (!up(t)) {
			bool capped;

			a->failures++;
			a->last_failure = now;
			a->next_attempt = now + (int64_t)cadence_backoff(a->failures, INTERVAL,
									 "7c9e6679-7425-40de-944b-e07fc1f90ae7",
									 0, &capped);
			continue;
		}
		if (a->checkins) {
			int64_t gap = t - a->last_true;

			if (gap > a->max_gap)
				a->max_gap = gap;
			if (gap < a->min_gap)
				a->min_gap = gap;
			a->short_gaps += gap < INTERVAL - 60;
		}
		a->checkins++;
		if (!a->first_after && t > OUTAGE_END)
			a->first_after = t;
		a->last_true = t;
		a->last_checkin = now;
		a->failures = 0;
		a->next_attempt = 0;
	}
}

static int64_t skew_none(int64_t t)
{
	(void)t;
	return 0;
}
static int64_t skew_day_ahead(int64_t t)
{
	(void)t;
	return DAY;
}
static int64_t skew_day_behind(int64_t t)
{
	(void)t;
	return -DAY;
}
static int64_t skew_years_behind(int64_t t)
{
	(void)t;
	return -5 * YEAR;
}
#define T0 1800000000LL
#define JUMP (T0 + 20 * TICK + 123)
/* the clock is reset: years back (a dead RTC battery), hours back, years forward */
static int64_t skew_jump_years_back(int64_t t)
{
	return t < JUMP ? 0 : -7 * YEAR;
}
static int64_t skew_jump_hours_back(int64_t t)
{
	return t < JUMP ? 0 : -5 * 3600;
}
static int64_t skew_jump_years_ahead(int64_t t)
{
	return t < JUMP ? 0 : 3 * YEAR;
}
/* an outage of two hours, and the clock back by a day in the middle of it */
static bool outage(int64_t t)
{
	return t < T0 + 10 * TICK || t > T0 + 10 * TICK + 7200;
}
static int64_t skew_back_in_outage(int64_t t)
{
	return t < T0 + 11 * TICK ? 0 : -DAY;
}

/* Every interval (4 ticks) once: never a stall past interval + tick, and early at most `early`
 * times (the one check-in the run right after a clock reset makes), never on every tick. */
static void check(const struct agent_sim *a, int ticks, int early, const char *what)
{
	if (a->max_gap > INTERVAL + TICK + 120 || a->short_gaps > early || a->min_gap < TICK ||
	    a->checkins < ticks / 4 - 2 || a->checkins > ticks / 4 + 2)
		fail_msg("%s: %d check-ins in %d ticks, gaps %lld..%lld s, %d early", what, a->checkins,
			 ticks, (long long)a->min_gap, (long long)a->max_gap, a->short_gaps);
}

static void test_skewed_clocks(void **state)
{
	static const struct {
		skew_fn f;
		const char *what;
	} cases[] = { { skew_none, "true clock" },
		      { skew_day_ahead, "a day ahead of the server" },
		      { skew_day_behind, "a day behind the server" },
		      { skew_years_behind, "five years behind" } };
	struct agent_sim a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&a, cases[i].f, always_up, 200, T0);
		check(&a, 200, 1, cases[i].what); /* the first slot after the first check-in */
		assert_int_equal(a.clock_back, 0);
	}
}

static void test_clock_jumps(void **state)
{
	static const struct {
		skew_fn f;
		const char *what;
		int back;
	} cases[] = { { skew_jump_years_back, "reset seven years back", 1 },
		      { skew_jump_hours_back, "stepped five hours back", 1 },
		      { skew_jump_years_ahead, "stepped three years ahead", 0 } };
	struct agent_sim a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&a, cases[i].f, always_up, 200, T0);
		/* the first slot, the reset, and the slot after it */
		check(&a, 200, 3, cases[i].what);
		/* said once (the first run after the jump), not on every run */
		assert_int_equal(a.clock_back, cases[i].back);
	}
}

static void test_outage_and_jump_while_backing_off(void **state)
{
	struct agent_sim a;

	(void)state;
	/* an outage: backed off, then back within one backoff step of the server's return (the
	 * longest: the interval, a quarter less, plus up to half of that) and one timer period */
	run(&a, skew_none, outage, 200, T0);
	assert_true(a.first_after > OUTAGE_END);
	assert_true(a.first_after - OUTAGE_END <= INTERVAL * 3 / 4 * 3 / 2 + TICK + 30);
	assert_int_equal(a.failures, 0);
	/* the clock back a day while backing off: the backoff no longer holds anything up */
	run(&a, skew_back_in_outage, outage, 200, T0);
	assert_true(a.first_after > OUTAGE_END);
	assert_true(a.first_after - OUTAGE_END <= INTERVAL * 3 / 4 * 3 / 2 + TICK + 30);
	assert_true(a.clock_back >= 1);
	assert_true(a.checkins >= 200 / 4 - 3);
}

static void test_backoff_and_offset(void **state)
{
	bool capped;

	(void)state;
	/* 15 minutes doubling up to the interval, a quarter less plus a per-agent share of half */
	for (unsigned f = 1; f <= 6; f++) {
		uint64_t d = cadence_backoff(f, INTERVAL, "a", 0, &capped), base = 900;

		for (unsigned i = 1; i < f && base < INTERVAL; i++)
			base *= 2;
		if (base > INTERVAL)
			base = INTERVAL;
		assert_true(d >= base - base / 4 && d <= base - base / 4 + (base - base / 4) / 2);
		assert_false(capped);
	}
	/* Retry-After: honoured when longer, capped at a day */
	assert_int_equal(cadence_backoff(1, INTERVAL, "a", 5000, &capped), 5000);
	assert_int_equal(cadence_backoff(1, INTERVAL, "a", 7 * DAY, &capped), DAY);
	assert_true(capped);
	/* the offset: stable for an agent, within the span */
	assert_int_equal(cadence_offset("x", 300), cadence_offset("x", 300));
	assert_true(cadence_offset("y", 300) <= 300);
	assert_int_equal(cadence_offset("y", 0), 0);
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static void test_slots(void **state)
{
	struct cadence_agent who = { .uuid = "7c9e6679-7425-40de-944b-e07fc1f90ae7" };
	static const char *const not_numbers[] = { "", "0", "12a", "-5", " 7", "1.5", "abc",
						   "99999999999999999999" };
	unsigned slots[100], id_slot;
	char id[24];
	bool from_id;
	int64_t wait;
	bool back;

	(void)state;
	/* the server's numeric id: the interval times the fractional part of id / phi */
	who.agent_id = "1";
	assert_int_equal(cadence_slot(INTERVAL, &who, &from_id), 2224); /* 0.618034 * 3600 */
	assert_true(from_id);
	who.agent_id = "2";
	assert_int_equal(cadence_slot(INTERVAL, &who, &from_id), 849); /* 0.236068 * 3600 */
	id_slot = cadence_slot(INTERVAL, &who, &from_id);
	/* anything else: a place from the identity, the same one whatever the id says */
	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
		unsigned sl;

		who.agent_id = not_numbers[i];
		sl = cadence_slot(INTERVAL, &who, &from_id);
		assert_false(from_id);
		assert_true(sl < INTERVAL);
		who.agent_id = NULL;
		assert_int_equal(cadence_slot(INTERVAL, &who, &from_id), sl);
	}
	assert_int_not_equal(cadence_slot(INTERVAL, &who, &from_id), id_slot);
	/* 100 consecutive ids: spread over the interval, no gap over twice the mean */
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "%d", 1000 + i);
		who.agent_id = id;
		slots[i] = cadence_slot(INTERVAL, &who, &from_id);
	}
	qsort(slots, 100, sizeof(slots[0]), cmp_u);
	for (int i = 0; i < 100; i++) {
		unsigned gap = i ? slots[i] - slots[i - 1] : slots[0] + INTERVAL - slots[99];

		assert_true(gap <= 2 * INTERVAL / 100);
	}
	/* a timer's run waits for a slot before the timer's next run; other runs do not */
	who.agent_id = "1"; /* slot 2224 s into each hour */
	{
		int64_t hour = T0 - T0 % INTERVAL, last = hour - INTERVAL + 2224;

		assert_int_equal(cadence_next_due(last, INTERVAL, &who), hour + 2224);
		assert_int_equal(cadence_decide(hour + 2224 - 900, last, 0, 0, INTERVAL, &who, true, &wait,
						&back), CADENCE_AT_SLOT);
		assert_int_equal(wait, 900);
		assert_int_equal(cadence_decide(hour + 2224 - 900, last, 0, 0, INTERVAL, &who, false,
						&wait, &back), CADENCE_NOT_DUE);
		assert_int_equal(wait, 900);
		/* beyond the timer's next run: not due */
		assert_int_equal(cadence_decide(hour + 2224 - CADENCE_SLOT_WAIT - 1, last, 0, 0, INTERVAL,
						&who, true, &wait, &back), CADENCE_NOT_DUE);
		/* a tick a minute early: due now for a run that does not wait */
		assert_int_equal(cadence_decide(hour + 2224 - 60, last, 0, 0, INTERVAL, &who, false, &wait,
						&back), CADENCE_DUE);
		assert_int_equal(wait, 0);
		assert_int_equal(cadence_decide(hour + 2224 - 60, last, 0, 0, INTERVAL, &who, true, &wait,
						&back), CADENCE_AT_SLOT);
		assert_int_equal(wait, 60);
		/* a check-in less than a timer period before the slot is not due again at it */
		assert_int_equal(cadence_next_due(hour + 2224 - 899, INTERVAL, &who), hour + 2224 + INTERVAL);
		assert_int_equal(cadence_next_due(hour + 2224 - 901, INTERVAL, &who), hour + 2224);
		/* an interval within the timer's period has no slot: due every run once it has passed */
		assert_int_equal(cadence_next_due(last, 600, &who), last + 600);
		assert_int_equal(cadence_decide(last + 550, last, 0, 0, 600, &who, true, &wait, &back),
				 CADENCE_DUE);
		assert_int_equal(cadence_decide(last + 500, last, 0, 0, 600, &who, true, &wait, &back),
				 CADENCE_NOT_DUE);
		/* backing off comes first */
		assert_int_equal(cadence_decide(hour + 2224 - 60, last, hour, hour + 2300, INTERVAL, &who,
						true, &wait, &back), CADENCE_BACKING_OFF);
	}
}

/* Deterministic pseudo-random numbers for the fleet (a fixed seed: a failure reproduces). */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

#define FLEET 1000
#define HOURS 48
#define OUTAGE_FROM (24 * 3600)
#define OUTAGE_TO (26 * 3600)
#define JITTER 300

enum fleet_ids {
	IDS_IN_ORDER, /* the server numbered the agents 1..1000 as they registered */
	IDS_SPARSE,   /* 1,000 of the ids 1..1500: a third of the agents registered were removed */
	IDS_NONE,     /* no numeric id: slots from the identities */
};

struct fleet_figures {
	double steady, peak1, peak5, recov5; /* per minute; the peaks as ratios to the mean */
	uint32_t per15[HOURS * 4];
};

/* 1,000 agents that booted within the same 15 minutes, each with the shipped timer
 * (OnUnitInactiveSec=15min after the run ends, RandomizedDelaySec=30s), the policy's interval and
 * jitter, and netinv's own decisions (cadence_decide: waits for the slot, cadence_offset: jitter,
 * cadence_backoff), over 48 hours with the server down from hour 24 to 26. */
static void fleet(enum fleet_ids ids, struct fleet_figures *f)
{
	static uint32_t per_min[HOURS * 60 + 120];
	int nsteady = 0, next_id = 0;

	memset(per_min, 0, sizeof(per_min));
	memset(f, 0, sizeof(*f));
	rng = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < FLEET; i++) {
		char uuid[40], id[24] = "";
		struct cadence_agent who = { .agent_id = id, .uuid = uuid };
		int64_t t = rnd(TICK), last = 0, failure = 0, next = 0;
		unsigned failures = 0;

		snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-%012x", (unsigned)i * 2654435761u, i);
		if (ids == IDS_IN_ORDER) {
			snprintf(id, sizeof(id), "%d", i + 1);
		} else if (ids == IDS_SPARSE) {
			/* every third id, at random, belongs to an agent that was removed */
			do
				next_id++;
			while (rnd(3) == 0 && FLEET - i < FLEET * 3 / 2 - next_id);
			snprintf(id, sizeof(id), "%d", next_id);
		}
		while (t < HOURS * 3600) {
			int64_t wait, end = t;
			bool back;
			enum cadence_verdict v = cadence_decide(t, last, failure, next, INTERVAL, &who, true,
								&wait, &back);

			if (v == CADENCE_DUE || v == CADENCE_AT_SLOT) {
				/* the wait for the slot, or (due at the tick) the policy's jitter */
				int64_t at = t + (v == CADENCE_AT_SLOT ? wait : cadence_offset(uuid, JITTER));
				bool capped;

				if (at >= OUTAGE_FROM && at < OUTAGE_TO) {
					failure = at;
					next = at + (int64_t)cadence_backoff(++failures, INTERVAL, uuid, 0,
									     &capped);
				} else {
					per_min[at / 60]++;
					last = at;
					failures = 0;
					next = 0;
				}
				end = at + 1 + rnd(4); /* the collection and the check-in */
			}
			t = end + TICK + rnd(31);
		}
	}
	/* steady state: hours 6 to 23 */
	for (int m = 6 * 60; m < 23 * 60; m++) {
		f->steady += per_min[m];
		nsteady++;
		if (per_min[m] > f->peak1)
			f->peak1 = per_min[m];
	}
	f->steady /= nsteady;
	for (int m = 6 * 60; m + 5 <= 23 * 60; m += 5) {
		double s = 0;

		for (int k = 0; k < 5; k++)
			s += per_min[m + k];
		if (s > f->peak5)
			f->peak5 = s;
	}
	for (int m = OUTAGE_TO / 60; m + 5 <= OUTAGE_TO / 60 + 3 * 60; m += 5) {
		double s = 0;

		for (int k = 0; k < 5; k++)
			s += per_min[m + k];
		if (s > f->recov5)
			f->recov5 = s;
	}
	f->peak1 /= f->steady;
	f->peak5 /= 5 * f->steady;
	f->recov5 /= 5 * f->steady;
	for (int m = 0; m < HOURS * 60; m++)
		f->per15[m / 15] += per_min[m];
}

static void test_fleet(void **state)
{
	static const char *const what[] = { "ids in order", "sparse ids", "no numeric id" };
	struct fleet_figures f[3];

	(void)state;
	for (int k = 0; k < 3; k++) {
		fleet((enum fleet_ids)k, &f[k]);
		print_message("fleet of %d (%s): %.1f check-ins a minute at steady state; per minute peak "
			      "%.2fx; per 5 minutes peak %.2fx; after the 2-hour outage, per 5 minutes peak "
			      "%.2fx\n",
			      FLEET, what[k], f[k].steady, f[k].peak1, f[k].peak5, f[k].recov5);
		assert_true(f[k].steady > FLEET / 60.0 * 0.95 && f[k].steady < FLEET / 60.0 * 1.05);
		/* the recovery after the outage: under twice the steady rate, whatever the ids */
		assert_true(f[k].recov5 <= 2.0);
		assert_true(f[k].peak5 <= 1.5);
	}
	/* ids the server handed out in order: every minute within 1.5x of the mean (independent
	 * slots cannot do that: random arrivals at 17 a minute give a busiest minute near 1.6x) */
	assert_true(f[IDS_IN_ORDER].peak1 <= 1.5);
	assert_true(f[IDS_IN_ORDER].peak1 < f[IDS_NONE].peak1);
	assert_true(f[IDS_SPARSE].peak1 <= 1.6);
	if (getenv("NETINV_FLEET_HISTOGRAM")) /* docs/PERFORMANCE.md: arrivals per 15 minutes */
		for (int q = 20 * 4; q < 32 * 4; q++)
			print_message("%02d:%02d %u %u %u\n", q / 4, q % 4 * 15, f[0].per15[q], f[1].per15[q],
				      f[2].per15[q]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skewed_clocks),
		cmocka_unit_test(test_clock_jumps),
		cmocka_unit_test(test_outage_and_jump_while_backing_off),
		cmocka_unit_test(test_backoff_and_offset),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_fleet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
