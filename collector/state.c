#include "state.h"
#include "state_internal.h"
#include "util.h"
#include "../delta/diff.h"
#include "../delta/persist.h"
#include "../report/json.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_FILE    "agent_uuid"
#define KEY_FILE   "api_key"
#define LOCK_FILE  "lock"

void state_note(struct state_dir *sd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_appendv(sd->note, sizeof(sd->note), fmt, ap);
	va_end(ap);
}

enum state_err state_fail(char *err, size_t errlen, enum state_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return e;
}

/* Leftovers of a run killed mid-write: ".NAME.tmp" files. Only with the exclusive lock held. */
static void remove_stale_temps(struct state_dir *sd)
{
	int fd = dup(sd->dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' && n > 5 && !strcmp(e->d_name + n - 4, ".tmp"))
			unlinkat(sd->dfd, e->d_name, 0);
	}
	closedir(d);
}

int state_adopt_owner(const char *path, bool keep_admin, char *who, size_t wholen, char *err,
		      size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	struct passwd *pw;
	struct stat st;
	int capset_err;

	if (geteuid() != 0 || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 ||
	    setuid(st.st_uid) < 0) {
		snprintf(err, errlen, "cannot become uid %u, the owner of %s: %s", (unsigned)st.st_uid,
			 path, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	data[0].permitted = data[0].effective = (1u << CAP_SYS_PTRACE) | (1u << CAP_DAC_READ_SEARCH) |
						(keep_admin ? 1u << CAP_SYS_ADMIN : 0);
	/* without them attribution says not_permitted; everything else works */
	capset_err = syscall(SYS_capset, &hdr, data) < 0 ? errno : 0;
	pw = getpwuid(st.st_uid);
	snprintf(who, wholen, "%s (uid %u%s%s)", pw ? pw->pw_name : "?", (unsigned)st.st_uid,
		 capset_err ? "; cannot keep CAP_SYS_PTRACE: " : "",
		 capset_err ? strerror(capset_err) : "");
	return 1;
}

enum state_err state_open(struct state_dir *sd, const char *path, bool create, bool exclusive,
			  char *err, size_t errlen)
{
	struct stat st;

	memset(sd, 0, sizeof(*sd));
	sd->dfd = sd->lockfd = -1;
	sd->exclusive = exclusive;
	snprintf(sd->path, sizeof(sd->path), "%s", path);
	/* "link/" would resolve through a symlink that O_NOFOLLOW refuses as "link": the same
	 * directory is named the same way however it was written */
	for (size_t n = strlen(sd->path); n > 1 && sd->path[n - 1] == '/'; n--)
		sd->path[n - 1] = 0;
	path = sd->path;
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return state_fail(err, errlen, STATE_IO, "cannot create state directory %s: %s", path,
			    strerror(errno));
	sd->dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sd->dfd < 0) {
		if (errno == ENOENT)
			return STATE_ABSENT;
		if (errno == ELOOP)
			return state_fail(err, errlen, STATE_UNSAFE,
				    "state directory %s is a symlink; refusing to follow it", path);
		if (errno == ENOTDIR) {
			/* O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not ELOOP */
			if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
				return state_fail(err, errlen, STATE_UNSAFE,
					    "state directory %s is a symlink; refusing to follow it",
					    path);
			return state_fail(err, errlen, STATE_UNSAFE, "state directory %s is not a directory",
				    path);
		}
		return state_fail(err, errlen, STATE_IO, "cannot open state directory %s: %s", path,
			    strerror(errno));
	}
	if (fstat(sd->dfd, &st) < 0)
		return state_fail(err, errlen, STATE_IO, "cannot stat %s: %s", path, strerror(errno));
	if (st.st_uid != geteuid())
		return state_fail(err, errlen, STATE_UNSAFE, "state directory %s is owned by uid %u, not %u",
			    path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return state_fail(err, errlen, STATE_UNSAFE,
			    "state directory %s is writable by group or others (mode %04o); "
			    "expected 0700",
			    path, (unsigned)(st.st_mode & 07777));
	/* a reader (status, a dry run) creates nothing: without a lock file nobody writes here */
	sd->lockfd = openat(sd->dfd, LOCK_FILE,
			    O_RDWR | (exclusive ? O_CREAT : 0) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (sd->lockfd < 0 && !exclusive)
		sd->lockfd = openat(sd->dfd, LOCK_FILE,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (sd->lockfd < 0) {
		if (!exclusive && (errno == ENOENT || errno == EROFS || errno == EACCES))
			return STATE_OK; /* a read-only look at a directory we cannot write */
		return state_fail(err, errlen, STATE_IO, "cannot open %s/%s: %s", path, LOCK_FILE,
			    strerror(errno));
	}
	if (fstat(sd->lockfd, &st) < 0 || !S_ISREG(st.st_mode))
		return state_fail(err, errlen, STATE_UNSAFE, "%s/%s is not a regular file; remove it", path,
			    LOCK_FILE);
	if (flock(sd->lockfd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		char pid[32] = "";

		if (errno != EWOULDBLOCK)
			return state_fail(err, errlen, STATE_IO, "cannot lock %s/%s: %s", path, LOCK_FILE,
				    strerror(errno));
		if (pread(sd->lockfd, pid, sizeof(pid) - 1, 0) > 0)
			pid[strcspn(pid, "\n")] = 0;
		if (pid[0])
			return state_fail(err, errlen, STATE_LOCKED,
				    "another netinv run holds the lock on %s (pid %s); try again later",
				    path, pid);
		return state_fail(err, errlen, STATE_LOCKED,
			    "another netinv run holds the lock on %s; try again later", path);
	}
	if (exclusive) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		if (ftruncate(sd->lockfd, 0) == 0 && pwrite(sd->lockfd, pid, (size_t)n, 0) != n)
			state_note(sd, "cannot record the run's pid in %s/%s", path, LOCK_FILE);
		remove_stale_temps(sd);
	}
	return STATE_OK;
}

void state_close(struct state_dir *sd)
{
	if (sd->lockfd >= 0)
		close(sd->lockfd); /* releases the flock */
	if (sd->dfd >= 0)
		close(sd->dfd);
	sd->dfd = sd->lockfd = -1;
}

/* ---- atomic writes ---- */

static void wb_flush(struct wbuf *w)
{
	int r = w->err ? 0 : json_write_all(w->fd, w->b, w->len);

	if (r < 0)
		w->err = -r;
	w->len = 0;
}

void state_wb_put(struct wbuf *w, const void *p, size_t n, bool crc)
{
	if (crc)
		w->crc = persist_crc(w->crc, p, n);
	while (n) {
		size_t room = sizeof(w->b) - w->len, c = n < room ? n : room;

		memcpy(w->b + w->len, p, c);
		w->len += c;
		p = (const char *)p + c;
		n -= c;
		if (w->len == sizeof(w->b))
			wb_flush(w);
	}
}


/* temp (O_EXCL, 0600) -> write -> fsync -> rename -> fsync(dir). Returns 0 or -errno; on failure
 * the temp file is removed and the old file is untouched. */
int state_write_atomic(struct state_dir *sd, const char *name, state_fill_fn fill, void *arg)
{
	char tmp[300];
	struct wbuf *w;
	int r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->err = 0;
	w->len = 0;
	w->crc = 0;
	w->fd = openat(sd->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0 && errno == EEXIST) {
		/* a leftover from a killed run (we hold the lock, nobody else writes) */
		unlinkat(sd->dfd, tmp, 0);
		w->fd = openat(sd->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600);
	}
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = fill(w, arg);
	if (!r) {
		wb_flush(w);
		r = -w->err;
	}
	if (!r && fsync(w->fd) < 0)
		r = -errno;
	if (close(w->fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(sd->dfd, tmp, sd->dfd, name) < 0)
		r = -errno;
	if (r) {
		unlinkat(sd->dfd, tmp, 0);
		free(w);
		return r;
	}
	free(w);
	/* The rename is durable only once the directory is. If that fsync fails the new file is
	 * already in place (and its data synced): say so, but it is not a failed write. */
	if (fsync(sd->dfd) < 0)
		state_note(sd, "cannot fsync %s after replacing %s: %s; the new file is in place but "
			   "may not survive a power loss",
			   sd->path, name, strerror(errno));
	return 0;
}

struct plain {
	const void *p;
	size_t n;
};

static int fill_plain(struct wbuf *w, void *arg)
{
	struct plain *pl = arg;

	state_wb_put(w, pl->p, pl->n, false);
	return 0;
}

int state_write_file(struct state_dir *sd, const char *name, const void *buf, size_t len)
{
	struct plain pl = { buf, len };

	return state_write_atomic(sd, name, fill_plain, &pl);
}

/* ---- identity ---- */

static bool owned_by_us(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == geteuid();
}

enum state_err state_identity(struct state_dir *sd, char uuid[37], char *err, size_t errlen)
{
	char buf[64];
	int r;

	r = read_small_file(sd->dfd, ID_FILE, buf, sizeof(buf));
	if (r == -ENOENT)
		return STATE_ABSENT;
	if (r < 0)
		return state_fail(err, errlen, STATE_IDENTITY,
			    "cannot read the agent identity %s/%s: %s; refusing to create another one",
			    sd->path, ID_FILE, r == -EINVAL ? "not a regular file" : strerror(-r));
	if (!owned_by_us(sd->dfd, ID_FILE))
		return state_fail(err, errlen, STATE_IDENTITY,
			    "the agent identity %s/%s is owned by another user; refusing to use it",
			    sd->path, ID_FILE);
	if (!valid_uuid(buf))
		return state_fail(err, errlen, STATE_IDENTITY,
			    "the agent identity %s/%s is not a UUID; refusing to replace it "
			    "(restore it, or remove the state directory to enroll anew)",
			    sd->path, ID_FILE);
	memcpy(uuid, buf, 37);
	return STATE_OK;
}

static void random_uuid(char out[37])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

		if (r > 0)
			got += (size_t)r;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

/* The Python agent keeps agent_uuid, api_key and state.json (with the last sequence number). */
static bool import_grapheon(struct state_dir *sd, const char *dir, char uuid[37], uint64_t *seq)
{
	char buf[512], js[65536];
	int gfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	bool ok = false;

	if (gfd < 0)
		return false;
	if (read_small_file(gfd, "agent_uuid", buf, sizeof(buf)) < 0)
		goto out;
	for (char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	if (!valid_uuid(buf)) {
		state_note(sd, "%s/agent_uuid is not a UUID; not importing it", dir);
		goto out;
	}
	memcpy(uuid, buf, 37);
	ok = true;
	if (read_small_file(gfd, "api_key", buf, sizeof(buf)) == 0 && buf[0]) {
		size_t n = strcspn(buf, " \t\r\n");

		if (n && n < 256 && state_write_file(sd, KEY_FILE, buf, n) < 0)
			state_note(sd, "cannot store the imported agent key in %s", sd->path);
	}
	if (read_small_file(gfd, "state.json", js, sizeof(js)) == 0) {
		cJSON *j = cJSON_ParseWithLength(js, strlen(js));
		cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "sequence_number") : NULL;

		if (j && !s)
			s = cJSON_GetObjectItemCaseSensitive(j, "sequence");
		if (cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble < 9e15)
			*seq = (uint64_t)s->valuedouble;
		cJSON_Delete(j);
	}
out:
	close(gfd);
	return ok;
}

enum state_err state_create_identity(struct state_dir *sd, const char *import_dir, char uuid[37],
				     uint64_t *imported_seq, bool *imported, char *err, size_t errlen)
{
	char line[40];
	int r;

	*imported = import_grapheon(sd, import_dir, uuid, imported_seq);
	if (!*imported)
		random_uuid(uuid);
	snprintf(line, sizeof(line), "%s\n", uuid);
	r = state_write_file(sd, ID_FILE, line, strlen(line));
	if (r < 0)
		return state_fail(err, errlen, STATE_IO, "cannot write the agent identity to %s: %s",
			    sd->path, strerror(-r));
	return STATE_OK;
}

/* ---- enrollment bookkeeping ---- */

int state_key_valid(const char *key)
{
	size_t n = strlen(key);

	if (!n || n > 256)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
			return -1;
	return 0;
}

enum state_err state_read_key(struct state_dir *sd, char *key, size_t cap, char *err, size_t errlen)
{
	int r = read_small_file(sd->dfd, KEY_FILE, key, cap);

	if (r == -ENOENT)
		return STATE_ABSENT;
	if (r < 0)
		return state_fail(err, errlen, STATE_IDENTITY, "cannot read the agent key %s/%s: %s", sd->path,
			    KEY_FILE, strerror(-r));
	if (!owned_by_us(sd->dfd, KEY_FILE))
		return state_fail(err, errlen, STATE_IDENTITY,
			    "the agent key %s/%s is owned by another user; refusing to use it", sd->path,
			    KEY_FILE);
	key[strcspn(key, "\r\n")] = 0;
	if (state_key_valid(key) < 0)
		return state_fail(err, errlen, STATE_IDENTITY,
			    "the agent key %s/%s is not a printable token; install a new one with "
			    "'netinv install-key FILE'",
			    sd->path, KEY_FILE);
	return STATE_OK;
}

enum state_err state_write_key(struct state_dir *sd, const char *key, char *err, size_t errlen)
{
	char line[300];
	int r;

	snprintf(line, sizeof(line), "%s\n", key);
	r = state_write_file(sd, KEY_FILE, line, strlen(line));
	explicit_bzero(line, sizeof(line));
	if (r < 0)
		return state_fail(err, errlen, STATE_IO, "cannot store the agent key in %s: %s", sd->path,
			    strerror(-r));
	return STATE_OK;
}

#define STATUS_FILE "agent.status"

void state_read_status(struct state_dir *sd, struct agent_status *as)
{
	static char buf[8192];
	char *line, *save = NULL;

	memset(as, 0, sizeof(*as));
	policy_defaults(&as->policy);
	if (read_small_file(sd->dfd, STATUS_FILE, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		uint64_t n = 0;
		bool num;

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "routes_seen") || !strcmp(line, "neighbors_seen")) {
			uint64_t *seen = &as->seen[line[0] == 'r' ? SNAP_ROUTES : SNAP_NEIGH];
			char *end;

			errno = 0;
			*seen = strtoull(v, &end, 16);
			if (errno || *end || end == v)
				*seen = 0;
			continue;
		}
		num = parse_u64(v, 0, INT64_MAX, &n) == 0;
		if (!strcmp(line, "registration") && (!strcmp(v, "pending") || !strcmp(v, "active")))
			snprintf(as->registration, sizeof(as->registration), "%s", v);
		else if (!strcmp(line, "agent_id") && strlen(v) < sizeof(as->agent_id))
			snprintf(as->agent_id, sizeof(as->agent_id), "%s", v);
		else if (!strcmp(line, "last_error"))
			snprintf(as->last_error, sizeof(as->last_error), "%s", v);
		else if (!strcmp(line, "server_peer") && strlen(v) < sizeof(as->server_peer))
			snprintf(as->server_peer, sizeof(as->server_peer), "%s", v);
		else if (!num)
			continue;
		else if (!strcmp(line, "server_time"))
			as->server_time = (int64_t)n;
		else if (!strcmp(line, "last_checkin"))
			as->last_checkin = (int64_t)n;
		else if (!strcmp(line, "failures") && n < 1000)
			as->failures = (unsigned)n;
		else if (!strcmp(line, "next_attempt"))
			as->next_attempt = (int64_t)n;
		else if (!strcmp(line, "part_budget") && n >= 16384 && n <= 10485760)
			as->part_budget = (unsigned)n;
		else if (!strcmp(line, "last_error_at"))
			as->last_error_at = (int64_t)n;
		else if (!strcmp(line, "last_sequence"))
			as->last_sequence = n;
		else if (!strcmp(line, "policy_interval") && n >= 60 && n <= 86400)
			as->policy.interval = (unsigned)n, as->have_policy = true;
		else if (!strcmp(line, "policy_jitter") && n <= 3600)
			as->policy.jitter = (unsigned)n;
		else if (!strcmp(line, "policy_command_timeout") && n >= 1 && n <= 300)
			as->policy.cmd_timeout = (unsigned)n;
		else if (!strcmp(line, "policy_max_report_bytes") && n >= 16384 && n <= 10485760)
			as->policy.max_report = (unsigned)n;
		else if (!strcmp(line, "policy_commands") && n <= 1)
			as->policy.commands = n == 1;
		else if (!strcmp(line, "policy_enabled") && n < 16)
			for (int i = 0; i < POLICY_COMMANDS; i++)
				as->policy.enabled[i] = (n >> i) & 1;
	}
}

enum state_err state_write_status(struct state_dir *sd, const struct agent_status *as, char *err,
				  size_t errlen)
{
	char buf[2048], le[256];
	unsigned en = 0;
	int n, r;

	for (int i = 0; i < POLICY_COMMANDS; i++)
		en |= (unsigned)as->policy.enabled[i] << i;
	snprintf(le, sizeof(le), "%s", as->last_error);
	for (char *p = le; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	n = snprintf(buf, sizeof(buf),
		     "registration=%s\nagent_id=%s\nserver_time=%lld\nlast_checkin=%lld\n"
		     "failures=%u\nnext_attempt=%lld\npart_budget=%u\nlast_error=%s\n"
		     "last_error_at=%lld\nserver_peer=%s\nlast_sequence=%llu\nroutes_seen=%016llx\n"
		     "neighbors_seen=%016llx\n",
		     as->registration, as->agent_id, (long long)as->server_time,
		     (long long)as->last_checkin, as->failures, (long long)as->next_attempt,
		     as->part_budget, le, (long long)as->last_error_at, as->server_peer,
		     (unsigned long long)as->last_sequence, (unsigned long long)as->seen[SNAP_ROUTES],
		     (unsigned long long)as->seen[SNAP_NEIGH]);
	if (as->have_policy)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "policy_interval=%u\npolicy_jitter=%u\npolicy_command_timeout=%u\n"
			      "policy_max_report_bytes=%u\npolicy_enabled=%u\npolicy_commands=%d\n",
			      as->policy.interval, as->policy.jitter, as->policy.cmd_timeout,
			      as->policy.max_report, en, as->policy.commands ? 1 : 0);
	r = state_write_file(sd, STATUS_FILE, buf, (size_t)n);
	if (r < 0)
		return state_fail(err, errlen, STATE_IO, "cannot write %s/%s: %s", sd->path, STATUS_FILE,
			    strerror(-r));
	return STATE_OK;
}
