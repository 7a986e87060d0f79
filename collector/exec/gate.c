#include "exec.h"
#include "internal.h"
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


/* ---- gate 2: the local configuration ---- */

bool exec_root_only(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The file's directory (it must be root's too) and the allowlist directory beside the file. */
static void gate_paths(struct exec_local *lg, const char *path, char *dir, size_t dirlen)
{
	char *slash;

	snprintf(lg->config, sizeof(lg->config), "%s", path);
	snprintf(dir, dirlen, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, dirlen, ".");
	snprintf(lg->commands_dir, sizeof(lg->commands_dir), "%s/commands.d",
		 strcmp(dir, "/") ? dir : "");
}

/* The whole file into buf (NUL-terminated), only when it and its directory are root's alone:
 * 0, or -1 with lg->why. */
static int gate_read(struct exec_local *lg, const char *path, const char *dir, char *buf)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0) {
		if (errno == EACCES)
			snprintf(lg->why, sizeof(lg->why),
				 "cannot read %s as uid %u (for exec_enabled it must be readable by "
				 "netinv's user, e.g. root:netinv 0640)",
				 path, (unsigned)geteuid());
		else
			snprintf(lg->why, sizeof(lg->why), "cannot read %.200s: %s", path,
				 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !exec_root_only(&st)) {
		snprintf(lg->why, sizeof(lg->why),
			 "%s is not a regular file owned by root and writable only by root: its "
			 "exec_ settings are ignored",
			 path);
		close(fd);
		return -1;
	}
	if (stat(dir, &st) < 0 || !exec_root_only(&st)) {
		snprintf(lg->why, sizeof(lg->why),
			 "the directory %.200s is not owned by root or is writable by others: "
			 "exec_ settings are ignored",
			 dir);
		close(fd);
		return -1;
	}
	r = read_fd(fd, buf, CFG_MAX_FILE, &got);
	close(fd);
	if (r < 0) {
		snprintf(lg->why, sizeof(lg->why), "cannot read %.200s: %s", path,
			 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return -1;
	}
	buf[got] = 0;
	return 0;
}

/* The exec_ lines; any other exec_ key, or a value that is not yes/no, closes the gate. */
static void gate_parse(struct exec_local *lg, const char *path, char *buf)
{
	char *line, *cur;
	int lineno = 0;

	for (cur = buf; (line = next_line(&cur));) {
		char *k = trim(line), *v, *eq;
		bool y;
		int bad;

		lineno++;
		if (strncmp(k, "exec_", 5) || !(eq = strchr(k, '=')))
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

void exec_local_load(struct exec_local *lg, const char *config_path)
{
	const char *path = config_path ? config_path : CONFIG_FILE_DEFAULT;
	char dir[4000], *buf = malloc(CFG_MAX_FILE + 1);

	memset(lg, 0, sizeof(*lg));
	gate_paths(lg, path, dir, sizeof(dir));
	if (!buf) {
		snprintf(lg->why, sizeof(lg->why), "out of memory reading %.200s", path);
		return;
	}
	if (gate_read(lg, path, dir, buf) == 0)
		gate_parse(lg, path, buf);
	free(buf);
}

/* ---- the allowlist ---- */

