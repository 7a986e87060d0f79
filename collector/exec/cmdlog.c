#include "cmdlog.h"
#include "../state.h"
#include "../util.h"
#include "../../delta/crc32c.h"
#include "../../report/json.h"
#include "../../report/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const cmd_status_names[] = {
    [CMD_STARTED] = "started", [CMD_COMPLETED] = "completed",	  [CMD_REFUSED] = "refused",
    [CMD_FAILED] = "failed",   [CMD_INTERRUPTED] = "interrupted",
};

#define MAGIC	 "NICMDJ1\n"
#define HDR_LEN	 16

/* Per entry: fixed part, then id, name, reason, out, err. */
struct rec {
	uint8_t id_len, name_len, status, flags;
	int32_t exit_code;
	int32_t signal;
	uint32_t duration_ms;
	int64_t at;
	uint16_t reason_len;
	uint16_t pad;
	uint32_t out_len;
	uint32_t err_len;
};

enum { F_DELIVERED = 1, F_TIMED_OUT = 2, F_OUT_TRUNC = 4, F_ERR_TRUNC = 8 };

static void entry_free(struct cmd_entry *e)
{
	free(e->out);
	free(e->err);
	e->out = e->err = NULL;
	e->out_len = e->err_len = 0;
}

void cmdlog_free(struct cmdlog *l)
{
	for (unsigned i = 0; i < l->n; i++)
		entry_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct cmd_entry *cmdlog_find(struct cmdlog *l, const char *id)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].id, id))
			return &l->v[i];
	return NULL;
}

struct cmd_entry *cmdlog_add(struct cmdlog *l, const char *id, const char *name)
{
	struct cmd_entry *e;

	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 16;
		struct cmd_entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->status = CMD_STARTED;
	e->exit_code = -1;
	e->at = (int64_t)time(NULL);
	return e;
}

void cmd_entry_reason(struct cmd_entry *e, enum cmd_status st, const char *fmt, ...)
{
	va_list ap;

	e->status = (uint8_t)st;
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

int cmdlog_encode(const struct cmdlog *l, char **buf, size_t *len)
{
	size_t n = HDR_LEN + 4;
	char *b, *p;
	uint32_t cnt = l->n, zero = 0, crc;

	for (unsigned i = 0; i < l->n; i++) {
		const struct cmd_entry *e = &l->v[i];

		n += sizeof(struct rec) + strlen(e->id) + strlen(e->name) + strlen(e->reason) +
		     e->out_len + e->err_len;
	}
	b = malloc(n);
	if (!b)
		return -ENOMEM;
	memcpy(b, MAGIC, 8);
	memcpy(b + 8, &cnt, 4);
	memcpy(b + 12, &zero, 4);
	p = b + HDR_LEN;
	for (unsigned i = 0; i < l->n; i++) {
		const struct cmd_entry *e = &l->v[i];
		struct rec r = {
		    .id_len = (uint8_t)strlen(e->id),
		    .name_len = (uint8_t)strlen(e->name),
		    .status = e->status,
		    .flags = (uint8_t)((e->delivered ? F_DELIVERED : 0) |
				       (e->timed_out ? F_TIMED_OUT : 0) |
				       (e->out_trunc ? F_OUT_TRUNC : 0) |
				       (e->err_trunc ? F_ERR_TRUNC : 0)),
		    .exit_code = e->exit_code,
		    .signal = e->signal,
		    .duration_ms = e->duration_ms,
		    .at = e->at,
		    .reason_len = (uint16_t)strlen(e->reason),
		    .out_len = e->out_len,
		    .err_len = e->err_len,
		};

		memcpy(p, &r, sizeof(r));
		p += sizeof(r);
		memcpy(p, e->id, r.id_len);
		p += r.id_len;
		memcpy(p, e->name, r.name_len);
		p += r.name_len;
		memcpy(p, e->reason, r.reason_len);
		p += r.reason_len;
		if (e->out_len)
			memcpy(p, e->out, e->out_len);
		p += e->out_len;
		if (e->err_len)
			memcpy(p, e->err, e->err_len);
		p += e->err_len;
	}
	crc = crc32c(0, b, (size_t)(p - b));
	memcpy(p, &crc, 4);
	*buf = b;
	*len = n;
	return 0;
}

static int bad(const char **why, const char *w)
{
	*why = w;
	return -EBADMSG;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* One entry at *pp (before end): added to l, *pp moved past it. 0, or -EBADMSG with *why. */
static int decode_entry(struct cmdlog *l, const char **pp, const char *end, const char **why)
{
	const char *p = *pp;
	struct cmd_entry *e;
	char id[65], name[65];
	struct rec r;
	size_t need;

	if ((size_t)(end - p) < sizeof(r))
		return bad(why, "truncated");
	memcpy(&r, p, sizeof(r));
	p += sizeof(r);
	need = (size_t)r.id_len + r.name_len + r.reason_len + (size_t)r.out_len + r.err_len;
	if (r.id_len > 64 || r.name_len > 64 || r.reason_len > 255 || r.out_len > CMDLOG_MAX_OUTPUT ||
	    r.err_len > CMDLOG_MAX_OUTPUT || r.status > CMD_INTERRUPTED || r.flags > 15 || r.pad)
		return bad(why, "an entry has out-of-range fields");
	if ((size_t)(end - p) < need)
		return bad(why, "truncated");
	memcpy(id, p, r.id_len);
	id[r.id_len] = 0;
	memcpy(name, p + r.id_len, r.name_len);
	name[r.name_len] = 0;
	if (!proto_token_ok(id, PROTO_CMD_ID_MAX, "._:-") || !r.name_len ||
	    strlen(name) != r.name_len || has_ctl(name))
		return bad(why, "an entry has a malformed id or name");
	if (cmdlog_find(l, id))
		return bad(why, "an id appears twice");
	if (!(e = cmdlog_add(l, id, name)))
		return bad(why, "out of memory");
	p += r.id_len + r.name_len;
	memcpy(e->reason, p, r.reason_len);
	e->reason[r.reason_len] = 0;
	p += r.reason_len;
	e->status = r.status;
	e->delivered = r.flags & F_DELIVERED;
	e->timed_out = r.flags & F_TIMED_OUT;
	e->out_trunc = r.flags & F_OUT_TRUNC;
	e->err_trunc = r.flags & F_ERR_TRUNC;
	e->exit_code = r.exit_code;
	e->signal = r.signal;
	e->duration_ms = r.duration_ms;
	e->at = r.at;
	if ((r.out_len && !(e->out = malloc(r.out_len))) || (r.err_len && !(e->err = malloc(r.err_len))))
		return bad(why, "out of memory");
	if (r.out_len)
		memcpy(e->out, p, r.out_len);
	e->out_len = r.out_len;
	p += r.out_len;
	if (r.err_len)
		memcpy(e->err, p, r.err_len);
	e->err_len = r.err_len;
	*pp = p + r.err_len;
	return 0;
}

int cmdlog_decode(struct cmdlog *l, const char *buf, size_t len, const char **why)
{
	const char *p, *end;
	uint32_t cnt, zero, crc;

	memset(l, 0, sizeof(*l));
	if (len < HDR_LEN + 4)
		return bad(why, "shorter than its header");
	if (memcmp(buf, MAGIC, 8))
		return bad(why, "not a netinv command journal (bad magic)");
	memcpy(&crc, buf + len - 4, 4);
	if (crc32c(0, buf, len - 4) != crc)
		return bad(why, "checksum mismatch");
	memcpy(&cnt, buf + 8, 4);
	memcpy(&zero, buf + 12, 4);
	if (zero || cnt > CMDLOG_MAX_ENTRIES)
		return bad(why, "bad header");
	p = buf + HDR_LEN;
	end = buf + len - 4;
	for (uint32_t i = 0; i < cnt; i++) {
		if (decode_entry(l, &p, end, why) < 0) {
			cmdlog_free(l);
			return -EBADMSG;
		}
	}
	if (p != end) {
		cmdlog_free(l);
		return bad(why, "trailing bytes after the last entry");
	}
	return 0;
}

/* A damaged journal was moved aside and is still there. */
static bool damaged_aside(struct state_dir *sd)
{
	struct stat st;
	char name[64];

	snprintf(name, sizeof(name), "%s.damaged", CMDLOG_FILE);
	return fstatat(sd->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int cmdlog_salvage(struct cmdlog *l, const char *buf, size_t len)
{
	int found = 0;

	/* Every offset is tried: a flipped count or length must not hide the entries after it. An
	 * entry is taken when its fixed part is in range and its id and name are well formed; the
	 * scan goes on right after its name (not past its output, whose length may be the damage). */
	for (size_t off = 0; off + sizeof(struct rec) <= len; off++) {
		struct rec r;
		char id[65], name[65];
		struct cmd_entry *e;

		memcpy(&r, buf + off, sizeof(r));
		if (!r.id_len || r.id_len > 64 || !r.name_len || r.name_len > 64 ||
		    r.reason_len > 255 || r.status > CMD_INTERRUPTED || r.flags > 15 || r.pad ||
		    r.out_len > CMDLOG_MAX_OUTPUT || r.err_len > CMDLOG_MAX_OUTPUT ||
		    len - off - sizeof(r) < (size_t)r.id_len + r.name_len)
			continue;
		memcpy(id, buf + off + sizeof(r), r.id_len);
		id[r.id_len] = 0;
		memcpy(name, buf + off + sizeof(r) + r.id_len, r.name_len);
		name[r.name_len] = 0;
		if (!proto_token_ok(id, PROTO_CMD_ID_MAX, "._:-") || strlen(name) != r.name_len ||
		    has_ctl(name))
			continue;
		if (!cmdlog_find(l, id)) {
			if (!(e = cmdlog_add(l, id, name)))
				return -ENOMEM;
			e->delivered = true;
			e->at = r.at;
			cmd_entry_reason(e, CMD_INTERRUPTED,
					 "recovered from a damaged journal: it may have run, so it is "
					 "not run again");
			found++;
		}
		off += sizeof(r) + r.id_len + r.name_len - 1;
	}
	return found;
}

/* The journal was damaged: what can be read of it is kept as ids never to run again, the file is
 * kept beside it for a look (never over an earlier one), and commands stay refused while it is
 * there. */
static void quarantine(struct cmdlog *l, struct state_dir *sd, const char *buf, size_t len,
		       const char *why, char *err, size_t errlen)
{
	char aside[96];
	int found = buf ? cmdlog_salvage(l, buf, len) : 0, saved;

	snprintf(aside, sizeof(aside), "%s.damaged", CMDLOG_FILE);
	if (renameat2(sd->dfd, CMDLOG_FILE, sd->dfd, aside, RENAME_NOREPLACE) < 0) {
		snprintf(aside, sizeof(aside), "%s.damaged.%lld", CMDLOG_FILE, (long long)time(NULL));
		if (renameat2(sd->dfd, CMDLOG_FILE, sd->dfd, aside, RENAME_NOREPLACE) < 0)
			unlinkat(sd->dfd, CMDLOG_FILE, 0);
	}
	saved = cmdlog_save(l, sd);
	fsync(sd->dfd);
	l->quarantined = true;
	snprintf(err, errlen,
		 "the command journal %s/%s is damaged (%s); moved aside to %s, %d command id%s "
		 "recovered%s; commands are refused until an operator removes %s/%s.damaged",
		 sd->path, CMDLOG_FILE, why, aside, found < 0 ? 0 : found, found == 1 ? "" : "s",
		 saved < 0 ? " but not saved" : " and kept (never run again)", sd->path, CMDLOG_FILE);
}

int cmdlog_load(struct cmdlog *l, struct state_dir *sd, bool move_aside, char *err, size_t errlen)
{
	struct stat st;
	const char *why = NULL;
	char *buf = NULL;
	size_t got = 0;
	int fd, r;

	memset(l, 0, sizeof(*l));
	/* O_NONBLOCK: a FIFO under the name must not hang the run (the type is checked next) */
	fd = openat(sd->dfd, CMDLOG_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", sd->path, CMDLOG_FILE,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s/%s is not a regular file of this user", sd->path,
			 CMDLOG_FILE);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > CMDLOG_MAX_FILE) {
		/* more than the backlog limits let it grow to: damaged, never read into memory */
		close(fd);
		r = -EBADMSG;
		why = "larger than " CMDLOG_MAX_FILE_TEXT;
	} else {
		buf = malloc((size_t)st.st_size + 1);
		if (!buf) {
			close(fd);
			snprintf(err, errlen, "out of memory reading %s/%s", sd->path, CMDLOG_FILE);
			return -1;
		}
		/* one byte more than fstat said: a file that grew reads as damaged */
		r = read_fd(fd, buf, (size_t)st.st_size + 1, &got);
		close(fd);
		if (r < 0) {
			snprintf(err, errlen, "cannot read %s/%s: %s", sd->path, CMDLOG_FILE,
				 strerror(-r));
			free(buf);
			return -1;
		}
		r = cmdlog_decode(l, buf, got, &why);
	}
	if (r < 0) {
		l->damaged = true;
		if (!move_aside) {
			snprintf(err, errlen, "the command journal %s/%s is damaged (%s)", sd->path,
				 CMDLOG_FILE, why);
			free(buf);
			return -1;
		}
		quarantine(l, sd, buf, got, why, err, errlen);
		free(buf);
		return -1;
	}
	free(buf);
	if (damaged_aside(sd)) {
		l->quarantined = true;
		snprintf(err, errlen,
			 "commands are refused: the command journal was damaged, and %s/%s.damaged "
			 "is still there (remove it to allow commands again; see netinv(8))",
			 sd->path, CMDLOG_FILE);
	}
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i].status == CMD_STARTED)
			cmd_entry_reason(
			    &l->v[i], CMD_INTERRUPTED,
			    "netinv stopped while the command ran; it is not run again");
	return 0;
}

int cmdlog_save(const struct cmdlog *l, struct state_dir *sd)
{
	char *buf;
	size_t len;
	int r;

	if (!l->n && faccessat(sd->dfd, CMDLOG_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	r = cmdlog_encode(l, &buf, &len);
	if (r < 0)
		return r;
	r = state_write_file(sd, CMDLOG_FILE, buf, len);
	free(buf);
	return r;
}

unsigned cmdlog_pending_results(const struct cmdlog *l)
{
	unsigned n = 0;

	for (unsigned i = 0; i < l->n; i++)
		n += !l->v[i].delivered && l->v[i].status != CMD_STARTED;
	return n;
}

bool cmdlog_backlogged(const struct cmdlog *l)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < l->n; i++)
		if (!l->v[i].delivered && l->v[i].status != CMD_STARTED)
			bytes += (uint64_t)l->v[i].out_len + l->v[i].err_len;
	return cmdlog_pending_results(l) >= CMDLOG_MAX_PENDING || bytes >= CMDLOG_MAX_PENDING_BYTES;
}

static int count_sink(void *ctx, const void *p, size_t n)
{
	(void)p;
	*(size_t *)ctx += n;
	return 0;
}

static void key_int_or_null(struct json_w *w, const char *k, bool present, int64_t v)
{
	json_keyn(w, k, strlen(k));
	if (present)
		json_i64(w, v);
	else
		json_null(w);
}

static void write_one(struct json_w *w, const struct cmd_entry *e, uint32_t out_len,
		      uint32_t err_len)
{
	json_obj_begin(w);
	json_key(w, "id");
	json_str(w, e->id);
	json_key(w, "name");
	json_str(w, e->name);
	key_str(w, "status", cmd_status_names[e->status]);
	key_int_or_null(w, "exit_code", e->status == CMD_COMPLETED && e->exit_code >= 0,
			e->exit_code);
	key_int_or_null(w, "signal", e->signal != 0, e->signal);
	key_bool(w, "timed_out", e->timed_out);
	key_u64(w, "duration_ms", e->duration_ms);
	json_key(w, "stdout");
	json_strn(w, e->out ? e->out : "", out_len);
	json_key(w, "stderr");
	json_strn(w, e->err ? e->err : "", err_len);
	key_bool(w, "stdout_truncated", e->out_trunc || out_len < e->out_len);
	key_bool(w, "stderr_truncated", e->err_trunc || err_len < e->err_len);
	json_key(w, "error");
	if (e->reason[0])
		json_str(w, e->reason);
	else
		json_null(w);
	json_key(w, "received_at");
	json_time(w, (time_t)e->at);
	json_obj_end(w);
}

/* A result's bytes besides its strings: keys, numbers, booleans, the time, separators. */
#define RESULT_FIXED 512

static size_t measure(const struct cmd_entry *e, uint32_t out_len, uint32_t err_len)
{
	struct json_w w;
	char buf[JSON_MIN_BUF];
	size_t n = 0;

	json_init(&w, buf, sizeof(buf), count_sink, &n, false);
	json_arr_begin(&w);
	write_one(&w, e, out_len, err_len);
	json_arr_end(&w);
	json_finish(&w);
	return n;
}

unsigned cmdlog_write_results(struct json_w *w, struct cmdlog *l, size_t limit, uint8_t *incl)
{
	size_t used = 32;
	unsigned n = 0;

	if (!cmdlog_pending_results(l))
		return 0;
	json_key(w, "command_results");
	json_arr_begin(w);
	for (unsigned i = 0; i < l->n; i++) {
		struct cmd_entry *e = &l->v[i];
		uint32_t ol = e->out_len, el = e->err_len;
		size_t sz;

		uint64_t before = w->total + w->len;

		incl[i] = 0;
		if (e->delivered || e->status == CMD_STARTED)
			continue;
		/* Encoded only once when even the worst case (every byte escaped to 6) fits; only
		 * a result near the limit is measured first. */
		if (used + RESULT_FIXED + 6 * ((size_t)ol + el + sizeof(e->id) + sizeof(e->name) +
					       sizeof(e->reason)) > limit) {
			sz = measure(e, ol, el);
			/* the first result always goes, cut to fit: one that never fits would
			 * block the rest */
			while (sz + used > limit && n == 0 && (ol || el)) {
				ol /= 2;
				el /= 2;
				sz = measure(e, ol, el);
			}
			if (sz + used > limit)
				break;
		}
		write_one(w, e, ol, el);
		used += (size_t)(w->total + w->len - before);
		incl[i] = 1;
		n++;
	}
	json_arr_end(w);
	return n;
}

void cmdlog_delivered(struct cmdlog *l, const uint8_t *incl)
{
	unsigned delivered = 0, drop, j = 0;

	for (unsigned i = 0; i < l->n; i++) {
		if (incl && incl[i]) {
			l->v[i].delivered = true;
			entry_free(&l->v[i]);
			l->v[i].reason[0] = 0;
		}
		delivered += l->v[i].delivered;
	}
	drop = delivered > CMDLOG_KEEP_IDS ? delivered - CMDLOG_KEEP_IDS : 0;
	for (unsigned i = 0; i < l->n; i++) {
		if (drop && l->v[i].delivered) {
			drop--;
			continue;
		}
		l->v[j++] = l->v[i];
	}
	l->n = j;
}
