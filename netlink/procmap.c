#include "procmap.h"
#include "../delta/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

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

/* The map's strings: offset 0 is the empty string; 0 is also the answer when memory runs out (a
 * missing name never costs a record). */
static uint32_t pm_str(struct procmap *pm, const char *p, size_t len)
{
	uint32_t off;

	if (!len)
		return 0;
	if (!pm->str) {
		pm->str = malloc(4096);
		if (!pm->str)
			return 0;
		pm->str_cap = 4096;
		pm->str[0] = 0;
		pm->str_len = 1;
	}
	if (pm->str_len + len + 1 > pm->str_cap) {
		uint32_t cap = pm->str_cap;
		char *n;

		while (pm->str_len + len + 1 > cap)
			cap *= 2;
		if (cap > (64u << 20) || !(n = realloc(pm->str, cap)))
			return 0;
		pm->str = n;
		pm->str_cap = cap;
	}
	off = pm->str_len;
	memcpy(pm->str + off, p, len);
	pm->str[off + len] = 0;
	pm->str_len += (uint32_t)len + 1;
	return off;
}

/* A process's comm, without the newline; 0 when it cannot be read (it exited). */
static uint32_t read_comm(struct procmap *pm, int procfd, const char *pidname)
{
	char path[32], comm[64];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/comm", pidname);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	if (comm[len - 1] == '\n')
		len--;
	return pm_str(pm, comm, (size_t)len);
}

/* The census: namespaces found by an open-addressing index on the inode. */
struct census {
	uint32_t *slot; /* namespace index + 1; 0 = empty */
	uint32_t mask;
	/* namespaces past the bound, each counted once: (dev, ino) pairs, open addressing, at
	 * most SKIP_MAX of them remembered (more are not counted) */
	uint64_t (*skip)[2];
	uint32_t skip_n;
};
#define SKIP_MAX 65536u

static uint32_t ns_hash(uint64_t dev, uint64_t ino)
{
	return (uint32_t)((ino ^ (dev << 17)) * 0x9e3779b97f4a7c15ull >> 32);
}

static int census_grow(struct census *c, const struct procmap *pm)
{
	uint32_t size = c->mask ? (c->mask + 1) * 2 : 64;
	uint32_t *slot = calloc(size, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (uint32_t i = 0; i < pm->nns; i++) {
		uint32_t h = ns_hash(pm->ns[i].dev, pm->ns[i].ino) & (size - 1);

		while (slot[h])
			h = (h + 1) & (size - 1);
		slot[h] = i + 1;
	}
	free(c->slot);
	c->slot = slot;
	c->mask = size - 1;
	return 0;
}

#define NO_NS UINT32_MAX

/* The index of namespace (dev, ino), added when new and room remains; NO_NS past max_netns
 * (counted) or out of memory. An index, not a pointer: the array moves as it grows. */
static uint32_t census_find(struct census *c, struct procmap *pm, uint64_t dev, uint64_t ino,
			    uint32_t max)
{
	uint32_t h;

	if (!c->slot && census_grow(c, pm) < 0)
		return NO_NS;
	h = ns_hash(dev, ino) & c->mask;
	while (c->slot[h]) {
		const struct procmap_netns *n = &pm->ns[c->slot[h] - 1];

		if (n->dev == dev && n->ino == ino)
			return c->slot[h] - 1;
		h = (h + 1) & c->mask;
	}
	if (pm->nns >= max) {
		if (!c->skip)
			c->skip = calloc(2 * SKIP_MAX, sizeof(*c->skip));
		if (c->skip && c->skip_n < SKIP_MAX) {
			uint32_t m = 2 * SKIP_MAX - 1, k = ns_hash(dev, ino) & m;

			/* (0, 0) marks an empty slot: no namespace has inode 0 */
			while (c->skip[k][1] && (c->skip[k][0] != dev || c->skip[k][1] != ino))
				k = (k + 1) & m;
			if (!c->skip[k][1]) {
				c->skip[k][0] = dev;
				c->skip[k][1] = ino;
				pm->ns_skipped = ++c->skip_n;
			}
		}
		return NO_NS;
	}
	if (pm->nns == pm->capns) {
		uint32_t cap = pm->capns ? pm->capns * 2 : 16;
		struct procmap_netns *n = realloc(pm->ns, (size_t)cap * sizeof(*n));

		if (!n)
			return NO_NS;
		pm->ns = n;
		pm->capns = cap;
	}
	memset(&pm->ns[pm->nns], 0, sizeof(pm->ns[0]));
	pm->ns[pm->nns].dev = dev;
	pm->ns[pm->nns].ino = ino;
	c->slot[h] = ++pm->nns;
	if (pm->nns * 2 > c->mask + 1 && census_grow(c, pm) < 0)
		return NO_NS;
	return pm->nns - 1;
}

static void census_note(struct procmap *pm, struct procmap_netns *n, uint32_t pid, int procfd,
			const char *pidname, bool names)
{
	uint32_t comm;

	/* the lowest pids, ascending (/proc lists them so; a tree of a test's own may not) */
	for (int i = 0; i < PROCMAP_NS_PIDS; i++) {
		if (n->pid[i] && n->pid[i] < pid)
			continue;
		if (n->pid[i])
			memmove(&n->pid[i + 1], &n->pid[i],
				(PROCMAP_NS_PIDS - 1 - i) * sizeof(n->pid[0]));
		n->pid[i] = pid;
		break;
	}
	n->nproc++;
	if (!names || n->ncomm >= PROCMAP_NS_COMMS)
		return;
	comm = read_comm(pm, procfd, pidname);
	if (!comm)
		return;
	for (uint8_t i = 0; i < n->ncomm; i++) {
		if (!strcmp(pm->str + n->comm[i], pm->str + comm)) {
			pm->str_len = comm; /* a name already kept: take the copy back */
			return;
		}
	}
	n->comm[n->ncomm++] = comm;
}

static int sock_push(struct procmap *pm, uint32_t inode, uint32_t pid)
{
	if (pm->nsock == pm->capsock) {
		uint32_t cap = pm->capsock ? pm->capsock * 2 : 1024;
		struct procmap_sock *n = realloc(pm->sock, (size_t)cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		pm->sock = n;
		pm->capsock = cap;
	}
	pm->sock[pm->nsock++] = (struct procmap_sock){ .inode = inode, .pid = pid };
	return 0;
}

/* One process's descriptors: its socket inodes join the map. Returns how many it holds, or -1
 * when the table was refused. */
static long walk_fds(struct procmap *pm, int procfd, const char *pidname, uint32_t pid,
		     struct procmap_stats *st, char *fdbuf, size_t fdbuf_len)
{
	char path[32];
	long n2, got = 0;
	int fdfd;

	snprintf(path, sizeof(path), "%s/fd", pidname);
	fdfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdfd < 0)
		/* ENOENT: the process exited meanwhile; that is not a refusal. */
		return errno == EACCES || errno == EPERM ? -1 : 0;
	while ((n2 = syscall(SYS_getdents64, fdfd, fdbuf, fdbuf_len)) > 0) {
		for (long fpos = 0; fpos < n2;) {
			struct linux_dirent64 *f = (void *)(fdbuf + fpos);
			char link[64];
			ssize_t ll;
			uint32_t ino;
			int ok;

			fpos += f->d_reclen;
			if (f->d_name[0] < '0' || f->d_name[0] > '9')
				continue;
			st->fds++;
			ll = readlinkat(fdfd, f->d_name, link, sizeof(link) - 1);
			/* Some sandboxes let the directory open but refuse every link in it: that
			 * process is unreadable, skip the rest. */
			if (ll < 0 && (errno == EACCES || errno == EPERM)) {
				close(fdfd);
				return -1;
			}
			/* "socket:[12345]" */
			if (ll < 10 || memcmp(link, "socket:[", 8) || link[ll - 1] != ']')
				continue;
			link[ll - 1] = 0;
			ino = parse_u32(link + 8, &ok);
			if (ok && sock_push(pm, ino, pid) == 0)
				got++;
		}
	}
	close(fdfd);
	return got;
}

static int cmp_sock(const void *a, const void *b)
{
	const struct procmap_sock *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Ascending by inode, the lowest pid kept for each. */
static void sock_finish(struct procmap *pm)
{
	uint32_t k = 0;

	if (pm->nsock > 1)
		qsort(pm->sock, pm->nsock, sizeof(*pm->sock), cmp_sock);
	for (uint32_t i = 0; i < pm->nsock; i++)
		if (!k || pm->sock[k - 1].inode != pm->sock[i].inode)
			pm->sock[k++] = pm->sock[i];
	pm->nsock = k;
}

int procmap_walk(struct procmap *pm, const char *proc_root, const struct procmap_limits *lim,
		 unsigned what, struct procmap_stats *st)
{
	struct census cen = { 0 };
	char dbuf[32768], fdbuf[32768];
	uint64_t t0 = snap_mono_us();
	bool sockets = what & PROCMAP_SOCKETS;
	int procfd, r = 0;
	long nread;

	memset(st, 0, sizeof(*st));
	st->status = sockets ? PROCMAP_OK : PROCMAP_DISABLED;
	if (sockets && (what & PROCMAP_CHECK_CAPS) && !procmap_permitted()) {
		st->status = PROCMAP_NOT_PERMITTED;
		sockets = false;
	}
	if (!sockets && !(what & PROCMAP_NETNS))
		return 0;
	procfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0) {
		if (sockets)
			st->status = PROCMAP_FAILED;
		goto out;
	}
	if (what & PROCMAP_NETNS) {
		struct stat sb;

		/* the walker's own namespace is ns[0], whoever else lives in it */
		if (fstatat(procfd, "self/ns/net", &sb, 0) < 0) {
			what &= ~PROCMAP_NETNS; /* no namespaces to tell apart */
		} else if (census_find(&cen, pm, sb.st_dev, sb.st_ino, UINT32_MAX) != 0) {
			r = -ENOMEM;
			goto done;
		}
	}
	while ((nread = syscall(SYS_getdents64, procfd, dbuf, sizeof(dbuf))) > 0) {
		for (long bpos = 0; bpos < nread;) {
			struct linux_dirent64 *d = (void *)(dbuf + bpos);
			uint32_t pid, before = pm->nsock;
			long got = 0;
			int ok;

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
			if (what & PROCMAP_NETNS) {
				char path[40];
				struct stat sb;

				snprintf(path, sizeof(path), "%s/ns/net", d->d_name);
				if (fstatat(procfd, path, &sb, 0) == 0) {
					uint32_t ns = census_find(&cen, pm, sb.st_dev, sb.st_ino,
								  lim->max_netns ? lim->max_netns : 4096);

					/* names only where they tell a namespace apart: not the host's */
					if (ns != NO_NS)
						census_note(pm, &pm->ns[ns], pid, procfd, d->d_name,
							    ns != 0);
				}
			}
			if (!sockets)
				continue;
			got = walk_fds(pm, procfd, d->d_name, pid, st, fdbuf, sizeof(fdbuf));
			if (got < 0) {
				st->unreadable++;
			} else if (got) {
				uint32_t comm = read_comm(pm, procfd, d->d_name);

				for (uint32_t i = before; i < pm->nsock; i++)
					pm->sock[i].comm = comm;
			}
		}
	}
done:
	close(procfd);
	if (sockets) {
		sock_finish(pm);
		if (st->status == PROCMAP_OK && st->unreadable)
			st->status = PROCMAP_PARTIAL;
	}
out:
	free(cen.slot);
	free(cen.skip);
	st->walk_us = (uint32_t)(snap_mono_us() - t0);
	return r;
}

void procmap_attribute(const struct procmap *pm, struct snapshot *s, struct procmap_stats *st)
{
	struct snap_sock *k = s->t[SNAP_SOCKS].v;

	for (uint32_t i = 0; i < s->t[SNAP_SOCKS].n; i++) {
		uint32_t lo = 0, hi = pm->nsock;

		/* TIME_WAIT and request sockets have no inode: nothing owns them. */
		if (!k[i].inode)
			continue;
		st->wanted++;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (pm->sock[mid].inode < k[i].inode)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < pm->nsock && pm->sock[lo].inode == k[i].inode) {
			const char *c = procmap_str(pm, pm->sock[lo].comm);

			k[i].pid = pm->sock[lo].pid;
			k[i].comm = *c ? snap_str(s, c, strlen(c)) : 0;
			st->attributed++;
		}
	}
}

void procmap_free(struct procmap *pm)
{
	free(pm->sock);
	free(pm->ns);
	free(pm->str);
	memset(pm, 0, sizeof(*pm));
}
