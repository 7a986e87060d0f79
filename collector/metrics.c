#include "metrics.h"
#include "../report/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct run_metrics run_metrics;

struct out {
	char *buf;
	size_t len, n;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= o->len - o->n)
		o->full = true;
	else
		o->n += (size_t)r;
}

static void head(struct out *o, const char *name, const char *help)
{
	put(o, "# HELP netinv_%s %s\n# TYPE netinv_%s gauge\n", name, help, name);
}

/* A label value: backslash, quote and newline escaped as the format wants. */
static void label(struct out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

int metrics_render(char *buf, size_t len, const struct run_metrics *m, const char *version,
		   const char *outcome, int exit_code, int64_t now)
{
	static const char *const kinds[] = { "added", "changed", "removed" };
	struct out o = { buf, len, 0, false };
	double run_s = m->start_us ? (double)(snap_mono_us() - m->start_us) / 1e6 : 0;

	head(&o, "info", "netinv's version and this agent's identity (always 1).");
	put(&o, "netinv_info{version=\"");
	label(&o, version);
	put(&o, "\",agent_uuid=\"");
	label(&o, m->agent_uuid);
	put(&o, "\",agent_id=\"");
	label(&o, m->agent_id);
	put(&o, "\"} 1\n");
	head(&o, "last_run_timestamp_seconds", "When the last run ended (unix time).");
	put(&o, "netinv_last_run_timestamp_seconds %lld\n", (long long)now);
	head(&o, "last_success_timestamp_seconds",
	     "When the server last accepted a check-in (unix time; 0: never).");
	put(&o, "netinv_last_success_timestamp_seconds %lld\n", (long long)m->last_success);
	head(&o, "last_exit_code", "The last run's exit code (0 success; netinv(8), EXIT STATUS).");
	put(&o, "netinv_last_exit_code %d\n", exit_code);
	head(&o, "last_outcome", "The last run's outcome (the label; always 1).");
	put(&o, "netinv_last_outcome{outcome=\"");
	label(&o, outcome);
	put(&o, "\"} 1\n");
	head(&o, "consecutive_failures", "Failed check-in attempts since the last success.");
	put(&o, "netinv_consecutive_failures %u\n", m->failures);
	head(&o, "run_duration_seconds", "How long the last run took, without its wait.");
	put(&o, "netinv_run_duration_seconds %.6f\n", run_s);
	head(&o, "run_wait_seconds",
	     "How long the last run waited for this agent's slot or jitter offset before collecting.");
	put(&o, "netinv_run_wait_seconds %u\n", m->waited_s);
	if (m->collected) {
		head(&o, "records", "Records collected by the last run, per table.");
		for (int t = 0; t < SNAP_NTABLES; t++)
			if (m->tables & (1u << t))
				put(&o, "netinv_records{table=\"%s\"} %u\n", snap_table_names[t],
				    m->records[t]);
		head(&o, "changes", "Records the last run's report added, changed or removed, per table.");
		for (int t = 0; t < SNAP_NTABLES; t++) {
			const uint32_t *v[3] = { m->added, m->changed, m->removed };

			if (!(m->tables & (1u << t)))
				continue;
			for (int k = 0; k < 3; k++)
				put(&o, "netinv_changes{table=\"%s\",kind=\"%s\"} %u\n", snap_table_names[t],
				    kinds[k], v[k][t]);
		}
		head(&o, "dump_duration_seconds", "How long the last run's dump of each table took.");
		for (int t = 0; t < SNAP_NETNS; t++)
			if (m->tables & (1u << t))
				put(&o, "netinv_dump_duration_seconds{table=\"%s\"} %.6f\n",
				    snap_table_names[t], m->dump_us[t] / 1e6);
		head(&o, "tables_inconsistent", "Tables still changing after the dump's retries.");
		put(&o, "netinv_tables_inconsistent %u\n", m->inconsistent);
		head(&o, "report_bytes", "Bytes of the last run's report, decoded and gzip-compressed.");
		put(&o, "netinv_report_bytes{encoding=\"decoded\"} %llu\n", (unsigned long long)m->bytes);
		put(&o, "netinv_report_bytes{encoding=\"gzip\"} %llu\n", (unsigned long long)m->gz_bytes);
		head(&o, "report_parts", "Parts the last run's report went out in.");
		put(&o, "netinv_report_parts %u\n", m->parts);
		head(&o, "namespaces", "Other network namespaces found and read by the last run.");
		put(&o, "netinv_namespaces{state=\"found\"} %u\n", m->ns_found);
		put(&o, "netinv_namespaces{state=\"read\"} %u\n", m->ns_read);
	}
	return o.full ? -1 : (int)o.n;
}

int metrics_write(const char *path, const struct run_metrics *m, const char *version,
		  const char *outcome, int exit_code, char *err, size_t errlen)
{
	static char buf[65536];
	char tmp[4096];
	const char *slash = strrchr(path, '/');
	int n = metrics_render(buf, sizeof(buf), m, version, outcome, exit_code, (int64_t)time(NULL));
	int fd;

	if (n < 0) {
		snprintf(err, errlen, "metrics_file %s: the metrics do not fit %zu bytes", path,
			 sizeof(buf));
		return -1;
	}
	/* same directory: the rename is atomic; a leading dot: the collector reads *.prom only */
	snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		 slash ? slash + 1 : path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "metrics_file %s: cannot create a file next to it: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || json_write_all(fd, buf, (size_t)n) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "metrics_file %s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "metrics_file %s: cannot replace it: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
