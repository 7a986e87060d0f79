/* The timer's cadence (collector/cadence.c), netinv's own functions under a faked clock:
 *  - one agent whose timer fires every 15 minutes of true time, whose host clock is off by a
 *    constant (a day ahead of the server, a day behind, years behind) or jumps between runs
 *    (backwards by hours or years, forwards by years, also while backing off after an outage):
 *    gaps between check-ins never exceed one policy interval plus one timer period (and the two
 *    minutes a slot may move), and netinv never checks in on every tick;
 *  - a fleet of 1,000 agents that booted within the same 15 minutes, over two days with a
 *    two-hour outage: arrivals spread over the interval (per 5 minutes at most 1.5x the mean at
 *    steady state) and the recovery after the outage peaks under 2x the steady rate. */
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
							a->next_attempt, INTERVAL, "test-agent", &wait,
							&back);

		a->clock_back += back;
		if (v != CADENCE_DUE)
			continue;
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
		check(&a, 200, 2, cases[i].what); /* at the reset, and the slot after it */
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

static void test_fleet(void **state)
{
	static uint32_t per_min[HOURS * 60 + 60];
	double steady = 0, peak5 = 0, recov5 = 0, peak1 = 0;
	int nsteady = 0, n5 = 0;

	(void)state;
	memset(per_min, 0, sizeof(per_min));
	for (int i = 0; i < FLEET; i++) {
		char uuid[40];
		int64_t t = rnd(TICK), last = 0, failure = 0, next = 0;
		unsigned failures = 0;

		snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-%012x", (unsigned)i * 2654435761u, i);
		while (t < HOURS * 3600) {
			int64_t wait, end = t;
			bool back;

			if (cadence_decide(t, last, failure, next, INTERVAL, uuid, &wait, &back) ==
			    CADENCE_DUE) {
				int64_t at = t + cadence_offset(uuid, JITTER); /* the policy's jitter */
				bool capped;

				end = at;
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
			}
			/* OnUnitInactiveSec=15min from the end of the run, RandomizedDelaySec=30s */
			t = end + TICK + rnd(31);
		}
	}
	/* steady state: hours 6 to 23 */
	for (int m = 6 * 60; m < 23 * 60; m++) {
		steady += per_min[m];
		nsteady++;
		if (per_min[m] > peak1)
			peak1 = per_min[m];
	}
	steady /= nsteady;
	for (int m = 6 * 60; m + 5 <= 23 * 60; m += 5, n5++) {
		double s = 0;

		for (int k = 0; k < 5; k++)
			s += per_min[m + k];
		if (s > peak5)
			peak5 = s;
	}
	for (int m = OUTAGE_TO / 60; m + 5 <= OUTAGE_TO / 60 + 3 * 60; m += 5) {
		double s = 0;

		for (int k = 0; k < 5; k++)
			s += per_min[m + k];
		if (s > recov5)
			recov5 = s;
	}
	if (getenv("NETINV_FLEET_HISTOGRAM")) /* docs/PERFORMANCE.md: arrivals per 15 minutes */
		for (int m = 20 * 60; m < 32 * 60; m += 15) {
			unsigned s15 = 0;

			for (int k = 0; k < 15; k++)
				s15 += per_min[m + k];
			print_message("%02d:%02d %u\n", m / 60, m % 60, s15);
		}
	print_message("fleet of %d: %.1f check-ins a minute at steady state; per minute peak %.2fx; "
		      "per 5 minutes peak %.2fx; after the 2-hour outage, per 5 minutes peak %.2fx\n",
		      FLEET, steady, peak1 / steady, peak5 / (5 * steady), recov5 / (5 * steady));
	assert_true(steady > FLEET / 60.0 * 0.95 && steady < FLEET / 60.0 * 1.05); /* once an hour */
	assert_true(peak5 <= 1.5 * 5 * steady);
	assert_true(recov5 <= 2.0 * 5 * steady);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skewed_clocks),
		cmocka_unit_test(test_clock_jumps),
		cmocka_unit_test(test_outage_and_jump_while_backing_off),
		cmocka_unit_test(test_backoff_and_offset),
		cmocka_unit_test(test_fleet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
