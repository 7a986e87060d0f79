/*
 * config: every setting of netinv, from one table. Each has a config-file key (server_url), an
 * environment twin (NETINV_SERVER_URL), a flag (--server-url) and, where the Graphēon Python agent
 * had one, its name as a fallback (GRAPHEON_AGENT_SERVER_URL, also read from /etc/grapheon-agent.env).
 * Precedence, the same for every setting: flag > NETINV_* environment > netinv.conf >
 * GRAPHEON_AGENT_* environment > /etc/grapheon-agent.env > default. netinv.conf is KEY=VALUE lines
 * (keys in either spelling), so the same file also serves as a systemd EnvironmentFile=.
 * Secrets are never settings: the enrollment key comes from a file (enrollment_key_file), a systemd
 * credential ($CREDENTIALS_DIRECTORY/enrollment_key) or, for hosts moving from the Python agent,
 * GRAPHEON_AGENT_ENROLLMENT_KEY; never from the command line.
 */
#ifndef NETINV_CONFIG_H
#define NETINV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cfg_id {
	CFG_STATE_DIR,
	CFG_SERVER_URL,
	CFG_ENROLLMENT_KEY_FILE,
	CFG_DISPLAY_NAME,
	CFG_SITE_NAME,
	CFG_HOSTNAME,
	CFG_TIMEOUT,
	CFG_CONNECT_TIMEOUT,
	CFG_CA_FILE,
	CFG_PIN_PUBKEY,
	CFG_API_KEY_HEADER,
	CFG_LOG_LEVEL,
	CFG_PROXY,
	CFG_ALLOW_INSECURE_HTTP,
	CFG_CONNECTION_KEYING,
	CFG_INCLUDE_TIME_WAIT,
	CFG_ALL_NEIGHBORS,
	CFG_IPROUTE2_DIR,
	CFG_NAMESPACES,
	CFG_NETNS_DIR,
	CFG_CONTAINER_ROOT,
	CFG_METRICS_FILE,
	CFG_IMPORT_FROM,
	CFG_N
};

struct cfg_def {
	const char *key;  /* netinv.conf key */
	const char *env;  /* NETINV_* */
	const char *genv; /* GRAPHEON_AGENT_* fallback, or NULL */
	const char *flag; /* --flag, or NULL */
	int type;         /* enum cfg_type (config.c) */
	const char *def;
	unsigned min, max;
	const char *help;
};

extern const struct cfg_def cfg_defs[CFG_N];

/* Every setting, resolved once by config_load and typed: what the rest of netinv reads (nothing
 * below the run modes looks a setting up by name). Strings are "" when unset, never NULL. */
struct settings {
	const char *state_dir, *server_url, *enrollment_key_file, *display_name, *site_name;
	const char *hostname, *ca_file, *pin_pubkey, *api_key_header, *log_level, *proxy;
	const char *import_from;
	const char *iproute2_dir; /* route table, protocol and scope names */
	const char *netns_dir;      /* named network namespaces (/run/netns) */
	const char *container_root; /* prefix of the runtimes' state files ("/") */
	bool all_namespaces;        /* namespaces=all: every network namespace, not the host's only */
	const char *metrics_file;   /* node_exporter textfile, "" = none */
	unsigned timeout, connect_timeout; /* seconds */
	bool allow_insecure_http, include_time_wait;
	bool all_neighbors; /* also the kernel's NOARP entries (multicast, broadcast mappings) */
	bool flow_keying; /* connection_keying=flow */
};

struct config {
	struct settings set;      /* the effective settings, typed */
	const char *val[CFG_N];   /* effective values (never NULL after config_load) */
	char source[CFG_N][96];   /* where each came from, for --check-config */
	char *owned[CFG_N];       /* storage of values read from files */
	char *enrollment_key;     /* the secret itself, when one was found */
	bool default_file_skipped; /* netinv.conf exists but is root-only and we are not root */
	char key_source[160];
	bool key_loaded;          /* enrollment_key holds what config_enrollment_key read */
};

#define CONFIG_FILE_DEFAULT    "/etc/netinv/netinv.conf"
#define GRAPHEON_ENV_FILE      "/etc/grapheon-agent.env"
/* The Python agent's environment file; tests point it elsewhere. */
extern const char *config_grapheon_env_file;
#define CFG_MAX_FILE           65536

/* flags[i] is the value given on the command line for setting i, or NULL. config_path NULL means
 * the default file, which may be absent; a file named explicitly must exist. 0, or -1 with a
 * one-line reason in err. */
int config_load(struct config *c, const char *config_path, const char *const flags[CFG_N],
		char *err, size_t errlen);
void config_free(struct config *c);

/* One setting by id, as text ("" when unset): for --check-config and the tests. */
const char *cfg_str(const struct config *c, enum cfg_id id);
/* flag type: true for settings whose flag takes no value (booleans). */
bool cfg_flag_is_switch(enum cfg_id id);

/* The enrollment key, read now (files, credentials): NULL with a reason when there is none. */
const char *config_enrollment_key(struct config *c, char *err, size_t errlen);

/* Print the effective configuration with its sources; secrets redacted. */
void config_print(const struct config *c, FILE *f);

/* http(s) URL check shared with the HTTP layer: https, or http to a loopback address only when
 * allowed. 0 or -1 with a reason. */
int config_check_url(const char *url, bool allow_insecure, char *err, size_t errlen);

#endif
