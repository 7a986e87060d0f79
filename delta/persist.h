/*
 * persist: the on-disk codec of the acknowledged state. Pure functions, no I/O: a 128-byte header
 * (magic, version, header and record sizes, sequence number, acceptance time, keying, flags, the
 * number of tables and the per-table counts), the records (64 bytes each: identity and content
 * fingerprints and the removal key),
 * tables in order and each strictly ascending by identity, and a CRC32 trailer over everything
 * before it (CRC-32C). Decoding trusts nothing: any wrong magic, version, size, count, order or checksum is an
 * error with a reason, which the caller turns into "no state, send a full snapshot".
 */
#ifndef NETINV_PERSIST_H
#define NETINV_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "diff.h"

#define PERSIST_MAGIC   "NINVSTAT"
/* Version 3 (0.7.0): version 2 with the digests of the route and neighbour dumps the records came
 * from. Version 2
 * (0.4.2): a 128-byte header with room for 16 table counts. Version 1 (up to 0.4.1: a 64-byte
 * header, five tables) is still read; its missing tables are empty. What an older version cannot
 * read costs it a full snapshot. */
#define PERSIST_VERSION 3
#define PERSIST_HDR_LEN 128
#define PERSIST_V1_HDR_LEN 64
#define PERSIST_MAX_TABLES 16
#define PERSIST_REC_LEN 64
/* A bound on what a state file may claim, far above the snapshot caps. */
#define PERSIST_MAX_RECS (1u << 24)
/* Header flags. FULL, in an unconfirmed-report file: that report was a full snapshot (the server
 * may have dropped everything it held), so the next report must be one too. */
#define PERSIST_FLAG_FULL 1u
/* Version 3: the route (neighbour) digest was the same in the commit before this one. */
#define PERSIST_FLAG_ROUTES_REPEAT 2u
#define PERSIST_FLAG_NEIGH_REPEAT 4u
#define PERSIST_FLAGS_KNOWN (PERSIST_FLAG_FULL | PERSIST_FLAG_ROUTES_REPEAT | PERSIST_FLAG_NEIGH_REPEAT)
/* The tables whose dumps are digested (the header has room for these two). */
#define PERSIST_DIGESTED ((1u << SNAP_ROUTES) | (1u << SNAP_NEIGH))

/* The same format holds the acknowledged state (acked.state) and the records of reports sent but
 * never confirmed (unconfirmed.state: sequence = the last one sent, accepted_at = when). */
struct persist_meta {
	uint64_t sequence;
	int64_t accepted_at;
	uint32_t keying;
	uint32_t flags;
	uint32_t count[SNAP_NTABLES];
	/* per table in PERSIST_DIGESTED: the digest of the dump its records came from (0 = none),
	 * and whether it was the same in the commit before (delta_next_digest) */
	uint64_t digest[SNAP_NTABLES];
	bool repeat[SNAP_NTABLES];
};

/* Total file size for these counts (header + records + CRC). */
uint64_t persist_size(const uint32_t count[SNAP_NTABLES]);
void persist_header(uint8_t out[PERSIST_HDR_LEN], const struct persist_meta *m);
/* CRC-32C (delta/crc32c.h), continued over another piece; start with 0. */
uint32_t persist_crc(uint32_t crc, const void *p, size_t n);

/* From the first bytes alone (up to PERSIST_HDR_LEN; a version-1 header is shorter): the size the
 * whole file must have (*size), or
 * -EBADMSG with *why. A reader checks this against the file's size before reading the rest. */
int persist_expected_size(const uint8_t *hdr, size_t len, uint64_t *size, const char **why);
/* From the header alone: the dump digests and whether each repeated (none in a version-2 file),
 * or -EBADMSG. Read before the dumps, to know whether a table may be the same; nothing is trusted
 * until the whole file is decoded. */
int persist_digests(const uint8_t *hdr, size_t len, uint64_t digest[SNAP_NTABLES],
		    bool repeat[SNAP_NTABLES]);
/* Decode a whole file image. 0, or -EBADMSG with *why set to a one-line reason; -ENOMEM. On
 * success out owns one allocation (acked_free). */
int persist_decode(const uint8_t *buf, size_t len, struct acked_state *out, const char **why);
/* The same; with take, the records stay in buf (a malloc'd block) and out owns it on success (on
 * failure buf is still the caller's). */
int persist_decode_owned(const uint8_t *buf, size_t len, struct acked_state *out, const char **why,
			 bool take);
/* The same for a read-only mapping of the file (mmap): checked in slices whose pages are given
 * back behind the check, and owned by out on success (acked_free unmaps it). */
int persist_decode_mapped(const uint8_t *buf, size_t len, struct acked_state *out, const char **why);

#endif
