/*
 * nl: the only socket I/O in netinv. One blocking netlink socket per bus, driven by libmnl, that sends
 * a dump request and walks every reply datagram through a caller's per-message function. Buffers are
 * sized from MSG_PEEK|MSG_TRUNC (no fixed 4 KiB limit), sequence number and port id are checked on
 * every message, NLM_F_DUMP_INTR is recorded rather than treated as fatal, and a receive timeout keeps
 * a wedged kernel from wedging the agent. nl_walk_buf() is the pure half: it takes (buf, len) and is
 * what the unit tests and fuzzers drive with recorded and hostile dumps.
 */
#ifndef NETINV_NL_H
#define NETINV_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

struct mnl_socket;

struct nlconn {
	struct mnl_socket *mnl;
	int bus;
	unsigned int portid;
	uint32_t seq;
	uint8_t *buf;
	size_t cap;
	/* For tests: every received datagram is appended here when set (fixture recording). */
	int record_fd;
	/* The socket belongs to another network namespace: nl_conn_reopen drains it instead of
	 * opening a new one (which would belong to this namespace). */
	bool pinned;
};

/* Per-message callback: 0 = used or ignored, -ENOSPC = table full (counted as truncation),
 * any other negative = malformed record (counted as a drop, the walk goes on). */
typedef int (*nl_msg_fn)(const struct nlmsghdr *nlh, void *arg);

struct nl_walk {
	uint32_t seq;       /* expected sequence number; 0 = do not check (recorded dumps) */
	uint32_t portid;    /* expected port id; 0 = do not check */
	bool done;          /* NLMSG_DONE or NLMSG_ERROR seen */
	bool intr;          /* some message carried NLM_F_DUMP_INTR */
	int kernel_error;   /* negative errno from NLMSG_ERROR / NLMSG_DONE payload, or 0 */
	uint32_t msgs;      /* data messages handed to the callback */
	uint32_t datagrams; /* buffers walked */
	uint32_t dropped;   /* messages the callback rejected as malformed */
	uint32_t truncated; /* messages that did not fit a table cap */
	int first_drop;     /* errno of the first drop, for the report's stats */
};

/* Largest single datagram accepted. The kernel sizes dump skbs from the reader's buffer (capped at
 * 32 KiB) or from min_dump_alloc (a link with many VFs); 16 MiB is far past both, so anything larger
 * is treated as hostile rather than allocated. */
#define NL_MAX_DATAGRAM (16u << 20)
#define NL_INITIAL_BUF  32768u
#define NL_RECV_TIMEOUT_MS 5000

int nl_conn_open(struct nlconn *c, int bus, unsigned int groups);
void nl_conn_close(struct nlconn *c);
/* Re-open after a framing error: a socket whose stream lost sync cannot be trusted for the next dump.
 * A pinned socket is drained of what is queued (and of the rest of an unfinished dump) instead. */
int nl_conn_reopen(struct nlconn *c);
int nl_conn_strict(struct nlconn *c);
int nl_conn_fd(const struct nlconn *c);

/* Walk one received buffer. Returns 0 (possibly with w->done set) or a negative errno for framing
 * errors: -EBADMSG (message length past the received bytes, or trailing garbage), -ESRCH (wrong
 * sequence number), -EPROTO (wrong port id), -ENOBUFS (overrun). */
int nl_walk_buf(const void *buf, size_t len, struct nl_walk *w, nl_msg_fn fn, void *arg);

/* Send req (its nlmsg_seq/pid/flags are filled in here) and walk the whole dump. Returns 0 when the
 * dump completed (check w->kernel_error and w->intr), else a negative errno. */
int nl_conn_dump(struct nlconn *c, struct nlmsghdr *req, struct nl_walk *w, nl_msg_fn fn, void *arg);

/* One request that is not a dump (NLM_F_ACK): its reply messages go to fn until the kernel's ACK
 * or error (w->kernel_error). 0, or a negative errno as for a dump. */
int nl_conn_request(struct nlconn *c, struct nlmsghdr *req, struct nl_walk *w, nl_msg_fn fn,
		    void *arg);

/* Non-blocking drain of a multicast socket; calls fn for every notification. Returns the number of
 * messages seen, or -ENOBUFS when the socket overflowed (some notifications were lost). */
int nl_conn_drain(struct nlconn *c, nl_msg_fn fn, void *arg);

#endif
