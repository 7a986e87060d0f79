/*
 * dispatch: server-sent commands within a check-in. Their results ride in the first report part;
 * the commands of an accepted reply are handed to the gated exec module (which decides what runs)
 * and recorded in the command journal.
 */
#ifndef NETINV_DISPATCH_H
#define NETINV_DISPATCH_H

#include "../agent.h"
#include "../../report/json.h"

struct results_ctx {
	struct cmdlog *l;
	size_t limit;
	uint8_t *incl;
	unsigned n;
};

/* A report_meta.extra writer: the results waiting for delivery, within rc->limit. */
void commands_write_results(struct json_w *w, void *ctx);
/* The local gate (root-owned netinv.conf) and the allowlist are read before the attribution
 * capabilities are given up: under the service, CAP_DAC_READ_SEARCH is what reads them. */
void commands_prepare(struct agent *a);
void commands_handle(struct agent *a, const struct proto_reply *r);

#endif
