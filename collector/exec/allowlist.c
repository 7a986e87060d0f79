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


#define ALLOW_MAX_FILE 65536

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

/* glibc's regcomp copies a subexpression once per repetition count, so nested counts multiply:
 * ((a{1,100}){1,100}){1,100} costs a gigabyte. A pattern is refused (with the reason) when it is
 * longer than 512 characters, has more than 16 counts or one over 255, or nests counts whose
 * product passes 1,000 (an IPv4 pattern, [0-9]{1,3}(\.[0-9]{1,3}){3}, costs 9). */
static const char *pattern_cost(const char *src)
{
	unsigned factor[33] = { 1 }, depth = 0, counts = 0, group = 0;
	bool after_group = false;

	if (strlen(src) > 512)
		return "longer than 512 characters";
	for (const char *p = src; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			after_group = false;
		} else if (*p == '[') {
			/* a bracket expression: ']' first (or after '^') is a member */
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				return NULL; /* regcomp says what is wrong */
			after_group = false;
		} else if (*p == '(') {
			if (depth == 32)
				return "groups nested deeper than 32";
			factor[++depth] = 1;
			after_group = false;
		} else if (*p == ')' && depth) {
			group = factor[depth--];
			if (group > factor[depth])
				factor[depth] = group;
			after_group = true;
		} else if (*p == '{') {
			char *end;
			unsigned long lo = strtoul(p + 1, &end, 10), hi = lo, f;

			if (end == p + 1)
				continue;
			/* {m,} costs like {m} plus a star */
			if (*end == ',' && isdigit((unsigned char)end[1]))
				hi = strtoul(end + 1, NULL, 10);
			if (hi < lo)
				hi = lo;
			if (hi > 255)
				return "a repetition count over 255";
			if (++counts > 16)
				return "more than 16 repetition counts";
			f = hi * (after_group ? group : 1);
			if (f > 1000)
				return "nested repetition counts multiply past 1,000";
			if (f > factor[depth])
				factor[depth] = (unsigned)f;
			after_group = false;
		} else {
			after_group = false;
		}
	}
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

/* "[name]": a new rule, its name checked against those defined so far (here and before). */
static struct exec_rule *rule_open(struct exec_allowlist *mine, const struct exec_allowlist *al,
				   char *k, const char *fname, int lineno, char *err, size_t errlen)
{
	size_t kl = strlen(k);
	struct exec_rule *v, *cur;

	if (k[kl - 1] != ']') {
		snprintf(err, errlen, "line %d: expected [name]", lineno);
		return NULL;
	}
	k[kl - 1] = 0;
	k++;
	if (!proto_token_ok(k, 64, "._-")) {
		snprintf(err, errlen, "line %d: command names are 1 to 64 of A-Z a-z 0-9 . _ -",
			 lineno);
		return NULL;
	}
	if (exec_allowlist_find(mine, k) || exec_allowlist_find(al, k)) {
		snprintf(err, errlen, "line %d: '%s' is already defined", lineno, k);
		return NULL;
	}
	v = realloc(mine->v, (mine->n + 1) * sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mine->v = v;
	cur = &mine->v[mine->n++];
	memset(cur, 0, sizeof(*cur));
	snprintf(cur->name, sizeof(cur->name), "%s", k);
	cur->max_output = EXEC_DEFAULT_OUTPUT;
	snprintf(cur->src, sizeof(cur->src), "%.140s:%d", fname, lineno);
	return cur;
}

#define PERR(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)

/* "key = value" inside a rule. */
static int rule_setting(struct exec_rule *cur, const char *k, char *v, int lineno, char *err,
			size_t errlen)
{
	uint64_t t;
	int rc;

	if (!strcmp(k, "exec")) {
		if (v[0] != '/' || strlen(v) >= sizeof(cur->path) || strstr(v, "/../") ||
		    strchr(v, ' '))
			PERR("line %d: exec must be an absolute path", lineno);
		snprintf(cur->path, sizeof(cur->path), "%s", v);
	} else if (!strcmp(k, "args")) {
		rc = add_fixed(cur, v);
		if (rc == -EINVAL)
			PERR("line %d: args: an unmatched or misplaced quote", lineno);
		if (rc < 0)
			PERR("out of memory");
		if (cur->nfixed > PROTO_MAX_ARGS)
			PERR("line %d: at most %d fixed arguments", lineno, PROTO_MAX_ARGS);
	} else if (!strcmp(k, "arg")) {
		const char *cost = pattern_cost(v);

		if (cost)
			PERR("line %d: pattern refused: %s", lineno, cost);
		rc = add_pattern(cur, v);
		if (rc == -EINVAL)
			PERR("line %d: not a valid extended regular expression", lineno);
		if (rc < 0)
			PERR("out of memory");
		if (cur->npat > PROTO_MAX_ARGS)
			PERR("line %d: at most %d server arguments", lineno, PROTO_MAX_ARGS);
	} else if (!strcmp(k, "timeout")) {
		if (parse_u64(v, 1, 3600, &t) < 0)
			PERR("line %d: timeout is 1..3600 seconds", lineno);
		cur->timeout = (unsigned)t;
	} else if (!strcmp(k, "max_output")) {
		if (parse_u64(v, 0, CMDLOG_MAX_OUTPUT, &t) < 0)
			PERR("line %d: max_output is 0..%u bytes", lineno, CMDLOG_MAX_OUTPUT);
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
	return 0;
}
#undef PERR

/* The rules of one file, all or none, after those already in al. */
static int parse_rules(struct exec_allowlist *mine, const struct exec_allowlist *al, char *p,
		       const char *fname, char *err, size_t errlen)
{
	struct exec_rule *cur = NULL;
	int lineno = 0, section = 0;
	char *line;

	while ((line = next_line(&p))) {
		char *k = trim(line), *eq;

		lineno++;
		if (!*k || *k == '#' || *k == ';')
			continue;
		if (*k == '[') {
			if (cur && !cur->path[0]) {
				snprintf(err, errlen, "line %d: [%s] has no exec =", section, cur->name);
				return -1;
			}
			if (!(cur = rule_open(mine, al, k, fname, lineno, err, errlen)))
				return -1;
			section = lineno;
			continue;
		}
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: expected key = value", lineno);
			return -1;
		}
		if (!cur) {
			snprintf(err, errlen, "line %d: a setting before the first [name]", lineno);
			return -1;
		}
		*eq = 0;
		if (rule_setting(cur, trim(k), trim(eq + 1), lineno, err, errlen) < 0)
			return -1;
	}
	if (cur && !cur->path[0]) {
		snprintf(err, errlen, "line %d: [%s] has no exec =", section, cur->name);
		return -1;
	}
	return 0;
}

int exec_allowlist_parse(struct exec_allowlist *al, const char *text, const char *fname, char *err,
			 size_t errlen)
{
	struct exec_allowlist mine = {0};
	char *copy = strdup(text);
	struct exec_rule *v;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (parse_rules(&mine, al, copy, fname, err, errlen) < 0) {
		free(copy);
		exec_allowlist_free(&mine);
		return -1;
	}
	free(copy);
	if (mine.n) {
		v = realloc(al->v, (al->n + mine.n) * sizeof(*v));
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
}

static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

#define PROBLEM(...) exec_note(al->problems, sizeof(al->problems), __VA_ARGS__)

void exec_allowlist_load(struct exec_allowlist *al, const char *dir)
{
	struct dirent **names = NULL;
	struct stat st;
	char err[256], *buf;
	int dfd, n;

	memset(al, 0, sizeof(*al));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			PROBLEM("cannot open the command allowlist %s: %s", dir, strerror(errno));
		return;
	}
	if (fstat(dfd, &st) < 0 || !exec_root_only(&st)) {
		PROBLEM("the command allowlist %s is not owned by root or is writable by others: "
			"ignored",
			dir);
		close(dfd);
		return;
	}
	if (!(buf = malloc(ALLOW_MAX_FILE + 1))) {
		PROBLEM("out of memory reading the command allowlist %s", dir);
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
		    !exec_root_only(&st) || st.st_size > ALLOW_MAX_FILE) {
			PROBLEM("%s: %s: skipped", fname,
				fd < 0 ? strerror(errno)
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
			PROBLEM("cannot read %s: %s: skipped", fname,
				r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
			al->bad_files++;
		} else {
			buf[got] = 0;
			if (memchr(buf, 0, got) ||
			    exec_allowlist_parse(al, buf, fname, err, sizeof(err)) < 0) {
				PROBLEM("%s: %s: the file is skipped", fname,
					memchr(buf, 0, got) ? "a NUL byte" : err);
				al->bad_files++;
			}
		}
		free(names[i]);
	}
	free(names);
	free(buf);
	close(dfd);
}
#undef PROBLEM

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

