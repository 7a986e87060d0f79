#include "gzip.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int drain(struct gz_out *g)
{
	size_t n = sizeof(g->buf) - g->z.avail_out;
	const unsigned char *p = g->buf;

	while (n) {
		ssize_t w = write(g->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		g->out_bytes += (uint64_t)w;
	}
	g->z.next_out = g->buf;
	g->z.avail_out = sizeof(g->buf);
	return 0;
}

int gz_init(struct gz_out *g, int fd, int level)
{
	memset(&g->z, 0, sizeof(g->z));
	g->fd = fd;
	g->err = 0;
	g->in_bytes = g->out_bytes = 0;
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
	if (deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
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
