#include "exec.h"
#include "cmdlog.h"
#include "config.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "../delta/snapshot.h"
#include "../report/json.h"
#include "../report/proto.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_DIR       "exec"
#define SCRIPT_SHELL   "/bin/bash"
#define ALLOW_MAX_FILE 65536

/* ---- gate 2: the local configuration ---- */

/* Owned by root and writable by nobody else: the only kind of file that may open a gate. */
static bool root_only_writable(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

void exec_local_load(struct exec_local *lg, const char *config_path)
{
	static char buf[CFG_MAX_FILE + 1];
	const char *path = config_path ? config_path : CONFIG_FILE_DEFAULT;
	char dir[4000], *line, *cur;
	struct stat st;
	int fd, r, lineno = 0;
	size_t got = 0;

	memset(lg, 0, sizeof(*lg));
	snprintf(lg->config, sizeof(lg->config), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	{
		char *slash = strrchr(dir, '/');

		if (slash == dir)
			dir[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
	}
	snprintf(lg->commands_dir, sizeof(lg->commands_dir), "%s/commands.d",
		 strcmp(dir, "/") ? dir : "");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == EACCES)
			snprintf(
			    lg->why, sizeof(lg->why),
			    "cannot read %s as uid %u (for exec_enabled it must be readable by "
			    "netinv's user, e.g. root:netinv 0640)",
			    path, (unsigned)geteuid());
		else
			snprintf(lg->why, sizeof(lg->why), "cannot read %.200s: %s", path,
				 strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !root_only_writable(&st)) {
		snprintf(
		    lg->why, sizeof(lg->why),
		    "%s is not a regular file owned by root and writable only by root: its exec_ "
		    "settings are ignored",
		    path);
		close(fd);
		return;
	}
	if (stat(dir, &st) < 0 || !root_only_writable(&st)) {
		snprintf(lg->why, sizeof(lg->why),
			 "the directory %.200s is not owned by root or is writable by others: "
			 "exec_ settings "
			 "are ignored",
			 dir);
		close(fd);
		return;
	}
	r = read_fd(fd, buf, CFG_MAX_FILE, &got);
	close(fd);
	if (r < 0) {
		snprintf(lg->why, sizeof(lg->why), "cannot read %.200s: %s", path,
			 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return;
	}
	buf[got] = 0;
	for (cur = buf; (line = next_line(&cur));) {
		char *k = trim(line), *v, *eq;
		bool y;
		int bad;

		lineno++;
		if (strncmp(k, "exec_", 5))
			continue;
		eq = strchr(k, '=');
		if (!eq)
			continue;
		*eq = 0;
		v = trim(eq + 1);
		k = trim(k);
		bad = parse_bool(v, &y);
		if (strcmp(k, "exec_enabled") && strcmp(k, "exec_allow_scripts")) {
			lg->enabled = lg->allow_scripts = false;
			snprintf(lg->why, sizeof(lg->why), "%s:%d: unknown setting '%.40s'", path,
				 lineno, k);
			return;
		}
		if (bad) {
			lg->enabled = lg->allow_scripts = false;
			snprintf(lg->why, sizeof(lg->why), "%s:%d: %s must be yes or no", path,
				 lineno, k);
			return;
		}
		if (!strcmp(k, "exec_enabled"))
			lg->enabled = y;
		else
			lg->allow_scripts = y;
	}
	if (!lg->enabled) {
		lg->allow_scripts = false;
		snprintf(lg->why, sizeof(lg->why), "exec_enabled=yes is not set in %s", path);
	}
}

/* ---- the allowlist ---- */

static void rule_free(struct exec_rule *r)
{
	for (unsigned i = 0; i < r->nfixed; i++)
		free(r->fixed[i]);
	free(r->fixed);
	for (unsigned i = 0; i < r->npat; i++) {
		regfree(&r->pat[i]);
		free(r->pat_src[i]);
	}
	free(r->pat);
	free(r->pat_src);
	memset(r, 0, sizeof(*r));
}

void exec_allowlist_free(struct exec_allowlist *al)
{
	for (unsigned i = 0; i < al->n; i++)
		rule_free(&al->v[i]);
	free(al->v);
	memset(al, 0, sizeof(*al));
}

const struct exec_rule *exec_allowlist_find(const struct exec_allowlist *al, const char *name)
{
	for (unsigned i = 0; i < al->n; i++)
		if (!strcmp(al->v[i].name, name))
			return &al->v[i];
	return NULL;
}

static int add_pattern(struct exec_rule *r, const char *src)
{
	size_t n = strlen(src) + 5;
	char *anch = malloc(n);
	regex_t *pat = realloc(r->pat, (r->npat + 1) * sizeof(*pat));
	char **ps;
	int rc;

	if (pat)
		r->pat = pat;
	ps = realloc(r->pat_src, (r->npat + 1) * sizeof(*ps));
	if (ps)
		r->pat_src = ps;
	if (!anch || !pat || !ps) {
		free(anch);
		return -ENOMEM;
	}
	snprintf(anch, n, "^(%s)$", src);
	rc = regcomp(&r->pat[r->npat], anch, REG_EXTENDED | REG_NOSUB);
	free(anch);
	if (rc)
		return -EINVAL;
	r->pat_src[r->npat] = strdup(src);
	if (!r->pat_src[r->npat]) {
		regfree(&r->pat[r->npat]);
		return -ENOMEM;
	}
	r->npat++;
	return 0;
}

/* Leading arguments: split at blanks; "..." or '...' keeps blanks in one argument (no escapes). */
static int add_fixed(struct exec_rule *r, char *v)
{
	while (*v) {
		char *tok, **f;

		while (*v == ' ' || *v == '\t')
			v++;
		if (!*v)
			break;
		if (*v == '"' || *v == '\'') {
			char q = *v++, *end = strchr(v, q);

			if (!end)
				return -EINVAL;
			*end = 0;
			tok = v;
			v = end + 1;
			if (*v && *v != ' ' && *v != '\t')
				return -EINVAL;
		} else {
			tok = v;
			v += strcspn(v, " \t");
			if (*v)
				*v++ = 0;
			if (strchr(tok, '"') || strchr(tok, '\''))
				return -EINVAL;
		}
		f = realloc(r->fixed, (r->nfixed + 1) * sizeof(*f));
		if (!f)
			return -ENOMEM;
		r->fixed = f;
		r->fixed[r->nfixed] = strdup(tok);
		if (!r->fixed[r->nfixed])
			return -ENOMEM;
		r->nfixed++;
	}
	return 0;
}

#define PERR(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		goto fail;                                                                         \
	} while (0)

int exec_allowlist_parse(struct exec_allowlist *al, const char *text, const char *fname, char *err,
			 size_t errlen)
{
	struct exec_allowlist mine = {0};
	struct exec_rule *cur = NULL;
	char *copy = strdup(text), *line, *p = copy;
	int lineno = 0, section = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while ((line = next_line(&p))) {
		char *k = trim(line), *v, *eq;
		size_t kl;

		lineno++;
		if (!*k || *k == '#' || *k == ';')
			continue;
		kl = strlen(k);
		if (*k == '[') {
			struct exec_rule *v2;

			if (k[kl - 1] != ']')
				PERR("line %d: expected [name]", lineno);
			k[kl - 1] = 0;
			k++;
			if (!proto_token_ok(k, 64, "._-"))
				PERR("line %d: command names are 1 to 64 of A-Z a-z 0-9 . _ -",
				     lineno);
			if (exec_allowlist_find(&mine, k) || exec_allowlist_find(al, k))
				PERR("line %d: '%s' is already defined", lineno, k);
			if (cur && !cur->path[0])
				PERR("line %d: [%s] has no exec =", section, cur->name);
			section = lineno;
			v2 = realloc(mine.v, (mine.n + 1) * sizeof(*v2));
			if (!v2)
				PERR("out of memory");
			mine.v = v2;
			cur = &mine.v[mine.n++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->name, sizeof(cur->name), "%s", k);
			cur->max_output = EXEC_DEFAULT_OUTPUT;
			snprintf(cur->src, sizeof(cur->src), "%.140s:%d", fname, lineno);
			continue;
		}
		eq = strchr(k, '=');
		if (!eq)
			PERR("line %d: expected key = value", lineno);
		if (!cur)
			PERR("line %d: a setting before the first [name]", lineno);
		*eq = 0;
		v = trim(eq + 1);
		k = trim(k);
		if (!strcmp(k, "exec")) {
			if (v[0] != '/' || strlen(v) >= sizeof(cur->path) || strstr(v, "/../") ||
			    strchr(v, ' '))
				PERR("line %d: exec must be an absolute path", lineno);
			snprintf(cur->path, sizeof(cur->path), "%s", v);
		} else if (!strcmp(k, "args")) {
			int rc = add_fixed(cur, v);

			if (rc == -EINVAL)
				PERR("line %d: args: an unmatched or misplaced quote", lineno);
			if (rc < 0)
				PERR("out of memory");
			if (cur->nfixed > PROTO_MAX_ARGS)
				PERR("line %d: at most %d fixed arguments", lineno, PROTO_MAX_ARGS);
		} else if (!strcmp(k, "arg")) {
			int rc = add_pattern(cur, v);

			if (rc == -EINVAL)
				PERR("line %d: not a valid extended regular expression", lineno);
			if (rc < 0)
				PERR("out of memory");
			if (cur->npat > PROTO_MAX_ARGS)
				PERR("line %d: at most %d server arguments", lineno,
				     PROTO_MAX_ARGS);
		} else if (!strcmp(k, "timeout")) {
			uint64_t t;

			if (parse_u64(v, 1, 3600, &t) < 0)
				PERR("line %d: timeout is 1..3600 seconds", lineno);
			cur->timeout = (unsigned)t;
		} else if (!strcmp(k, "max_output")) {
			uint64_t t;

			if (parse_u64(v, 0, CMDLOG_MAX_OUTPUT, &t) < 0)
				PERR("line %d: max_output is 0..%u bytes", lineno,
				     CMDLOG_MAX_OUTPUT);
			cur->max_output = (size_t)t;
		} else if (!strcmp(k, "user")) {
			if (!*v || strlen(v) >= sizeof(cur->user))
				PERR("line %d: user is a user name", lineno);
			snprintf(cur->user, sizeof(cur->user), "%s", v);
		} else if (!strcmp(k, "allow_paths")) {
			if (parse_bool(v, &cur->allow_paths) < 0)
				PERR("line %d: allow_paths must be yes or no", lineno);
		} else {
			PERR("line %d: unknown key '%.40s'", lineno, k);
		}
	}
	if (cur && !cur->path[0])
		PERR("line %d: [%s] has no exec =", section, cur->name);
	free(copy);
	if (mine.n) {
		struct exec_rule *v = realloc(al->v, (al->n + mine.n) * sizeof(*v));

		if (!v) {
			exec_allowlist_free(&mine);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		al->v = v;
		memcpy(al->v + al->n, mine.v, mine.n * sizeof(*v));
		al->n += mine.n;
	}
	free(mine.v);
	return 0;
fail:
	free(copy);
	exec_allowlist_free(&mine);
	return -1;
}

static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

void exec_allowlist_load(struct exec_allowlist *al, const char *dir)
{
	static char buf[ALLOW_MAX_FILE + 1];
	struct dirent **names = NULL;
	struct stat st;
	char err[256];
	int dfd, n;

	memset(al, 0, sizeof(*al));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			log_error("cannot open the command allowlist %s: %s", dir, strerror(errno));
		return;
	}
	if (fstat(dfd, &st) < 0 || !root_only_writable(&st)) {
		log_error("the command allowlist %s is not owned by root or is writable by others: "
			  "ignored",
			  dir);
		close(dfd);
		return;
	}
	n = scandirat(dfd, ".", &names, conf_filter, alphasort);
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		char fname[4096 + 256];
		int fd = openat(dfd, f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY), r;
		size_t got;

		snprintf(fname, sizeof(fname), "%s/%s", dir, f);
		al->files++;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    !root_only_writable(&st) || st.st_size > ALLOW_MAX_FILE) {
			log_error("%s: %s: skipped", fname,
				  fd < 0
				      ? strerror(errno)
				      : "not a regular file owned by root, writable only by root, "
					"within 64 KiB");
			al->bad_files++;
			if (fd >= 0)
				close(fd);
			free(names[i]);
			continue;
		}
		r = read_fd(fd, buf, ALLOW_MAX_FILE, &got);
		close(fd);
		if (r < 0) {
			log_error("cannot read %s: %s: skipped", fname,
				  r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
			al->bad_files++;
		} else {
			buf[got] = 0;
			if (memchr(buf, 0, got) ||
			    exec_allowlist_parse(al, buf, fname, err, sizeof(err)) < 0) {
				log_error("%s: %s: the file is skipped", fname,
					  memchr(buf, 0, got) ? "a NUL byte" : err);
				al->bad_files++;
			}
		}
		free(names[i]);
	}
	free(names);
	close(dfd);
}

/* ---- arguments ---- */

static bool dotdot(const char *a)
{
	size_t n = strlen(a);

	return !strcmp(a, "..") || !strncmp(a, "../", 3) || strstr(a, "/../") ||
	       (n >= 3 && !strcmp(a + n - 3, "/.."));
}

int exec_check_args(const struct exec_rule *r, unsigned argc, const char *const *argv, char *why,
		    size_t whylen)
{
	if (argc > r->npat) {
		snprintf(why, whylen, "'%s' takes at most %u argument%s from the server, not %u",
			 r->name, r->npat, r->npat == 1 ? "" : "s", argc);
		return -1;
	}
	for (unsigned i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t n = strlen(a);

		if (n > EXEC_MAX_ARG) {
			snprintf(why, whylen, "argument %u is longer than %d bytes", i + 1,
				 EXEC_MAX_ARG);
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			unsigned char c = (unsigned char)a[j];

			if (c < 0x20 || c == 0x7f) {
				snprintf(why, whylen,
					 "argument %u has a control character (0x%02x at byte %zu)",
					 i + 1, c, j);
				return -1;
			}
		}
		if (dotdot(a)) {
			snprintf(why, whylen, "argument %u has a '..' path component", i + 1);
			return -1;
		}
		if (!r->allow_paths && strchr(a, '/')) {
			snprintf(why, whylen, "argument %u is a path ('/' is not allowed for '%s')",
				 i + 1, r->name);
			return -1;
		}
		if (regexec(&r->pat[i], a, 0, NULL, 0)) {
			snprintf(why, whylen,
				 "argument %u does not match the allowlist pattern %.80s", i + 1,
				 r->pat_src[i]);
			return -1;
		}
	}
	return 0;
}

/* ---- running ---- */

struct sink {
	char *buf;
	size_t len, cap;
	bool trunc;
	int fd;
};

/* Read what is there; output past the cap is read and dropped so the command never blocks on a
 * full pipe. Returns 1 at EOF. */
static int drain(struct sink *s)
{
	char tmp[16384];

	for (;;) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : 1;
		if (n == 0)
			return 1;
		if (s->len < s->cap) {
			size_t k = (size_t)n < s->cap - s->len ? (size_t)n : s->cap - s->len;

			memcpy(s->buf + s->len, tmp, k);
			s->len += k;
			if (k < (size_t)n)
				s->trunc = true;
		} else {
			s->trunc = true;
		}
	}
}

static void child(const struct exec_spec *s, int out, int err, int rep, uid_t uid, gid_t gid,
		  const gid_t *groups, int ngroups, char *const envp[])
{
	int e[2] = {0, 0}, null;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setpgid(0, 0);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
	    dup3(rep, 3, O_CLOEXEC) < 0) {
		e[0] = 1;
		goto fail;
	}
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
	rep = 3;
	/* the service's CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH are for netinv, not for its commands
	 */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		e[0] = 5;
		goto fail;
	}
	if (s->user && *s->user) {
		if (setgroups((size_t)ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
		    (uid != 0 && setuid(0) == 0)) {
			e[0] = 2;
			goto fail;
		}
	}
	if (chdir("/") < 0) {
		e[0] = 3;
		goto fail;
	}
	umask(022);
	execve(s->path, s->argv, envp);
	e[0] = 4;
fail:
	e[1] = errno;
	if (write(rep, e, sizeof(e)) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

static uint64_t now_ms(void)
{
	return snap_mono_us() / 1000;
}

int exec_spawn(const struct exec_spec *s, struct exec_result *res)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, px[2] = {-1, -1}, pidfd = -1, status = 0;
	struct sink so = {0}, se = {0};
	uid_t uid = 0;
	gid_t gid = 0, groups[64];
	int ngroups = 64, e[2];
	char home[512] = "HOME=/", user[64] = "USER=", logname[64] = "LOGNAME=", id[128];
	char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LC_ALL=C.UTF-8",
			home,
			user,
			logname,
			id,
			NULL};
	uint64_t t0 = now_ms(), deadline, drain_until = 0;
	bool exited = false, killed = false, eof_o = false, eof_e = false;
	pid_t pid;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	snprintf(id, sizeof(id), "NETINV_COMMAND_ID=%s", s->cmd_id ? s->cmd_id : "");
	if (s->user && *s->user) {
		struct passwd pw, *pp = NULL;
		char pwbuf[4096];

		if (getpwnam_r(s->user, &pw, pwbuf, sizeof(pwbuf), &pp) || !pp) {
			snprintf(res->error, sizeof(res->error), "no user '%s' on this host",
				 s->user);
			return -1;
		}
		uid = pp->pw_uid;
		gid = pp->pw_gid;
		if (getgrouplist(s->user, gid, groups, &ngroups) < 0)
			ngroups = 64;
		snprintf(home, sizeof(home), "HOME=%.500s", pp->pw_dir);
		snprintf(user, sizeof(user), "USER=%.32s", s->user);
		snprintf(logname, sizeof(logname), "LOGNAME=%.32s", s->user);
	} else {
		struct passwd pw, *pp = NULL;
		char pwbuf[4096];

		if (!getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pp) && pp) {
			snprintf(user, sizeof(user), "USER=%.32s", pp->pw_name);
			snprintf(logname, sizeof(logname), "LOGNAME=%.32s", pp->pw_name);
		}
	}
	so.cap = se.cap = s->max_output;
	so.buf = malloc(s->max_output ? s->max_output : 1);
	se.buf = malloc(s->max_output ? s->max_output : 1);
	if (!so.buf || !se.buf || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    pipe2(px, O_CLOEXEC) < 0) {
		snprintf(res->error, sizeof(res->error), "cannot set up the command's pipes: %s",
			 strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(res->error, sizeof(res->error), "cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(s, po[1], pe[1], px[1], uid, gid, groups, ngroups, envp);
	setpgid(pid, pid); /* also here: no window where a timeout could miss the group */
	close(po[1]);
	close(pe[1]);
	close(px[1]);
	po[1] = pe[1] = px[1] = -1;
	while ((n = read(px[0], e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(px[0]);
	px[0] = -1;
	if (n == (ssize_t)sizeof(e)) {
		static const char *const step[] = {"",
						   "set up its standard streams",
						   "switch to the user",
						   "chdir to /",
						   "execute",
						   "drop the ambient capabilities of"};

		waitpid(pid, &status, 0);
		snprintf(res->error, sizeof(res->error), "cannot %s %s: %s",
			 step[e[0] >= 1 && e[0] <= 5 ? e[0] : 0], e[0] == 2 ? s->user : s->path,
			 strerror(e[1]));
		goto fail;
	}
	so.fd = po[0];
	se.fd = pe[0];
	fcntl(so.fd, F_SETFL, O_NONBLOCK);
	fcntl(se.fd, F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = t0 + s->timeout_ms;
	for (;;) {
		struct pollfd pf[3];
		uint64_t now = now_ms(), until;
		int np = 0, wait_ms;

		if (!exited) {
			siginfo_t si = {0};

			/* WNOWAIT: the leader stays a zombie, so its group id cannot be reused
			 * while what it left running in the group is killed with it */
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				exited = true;
				res->duration_ms = now - t0;
				kill(-pid, SIGKILL);
				waitpid(pid, &status, 0);
				drain_until = now + 500;
			}
		}
		if (exited && ((eof_o && eof_e) || now >= drain_until))
			break;
		if (!exited && now >= deadline) {
			if (!res->timed_out) {
				res->timed_out = true;
				kill(-pid, SIGTERM);
				deadline = now + s->grace_ms;
			} else if (!killed) {
				killed = true;
				kill(-pid, SIGKILL);
				deadline = now + 60000;
			} else {
				break; /* not even SIGKILL ended it in a minute */
			}
		}
		until = exited ? drain_until : deadline;
		wait_ms = until > now ? (int)(until - now) : 0;
		if (!eof_o)
			pf[np++] = (struct pollfd){.fd = so.fd, .events = POLLIN};
		if (!eof_e)
			pf[np++] = (struct pollfd){.fd = se.fd, .events = POLLIN};
		if (!exited && pidfd >= 0)
			pf[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (!exited && pidfd < 0 && wait_ms > 20)
			wait_ms = 20;
		if (poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		if (!eof_o && drain(&so))
			eof_o = true;
		if (!eof_e && drain(&se))
			eof_e = true;
		if (eof_o && eof_e && !exited && pidfd < 0) {
			/* no pidfd: the streams closed, wait for the exit in small steps */
			struct timespec ts = {0, 5 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		res->duration_ms = now_ms() - t0;
	}
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
	}
	if (pidfd >= 0)
		close(pidfd);
	close(po[0]);
	close(pe[0]);
	res->out = so.buf;
	res->out_len = so.len;
	res->out_trunc = so.trunc;
	res->err = se.buf;
	res->err_len = se.len;
	res->err_trunc = se.trunc;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
		if (px[i] >= 0)
			close(px[i]);
	}
	free(so.buf);
	free(se.buf);
	res->duration_ms = now_ms() - t0;
	return -1;
}

/* ---- one command from the server ---- */

static void take_result(struct cmd_entry *e, struct exec_result *res)
{
	e->status = CMD_COMPLETED;
	e->exit_code = res->exit_code;
	e->signal = res->signal;
	e->timed_out = res->timed_out;
	e->duration_ms = (uint32_t)(res->duration_ms > UINT32_MAX ? UINT32_MAX : res->duration_ms);
	e->out = res->out;
	e->out_len = (uint32_t)res->out_len;
	e->out_trunc = res->out_trunc;
	e->err = res->err;
	e->err_len = (uint32_t)res->err_len;
	e->err_trunc = res->err_trunc;
	if (res->timed_out)
		snprintf(e->reason, sizeof(e->reason), "killed at its timeout");
	res->out = res->err = NULL;
}

static int exec_dir(struct state_dir *sd, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	if (mkdirat(sd->dfd, EXEC_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %.200s/%s: %s", sd->path, EXEC_DIR,
			 strerror(errno));
		return -1;
	}
	fd = openat(sd->dfd, EXEC_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		snprintf(why, whylen, "%.200s/%s is not a private (0700) directory of this user",
			 sd->path, EXEC_DIR);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void exec_cleanup_scripts(struct state_dir *sd)
{
	char why[256];
	int fd = -1;
	DIR *d;
	struct dirent *de;

	if (faccessat(sd->dfd, EXEC_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	fd = exec_dir(sd, why, sizeof(why));
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, "script-", 7) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* our own leftovers are regular files; anything else was put there by someone else:
		 * left for an administrator to look at (the script of that id is then refused) */
		if (S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlinkat(dirfd(d), de->d_name, 0);
		else
			log_warn("%.200s/%s/%s is not a script netinv wrote: left in place",
				 sd->path, EXEC_DIR, de->d_name);
	}
	closedir(d);
}

static void run_script(const struct exec_env *env, const struct proto_reply *r,
		       const struct proto_command *c, struct cmd_entry *e, unsigned timeout)
{
	const char *text = r->arena + c->script_off;
	char why[320], name[96], path[4096 + 128];
	char *argv[PROTO_MAX_ARGS + 5];
	struct exec_spec sp = {0};
	struct exec_result res;
	size_t len = strlen(text);
	int wr;
	int dfd, fd;

	if (!env->local->allow_scripts) {
		cmd_entry_reason(e, CMD_REFUSED, "scripts need exec_allow_scripts=yes in %s",
				 env->local->config);
		return;
	}
	for (unsigned i = 0; i < c->argc; i++)
		for (const char *a = proto_cmd_arg(r, c, i); *a; a++)
			if ((unsigned char)*a < 0x20 || *a == 0x7f) {
				cmd_entry_reason(e, CMD_REFUSED,
						 "argument %u has a control character", i + 1);
				return;
			}
	dfd = exec_dir(env->sd, why, sizeof(why));
	if (dfd < 0) {
		cmd_entry_reason(e, CMD_FAILED, "%s", why);
		return;
	}
	snprintf(name, sizeof(name), "script-%s.sh", c->id);
	snprintf(path, sizeof(path), "%s/%s/%s", env->sd->path, EXEC_DIR, name);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (fd < 0) {
		if (errno == EEXIST)
			cmd_entry_reason(
			    e, CMD_REFUSED,
			    "something is already at %.200s (a planted file or symlink?): "
			    "the script is not written or run",
			    path);
		else
			cmd_entry_reason(e, CMD_FAILED, "cannot create %.200s: %s", path,
					 strerror(errno));
		close(dfd);
		return;
	}
	wr = json_write_all(fd, text, len);
	if (close(fd) < 0 && wr == 0)
		wr = -errno;
	if (wr < 0) {
		cmd_entry_reason(e, CMD_FAILED, "cannot write %.200s: %s", path, strerror(-wr));
		unlinkat(dfd, name, 0);
		close(dfd);
		return;
	}
	argv[0] = SCRIPT_SHELL;
	argv[1] = "-euo";
	argv[2] = "pipefail";
	argv[3] = path;
	for (unsigned i = 0; i < c->argc; i++)
		argv[4 + i] = (char *)proto_cmd_arg(r, c, i);
	argv[4 + c->argc] = NULL;
	sp.path = SCRIPT_SHELL;
	sp.argv = argv;
	sp.cmd_id = c->id;
	sp.timeout_ms = timeout * 1000;
	sp.grace_ms = EXEC_GRACE_MS;
	sp.max_output = EXEC_DEFAULT_OUTPUT;
	if (exec_spawn(&sp, &res) < 0)
		cmd_entry_reason(e, CMD_FAILED, "%s", res.error);
	else
		take_result(e, &res);
	/* whatever happened, the script goes */
	unlinkat(dfd, name, 0);
	close(dfd);
}

void exec_command(const struct exec_env *env, const struct proto_reply *r,
		  const struct proto_command *c, struct cmd_entry *e)
{
	const struct exec_rule *rule;
	const char *args[PROTO_MAX_ARGS];
	char *argv[PROTO_MAX_ARGS * 2 + 2];
	char why[320];
	struct exec_spec sp = {0};
	struct exec_result res;
	struct stat st;
	unsigned timeout, na = 0;

	if (c->bad[0]) {
		cmd_entry_reason(e, CMD_REFUSED, "malformed command: %s", c->bad);
		return;
	}
	if (!env->local->enabled) {
		cmd_entry_reason(e, CMD_REFUSED, "command execution is off on this host: %s",
				 env->local->why);
		return;
	}
	if (!env->policy->commands) {
		cmd_entry_reason(e, CMD_REFUSED,
				 "the server's policy does not allow commands (commands_enabled)");
		return;
	}
	timeout = env->policy->cmd_timeout ? env->policy->cmd_timeout : 15;
	if (c->script_off >= 0) {
		run_script(env, r, c, e, timeout);
		return;
	}
	rule = exec_allowlist_find(env->allow, c->name);
	if (!rule) {
		cmd_entry_reason(e, CMD_REFUSED, "'%s' is not in the allowlist (%s)", c->name,
				 env->local->commands_dir);
		return;
	}
	for (unsigned i = 0; i < c->argc; i++)
		args[i] = proto_cmd_arg(r, c, i);
	if (exec_check_args(rule, c->argc, args, why, sizeof(why)) < 0) {
		cmd_entry_reason(e, CMD_REFUSED, "%s", why);
		return;
	}
	if (stat(rule->path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		cmd_entry_reason(e, CMD_REFUSED,
				 "%.200s (%s) is not an executable file owned by root and writable "
				 "only by its owner",
				 rule->path, rule->src);
		return;
	}
	if (rule->timeout && rule->timeout < timeout)
		timeout = rule->timeout;
	argv[na++] = (char *)rule->path;
	for (unsigned i = 0; i < rule->nfixed; i++)
		argv[na++] = rule->fixed[i];
	for (unsigned i = 0; i < c->argc; i++)
		argv[na++] = (char *)args[i];
	argv[na] = NULL;
	sp.path = rule->path;
	sp.argv = argv;
	sp.user = rule->user;
	sp.cmd_id = c->id;
	sp.timeout_ms = timeout * 1000;
	sp.grace_ms = EXEC_GRACE_MS;
	sp.max_output = rule->max_output;
	if (exec_spawn(&sp, &res) < 0)
		cmd_entry_reason(e, CMD_FAILED, "%s", res.error);
	else
		take_result(e, &res);
}
