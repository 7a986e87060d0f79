/* The records of the store: the acknowledged state (acked.state) and what reports whose replies
 * never came carried (unconfirmed.state), both in delta/persist's format; read without trusting
 * them (type, owner and size checked before a byte is read), written atomically. */
#include "state.h"
#include "state_internal.h"
#include "util.h"
#include "../delta/diff.h"
#include "../delta/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ACKED_FILE "acked.state"
#define UNCONFIRMED_FILE "unconfirmed.state"

bool state_digest_hint(struct state_dir *sd, uint64_t digest[SNAP_NTABLES], bool repeat[SNAP_NTABLES])
{
	uint8_t hdr[PERSIST_HDR_LEN];
	struct stat sb;
	ssize_t n;
	int fd;

	memset(digest, 0, SNAP_NTABLES * sizeof(*digest));
	memset(repeat, 0, SNAP_NTABLES * sizeof(*repeat));
	/* reports whose replies never came: the server may hold other routes than the state says */
	if (fstatat(sd->dfd, UNCONFIRMED_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return false;
	fd = openat(sd->dfd, ACKED_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	do
		n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? pread(fd, hdr, sizeof(hdr), 0) : -1;
	while (n < 0 && errno == EINTR);
	close(fd);
	return n > 0 && persist_digests(hdr, (size_t)n, digest, repeat) == 0;
}

long long state_acked_bytes(struct state_dir *sd)
{
	struct stat sb;

	return fstatat(sd->dfd, ACKED_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (long long)sb.st_size : -1;
}

/* The open file's type, owner and size, the size against what its header promises: STATE_OK
 * with *corrupt NULL when it may be read, with *corrupt set when it is unusable (a full snapshot
 * follows), STATE_IO when it cannot be read at all. A sparse 3 GiB file once took 15 s and 3 GB
 * to refuse: now nothing past the header is read before the size is known to be right. */
static enum state_err check_file(struct state_dir *sd, const char *name, int fd, struct stat *st,
				 const char **corrupt, char *err, size_t errlen)
{
	uint8_t hdr[PERSIST_HDR_LEN];
	uint64_t want;
	ssize_t n;

	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		*corrupt = "not a regular file";
		return STATE_OK;
	}
	if (st->st_uid != geteuid())
		return state_fail(err, errlen, STATE_IO, "%s/%s is owned by uid %u, not %u; refusing it",
				  sd->path, name, (unsigned)st->st_uid, (unsigned)geteuid());
	if ((uint64_t)st->st_size > PERSIST_HDR_LEN + 4 + (uint64_t)PERSIST_MAX_RECS * SNAP_NTABLES * 64) {
		*corrupt = "larger than any state netinv writes";
		return STATE_OK;
	}
	do
		n = pread(fd, hdr, sizeof(hdr), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return state_fail(err, errlen, STATE_IO, "cannot read %s/%s: %s", sd->path, name,
				  strerror(errno));
	if (persist_expected_size(hdr, (size_t)n, &want, corrupt) < 0)
		return STATE_OK;
	if (want != (uint64_t)st->st_size)
		*corrupt = "length does not match its record counts (truncated or padded)";
	return STATE_OK;
}

/* State files at least this large are mapped rather than read: the diff walks them once in order
 * and gives the pages back behind it (delta/diff.h), so a million-route state is not held twice
 * (page cache and a copy) nor whole. */
#define MAP_AT_LEAST (4u << 20)

/* A mapped file cut short by another process while netinv reads it faults (SIGBUS) instead of
 * returning a short read: that is a one-line error and exit 74, never a crash, and nothing is
 * committed (the run has not written yet). */
static struct {
	const char *addr;
	size_t len;
	char msg[sizeof(((struct state_dir *)0)->path) + 160];
} mapped[2];

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++) {
		const char *a = si->si_addr;

		if (mapped[i].addr && a >= mapped[i].addr && a < mapped[i].addr + mapped[i].len) {
			ssize_t w = write(STDERR_FILENO, mapped[i].msg, strlen(mapped[i].msg));

			(void)w;
			_exit(74);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_mapping(const struct state_dir *sd, const char *name, const void *addr, size_t len)
{
	static bool installed;
	size_t i = !strcmp(name, ACKED_FILE) ? 0 : 1;

	if (!installed) {
		struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		installed = true;
	}
	snprintf(mapped[i].msg, sizeof(mapped[i].msg),
		 "netinv: error: %s/%s was cut short by another process while netinv read it; nothing "
		 "was committed\n", sd->path, name);
	mapped[i].len = len;
	mapped[i].addr = addr;
}

/* Read one persist-format file (the acknowledged state, the unconfirmed reports). */
static enum state_err read_persist(struct state_dir *sd, const char *name, struct acked_state *out,
				   const char **corrupt, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	enum state_err e;
	int fd, r;

	memset(out, 0, sizeof(*out));
	*corrupt = NULL;
	/* O_NONBLOCK: a FIFO planted under this name must not hang the run (the type is checked next) */
	fd = openat(sd->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return STATE_ABSENT;
		if (errno == ELOOP) {
			*corrupt = "it is a symlink";
			return STATE_OK;
		}
		return state_fail(err, errlen, STATE_IO, "cannot read %s/%s: %s", sd->path, name,
				  strerror(errno));
	}
	e = check_file(sd, name, fd, &st, corrupt, err, errlen);
	if (e != STATE_OK || *corrupt) {
		close(fd);
		return e;
	}
	if ((uint64_t)st.st_size >= MAP_AT_LEAST && (uint64_t)st.st_size <= SIZE_MAX) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m != MAP_FAILED) {
			close(fd);
			guard_mapping(sd, name, m, (size_t)st.st_size);
			r = persist_decode_mapped(m, (size_t)st.st_size, out, corrupt);
			if (r < 0)
				munmap(m, (size_t)st.st_size);
			if (r == -ENOMEM)
				return state_fail(err, errlen, STATE_IO, "out of memory decoding %s", name);
			return STATE_OK;
		}
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return state_fail(err, errlen, STATE_IO, "out of memory reading %s", name);
	}
	r = read_fd(fd, (char *)buf, (size_t)st.st_size, &got);
	close(fd);
	if (r == -EFBIG) {
		free(buf);
		*corrupt = "it grew while it was read";
		return STATE_OK;
	}
	if (r < 0) {
		free(buf);
		return state_fail(err, errlen, STATE_IO, "cannot read %s/%s: %s", sd->path, name,
				  strerror(-r));
	}
	r = persist_decode_owned(buf, got, out, corrupt, true);
	if (r < 0)
		free(buf);
	if (r == -ENOMEM)
		return state_fail(err, errlen, STATE_IO, "out of memory decoding %s", name);
	return STATE_OK;
}

enum state_err state_read_acked(struct state_dir *sd, struct acked_state *out, const char **corrupt,
				char *err, size_t errlen)
{
	return read_persist(sd, ACKED_FILE, out, corrupt, err, errlen);
}

enum state_err state_read_unconfirmed(struct state_dir *sd, struct acked_state *out,
				      const char **corrupt, char *err, size_t errlen)
{
	return read_persist(sd, UNCONFIRMED_FILE, out, corrupt, err, errlen);
}

struct persist_arg {
	const struct acked_state *a;
	const struct persist_meta *m;
};

static int fill_persist(struct wbuf *w, void *arg)
{
	struct persist_arg *pa = arg;
	uint8_t hdr[PERSIST_HDR_LEN];
	uint32_t crc;

	persist_header(hdr, pa->m);
	state_wb_put(w, hdr, sizeof(hdr), true);
	for (int t = 0; t < SNAP_NTABLES; t++)
		state_wb_put(w, pa->a->t[t].r, (size_t)pa->a->t[t].n * sizeof(struct state_rec), true);
	crc = w->crc;
	state_wb_put(w, &crc, 4, false);
	return w->err ? -w->err : 0;
}

enum state_err state_write_unconfirmed(struct state_dir *sd, const struct acked_state *u,
				       uint64_t sequence, bool full, char *err, size_t errlen)
{
	struct persist_meta m = { .sequence = sequence,
				  .accepted_at = (int64_t)time(NULL),
				  .keying = u->keying,
				  .flags = full ? PERSIST_FLAG_FULL : 0 };
	struct persist_arg pa = { u, &m };
	int r;

	for (int t = 0; t < SNAP_NTABLES; t++)
		m.count[t] = u->t[t].n;
	r = state_write_atomic(sd, UNCONFIRMED_FILE, fill_persist, &pa);
	if (r < 0)
		return state_fail(err, errlen, STATE_IO,
			    "cannot record the report about to be sent in %s: %s (nothing was sent)",
			    sd->path, strerror(-r));
	return STATE_OK;
}

int state_drop_unconfirmed(struct state_dir *sd)
{
	if (unlinkat(sd->dfd, UNCONFIRMED_FILE, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

struct commit_arg {
	const struct delta *d;
	const struct canon_ctx *c;
	const struct persist_meta *m;
};

static int emit_rec(void *arg, enum snap_table t, const struct state_rec *r)
{
	(void)t;
	state_wb_put(arg, r, sizeof(*r), true);
	return ((struct wbuf *)arg)->err ? -1 : 0;
}

static int fill_acked(struct wbuf *w, void *arg)
{
	struct commit_arg *a = arg;
	uint8_t hdr[PERSIST_HDR_LEN];

	persist_header(hdr, a->m);
	state_wb_put(w, hdr, sizeof(hdr), true);
	delta_next_state(a->d, a->c, emit_rec, w);
	if (!w->err) {
		uint32_t crc = w->crc;

		state_wb_put(w, &crc, 4, false);
	}
	return w->err ? -w->err : 0;
}

enum state_err state_commit(struct state_dir *sd, const struct delta *d, const struct canon_ctx *c,
			    uint64_t sequence, int64_t accepted_at, uint32_t keying, char *err,
			    size_t errlen)
{
	struct persist_meta m = { .sequence = sequence, .accepted_at = accepted_at, .keying = keying };
	struct commit_arg a = { d, c, &m };
	int r;

	delta_next_counts(d, m.count);
	for (int t = 0; t < SNAP_NTABLES; t++)
		if (PERSIST_DIGESTED & (1u << t))
			delta_next_digest(d, (enum snap_table)t, &m.digest[t], &m.repeat[t]);
	r = state_write_atomic(sd, ACKED_FILE, fill_acked, &a);
	if (r < 0)
		return state_fail(err, errlen, STATE_IO,
			    "cannot write the acknowledged state to %s: %s (the previous state is kept)",
			    sd->path, strerror(-r));
	return STATE_OK;
}

