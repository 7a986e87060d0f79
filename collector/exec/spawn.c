#include "exec.h"
#include "cmdlog.h"
#include "../config.h"
#include "../log.h"
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

