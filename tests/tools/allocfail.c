/*
 * allocfail: allocation-failure injection for netinv's own code, linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup (build-alloc/netinv, ASan + UBSan:
 * __real_malloc is ASan's, so leaks and bad frees are still caught). NETINV_ALLOC_FAIL=N makes the
 * N-th allocation netinv's objects make (1-based) fail with ENOMEM, once; NETINV_ALLOC_COUNT=FILE
 * writes how many there were at exit. The libraries' own allocations (libcurl, libnl, cJSON) are
 * not counted. Test-only; never installed.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static unsigned long count, fail_at;
static int inited;

static void report(void)
{
	const char *f = getenv("NETINV_ALLOC_COUNT");
	FILE *o;

	if (f && (o = fopen(f, "w"))) {
		fprintf(o, "%lu\n", count);
		fclose(o);
	}
}

static int fail_now(void)
{
	if (!inited) {
		const char *s = getenv("NETINV_ALLOC_FAIL");

		inited = 1;
		fail_at = s ? strtoul(s, NULL, 10) : 0;
		atexit(report);
	}
	if (++count == fail_at) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}
