/* Deltas and the persisted state. Property tests over random snapshots: the acknowledged state plus
 * every emitted delta reconstructs the current snapshot's state exactly, whatever was added, changed,
 * removed or reordered, also when only part of a delta was accepted; and the codec refuses every
 * kind of damage. */
#include "testutil.h"
#include "../../delta/canon.h"
#include "../../delta/diff.h"
#include "../../delta/persist.h"

#include <errno.h>
#include "../../delta/crc32c.h"

#define ALL ((1u << SNAP_NTABLES) - 1)

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

/* A model record: a route, neighbour or socket with a few content fields that mutations change. */
struct model {
	uint8_t table;  /* SNAP_NEIGH, SNAP_ROUTES or SNAP_SOCKS */
	uint32_t key;   /* identity */
	uint32_t value; /* content */
	bool alive;
};

#define MAXM 600

static void build_snapshot(struct snapshot *s, const struct model *m, int n)
{
	int order[MAXM];

	snap_init(s, NULL);
	for (int l = 1; l <= 3; l++) {
		struct snap_link *k = snap_push(s, SNAP_LINKS);
		char name[16];

		k->ifindex = (uint32_t)l;
		snprintf(name, sizeof(name), "eth%d", l);
		k->name = snap_str(s, name, strlen(name));
		k->mtu = 1500;
	}
	/* arrival order is random: the delta must not depend on it */
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rnd((uint32_t)i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int o = 0; o < n; o++) {
		const struct model *x = &m[order[o]];

		if (!x->alive)
			continue;
		if (x->table == SNAP_ROUTES) {
			struct snap_route *r = snap_push(s, SNAP_ROUTES);

			r->family = AF_INET;
			r->table = 254;
			r->type = 1;
			r->dst_len = 24;
			memcpy(r->dst, &x->key, 4);
			r->oif = 1 + x->key % 3;
			r->protocol = (uint8_t)x->value;
			r->priority = x->key % 7;
		} else if (x->table == SNAP_NEIGH) {
			struct snap_neigh *nb = snap_push(s, SNAP_NEIGH);

			nb->family = AF_INET6;
			nb->ifindex = 1 + x->key % 3;
			memcpy(nb->dst, &x->key, 4);
			nb->state = 0x80; /* PERMANENT */
			nb->has_lladdr = 1;
			nb->lladdr_len = 6;
			memcpy(nb->lladdr, &x->value, 4);
		} else {
			struct snap_sock *k = snap_push(s, SNAP_SOCKS);

			k->family = AF_INET;
			k->proto = 6;
			k->state = 1;
			k->sport = (uint16_t)(x->key & 0xffff);
			k->dport = 443;
			memcpy(k->src, "\x0a\x00\x00\x01", 4);
			memcpy(k->dst, &x->key, 4);
			k->uid = x->value;
			/* every 50th key collides with its neighbour: identical keys need ordinals */
			if (x->key % 50 == 0)
				k->sport = 1;
		}
	}
	for (int t = 0; t < SNAP_NTABLES; t++)
		canon_sort(s, (enum snap_table)t);
}

/* In-memory "file": the state as delta_next_state emits it, encoded by the persist codec. */
struct image {
	uint8_t *buf;
	size_t len, cap;
	uint32_t count[SNAP_NTABLES];
};

static int emit(void *arg, enum snap_table t, const struct state_rec *r)
{
	struct image *im = arg;

	if (im->len + sizeof(*r) > im->cap) {
		im->cap = im->cap * 2 + 4096;
		im->buf = realloc(im->buf, im->cap);
	}
	memcpy(im->buf + im->len, r, sizeof(*r));
	im->len += sizeof(*r);
	im->count[t]++;
	return 0;
}

/* Encode the next state of d into a state file image and decode it back into out. */
static void commit(const struct delta *d, const struct canon_ctx *c, uint64_t seq,
		   struct acked_state *out)
{
	struct image recs = { 0 };
	struct persist_meta m = { .sequence = seq, .keying = c->o->keying };
	uint8_t *file;
	size_t flen;
	uint32_t crc, want[SNAP_NTABLES];
	const char *why = NULL;

	delta_next_state(d, c, emit, &recs);
	delta_next_counts(d, want);
	for (int t = 0; t < SNAP_NTABLES; t++)
		if (PERSIST_DIGESTED & (1u << t))
			delta_next_digest(d, (enum snap_table)t, &m.digest[t], &m.repeat[t]);
	assert_memory_equal(want, recs.count, sizeof(want));
	memcpy(m.count, recs.count, sizeof(m.count));
	flen = persist_size(m.count);
	file = malloc(flen);
	persist_header(file, &m);
	memcpy(file + PERSIST_HDR_LEN, recs.buf, recs.len);
	crc = persist_crc(0, file, flen - 4);
	memcpy(file + flen - 4, &crc, 4);
	assert_int_equal(persist_decode(file, flen, out, &why), 0);
	assert_int_equal(out->sequence, seq);
	free(file);
	free(recs.buf);
}

/* The state of a snapshot taken on its own (a full snapshot, all accepted). */
static void full_state(const struct snapshot *s, const struct canon_ctx *c, struct acked_state *out)
{
	struct delta d;

	assert_int_equal(delta_build(&d, c, NULL, ALL), 0);
	assert_true(d.full);
	delta_mark_all_sent(&d);
	commit(&d, c, 1, out);
	delta_free(&d);
	(void)s;
}

static void assert_same_state(const struct acked_state *a, const struct acked_state *b)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		assert_int_equal(a->t[t].n, b->t[t].n);
		for (uint32_t i = 0; i < a->t[t].n; i++) {
			assert_int_equal(a->t[t].r[i].id, b->t[t].r[i].id);
			assert_int_equal(a->t[t].r[i].content, b->t[t].r[i].content);
			assert_memory_equal(a->t[t].r[i].key, b->t[t].r[i].key, STATE_KEY_LEN);
		}
	}
}

/* Reconstruct independently of delta_next_state: old state, minus removals, plus added/changed
 * (taken from the full state of the current snapshot, by id). */
static void check_reconstruct(const struct acked_state *old, const struct delta *d,
			      const struct acked_state *cur_full, bool only_sent)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &d->t[t];
		uint32_t expect_n = old->t[t].n, adds = 0;

		/* every changed/unchanged record's id exists in old, every added one does not */
		for (uint32_t i = 0; i < dt->n; i++) {
			const struct delta_ent *e = &dt->cur[i];
			bool in_old = false;

			for (uint32_t p = 0; p < old->t[t].n; p++)
				if (old->t[t].r[p].id == e->id) {
					in_old = true;
					if (e->kind == DELTA_UNCHANGED)
						assert_int_equal(old->t[t].r[p].content, e->content);
					else
						assert_int_not_equal(old->t[t].r[p].content, e->content);
				}
			assert_int_equal(in_old, e->kind != DELTA_ADDED);
			if (e->kind == DELTA_ADDED && (!only_sent || e->sent))
				adds++;
		}
		for (uint32_t r = 0; r < dt->n_removed; r++) {
			uint64_t id = old->t[t].r[dt->removed[r]].id;

			for (uint32_t i = 0; i < cur_full->t[t].n; i++)
				assert_int_not_equal(cur_full->t[t].r[i].id, id);
			if (!only_sent || dt->removed_sent[r])
				expect_n--;
		}
		if (!only_sent)
			assert_int_equal(expect_n + adds, cur_full->t[t].n);
	}
}

static void mutate(struct model *m, int *n)
{
	int ops = 1 + (int)rnd(40);

	for (int k = 0; k < ops; k++) {
		int i = (int)rnd((uint32_t)*n);

		switch (rnd(4)) {
		case 0: /* add */
			if (*n < MAXM) {
				m[*n] = (struct model){ .table = (uint8_t)(2 + rnd(3)),
							.key = 100000 + rnd(1u << 20),
							.value = rnd(5),
							.alive = true };
				(*n)++;
			}
			break;
		case 1: /* change content */
			m[i].value++;
			break;
		case 2: /* remove */
			m[i].alive = false;
			break;
		default: /* revive */
			m[i].alive = true;
		}
	}
}

static void test_property_reconstruct(void **state)
{
	struct canon_opts o = { .keying = KEYING_EXACT };
	static struct model m[MAXM];
	int n = 0;
	struct acked_state acked;
	struct snapshot s;
	struct canon_ctx c;

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ull;
	for (; n < 200; n++)
		m[n] = (struct model){ .table = (uint8_t)(2 + rnd(3)), .key = rnd(1u << 20),
				       .value = rnd(5), .alive = true };
	build_snapshot(&s, m, n);
	canon_ctx_init(&c, &s, &o);
	full_state(&s, &c, &acked);
	canon_ctx_free(&c);
	snap_free(&s);
	for (int round = 0; round < 300; round++) {
		struct acked_state cur_full, next;
		struct delta d;
		bool partial = round % 3 == 2;

		mutate(m, &n);
		build_snapshot(&s, m, n);
		canon_ctx_init(&c, &s, &o);
		full_state(&s, &c, &cur_full);
		assert_int_equal(delta_build(&d, &c, &acked, ALL), 0);
		assert_false(d.full);
		check_reconstruct(&acked, &d, &cur_full, false);
		if (partial) {
			/* accept a random part: the state advances by exactly that part, and the next
			 * delta against it carries the rest */
			for (int t = 0; t < SNAP_NTABLES; t++) {
				for (uint32_t i = 0; i < d.t[t].n; i++)
					d.t[t].cur[i].sent = (uint8_t)rnd(2);
				for (uint32_t i = 0; i < d.t[t].n_removed; i++)
					d.t[t].removed_sent[i] = (uint8_t)rnd(2);
			}
			commit(&d, &c, (uint64_t)round + 2, &next);
			check_reconstruct(&acked, &d, &cur_full, true);
			delta_free(&d);
			acked_free(&acked);
			acked = next;
			assert_int_equal(delta_build(&d, &c, &acked, ALL), 0);
		}
		delta_mark_all_sent(&d);
		commit(&d, &c, (uint64_t)round + 2, &next);
		assert_same_state(&next, &cur_full);
		/* and a delta of an unchanged snapshot against it is empty */
		delta_free(&d);
		assert_int_equal(delta_build(&d, &c, &next, ALL), 0);
		for (int t = 0; t < SNAP_NTABLES; t++) {
			assert_int_equal(d.t[t].added + d.t[t].changed + d.t[t].n_removed, 0);
			for (uint32_t i = 0; i < s.t[t].n; i++)
				assert_int_equal(d.t[t].send[i], 0);
		}
		delta_free(&d);
		acked_free(&acked);
		acked_free(&cur_full);
		acked = next;
		canon_ctx_free(&c);
		snap_free(&s);
	}
	acked_free(&acked);
}

/* A table that was not collected (--only, or disabled by policy) reports nothing and keeps its
 * acknowledged records: it must not turn into a list of removals. */
static void test_uncollected_table_carries_over(void **state)
{
	struct canon_opts o = { .keying = KEYING_EXACT };
	static struct model m[MAXM];
	struct acked_state acked, next;
	struct snapshot s, only;
	struct canon_ctx c, c2;
	struct delta d;

	(void)state;
	rng_state = 42;
	for (int i = 0; i < 90; i++)
		m[i] = (struct model){ .table = (uint8_t)(2 + i % 3), .key = (uint32_t)i * 7919, .alive = true };
	build_snapshot(&s, m, 90);
	canon_ctx_init(&c, &s, &o);
	full_state(&s, &c, &acked);
	assert_int_equal(acked.t[SNAP_NEIGH].n, 30);
	/* now only routes are collected: the neighbour and socket tables are empty in the snapshot */
	snap_init(&only, NULL);
	for (uint32_t i = 0; i < s.t[SNAP_ROUTES].n; i++)
		*(struct snap_route *)snap_push(&only, SNAP_ROUTES) =
			*(struct snap_route *)snap_at(&s, SNAP_ROUTES, i);
	canon_ctx_init(&c2, &only, &o);
	assert_int_equal(delta_build(&d, &c2, &acked, 1u << SNAP_ROUTES), 0);
	assert_true(d.t[SNAP_NEIGH].carried);
	assert_int_equal(d.t[SNAP_NEIGH].n_removed, 0);
	assert_int_equal(d.t[SNAP_SOCKS].n_removed, 0);
	assert_int_equal(d.t[SNAP_ROUTES].added + d.t[SNAP_ROUTES].changed + d.t[SNAP_ROUTES].n_removed, 0);
	delta_mark_all_sent(&d);
	commit(&d, &c2, 2, &next);
	assert_same_state(&next, &acked);
	delta_free(&d);
	acked_free(&acked);
	acked_free(&next);
	canon_ctx_free(&c);
	canon_ctx_free(&c2);
	snap_free(&s);
	snap_free(&only);
}

/* One accepted run: the delta of tables against prev (those in same not parsed), this run's route
 * and neighbour digests, everything sent and committed as sequence seq into out. */
static void accepted_run(const struct canon_ctx *c, const struct acked_state *prev, unsigned tables,
			 unsigned same, uint64_t routes, uint64_t neigh, uint64_t seq, struct acked_state *out)
{
	struct delta d;

	assert_int_equal(delta_build_same(&d, c, prev, tables, same), 0);
	d.digest[SNAP_ROUTES] = routes;
	d.digest[SNAP_NEIGH] = neigh;
	delta_mark_all_sent(&d);
	commit(&d, c, seq, out);
	delta_free(&d);
}

#define ASSERT_DIGEST(a, t, dg, rep)                                                               \
	do {                                                                                       \
		assert_int_equal((a).digest[t], (dg));                                             \
		assert_int_equal((a).repeat[t], (rep));                                            \
	} while (0)

/* The dump digests the state keeps: this run's when every record of the table made it into the
 * next state, marked as a repeat when the acknowledged one was the same, dropped when a record is
 * still unsent; a table that was the same (not parsed) is carried with every record unchanged; a
 * table not collected keeps its digest; records of unknown content drop it. */
static void test_dump_digests_and_same(void **state)
{
	struct canon_opts o = { .keying = KEYING_EXACT };
	static struct model m[MAXM];
	struct acked_state a1, a2, a3, a4, a5;
	struct snapshot s, s2, none;
	struct canon_ctx c, c2, c0;
	struct delta d;
	uint64_t dg;
	bool rep;

	(void)state;
	rng_state = 7;
	for (int i = 0; i < 120; i++)
		m[i] = (struct model){ .table = (uint8_t)(2 + i % 3), .key = (uint32_t)i * 7919, .value = 1,
				       .alive = true };
	build_snapshot(&s, m, 120);
	canon_ctx_init(&c, &s, &o);
	/* a full snapshot, all accepted: the digests, not repeats */
	accepted_run(&c, NULL, ALL, 0, 0xabc, 0x111, 1, &a1);
	ASSERT_DIGEST(a1, SNAP_ROUTES, 0xabc, false);
	ASSERT_DIGEST(a1, SNAP_NEIGH, 0x111, false);
	/* the same dumps again, a delta with nothing to send: repeats */
	accepted_run(&c, &a1, ALL, 0, 0xabc, 0x111, 2, &a2);
	ASSERT_DIGEST(a2, SNAP_ROUTES, 0xabc, true);
	ASSERT_DIGEST(a2, SNAP_NEIGH, 0x111, true);
	/* a route changed and its report not accepted: the state's routes are not the dump's */
	m[1].value = 9; /* i = 1: table 2 + 1 % 3 = SNAP_ROUTES */
	assert_int_equal(m[1].table, SNAP_ROUTES);
	build_snapshot(&s2, m, 120);
	canon_ctx_init(&c2, &s2, &o);
	assert_int_equal(delta_build(&d, &c2, &a2, ALL), 0);
	assert_int_equal(d.t[SNAP_ROUTES].changed, 1);
	d.digest[SNAP_ROUTES] = 0xdef;
	d.digest[SNAP_NEIGH] = 0x111;
	delta_next_digest(&d, SNAP_ROUTES, &dg, &rep);
	assert_int_equal(dg, 0);
	assert_false(rep);
	delta_next_digest(&d, SNAP_NEIGH, &dg, &rep); /* the neighbours went out whole */
	assert_int_equal(dg, 0x111);
	assert_true(rep);
	/* once it is sent: the new digest, not a repeat */
	delta_mark_all_sent(&d);
	delta_next_digest(&d, SNAP_ROUTES, &dg, &rep);
	assert_int_equal(dg, 0xdef);
	assert_false(rep);
	delta_free(&d);
	/* routes and neighbours the same as a2's: nothing in the snapshot, carried, all unchanged */
	snap_init(&none, NULL);
	canon_ctx_init(&c0, &none, &o);
	assert_int_equal(delta_build_same(&d, &c0, NULL, 1u << SNAP_ROUTES, 1u << SNAP_ROUTES), -EINVAL);
	assert_int_equal(delta_build_same(&d, &c0, &a2, PERSIST_DIGESTED, PERSIST_DIGESTED), 0);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (!(PERSIST_DIGESTED & (1u << t)))
			continue;
		assert_true(d.t[t].carried && d.t[t].same);
		assert_int_equal(d.t[t].unchanged, a2.t[t].n);
		assert_int_equal(d.t[t].added + d.t[t].n_removed, 0);
	}
	d.digest[SNAP_ROUTES] = 0xabc;
	d.digest[SNAP_NEIGH] = 0x111;
	delta_mark_all_sent(&d);
	commit(&d, &c0, 3, &a3);
	delta_free(&d);
	assert_same_state(&a3, &a2);
	ASSERT_DIGEST(a3, SNAP_ROUTES, 0xabc, true);
	ASSERT_DIGEST(a3, SNAP_NEIGH, 0x111, true);
	/* neither collected: the acknowledged digests and counts stay */
	accepted_run(&c0, &a3, 1u << SNAP_ADDRS, 0, 0, 0, 4, &a4);
	ASSERT_DIGEST(a4, SNAP_ROUTES, 0xabc, true);
	ASSERT_DIGEST(a4, SNAP_NEIGH, 0x111, true);
	/* no digests this run (a reconciled or retried dump): none kept */
	accepted_run(&c, &a4, ALL, 0, 0, 0, 5, &a5);
	ASSERT_DIGEST(a5, SNAP_ROUTES, 0, false);
	ASSERT_DIGEST(a5, SNAP_NEIGH, 0, false);
	/* records of unknown content (unconfirmed reports) drop their table's digest only */
	{
		struct acked_state u = { 0 };
		struct state_rec r = a4.t[SNAP_ROUTES].r[0];

		u.t[SNAP_ROUTES].r = &r;
		u.t[SNAP_ROUTES].n = 1;
		assert_int_equal(acked_merge_unconfirmed(&a4, &u), 0);
		ASSERT_DIGEST(a4, SNAP_ROUTES, 0, false);
		ASSERT_DIGEST(a4, SNAP_NEIGH, 0x111, true);
	}
	acked_free(&a1);
	acked_free(&a2);
	acked_free(&a3);
	acked_free(&a4);
	acked_free(&a5);
	canon_ctx_free(&c);
	canon_ctx_free(&c2);
	canon_ctx_free(&c0);
	snap_free(&s);
	snap_free(&s2);
	snap_free(&none);
}

/* Noise control: TIME_WAIT and the agent's own sockets are left out; flow keying ignores the
 * ephemeral port of client connections but not of served ones. */
static void test_noise_control(void **state)
{
	struct snapshot s;
	struct canon_ctx c;
	struct canon_opts o = { .keying = KEYING_FLOW, .self_pid = 4242 };
	struct snap_sock *k;
	uint8_t k1[STATE_KEY_LEN], k2[STATE_KEY_LEN];
	uint64_t id1, id2, c1, c2;
	struct delta d;

	(void)state;
	snap_init(&s, NULL);
	k = snap_push(&s, SNAP_SOCKS); /* 0: a listener on 443 */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 10, .sport = 443 };
	k = snap_push(&s, SNAP_SOCKS); /* 1: served connection on 443 */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 1, .sport = 443, .dport = 50001 };
	memcpy(k->dst, "\x0a\x00\x00\x09", 4);
	k = snap_push(&s, SNAP_SOCKS); /* 2: client connection, ephemeral port 40000 */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 1, .sport = 40000, .dport = 5432 };
	memcpy(k->dst, "\x0a\x00\x00\x05", 4);
	k = snap_push(&s, SNAP_SOCKS); /* 3: the same flow, another ephemeral port */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 1, .sport = 40777, .dport = 5432 };
	memcpy(k->dst, "\x0a\x00\x00\x05", 4);
	k = snap_push(&s, SNAP_SOCKS); /* 4: TIME_WAIT */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 6, .sport = 40100, .dport = 80 };
	k = snap_push(&s, SNAP_SOCKS); /* 5: the agent's own connection */
	*k = (struct snap_sock){ .family = AF_INET, .proto = 6, .state = 1, .sport = 40200, .dport = 443,
				 .pid = 4242 };
	canon_ctx_init(&c, &s, &o);
	assert_true(canon_keep(&c, SNAP_SOCKS, 0));
	assert_false(canon_keep(&c, SNAP_SOCKS, 4));
	assert_false(canon_keep(&c, SNAP_SOCKS, 5));
	assert_false(canon_client_side(&c, snap_at(&s, SNAP_SOCKS, 1)));
	assert_true(canon_client_side(&c, snap_at(&s, SNAP_SOCKS, 2)));
	canon_key(&c, SNAP_SOCKS, 2, k1);
	canon_key(&c, SNAP_SOCKS, 3, k2);
	canon_fps(&c, SNAP_SOCKS, 2, k1, &id1, &c1);
	canon_fps(&c, SNAP_SOCKS, 3, k2, &id2, &c2);
	assert_int_equal(id1, id2); /* same flow */
	assert_int_equal(c1, c2);   /* the port is not content either */
	canon_key(&c, SNAP_SOCKS, 1, k1);
	assert_int_equal(((struct key_sock *)k1)->sport, 443);
	/* the two flows get distinct identities through their ordinal */
	assert_int_equal(delta_build(&d, &c, NULL, ALL), 0);
	assert_int_equal(d.t[SNAP_SOCKS].filtered, 2);
	assert_int_equal(d.t[SNAP_SOCKS].n, 4);
	for (uint32_t i = 1; i < d.t[SNAP_SOCKS].n; i++)
		assert_true(d.t[SNAP_SOCKS].cur[i - 1].id < d.t[SNAP_SOCKS].cur[i].id);
	delta_free(&d);
	canon_ctx_free(&c);
	/* with TIME_WAIT included and exact keying, they count */
	o = (struct canon_opts){ .keying = KEYING_EXACT, .include_time_wait = true };
	canon_ctx_init(&c, &s, &o);
	assert_true(canon_keep(&c, SNAP_SOCKS, 4));
	canon_key(&c, SNAP_SOCKS, 2, k1);
	canon_key(&c, SNAP_SOCKS, 3, k2);
	assert_memory_not_equal(k1, k2, STATE_KEY_LEN);
	canon_ctx_free(&c);
	snap_free(&s);
}

/* A neighbour going REACHABLE -> STALE is not a change; going FAILED, or a new MAC, is. */
static void test_neighbour_volatility(void **state)
{
	struct snapshot s;
	struct canon_ctx c;
	struct canon_opts o = { 0 };
	struct snap_neigh *nb;
	uint8_t key[STATE_KEY_LEN];
	uint64_t id, c0, c1, c2, c3;

	(void)state;
	snap_init(&s, NULL);
	nb = snap_push(&s, SNAP_NEIGH);
	nb->family = AF_INET;
	nb->state = 0x02;
	nb->has_lladdr = 1;
	nb->lladdr_len = 6;
	canon_ctx_init(&c, &s, &o);
	canon_key(&c, SNAP_NEIGH, 0, key);
	canon_fps(&c, SNAP_NEIGH, 0, key, &id, &c0);
	nb->state = 0x04; /* STALE */
	canon_fps(&c, SNAP_NEIGH, 0, key, &id, &c1);
	nb->state = 0x20; /* FAILED */
	canon_fps(&c, SNAP_NEIGH, 0, key, &id, &c2);
	nb->state = 0x04;
	nb->lladdr[5] = 9;
	canon_fps(&c, SNAP_NEIGH, 0, key, &id, &c3);
	assert_int_equal(c0, c1);
	assert_int_not_equal(c0, c2);
	assert_int_not_equal(c0, c3);
	canon_ctx_free(&c);
	snap_free(&s);
}


/* The server of the convergence test: what it holds per table, by identity, as the reports said
 * (upserts with their content, removals by the acknowledged record's identity). */
struct model_server {
	uint64_t id[SNAP_NTABLES][4 * MAXM], content[SNAP_NTABLES][4 * MAXM];
	uint32_t n[SNAP_NTABLES];
};

static void server_put(struct model_server *sv, int t, uint64_t id, uint64_t content)
{
	for (uint32_t i = 0; i < sv->n[t]; i++)
		if (sv->id[t][i] == id) {
			sv->content[t][i] = content;
			return;
		}
	assert_true(sv->n[t] < 4 * MAXM);
	sv->id[t][sv->n[t]] = id;
	sv->content[t][sv->n[t]++] = content;
}

static void server_del(struct model_server *sv, int t, uint64_t id)
{
	for (uint32_t i = 0; i < sv->n[t]; i++)
		if (sv->id[t][i] == id) {
			sv->id[t][i] = sv->id[t][sv->n[t] - 1];
			sv->content[t][i] = sv->content[t][--sv->n[t]];
			return;
		}
}

/* The server stores a part: a full snapshot's first part replaces everything. */
static void server_apply(struct model_server *sv, const struct delta *d, uint8_t *const incl[],
			 uint8_t *const rincl[], bool full_first)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const struct delta_table *dt = &d->t[t];

		if (full_first)
			sv->n[t] = 0;
		for (uint32_t i = 0; i < dt->n; i++)
			if (incl[t][dt->cur[i].idx])
				server_put(sv, t, dt->cur[i].id, dt->cur[i].content);
		for (uint32_t i = 0; i < dt->n_removed; i++)
			if (rincl[t][i])
				server_del(sv, t, d->prev->t[t].r[dt->removed[i]].id);
	}
}

static void assert_server_holds(const struct model_server *sv, const struct acked_state *full)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		assert_int_equal(sv->n[t], full->t[t].n);
		for (uint32_t i = 0; i < full->t[t].n; i++) {
			bool found = false;

			for (uint32_t j = 0; j < sv->n[t] && !found; j++)
				if (sv->id[t][j] == full->t[t].r[i].id) {
					assert_int_equal(sv->content[t][j], full->t[t].r[i].content);
					found = true;
				}
			assert_true(found);
		}
	}
}

static void copy_state(const struct acked_state *a, struct acked_state *out)
{
	size_t total = 0;
	struct state_rec *p;

	*out = *a;
	for (int t = 0; t < SNAP_NTABLES; t++)
		total += a->t[t].n;
	p = out->block = malloc((total ? total : 1) * sizeof(*p));
	for (int t = 0; t < SNAP_NTABLES; t++) {
		memcpy(p, a->t[t].r, a->t[t].n * sizeof(*p));
		out->t[t].r = p;
		p += a->t[t].n;
	}
}

/* Reports whose replies are lost (stored or not, in any part) never leave the server behind: the
 * unconfirmed records of every such report join the acknowledged state with their content unknown,
 * and after the next accepted report the server holds exactly the host's records. The collector
 * does the same steps (checkin.c, harvest.c) against the real binary in test_converge. */
static void test_property_unconfirmed_converges(void **state)
{
	struct canon_opts o = { .keying = KEYING_EXACT };
	static struct model m[MAXM];
	static struct model_server sv;
	struct acked_state acked = { 0 }, unconf = { 0 };
	bool have_acked = false, unconf_full = false;
	int n = 0, accepted = 0, lost = 0;

	(void)state;
	rng_state = 0x2545f4914f6cdd1dull;
	memset(&sv, 0, sizeof(sv));
	for (; n < 150; n++)
		m[n] = (struct model){ .table = (uint8_t)(2 + rnd(3)), .key = rnd(1u << 20),
				       .value = rnd(5), .alive = true };
	for (int step = 0; step < 400; step++) {
		struct acked_state base = { 0 }, cur_full;
		struct snapshot s;
		struct canon_ctx c;
		struct delta d;
		uint8_t *incl[SNAP_NTABLES], *rincl[SNAP_NTABLES];
		bool all_ok = true;
		int parts = 1 + (int)rnd(3);

		mutate(m, &n);
		build_snapshot(&s, m, n);
		canon_ctx_init(&c, &s, &o);
		full_state(&s, &c, &cur_full);
		/* what the next run starts from: harvest.c's run_state_load_unconfirmed */
		if (have_acked && !unconf_full) {
			copy_state(&acked, &base);
			assert_int_equal(acked_merge_unconfirmed(&base, &unconf), 0);
		}
		assert_int_equal(delta_build(&d, &c, base.block ? &base : NULL, ALL), 0);
		if (d.full) {
			acked_free(&unconf);
			unconf_full = false;
		}
		for (int t = 0; t < SNAP_NTABLES; t++) {
			incl[t] = calloc(s.t[t].n + 1, 1);
			rincl[t] = calloc(d.t[t].n_removed + 1, 1);
		}
		for (int part = 0; part < parts && all_ok; part++) {
			struct acked_state u;
			int fault = (int)rnd(4); /* 0, 1: accepted; 2: stored, reply lost; 3: not stored */
			bool last = part == parts - 1, full_first = d.full && part == 0;

			/* this part: the rest if last, else a random share of what is left */
			for (int t = 0; t < SNAP_NTABLES; t++) {
				for (uint32_t i = 0; i < d.t[t].n; i++)
					incl[t][d.t[t].cur[i].idx] = d.t[t].send[d.t[t].cur[i].idx] &&
								     (last || rnd(2));
				for (uint32_t i = 0; i < d.t[t].n_removed; i++)
					rincl[t][i] = !d.t[t].removed_sent[i] && (last || rnd(2));
			}
			assert_int_equal(delta_part_unconfirmed(&d, &c, incl, rincl,
								d.prev ? &unconf : NULL, &u), 0);
			/* the record of the part is durable before it is sent */
			acked_free(&unconf);
			unconf = u;
			unconf_full = full_first;
			if (fault <= 2)
				server_apply(&sv, &d, incl, rincl, full_first);
			if (fault >= 2) {
				all_ok = false;
				lost++;
				break;
			}
			delta_accept_part(&d, incl, rincl);
			{
				struct acked_state next;

				commit(&d, &c, (uint64_t)step + 1, &next);
				acked_free(&acked);
				acked = next;
				have_acked = true;
			}
			acked_free(&unconf); /* folded by the commit, then dropped */
			unconf_full = false;
		}
		if (all_ok) {
			accepted++;
			assert_server_holds(&sv, &cur_full);
		}
		for (int t = 0; t < SNAP_NTABLES; t++) {
			free(incl[t]);
			free(rincl[t]);
		}
		delta_free(&d);
		acked_free(&base);
		acked_free(&cur_full);
		canon_ctx_free(&c);
		snap_free(&s);
	}
	/* both kinds of step happened often */
	assert_true(accepted > 50);
	assert_true(lost > 50);
	acked_free(&acked);
	acked_free(&unconf);
}

/* The merge marks every unconfirmed record unknown, adds the ones the acknowledged state lacks,
 * and keeps the rest as they were; a current record never has the unknown content. */
static void test_merge_unconfirmed(void **state)
{
	struct state_rec ar[3] = { { .id = 10, .content = 5 }, { .id = 20, .content = 6 },
				   { .id = 30, .content = 7 } };
	struct state_rec ur[2] = { { .id = 15, .content = 9 }, { .id = 20, .content = 8 } };
	struct acked_state a = { .sequence = 4, .keying = 1 }, u = { 0 };

	(void)state;
	a.block = malloc(sizeof(ar));
	memcpy(a.block, ar, sizeof(ar));
	a.t[SNAP_ROUTES].r = a.block;
	a.t[SNAP_ROUTES].n = 3;
	u.t[SNAP_ROUTES].r = ur;
	u.t[SNAP_ROUTES].n = 2;
	ur[0].key[0] = 0x42;
	assert_int_equal(acked_merge_unconfirmed(&a, &u), 0);
	assert_int_equal(a.sequence, 4);
	assert_int_equal(a.keying, 1);
	assert_int_equal(a.t[SNAP_ROUTES].n, 4);
	assert_int_equal(a.t[SNAP_ROUTES].r[0].id, 10);
	assert_int_equal(a.t[SNAP_ROUTES].r[0].content, 5);
	assert_int_equal(a.t[SNAP_ROUTES].r[1].id, 15);
	assert_int_equal(a.t[SNAP_ROUTES].r[1].content, STATE_CONTENT_UNKNOWN);
	assert_int_equal(a.t[SNAP_ROUTES].r[1].key[0], 0x42); /* its removal key */
	assert_int_equal(a.t[SNAP_ROUTES].r[2].id, 20);
	assert_int_equal(a.t[SNAP_ROUTES].r[2].content, STATE_CONTENT_UNKNOWN);
	assert_int_equal(a.t[SNAP_ROUTES].r[3].id, 30);
	assert_int_equal(a.t[SNAP_ROUTES].r[3].content, 7);
	acked_free(&a);
}

static uint8_t *good_file(size_t *len)
{
	struct persist_meta m = { .sequence = 7, .count = { [SNAP_ROUTES] = 3 } };
	size_t n = persist_size(m.count);
	uint8_t *f = calloc(1, n);
	uint32_t crc;

	persist_header(f, &m);
	for (int i = 0; i < 3; i++) {
		struct state_rec r = { .id = (uint64_t)i * 10 + 1, .content = 5 };

		memcpy(f + PERSIST_HDR_LEN + (size_t)i * 64, &r, 64);
	}
	crc = persist_crc(0, f, n - 4);
	memcpy(f + n - 4, &crc, 4);
	*len = n;
	return f;
}

static void refix_crc(uint8_t *f, size_t n)
{
	uint32_t crc = persist_crc(0, f, n - 4);

	memcpy(f + n - 4, &crc, 4);
}

static void expect_bad(uint8_t *f, size_t n, const char *reason_part)
{
	struct acked_state a;
	const char *why = NULL;
	uint8_t *copy = malloc(n ? n : 1);

	memcpy(copy, f, n);
	assert_int_equal(persist_decode(copy, n, &a, &why), -EBADMSG);
	assert_non_null(why);
	if (!strstr(why, reason_part))
		fail_msg("reason '%s' does not mention '%s'", why, reason_part);
	assert_null(a.block);
	free(copy);
}

/* From the header alone, the size a reader must find before it reads the rest. */
static void test_codec_size_from_header(void **state)
{
	size_t n;
	uint8_t *f = good_file(&n);
	uint64_t want = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(persist_expected_size(f, PERSIST_HDR_LEN, &want, &why), 0);
	assert_int_equal(want, n);
	assert_int_equal(persist_expected_size(f, PERSIST_HDR_LEN - 1, &want, &why), -EBADMSG);
	assert_non_null(strstr(why, "shorter than its header"));
	f[0] ^= 1;
	assert_int_equal(persist_expected_size(f, PERSIST_HDR_LEN, &want, &why), -EBADMSG);
	assert_non_null(strstr(why, "bad magic"));
	f[0] ^= 1;
	{
		struct persist_meta m = { .count = { [SNAP_ROUTES] = PERSIST_MAX_RECS + 1 } };

		persist_header(f, &m);
		assert_int_equal(persist_expected_size(f, PERSIST_HDR_LEN, &want, &why), -EBADMSG);
		assert_non_null(strstr(why, "record count out of range"));
	}
	free(f);
}

static void test_codec_refuses_damage(void **state)
{
	size_t n;
	uint8_t *f = good_file(&n);
	struct acked_state a;
	const char *why;

	(void)state;
	assert_int_equal(n, 128 + 3 * 64 + 4); /* 64 bytes per record, plus header and CRC */
	assert_int_equal(persist_decode(f, n, &a, &why), 0);
	assert_int_equal(a.sequence, 7);
	assert_int_equal(a.t[SNAP_ROUTES].n, 3);
	assert_int_equal(a.t[SNAP_ROUTES].r[2].id, 21);
	acked_free(&a);
	/* truncated at every length */
	for (size_t l = 0; l < n; l++) {
		struct acked_state b;

		assert_int_equal(persist_decode(f, l, &b, &why), -EBADMSG);
	}
	/* every single bit flipped */
	for (size_t bit = 0; bit < n * 8; bit++) {
		struct acked_state b;

		f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(persist_decode(f, n, &b, &why), -EBADMSG);
		f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	memcpy(f, "XXXXXXXX", 8);
	refix_crc(f, n);
	expect_bad(f, n, "magic");
	free(f);
	f = good_file(&n);
	f[8] = PERSIST_VERSION + 1; /* version */
	refix_crc(f, n);
	expect_bad(f, n, "version");
	free(f);
	/* the dump digests (version 3): read back with their repeat flags; a repeat flag without its
	 * digest, or a digest or flag in a version-2 header, is damage */
	f = good_file(&n);
	f[112] = 0x5a;                     /* route digest */
	f[120] = 0x6b;                     /* neighbour digest */
	f[36] = PERSIST_FLAG_NEIGH_REPEAT; /* the neighbours repeated, the routes did not */
	refix_crc(f, n);
	assert_int_equal(persist_decode(f, n, &a, &why), 0);
	ASSERT_DIGEST(a, SNAP_ROUTES, 0x5a, false);
	ASSERT_DIGEST(a, SNAP_NEIGH, 0x6b, true);
	assert_int_equal(a.flags, 0);
	acked_free(&a);
	{
		uint64_t dg[SNAP_NTABLES];
		bool rep[SNAP_NTABLES];

		assert_int_equal(persist_digests(f, PERSIST_HDR_LEN, dg, rep), 0);
		assert_int_equal(dg[SNAP_ROUTES], 0x5a);
		assert_int_equal(dg[SNAP_NEIGH], 0x6b);
		assert_false(rep[SNAP_ROUTES]);
		assert_true(rep[SNAP_NEIGH]);
	}
	f[120] = 0; /* a repeat without its digest */
	refix_crc(f, n);
	expect_bad(f, n, "header contents");
	f[120] = 0x6b;
	f[8] = 2; /* digests in a version-2 header */
	refix_crc(f, n);
	expect_bad(f, n, "header contents");
	free(f);
	f = good_file(&n);
	f[8] = 2;
	f[36] = PERSIST_FLAG_ROUTES_REPEAT; /* a version-3 flag in a version-2 header */
	refix_crc(f, n);
	expect_bad(f, n, "header contents");
	free(f);
	/* a version-2 file (0.4.2 to 0.6.0) reads with no digest */
	f = good_file(&n);
	f[8] = 2;
	refix_crc(f, n);
	assert_int_equal(persist_decode(f, n, &a, &why), 0);
	ASSERT_DIGEST(a, SNAP_ROUTES, 0, false);
	ASSERT_DIGEST(a, SNAP_NEIGH, 0, false);
	acked_free(&a);
	free(f);
	/* the header written from a meta: digests, repeat flags only beside a digest */
	{
		struct persist_meta pm = { .sequence = 3 };
		uint8_t hdr[PERSIST_HDR_LEN];
		uint64_t dg[SNAP_NTABLES];
		bool rep[SNAP_NTABLES];

		pm.digest[SNAP_ROUTES] = 0x77;
		pm.repeat[SNAP_ROUTES] = true;
		pm.repeat[SNAP_NEIGH] = true; /* no digest: no flag */
		persist_header(hdr, &pm);
		assert_int_equal(persist_digests(hdr, sizeof(hdr), dg, rep), 0);
		assert_int_equal(dg[SNAP_ROUTES], 0x77);
		assert_true(rep[SNAP_ROUTES]);
		assert_false(rep[SNAP_NEIGH]);
	}
	f = good_file(&n);
	f[40] = 32; /* record size */
	refix_crc(f, n);
	expect_bad(f, n, "size");
	free(f);
	f = good_file(&n);
	memset(f + 48 + 4 * SNAP_ROUTES, 0xff, 4); /* a count of 4 billion */
	refix_crc(f, n);
	expect_bad(f, n, "count");
	free(f);
	f = good_file(&n);
	f[48 + 4 * SNAP_ROUTES] = 2; /* claims fewer records than it holds */
	refix_crc(f, n);
	expect_bad(f, n, "length");
	free(f);
	f = good_file(&n);
	memcpy(f + PERSIST_HDR_LEN + 64, f + PERSIST_HDR_LEN, 8); /* duplicate id: out of order */
	refix_crc(f, n);
	expect_bad(f, n, "order");
	free(f);
	f = good_file(&n);
	f[n - 1] ^= 1;
	expect_bad(f, n, "checksum");
	free(f);
	f = good_file(&n);
	f[36] = 8; /* a flag this version does not know */
	refix_crc(f, n);
	expect_bad(f, n, "flags");
	free(f);
	f = good_file(&n);
	f[36] = PERSIST_FLAG_FULL; /* an unconfirmed full snapshot: read back as such */
	refix_crc(f, n);
	assert_int_equal(persist_decode(f, n, &a, &why), 0);
	assert_int_equal(a.flags, PERSIST_FLAG_FULL);
	acked_free(&a);
	free(f);
}

/* A state file of netinv up to 0.4.1 (format version 1: a 64-byte header, five tables) is read
 * as it was; the tables it did not have are empty. One of version 2 with a table count this
 * version does not know is refused. */
static void test_codec_reads_version_1(void **state)
{
	uint8_t f[64 + 2 * 64 + 4] = { 0 };
	uint32_t v = 1, hl = 64, rl = 64, cnt[5] = { [SNAP_ROUTES] = 2 }, crc;
	uint64_t seq = 41;
	struct acked_state a;
	const char *why = NULL;
	uint64_t size = 0;

	(void)state;
	memcpy(f, PERSIST_MAGIC, 8);
	memcpy(f + 8, &v, 4);
	memcpy(f + 12, &hl, 4);
	memcpy(f + 16, &seq, 8);
	memcpy(f + 40, cnt, sizeof(cnt));
	memcpy(f + 60, &rl, 4);
	for (int i = 0; i < 2; i++) {
		struct state_rec r = { .id = (uint64_t)i + 5, .content = 9 };

		memcpy(f + 64 + i * 64, &r, 64);
	}
	crc = persist_crc(0, f, sizeof(f) - 4);
	memcpy(f + sizeof(f) - 4, &crc, 4);
	assert_int_equal(persist_expected_size(f, sizeof(f), &size, &why), 0);
	assert_int_equal(size, sizeof(f));
	assert_int_equal(persist_decode(f, sizeof(f), &a, &why), 0);
	assert_int_equal(a.sequence, 41);
	assert_int_equal(a.t[SNAP_ROUTES].n, 2);
	assert_int_equal(a.t[SNAP_ROUTES].r[1].id, 6);
	assert_int_equal(a.t[SNAP_RULES].n, 0);
	assert_int_equal(a.t[SNAP_NHOBJ].n, 0);
	acked_free(&a);
	{
		size_t n;
		uint8_t *g = good_file(&n);

		g[48 + 4 * 15] = 1; /* a table of a later version */
		refix_crc(g, n);
		expect_bad(g, n, "tables this version does not know");
		free(g);
	}
}

/* CRC-32C: the standard check value, hardware and table versions agree at every length and
 * alignment, and continuing over pieces equals one pass. */
static void test_crc32c(void **state)
{
	uint8_t buf[300];

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof(buf); n += 7)
			assert_int_equal(crc32c(0, buf + off, n), crc32c_sw(0, buf + off, n));
	assert_int_equal(crc32c(crc32c(0, buf, 100), buf + 100, 200), crc32c(0, buf, 300));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_property_reconstruct),
		cmocka_unit_test(test_uncollected_table_carries_over),
		cmocka_unit_test(test_noise_control),
		cmocka_unit_test(test_neighbour_volatility),
		cmocka_unit_test(test_property_unconfirmed_converges),
		cmocka_unit_test(test_merge_unconfirmed),
		cmocka_unit_test(test_codec_size_from_header),
		cmocka_unit_test(test_codec_refuses_damage),
		cmocka_unit_test(test_codec_reads_version_1),
		cmocka_unit_test(test_dump_digests_and_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
