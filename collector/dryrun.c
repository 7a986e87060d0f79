#include "harvest.h"
#include "exec/exec.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/hash.h"
#include "../delta/persist.h"
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../report/gzip.h"
#include "../report/http.h"
#include "../report/proto.h"
#include "../report/json.h"
#include "../report/names.h"
#include "../report/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>


/* The report, as JSON (pretty on a terminal) or gzip, into fd; its size in *bytes (and *gz_bytes). */
static enum run_outcome write_report(const struct cli_opts *o, int fd, struct harvest *h,
				     const struct report_meta *m, uint64_t *bytes, uint64_t *gz_bytes)
{
	bool pretty = !o->gzip && (o->format == FMT_PRETTY || (o->format == FMT_AUTO && isatty(fd)));
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	struct gz_out *gz = NULL;
	struct report_stats rs;
	struct json_w w;
	int r;

	if (!buf || (o->gzip && (!(gz = malloc(sizeof(*gz))) ||
				 gz_init(gz, fd, Z_DEFAULT_COMPRESSION) < 0))) {
		log_error("out of memory starting the report");
		free(buf);
		free(gz);
		return RUN_SOFTWARE;
	}
	if (gz)
		json_init(&w, buf, cap, gz_sink, gz, false);
	else
		json_init(&w, buf, cap, json_fd_sink, &fd, pretty);
	report_write(&w, &h->s, m, &rs);
	r = json_finish(&w);
	if (gz) {
		int g = gz_finish(gz);

		if (!r)
			r = g;
		*gz_bytes = gz->out_bytes;
	}
	*bytes = w.total;
	free(gz);
	free(buf);
	if (r < 0) {
		log_error("cannot write the report to %s: %s", o->output ? o->output : "stdout",
			  strerror(-r));
		return RUN_IOERR;
	}
	return RUN_OK;
}

/* --commit-dry-run plays the server's part: the whole report becomes the acknowledged state (and
 * any record of unconfirmed reports is moot). */
static enum run_outcome commit_report(const struct settings *set, struct run_state *st,
				      struct harvest *h, uint64_t sequence)
{
	char err[512];
	enum state_err e;

	delta_mark_all_sent(&h->d);
	e = state_commit(&st->sd, &h->d, &h->cc, sequence, (int64_t)time(NULL),
			 (uint32_t)h->copts.keying, err, sizeof(err));
	if (e != STATE_OK) {
		log_error("%s", err);
		return run_state_outcome(e, true);
	}
	if (st->unconf_on_disk)
		state_drop_unconfirmed(&st->sd);
	log_info("recorded sequence %llu as acknowledged in %s", (unsigned long long)sequence,
		 set->state_dir);
	return RUN_OK;
}

enum run_outcome run_report(const struct cli_opts *o, const struct config *cfg, bool commit)
{
	struct report_meta m;
	struct harvest h;
	struct run_state st;
	struct utsname u;
	char fqdn[256 + 65];
	enum run_outcome out;
	uint64_t t0, bytes = 0, gz_bytes = 0;
	int fd = STDOUT_FILENO;

	/* -o FILE is the operator's: opened as who ran netinv, before a root run becomes the state
	 * directory's owner (run_state_load), and emptied only once there is a report to write */
	if (o->output) {
		fd = open(o->output, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", o->output, strerror(errno));
			return RUN_CANTCREAT;
		}
	}
	out = run_state_load_async(&cfg->set, commit, &st);
	if (out == RUN_OK)
		out = harvest(o, &cfg->set, &st, o->tables, commit, &h);
	else
		memset(&h, 0, sizeof(h));
	if (out == RUN_OK && o->output && ftruncate(fd, 0) < 0 && errno != EINVAL) {
		log_error("cannot write the report to %s: %s", o->output, strerror(errno));
		out = RUN_IOERR;
	}
	if (out != RUN_OK && o->output)
		close(fd);
	if (out == RUN_OK) {
		harvest_meta(&m, &cfg->set, &st, &h, &u, fqdn, sizeof(fqdn));
		t0 = snap_mono_us();
		out = write_report(o, fd, &h, &m, &bytes, &gz_bytes);
		if (o->output && close(fd) < 0 && out == RUN_OK) {
			log_error("cannot write the report to %s: %s", o->output, strerror(errno));
			out = RUN_IOERR;
		}
		if (out == RUN_OK)
			harvest_summary(&h, commit ? "commit-dry-run" : "dry-run", "report", bytes,
					gz_bytes, snap_mono_us() - t0, NULL);
		/* only what a server accepted becomes the acknowledged state: a dry run never
		 * writes */
		if (out == RUN_OK && commit)
			out = commit_report(&cfg->set, &st, &h, m.sequence_number);
	}
	harvest_free(&h);
	run_state_free(&st);
	return out;
}
