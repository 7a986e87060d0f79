/*
 * state: netinv's state directory (default /var/lib/netinv). Opened once per run, by fd, with
 * O_NOFOLLOW: a symlinked directory, one owned by another user or writable by others is refused.
 * A flock on "lock" keeps runs apart (exclusive for a run that may write, shared for a dry run); a
 * second writer exits at once with "another run holds the lock". Every file is written the same way:
 * a 0600 temp file created with O_EXCL|O_NOFOLLOW, written, fsynced, renamed over the old one, and
 * the directory fsynced, so a crash at any point leaves the old or the new generation, never a mix.
 *
 * Files: agent_uuid (the identity, created once, never re-minted while the directory exists),
 * acked.state (the acknowledged state, delta/persist format), unconfirmed.state (what reports whose
 * replies never came carried, same format: the server may hold any of it), lock.
 */
#ifndef NETINV_STATE_H
#define NETINV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../delta/snapshot.h"

struct acked_state;
struct delta;
struct canon_ctx;

struct state_dir {
	int dfd;
	int lockfd;
	bool exclusive;
	char path[4096];
	/* What went wrong without failing (a directory fsync, an identity not imported): the store
	 * never logs; its caller logs this once. Empty when nothing did. */
	char note[512];
};

enum state_err {
	STATE_OK,
	STATE_ABSENT,    /* the directory does not exist (dry run: no state yet) */
	STATE_LOCKED,    /* another run holds the lock */
	STATE_UNSAFE,    /* symlink, not a directory, wrong owner, group/world writable */
	STATE_IO,        /* cannot create, read or write (message says why) */
	STATE_IDENTITY,  /* identity file present but unusable: never replaced */
};

/* Run as root against a state directory another user owns (the service's `netinv` user): become
 * that user, keeping only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (what the service has), and
 * CAP_SYS_ADMIN when namespaces are wanted (what the namespaces drop-in gives the service), so a
 * manual run acts exactly like the service and every file stays the service's. Nothing happens
 * when not root, or when the directory is root's or absent. 1 when it switched (who = "name (uid
 * N)"), 0 when not, -1 with a reason. */
int state_adopt_owner(const char *path, bool keep_admin, char *who, size_t wholen, char *err,
		      size_t errlen);

/* create: make the directory (0700) when missing. exclusive: lock for writing. The reason of any
 * failure is one line in err. */
enum state_err state_open(struct state_dir *sd, const char *path, bool create, bool exclusive,
			  char *err, size_t errlen);
void state_close(struct state_dir *sd);

/* The identity: STATE_OK with uuid filled, STATE_ABSENT, or STATE_IDENTITY (unreadable, not a UUID,
 * owned by another user: a hard error). */
enum state_err state_identity(struct state_dir *sd, char uuid[37], char *err, size_t errlen);
/* Create the identity (exclusive lock held, none present): imported from a Graphēon agent's state
 * directory when one is there (its agent_uuid, api_key and sequence number), else random. */
enum state_err state_create_identity(struct state_dir *sd, const char *import_dir, char uuid[37],
				     uint64_t *imported_seq, bool *imported, char *err, size_t errlen);

/* The acknowledged state: STATE_OK, STATE_ABSENT (no file), or STATE_IDENTITY never; a corrupt
 * file gives STATE_OK with *corrupt set to the reason and an empty state (-> full snapshot). An
 * unreadable one (permissions, another owner) is STATE_IO. */
enum state_err state_read_acked(struct state_dir *sd, struct acked_state *out, const char **corrupt,
				char *err, size_t errlen);
/* Reports sent whose replies never came (unconfirmed.state, same format and rules): STATE_OK,
 * STATE_ABSENT, corrupt as above, or STATE_IO. */
enum state_err state_read_unconfirmed(struct state_dir *sd, struct acked_state *out,
				      const char **corrupt, char *err, size_t errlen);
/* Before a report part is sent: make durable what it carries (u), its sequence number and whether
 * it is a full snapshot. A failure means the part must not be sent. */
enum state_err state_write_unconfirmed(struct state_dir *sd, const struct acked_state *u,
				       uint64_t sequence, bool full, char *err, size_t errlen);
/* Once the acknowledged state includes what the unconfirmed file held. 0 or -errno. */
int state_drop_unconfirmed(struct state_dir *sd);
/* Before the dumps, from acked.state's header alone (nothing of it trusted yet): per table, the
 * digest of the dump its records came from and whether it repeated in the last commit. false when
 * there is none, or when reports whose replies never came are recorded (unconfirmed.state). */
bool state_digest_hint(struct state_dir *sd, uint64_t digest[SNAP_NTABLES], bool repeat[SNAP_NTABLES]);
/* Size of the acknowledged state file, -1 when there is none (for status). */
long long state_acked_bytes(struct state_dir *sd);
/* Write the acknowledged state the delta leads to (what was marked sent). */
enum state_err state_commit(struct state_dir *sd, const struct delta *d, const struct canon_ctx *c,
			    uint64_t sequence, int64_t accepted_at, uint32_t keying, char *err,
			    size_t errlen);

/* Atomic replace of one small file. */
int state_write_file(struct state_dir *sd, const char *name, const void *buf, size_t len);



/* ---- enrollment bookkeeping ---- */
#include "../report/proto.h"

struct agent_status {
	char registration[16];  /* "", "pending", "active" */
	char agent_id[65];      /* the server's id for this agent */
	bool have_policy;
	struct policy policy;   /* cached from the last successful reply */
	int64_t server_time;    /* of the last accepted reply */
	int64_t last_checkin;   /* local time of the last accepted check-in */
	unsigned failures;      /* consecutive temporary failures */
	int64_t next_attempt;   /* backing off until (local time), 0 = not */
	unsigned part_budget;   /* decoded bytes per check-in after a 413, 0 = the policy's */
	char last_error[256];
	int64_t last_error_at;
	char server_peer[64];   /* "IP port" of the fleet server as last connected to */
	/* sequence of the last accepted report; acked.state holds the sequence of the last one that
	 * changed records (a no-change check-in does not rewrite it) */
	uint64_t last_sequence;
	/* per table (routes, neighbours), the digest of the last accepted check-in that found the
	 * table as acknowledged (0 = none): a hint that the next run may digest it instead of parsing
	 * it (routes_seen, neighbors_seen) */
	uint64_t seen[SNAP_NTABLES];
};

/* agent.status: KEY=VALUE lines; a missing file is an empty status, damaged lines are skipped. */
void state_read_status(struct state_dir *sd, struct agent_status *as);
enum state_err state_write_status(struct state_dir *sd, const struct agent_status *as, char *err,
				  size_t errlen);
/* The agent key: STATE_OK, STATE_ABSENT, or STATE_IDENTITY for a key file that is unusable. */
enum state_err state_read_key(struct state_dir *sd, char *key, size_t cap, char *err, size_t errlen);
enum state_err state_write_key(struct state_dir *sd, const char *key, char *err, size_t errlen);
/* A key must be a printable token without spaces: 0 or -1. */
int state_key_valid(const char *key);
#endif
