#include "http.h"

#define CURL_DISABLE_TYPECHECK
#include <ctype.h>
#include <dlfcn.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcurl is loaded when a run first talks to the server: linking it pulls in some 30 more
 * libraries (TLS, LDAP, Kerberos, ...) whose loading costs every process, dry runs and skipped runs
 * included (measured for 0.5.0: a dry run of a small host 2.7 ms loaded on demand, 9.7 ms linked;
 * docs/PERFORMANCE.md). The package's dependency on it is versioned from the build's libcurl
 * (debian/rules), and SETOPT below checks each option's argument type at compile time, as curl's
 * own checks do for a linked curl_easy_setopt. */
static struct {
	void *so;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	const char *(*strerror)(CURLcode);
	char *(*version)(void);
} C;

static int load_curl(char *err, size_t errlen)
{
	static const char *const names[] = { "libcurl.so.4", "libcurl-gnutls.so.4", NULL };
	void *so = NULL;

	if (C.so)
		return 0;
	for (int i = 0; !so && names[i]; i++)
		so = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		snprintf(err, errlen, "cannot load libcurl (libcurl.so.4): %s", dlerror());
		return -1;
	}
#define SYM(f, n)                                                                                  \
	do {                                                                                       \
		*(void **)(&C.f) = dlsym(so, n);                                                   \
		if (!C.f) {                                                                        \
			snprintf(err, errlen, "libcurl lacks %s", n);                              \
			dlclose(so);                                                               \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(setopt, "curl_easy_setopt");
	SYM(perform, "curl_easy_perform");
	SYM(getinfo, "curl_easy_getinfo");
	SYM(cleanup, "curl_easy_cleanup");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(strerror, "curl_easy_strerror");
	SYM(version, "curl_version");
#undef SYM
	C.so = so;
	return 0;
}

/* An option's argument type is in its number (CURLOPTTYPE_*): a long below 10000, an object
 * pointer up to 19999, a callback up to 29999, a curl_off_t up to 39999. Passing an int where curl
 * reads a long, or a size_t where it reads a curl_off_t, fails to compile. */
#define OPT_KIND(o) ((int)(o) / 10000)
#define SETOPT(c, o, v)                                                                            \
	((void)sizeof(struct {                                                                     \
		 int unused_;                                                                      \
		 _Static_assert(OPT_KIND(o) != 0 || _Generic((v), long: 1, default: 0),            \
				#o " takes a long");                                               \
		 _Static_assert(OPT_KIND(o) != 3 || _Generic((v), curl_off_t: 1, default: 0),      \
				#o " takes a curl_off_t");                                         \
		 _Static_assert(OPT_KIND(o) != 2 ||                                                \
					_Generic((v), curl_write_callback: 1, curl_debug_callback: 1, \
						 default: 0),                                      \
				#o " takes a callback");                                           \
		 _Static_assert(OPT_KIND(o) != 1 || !_Generic((v), long: 1, int: 1, default: 0),   \
				#o " takes a pointer");                                            \
	 }),                                                                                       \
	 C.setopt((c), (o), (v)))

#ifdef NETINV_SETOPT_SELFTEST /* tests/integration/test_cli.sh: each must fail to compile */
void setopt_selftest(CURL *c);
void setopt_selftest(CURL *c)
{
#if NETINV_SETOPT_SELFTEST == 1
	SETOPT(c, CURLOPT_TIMEOUT, 5);                    /* an int, not a long */
#elif NETINV_SETOPT_SELFTEST == 2
	SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE, (size_t)5); /* not a curl_off_t */
#else
	SETOPT(c, CURLOPT_URL, 5L);                        /* not a pointer */
#endif
}
#endif

const char *http_curl_version(void)
{
	char err[256];

	return load_curl(err, sizeof(err)) < 0 ? "libcurl not available" : C.version();
}

struct http {
	CURL *c;
	struct http_opts o;
	/* passwords of the proxy URLs in play (the setting, the environment's), never traced */
	char proxy_pw[4][128];
	struct http_resp *r;
	const struct http_sink *sink;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;
	size_t len = size * n;

	if (h->r->body_len + len > h->sink->max) {
		h->r->too_large = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	h->r->body_len += len;
	if (h->sink->write)
		h->sink->write(h->sink->ctx, p, len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char v[32] = "";
		size_t l = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		char *e;
		long s;

		memcpy(v, p + 12, l);
		s = strtol(v, &e, 10);
		/* delta-seconds only; an HTTP-date is rare from API servers and treated as absent.
		 * Any length is kept: the caller caps what it honours, and says so. */
		if (e != v && s >= 0)
			h->r->retry_after = s;
	}
	return len;
}

void http_redact(char *buf, size_t n, const char *const *secrets, unsigned nsecrets)
{
	for (unsigned i = 0; i < nsecrets; i++) {
		size_t sl = secrets[i] ? strlen(secrets[i]) : 0;
		char *p = buf;

		while (sl && (p = memmem(p, n - (size_t)(p - buf), secrets[i], sl)) != NULL) {
			memset(p, '*', sl);
			p += sl;
		}
	}
	for (size_t i = 5; i <= n; i++) {
		if (buf[i - 1] != '_' || (memcmp(buf + i - 5, "gpak", 4) && memcmp(buf + i - 5, "gaek", 4)))
			continue;
		for (; i < n && (isalnum((unsigned char)buf[i]) || buf[i] == '-' || buf[i] == '_'); i++)
			buf[i] = '*';
	}
}

/* curl's trace, headers and informational lines (bodies are not traced), every secret redacted
 * over the whole piece before it is cut to one line. */
static int on_debug(CURL *c, curl_infotype t, char *data, size_t size, void *arg)
{
	struct http *h = arg;
	const char *tag = t == CURLINFO_TEXT ? "*" : t == CURLINFO_HEADER_OUT ? ">" :
			 t == CURLINFO_HEADER_IN ? "<" : NULL;
	size_t n = size < 65536 ? size : 65536, show;
	char *copy;

	(void)c;
	if (!tag || !(copy = malloc(n + 1)))
		return 0;
	memcpy(copy, data, n);
	copy[n] = 0;
	http_redact(copy, n, h->o.secrets, HTTP_MAX_SECRETS);
	{
		const char *pw[4] = { h->proxy_pw[0], h->proxy_pw[1], h->proxy_pw[2], h->proxy_pw[3] };

		http_redact(copy, n, pw, 4);
	}
	/* credentials sent to a proxy (or a server) in a header are never shown */
	if (t == CURLINFO_HEADER_OUT)
		for (char *p = copy; (p = strcasestr(p, "authorization:")); p += 14)
			for (char *q = p + 14; q < copy + n && *q != '\r' && *q != '\n'; q++)
				if (*q != ' ')
					*q = '*';
	show = n < 1023 ? n : 1023;
	copy[show] = 0;
	fprintf(stderr, "netinv: curl: %s %s", tag, copy);
	if (show && copy[show - 1] != '\n')
		fputc('\n', stderr);
	explicit_bzero(copy, n);
	free(copy);
	return 0;
}

struct http *http_new(const struct http_opts *o, char *err, size_t errlen)
{
	static int global;
	struct http *h;

	if (load_curl(err, errlen) < 0)
		return NULL;
	if (!global) {
		if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "cannot initialise libcurl");
			return NULL;
		}
		global = 1;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->c = C.easy_init())) {
		free(h);
		snprintf(err, errlen, "cannot initialise libcurl");
		return NULL;
	}
	h->o = *o;
	{
		const char *urls[4] = { o->proxy, getenv("https_proxy"), getenv("HTTPS_PROXY"),
					getenv("all_proxy") };

		for (int i = 0; i < 4; i++) {
			const char *u = urls[i], *s = u ? strstr(u, "://") : NULL, *at, *colon;

			s = s ? s + 3 : u;
			at = s ? strchr(s, '@') : NULL;
			colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
			if (colon && at - colon - 1 > 0 && (size_t)(at - colon - 1) < sizeof(h->proxy_pw[i]))
				memcpy(h->proxy_pw[i], colon + 1, (size_t)(at - colon - 1));
		}
	}
	SETOPT(h->c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h->c, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h->c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h->c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h->c, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h->c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h->c, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout);
	SETOPT(h->c, CURLOPT_TIMEOUT, (long)o->total_timeout);
	/* a server that stops sending mid-reply: under 64 bytes/s for 15 s aborts */
	SETOPT(h->c, CURLOPT_LOW_SPEED_LIMIT, 64L);
	SETOPT(h->c, CURLOPT_LOW_SPEED_TIME, 15L);
	if (o->ca_file && *o->ca_file)
		SETOPT(h->c, CURLOPT_CAINFO, o->ca_file);
	if (o->pin_pubkey && *o->pin_pubkey)
		SETOPT(h->c, CURLOPT_PINNEDPUBLICKEY, o->pin_pubkey);
	if (o->proxy && *o->proxy)
		SETOPT(h->c, CURLOPT_PROXY, o->proxy);
	SETOPT(h->c, CURLOPT_USERAGENT, "netinv/" NETINV_HTTP_VERSION);
	SETOPT(h->c, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h->c, CURLOPT_WRITEDATA, h);
	SETOPT(h->c, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h->c, CURLOPT_HEADERDATA, h);
	if (o->verbose) {
		SETOPT(h->c, CURLOPT_DEBUGFUNCTION, on_debug);
		SETOPT(h->c, CURLOPT_DEBUGDATA, h);
		SETOPT(h->c, CURLOPT_VERBOSE, 1L);
	}
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	C.cleanup(h->c);
	explicit_bzero(h->proxy_pw, sizeof(h->proxy_pw));
	free(h);
}

/* The proxy as a setting may be named in a log: scheme, host and port, never credentials. */
static void proxy_shown(const char *proxy, char *out, size_t len)
{
	const char *at = strrchr(proxy, '@'), *p = strstr(proxy, "://");

	if (at)
		snprintf(out, len, "%.*s%s", p ? (int)(p + 3 - proxy) : 0, proxy, at + 1);
	else
		snprintf(out, len, "%s", proxy);
}

/* Failures no retry can mend: name the setting that has to change. */
static void config_cause(struct http *h, CURLcode cc, struct http_resp *r)
{
	const char *ca = h->o.ca_file && *h->o.ca_file ? h->o.ca_file : NULL;
	long connect_code = 0;
	char px[160];

	r->config[0] = 0;
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		snprintf(r->config, sizeof(r->config), "the server URL cannot be used (server_url)");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		if (ca)
			snprintf(r->config, sizeof(r->config),
				 "server certificate not trusted (ca_file=%.150s)", ca);
		else
			snprintf(r->config, sizeof(r->config),
				 "server certificate not trusted by the system's CA store (set ca_file)");
		break;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(r->config, sizeof(r->config), "the CA file cannot be used (ca_file=%.150s)",
			 ca ? ca : "");
		break;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		snprintf(r->config, sizeof(r->config),
			 "the server's public key matches none of the pins (pin_pubkey)");
		break;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		snprintf(r->config, sizeof(r->config), "the TLS settings cannot be used");
		break;
	default:
		/* a proxy that answers CONNECT with 407: credentials are missing or wrong */
		if (C.getinfo(h->c, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
		    connect_code == 407) {
			proxy_shown(h->o.proxy && *h->o.proxy ? h->o.proxy : "the environment's", px,
				    sizeof(px));
			snprintf(r->config, sizeof(r->config),
				 "the proxy asks for credentials (proxy=%.150s)", px);
		}
	}
}

static bool tls_code(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return true;
	default:
		return false;
	}
}

int http_probe(struct http *h, const char *url, struct http_resp *r, const char **step)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct http_sink sink = { NULL, NULL, 1u << 20 };
	double connect_time = 0;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	h->r = r;
	h->sink = &sink;
	SETOPT(h->c, CURLOPT_URL, url);
	SETOPT(h->c, CURLOPT_HTTPGET, 1L);
	SETOPT(h->c, CURLOPT_ERRORBUFFER, ebuf);
	cc = C.perform(h->c);
	C.getinfo(h->c, CURLINFO_RESPONSE_CODE, &r->status);
	r->curl_code = (int)cc;
	if (cc == CURLE_OK) {
		*step = "done";
		return 0;
	}
	snprintf(r->error, sizeof(r->error), "%s", ebuf[0] ? ebuf : C.strerror(cc));
	config_cause(h, cc, r);
	C.getinfo(h->c, CURLINFO_CONNECT_TIME, &connect_time);
	if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
		*step = "resolve";
	else if (tls_code(cc))
		*step = "tls";
	else if (cc == CURLE_COULDNT_CONNECT || connect_time <= 0)
		*step = "connect";
	else
		*step = "request";
	return -1;
}

int http_post(struct http *h, const char *url, const char *const *headers, const void *body,
	      size_t len, const struct http_sink *sink, struct http_resp *r)
{
	struct curl_slist *hl = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_off_t up = 0;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	h->r = r;
	h->sink = sink;
	for (const char *const *p = headers; p && *p; p++)
		hl = C.slist_append(hl, *p);
	/* no "Expect: 100-continue" round trip for small bodies */
	hl = C.slist_append(hl, "Expect:");
	SETOPT(h->c, CURLOPT_URL, url);
	SETOPT(h->c, CURLOPT_HTTPHEADER, hl);
	SETOPT(h->c, CURLOPT_POSTFIELDS, body);
	SETOPT(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SETOPT(h->c, CURLOPT_ERRORBUFFER, ebuf);
	cc = C.perform(h->c);
	C.getinfo(h->c, CURLINFO_RESPONSE_CODE, &r->status);
	{
		char *ip = NULL;

		if (C.getinfo(h->c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
			snprintf(r->peer_ip, sizeof(r->peer_ip), "%s", ip);
		C.getinfo(h->c, CURLINFO_PRIMARY_PORT, &r->peer_port);
	}
	/* Sent to the connection is not received by the server, but a body that did not all go out
	 * cannot have been acted on (the server reads Content-Length bytes first). */
	if (C.getinfo(h->c, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up >= 0 && (size_t)up == len)
		r->sent_all = true;
	SETOPT(h->c, CURLOPT_HTTPHEADER, NULL);
	C.slist_free_all(hl);
	r->curl_code = (int)cc;
	if (cc != CURLE_OK) {
		if (r->too_large)
			snprintf(r->error, sizeof(r->error), "the reply was larger than %llu bytes",
				 (unsigned long long)sink->max);
		else if (cc == CURLE_OUT_OF_MEMORY)
			/* what curl says when one reply header line passes its 100 KiB limit */
			snprintf(r->error, sizeof(r->error),
				 "a reply header was larger than curl accepts (100 KiB), or memory ran out");
		else
			snprintf(r->error, sizeof(r->error), "%s", ebuf[0] ? ebuf : C.strerror(cc));
		config_cause(h, cc, r);
		return -1; /* a body cut short is not a reply to act on */
	}
	return 0;
}
