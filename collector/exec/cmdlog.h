/*
 * cmdlog: the journal of server-sent commands (state directory, file "commands.journal"). It is
 * what makes a command run at most once, even across a crash: a command's id is recorded (and the
 * file synced) before it is started, its result is recorded when it ends, and the result stays
 * until a check-in that carried it was accepted. Ids of delivered results are remembered (the
 * newest CMDLOG_KEEP_IDS) so a server that sends a command again gets no second run.
 *
 * Always compiled, also without the exec module: refusals are results too.
 *
 * File: "NICMDJ1\n", u32 count, u32 zero, then per entry a fixed header and its strings, then a
 * CRC-32C of everything before it.
 *
 * Fail closed: a damaged file may have held ids that ran. What can be read of it is kept (every id
 * found becomes an entry never run again), the file is moved aside (commands.journal.damaged,
 * never over an earlier one), and every command is refused while that file is there: an operator
 * removes it once satisfied (netinv(8)). Results still to deliver are unaffected.
 */
#ifndef NETINV_CMDLOG_H
#define NETINV_CMDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_w;
struct state_dir;

#define CMDLOG_FILE		 "commands.journal"
#define CMDLOG_KEEP_IDS		 1024
#define CMDLOG_MAX_ENTRIES	 4096
#define CMDLOG_MAX_OUTPUT	 (1u << 20) /* per stream */
#define CMDLOG_MAX_PENDING	 64
#define CMDLOG_MAX_PENDING_BYTES (32u << 20)
/* The pending limits keep a journal under 32 MiB of output plus one command's 2 MiB and the ids:
 * a larger file is damaged. */
#define CMDLOG_MAX_FILE (64u << 20)
#define CMDLOG_MAX_FILE_TEXT "64 MiB"

enum cmd_status {
	CMD_STARTED,	 /* recorded before the spawn; no result yet */
	CMD_COMPLETED,	 /* ran to an exit or a signal (timed_out says whether we killed it) */
	CMD_REFUSED,	 /* a gate, the allowlist or an argument said no: nothing ran */
	CMD_FAILED,	 /* could not be started (exec error, user switch, script file) */
	CMD_INTERRUPTED, /* netinv stopped while it ran: not run again */
};

extern const char *const cmd_status_names[];

struct cmd_entry {
	char id[65];
	char name[65];
	uint8_t status;
	bool delivered; /* a check-in that carried the result was accepted */
	bool timed_out;
	bool out_trunc, err_trunc;
	int32_t exit_code; /* -1: none */
	int32_t signal;	   /* 0: none */
	uint32_t duration_ms;
	int64_t at;	  /* unix time the command was received */
	char reason[256]; /* refused / failed / interrupted: why */
	char *out, *err;  /* captured output (malloc'ed) */
	uint32_t out_len, err_len;
};

struct cmdlog {
	struct cmd_entry *v;
	unsigned n, cap;
	bool damaged;	  /* the file was damaged (and, when loading with move_aside, moved aside) */
	bool quarantined; /* a damaged journal is beside it: commands are refused */
};

/* Read the journal. 0 (also when there is none), or -1 with a one-line reason in err: damaged
 * (l->damaged set; with move_aside what can be read of it is kept and saved, the file is moved
 * aside, and l->quarantined is set) or unreadable. 0 with l->quarantined and the reason in err
 * while a damaged journal is still beside it. Entries left CMD_STARTED by a run that stopped
 * become CMD_INTERRUPTED. */
int cmdlog_load(struct cmdlog *l, struct state_dir *sd, bool move_aside, char *err, size_t errlen);
/* Atomic replace (temp, fsync, rename, fsync dir). 0 or -errno. */
int cmdlog_save(const struct cmdlog *l, struct state_dir *sd);
void cmdlog_free(struct cmdlog *l);

struct cmd_entry *cmdlog_find(struct cmdlog *l, const char *id);
/* A new entry (CMD_STARTED, at = now); NULL when out of memory. Pointers into l->v are valid
 * until the next cmdlog_add. */
struct cmd_entry *cmdlog_add(struct cmdlog *l, const char *id, const char *name);
/* Set a result that says why nothing ran. */
void cmd_entry_reason(struct cmd_entry *e, enum cmd_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Serialise / parse (exposed for tests and the fuzz driver). cmdlog_decode: 0 or -EBADMSG with
 * a reason. */
int cmdlog_encode(const struct cmdlog *l, char **buf, size_t *len);
int cmdlog_decode(struct cmdlog *l, const char *buf, size_t len, const char **why);
/* Every well-formed entry header found at any offset of a damaged image: its id is added (if
 * new) as interrupted and delivered, never to run again. The count added, or -ENOMEM. */
int cmdlog_salvage(struct cmdlog *l, const char *buf, size_t len);

/* Results not yet delivered go into the check-in as "command_results": [...], oldest first, as
 * many as fit in limit bytes of JSON (a single result larger than that is cut to fit, its
 * *_truncated set). incl[i] is set for each entry written; returns how many. */
unsigned cmdlog_write_results(struct json_w *w, struct cmdlog *l, size_t limit, uint8_t *incl);
/* After the check-in carrying them was accepted: mark delivered, drop outputs, and forget the
 * oldest delivered ids beyond CMDLOG_KEEP_IDS. */
void cmdlog_delivered(struct cmdlog *l, const uint8_t *incl);
unsigned cmdlog_pending_results(const struct cmdlog *l);
/* Too many results still to deliver (CMDLOG_MAX_PENDING, or CMDLOG_MAX_PENDING_BYTES of output):
 * new commands wait, unrecorded, until check-ins have carried the backlog away. */
bool cmdlog_backlogged(const struct cmdlog *l);

#endif
