#include "proto.h"
#include "http.h"
#include "json.h"
#include "skim.h"
#include "../delta/snapshot.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const proto_outcome_names[] = {
	"accepted", "pending",	 "active",	 "key_lost",	 "unauthorized",
	"forbidden", "conflict", "too_large",	 "encoding",	 "invalid",
	"rate_limited", "temporary", "bad_reply", "unknown", "config",
};

/* The members of a reply netinv reads; the rest (the echoed address lists above all) is checked
 * and dropped as it arrives. agent and checkin keep their scalars (ids, times), not their lists. */
static const struct skim_rule reply_rules[] = {
	{ "status", SKIM_WHOLE, 0 },	 { "server_time", SKIM_WHOLE, 0 },
	{ "api_key", SKIM_WHOLE, 0 },	 { "agent", SKIM_SCALARS, 0 },
	{ "checkin", SKIM_SCALARS, 0 },	 { "policy", SKIM_WHOLE, 0 },
	{ "commands", SKIM_WHOLE, 64 },	 { "detail", SKIM_WHOLE, 8 },
	{ "errors", SKIM_WHOLE, 8 },
};
enum { RULE_COMMANDS = 6 };

uint64_t proto_reply_limit(uint64_t sent)
{
	uint64_t l = PROTO_REPLY_BASE + 4 * sent;

	return l < PROTO_REPLY_CEILING ? l : PROTO_REPLY_CEILING;
}

static void skim_reply(struct skim *sk, char *kept)
{
	skim_init(sk, reply_rules, sizeof(reply_rules) / sizeof(reply_rules[0]), kept, PROTO_KEPT_MAX);
}

void policy_defaults(struct policy *p)
{
	*p = (struct policy){ .interval = 3600, .jitter = 300, .cmd_timeout = 15,
			      .max_report = 262144, .enabled = { true, true, true, true } };
}

unsigned policy_tables(const struct policy *p)
{
	unsigned t = 1u << SNAP_LINKS;

	if (p->enabled[0])
		t |= 1u << SNAP_ADDRS;
	if (p->enabled[1])
		t |= 1u << SNAP_NEIGH;
	/* ip_route names the routing collector: routes, the policy that picks their table, and
	 * the nexthop objects they use */
	if (p->enabled[2])
		t |= 1u << SNAP_ROUTES | 1u << SNAP_RULES | 1u << SNAP_NHOBJ;
	if (p->enabled[3])
		t |= 1u << SNAP_SOCKS;
	return t;
}

int64_t proto_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t t;

	if (!s)
		return -1;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = (int64_t)timegm(&tm);
	/* naive means UTC (the Graphēon server's habit); honour Z or an offset when present */
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
		int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;

		t += *p == '+' ? -off : off;
		p += 6;
	}
	return *p ? -1 : t;
}

static void msg(struct proto_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(struct proto_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	for (char *p = r->message; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* A short, printable excerpt of an untrusted string for a log line. */
static void excerpt(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; in && *in && n + 1 < cap; in++)
		out[n++] = ((unsigned char)*in >= 0x20 && (unsigned char)*in < 0x7f) ? *in : '?';
	out[n] = 0;
}

static unsigned range(const cJSON *o, const char *k, unsigned min, unsigned max, unsigned keep,
		      struct proto_reply *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	size_t n = strlen(r->policy_warnings);

	if (!v || cJSON_IsNull(v))
		return keep;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(unsigned)v->valuedouble) {
		snprintf(r->policy_warnings + n, sizeof(r->policy_warnings) - n, "%s%s out of range",
			 n ? "; " : "", k);
		return keep;
	}
	return (unsigned)v->valuedouble;
}

static void parse_policy(const cJSON *p, const struct policy *prev, struct proto_reply *r)
{
	static const char *const cmds[POLICY_COMMANDS] = { "ip_addr", "ip_neigh", "ip_route",
							   "ss_tunap" };
	const cJSON *en;

	r->policy = *prev;
	if (!cJSON_IsObject(p))
		return;
	r->have_policy = true;
	r->policy.interval = range(p, "checkin_interval_seconds", 60, 86400, prev->interval, r);
	r->policy.jitter = range(p, "jitter_seconds", 0, 3600, prev->jitter, r);
	r->policy.cmd_timeout = range(p, "command_timeout_seconds", 1, 300, prev->cmd_timeout, r);
	r->policy.max_report = range(p, "max_report_bytes", 16384, 10485760, prev->max_report, r);
	en = cJSON_GetObjectItemCaseSensitive(p, "enabled_commands");
	if (cJSON_IsObject(en)) {
		for (int i = 0; i < POLICY_COMMANDS; i++) {
			const cJSON *b = cJSON_GetObjectItemCaseSensitive(en, cmds[i]);

			if (cJSON_IsBool(b))
				r->policy.enabled[i] = cJSON_IsTrue(b);
		}
	}
	/* netinv extension: a server that does not say so does not allow commands */
	r->policy.commands = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "commands_enabled"));
}

bool proto_token_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

/* A copy into the arena: its offset, or -1 when the arena is full. */
static int32_t arena_put(struct proto_reply *r, const char *s)
{
	size_t n = strlen(s) + 1;
	int32_t off = (int32_t)r->arena_len;

	if (n > sizeof(r->arena) - r->arena_len)
		return -1;
	memcpy(r->arena + r->arena_len, s, n);
	r->arena_len += n;
	return off;
}

static void parse_one_command(const cJSON *c, struct proto_reply *r)
{
	struct proto_command *pc = &r->cmds[r->n_cmds];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
	const cJSON *script = cJSON_GetObjectItemCaseSensitive(c, "script");
	const cJSON *a;

	/* without an id there is nothing to report a result against */
	if (!cJSON_IsString(id) || !proto_token_ok(id->valuestring, PROTO_CMD_ID_MAX, "._:-") || r->n_cmds >= PROTO_MAX_COMMANDS) {
		r->cmds_ignored++;
		return;
	}
	for (unsigned i = 0; i < r->n_cmds; i++)
		if (!strcmp(r->cmds[i].id, id->valuestring))
			return; /* the same command twice in one reply */
	memset(pc, 0, sizeof(*pc));
	pc->script_off = -1;
	r->n_cmds++;
	snprintf(pc->id, sizeof(pc->id), "%s", id->valuestring);
	if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > 64) {
		snprintf(pc->bad, sizeof(pc->bad), "the command has no name (a string of 1 to 64 bytes)");
		snprintf(pc->name, sizeof(pc->name), "?");
		return;
	}
	snprintf(pc->name, sizeof(pc->name), "%s", name->valuestring);
	for (char *q = pc->name; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			*q = '?';
			snprintf(pc->bad, sizeof(pc->bad), "the command name has control characters");
		}
	if (pc->bad[0])
		return;
	if (args && !cJSON_IsNull(args)) {
		if (!cJSON_IsArray(args)) {
			snprintf(pc->bad, sizeof(pc->bad), "args is not an array");
			return;
		}
		cJSON_ArrayForEach(a, args)
		{
			int32_t off;

			if (!cJSON_IsString(a)) {
				snprintf(pc->bad, sizeof(pc->bad), "argument %u is not a string", pc->argc + 1);
				return;
			}
			if (pc->argc >= PROTO_MAX_ARGS) {
				snprintf(pc->bad, sizeof(pc->bad), "more than %d arguments", PROTO_MAX_ARGS);
				return;
			}
			off = arena_put(r, a->valuestring);
			if (off < 0) {
				snprintf(pc->bad, sizeof(pc->bad), "the arguments are too large");
				return;
			}
			pc->arg_off[pc->argc++] = (uint32_t)off;
		}
	}
	if (script && !cJSON_IsNull(script)) {
		if (!cJSON_IsString(script)) {
			snprintf(pc->bad, sizeof(pc->bad), "script is not a string");
			return;
		}
		pc->script_off = arena_put(r, script->valuestring);
		if (pc->script_off < 0)
			snprintf(pc->bad, sizeof(pc->bad), "the script is too large");
	}
}

static void parse_commands(const cJSON *cmds, struct proto_reply *r)
{
	const cJSON *c;

	if (!cJSON_IsArray(cmds)) {
		if (cmds && !cJSON_IsNull(cmds))
			r->cmds_ignored++;
		return;
	}
	cJSON_ArrayForEach(c, cmds)
	{
		if (!cJSON_IsObject(c))
			r->cmds_ignored++;
		else
			parse_one_command(c, r);
	}
}

static const char *str_item(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 422: {"detail": "Validation failed", "errors": [{"field":..., "message":...}]} */
static void validation_errors(const cJSON *j, char *out, size_t cap)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors"), *e;
	size_t n = 0;
	int k = 0;

	out[0] = 0;
	cJSON_ArrayForEach(e, errs)
	{
		char f[80], m[120];

		if (k++ == 5) {
			snprintf(out + n, cap - n, "; ...");
			break;
		}
		excerpt(str_item(e, "field"), f, sizeof(f));
		excerpt(str_item(e, "message"), m, sizeof(m));
		n += (size_t)snprintf(out + n, cap - n, "%s%s: %s", n ? "; " : "", f, m);
		if (n >= cap)
			break;
	}
}

/* Shared status mapping; returns true when the status was an error it handled. */
static bool map_error(long status, const cJSON *j, struct proto_reply *r, bool checkin)
{
	char detail[200], errs[400];

	excerpt(j ? str_item(j, "detail") : NULL, detail, sizeof(detail));
	switch (status) {
	case 401:
		r->outcome = PROTO_UNAUTHORIZED;
		if (checkin)
			msg(r, "the server refused the agent key (401: missing, wrong, rotated or "
			       "deactivated%s%s); ask an administrator to rotate the key and install it "
			       "with 'netinv install-key FILE'",
			    detail[0] ? ": " : "", detail);
		else
			msg(r, "the server refused the enrollment key (401: unknown or inactive%s%s)",
			    detail[0] ? ": " : "", detail);
		return true;
	case 403:
		r->outcome = PROTO_FORBIDDEN;
		if (checkin)
			msg(r, "the server refused this agent (403: %s)",
			    detail[0] ? detail : "pending approval, rejected or revoked");
		else
			msg(r, "the server refused the registration (403: %s)",
			    detail[0] ? detail : "expired key, agent limit reached, or agent rejected or revoked");
		return true;
	case 409:
		r->outcome = PROTO_CONFLICT;
		if (checkin)
			msg(r, "the server says this agent_uuid does not belong to the agent key (409%s%s); "
			       "netinv will not make up a new identity",
			    detail[0] ? ": " : "", detail);
		else
			msg(r, "this agent is bound to another enrollment key on the server (409%s%s)",
			    detail[0] ? ": " : "", detail);
		return true;
	case 413:
		r->outcome = PROTO_TOO_LARGE;
		msg(r, "the server refused the report as too large (413: %s)",
		    detail[0] ? detail : "compressed or decoded size over its limit");
		return true;
	case 400:
	case 415:
		r->outcome = PROTO_ENCODING;
		msg(r, "the server could not decode the request (%ld%s%s); this is a netinv bug",
		    status, detail[0] ? ": " : "", detail);
		return true;
	case 422:
		r->outcome = PROTO_INVALID;
		validation_errors(j, errs, sizeof(errs));
		msg(r, "the server rejected the %s as invalid (422%s%s)", checkin ? "report" : "registration",
		    errs[0] ? ": " : "", errs);
		return true;
	case 429:
		r->outcome = PROTO_RATE_LIMITED;
		msg(r, "the server asks to slow down (429)");
		return true;
	}
	if (status >= 500 && status <= 599) {
		r->outcome = PROTO_TEMPORARY;
		msg(r, "server error %ld%s%s; will retry", status, detail[0] ? ": " : "", detail);
		return true;
	}
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A member name that appears twice in one object anywhere in j (the skimmer already refuses a
 * repeated top-level member): parsers disagree on which one counts, so such a reply is refused.
 * Writes "outer.inner" into path; false when there is none (or no memory to look). */
static bool dup_member(const cJSON *j, char *path, size_t len, int depth)
{
	const cJSON *c;
	const char **names;
	size_t n = 0, k = 0;

	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return false;
	for (c = j->child; c; c = c->next)
		n++;
	if (cJSON_IsObject(j) && n > 1) {
		names = malloc(n * sizeof(*names));
		if (!names)
			return false;
		for (c = j->child; c; c = c->next)
			names[k++] = c->string ? c->string : "";
		qsort(names, n, sizeof(*names), cmp_names);
		for (k = 1; k < n && strcmp(names[k - 1], names[k]); k++)
			;
		if (k < n) {
			snprintf(path, len, "%s", names[k]);
			free(names);
			return true;
		}
		free(names);
	}
	for (c = j->child; c && depth < 32; c = c->next) {
		char inner[128];

		if (dup_member(c, inner, sizeof(inner), depth + 1)) {
			const char *dot = inner[0] == '[' ? "" : ".";

			if (cJSON_IsObject(j))
				snprintf(path, len, "%.60s%s%.60s", c->string ? c->string : "", dot, inner);
			else
				snprintf(path, len, "[]%s%.100s", dot, inner);
			return true;
		}
	}
	return false;
}

/* What the skimmer kept, as a tree (NULL when the reply was not well-formed JSON, or named a
 * member twice in one object: *why says which). */
static cJSON *parse_kept(const struct skim *sk, char *why, size_t whylen)
{
	cJSON *j = !sk->err && sk->len ? cJSON_ParseWithLength(sk->out, sk->len) : NULL;
	char path[128];

	why[0] = 0;
	if (j && dup_member(j, path, sizeof(path), 0)) {
		snprintf(why, whylen, "the member %s appears twice", path);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void bad_reply(struct proto_reply *r, long status, const char *what)
{
	r->outcome = PROTO_BAD_REPLY;
	msg(r, "unexpected reply from the server (HTTP %ld): %s", status, what);
}

/* The server's id for the agent: agent.id (a string or a number), else checkin.agent_id. */
static void agent_id_of(const cJSON *j, struct proto_reply *r)
{
	const char *outer[] = { "agent", "checkin" }, *inner[] = { "id", "agent_id" };

	for (int k = 0; k < 2 && !r->agent_id[0]; k++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, outer[k]);
		const cJSON *id = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, inner[k]) : NULL;

		if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof(r->agent_id))
			excerpt(id->valuestring, r->agent_id, sizeof(r->agent_id));
		else if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 1e18)
			snprintf(r->agent_id, sizeof(r->agent_id), "%.0f", id->valuedouble);
	}
}

static void parse_register(long status, const struct skim *sk, bool have_local_key,
			   const struct policy *prev, struct proto_reply *r)
{
	char dup[160];
	cJSON *j = parse_kept(sk, dup, sizeof(dup));
	const char *st, *key, *t;

	memset(r, 0, sizeof(*r));
	r->http_status = status;
	r->retry_after = -1;
	r->policy = *prev;
	if (map_error(status, j, r, false))
		goto out;
	if (status != 200 && status != 201) {
		bad_reply(r, status, "status not in the protocol");
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		bad_reply(r, status, sk->err ? sk->err : dup[0] ? dup : "not a JSON object");
		goto out;
	}
	st = str_item(j, "status");
	if (!st || (strcmp(st, "pending") && strcmp(st, "active"))) {
		bad_reply(r, status, "registration status is neither pending nor active");
		goto out;
	}
	snprintf(r->status, sizeof(r->status), "%s", st);
	agent_id_of(j, r);
	t = str_item(j, "server_time");
	r->server_time = t ? proto_parse_time(t) : 0;
	if (r->server_time < 0)
		r->server_time = 0;
	parse_policy(cJSON_GetObjectItemCaseSensitive(j, "policy"), prev, r);
	if (!strcmp(st, "pending")) {
		r->outcome = PROTO_PENDING;
		msg(r, "registered; waiting for approval on the server");
		goto out;
	}
	key = str_item(j, "api_key");
	if (key) {
		size_t n = strlen(key);
		bool ok = n > 0 && n < sizeof(r->api_key);

		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)key[i] > 0x20 && (unsigned char)key[i] < 0x7f;
		if (!ok) {
			bad_reply(r, status, "the api_key is not a printable token");
			goto out;
		}
		memcpy(r->api_key, key, n + 1);
		r->outcome = PROTO_ACTIVE;
		msg(r, "approved; agent key received");
	} else if (have_local_key) {
		r->outcome = PROTO_ACTIVE;
		msg(r, "approved");
	} else {
		r->outcome = PROTO_KEY_LOST;
		msg(r, "the server says this agent is active but no longer sends its key, and none is "
		       "stored here: an administrator must rotate the key (POST /api/agents/%s/rotate-api-key) "
		       "and you install it with 'netinv install-key FILE'",
		    r->agent_id[0] ? r->agent_id : "{id}");
	}
out:
	cJSON_Delete(j);
}

static void parse_checkin(long status, const struct skim *sk, const struct policy *prev,
			  struct proto_reply *r)
{
	char dup[160];
	cJSON *j = parse_kept(sk, dup, sizeof(dup));
	const cJSON *ck, *id;
	const char *st, *t;

	memset(r, 0, sizeof(*r));
	r->http_status = status;
	r->retry_after = -1;
	r->policy = *prev;
	r->reply_bytes = sk->in;
	if (map_error(status, j, r, true))
		goto out;
	if (status != 200 && status != 201 && status != 202) {
		bad_reply(r, status, "status not in the protocol");
		goto out;
	}
	if (!j) {
		/* The server said yes at the HTTP level and may have stored the report: whatever the
		 * body is, the outcome is not known, and the report is not taken as refused. */
		r->outcome = PROTO_UNKNOWN;
		msg(r, "the server answered HTTP %ld but its reply cannot be read (%s); it may have "
		       "stored the report, which will be sent again",
		    status, sk->err ? sk->err : dup[0] ? dup : "not JSON");
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		bad_reply(r, status, "not a JSON object");
		goto out;
	}
	st = str_item(j, "status");
	if (!st || strcmp(st, "accepted")) {
		bad_reply(r, status, "check-in status is not 'accepted'");
		goto out;
	}
	t = str_item(j, "server_time");
	r->server_time = t ? proto_parse_time(t) : 0;
	if (r->server_time < 0)
		r->server_time = 0;
	ck = cJSON_GetObjectItemCaseSensitive(j, "checkin");
	id = cJSON_IsObject(ck) ? cJSON_GetObjectItemCaseSensitive(ck, "id") : NULL;
	if (cJSON_IsString(id))
		excerpt(id->valuestring, r->checkin_id, sizeof(r->checkin_id));
	else if (cJSON_IsNumber(id))
		snprintf(r->checkin_id, sizeof(r->checkin_id), "%.0f", id->valuedouble);
	agent_id_of(j, r);
	parse_policy(cJSON_GetObjectItemCaseSensitive(j, "policy"), prev, r);
	parse_commands(cJSON_GetObjectItemCaseSensitive(j, "commands"), r);
	r->cmds_ignored += sk->dropped[RULE_COMMANDS];
	r->outcome = PROTO_ACCEPTED;
	msg(r, "accepted");
out:
	cJSON_Delete(j);
}

void proto_parse_register(long status, const char *body, size_t len, bool have_local_key,
			  const struct policy *prev, struct proto_reply *r)
{
	char kept[PROTO_KEPT_MAX];
	struct skim sk;

	skim_reply(&sk, kept);
	skim_feed(&sk, body, len);
	skim_finish(&sk);
	parse_register(status, &sk, have_local_key, prev, r);
}

void proto_parse_checkin(long status, const char *body, size_t len, const struct policy *prev,
			 struct proto_reply *r)
{
	char kept[PROTO_KEPT_MAX];
	struct skim sk;

	skim_reply(&sk, kept);
	skim_feed(&sk, body, len);
	skim_finish(&sk);
	parse_checkin(status, &sk, prev, r);
}

static int mem_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return -ENOSPC; /* the body must fit the buffer */
}

size_t proto_register_body(const struct register_req *q, char *buf, size_t cap)
{
	struct json_w w;

	json_init(&w, buf, cap, mem_sink, NULL, false);
	json_obj_begin(&w);
	json_key(&w, "enrollment_key");
	json_str(&w, q->enrollment_key);
	json_key(&w, "agent_uuid");
	json_str(&w, q->agent_uuid);
	if (q->display_name && *q->display_name) {
		json_key(&w, "display_name");
		json_str(&w, q->display_name);
	}
	json_key(&w, "hostname");
	json_str(&w, q->hostname);
	if (q->site_name && *q->site_name) {
		json_key(&w, "site_name");
		json_str(&w, q->site_name);
	}
	json_key(&w, "platform");
	json_str(&w, "linux");
	json_key(&w, "platform_release");
	json_str(&w, q->platform_release);
	json_key(&w, "agent_version");
	json_str(&w, q->agent_version);
	json_key(&w, "metadata");
	json_obj_begin(&w);
	json_key(&w, "collector");
	json_str(&w, "netinv");
	json_obj_end(&w);
	json_obj_end(&w);
	if (w.err || w.len >= cap)
		return 0;
	return w.len;
}

/* No whole reply. After a check-in whose body all went out, the server may have stored it. */
static void transport(struct proto_reply *r, const struct http_resp *hr, bool stored_maybe)
{
	r->http_status = hr->status;
	r->reply_bytes = hr->body_len;
	if (hr->config[0] && !hr->sent_all) {
		r->outcome = PROTO_CONFIG;
		msg(r, "%s: %s; not a server outage: fix the configuration", hr->config, hr->error);
	} else if (stored_maybe && hr->sent_all) {
		r->outcome = PROTO_UNKNOWN;
		msg(r, "the report was sent but no reply could be read (%s); the server may have "
		       "stored it, and it will be sent again",
		    hr->error);
	} else {
		r->outcome = PROTO_TEMPORARY;
		msg(r, "cannot reach the server: %s; will retry", hr->error);
	}
}

static void sink_write(void *ctx, const char *p, size_t n)
{
	skim_feed(ctx, p, n);
}

static void join_url(char *out, size_t cap, const char *base, const char *path)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	snprintf(out, cap, "%.*s%s", (int)n, base, path);
}

void proto_register(struct http *h, const char *server_url, const struct register_req *q,
		    bool have_local_key, const struct policy *prev, struct proto_reply *r)
{
	struct http_resp hr;
	char body[8192], url[2048], kept[PROTO_KEPT_MAX];
	const char *hdrs[] = { "Content-Type: application/json", "Accept: application/json", NULL };
	size_t n = proto_register_body(q, body, sizeof(body));
	struct skim sk;
	/* the reply's agent object may echo the last report's address lists */
	struct http_sink sink = { sink_write, &sk, proto_reply_limit(prev->max_report) };

	join_url(url, sizeof(url), server_url, "/api/agents/register");
	if (!n) {
		memset(r, 0, sizeof(*r));
		r->outcome = PROTO_BAD_REPLY;
		msg(r, "the registration request does not fit %zu bytes", sizeof(body));
		return;
	}
	skim_reply(&sk, kept);
	if (http_post(h, url, hdrs, body, n, &sink, &hr) < 0) {
		memset(r, 0, sizeof(*r));
		r->policy = *prev;
		transport(r, &hr, false);
	} else {
		skim_finish(&sk);
		parse_register(hr.status, &sk, have_local_key, prev, r);
	}
	explicit_bzero(body, sizeof(body));
	r->retry_after = hr.retry_after;
	if (hr.peer_ip[0])
		snprintf(r->peer, sizeof(r->peer), "%s %ld", hr.peer_ip, hr.peer_port);
}

void proto_checkin(struct http *h, const char *server_url, const char *key_header,
		   const char *api_key, const void *gz, size_t len, size_t decoded,
		   const struct policy *prev, struct proto_reply *r)
{
	struct http_resp hr;
	char url[2048], auth[512], kept[PROTO_KEPT_MAX];
	const char *hdrs[] = { "Content-Type: application/json", "Content-Encoding: gzip",
			       "Accept: application/json", auth, NULL };
	struct skim sk;
	struct http_sink sink = { sink_write, &sk, proto_reply_limit(decoded) };

	join_url(url, sizeof(url), server_url, "/api/agents/check-in");
	snprintf(auth, sizeof(auth), "%s: %s", key_header, api_key);
	skim_reply(&sk, kept);
	if (http_post(h, url, hdrs, gz, len, &sink, &hr) < 0) {
		memset(r, 0, sizeof(*r));
		r->policy = *prev;
		transport(r, &hr, true);
	} else {
		skim_finish(&sk);
		parse_checkin(hr.status, &sk, prev, r);
	}
	explicit_bzero(auth, sizeof(auth));
	r->retry_after = hr.retry_after;
	if (hr.peer_ip[0])
		snprintf(r->peer, sizeof(r->peer), "%s %ld", hr.peer_ip, hr.peer_port);
}
