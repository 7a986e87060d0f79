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
#include <stdarg.h>
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

void exec_note(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_appendv(buf, len, fmt, ap);
	va_end(ap);
}

void exec_cleanup_scripts(struct state_dir *sd, char *note, size_t notelen)
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
			exec_note(note, notelen, "%.200s/%s/%s is not a script netinv wrote: left in "
				  "place", sd->path, EXEC_DIR, de->d_name);
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
	/* root's only, as the allowlist itself: a program netinv's own user could replace would
	 * let a flaw in netinv rewrite what the allowlist lets run */
	if (stat(rule->path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) ||
	    st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		cmd_entry_reason(e, CMD_REFUSED,
				 "%.200s (%s) is not an executable file owned by root and writable "
				 "only by root",
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

const char *exec_ctx_prepare(struct exec_ctx *x, const char *config_path, struct state_dir *sd)
{
	if (x->ready)
		return NULL;
	x->problems[0] = 0;
	exec_local_load(&x->local, config_path);
	if (x->local.enabled) {
		exec_allowlist_load(&x->allow, x->local.commands_dir);
		if (x->allow.problems[0])
			exec_note(x->problems, sizeof(x->problems), "%s", x->allow.problems);
	}
	exec_cleanup_scripts(sd, x->problems, sizeof(x->problems));
	x->ready = true;
	return x->problems;
}

void exec_ctx_free(struct exec_ctx *x)
{
	exec_allowlist_free(&x->allow);
}

void exec_ctx_run(struct exec_ctx *x, const struct proto_reply *r, const struct proto_command *c,
		  struct cmd_entry *e, struct state_dir *sd)
{
	struct exec_env env = { .local = &x->local, .allow = &x->allow, .policy = &r->policy,
				.sd = sd };

	exec_command(&env, r, c, e);
}

void exec_print_status(const char *config_path, bool policy_allows, FILE *f)
{
	struct exec_local lg;
	struct exec_allowlist al;

	exec_local_load(&lg, config_path);
	if (!lg.enabled) {
		fprintf(f, "command execution: off (%s)\n", lg.why);
		return;
	}
	exec_allowlist_load(&al, lg.commands_dir);
	fprintf(f, "command execution: on here (%u allowlisted in %s%s); the server's policy %s "
		   "commands\n",
		al.n, lg.commands_dir, lg.allow_scripts ? ", scripts allowed" : "",
		policy_allows ? "allows" : "does not allow");
	exec_allowlist_free(&al);
}

const char *exec_build_note(void)
{
	return "command execution: compiled in (runs nothing unless exec_enabled=yes in the local "
	       "configuration and the server's policy allows commands)";
}
