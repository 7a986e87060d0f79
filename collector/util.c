#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

char *next_line(char **cur)
{
	char *line = *cur, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = 0;
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	return line;
}

int read_fd(int fd, char *buf, size_t cap, size_t *len)
{
	char probe;
	ssize_t n;

	*len = 0;
	for (;;) {
		n = *len < cap ? read(fd, buf + *len, cap - *len) : read(fd, &probe, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (*len == cap)
			return -EFBIG;
		*len += (size_t)n;
	}
}

int read_small_file(int dirfd, const char *path, char *buf, size_t cap)
{
	struct stat st;
	size_t n;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO under the name must not hang the run (the type is checked next) */
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	r = read_fd(fd, buf, cap - 1, &n);
	if (r < 0)
		goto out;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
out:
	close(fd);
	return r;
}

int valid_uuid(const char *s)
{
	static const char tmpl[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(tmpl) - 1)
		return 0;
	for (size_t i = 0; tmpl[i]; i++) {
		if (tmpl[i] == '-') {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

static int drop_caps(const int *caps, size_t n)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	/* lowering ambient, inheritable and permitted needs no privilege; the bounding set needs
	 * CAP_SETPCAP, which the service does not have (with NoNewPrivileges= and nothing
	 * permitted, nothing can be regained from it) */
	for (size_t i = 0; i < n; i++) {
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, caps[i], 0, 0) < 0 && errno != EINVAL)
			return -errno;
		if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) < 0 && errno != EPERM && errno != EINVAL)
			return -errno;
	}
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		uint32_t bit = 1u << (caps[i] & 31);

		data[caps[i] >> 5].effective &= ~bit;
		data[caps[i] >> 5].permitted &= ~bit;
		data[caps[i] >> 5].inheritable &= ~bit;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	/* what the kernel now holds, not what was asked */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		uint32_t bit = 1u << (caps[i] & 31);
		const struct __user_cap_data_struct *d = &data[caps[i] >> 5];

		if ((d->effective | d->permitted | d->inheritable) & bit)
			return -EPERM;
	}
	return 0;
}

int drop_attribution_caps(void)
{
	static const int caps[] = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };

	return drop_caps(caps, sizeof(caps) / sizeof(caps[0]));
}

int drop_admin_cap(void)
{
	static const int caps[] = { CAP_SYS_ADMIN };

	return drop_caps(caps, 1);
}

void note_appendv(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t n = strlen(buf);

	if (n && n + 2 < len) {
		memcpy(buf + n, "; ", 3);
		n += 2;
	}
	if (n + 1 < len)
		vsnprintf(buf + n, len - n, fmt, ap);
}
