/*
 * util: small helpers for collector/: strict bounded integer and yes/no parsers, line splitting and
 * trimming for KEY=VALUE files, bounded reads of small files, and giving up
 * the capabilities process attribution needed once it is done.
 */
#ifndef NETINV_UTIL_H
#define NETINV_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* yes/true/1/on or no/false/0/off: 0, else -1. */
int parse_bool(const char *v, bool *out);
/* Blanks stripped at both ends, in place; returns the new start. */
char *trim(char *s);
/* The next line of a NUL-terminated text, its newline replaced by NUL, advancing *cur; NULL at the
 * end. Empty lines come back too, so a caller's line numbers are right. */
char *next_line(char **cur);
/* Read fd to its end into buf (at most cap bytes), *len the bytes read: 0, -EFBIG when there is
 * more than cap, or -errno. */
int read_fd(int fd, char *buf, size_t cap, size_t *len);
/* Read at most cap-1 bytes of a regular file (no symlink at the last component, and never
 * blocking on a FIFO), NUL-terminate, strip one trailing newline. -errno on failure, -EINVAL when
 * it is not a regular file, -EFBIG when larger than cap-1. */
int read_small_file(int dirfd, const char *path, char *buf, size_t cap);
int valid_uuid(const char *s);
/* Give up CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for good: effective, permitted, inheritable,
 * ambient, and the bounding set where that is allowed (CAP_SETPCAP). They read every process's
 * memory and every file; nothing after the /proc walk needs them. 0 or -errno. */
int drop_attribution_caps(void);
/* Give up CAP_SYS_ADMIN the same way: it enters other network namespaces, and nothing after
 * their sockets are open needs it. 0 or -errno. */
int drop_admin_cap(void);
/* Append a one-line note to buf ("; " between notes; cut when full): how collector/ below the
 * run modes hands what it met, without failing, to the mode that logs it. */
void note_appendv(char *buf, size_t len, const char *fmt, va_list ap);

#endif
