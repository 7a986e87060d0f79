#include "persist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crc32c.h"

/* Header layout (little-endian, as every supported host is), version 3:
 *  0 magic[8]  8 version u32  12 header_len u32  16 sequence u64  24 accepted_at i64
 * 32 keying u32  36 flags u32 (PERSIST_FLAG_*)  40 rec_len u32  44 ntables u32
 * 48 count[16] u32  112 route_digest u64  120 neigh_digest u64; flags 2 and 4 say whether
 * each digest was the same in the commit before.
 * Version 2: the same, with 112-127 reserved (zero) and flag 1 only.
 * Version 1: the same up to 40, then count[5] u32 at 40 and rec_len u32 at 60. */
struct hdr {
	char magic[8];
	uint32_t version, hdr_len;
	uint64_t sequence;
	int64_t accepted_at;
	uint32_t keying, flags;
	uint32_t rec_len, ntables;
	uint32_t count[PERSIST_MAX_TABLES];
	uint64_t route_digest;
	uint64_t neigh_digest;
};
_Static_assert(sizeof(struct hdr) == PERSIST_HDR_LEN, "state header is 128 bytes");
_Static_assert(SNAP_NTABLES <= PERSIST_MAX_TABLES, "room for every table's count");

struct hdr_v1 {
	char magic[8];
	uint32_t version, hdr_len;
	uint64_t sequence;
	int64_t accepted_at;
	uint32_t keying, flags;
	uint32_t count[5];
	uint32_t rec_len;
};
_Static_assert(sizeof(struct hdr_v1) == PERSIST_V1_HDR_LEN, "version 1 header is 64 bytes");

uint64_t persist_size(const uint32_t count[SNAP_NTABLES])
{
	uint64_t n = 0;

	for (int t = 0; t < SNAP_NTABLES; t++)
		n += count[t];
	return PERSIST_HDR_LEN + n * PERSIST_REC_LEN + 4;
}

void persist_header(uint8_t out[PERSIST_HDR_LEN], const struct persist_meta *m)
{
	struct hdr h = { .version = PERSIST_VERSION,
			 .hdr_len = PERSIST_HDR_LEN,
			 .sequence = m->sequence,
			 .accepted_at = m->accepted_at,
			 .keying = m->keying,
			 .flags = m->flags,
			 .route_digest = m->digest[SNAP_ROUTES],
			 .neigh_digest = m->digest[SNAP_NEIGH],
			 .rec_len = PERSIST_REC_LEN,
			 .ntables = SNAP_NTABLES };

	memcpy(h.magic, PERSIST_MAGIC, 8);
	memcpy(h.count, m->count, sizeof(m->count));
	h.flags &= ~(PERSIST_FLAG_ROUTES_REPEAT | PERSIST_FLAG_NEIGH_REPEAT);
	if (h.route_digest && m->repeat[SNAP_ROUTES])
		h.flags |= PERSIST_FLAG_ROUTES_REPEAT;
	if (h.neigh_digest && m->repeat[SNAP_NEIGH])
		h.flags |= PERSIST_FLAG_NEIGH_REPEAT;
	memcpy(out, &h, sizeof(h));
}

uint32_t persist_crc(uint32_t crc, const void *p, size_t n)
{
	return crc32c(crc, p, n);
}

int persist_decode(const uint8_t *buf, size_t len, struct acked_state *out, const char **why)
{
	return persist_decode_owned(buf, len, out, why, false);
}

/* Either version's header, as version 2 (counts of tables a version-1 file lacks are 0). */
static int read_header(const uint8_t *p, size_t len, struct hdr *h, const char **why)
{
	uint32_t version;

	memset(h, 0, sizeof(*h));
	if (len < PERSIST_V1_HDR_LEN) {
		*why = "shorter than its header";
		return -EBADMSG;
	}
	if (memcmp(p, PERSIST_MAGIC, 8)) {
		*why = "not a netinv state file (bad magic)";
		return -EBADMSG;
	}
	memcpy(&version, p + 8, 4);
	if (version == 1) {
		struct hdr_v1 v;

		memcpy(&v, p, sizeof(v));
		if (v.hdr_len != PERSIST_V1_HDR_LEN || v.rec_len != PERSIST_REC_LEN) {
			*why = "unexpected header or record size";
			return -EBADMSG;
		}
		memcpy(h->magic, v.magic, 8);
		h->version = 1;
		h->hdr_len = v.hdr_len;
		h->sequence = v.sequence;
		h->accepted_at = v.accepted_at;
		h->keying = v.keying;
		h->flags = v.flags;
		h->rec_len = v.rec_len;
		h->ntables = 5;
		memcpy(h->count, v.count, sizeof(v.count));
	} else if (version == 2 || version == PERSIST_VERSION) {
		if (len < PERSIST_HDR_LEN) {
			*why = "shorter than its header";
			return -EBADMSG;
		}
		memcpy(h, p, sizeof(*h));
		if (h->hdr_len != PERSIST_HDR_LEN || h->rec_len != PERSIST_REC_LEN) {
			*why = "unexpected header or record size";
			return -EBADMSG;
		}
		if (h->ntables > PERSIST_MAX_TABLES || h->ntables < 5) {
			*why = "table count out of range";
			return -EBADMSG;
		}
		for (unsigned t = SNAP_NTABLES; t < PERSIST_MAX_TABLES; t++)
			if (h->count[t]) {
				/* tables of a later version: this one cannot keep them */
				*why = "holds tables this version does not know";
				return -EBADMSG;
			}
		/* version 2 reserved what version 3 keeps the digests in */
		if ((version == 2 && (h->route_digest || h->neigh_digest ||
				      (h->flags & ~PERSIST_FLAG_FULL))) ||
		    (!h->route_digest && (h->flags & PERSIST_FLAG_ROUTES_REPEAT)) ||
		    (!h->neigh_digest && (h->flags & PERSIST_FLAG_NEIGH_REPEAT))) {
			*why = "unexpected header contents";
			return -EBADMSG;
		}
	} else {
		*why = "unsupported state format version";
		return -EBADMSG;
	}
	if (h->flags & ~PERSIST_FLAGS_KNOWN) {
		*why = "unknown header flags";
		return -EBADMSG;
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (h->count[t] > PERSIST_MAX_RECS) {
			*why = "record count out of range";
			return -EBADMSG;
		}
	}
	return 0;
}

static uint64_t file_size(const struct hdr *h)
{
	uint64_t n = 0;

	for (int t = 0; t < SNAP_NTABLES; t++)
		n += h->count[t];
	return h->hdr_len + n * PERSIST_REC_LEN + 4;
}

static void header_digests(const struct hdr *h, uint64_t digest[SNAP_NTABLES], bool repeat[SNAP_NTABLES])
{
	memset(digest, 0, SNAP_NTABLES * sizeof(*digest));
	memset(repeat, 0, SNAP_NTABLES * sizeof(*repeat));
	digest[SNAP_ROUTES] = h->route_digest;
	digest[SNAP_NEIGH] = h->neigh_digest;
	repeat[SNAP_ROUTES] = h->flags & PERSIST_FLAG_ROUTES_REPEAT;
	repeat[SNAP_NEIGH] = h->flags & PERSIST_FLAG_NEIGH_REPEAT;
}

int persist_digests(const uint8_t *hdr, size_t len, uint64_t digest[SNAP_NTABLES],
		    bool repeat[SNAP_NTABLES])
{
	const char *why;
	struct hdr h;

	if (read_header(hdr, len, &h, &why) < 0)
		return -EBADMSG;
	header_digests(&h, digest, repeat);
	return 0;
}

int persist_expected_size(const uint8_t *hdr, size_t len, uint64_t *size, const char **why)
{
	struct hdr h;

	if (read_header(hdr, len, &h, why) < 0)
		return -EBADMSG;
	*size = file_size(&h);
	return 0;
}

/* The resident pages of a mapped state are given back every this many bytes walked. */
#define DROP_SLICE (2u << 20)

enum decode_mode { DECODE_COPY, DECODE_TAKE, DECODE_MAPPED };

static int decode(const uint8_t *buf, size_t len, struct acked_state *out, const char **why,
		  enum decode_mode mode);

int persist_decode_owned(const uint8_t *buf, size_t len, struct acked_state *out, const char **why,
			 bool take)
{
	return decode(buf, len, out, why, take ? DECODE_TAKE : DECODE_COPY);
}

int persist_decode_mapped(const uint8_t *buf, size_t len, struct acked_state *out, const char **why)
{
	return decode(buf, len, out, why, DECODE_MAPPED);
}

static int decode(const uint8_t *buf, size_t len, struct acked_state *out, const char **why,
		  enum decode_mode mode)
{
	bool take = mode != DECODE_COPY;
	struct acked_state m = { .block = (void *)(uintptr_t)buf, .map_len = len };
	struct hdr h;
	uint64_t total = 0;
	uint32_t crc, want;
	struct state_rec *recs;
	const uint8_t *p;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (read_header(buf, len, &h, why) < 0)
		return -EBADMSG;
	for (int t = 0; t < SNAP_NTABLES; t++)
		total += h.count[t];
	if (file_size(&h) != len) {
		*why = "length does not match its record counts (truncated or padded)";
		return -EBADMSG;
	}
	memcpy(&want, buf + len - 4, 4);
	if (mode == DECODE_MAPPED) {
		crc = 0;
		for (size_t off = 0; off < len - 4; off += DROP_SLICE) {
			size_t n = len - 4 - off < DROP_SLICE ? len - 4 - off : DROP_SLICE;

			crc = persist_crc(crc, buf + off, n);
			acked_drop(&m, buf + off, buf + off + n);
		}
	} else {
		crc = persist_crc(0, buf, len - 4);
	}
	if (crc != want) {
		*why = "checksum mismatch (corrupted)";
		return -EBADMSG;
	}
	if (take) {
		/* records start 64 or 128 bytes into a malloc'd block: aligned for their u64 fields */
		recs = (struct state_rec *)(uintptr_t)(buf + h.hdr_len);
	} else {
		recs = malloc(total ? total * sizeof(*recs) : 1);
		if (!recs)
			return -ENOMEM;
		memcpy(recs, buf + h.hdr_len, total * sizeof(*recs));
	}
	p = (const uint8_t *)recs;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct acked_table *at = &out->t[t];

		at->r = (struct state_rec *)p;
		at->n = h.count[t];
		for (uint32_t i = 1; i < at->n; i++) {
			if (mode == DECODE_MAPPED && i % (DROP_SLICE / sizeof(struct state_rec)) == 0)
				acked_drop(&m, &at->r[i - DROP_SLICE / sizeof(struct state_rec)], &at->r[i]);
			if (at->r[i - 1].id >= at->r[i].id) {
				if (!take)
					free(recs);
				memset(out, 0, sizeof(*out));
				*why = "records out of order";
				return -EBADMSG;
			}
		}
		p += (size_t)at->n * sizeof(struct state_rec);
	}
	if (mode == DECODE_MAPPED)
		acked_drop(&m, buf, buf + len);
	out->block = take ? (void *)(uintptr_t)buf : (void *)recs;
	out->map_len = mode == DECODE_MAPPED ? len : 0;
	out->sequence = h.sequence;
	out->accepted_at = h.accepted_at;
	out->keying = h.keying;
	out->flags = h.flags & PERSIST_FLAG_FULL;
	header_digests(&h, out->digest, out->repeat);
	return 0;
}
