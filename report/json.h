/*
 * json: a streaming JSON writer into a caller-owned buffer that is flushed to a sink (a file
 * descriptor now, the gzip stream for check-ins) whenever it fills. No tree, no allocation, no printf
 * per field: numbers, IPv4 addresses and link-layer addresses are formatted by hand, strings are
 * escaped with UTF-8 validation (invalid sequences become U+FFFD, so interface or process names with
 * arbitrary bytes still give valid JSON). Pretty (2-space indent) or compact. The first sink error
 * sticks in w->err and later calls do nothing.
 */
#ifndef NETINV_JSON_H
#define NETINV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JSON_MAX_DEPTH 32
/* The largest single item the writer formats at once is well under this (a 256-byte string chunk,
 * a 32-byte link-layer address as hex, indentation at full depth); a smaller buffer is refused. */
#define JSON_MIN_BUF 512

typedef int (*json_flush_fn)(void *ctx, const void *p, size_t n);

struct json_w {
	char *buf;
	size_t len, cap;
	json_flush_fn flush;
	void *ctx;
	int err;
	uint64_t total; /* bytes handed to the sink */
	bool pretty;
	bool after_key;
	int depth;
	bool first[JSON_MAX_DEPTH + 1];
};

/* cap below JSON_MIN_BUF sets w->err = -EINVAL and the writer does nothing. */
void json_init(struct json_w *w, char *buf, size_t cap, json_flush_fn flush, void *ctx, bool pretty);
void json_obj_begin(struct json_w *w);
void json_obj_end(struct json_w *w);
void json_arr_begin(struct json_w *w);
void json_arr_end(struct json_w *w);
/* The hot path, inline (a million-route report writes some twenty million keys and values): room
 * for n bytes (n far below cap), and what goes before a value (a comma, pretty indentation). The
 * rest of the writer is in json.c. */
#define JSON_INLINE static inline __attribute__((always_inline))

char *json__room_slow(struct json_w *w, size_t n);
void json__newline(struct json_w *w);
size_t json__fmt_u64(char *out, uint64_t v);

JSON_INLINE char *json__room(struct json_w *w, size_t n)
{
	if (__builtin_expect(w->len + n <= w->cap && !w->err, 1))
		return w->buf + w->len;
	return json__room_slow(w, n);
}

JSON_INLINE void json__pre(struct json_w *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth) {
		if (!w->first[w->depth]) {
			*json__room(w, 1) = ',';
			w->len++;
		}
		w->first[w->depth] = false;
		if (w->pretty)
			json__newline(w);
	}
}

/* '"', copy bytes of s (n of them the string's), '"', and after a key ':' (and a space when
 * pretty). copy and key are constants at every call. */
JSON_INLINE void json__quote(struct json_w *w, const char *s, size_t n, size_t copy, bool key)
{
	char *p;

	json__pre(w);
	p = json__room(w, copy + 4);
	p[0] = '"';
	__builtin_memcpy(p + 1, s, copy);
	p[n + 1] = '"';
	if (!key) {
		w->len += n + 2;
		return;
	}
	p[n + 2] = ':';
	p[n + 3] = ' ';
	w->len += n + 3 + (size_t)w->pretty;
	w->after_key = true;
}

/* Keys are the writer's own literals: plain ASCII, never escaped. json_key takes the length at
 * compile time. */
JSON_INLINE void json_keyn(struct json_w *w, const char *k, size_t n)
{
	json__quote(w, k, n, n, true);
}
#define json_key(w, k) json_keyn((w), (k), __builtin_strlen(k))

/* A string known to need no escaping (the writer's own names and enumerations), copied as is. */
JSON_INLINE void json_lit(struct json_w *w, const char *s, size_t n)
{
	json__quote(w, s, n, n, false);
}

/* The same for a string of n bytes held in a buffer of (at least) cap bytes, cap a constant: the
 * whole buffer is copied, a fixed-size copy being cheaper than one of the string's own length. */
JSON_INLINE void json_lit_in(struct json_w *w, const char *s, size_t n, size_t cap)
{
	json__quote(w, s, n, cap, false);
}

void json_str(struct json_w *w, const char *s);
void json_strn(struct json_w *w, const char *s, size_t n);

JSON_INLINE void json_u64(struct json_w *w, uint64_t v)
{
	char *p;

	json__pre(w);
	p = json__room(w, 20);
	if (v < 10) {
		*p = (char)('0' + v);
		w->len++;
		return;
	}
	w->len += json__fmt_u64(p, v);
}
void json_i64(struct json_w *w, int64_t v);
/* v / 1000 with three decimals (milliseconds from microseconds). */
void json_milli(struct json_w *w, uint64_t v);
void json_bool(struct json_w *w, bool v);
void json_null(struct json_w *w);
void json_ip(struct json_w *w, uint8_t family, const uint8_t *a);
void json_cidr(struct json_w *w, uint8_t family, const uint8_t *a, uint8_t plen);
/* Colon-separated hex of any length ("aa:bb:..."), or null for len 0. */
void json_hex(struct json_w *w, const uint8_t *b, size_t len);
/* UTC as "YYYY-MM-DDTHH:MM:SSZ". */
void json_time(struct json_w *w, time_t t);

/* A key and its value in one call. k is always a literal (its length is a compile-time constant);
 * key_str's value is one of netinv's own names (libnl's tables, enumerations): plain ASCII, copied
 * without escaping. */
#define key_str(w, k, v)                                                                           \
	do {                                                                                       \
		const char *v_ = (v);                                                              \
		json_key(w, k);                                                                    \
		json_lit(w, v_, strlen(v_));                                                       \
	} while (0)
#define key_u64(w, k, v)                                                                           \
	do {                                                                                       \
		json_key(w, k);                                                                    \
		json_u64(w, v);                                                                    \
	} while (0)
#define key_bool(w, k, v)                                                                          \
	do {                                                                                       \
		json_key(w, k);                                                                    \
		json_bool(w, v);                                                                   \
	} while (0)

/* A key and a string value, or null when the value is NULL or "". */
void json_key_str_or_null(struct json_w *w, const char *k, size_t klen, const char *v);

/* Flush whatever is buffered; returns w->err. */
int json_finish(struct json_w *w);

/* Text forms shared with tests: return the length written into out (>= 46 bytes). */
size_t fmt_ip(char *out, uint8_t family, const uint8_t *a);

/* Sink that writes to a file descriptor (ctx = pointer to int fd). */
int json_fd_sink(void *ctx, const void *p, size_t n);
/* All n bytes to fd, across short writes and EINTR: 0 or -errno (errno left set). The one write
 * loop of netinv: reports, gzip streams, state files and command scripts all go through it. */
int json_write_all(int fd, const void *p, size_t n);

#endif
