/*
 * proto: the Graphēon agent API (shared/PROTOCOL.md). Register and check-in requests, and their
 * replies skimmed as they arrive (report/skim: only the members netinv reads are kept, in a fixed
 * buffer, whatever the reply's size) and then parsed with cJSON: types and ranges checked, unknown
 * keys ignored, the server's naive UTC time understood. Every HTTP status maps to its own outcome and a
 * one-line message for the operator; nothing here logs or exits.
 */
#ifndef NETINV_PROTO_H
#define NETINV_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct http;
struct http_resp;

enum proto_outcome {
	PROTO_ACCEPTED,     /* check-in stored */
	PROTO_PENDING,      /* registered, waiting for approval */
	PROTO_ACTIVE,       /* registered and approved */
	PROTO_KEY_LOST,     /* active, the server will not send the key again, none stored here */
	PROTO_UNAUTHORIZED, /* 401 */
	PROTO_FORBIDDEN,    /* 403 */
	PROTO_CONFLICT,     /* 409 */
	PROTO_TOO_LARGE,    /* 413 */
	PROTO_ENCODING,     /* 400 / 415: netinv sent something the server cannot decode */
	PROTO_INVALID,      /* 422 */
	PROTO_RATE_LIMITED, /* 429 */
	PROTO_TEMPORARY,    /* 5xx, timeouts, connection failures, a reply cut off */
	PROTO_BAD_REPLY,    /* a reply we cannot trust: not JSON, wrong types, unexpected status */
	PROTO_UNKNOWN,      /* check-in sent, no readable reply: the server may have stored it */
	PROTO_CONFIG,       /* no retry can help: trust, CA file, pin, URL, proxy credentials */
};

/* What netinv keeps of a reply (the members it reads), and how much reply it reads at all: the
 * Graphēon server echoes a report's addresses three times, so the bound grows with what was sent
 * (64 KiB + 4 bytes per decoded byte sent, at most 64 MiB). The reply is streamed, never stored. */
#define PROTO_KEPT_MAX (64u << 10)
#define PROTO_REPLY_BASE (64u << 10)
#define PROTO_REPLY_CEILING (64ull << 20)
uint64_t proto_reply_limit(uint64_t sent);

extern const char *const proto_outcome_names[];

#define POLICY_COMMANDS 4 /* ip_addr, ip_neigh, ip_route, ss_tunap */

struct policy {
	unsigned interval;     /* checkin_interval_seconds 60..86400 */
	unsigned jitter;       /* jitter_seconds 0..3600 */
	unsigned cmd_timeout;  /* command_timeout_seconds 1..300 */
	unsigned max_report;   /* max_report_bytes 16384..10485760 */
	bool enabled[POLICY_COMMANDS];
	bool commands;         /* commands_enabled (netinv extension): may the server send commands */
};

void policy_defaults(struct policy *p);
/* Tables (1 << SNAP_*) the policy's enabled_commands allow. */
unsigned policy_tables(const struct policy *p);

/* Commands a check-in reply may carry (netinv extension): {id, name, args[], script?}. Strings live
 * in the reply's arena (at most PROTO_KEPT_MAX bytes of the reply are kept, so everything decoded
 * fits). */
#define PROTO_MAX_COMMANDS 16
#define PROTO_MAX_ARGS 32
#define PROTO_ARENA (64u << 10)
#define PROTO_CMD_ID_MAX 64

struct proto_command {
	char id[PROTO_CMD_ID_MAX + 1];   /* [A-Za-z0-9._:-], 1..64 */
	char name[65];                   /* as sent, when it is a string of 1..64 printable bytes */
	unsigned argc;
	uint32_t arg_off[PROTO_MAX_ARGS]; /* into arena */
	int32_t script_off;              /* into arena, -1 = none */
	char bad[128];                   /* non-empty: malformed; refused with this reason */
};

struct proto_reply {
	enum proto_outcome outcome;
	long http_status;
	char message[512];       /* one line for the log */
	char api_key[257];       /* register: the key, the first time only */
	char agent_id[65];
	char status[16];         /* register: pending / active */
	char checkin_id[65];     /* check-in: the server's id for it, "" = none */
	uint64_t reply_bytes;    /* body bytes the server sent */
	bool have_policy;
	struct policy policy;    /* already merged over the previous one; see policy_warnings */
	char policy_warnings[256];
	int64_t server_time;     /* unix seconds, 0 = none */
	long retry_after;        /* seconds, -1 = none */
	char peer[64];           /* "IP port" the call connected to, "" = none */
	/* check-in: commands (netinv extension) */
	unsigned n_cmds;
	unsigned cmds_ignored;   /* over PROTO_MAX_COMMANDS, or without a usable id */
	struct proto_command cmds[PROTO_MAX_COMMANDS];
	size_t arena_len;
	char arena[PROTO_ARENA + 1];
};

/* 1..max characters, each alphanumeric or in extra: command ids, allowlist names. */
bool proto_token_ok(const char *s, size_t max, const char *extra);

static inline const char *proto_cmd_arg(const struct proto_reply *r, const struct proto_command *c,
					unsigned i)
{
	return r->arena + c->arg_off[i];
}

struct register_req {
	const char *enrollment_key, *agent_uuid, *display_name, *hostname, *site_name;
	const char *platform_release, *agent_version;
};

/* Pure: classify a reply (status + body) of either call. prev is the cached policy that an
 * out-of-range value keeps. */
void proto_parse_register(long status, const char *body, size_t len, bool have_local_key,
			  const struct policy *prev, struct proto_reply *r);
void proto_parse_checkin(long status, const char *body, size_t len, const struct policy *prev,
			 struct proto_reply *r);
/* Naive (or Z / offset) ISO 8601 to unix seconds; -1 when not a time. */
int64_t proto_parse_time(const char *s);

/* Build the register body into buf; returns its length, 0 if it did not fit. */
size_t proto_register_body(const struct register_req *q, char *buf, size_t cap);

/* Calls: transport failures become PROTO_TEMPORARY with curl's words. */
void proto_register(struct http *h, const char *server_url, const struct register_req *q,
		    bool have_local_key, const struct policy *prev, struct proto_reply *r);
/* decoded: the report's size before gzip, which bounds how much reply is read. */
void proto_checkin(struct http *h, const char *server_url, const char *key_header,
		   const char *api_key, const void *gz, size_t len, size_t decoded,
		   const struct policy *prev, struct proto_reply *r);

#endif
