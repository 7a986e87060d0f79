#include "hash.h"

#include <string.h>

/* Fingerprints are persisted: the same bytes must hash alike on every host, so reads are
 * little-endian whatever the CPU. */
static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* 64x64 -> 128-bit multiply folded to 64 bits: the mixing step of wyhash (public domain, Wang Yi),
 * one multiply per 16 input bytes. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull

uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ mum(seed ^ P0, (uint64_t)len ^ P1);
	uint8_t tail[16] = { 0 };

	while (len >= 16) {
		h = mum(rd64(p) ^ P1, rd64(p + 8) ^ h);
		p += 16;
		len -= 16;
	}
	if (len) {
		memcpy(tail, p, len);
		h = mum(rd64(tail) ^ P1, rd64(tail + 8) ^ h ^ P2);
	}
	return mum(h ^ P0, h ^ P2);
}
