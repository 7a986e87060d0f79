#include "hash.h"

#include <string.h>

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v); /* fingerprints are persisted: same value on every host */
#endif
	return v;
}

static inline uint64_t fmix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
	uint8_t tail[8] = { 0 };

	while (len >= 8) {
		h ^= fmix(rd64(p));
		h = (h << 27 | h >> 37) * 0x9e3779b97f4a7c15ull + 0x52dce729;
		p += 8;
		len -= 8;
	}
	if (len) {
		memcpy(tail, p, len);
		h ^= fmix(rd64(tail));
		h = (h << 27 | h >> 37) * 0x9e3779b97f4a7c15ull + 0x52dce729;
	}
	return fmix(h);
}
