/* vmprobe PID: what a process in netinv.service's sandbox can do to another process's memory.
 * Prints one line per attempt, "NAME=OK" or "NAME=<errno name>":
 *   readv   process_vm_readv of 8 bytes at the start of PID's first readable mapping
 *   writev  process_vm_writev of 1 byte at address 0 (EFAULT: the call was allowed; EPERM: not)
 *   kcmp    kcmp(PID, self, KCMP_VM): compare kernel objects
 *   mem     open(/proc/PID/mem)
 * Test-only: tests/integration/test_systemd_boot.sh runs it under the installed unit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *res(long r)
{
	return r >= 0 ? "OK" : strerrorname_np(errno);
}

int main(int argc, char **argv)
{
	char path[64], line[512], buf[8] = { 0 };
	unsigned long start = 0;
	struct iovec l = { buf, sizeof(buf) }, rm;
	FILE *f;
	pid_t pid;
	int fd;

	if (argc != 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: vmprobe PID\n");
		return 64;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char perm[8];

		if (sscanf(line, "%lx-%*x %7s", &start, perm) == 2 && perm[0] == 'r')
			break;
		start = 0;
	}
	if (f)
		fclose(f);
	rm = (struct iovec){ (void *)start, sizeof(buf) };
	printf("maps=%s\n", start ? "OK" : "unreadable");
	printf("readv=%s\n", res(process_vm_readv(pid, &l, 1, &rm, 1, 0)));
	rm = (struct iovec){ NULL, 1 };
	l.iov_len = 1;
	printf("writev=%s\n", res(process_vm_writev(pid, &l, 1, &rm, 1, 0)));
	printf("kcmp=%s\n", res(syscall(SYS_kcmp, pid, getpid(), KCMP_VM, 0, 0)));
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	printf("mem=%s\n", res(fd));
	if (fd >= 0)
		close(fd);
	return 0;
}
