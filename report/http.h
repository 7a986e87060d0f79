/*
 * http: the one libcurl easy handle of a run. https only (plain http to loopback, or with
 * allow_insecure_http), no redirects, peer and host verification on, TLS >= 1.2, optional CA file
 * and pinned public keys, connect / total / low-speed timeouts, proxy from the configuration or
 * the environment. Reply bodies are capped at HTTP_MAX_BODY in the write callback (the transfer is
 * aborted past it, never buffered); Retry-After is captured. curl's debug output, when asked for,
 * never shows the agent key or the enrollment key.
 */
#ifndef NETINV_HTTP_H
#define NETINV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_BODY 65536

struct http_opts {
	const char *ca_file;    /* "" = system store */
	const char *pin_pubkey; /* "" = none */
	const char *proxy;      /* "" = environment */
	unsigned connect_timeout, total_timeout;
	bool verbose;           /* curl's trace to stderr, secrets redacted */
	const char *secret;     /* redacted from the trace */
};

struct http_resp {
	long status;            /* 0 when no HTTP reply arrived */
	int curl_code;          /* CURLE_* */
	char error[256];        /* curl's words for a transport failure */
	bool too_large;         /* the body passed HTTP_MAX_BODY */
	long retry_after;       /* seconds, -1 = none */
	char peer_ip[46];       /* the address curl connected to (CURLINFO_PRIMARY_IP), "" = none */
	long peer_port;
	char body[HTTP_MAX_BODY + 1];
	size_t len;
};

struct http;

/* Loads libcurl on first use; NULL with a reason when it cannot be loaded or initialised. */
struct http *http_new(const struct http_opts *o, char *err, size_t errlen);
const char *http_curl_version(void);
void http_free(struct http *h);
/* POST body (len bytes) with these extra header lines. 0 when an HTTP reply arrived (any status),
 * -1 for a transport failure (r->curl_code, r->error). */
int http_post(struct http *h, const char *url, const char *const *headers, const void *body,
	      size_t len, struct http_resp *r);

#endif
