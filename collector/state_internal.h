/*
 * state_internal: what the store's files (state.c, state_acked.c) share and nothing else sees:
 * the atomic write (temp file, fsync, rename, fsync of the directory) with its buffered, CRC-keeping
 * writer, and the error helper.
 */
#ifndef NETINV_STATE_INTERNAL_H
#define NETINV_STATE_INTERNAL_H

#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wbuf {
	int fd;
	int err;
	uint32_t crc;
	size_t len;
	uint8_t b[1 << 16];
};

typedef int (*state_fill_fn)(struct wbuf *w, void *arg);

/* Append to the temp file being written; crc: count the bytes in w->crc. Errors stick in w->err. */
void state_wb_put(struct wbuf *w, const void *p, size_t n, bool crc);
/* temp (O_EXCL, 0600) -> fill -> fsync -> rename over name -> fsync(dir). 0 or -errno; on failure
 * the temp file is removed and the old file is untouched. */
int state_write_atomic(struct state_dir *sd, const char *name, state_fill_fn fill, void *arg);
/* Add a one-line note for the caller to log (sd->note, "; " between notes; cut when full). */
void state_note(struct state_dir *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Format err and return e. */
enum state_err state_fail(char *err, size_t errlen, enum state_err e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
