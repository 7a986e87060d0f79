/*
 * exec: the gated command execution module (compiled in unless `make EXEC=0`). A command the server
 * sends runs only when all three gates are open:
 *   1. the module is compiled in;
 *   2. `exec_enabled=yes` in the local configuration file (default /etc/netinv/netinv.conf), which
 *      must be owned by root and writable by nobody else, as must its directory; never from the
 *      environment, a flag or the server;
 *   3. the server's policy says `commands_enabled: true`.
 * and then only as an allowlisted name (commands.d/ beside the configuration file) with arguments
 * each matching the pattern of its position, or, with a second local switch
 * (`exec_allow_scripts=yes`), as a script run by `bash -euo pipefail` from a 0700 file created
 * O_EXCL|O_NOFOLLOW in the state directory's private exec/ and removed afterwards.
 *
 * A command runs by fork + execve with an argv (never a shell of a server string), a scrubbed
 * environment, stdin from /dev/null, in its own process group; at its timeout the whole group gets
 * SIGTERM, then SIGKILL after a grace period; stdout and stderr are captured up to a cap each.
 *
 * The folder, by job: gate.c (gate 2), allowlist.c, spawn.c (the process runner), run.c (the gates
 * decided for one command, scripts), cmdlog.c (the journal: at most once, results until delivered)
 * and dispatch.c (commands of a check-in reply; results in the next report). `make EXEC=0` leaves
 * out the four files that can run anything; the journal and dispatch stay, so refusals are still
 * recorded and reported, and the end of this header is the refusal that build uses. Nothing
 * outside this folder asks whether the module is compiled in.
 */
#ifndef NETINV_EXEC_H
#define NETINV_EXEC_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmd_entry;
struct policy;
struct proto_command;
struct proto_reply;
struct state_dir;

#define EXEC_MAX_ARG	    4096
#define EXEC_DEFAULT_OUTPUT 65536
#define EXEC_GRACE_MS	    2000

/* Gate 2: the local configuration. */
struct exec_local {
	bool enabled;
	bool allow_scripts;
	char config[4096];
	char commands_dir[4096];
	char why[320]; /* when not enabled: why, one line */
};

/* Never fails: a file that cannot be used leaves the gate closed with the reason in lg->why. */
void exec_local_load(struct exec_local *lg, const char *config_path);

struct exec_rule {
	char name[65];
	char path[4096];
	char **fixed; /* leading arguments, from the allowlist */
	unsigned nfixed;
	regex_t *pat; /* one per server argument position, anchored */
	char **pat_src;
	unsigned npat;
	unsigned timeout;  /* seconds, 0 = the policy's */
	size_t max_output; /* per stream */
	char user[33];	   /* "" = netinv's own */
	bool allow_paths;  /* arguments may contain '/' */
	char src[160];	   /* file:line */
};

struct exec_allowlist {
	struct exec_rule *v;
	unsigned n;
	unsigned files, bad_files;
	char problems[1024]; /* why files were skipped ("; " between them), for the caller to log */
};

/* Load every *.conf in dir (sorted). A file that is unsafe (not root's, writable by others, a
 * symlink) or malformed is skipped whole, said in al->problems with file:line. */
void exec_allowlist_load(struct exec_allowlist *al, const char *dir);
/* Parse one file's text (exposed for tests): 0, or -1 with "line N: reason". */
int exec_allowlist_parse(struct exec_allowlist *al, const char *text, const char *fname, char *err,
			 size_t errlen);
void exec_allowlist_free(struct exec_allowlist *al);
const struct exec_rule *exec_allowlist_find(const struct exec_allowlist *al, const char *name);

/* Server arguments against a rule: 0, or -1 with the reason. */
int exec_check_args(const struct exec_rule *r, unsigned argc, const char *const *argv, char *why,
		    size_t whylen);

struct exec_spec {
	const char *path;
	char *const *argv;
	const char *user;   /* NULL or "" = netinv's own */
	const char *cmd_id; /* NETINV_COMMAND_ID in the environment */
	unsigned timeout_ms;
	unsigned grace_ms;
	size_t max_output; /* per stream */
};

struct exec_result {
	int exit_code; /* -1: none (signalled, or never started) */
	int signal;    /* 0: none */
	bool timed_out;
	uint64_t duration_ms;
	char *out, *err;
	size_t out_len, err_len;
	bool out_trunc, err_trunc;
	char error[256]; /* non-empty: it could not be started */
};

/* Run one command to its end (or its timeout). 0 when it ran, -1 when it could not be started
 * (res->error says why). The caller frees res->out and res->err. */
int exec_spawn(const struct exec_spec *s, struct exec_result *res);

struct exec_env {
	const struct exec_local *local;
	const struct exec_allowlist *allow;
	const struct policy *policy;
	struct state_dir *sd;
};

/* One command from the server, every gate applied; e gets the result. */
void exec_command(const struct exec_env *env, const struct proto_reply *r,
		  const struct proto_command *c, struct cmd_entry *e);
/* Remove script files a stopped run left in the state directory's exec/ (regular files of this
 * user only; anything else is left, and said in note). */
void exec_cleanup_scripts(struct state_dir *sd, char *note, size_t notelen);
/* Append a one-line problem to buf ("; " between them; cut when full). */
void exec_note(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the module's face to the rest of netinv ---- */

#include "cmdlog.h"
#include <stdio.h>

/* What one run holds of the module: the local gate and the allowlist, read once. */
struct exec_ctx {
#if NETINV_EXEC
	bool ready;
	struct exec_local local;
	struct exec_allowlist allow;
	char problems[1536]; /* what preparing met (skipped allowlist files, planted scripts) */
#else
	char unused;
#endif
};

#if NETINV_EXEC
/* Read the local gate and the allowlist (once per run) and clear what an earlier run's scripts
 * left; before netinv gives up CAP_DAC_READ_SEARCH, which reads the root-only files. */
/* Returns, the first time only, what it met that the operator should hear of (one line, "" for
 * nothing); NULL on later calls. */
const char *exec_ctx_prepare(struct exec_ctx *x, const char *config_path, struct state_dir *sd);
void exec_ctx_free(struct exec_ctx *x);
/* Run command c of reply r through every gate, or refuse it; the outcome goes into e. */
void exec_ctx_run(struct exec_ctx *x, const struct proto_reply *r, const struct proto_command *c,
		  struct cmd_entry *e, struct state_dir *sd);
/* The status lines of `netinv status`. */
void exec_print_status(const char *config_path, bool policy_allows, FILE *f);
/* What --version says of the module. */
const char *exec_build_note(void);
#else
/* Built with EXEC=0: nothing can run; every command is refused, and said to be. */
static inline const char *exec_ctx_prepare(struct exec_ctx *x, const char *config_path,
					   struct state_dir *sd)
{
	(void)x;
	(void)config_path;
	(void)sd;
	return NULL;
}
static inline void exec_ctx_free(struct exec_ctx *x)
{
	(void)x;
}
static inline void exec_ctx_run(struct exec_ctx *x, const struct proto_reply *r,
				const struct proto_command *c, struct cmd_entry *e,
				struct state_dir *sd)
{
	(void)x;
	(void)r;
	(void)c;
	(void)sd;
	cmd_entry_reason(e, CMD_REFUSED,
			 "command execution is not compiled into this netinv (built with EXEC=0)");
}
static inline void exec_print_status(const char *config_path, bool policy_allows, FILE *f)
{
	(void)config_path;
	(void)policy_allows;
	fprintf(f, "command execution: not compiled in\n");
}
static inline const char *exec_build_note(void)
{
	return "command execution: not compiled in (built with EXEC=0)";
}
#endif

#endif
