#include "procmap.h"
#include "../delta/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

struct ino_map {
	uint32_t *slot; /* socket index + 1; 0 = empty */
	uint32_t mask;
};

static uint32_t ino_hash(uint32_t ino)
{
	return ino * 2654435761u;
}

static int map_build(struct ino_map *m, const struct snapshot *s, uint32_t *wanted)
{
	const struct snap_sock *k = s->t[SNAP_SOCKS].v;
	uint32_t n = s->t[SNAP_SOCKS].n, size = 16;

	while (size < n * 2u && size < (1u << 30))
		size <<= 1;
	m->slot = calloc(size, sizeof(*m->slot));
	if (!m->slot)
		return -ENOMEM;
	m->mask = size - 1;
	*wanted = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h;

		/* TIME_WAIT and request sockets have no inode: nothing owns them. */
		if (!k[i].inode)
			continue;
		h = ino_hash(k[i].inode) & m->mask;
		while (m->slot[h])
			h = (h + 1) & m->mask;
		m->slot[h] = i + 1;
		(*wanted)++;
	}
	return 0;
}

/* Calls back for every socket with this inode (there is normally exactly one). */
static uint32_t map_claim(struct ino_map *m, struct snap_sock *k, uint32_t ino, uint32_t pid,
			  uint32_t *claimed, uint32_t nclaimed_max, uint32_t *nclaimed)
{
	uint32_t h = ino_hash(ino) & m->mask, got = 0;

	while (m->slot[h]) {
		struct snap_sock *x = &k[m->slot[h] - 1];

		if (x->inode == ino && !x->pid) {
			x->pid = pid;
			if (*nclaimed < nclaimed_max)
				claimed[(*nclaimed)++] = m->slot[h] - 1;
			got++;
		}
		h = (h + 1) & m->mask;
	}
	return got;
}

int procmap_permitted(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return 0;
	return !!(data[CAP_SYS_PTRACE / 32].effective & (1u << (CAP_SYS_PTRACE % 32)));
}

static uint32_t parse_u32(const char *p, int *ok)
{
	uint64_t v = 0;

	*ok = 0;
	if (!*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	*ok = 1;
	return (uint32_t)v;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#define CLAIM_MAX 4096

static void set_comm(struct snapshot *s, int procfd, const char *pidname, const uint32_t *claimed,
		     uint32_t n)
{
	struct snap_sock *k = s->t[SNAP_SOCKS].v;
	char path[32], comm[64];
	uint32_t off = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/comm", pidname);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	len = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (len <= 0)
		return;
	if (comm[len - 1] == '\n')
		len--;
	off = snap_str(s, comm, (size_t)len);
	for (uint32_t i = 0; i < n; i++)
		k[claimed[i]].comm = off;
}

int procmap_attribute(struct snapshot *s, const char *proc_root, const struct procmap_limits *lim,
		      int check_caps, struct procmap_stats *st)
{
	struct snap_sock *k = s->t[SNAP_SOCKS].v;
	struct ino_map map = { 0 };
	uint32_t claimed[CLAIM_MAX];
	char dbuf[32768], fdbuf[32768];
	uint64_t t0 = snap_mono_us();
	int procfd, r = 0;
	long nread;

	memset(st, 0, sizeof(*st));
	if (check_caps && !procmap_permitted()) {
		st->status = PROCMAP_NOT_PERMITTED;
		return 0;
	}
	r = map_build(&map, s, &st->wanted);
	if (r < 0)
		return r;
	st->status = PROCMAP_OK;
	if (!st->wanted)
		goto out;
	procfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0) {
		st->status = PROCMAP_FAILED;
		goto out;
	}
	while ((nread = syscall(SYS_getdents64, procfd, dbuf, sizeof(dbuf))) > 0) {
		for (long bpos = 0; bpos < nread;) {
			struct linux_dirent64 *d = (void *)(dbuf + bpos);
			uint32_t pid, nclaimed = 0;
			int ok, fdfd;
			long n2;

			bpos += d->d_reclen;
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			pid = parse_u32(d->d_name, &ok);
			if (!ok)
				continue;
			if (st->processes >= lim->max_procs || st->fds >= lim->max_fds) {
				st->status = PROCMAP_CAPPED;
				goto done;
			}
			st->processes++;
			{
				char path[32];

				snprintf(path, sizeof(path), "%s/fd", d->d_name);
				fdfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			}
			if (fdfd < 0) {
				/* ENOENT: the process exited meanwhile; that is not a refusal. */
				if (errno == EACCES || errno == EPERM)
					st->unreadable++;
				continue;
			}
			while ((n2 = syscall(SYS_getdents64, fdfd, fdbuf, sizeof(fdbuf))) > 0) {
				for (long fpos = 0; fpos < n2;) {
					struct linux_dirent64 *f = (void *)(fdbuf + fpos);
					char link[64];
					ssize_t ll;
					uint32_t ino;

					fpos += f->d_reclen;
					if (f->d_name[0] < '0' || f->d_name[0] > '9')
						continue;
					st->fds++;
					ll = readlinkat(fdfd, f->d_name, link, sizeof(link) - 1);
					/* Some sandboxes let the directory open but refuse every
					 * link in it: that process is unreadable, skip the rest. */
					if (ll < 0 && (errno == EACCES || errno == EPERM)) {
						st->unreadable++;
						goto next_proc;
					}
					/* "socket:[12345]" */
					if (ll < 10 || memcmp(link, "socket:[", 8) || link[ll - 1] != ']')
						continue;
					link[ll - 1] = 0;
					ino = parse_u32(link + 8, &ok);
					if (ok)
						st->attributed += map_claim(&map, k, ino, pid, claimed,
									    CLAIM_MAX, &nclaimed);
				}
			}
next_proc:
			close(fdfd);
			if (nclaimed)
				set_comm(s, procfd, d->d_name, claimed, nclaimed);
			if (st->attributed >= st->wanted)
				goto done;
		}
	}
done:
	close(procfd);
	if (st->status == PROCMAP_OK && st->unreadable)
		st->status = PROCMAP_PARTIAL;
out:
	free(map.slot);
	st->walk_us = (uint32_t)(snap_mono_us() - t0);
	return 0;
}
