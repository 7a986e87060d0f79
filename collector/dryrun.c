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


enum run_outcome run_report(const struct cli_opts *o, const struct config *cfg, bool commit)
{
	struct report_stats rs;
	struct report_meta m;
	struct harvest h;
	struct run_state st;
	struct json_w w;
	struct utsname u;
	char fqdn[256 + 65], err[512];
	static char buf[1 << 16];
	enum run_outcome out;
	struct gz_out *gz = NULL;
	uint64_t t0, gz_bytes = 0;
	int fd = STDOUT_FILENO, r;
	bool pretty;

	out = run_state_load(cfg, commit, &st);
	if (out != RUN_OK) {
		run_state_free(&st);
		return out;
	}
	out = harvest(o, cfg, &st, o->tables, &h);
	if (out != RUN_OK)
		goto done;
	if (o->output) {
		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", o->output, strerror(errno));
			out = RUN_CANTCREAT;
			goto done;
		}
	}
	pretty = !o->gzip && (o->format == FMT_PRETTY || (o->format == FMT_AUTO && isatty(fd)));
	harvest_meta(&m, cfg, &st, &h, &u, fqdn, sizeof(fqdn));
	t0 = snap_mono_us();
	if (o->gzip) {
		gz = malloc(sizeof(*gz));
		if (!gz || gz_init(gz, fd, Z_DEFAULT_COMPRESSION) < 0) {
			log_error("out of memory starting the gzip stream");
			out = RUN_SOFTWARE;
			goto done;
		}
		json_init(&w, buf, sizeof(buf), gz_sink, gz, false);
	} else {
		json_init(&w, buf, sizeof(buf), json_fd_sink, &fd, pretty);
	}
	report_write(&w, &h.s, &m, &rs);
	r = json_finish(&w);
	if (gz) {
		int g = gz_finish(gz);

		if (!r)
			r = g;
		gz_bytes = gz->out_bytes;
	}
	if (r < 0) {
		log_error("cannot write the report to %s: %s", o->output ? o->output : "stdout",
			  strerror(-r));
		out = RUN_IOERR;
	}
	if (o->output && close(fd) < 0 && out == RUN_OK) {
		log_error("cannot write the report to %s: %s", o->output, strerror(errno));
		out = RUN_IOERR;
	}
	if (out == RUN_OK)
		harvest_summary(&h, "report", w.total, gz_bytes, snap_mono_us() - t0);
	/* Only what a server accepted becomes the acknowledged state; --commit-dry-run plays the
	 * server's part. A dry run never writes. */
	if (out == RUN_OK && commit) {
		enum state_err e;

		delta_mark_all_sent(&h.d);
		e = state_commit(&st.sd, &h.d, &h.cc, m.sequence_number, (int64_t)time(NULL),
				 (uint32_t)h.copts.keying, err, sizeof(err));
		if (e != STATE_OK) {
			log_error("%s", err);
			out = run_state_outcome(e, true);
		} else {
			if (st.unconf_on_disk)
				state_drop_unconfirmed(&st.sd);
			log_info("recorded sequence %llu as acknowledged in %s",
				 (unsigned long long)m.sequence_number, cfg_str(cfg, CFG_STATE_DIR));
		}
	}
done:
	free(gz);
	harvest_free(&h);
	run_state_free(&st);
	return out;
}
