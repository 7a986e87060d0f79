/*
 * util: small helpers for collector/: a strict bounded integer parser (no sign, no spaces, no
 * trailing garbage, no overflow), a monotonic clock, and a bounded read of a small file.
 */
#ifndef NETINV_UTIL_H
#define NETINV_UTIL_H

#include <stddef.h>
#include <stdint.h>

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
uint64_t mono_us(void);
/* Read at most cap-1 bytes of a regular file (no symlink at the last component), NUL-terminate,
 * strip one trailing newline. -errno on failure, -EFBIG when larger than cap-1. */
int read_small_file(int dirfd, const char *path, char *buf, size_t cap);
int valid_uuid(const char *s);

#endif
