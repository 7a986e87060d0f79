#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

void json_init(struct json_w *w, char *buf, size_t cap, json_flush_fn flush, void *ctx, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->flush = flush;
	w->ctx = ctx;
	w->pretty = pretty;
	w->first[0] = true;
	if (cap < JSON_MIN_BUF) {
		w->err = -EINVAL;
		w->cap = 0;
	}
}

static void drain(struct json_w *w)
{
	if (w->len && !w->err) {
		int r = w->flush(w->ctx, w->buf, w->len);

		if (r < 0)
			w->err = r;
		else
			w->total += w->len;
	}
	w->len = 0;
}

/* room() when the buffer is full or the writer failed. */
char *json__room_slow(struct json_w *w, size_t n)
{
	if (w->len + n > w->cap)
		drain(w);
	/* After an error (or with a refused buffer) keep writing into a scratch area: callers never
	 * check per call, and nothing reaches the sink any more. */
	if (w->err) {
		static char scratch[JSON_MIN_BUF];

		w->len = 0;
		return scratch;
	}
	return w->buf + w->len;
}

static inline char *room(struct json_w *w, size_t n)
{
	return json__room(w, n);
}

static inline void put(struct json_w *w, const char *p, size_t n)
{
	memcpy(room(w, n), p, n);
	w->len += n;
}

static inline void putc1(struct json_w *w, char c)
{
	*room(w, 1) = c;
	w->len++;
}

void json__newline(struct json_w *w)
{
	char *p = room(w, 1 + (size_t)w->depth * 2);

	*p++ = '\n';
	memset(p, ' ', (size_t)w->depth * 2);
	w->len += 1 + (size_t)w->depth * 2;
}

static inline void pre_value(struct json_w *w)
{
	json__pre(w);
}

static void open_(struct json_w *w, char c)
{
	pre_value(w);
	putc1(w, c);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->err = -E2BIG;
		return;
	}
	w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct json_w *w, char c)
{
	bool empty;

	if (w->depth <= 0) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	empty = w->first[w->depth];
	w->depth--;
	if (w->pretty && !empty)
		json__newline(w);
	putc1(w, c);
}

void json_obj_begin(struct json_w *w)
{
	open_(w, '{');
}
void json_obj_end(struct json_w *w)
{
	close_(w, '}');
}
void json_arr_begin(struct json_w *w)
{
	open_(w, '[');
}
void json_arr_end(struct json_w *w)
{
	close_(w, ']');
}


/* Length of a valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), 0 if
 * invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0;
		if (c == 0xed && p[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0;
		if (c == 0xf4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

void json_strn(struct json_w *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	pre_value(w);
	putc1(w, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t run = i;

		/* Copy the longest plain run at once. */
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
			run++;
		while (i < run) {
			size_t chunk = run - i > 256 ? 256 : run - i;

			put(w, (const char *)p + i, chunk);
			i += chunk;
		}
		if (i >= n)
			break;
		c = p[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			put(w, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			switch (c) {
			case '\n':
				put(w, "\\n", 2);
				break;
			case '\t':
				put(w, "\\t", 2);
				break;
			case '\r':
				put(w, "\\r", 2);
				break;
			default:
				put(w, e, 6);
			}
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i);

			if (l) {
				put(w, (const char *)p + i, l);
				i += l;
			} else {
				put(w, "\\ufffd", 6);
				i++;
			}
		}
	}
	putc1(w, '"');
}


void json_str(struct json_w *w, const char *s)
{
	json_strn(w, s, strlen(s));
}

size_t json__fmt_u64(char *out, uint64_t v)
{
	/* two digits a division */
	static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536"
				 "37383940414243444546474849505152535455565758596061626364656667686970717273"
				 "7475767778798081828384858687888990919293949596979899";
	char tmp[20];
	size_t n = sizeof(tmp);

	while (v >= 100) {
		n -= 2;
		memcpy(tmp + n, d2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		n -= 2;
		memcpy(tmp + n, d2 + 2 * v, 2);
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(out, tmp + n, sizeof(tmp) - n);
	return sizeof(tmp) - n;
}


void json_i64(struct json_w *w, int64_t v)
{
	if (v < 0) {
		pre_value(w);
		putc1(w, '-');
		w->len += json__fmt_u64(room(w, 20), (uint64_t)0 - (uint64_t)v);
		return;
	}
	json_u64(w, (uint64_t)v);
}

void json_milli(struct json_w *w, uint64_t v)
{
	char *p;
	size_t n;

	pre_value(w);
	p = room(w, 24);
	n = json__fmt_u64(p, v / 1000);
	p[n++] = '.';
	p[n++] = (char)('0' + (v / 100) % 10);
	p[n++] = (char)('0' + (v / 10) % 10);
	p[n++] = (char)('0' + v % 10);
	w->len += n;
}

void json_bool(struct json_w *w, bool v)
{
	pre_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void json_null(struct json_w *w)
{
	pre_value(w);
	put(w, "null", 4);
}

/* Decimal text of every octet, for IPv4 without a division per digit. */
static char octet_txt[256][4];
static uint8_t octet_len[256];

static void octets_init(void)
{
	if (octet_len[0])
		return;
	for (int i = 0; i < 256; i++)
		octet_len[i] = (uint8_t)snprintf(octet_txt[i], 4, "%d", i);
}

static size_t fmt_ip4(char *out, const uint8_t *a)
{
	size_t n = 0;

	octets_init();
	for (int i = 0; i < 4; i++) {
		if (i)
			out[n++] = '.';
		memcpy(out + n, octet_txt[a[i]], 4);
		n += octet_len[a[i]];
	}
	out[n] = 0;
	return n;
}

/* IPv6 as glibc's inet_ntop writes it (RFC 5952: lower case, no leading zeros, the longest run of
 * two or more zero groups, the first of equals, as "::"; ::ffff:a.b.c.d and ::a.b.c.d with the
 * last 32 bits dotted), without its sprintf per group. */
static size_t fmt_ip6(char *out, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned g[8];
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	size_t n = 0;

	for (int i = 0; i < 8; i++) {
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		if (!g[i]) {
			if (cur < 0)
				cur = i, cur_len = 0;
			if (++cur_len > best_len)
				best = cur, best_len = cur_len;
		} else {
			cur = -1;
		}
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				out[n++] = ':';
			continue;
		}
		if (i)
			out[n++] = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff)))
			return n + fmt_ip4(out + n, a + 12);
		for (int sh = 12, lead = 1; sh >= 0; sh -= 4) {
			unsigned d = g[i] >> sh & 15;

			if (d || !lead || !sh) {
				out[n++] = hex[d];
				lead = 0;
			}
		}
	}
	if (best >= 0 && best + best_len == 8)
		out[n++] = ':';
	out[n] = 0;
	return n;
}

size_t fmt_ip(char *out, uint8_t family, const uint8_t *a)
{
	return family == AF_INET ? fmt_ip4(out, a) : fmt_ip6(out, a);
}

void json_ip(struct json_w *w, uint8_t family, const uint8_t *a)
{
	char *p;

	pre_value(w);
	p = room(w, 48);
	*p = '"';
	w->len += 1 + fmt_ip(p + 1, family, a);
	putc1(w, '"');
}

void json_cidr(struct json_w *w, uint8_t family, const uint8_t *a, uint8_t plen)
{
	char *p;
	size_t n;

	pre_value(w);
	p = room(w, 56);
	*p = '"';
	n = 1 + fmt_ip(p + 1, family, a);
	p[n++] = '/';
	n += json__fmt_u64(p + n, plen);
	p[n++] = '"';
	w->len += n;
}

void json_hex(struct json_w *w, const uint8_t *b, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *p;
	size_t n = 0;

	if (!len) {
		json_null(w);
		return;
	}
	pre_value(w);
	p = room(w, len * 3 + 2);
	p[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (i)
			p[n++] = ':';
		p[n++] = hex[b[i] >> 4];
		p[n++] = hex[b[i] & 15];
	}
	p[n++] = '"';
	w->len += n;
}

void json_time(struct json_w *w, time_t t)
{
	struct tm tm;
	char b[32];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_lit(w, b, strlen(b));
}

int json_finish(struct json_w *w)
{
	if (!w->err)
		putc1(w, '\n'); /* JSON allows trailing white space; files and terminals want it */
	drain(w);
	return w->err;
}

int json_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = write(fd, c, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

int json_fd_sink(void *ctx, const void *p, size_t n)
{
	return json_write_all(*(int *)ctx, p, n);
}

void json_key_str_or_null(struct json_w *w, const char *k, size_t klen, const char *v)
{
	json_keyn(w, k, klen);
	if (v && *v)
		json_str(w, v);
	else
		json_null(w);
}
