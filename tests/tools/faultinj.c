/*
 * faultinj: LD_PRELOAD fault injection for netinv's state writes. NETINV_FAULT="OP:N:ACTION" acts
 * on the N-th OP (1-based) touching NETINV_FAULT_DIR:
 *   OP     create (openat with O_CREAT), write, fsync (a file), fsyncdir, rename, mmap (a file)
 *   ACTION kill (SIGKILL before the call), killafter (SIGKILL after it succeeded),
 *          eio, enospc (the call fails with that errno),
 *          truncate (mmap only: the file is cut to nothing once mapped, as another process could)
 * Test-only; never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char op[16], action[16], dir[4096];
static long nth, seen[6];
static int ready = -1;

static void init(void)
{
	const char *f = getenv("NETINV_FAULT"), *d = getenv("NETINV_FAULT_DIR");

	ready = 0;
	if (!f || !d || !realpath(d, dir))
		return;
	if (sscanf(f, "%15[^:]:%ld:%15s", op, &nth, action) == 3)
		ready = 1;
}

static int under_dir_fd(int fd)
{
	char p[64], t[4096];
	ssize_t n;

	if (ready < 0)
		init();
	if (!ready)
		return 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0)
		return 0;
	t[n] = 0;
	return !strncmp(t, dir, strlen(dir));
}

/* 0: go on; 1: fail with *err; kills when asked to. after: called again once the op succeeded. */
static int hit(const char *what, int idx, int *err)
{
	if (ready < 0)
		init();
	if (!ready || strcmp(what, op))
		return 0;
	if (++seen[idx] != nth)
		return 0;
	if (!strcmp(action, "kill"))
		raise(SIGKILL);
	if (!strcmp(action, "eio")) {
		*err = EIO;
		return 1;
	}
	if (!strcmp(action, "enospc")) {
		*err = ENOSPC;
		return 1;
	}
	if (!strcmp(action, "truncate"))
		return 3;
	return 2; /* killafter */
}

int openat(int dfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	mode_t mode = 0;
	int r, e = 0, h = 0;

	if (!real)
		real = dlsym(RTLD_NEXT, "openat");
	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
		if (dfd >= 0 && under_dir_fd(dfd) && path[0] == '.')
			h = hit("create", 0, &e);
	}
	if (h == 1) {
		errno = e;
		return -1;
	}
	r = real(dfd, path, flags, mode);
	if (h == 2 && r >= 0)
		raise(SIGKILL);
	return r;
}

ssize_t write(int fd, const void *b, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	int e = 0, h = 0;
	ssize_t r;

	if (!real)
		real = dlsym(RTLD_NEXT, "write");
	if (fd > 2 && under_dir_fd(fd))
		h = hit("write", 1, &e);
	if (h == 1) {
		errno = e;
		return -1;
	}
	r = real(fd, b, n);
	if (h == 2 && r >= 0)
		raise(SIGKILL);
	return r;
}

int fsync(int fd)
{
	static int (*real)(int);
	struct stat st;
	int e = 0, h = 0, r;

	if (!real)
		real = dlsym(RTLD_NEXT, "fsync");
	if (under_dir_fd(fd) && fstat(fd, &st) == 0)
		h = S_ISDIR(st.st_mode) ? hit("fsyncdir", 2, &e) : hit("fsync", 3, &e);
	if (h == 1) {
		errno = e;
		return -1;
	}
	r = real(fd);
	if (h == 2 && r == 0)
		raise(SIGKILL);
	return r;
}

int renameat(int ofd, const char *o, int nfd, const char *n)
{
	static int (*real)(int, const char *, int, const char *);
	int e = 0, h = 0, r;

	if (!real)
		real = dlsym(RTLD_NEXT, "renameat");
	if (under_dir_fd(nfd))
		h = hit("rename", 4, &e);
	if (h == 1) {
		errno = e;
		return -1;
	}
	r = real(ofd, o, nfd, n);
	if (h == 2 && r == 0)
		raise(SIGKILL);
	return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	int e = 0, h = 0;
	void *r;

	if (!real)
		real = dlsym(RTLD_NEXT, "mmap");
	if (fd > 2 && under_dir_fd(fd))
		h = hit("mmap", 5, &e);
	if (h == 1) {
		errno = e;
		return MAP_FAILED;
	}
	r = real(addr, len, prot, flags, fd, off);
	if (h == 2 && r != MAP_FAILED)
		raise(SIGKILL);
	if (h == 3 && r != MAP_FAILED) {
		/* the descriptor is read-only: cut the file by its name, as another process would */
		char p[64], t[4096];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, t, sizeof(t) - 1);
		if (n < 0)
			abort();
		t[n] = 0;
		if (truncate(t, 0) != 0)
			abort();
	}
	return r;
}
