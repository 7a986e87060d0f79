#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int journald = -1;

/* systemd sets JOURNAL_STREAM=device:inode for the stream it connected stdout/stderr to; a child
 * that inherited the variable but writes elsewhere (a pipe, a terminal) must not use it. */
int log_journald(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_level max)
{
	max_level = max;
	journald = log_journald();
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct {
		const char *n;
		enum log_level l;
	} t[] = { { "error", LOG_LVL_ERROR }, { "warning", LOG_LVL_WARN }, { "warn", LOG_LVL_WARN },
		  { "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG } };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!strcmp(s, t[i].n)) {
			*out = t[i].l;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { [LOG_LVL_ERROR] = "error", [LOG_LVL_WARN] = "warning",
					     [LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info",
					     [LOG_LVL_DEBUG] = "debug" };
	char line[1024];
	va_list ap;
	int n;

	if (lvl > max_level)
		return;
	if (journald < 0)
		journald = log_journald();
	if (journald)
		n = snprintf(line, sizeof(line), "<%d>", (int)lvl);
	else
		n = snprintf(line, sizeof(line), "netinv: %s: ", names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One event, one line: embedded newlines from error texts would split it. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s\n", line);
}

/* The journal's native protocol: one datagram of KEY=value lines to its socket. */
static int journal_send(const char *message, const struct log_field *f, unsigned n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
	char buf[4096];
	size_t o = 0;
	int fd, r;

	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "MESSAGE=%s\nPRIORITY=%d\nSYSLOG_IDENTIFIER=netinv\n",
			      message, (int)LOG_LVL_INFO);
	for (unsigned i = 0; i < n && o < sizeof(buf); i++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "NETINV_");
		for (const char *k = f[i].key; *k && o < sizeof(buf) - 1; k++)
			buf[o++] = (char)toupper((unsigned char)*k);
		if (o < sizeof(buf))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "=%s\n", f[i].value);
	}
	if (o >= sizeof(buf))
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = sendto(fd, buf, o, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)o ? 0 : -1;
	close(fd);
	return r;
}

void log_summary(const char *message, const struct log_field *f, unsigned n)
{
	char kv[1024];
	size_t o = 0;

	if (LOG_LVL_INFO > max_level)
		return;
	if (journald < 0)
		journald = log_journald();
	if (journald && journal_send(message, f, n) == 0)
		return;
	for (unsigned i = 0; i < n && o < sizeof(kv); i++)
		o += (size_t)snprintf(kv + o, sizeof(kv) - o, "%s%s=%s", i ? " " : "", f[i].key,
				      f[i].value);
	log_msg(LOG_LVL_INFO, "%s [%s]", message, kv);
}
