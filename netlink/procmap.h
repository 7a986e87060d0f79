/*
 * procmap: process attribution for sockets. One bounded pass over /proc/<pid>/fd that maps socket
 * inodes to the first process (lowest pid) holding them, plus that process's comm. It only runs
 * when permitted (CAP_SYS_PTRACE in the effective set: reading another user's fd table needs
 * ptrace read access), only looks up inodes the socket dump produced, and stops as soon as every one
 * is attributed. When not permitted it does nothing and says so once in the stats; it never fails
 * the run.
 */
#ifndef NETINV_PROCMAP_H
#define NETINV_PROCMAP_H

#include <stdint.h>

#include "../delta/snapshot.h" /* struct procmap_stats: the report carries it */

struct procmap_limits {
	uint32_t max_procs;
	uint32_t max_fds;
};

/* proc_root is normally "/proc"; tests point it elsewhere. check_caps=0 skips the permission test. */
int procmap_attribute(struct snapshot *s, const char *proc_root, const struct procmap_limits *lim,
		      int check_caps, struct procmap_stats *st);
int procmap_permitted(void);

#endif
