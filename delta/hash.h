/*
 * hash: a fast 64-bit non-cryptographic hash for fingerprints (table stability checks now, identity
 * and content fingerprints of the acknowledged state later). Stable across runs and hosts: no seed
 * from the environment, little-endian reads regardless of alignment.
 */
#ifndef NETINV_HASH_H
#define NETINV_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *p, size_t len, uint64_t seed);

static inline uint64_t hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h;
}

#endif
