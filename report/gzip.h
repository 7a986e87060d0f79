/*
 * gzip: every gzip stream (RFC 1952) netinv makes. A JSON sink that deflates straight into a
 * stream written to a file descriptor, counting decoded and compressed bytes on the way (the server
 * limits both), with one fixed output buffer; and one whole buffer compressed into another (a
 * check-in part).
 */
#ifndef NETINV_GZIP_H
#define NETINV_GZIP_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

struct gz_out {
	z_stream z;
	int fd;
	int err;
	uint64_t in_bytes;  /* decoded */
	uint64_t out_bytes; /* compressed */
	unsigned char buf[1 << 15];
};

int gz_init(struct gz_out *g, int fd, int level);
/* json_flush_fn: ctx is the struct gz_out. */
int gz_sink(void *ctx, const void *p, size_t n);
/* Flush the stream's end and trailer; then release zlib's state. Returns 0 or -errno. */
int gz_finish(struct gz_out *g);
/* The most gz_buffer can write for len input bytes. */
size_t gz_bound(size_t len);
/* in[0..len) as one gzip stream into out (cap bytes, at least gz_bound(len)); *olen its length.
 * 0, -ENOMEM, or -ENOSPC when cap was too small. */
int gz_buffer(const void *in, size_t len, int level, void *out, size_t cap, size_t *olen);

#endif
