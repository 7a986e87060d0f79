#include "persist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crc32c.h"

/* Header layout (little-endian, as every supported host is):
 *  0 magic[8]  8 version u32  12 header_len u32  16 sequence u64  24 accepted_at i64
 * 32 keying u32  36 flags u32 (PERSIST_FLAG_*)  40 count[5] u32  60 rec_len u32 */
struct hdr {
	char magic[8];
	uint32_t version, hdr_len;
	uint64_t sequence;
	int64_t accepted_at;
	uint32_t keying, flags;
	uint32_t count[SNAP_NTABLES];
	uint32_t rec_len;
};
_Static_assert(sizeof(struct hdr) == PERSIST_HDR_LEN, "state header is 64 bytes");

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
			 .rec_len = PERSIST_REC_LEN };

	memcpy(h.magic, PERSIST_MAGIC, 8);
	memcpy(h.count, m->count, sizeof(h.count));
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

int persist_expected_size(const uint8_t *hdr, size_t len, uint64_t *size, const char **why)
{
	struct hdr h;

	if (len < PERSIST_HDR_LEN) {
		*why = "shorter than its header";
		return -EBADMSG;
	}
	memcpy(&h, hdr, sizeof(h));
	if (memcmp(h.magic, PERSIST_MAGIC, 8)) {
		*why = "not a netinv state file (bad magic)";
		return -EBADMSG;
	}
	if (h.version != PERSIST_VERSION) {
		*why = "unsupported state format version";
		return -EBADMSG;
	}
	if (h.hdr_len != PERSIST_HDR_LEN || h.rec_len != PERSIST_REC_LEN) {
		*why = "unexpected header or record size";
		return -EBADMSG;
	}
	if (h.flags & ~PERSIST_FLAGS_KNOWN) {
		*why = "unknown header flags";
		return -EBADMSG;
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (h.count[t] > PERSIST_MAX_RECS) {
			*why = "record count out of range";
			return -EBADMSG;
		}
	}
	*size = persist_size(h.count);
	return 0;
}

int persist_decode_owned(const uint8_t *buf, size_t len, struct acked_state *out, const char **why,
			 bool take)
{
	struct hdr h;
	uint64_t total = 0, size;
	uint32_t crc, want;
	struct state_rec *recs;
	const uint8_t *p;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len < PERSIST_HDR_LEN + 4) {
		*why = "shorter than its header";
		return -EBADMSG;
	}
	if (persist_expected_size(buf, len, &size, why) < 0)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	for (int t = 0; t < SNAP_NTABLES; t++)
		total += h.count[t];
	if (size != len) {
		*why = "length does not match its record counts (truncated or padded)";
		return -EBADMSG;
	}
	memcpy(&want, buf + len - 4, 4);
	crc = persist_crc(0, buf, len - 4);
	if (crc != want) {
		*why = "checksum mismatch (corrupted)";
		return -EBADMSG;
	}
	if (take) {
		/* records start 64 bytes into a malloc'd block: aligned for their u64 fields */
		recs = (struct state_rec *)(uintptr_t)(buf + PERSIST_HDR_LEN);
	} else {
		recs = malloc(total ? total * sizeof(*recs) : 1);
		if (!recs)
			return -ENOMEM;
		memcpy(recs, buf + PERSIST_HDR_LEN, total * sizeof(*recs));
	}
	p = (const uint8_t *)recs;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct acked_table *at = &out->t[t];

		at->r = (struct state_rec *)p;
		at->n = h.count[t];
		for (uint32_t i = 1; i < at->n; i++) {
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
	out->block = take ? (void *)(uintptr_t)buf : (void *)recs;
	out->sequence = h.sequence;
	out->accepted_at = h.accepted_at;
	out->keying = h.keying;
	out->flags = h.flags;
	return 0;
}
