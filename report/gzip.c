#include "gzip.h"
#include "json.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int drain(struct gz_out *g)
{
	size_t n = sizeof(g->buf) - g->z.avail_out;
	int r = json_write_all(g->fd, g->buf, n);

	if (r < 0)
		return r;
	g->out_bytes += n;
	g->z.next_out = g->buf;
	g->z.avail_out = sizeof(g->buf);
	return 0;
}

static int gz_stream(z_stream *z, int level)
{
	memset(z, 0, sizeof(*z));
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
	return deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -ENOMEM;
}

int gz_init(struct gz_out *g, int fd, int level)
{
	g->fd = fd;
	g->err = 0;
	g->in_bytes = g->out_bytes = 0;
	if (gz_stream(&g->z, level) < 0)
		return -ENOMEM;
	g->z.next_out = g->buf;
	g->z.avail_out = sizeof(g->buf);
	return 0;
}

int gz_sink(void *ctx, const void *p, size_t n)
{
	struct gz_out *g = ctx;

	if (g->err)
		return g->err;
	g->z.next_in = (unsigned char *)(uintptr_t)p;
	g->z.avail_in = (uInt)n;
	g->in_bytes += n;
	while (g->z.avail_in) {
		if (deflate(&g->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
			return g->err = -EIO;
		if (g->z.avail_out == 0 && (g->err = drain(g)) < 0)
			return g->err;
	}
	return 0;
}

int gz_finish(struct gz_out *g)
{
	int r;

	while (!g->err) {
		r = deflate(&g->z, Z_FINISH);
		if (r == Z_STREAM_ERROR) {
			g->err = -EIO;
			break;
		}
		if ((g->err = drain(g)) < 0)
			break;
		if (r == Z_STREAM_END)
			break;
	}
	deflateEnd(&g->z);
	return g->err;
}

size_t gz_bound(size_t len)
{
	/* zlib's bound plus the gzip header and trailer in place of zlib's two-byte header and
	 * four-byte trailer */
	return (size_t)compressBound((uLong)len) + 32;
}

int gz_buffer(const void *in, size_t len, int level, void *out, size_t cap, size_t *olen)
{
	z_stream z;
	int r;

	if (gz_stream(&z, level) < 0)
		return -ENOMEM;
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	*olen = cap - z.avail_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -ENOSPC;
}
