/* The gated exec module: each gate closed refuses with its reason, the local gate only opens for a
 * root-owned file nobody else can write, the allowlist parser refuses what it does not understand,
 * server arguments are checked against injection, and the spawner captures, caps, scrubs the
 * environment and kills the whole process group at the timeout. */
#include "testutil.h"
#include "../../collector/exec/cmdlog.h"
#include "../../collector/exec/exec.h"
#include "../../collector/state.h"
#include "../../report/proto.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static int mkdir_setup(void **state)
{
	(void)state;
	return scratch_make(dir, sizeof(dir), "exec") < 0 ? -1 : chmod(dir, 0755);
}

static int rm_teardown(void **state)
{
	(void)state;
	return scratch_remove(dir);
}

static void put(const char *name, const char *text, mode_t mode)
{
	scratch_put(dir, name, text, mode);
}

static const char *path(const char *name)
{
	static char p[4][256];
	static unsigned k;
	char *q = p[k++ % 4];

	snprintf(q, 256, "%s/%s", dir, name);
	return q;
}

/* ---- gate 2 ---- */

static void test_local_gate(void **state)
{
	struct exec_local lg;

	(void)state;
	if (geteuid() != 0)
		skip(); /* the gate wants root-owned files */
	put("netinv.conf", "NETINV_SERVER_URL=https://x\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "exec_enabled=yes is not set"));
	assert_string_equal(lg.commands_dir, path("commands.d"));

	put("netinv.conf", "exec_enabled = yes\nexec_allow_scripts=no\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_true(lg.enabled);
	assert_false(lg.allow_scripts);

	put("netinv.conf", "exec_enabled=yes\nexec_allow_scripts=yes\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_true(lg.enabled && lg.allow_scripts);

	/* scripts alone open nothing */
	put("netinv.conf", "exec_allow_scripts=yes\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled || lg.allow_scripts);

	put("netinv.conf", "exec_enabled=maybe\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "must be yes or no"));

	put("netinv.conf", "exec_enable=yes\n", 0600);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "unknown setting 'exec_enable'"));

	/* writable by the group: ignored */
	put("netinv.conf", "exec_enabled=yes\n", 0660);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "owned by root"));

	/* owned by someone else: ignored */
	put("netinv.conf", "exec_enabled=yes\n", 0600);
	assert_int_equal(chown(path("netinv.conf"), 65534, 65534), 0);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_int_equal(chown(path("netinv.conf"), 0, 0), 0);

	/* a directory others can write to: anyone could swap the file */
	assert_int_equal(chmod(dir, 0777), 0);
	exec_local_load(&lg, path("netinv.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "the directory"));
	assert_int_equal(chmod(dir, 0755), 0);

	/* a symlink to a good file: not followed */
	assert_int_equal(symlink(path("netinv.conf"), path("link.conf")), 0);
	exec_local_load(&lg, path("link.conf"));
	assert_false(lg.enabled);

	exec_local_load(&lg, path("absent.conf"));
	assert_false(lg.enabled);
	assert_non_null(strstr(lg.why, "cannot read"));
	assert_null(strchr(lg.why, '\n'));
}

/* ---- the allowlist ---- */

static const char *good = "# diagnostics\n"
			  "[resolvectl-status]\n"
			  "exec = /usr/bin/resolvectl\n"
			  "args = status --no-pager\n"
			  "\n"
			  "[grep-log]\n"
			  "exec = /bin/grep\n"
			  "args = -c \"two words\" '--'\n"
			  "arg = [A-Za-z0-9_]{1,16}\n"
			  "arg = [a-z]+\\.log\n"
			  "timeout = 5\n"
			  "max_output = 100\n"
			  "user = nobody\n";

static void test_allowlist_parse(void **state)
{
	struct exec_allowlist al = {0};
	const struct exec_rule *r;
	char err[256];

	(void)state;
	assert_int_equal(exec_allowlist_parse(&al, good, "d.conf", err, sizeof(err)), 0);
	assert_int_equal(al.n, 2);
	r = exec_allowlist_find(&al, "resolvectl-status");
	assert_non_null(r);
	assert_int_equal(r->nfixed, 2);
	assert_string_equal(r->fixed[1], "--no-pager");
	assert_int_equal(r->npat, 0);
	assert_int_equal(r->max_output, EXEC_DEFAULT_OUTPUT);
	r = exec_allowlist_find(&al, "grep-log");
	assert_int_equal(r->nfixed, 3);
	assert_string_equal(r->fixed[1], "two words");
	assert_string_equal(r->fixed[2], "--");
	assert_int_equal(r->npat, 2);
	assert_int_equal(r->timeout, 5);
	assert_int_equal(r->max_output, 100);
	assert_string_equal(r->user, "nobody");
	assert_string_equal(r->src, "d.conf:6");
	assert_null(exec_allowlist_find(&al, "grep"));
	/* a second file may not redefine a name */
	assert_int_equal(
	    exec_allowlist_parse(&al, "[grep-log]\nexec=/bin/true\n", "e.conf", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "line 1: 'grep-log' is already defined");
	assert_int_equal(al.n, 2);
	exec_allowlist_free(&al);
}

/* The example shipped in deploy/ (and the package's docs) is itself a valid allowlist. */
static void test_shipped_example(void **state)
{
	struct exec_allowlist al = {0};
	char err[256], text[8192];
	FILE *f = fopen(FIXTURES "/../../deploy/commands.conf.example", "r");
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	if (exec_allowlist_parse(&al, text, "commands.conf.example", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(al.n, 3);
	assert_string_equal(exec_allowlist_find(&al, "installed-packages")->fixed[2],
			    "${Package} ${Version}\\n");
	exec_allowlist_free(&al);
}

/* What the pattern bound lets through: ordinary patterns, an IPv4 address with nested counts. */
static void test_allowlist_pattern_bound(void **state)
{
	static const char *const ok_patterns[] = {
		"[0-9]{1,3}(\\.[0-9]{1,3}){3}", "[a-z][a-z0-9-]{0,62}", "(ab{2}){3}", "[]{]{3}x{9,}",
		"(a|b){10}(c{3}){4}",
	};
	char text[300], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok_patterns) / sizeof(ok_patterns[0]); i++) {
		struct exec_allowlist al = { 0 };

		snprintf(text, sizeof(text), "[x]\nexec = /bin/true\narg = %s\n", ok_patterns[i]);
		if (exec_allowlist_parse(&al, text, "f.conf", err, sizeof(err)) < 0)
			fail_msg("pattern %s refused: %s", ok_patterns[i], err);
		exec_allowlist_free(&al);
	}
}

static void test_allowlist_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
	    {"exec = /bin/true\n", "line 1: a setting before the first [name]"},
	    {"[a b]\nexec=/bin/true\n", "line 1: command names are"},
	    {"[x]\nargs = a\n", "line 1: [x] has no exec ="},
	    {"[x]\n[y]\nexec=/bin/true\n", "line 1: [x] has no exec ="},
	    {"[x]\nexec = bin/true\n", "line 2: exec must be an absolute path"},
	    {"[x]\nexec = /bin/../bin/true\n", "line 2: exec must be an absolute path"},
	    {"[x]\nexec = /bin/true\narg = (\n", "line 3: not a valid extended regular expression"},
	    {"[x]\nexec = /bin/true\nshell = yes\n", "line 3: unknown key 'shell'"},
	    {"[x]\nexec = /bin/true\ntimeout = 0\n", "line 3: timeout is 1..3600 seconds"},
	    {"[x]\nexec = /bin/true\nmax_output = 99999999\n", "line 3: max_output is"},
	    {"[x]\nexec = /bin/true\nargs = \"open\n", "line 3: args: an unmatched"},
	    {"[x]\nexec = /bin/true\nallow_paths = sure\n",
	     "line 3: allow_paths must be yes or no"},
	    {"[x]\nexec = /bin/true\nnot a setting\n", "line 3: expected key = value"},
	    {"[x]\nexec=/bin/true\n[x]\nexec=/bin/true\n", "line 3: 'x' is already defined"},
	    /* patterns whose compilation would cost more than a command is worth */
	    {"[x]\nexec = /bin/true\narg = ((a{1,100}){1,100}){1,100}\n",
	     "line 3: pattern refused: nested repetition counts multiply past 1,000"},
	    {"[x]\nexec = /bin/true\narg = a{1,256}\n", "line 3: pattern refused: a repetition count over 255"},
	    {"[x]\nexec = /bin/true\narg = a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}a{2}\n",
	     "line 3: pattern refused: more than 16 repetition counts"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct exec_allowlist al = {0};

		assert_int_equal(
		    exec_allowlist_parse(&al, cases[i].text, "f.conf", err, sizeof(err)), -1);
		if (strncmp(err, cases[i].err, strlen(cases[i].err)))
			fail_msg("case %zu: '%s', wanted '%s'", i, err, cases[i].err);
		assert_int_equal(al.n, 0); /* a bad file adds nothing, not even its good part */
		exec_allowlist_free(&al);
	}
}

static void test_allowlist_files(void **state)
{
	struct exec_allowlist al;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(path("commands.d"), 0755), 0);
	put("commands.d/a.conf", "[a]\nexec=/bin/true\n", 0644);
	put("commands.d/b.conf", "[b]\nexec=/bin/true\n", 0664); /* group-writable: skipped */
	put("commands.d/c.conf", "[c]\nexec=bin/true\n", 0644);	 /* malformed: skipped */
	put("commands.d/d.txt", "[d]\nexec=/bin/true\n", 0644);	 /* not *.conf */
	put("e.conf", "[e]\nexec=/bin/true\n", 0644);
	assert_int_equal(symlink(path("e.conf"), path("commands.d/e.conf")), 0); /* not followed */
	exec_allowlist_load(&al, path("commands.d"));
	assert_int_equal(al.n, 1);
	assert_non_null(exec_allowlist_find(&al, "a"));
	assert_int_equal(al.files, 4);
	assert_int_equal(al.bad_files, 3);
	/* each skipped file is said, with its reason, for the caller to log (one line) */
	assert_non_null(strstr(al.problems, "b.conf: not a regular file owned by root"));
	assert_non_null(strstr(al.problems, "c.conf: line 2: exec must be an absolute path"));
	assert_non_null(strstr(al.problems, "e.conf: "));
	assert_null(strchr(al.problems, '\n'));
	exec_allowlist_free(&al);
	/* the directory itself writable by others: nothing loads */
	assert_int_equal(chmod(path("commands.d"), 0777), 0);
	exec_allowlist_load(&al, path("commands.d"));
	assert_int_equal(al.n, 0);
	assert_non_null(strstr(al.problems, "is not owned by root or is writable by others"));
	exec_allowlist_free(&al);
}

/* ---- arguments ---- */

static void test_argument_injection(void **state)
{
	struct exec_allowlist al = {0};
	const struct exec_rule *r, *rp;
	char err[256], why[320];
	static const char *const bad[] = {
	    "a;id",   "$(id)", "`id`", "a\nb", "a\tb", "/etc/shadow", "..",	 "../x",
	    "x/../y", "a b",   "a|b",  "a&b",  ">x",   "-rf",	      "\x1b[2J",
	};

	(void)state;
	assert_int_equal(
	    exec_allowlist_parse(&al,
				 "[show]\nexec=/bin/echo\narg=[A-Za-z0-9._]{1,32}\narg=[0-9]+\n"
				 "[paths]\nexec=/bin/ls\nallow_paths=yes\narg=[A-Za-z0-9/._-]+\n",
				 "f", err, sizeof(err)),
	    0);
	r = exec_allowlist_find(&al, "show");
	rp = exec_allowlist_find(&al, "paths");
	assert_int_equal(
	    exec_check_args(r, 2, (const char *[]){"eth0.100", "42"}, why, sizeof(why)), 0);
	assert_int_equal(exec_check_args(r, 1, (const char *[]){"lo"}, why, sizeof(why)), 0);
	assert_int_equal(exec_check_args(r, 0, NULL, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		if (exec_check_args(r, 1, &bad[i], why, sizeof(why)) != -1)
			fail_msg("argument '%s' was accepted", bad[i]);
		assert_non_null(strstr(why, "argument 1"));
		assert_null(strchr(why, '\n'));
	}
	assert_int_equal(exec_check_args(r, 2, (const char *[]){"ok", "4x"}, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "argument 2 does not match"));
	assert_int_equal(exec_check_args(r, 3, (const char *[]){"a", "1", "b"}, why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "at most 2 arguments"));
	assert_int_equal(exec_check_args(r, 1, (const char *[]){"a;id"}, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "does not match"));
	assert_int_equal(exec_check_args(r, 1, (const char *[]){"a\nb"}, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "control character (0x0a"));
	assert_int_equal(exec_check_args(r, 1, (const char *[]){"/etc/shadow"}, why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "is a path"));
	/* allow_paths lets a path through, never a '..' component */
	assert_int_equal(exec_check_args(rp, 1, (const char *[]){"/var/log"}, why, sizeof(why)), 0);
	assert_int_equal(exec_check_args(rp, 1, (const char *[]){"/var/../etc"}, why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "'..'"));
	assert_int_equal(exec_check_args(rp, 1, (const char *[]){"/var/log/.."}, why, sizeof(why)),
			 -1);
	{
		char *longarg = malloc(EXEC_MAX_ARG + 2);

		memset(longarg, 'a', EXEC_MAX_ARG + 1);
		longarg[EXEC_MAX_ARG + 1] = 0;
		assert_int_equal(
		    exec_check_args(rp, 1, (const char *[]){longarg}, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "longer than"));
		free(longarg);
	}
	exec_allowlist_free(&al);
}

/* ---- spawning ---- */

static int spawn(const char *const *argv, unsigned timeout_ms, size_t cap, struct exec_result *res)
{
	struct exec_spec s = {
	    .path = argv[0],
	    .argv = (char *const *)argv,
	    .cmd_id = "t-1",
	    .timeout_ms = timeout_ms,
	    .grace_ms = 300,
	    .max_output = cap,
	};

	return exec_spawn(&s, res);
}

static void test_spawn_capture_and_status(void **state)
{
	struct exec_result res;

	(void)state;
	assert_int_equal(
	    spawn((const char *[]){"/bin/sh", "-c", "echo out; echo err >&2; exit 7", NULL}, 5000,
		  1000, &res),
	    0);
	assert_int_equal(res.exit_code, 7);
	assert_int_equal(res.signal, 0);
	assert_false(res.timed_out);
	assert_int_equal(res.out_len, 4);
	assert_memory_equal(res.out, "out\n", 4);
	assert_int_equal(res.err_len, 4);
	assert_memory_equal(res.err, "err\n", 4);
	free(res.out);
	free(res.err);

	assert_int_equal(
	    spawn((const char *[]){"/bin/sh", "-c", "kill -9 $$", NULL}, 5000, 100, &res), 0);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signal, 9);
	free(res.out);
	free(res.err);

	/* stdin is /dev/null: cat ends at once */
	assert_int_equal(spawn((const char *[]){"/bin/cat", NULL}, 5000, 100, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_len, 0);
	assert_false(res.timed_out);
	free(res.out);
	free(res.err);

	assert_int_equal(spawn((const char *[]){"/nonexistent/cmd", NULL}, 5000, 100, &res), -1);
	assert_string_equal(res.error,
			    "cannot execute /nonexistent/cmd: No such file or directory");
}

static void test_spawn_environment_scrubbed(void **state)
{
	struct exec_result res;

	(void)state;
	setenv("NETINV_TEST_SECRET", "s3cret", 1);
	setenv("LD_PRELOAD_NOT", "x", 1);
	assert_int_equal(spawn((const char *[]){"/usr/bin/env", NULL}, 5000, 4096, &res), 0);
	res.out[res.out_len - 1] = 0;
	assert_null(strstr(res.out, "s3cret"));
	assert_null(strstr(res.out, "LD_PRELOAD_NOT"));
	assert_non_null(strstr(res.out, "PATH=/usr/local/sbin:"));
	assert_non_null(strstr(res.out, "NETINV_COMMAND_ID=t-1"));
	assert_non_null(strstr(res.out, "LC_ALL=C.UTF-8"));
	free(res.out);
	free(res.err);
	unsetenv("NETINV_TEST_SECRET");
	unsetenv("LD_PRELOAD_NOT");
	/* no descriptor of netinv's leaks into the command */
	assert_int_equal(spawn((const char *[]){"/bin/sh", "-c", "ls /proc/self/fd | wc -l", NULL},
			       5000, 100, &res),
			 0);
	/* 0, 1, 2 and the one ls opens to list the directory */
	assert_int_equal(res.out_len, 2);
	assert_memory_equal(res.out, "4\n", 2);
	free(res.out);
	free(res.err);
}

static void test_spawn_output_capped(void **state)
{
	struct exec_result res;

	(void)state;
	/* 20 MB on stdout, 1 KB kept; the command is never blocked on a full pipe */
	assert_int_equal(spawn((const char *[]){"/bin/sh", "-c",
						"head -c 20000000 /dev/zero; echo tail >&2", NULL},
			       20000, 1024, &res),
			 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_len, 1024);
	assert_true(res.out_trunc);
	assert_int_equal(res.err_len, 5);
	assert_false(res.err_trunc);
	assert_false(res.timed_out);
	free(res.out);
	free(res.err);
}

static bool gone(pid_t p)
{
	char f[64], buf[512];
	FILE *fp;
	char st = 0;

	snprintf(f, sizeof(f), "/proc/%d/stat", (int)p);
	fp = fopen(f, "r");
	if (!fp)
		return true;
	if (fgets(buf, sizeof(buf), fp)) {
		char *q = strrchr(buf, ')');

		if (q && q[1] == ' ')
			st = q[2];
	}
	fclose(fp);
	return st == 'Z' || st == 'X'; /* a zombie waiting for its new parent counts as dead */
}

static void test_spawn_timeout_kills_group(void **state)
{
	struct exec_result res;
	char script[512], pids[4096] = "";
	uint64_t t0;
	FILE *f;
	int n = 0;

	(void)state;
	/* a command that forks children (one ignores SIGTERM), records their pids and sleeps */
	snprintf(script, sizeof(script),
		 "sleep 60 & echo $! >%s/pids; (trap '' TERM; sleep 60) & echo $! >>%s/pids; "
		 "sh -c 'sleep 60' & echo $! >>%s/pids; sleep 60",
		 dir, dir, dir);
	t0 = (uint64_t)time(NULL);
	assert_int_equal(spawn((const char *[]){"/bin/sh", "-c", script, NULL}, 1000, 100, &res),
			 0);
	assert_true(res.timed_out);
	assert_int_equal(res.signal, SIGTERM);
	assert_true(res.duration_ms >= 1000 && res.duration_ms < 5000);
	assert_true((uint64_t)time(NULL) - t0 < 10);
	free(res.out);
	free(res.err);
	f = fopen(path("pids"), "r");
	assert_non_null(f);
	while (fgets(pids, sizeof(pids), f)) {
		pid_t p = (pid_t)atoi(pids);
		int tries = 0;

		assert_true(p > 1);
		while (!gone(p) && tries++ < 100) {
			struct timespec ts = {0, 10 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
		if (!gone(p))
			fail_msg("child %d of the timed-out command is still running", (int)p);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 3);
}

static void test_spawn_exit_takes_leftovers(void **state)
{
	struct exec_result res;

	(void)state;
	/* the command exits but leaves a child holding its stdout: netinv does not wait for it */
	assert_int_equal(spawn((const char *[]){"/bin/sh", "-c", "sleep 60 & echo done", NULL},
			       30000, 100, &res),
			 0);
	assert_int_equal(res.exit_code, 0);
	assert_false(res.timed_out);
	assert_true(res.duration_ms < 3000);
	assert_int_equal(res.out_len, 5);
	free(res.out);
	free(res.err);
}

static void test_spawn_user(void **state)
{
	struct exec_result res;
	struct exec_spec s = {
	    .path = "/usr/bin/id",
	    .argv = (char *const[]){"/usr/bin/id", "-u", NULL},
	    .user = "nobody",
	    .timeout_ms = 5000,
	    .grace_ms = 100,
	    .max_output = 100,
	};

	(void)state;
	s.user = "no-such-user-netinv";
	assert_int_equal(exec_spawn(&s, &res), -1);
	assert_string_equal(res.error, "no user 'no-such-user-netinv' on this host");
	if (geteuid() != 0)
		skip();
	s.user = "nobody";
	assert_int_equal(exec_spawn(&s, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_memory_equal(res.out, "65534\n", 6);
	free(res.out);
	free(res.err);
}

/* ---- one command, every gate ---- */

/* A state directory under the scratch dir and an allowlist from text. */
static void gate_fixture(struct state_dir *sd, struct exec_allowlist *al, struct policy *pol,
			 const char *allow)
{
	char err[256], sdpath[128];

	policy_defaults(pol);
	snprintf(sdpath, sizeof(sdpath), "%s/state", dir);
	assert_int_equal(state_open(sd, sdpath, true, true, err, sizeof(err)), STATE_OK);
	if (exec_allowlist_parse(al, allow, "f", err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static struct proto_reply *reply_with(const char *name, const char *script, unsigned argc,
				      const char *const *args)
{
	struct proto_reply *r = calloc(1, sizeof(*r));
	struct proto_command *c = &r->cmds[0];

	r->n_cmds = 1;
	snprintf(c->id, sizeof(c->id), "id-1");
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->script_off = -1;
	for (unsigned i = 0; i < argc; i++) {
		c->arg_off[i] = (uint32_t)r->arena_len;
		memcpy(r->arena + r->arena_len, args[i], strlen(args[i]) + 1);
		r->arena_len += strlen(args[i]) + 1;
	}
	c->argc = argc;
	if (script) {
		c->script_off = (int32_t)r->arena_len;
		memcpy(r->arena + r->arena_len, script, strlen(script) + 1);
		r->arena_len += strlen(script) + 1;
	}
	return r;
}

static void test_command_gates(void **state)
{
	struct exec_local lg = {.enabled = true, .allow_scripts = false};
	struct exec_allowlist al = {0};
	struct policy pol;
	struct state_dir sd;
	struct exec_env env = {&lg, &al, &pol, &sd};
	struct cmdlog l = {0};
	struct cmd_entry *e;
	struct proto_reply *r;
	char sdpath[128], planted[160], target[160];
	struct stat st;

	(void)state;
	gate_fixture(&sd, &al, &pol, "[hello]\nexec=/bin/echo\nargs=hi\narg=[a-z]+\n");
	snprintf(sdpath, sizeof(sdpath), "%s/state", dir);
	snprintf(lg.config, sizeof(lg.config), "/etc/netinv/netinv.conf");
	snprintf(lg.commands_dir, sizeof(lg.commands_dir), "/etc/netinv/commands.d");

	/* gate 3 closed: a plain server never allows commands */
	r = reply_with("hello", NULL, 0, NULL);
	e = cmdlog_add(&l, "g3", "hello");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "policy does not allow commands"));
	pol.commands = true;

	/* gate 2 closed */
	lg.enabled = false;
	snprintf(lg.why, sizeof(lg.why), "exec_enabled=yes is not set in /etc/netinv/netinv.conf");
	e = cmdlog_add(&l, "g2", "hello");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "off on this host: exec_enabled=yes is not set"));
	lg.enabled = true;

	/* all open: it runs */
	e = cmdlog_add(&l, "ok", "hello");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_COMPLETED);
	assert_int_equal(e->exit_code, 0);
	assert_int_equal(e->out_len, 3);
	assert_memory_equal(e->out, "hi\n", 3);
	free(r);

	/* a name outside the allowlist */
	r = reply_with("rm", NULL, 0, NULL);
	e = cmdlog_add(&l, "n", "rm");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_string_equal(e->reason, "'rm' is not in the allowlist (/etc/netinv/commands.d)");
	free(r);

	/* an argument that does not pass */
	r = reply_with("hello", NULL, 1, (const char *[]){"x;reboot"});
	e = cmdlog_add(&l, "a", "hello");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "argument 1"));
	free(r);

	/* a script without the second switch */
	r = reply_with("diag", "echo hi", 0, NULL);
	e = cmdlog_add(&l, "s0", "diag");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "exec_allow_scripts=yes"));
	free(r);

	/* with it: runs under bash -euo pipefail (an unset variable fails), file removed */
	lg.allow_scripts = true;
	r = reply_with("diag", "echo \"arg=$1\"; echo \"$UNSET_VAR\"", 1, (const char *[]){"v"});
	e = cmdlog_add(&l, "s1", "diag");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_COMPLETED);
	assert_int_equal(e->exit_code, 1);
	assert_memory_equal(e->out, "arg=v\n", 6);
	assert_non_null(memmem(e->err, e->err_len, "UNSET_VAR: unbound variable", 27));
	snprintf(planted, sizeof(planted), "%s/exec/script-id-1.sh", sdpath);
	assert_int_equal(lstat(planted, &st), -1); /* removed afterwards */
	assert_int_equal(stat(path("state/exec"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* a symlink planted at the script path: refused, its target untouched */
	snprintf(target, sizeof(target), "%s/target", dir);
	put("target", "precious\n", 0644);
	assert_int_equal(symlink(target, planted), 0);
	e = cmdlog_add(&l, "s2", "diag");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "planted"));
	{
		char buf[32] = "";
		FILE *f = fopen(target, "r");

		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, "precious\n");
	}
	/* cleanup: a stopped run's own script file goes, a planted symlink stays (and is reported)
	 */
	{
		char note[512] = "";

		exec_cleanup_scripts(&sd, note, sizeof(note));
		assert_non_null(strstr(note, "is not a script netinv wrote: left in place"));
	}
	assert_int_equal(lstat(planted, &st), 0);
	assert_int_equal(stat(target, &st), 0);
	{
		char stale[200];
		int fd;

		snprintf(stale, sizeof(stale), "%s/exec/script-old.sh", sdpath);
		fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0700);
		assert_true(fd >= 0);
		close(fd);
		char note[512] = "";

		exec_cleanup_scripts(&sd, note, sizeof(note));
		assert_int_equal(lstat(stale, &st), -1);
		assert_int_equal(lstat(planted, &st), 0);
	}
	free(r);

	/* a malformed command */
	r = reply_with("hello", NULL, 0, NULL);
	snprintf(r->cmds[0].bad, sizeof(r->cmds[0].bad), "args is not an array");
	e = cmdlog_add(&l, "m", "hello");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_string_equal(e->reason, "malformed command: args is not an array");
	free(r);

	cmdlog_free(&l);
	exec_allowlist_free(&al);
	state_close(&sd);
}

/* The program of an allowlist entry is root's, as the README says: one owned by another user
 * (netinv's own included) is refused; the same file owned by root runs. */
static void test_program_owned_by_root(void **state)
{
	struct exec_local lg = { .enabled = true };
	struct exec_allowlist al = { 0 };
	struct policy pol;
	struct state_dir sd;
	struct exec_env env = { &lg, &al, &pol, &sd };
	struct cmdlog l = { 0 };
	struct cmd_entry *e;
	struct proto_reply *r;
	char allow[300], cmd[400];

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(cmd, sizeof(cmd), "install -m 0755 /bin/true '%s'", path("mytrue"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chown(path("mytrue"), 65534, 65534), 0);
	snprintf(allow, sizeof(allow), "[mine]\nexec=%s\n", path("mytrue"));
	gate_fixture(&sd, &al, &pol, allow);
	pol.commands = true;
	r = reply_with("mine", NULL, 0, NULL);
	e = cmdlog_add(&l, "u1", "mine");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_REFUSED);
	assert_non_null(strstr(e->reason, "owned by root and writable only by root"));
	assert_int_equal(chown(path("mytrue"), 0, 0), 0);
	e = cmdlog_add(&l, "u2", "mine");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_COMPLETED);
	free(r);
	cmdlog_free(&l);
	exec_allowlist_free(&al);
	state_close(&sd);
}

static void test_timeout_capped_by_policy(void **state)
{
	struct exec_local lg = {.enabled = true};
	struct exec_allowlist al = {0};
	struct policy pol;
	struct state_dir sd;
	struct exec_env env = {&lg, &al, &pol, &sd};
	struct cmdlog l = {0};
	struct cmd_entry *e;
	struct proto_reply *r;

	(void)state;
	gate_fixture(&sd, &al, &pol, "[nap]\nexec=/bin/sleep\nargs=30\ntimeout=60\n");
	pol.commands = true;
	pol.cmd_timeout = 1; /* the server's cap wins over the allowlist's 60 s */
	r = reply_with("nap", NULL, 0, NULL);
	e = cmdlog_add(&l, "t", "nap");
	exec_command(&env, r, &r->cmds[0], e);
	assert_int_equal(e->status, CMD_COMPLETED);
	assert_true(e->timed_out);
	assert_true(e->duration_ms >= 1000 && e->duration_ms < 4000);
	assert_string_equal(e->reason, "killed at its timeout");
	free(r);
	cmdlog_free(&l);
	exec_allowlist_free(&al);
	state_close(&sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_local_gate, mkdir_setup, rm_teardown),
	    cmocka_unit_test(test_allowlist_parse),
	    cmocka_unit_test(test_allowlist_errors),
	    cmocka_unit_test(test_shipped_example),
	    cmocka_unit_test_setup_teardown(test_allowlist_files, mkdir_setup, rm_teardown),
	    cmocka_unit_test(test_allowlist_pattern_bound),
	    cmocka_unit_test(test_argument_injection),
	    cmocka_unit_test(test_spawn_capture_and_status),
	    cmocka_unit_test(test_spawn_environment_scrubbed),
	    cmocka_unit_test(test_spawn_output_capped),
	    cmocka_unit_test_setup_teardown(test_spawn_timeout_kills_group, mkdir_setup,
					    rm_teardown),
	    cmocka_unit_test(test_spawn_exit_takes_leftovers),
	    cmocka_unit_test(test_spawn_user),
	    cmocka_unit_test_setup_teardown(test_command_gates, mkdir_setup, rm_teardown),
	    cmocka_unit_test_setup_teardown(test_program_owned_by_root, mkdir_setup, rm_teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_capped_by_policy, mkdir_setup,
					    rm_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
