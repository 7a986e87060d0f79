#include "config.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *config_grapheon_env_file = GRAPHEON_ENV_FILE;

enum cfg_type { CT_STR, CT_PATH, CT_URL, CT_UINT, CT_BOOL, CT_LOG, CT_KEYING, CT_HEADER, CT_PINS,
		CT_NAMESPACES };

const struct cfg_def cfg_defs[CFG_N] = {
	[CFG_STATE_DIR] = { "state_dir", "NETINV_STATE_DIR", NULL, "--state-dir", CT_PATH,
			    "/var/lib/netinv", 0, 0, "state directory" },
	[CFG_SERVER_URL] = { "server_url", "NETINV_SERVER_URL", "GRAPHEON_AGENT_SERVER_URL",
			     "--server-url", CT_URL, "", 0, 0, "fleet server base URL" },
	[CFG_ENROLLMENT_KEY_FILE] = { "enrollment_key_file", "NETINV_ENROLLMENT_KEY_FILE",
				      "GRAPHEON_AGENT_ENROLLMENT_KEY_FILE", "--enrollment-key-file",
				      CT_PATH, "", 0, 0, "file holding the enrollment key" },
	[CFG_DISPLAY_NAME] = { "display_name", "NETINV_DISPLAY_NAME", "GRAPHEON_AGENT_DISPLAY_NAME",
			       "--display-name", CT_STR, "", 0, 128, "name shown on the server" },
	[CFG_SITE_NAME] = { "site_name", "NETINV_SITE_NAME", "GRAPHEON_AGENT_SITE_NAME",
			    "--site-name", CT_STR, "", 0, 128, "site reported at registration" },
	[CFG_HOSTNAME] = { "hostname", "NETINV_HOSTNAME", "GRAPHEON_AGENT_HOSTNAME", "--hostname",
			   CT_STR, "", 0, 253, "hostname override" },
	[CFG_TIMEOUT] = { "timeout", "NETINV_TIMEOUT", "GRAPHEON_AGENT_TIMEOUT", "--timeout", CT_UINT,
			  "30", 1, 600, "total seconds for one request" },
	[CFG_CONNECT_TIMEOUT] = { "connect_timeout", "NETINV_CONNECT_TIMEOUT", NULL,
				  "--connect-timeout", CT_UINT, "10", 1, 120,
				  "seconds to establish a connection" },
	[CFG_CA_FILE] = { "ca_file", "NETINV_CA_FILE", "GRAPHEON_AGENT_CA_FILE", "--ca-file", CT_PATH,
			  "", 0, 0, "CA bundle to verify the server with" },
	[CFG_PIN_PUBKEY] = { "pin_pubkey", "NETINV_PIN_PUBKEY", NULL, "--pin-pubkey", CT_PINS, "", 0,
			     0, "pinned server public keys (sha256//...;sha256//...)" },
	[CFG_API_KEY_HEADER] = { "api_key_header", "NETINV_API_KEY_HEADER",
				 "GRAPHEON_AGENT_API_KEY_HEADER", "--api-key-header", CT_HEADER,
				 "X-Agent-Api-Key", 1, 64, "header carrying the agent key" },
	[CFG_LOG_LEVEL] = { "log_level", "NETINV_LOG_LEVEL", "GRAPHEON_AGENT_LOG_LEVEL",
			    "--log-level", CT_LOG, "info", 0, 0, "error, warning, notice, info, debug" },
	[CFG_PROXY] = { "proxy", "NETINV_PROXY", "GRAPHEON_AGENT_PROXY", "--proxy", CT_STR, "", 0,
			512, "proxy URL (else the https_proxy environment)" },
	[CFG_ALLOW_INSECURE_HTTP] = { "allow_insecure_http", "NETINV_ALLOW_INSECURE_HTTP", NULL,
				      "--allow-insecure-http", CT_BOOL, "no", 0, 0,
				      "allow plain http to a non-loopback server" },
	[CFG_CONNECTION_KEYING] = { "connection_keying", "NETINV_CONNECTION_KEYING", NULL,
				    "--connection-keying", CT_KEYING, "exact", 0, 0,
				    "exact or flow" },
	[CFG_INCLUDE_TIME_WAIT] = { "include_time_wait", "NETINV_INCLUDE_TIME_WAIT", NULL,
				    "--include-time-wait", CT_BOOL, "no", 0, 0,
				    "report TIME_WAIT sockets" },
	[CFG_ALL_NEIGHBORS] = { "all_neighbors", "NETINV_ALL_NEIGHBORS", NULL, "--all-neighbors",
				CT_BOOL, "no", 0, 0,
				"also NOARP neighbour entries (ip neigh show nud all)" },
	[CFG_IPROUTE2_DIR] = { "iproute2_dir", "NETINV_IPROUTE2_DIR", NULL, "--iproute2-dir", CT_PATH,
			       "/etc/iproute2", 0, 0,
			       "iproute2 configuration: route table, protocol and scope names" },
	[CFG_NAMESPACES] = { "namespaces", "NETINV_NAMESPACES", NULL, "--namespaces", CT_NAMESPACES,
			     "all", 0, 0,
			     "host, or all network namespaces (needs CAP_SYS_ADMIN)" },
	[CFG_NETNS_DIR] = { "netns_dir", "NETINV_NETNS_DIR", NULL, "--netns-dir", CT_PATH,
			    "/run/netns", 0, 0, "named network namespaces (ip netns)" },
	[CFG_CONTAINER_ROOT] = { "container_root", "NETINV_CONTAINER_ROOT", NULL,
				 "--container-root", CT_PATH, "/", 0, 0,
				 "root under which container runtimes keep their state files" },
	[CFG_METRICS_FILE] = { "metrics_file", "NETINV_METRICS_FILE", NULL, "--metrics-file", CT_PATH,
			       "", 0, 0, "node_exporter textfile to write each run's metrics to" },
	[CFG_IMPORT_FROM] = { "import_from", "NETINV_IMPORT_FROM", NULL, "--import-from", CT_PATH,
			      "/var/lib/grapheon-agent", 0, 0,
			      "Graphēon agent state to take the identity from" },
};

bool cfg_flag_is_switch(enum cfg_id id)
{
	return cfg_defs[id].type == CT_BOOL;
}

static bool is_loopback_host(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(h);

	if (!strcasecmp(h, "localhost"))
		return true;
	if (n < sizeof(buf)) {
		memcpy(buf, h, n + 1);
		h = buf;
	}
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* scheme://[userinfo@]host[:port][/path...]: just enough to decide https vs loopback http and to
 * refuse credentials in the URL (libcurl, which does the real parsing, is only loaded to send). */
int config_check_url(const char *url, bool allow_insecure, char *err, size_t errlen)
{
	const char *p = strstr(url, "://"), *auth, *end, *hs, *he;
	char scheme[8], host[256];
	size_t n;

	if (!p || p == url || (size_t)(p - url) >= sizeof(scheme)) {
		snprintf(err, errlen, "server_url '%.100s' is not a valid URL", url);
		return -1;
	}
	memcpy(scheme, url, (size_t)(p - url));
	scheme[p - url] = 0;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth))) {
		snprintf(err, errlen, "server_url must not carry credentials");
		return -1;
	}
	if (*auth == '[') {
		hs = auth + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he || (he[1] != ':' && he + 1 != end))
			goto bad;
		p = he + 1;
	} else {
		hs = auth;
		he = memchr(hs, ':', (size_t)(end - hs));
		if (!he)
			he = end;
		p = he;
		for (const char *c = hs; c < he; c++)
			if (!isalnum((unsigned char)*c) && !strchr("-._", *c))
				goto bad;
	}
	if (*p == ':') {
		uint64_t port;
		char pb[8];

		n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof(pb))
			goto bad;
		memcpy(pb, p + 1, n);
		pb[n] = 0;
		if (parse_u64(pb, 1, 65535, &port) < 0)
			goto bad;
	}
	n = (size_t)(he - hs);
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, hs, n);
	host[n] = 0;
	if (!strcasecmp(scheme, "https"))
		return 0;
	if (!strcasecmp(scheme, "http")) {
		if (allow_insecure || is_loopback_host(host))
			return 0;
		snprintf(err, errlen,
			 "server_url '%.100s' is plain http to a non-loopback host; use https (or "
			 "allow_insecure_http=yes)",
			 url);
		return -1;
	}
	snprintf(err, errlen, "server_url '%.100s': scheme must be https", url);
	return -1;
bad:
	snprintf(err, errlen, "server_url '%.100s' is not a valid URL", url);
	return -1;
}

/* A setting that is one of two words. */
static int check_mode(const struct cfg_def *d, const char *v, const char *a, const char *b, char *err,
		      size_t errlen)
{
	if (!strcmp(v, a) || !strcmp(v, b))
		return 0;
	snprintf(err, errlen, "%s: unknown mode '%.32s' (expected %s or %s)", d->key, v, a, b);
	return -1;
}

static int check_header(const struct cfg_def *d, const char *v, char *err, size_t errlen)
{
	bool ok = *v && strlen(v) <= d->max;

	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_';
	if (!ok) {
		snprintf(err, errlen, "%s: '%.64s' is not a valid header name", d->key, v);
		return -1;
	}
	return 0;
}

/* libcurl's CURLOPT_PINNEDPUBLICKEY: sha256//<base64>[;sha256//<base64>...] */
static int check_pins(const struct cfg_def *d, const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p;) {
		const char *e = strchr(p, ';');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l < 9 || strncmp(p, "sha256//", 8)) {
			snprintf(err, errlen, "%s: each pin must be sha256//<base64>", d->key);
			return -1;
		}
		for (size_t i = 8; i < l; i++)
			if (!isalnum((unsigned char)p[i]) && !strchr("+/=", p[i])) {
				snprintf(err, errlen, "%s: pin is not base64", d->key);
				return -1;
			}
		p += l + (e ? 1 : 0);
	}
	return 0;
}

static int check_value(enum cfg_id id, const char *v, char *err, size_t errlen)
{
	const struct cfg_def *d = &cfg_defs[id];
	uint64_t n;
	bool b;
	enum log_level lvl;

	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "%s: control character in the value", d->key);
			return -1;
		}
	switch (d->type) {
	case CT_STR:
		if (d->max && strlen(v) > d->max) {
			snprintf(err, errlen, "%s: longer than %u characters", d->key, d->max);
			return -1;
		}
		return 0;
	case CT_PATH:
		if (*v && v[0] != '/') {
			/* never echo what was given for the key file: it may be the key itself */
			if (id == CFG_ENROLLMENT_KEY_FILE)
				snprintf(err, errlen, "%s: not an absolute path", d->key);
			else
				snprintf(err, errlen, "%s: '%.100s' is not an absolute path", d->key, v);
			return -1;
		}
		return 0;
	case CT_URL:
		return 0; /* checked with allow_insecure_http once everything is known */
	case CT_UINT:
		if (parse_u64(v, d->min, d->max, &n) < 0) {
			snprintf(err, errlen, "%s: '%.32s' is not a whole number from %u to %u", d->key, v,
				 d->min, d->max);
			return -1;
		}
		return 0;
	case CT_BOOL:
		if (parse_bool(v, &b) < 0) {
			snprintf(err, errlen, "%s: '%.32s' is not yes or no", d->key, v);
			return -1;
		}
		return 0;
	case CT_LOG:
		if (log_parse_level(v, &lvl) < 0) {
			snprintf(err, errlen,
				 "%s: unknown level '%.32s' (expected error, warning, notice, info, "
				 "debug)",
				 d->key, v);
			return -1;
		}
		return 0;
	case CT_KEYING:
		return check_mode(d, v, "exact", "flow", err, errlen);
	case CT_NAMESPACES:
		return check_mode(d, v, "host", "all", err, errlen);
	case CT_HEADER:
		return check_header(d, v, err, errlen);
	case CT_PINS:
		return check_pins(d, v, err, errlen);
	}
	return 0;
}

static int set(struct config *c, enum cfg_id id, const char *v, const char *source, bool copy,
	       char *err, size_t errlen)
{
	if (check_value(id, v, err, errlen) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (%s)", source);
		return -1;
	}
	if (copy) {
		char *d = strdup(v);

		if (!d) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(c->owned[id]);
		c->owned[id] = d;
		v = d;
	}
	c->val[id] = v;
	snprintf(c->source[id], sizeof(c->source[id]), "%s", source);
	return 0;
}

static int key_lookup(const char *k, bool grapheon_only)
{
	for (int i = 0; i < CFG_N; i++) {
		if (grapheon_only) {
			if (cfg_defs[i].genv && !strcmp(k, cfg_defs[i].genv))
				return i;
			continue;
		}
		if (!strcmp(k, cfg_defs[i].env))
			return i;
	}
	return -1;
}

/* KEY=VALUE lines. grapheon: the Python agent's file, where only GRAPHEON_AGENT_* names count and
 * anything else is that program's business. */
static int load_file(struct config *c, const char *path, bool must_exist, bool grapheon,
		     char *err, size_t errlen)
{
	static char buf[CFG_MAX_FILE + 1];
	char *line, *cur, src[96];
	int lineno = 0, r;

	r = read_small_file(AT_FDCWD, path, buf, sizeof(buf));
	if (r == -ENOENT && !must_exist)
		return 0;
	/* The service runs as its own user; the default file stays root-only (0600) and systemd
	 * hands its values over through EnvironmentFile= (keys in NETINV_* spelling). */
	if (r == -EACCES && !must_exist && geteuid() != 0) {
		c->default_file_skipped = true;
		return 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return -1;
	}
	for (cur = buf; (line = next_line(&cur));) {
		char *k = trim(line), *v, *eq;
		size_t vl;
		int id;

		lineno++;
		if (!*k || *k == '#' || *k == ';')
			continue;
		if (!strncmp(k, "export ", 7))
			k += 7;
		eq = strchr(k, '=');
		if (!eq) {
			if (grapheon)
				continue;
			snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
			return -1;
		}
		*eq = 0;
		k = trim(k);
		v = trim(eq + 1);
		vl = strlen(v);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v[vl - 1] = 0;
			v++;
		}
		if (grapheon && !strcmp(k, "GRAPHEON_AGENT_ENROLLMENT_KEY")) {
			if (!c->enrollment_key && *v) {
				c->enrollment_key = strdup(v);
				snprintf(c->key_source, sizeof(c->key_source), "%s", path);
			}
			continue;
		}
		id = key_lookup(k, grapheon);
		if (id < 0 && !grapheon) {
			/* one spelling: what systemd's EnvironmentFile= hands the service is the
			 * NETINV_* name; a lowercase key would be read by a manual run and lost under
			 * the service */
			for (int i = 0; i < CFG_N; i++)
				if (!strcasecmp(k, cfg_defs[i].key) || !strcasecmp(k, cfg_defs[i].env)) {
					snprintf(err, errlen,
						 "%s:%d: '%.64s': spell it %s (the service reads only "
						 "NETINV_* names from this file)",
						 path, lineno, k, cfg_defs[i].env);
					return -1;
				}
		}
		if (id < 0) {
			if (grapheon || !strncmp(k, "GRAPHEON_AGENT_", 15) ||
			    !strcmp(k, "NETINV_ENROLLMENT_KEY") || !strncmp(k, "NETINV_EXEC", 11) ||
			    !strncmp(k, "exec_", 5))
				continue; /* another reader's setting */
			snprintf(err, errlen, "%s:%d: unknown setting '%.64s'", path, lineno, k);
			return -1;
		}
		snprintf(src, sizeof(src), "%.80s:%d", path, lineno);
		if (set(c, (enum cfg_id)id, v, src, true, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static unsigned cfg_uint(const struct config *c, enum cfg_id id);
static bool cfg_bool(const struct config *c, enum cfg_id id);

/* The typed settings, once every source was read (values were checked as they were set). */
static void resolve(struct config *c)
{
	struct settings *s = &c->set;

	s->state_dir = cfg_str(c, CFG_STATE_DIR);
	s->server_url = cfg_str(c, CFG_SERVER_URL);
	s->enrollment_key_file = cfg_str(c, CFG_ENROLLMENT_KEY_FILE);
	s->display_name = cfg_str(c, CFG_DISPLAY_NAME);
	s->site_name = cfg_str(c, CFG_SITE_NAME);
	s->hostname = cfg_str(c, CFG_HOSTNAME);
	s->ca_file = cfg_str(c, CFG_CA_FILE);
	s->pin_pubkey = cfg_str(c, CFG_PIN_PUBKEY);
	s->api_key_header = cfg_str(c, CFG_API_KEY_HEADER);
	s->log_level = cfg_str(c, CFG_LOG_LEVEL);
	s->proxy = cfg_str(c, CFG_PROXY);
	s->import_from = cfg_str(c, CFG_IMPORT_FROM);
	s->iproute2_dir = cfg_str(c, CFG_IPROUTE2_DIR);
	s->netns_dir = cfg_str(c, CFG_NETNS_DIR);
	s->container_root = cfg_str(c, CFG_CONTAINER_ROOT);
	s->metrics_file = cfg_str(c, CFG_METRICS_FILE);
	s->all_namespaces = !strcmp(cfg_str(c, CFG_NAMESPACES), "all");
	s->timeout = cfg_uint(c, CFG_TIMEOUT);
	s->connect_timeout = cfg_uint(c, CFG_CONNECT_TIMEOUT);
	s->allow_insecure_http = cfg_bool(c, CFG_ALLOW_INSECURE_HTTP);
	s->include_time_wait = cfg_bool(c, CFG_INCLUDE_TIME_WAIT);
	s->all_neighbors = cfg_bool(c, CFG_ALL_NEIGHBORS);
	s->flow_keying = !strcmp(cfg_str(c, CFG_CONNECTION_KEYING), "flow");
}

int config_load(struct config *c, const char *config_path, const char *const flags[CFG_N],
		char *err, size_t errlen)
{
	const char *gk;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < CFG_N; i++) {
		c->val[i] = cfg_defs[i].def;
		snprintf(c->source[i], sizeof(c->source[i]), "default");
	}
	/* lowest first: each later source overrides */
	if (load_file(c, config_grapheon_env_file, false, true, err, errlen) < 0)
		return -1;
	for (int i = 0; i < CFG_N; i++) {
		const char *v = cfg_defs[i].genv ? getenv(cfg_defs[i].genv) : NULL;
		char src[96];

		snprintf(src, sizeof(src), "environment %s", cfg_defs[i].genv ? cfg_defs[i].genv : "");
		if (v && set(c, (enum cfg_id)i, v, src, false, err, errlen) < 0)
			return -1;
	}
	if (load_file(c, config_path ? config_path : CONFIG_FILE_DEFAULT, config_path != NULL, false,
		      err, errlen) < 0)
		return -1;
	for (int i = 0; i < CFG_N; i++) {
		const char *v = getenv(cfg_defs[i].env);
		char src[96];

		snprintf(src, sizeof(src), "environment %s", cfg_defs[i].env);
		if (v && set(c, (enum cfg_id)i, v, src, false, err, errlen) < 0)
			return -1;
	}
	for (int i = 0; i < CFG_N; i++) {
		char src[96];

		snprintf(src, sizeof(src), "flag %s", cfg_defs[i].flag ? cfg_defs[i].flag : "");
		if (flags && flags[i] && set(c, (enum cfg_id)i, flags[i], src, false, err, errlen) < 0)
			return -1;
	}
	if (*cfg_str(c, CFG_SERVER_URL) &&
	    config_check_url(cfg_str(c, CFG_SERVER_URL), cfg_bool(c, CFG_ALLOW_INSECURE_HTTP), err,
			     errlen) < 0)
		return -1;
	resolve(c);
	gk = getenv("GRAPHEON_AGENT_ENROLLMENT_KEY");
	if (gk && *gk) {
		free(c->enrollment_key);
		c->enrollment_key = strdup(gk);
		snprintf(c->key_source, sizeof(c->key_source), "environment GRAPHEON_AGENT_ENROLLMENT_KEY");
	}
	return 0;
}

void config_free(struct config *c)
{
	for (int i = 0; i < CFG_N; i++)
		free(c->owned[i]);
	if (c->enrollment_key) {
		explicit_bzero(c->enrollment_key, strlen(c->enrollment_key));
		free(c->enrollment_key);
	}
	memset(c, 0, sizeof(*c));
}

const char *cfg_str(const struct config *c, enum cfg_id id)
{
	return c->val[id] ? c->val[id] : "";
}

static unsigned cfg_uint(const struct config *c, enum cfg_id id)
{
	uint64_t v = 0;

	parse_u64(cfg_str(c, id), 0, UINT32_MAX, &v);
	return (unsigned)v;
}

static bool cfg_bool(const struct config *c, enum cfg_id id)
{
	bool b = false;

	parse_bool(cfg_str(c, id), &b);
	return b;
}

/* Enrollment keys look like gaek_ + 43 URL-safe base64 characters; accept any printable token so a
 * server with another format still works, but refuse what cannot be a header value. */
static int clean_key(char *k, char *err, size_t errlen, const char *where)
{
	size_t n = strcspn(k, "\r\n");

	k[n] = 0;
	while (n && (k[n - 1] == ' ' || k[n - 1] == '\t'))
		k[--n] = 0;
	if (!n || n > 256) {
		snprintf(err, errlen, "the enrollment key in %s is %s", where, n ? "too long" : "empty");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f) {
			snprintf(err, errlen, "the enrollment key in %s has a character that is not printable ASCII",
				 where);
			return -1;
		}
	return 0;
}

const char *config_enrollment_key(struct config *c, char *err, size_t errlen)
{
	const char *file = cfg_str(c, CFG_ENROLLMENT_KEY_FILE), *cred = getenv("CREDENTIALS_DIRECTORY");
	char buf[512], path[4200];
	int r;

	if (c->key_loaded)
		return c->enrollment_key; /* read before netinv left root (state_adopt_owner) */
	/* The credential first: under netinv.service it is how the key arrives, and the unit hides the
	 * key file itself from the service (InaccessiblePaths=), which the shipped netinv.conf names
	 * for manual runs. */
	if (cred && *cred && (snprintf(path, sizeof(path), "%s/enrollment_key", cred),
			      read_small_file(AT_FDCWD, path, buf, sizeof(buf)) == 0)) {
		snprintf(c->key_source, sizeof(c->key_source), "systemd credential enrollment_key");
	} else if (*file) {
		r = read_small_file(AT_FDCWD, file, buf, sizeof(buf));
		if (r < 0) {
			snprintf(err, errlen, "cannot read the enrollment key file %s: %s", file,
				 strerror(-r));
			return NULL;
		}
		snprintf(c->key_source, sizeof(c->key_source), "%s", file);
	} else if (c->enrollment_key) {
		snprintf(buf, sizeof(buf), "%s", c->enrollment_key);
	} else {
		snprintf(err, errlen,
			 "no enrollment key: set enrollment_key_file (or the systemd credential "
			 "enrollment_key)");
		return NULL;
	}
	if (clean_key(buf, err, errlen, c->key_source) < 0)
		return NULL;
	free(c->enrollment_key);
	c->enrollment_key = strdup(buf);
	c->key_loaded = c->enrollment_key != NULL;
	explicit_bzero(buf, sizeof(buf));
	return c->enrollment_key;
}

void config_print(const struct config *c, FILE *f)
{
	if (c->default_file_skipped)
		fprintf(f, "# %s is not readable by this user: its values count only as far as they "
			   "arrive in the environment (systemd EnvironmentFile=)\n",
			CONFIG_FILE_DEFAULT);
	for (int i = 0; i < CFG_N; i++) {
		const char *v = cfg_str(c, (enum cfg_id)i), *at = strrchr(v, '@'), *sch = strstr(v, "://");
		char shown[600];

		/* a proxy's credentials are a secret too */
		if (i == CFG_PROXY && at && (!sch || at > sch))
			snprintf(shown, sizeof(shown), "%.*s<redacted>%s", sch ? (int)(sch + 3 - v) : 0, v,
				 at);
		else
			snprintf(shown, sizeof(shown), "%s", v);
		fprintf(f, "%-20s = %-40s # %s\n", cfg_defs[i].key, shown, c->source[i]);
	}
	fprintf(f, "%-20s = %-40s # %s\n", "enrollment_key",
		c->enrollment_key ? "<redacted>" : "(not loaded)",
		c->enrollment_key ? c->key_source : "read from enrollment_key_file when registering");
}
