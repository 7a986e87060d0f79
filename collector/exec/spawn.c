#include "exec.h"
#include "cmdlog.h"
#include "../config.h"
#include "../state.h"
#include "../util.h"
#include "../../delta/snapshot.h"
#include "../../report/json.h"
#include "../../report/proto.h"

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

/* ---- every descendant of a command ends with it ----
 * A command that calls setsid, or forks twice, leaves its process group. netinv is a child
 * subreaper, so what such a command leaves behind is reparented to netinv, not to init, and stays
 * in netinv's process tree; when the command ends (exit, timeout, or netinv being told to stop)
 * that whole tree is signalled and reaped. Under the unit, systemd's control group is the outer
 * bound (a process hidden from /proc by ProtectProc cannot be seen, but cannot outlive the unit). */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define PID_LIMIT (1 << 22)
#define PID_BITMAP (PID_LIMIT / 8)

static void set_pid(uint8_t *b, pid_t p)
{
	b[p >> 3] |= (uint8_t)(1u << (p & 7));
}

static bool has_pid(const uint8_t *b, pid_t p)
{
	return b[p >> 3] & (1u << (p & 7));
}

/* Signal every process whose ancestry leads to netinv; returns how many were found. */
static unsigned signal_descendants(int sig)
{
	enum { MAXP = 1 << 16 };
	pid_t *pid = malloc(MAXP * sizeof(*pid)), *ppid = malloc(MAXP * sizeof(*ppid));
	uint8_t *mine = calloc(MAXP, 1), *tree = calloc(PID_BITMAP, 1);
	unsigned n = 0, found = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool grew = true;

	if (!pid || !ppid || !mine || !tree || !d) {
		free(pid);
		free(ppid);
		free(mine);
		free(tree);
		if (d)
			closedir(d);
		return 0;
	}
	while ((de = readdir(d)) && n < MAXP) {
		char path[64], buf[512], *rp;
		int fd;
		ssize_t len;
		int pp;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		/* "pid (comm) S ppid ...": comm may hold anything, so parse after the last ')' */
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 1, " %*c %d", &pp) != 1)
			continue;
		pid[n] = (pid_t)atoi(de->d_name);
		ppid[n] = (pid_t)pp;
		if (pid[n] > 0 && pid[n] < PID_LIMIT && pp >= 0 && pp < PID_LIMIT)
			n++;
	}
	closedir(d);
	/* the tree, one level per pass: a process is ours when its parent is (pid bitmap) */
	set_pid(tree, getpid());
	while (grew) {
		grew = false;
		for (unsigned i = 0; i < n; i++) {
			if (!mine[i] && has_pid(tree, ppid[i])) {
				mine[i] = 1;
				set_pid(tree, pid[i]);
				grew = true;
			}
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (!mine[i])
			continue;
		found++;
		kill(pid[i], sig);
	}
	free(pid);
	free(ppid);
	free(mine);
	free(tree);
	return found;
}

/* SIGKILL whatever is left of the command's tree and reap it (at most 5 s). */
static void end_descendants(void)
{
	uint64_t until = snap_mono_us() + 5000000;

	for (;;) {
		unsigned left = signal_descendants(SIGKILL);
		struct timespec ts = {0, 5 * 1000 * 1000};

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!left || snap_mono_us() > until)
			return;
		nanosleep(&ts, NULL);
	}
}

static void child(const struct exec_spec *s, int out, int err, int rep, uid_t uid, gid_t gid,
		  const gid_t *groups, int ngroups, char *const envp[], pid_t parent)
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
	/* netinv killed outright: the command goes with it (set after the user switch, which
	 * clears it) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
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

/* The stop handlers go; a stop asked for while the command ran takes effect now, its tree gone. */
static void restore_handlers(bool set, const struct sigaction *term, const struct sigaction *intr,
			     const struct sigaction *hup)
{
	int sig = stop_signal;

	if (!set)
		return;
	sigaction(SIGTERM, term, NULL);
	sigaction(SIGINT, intr, NULL);
	sigaction(SIGHUP, hup, NULL);
	if (sig) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static uint64_t now_ms(void)
{
	return snap_mono_us() / 1000;
}

/* One command's process, from fork to its last byte of output. */
struct spawn {
	const struct exec_spec *s;
	struct exec_result *res;
	uid_t uid;
	gid_t gid, groups[64];
	int ngroups;
	char home[512], user[64], logname[64], id[128];
	char *envp[7];
	int po[2], pe[2], px[2], pidfd, status;
	struct sink so, se;
	pid_t pid;
	uint64_t t0;
	bool handlers;
	struct sigaction old_term, old_int, old_hup;
};

/* Who the command runs as, and its scrubbed environment. */
static int spawn_identity(struct spawn *sp)
{
	const struct exec_spec *s = sp->s;
	struct passwd pw, *pp = NULL;
	char pwbuf[4096];

	snprintf(sp->home, sizeof(sp->home), "HOME=/");
	snprintf(sp->user, sizeof(sp->user), "USER=");
	snprintf(sp->logname, sizeof(sp->logname), "LOGNAME=");
	snprintf(sp->id, sizeof(sp->id), "NETINV_COMMAND_ID=%s", s->cmd_id ? s->cmd_id : "");
	sp->envp[0] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	sp->envp[1] = "LC_ALL=C.UTF-8";
	sp->envp[2] = sp->home;
	sp->envp[3] = sp->user;
	sp->envp[4] = sp->logname;
	sp->envp[5] = sp->id;
	sp->envp[6] = NULL;
	sp->ngroups = 64;
	if (s->user && *s->user) {
		if (getpwnam_r(s->user, &pw, pwbuf, sizeof(pwbuf), &pp) || !pp) {
			snprintf(sp->res->error, sizeof(sp->res->error), "no user '%s' on this host",
				 s->user);
			return -1;
		}
		sp->uid = pp->pw_uid;
		sp->gid = pp->pw_gid;
		if (getgrouplist(s->user, sp->gid, sp->groups, &sp->ngroups) < 0)
			sp->ngroups = 64;
		snprintf(sp->home, sizeof(sp->home), "HOME=%.500s", pp->pw_dir);
		snprintf(sp->user, sizeof(sp->user), "USER=%.32s", s->user);
		snprintf(sp->logname, sizeof(sp->logname), "LOGNAME=%.32s", s->user);
	} else if (!getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pp) && pp) {
		snprintf(sp->user, sizeof(sp->user), "USER=%.32s", pp->pw_name);
		snprintf(sp->logname, sizeof(sp->logname), "LOGNAME=%.32s", pp->pw_name);
	}
	return 0;
}

/* Pipes, the stop handlers, the fork; the child reports a failed set-up step on px. 0 once the
 * command runs, -1 with res->error. */
static int spawn_start(struct spawn *sp)
{
	static bool subreaper;
	struct sigaction sa = {.sa_handler = on_stop};
	const struct exec_spec *s = sp->s;
	pid_t parent = getpid();
	int e[2];
	ssize_t n;

	sp->so.cap = sp->se.cap = s->max_output;
	sp->so.buf = malloc(s->max_output ? s->max_output : 1);
	sp->se.buf = malloc(s->max_output ? s->max_output : 1);
	if (!sp->so.buf || !sp->se.buf || pipe2(sp->po, O_CLOEXEC) < 0 ||
	    pipe2(sp->pe, O_CLOEXEC) < 0 || pipe2(sp->px, O_CLOEXEC) < 0) {
		snprintf(sp->res->error, sizeof(sp->res->error),
			 "cannot set up the command's pipes: %s", strerror(errno ? errno : ENOMEM));
		return -1;
	}
	if (!subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
		subreaper = true;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	sigaction(SIGTERM, &sa, &sp->old_term);
	sigaction(SIGINT, &sa, &sp->old_int);
	sigaction(SIGHUP, &sa, &sp->old_hup);
	sp->handlers = true;
	sp->pid = fork();
	if (sp->pid < 0) {
		snprintf(sp->res->error, sizeof(sp->res->error), "cannot fork: %s", strerror(errno));
		return -1;
	}
	if (sp->pid == 0)
		child(s, sp->po[1], sp->pe[1], sp->px[1], sp->uid, sp->gid, sp->groups, sp->ngroups,
		      sp->envp, parent);
	setpgid(sp->pid, sp->pid); /* also here: no window where a timeout could miss the group */
	close(sp->po[1]);
	close(sp->pe[1]);
	close(sp->px[1]);
	sp->po[1] = sp->pe[1] = sp->px[1] = -1;
	while ((n = read(sp->px[0], e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(sp->px[0]);
	sp->px[0] = -1;
	if (n == (ssize_t)sizeof(e)) {
		static const char *const step[] = {"",
						   "set up its standard streams",
						   "switch to the user",
						   "chdir to /",
						   "execute",
						   "drop the ambient capabilities of"};

		waitpid(sp->pid, &sp->status, 0);
		snprintf(sp->res->error, sizeof(sp->res->error), "cannot %s %s: %s",
			 step[e[0] >= 1 && e[0] <= 5 ? e[0] : 0], e[0] == 2 ? s->user : s->path,
			 strerror(e[1]));
		return -1;
	}
	sp->so.fd = sp->po[0];
	sp->se.fd = sp->pe[0];
	fcntl(sp->so.fd, F_SETFL, O_NONBLOCK);
	fcntl(sp->se.fd, F_SETFL, O_NONBLOCK);
	sp->pidfd = (int)syscall(SYS_pidfd_open, sp->pid, 0);
	return 0;
}

/* Read its output until it exits (then up to 500 ms more for the streams to close); at the
 * timeout SIGTERM to the group and the whole tree, SIGKILL after the grace period. */
static void spawn_supervise(struct spawn *sp)
{
	const struct exec_spec *s = sp->s;
	struct exec_result *res = sp->res;
	uint64_t deadline = sp->t0 + s->timeout_ms, drain_until = 0;
	bool exited = false, killed = false, eof_o = false, eof_e = false;
	pid_t pid = sp->pid;

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
				res->duration_ms = now - sp->t0;
				kill(-pid, SIGKILL);
				waitpid(pid, &sp->status, 0);
				end_descendants(); /* what it left running, setsid or not */
				drain_until = now + 500;
			}
		}
		if (exited && ((eof_o && eof_e) || now >= drain_until))
			break;
		if (stop_signal && !exited && !killed) {
			/* netinv is told to stop: the command does not outlive it */
			res->timed_out = killed = true;
			kill(-pid, SIGKILL);
			signal_descendants(SIGKILL);
			deadline = now + 60000;
		}
		if (!exited && now >= deadline) {
			if (!res->timed_out) {
				res->timed_out = true;
				kill(-pid, SIGTERM);
				signal_descendants(SIGTERM);
				deadline = now + s->grace_ms;
			} else if (!killed) {
				killed = true;
				kill(-pid, SIGKILL);
				signal_descendants(SIGKILL);
				deadline = now + 60000;
			} else {
				break; /* not even SIGKILL ended it in a minute */
			}
		}
		until = exited ? drain_until : deadline;
		wait_ms = until > now ? (int)(until - now) : 0;
		if (!eof_o)
			pf[np++] = (struct pollfd){.fd = sp->so.fd, .events = POLLIN};
		if (!eof_e)
			pf[np++] = (struct pollfd){.fd = sp->se.fd, .events = POLLIN};
		if (!exited && sp->pidfd >= 0)
			pf[np++] = (struct pollfd){.fd = sp->pidfd, .events = POLLIN};
		if (!exited && sp->pidfd < 0 && wait_ms > 20)
			wait_ms = 20;
		if (poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		if (!eof_o && drain(&sp->so))
			eof_o = true;
		if (!eof_e && drain(&sp->se))
			eof_e = true;
		if (eof_o && eof_e && !exited && sp->pidfd < 0) {
			/* no pidfd: the streams closed, wait for the exit in small steps */
			struct timespec ts = {0, 5 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		waitpid(pid, &sp->status, 0);
		res->duration_ms = now_ms() - sp->t0;
	}
}

static void spawn_close(struct spawn *sp)
{
	for (int i = 0; i < 2; i++) {
		if (sp->po[i] >= 0)
			close(sp->po[i]);
		if (sp->pe[i] >= 0)
			close(sp->pe[i]);
		if (sp->px[i] >= 0)
			close(sp->px[i]);
	}
	if (sp->pidfd >= 0)
		close(sp->pidfd);
	restore_handlers(sp->handlers, &sp->old_term, &sp->old_int, &sp->old_hup);
}

int exec_spawn(const struct exec_spec *s, struct exec_result *res)
{
	struct spawn *sp = calloc(1, sizeof(*sp));
	int r = -1;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (!sp) {
		snprintf(res->error, sizeof(res->error), "out of memory starting the command");
		return -1;
	}
	*sp = (struct spawn){ .s = s, .res = res, .t0 = now_ms(), .pidfd = -1,
			      .po = {-1, -1}, .pe = {-1, -1}, .px = {-1, -1} };
	if (spawn_identity(sp) == 0 && spawn_start(sp) == 0) {
		spawn_supervise(sp);
		end_descendants();
		if (WIFEXITED(sp->status))
			res->exit_code = WEXITSTATUS(sp->status);
		else if (WIFSIGNALED(sp->status))
			res->signal = WTERMSIG(sp->status);
		res->out = sp->so.buf;
		res->out_len = sp->so.len;
		res->out_trunc = sp->so.trunc;
		res->err = sp->se.buf;
		res->err_len = sp->se.len;
		res->err_trunc = sp->se.trunc;
		sp->so.buf = sp->se.buf = NULL;
		r = 0;
	} else {
		res->duration_ms = now_ms() - sp->t0;
	}
	spawn_close(sp);
	free(sp->so.buf);
	free(sp->se.buf);
	free(sp);
	return r;
}

/* ---- one command from the server ---- */

