#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level max_level = LOG_LVL_INFO;
static int journald = -1;

void log_setup(enum log_level max)
{
	max_level = max;
	journald = getenv("JOURNAL_STREAM") != NULL;
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
		journald = getenv("JOURNAL_STREAM") != NULL;
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
