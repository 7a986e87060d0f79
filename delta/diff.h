/*
 * diff: the delta between the current snapshot and the acknowledged state. Every kept record gets
 * its identity and content fingerprints (canon); records are sorted by identity and
 * merge-joined with the acknowledged state (sorted the same way on disk): added and changed records
 * are marked for the report (sent in full), vanished ones are listed by their persisted key. No
 * usable state means a full snapshot. The next acknowledged state is never materialised: it is the
 * merge of the old state with whatever a report actually carried, walked in identity order by
 * delta_next_state(), so a report split into parts can advance the state part by part.
 */
#ifndef NETINV_DIFF_H
#define NETINV_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include "snapshot.h"
#include "canon.h"

struct acked_table {
	struct state_rec *r; /* strictly ascending by id */
	uint32_t n;
};

/* The acknowledged state: what the server has accepted. */
struct acked_state {
	uint64_t sequence;    /* sequence number of the last accepted report */
	int64_t accepted_at;  /* server time of that acceptance (unix seconds), 0 = never */
	uint32_t keying;      /* enum canon_keying the identities were made with */
	uint32_t flags;       /* PERSIST_FLAG_* */
	/* per table in PERSIST_DIGESTED: the digest of the dump its records came from (0 = none), and
	 * whether it was the same in the commit before */
	uint64_t digest[SNAP_NTABLES];
	bool repeat[SNAP_NTABLES];
	struct acked_table t[SNAP_NTABLES];
	void *block;          /* one allocation behind every table */
	/* block is a read-only mapping of a state file, map_len bytes: its pages are given back as
	 * the diff walks past them (acked_drop) and come back from the page cache when read again,
	 * so a million-route state costs its window, not its size, in resident memory */
	size_t map_len;
};

/* Give back the resident pages wholly inside [from, to) of a mapped state (nothing otherwise). */
void acked_drop(const struct acked_state *a, const void *from, const void *to);

enum delta_kind { DELTA_UNCHANGED, DELTA_ADDED, DELTA_CHANGED };

struct delta_ent {
	uint64_t id;
	uint64_t content;
	uint32_t idx;     /* snapshot record */
	uint16_t ordinal; /* n-th record with the same key */
	uint8_t kind;     /* enum delta_kind */
	uint8_t sent;     /* carried by an accepted report */
};

struct delta_table {
	struct delta_ent *cur; /* kept records, ascending by id */
	uint32_t n;
	uint32_t *removed;     /* indexes into the acknowledged table, ascending */
	uint8_t *removed_sent;
	uint32_t n_removed;
	uint8_t *send;         /* per snapshot record: 1 = in the report */
	uint32_t added, changed, unchanged, filtered;
	bool carried;          /* not collected this run: the acknowledged records stay as they are */
	bool same;             /* carried because the dump was the same (unchanged: all of them) */
};

struct delta {
	struct delta_table t[SNAP_NTABLES];
	const struct acked_state *prev; /* NULL: full snapshot */
	bool full;
	/* per table, the digest of the dump this run's records came from (snap_table_stats.digest),
	 * set by the caller; 0 = none */
	uint64_t digest[SNAP_NTABLES];
};

/* prev NULL (or made with another keying) gives a full snapshot. Tables outside the mask (1 <<
 * SNAP_*) were not collected: nothing is reported for them and their acknowledged records carry
 * over untouched. 0 or -ENOMEM. */
int delta_build(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		unsigned int tables);
/* The same, with the tables in `same` known to be unchanged without being parsed (their dumps were
 * byte-identical to the ones prev was made from): carried over, every record counted unchanged.
 * -EINVAL when there is no usable prev to carry them from. */
int delta_build_same(struct delta *d, const struct canon_ctx *c, const struct acked_state *prev,
		     unsigned int tables, unsigned int same);
/* A full snapshot that will never be acknowledged (a dry run that commits nothing): every kept
 * record is sent, in snapshot order, without identities (cur[].id and content are 0, cur is not
 * sorted by id), which saves the hashing and the sort of a million records. Nothing that
 * acknowledges or persists (delta_next_state, delta_part_unconfirmed, delta_accept_part) may be
 * used on it. */
int delta_build_unkeyed(struct delta *d, const struct canon_ctx *c, unsigned int tables);
void delta_free(struct delta *d);
/* The diff's sort of entries by id (ties by snapshot index), either way it can run: through a
 * buffer of n entries, or in place (tables past 8 MiB of entries). Exposed for its test. */
int delta_sort_by_id(struct delta_ent *a, uint32_t n, bool in_place);
void delta_mark_all_sent(struct delta *d);
/* A report part was accepted: incl[t] marks the snapshot records it carried, rincl[t] the removals.
 * They become sent (and leave the send selection); unchanged records count as sent too. Returns
 * whether the part carried anything. */
bool delta_accept_part(struct delta *d, uint8_t *const incl[SNAP_NTABLES],
		       uint8_t *const rincl[SNAP_NTABLES]);

typedef int (*delta_emit_fn)(void *arg, enum snap_table t, const struct state_rec *r);
/* Walk the next acknowledged state, table by table in identity order. Returns the first non-zero
 * emit result, else 0. */
int delta_next_state(const struct delta *d, const struct canon_ctx *c, delta_emit_fn emit, void *arg);
/* The digest of table t the next state is to carry, and whether it repeats the acknowledged one:
 * this run's (d->digest[t]) when every record of the snapshot is in the next state (all sent, or
 * the dump was the same), the acknowledged one when the table was not collected, else 0. */
void delta_next_digest(const struct delta *d, enum snap_table t, uint64_t *digest, bool *repeat);
/* Record counts of the next state. */
void delta_next_counts(const struct delta *d, uint32_t count[SNAP_NTABLES]);

/* A report part is about to be sent: the records it carries, as the unconfirmed set that is made
 * durable first (a lost reply may still have been stored). Each upsert with its current
 * fingerprints and key, each removal as the acknowledged record, per table ascending by id, merged
 * with `also` (earlier unconfirmed reports not yet folded into the acknowledged state; NULL for
 * none). out is one allocation (acked_free). 0 or -ENOMEM. */
int delta_part_unconfirmed(const struct delta *d, const struct canon_ctx *c,
			   uint8_t *const incl[SNAP_NTABLES], uint8_t *const rincl[SNAP_NTABLES],
			   const struct acked_state *also, struct acked_state *out);
/* What the server may hold after reports whose replies were lost: the acknowledged state with every
 * record of u marked STATE_CONTENT_UNKNOWN (added when the acknowledged state lacks it). The next
 * delta against it sends each such record again if present, or its removal if gone, so the server
 * converges from either outcome. Replaces *a (same sequence, time and keying). 0 or -ENOMEM (a
 * untouched). */
int acked_merge_unconfirmed(struct acked_state *a, const struct acked_state *u);
void acked_free(struct acked_state *a);

#endif
