/*
 * http: the one libcurl easy handle of a run. https only (plain http to loopback, or with
 * allow_insecure_http), no redirects, peer and host verification on, TLS >= 1.2, optional CA file
 * and pinned public keys, connect / total / low-speed timeouts, proxy from the configuration or
 * the environment. Reply bodies are never buffered here: each piece goes to the caller's sink as it
 * arrives, and the transfer is aborted once the body passes the caller's byte limit (memory and
 * time stay bounded whatever a server sends); Retry-After is captured. curl's debug output, when asked for,
 * never shows the agent key or the enrollment key.
 */
#ifndef NETINV_HTTP_H
#define NETINV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_SECRETS 4

struct http_opts {
	const char *ca_file;    /* "" = system store */
	const char *pin_pubkey; /* "" = none */
	const char *proxy;      /* "" = environment */
	unsigned connect_timeout, total_timeout;
	bool verbose;           /* curl's trace to stderr, secrets redacted */
	/* redacted from the trace: strings read at each trace line, so a buffer that receives a new
	 * key during the run (registration) is covered too; NULL or "" entries are skipped */
	const char *secrets[HTTP_MAX_SECRETS];
};

/* Where a reply body goes: write() takes each piece as it arrives (its return value is ignored:
 * a sink that has seen enough keeps counting, so the transfer still ends the HTTP way). */
struct http_sink {
	void (*write)(void *ctx, const char *p, size_t n);
	void *ctx;
	uint64_t max;           /* body bytes accepted; past it the transfer is aborted */
};

struct http_resp {
	long status;            /* 0 when no HTTP reply arrived */
	int curl_code;          /* CURLE_* */
	char error[256];        /* curl's words for a transport failure */
	/* A failure that only the configuration can fix (the server's certificate not trusted, the
	 * CA file unusable, a pin mismatch, a malformed URL, a proxy that wants credentials): what to
	 * fix, naming the setting ("server certificate not trusted (ca_file=...)"); "" otherwise. */
	char config[224];
	bool too_large;         /* the body passed the sink's max */
	bool sent_all;          /* the whole request body went out: the server may have acted on it */
	long retry_after;       /* seconds, -1 = none */
	char peer_ip[46];       /* the address curl connected to (CURLINFO_PRIMARY_IP), "" = none */
	long peer_port;
	uint64_t body_len;      /* body bytes received */
};

struct http;

/* Overwrite with '*' every occurrence of each secret in buf[0..n), and the token after any
 * "gpak_" or "gaek_", whatever header carries it. Over the whole buffer, before anything is cut
 * for printing, so a secret across a cut is not missed. Pure; exposed for tests. */
void http_redact(char *buf, size_t n, const char *const *secrets, unsigned nsecrets);

/* Loads libcurl on first use; NULL with a reason when it cannot be loaded or initialised. */
struct http *http_new(const struct http_opts *o, char *err, size_t errlen);
const char *http_curl_version(void);
void http_free(struct http *h);
/* POST body (len bytes) with these extra header lines; the reply body goes to sink. 0 when a whole
 * HTTP reply arrived (any status), -1 for a transport failure (r->curl_code, r->error). */
int http_post(struct http *h, const char *url, const char *const *headers, const void *body,
	      size_t len, const struct http_sink *sink, struct http_resp *r);

/* --check-config --connect: GET url and say how far it got. step is "resolve", "connect", "tls",
 * "request" (the step that failed) or "done" (an HTTP reply arrived: r->status). 0 when a reply
 * arrived, -1 otherwise (r->error, r->config). */
int http_probe(struct http *h, const char *url, struct http_resp *r, const char **step);

#endif
