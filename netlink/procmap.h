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

struct snapshot;

enum procmap_status {
	PROCMAP_DISABLED,      /* turned off by configuration */
	PROCMAP_OK,            /* every readable process was looked at */
	PROCMAP_PARTIAL,       /* some processes' fd tables could not be read */
	PROCMAP_NOT_PERMITTED, /* no CAP_SYS_PTRACE: not attempted */
	PROCMAP_CAPPED,        /* stopped at the process or descriptor limit */
	PROCMAP_FAILED,        /* /proc could not be opened */
};

struct procmap_limits {
	uint32_t max_procs;
	uint32_t max_fds;
};

struct procmap_stats {
	enum procmap_status status;
	uint32_t wanted;     /* sockets with an inode */
	uint32_t attributed; /* sockets given a pid */
	uint32_t processes;  /* process directories visited */
	uint32_t unreadable; /* fd tables we were refused */
	uint32_t fds;        /* descriptors examined */
	uint32_t walk_us;
};

extern const char *const procmap_status_names[];

/* proc_root is normally "/proc"; tests point it elsewhere. check_caps=0 skips the permission test. */
int procmap_attribute(struct snapshot *s, const char *proc_root, const struct procmap_limits *lim,
		      int check_caps, struct procmap_stats *st);
int procmap_permitted(void);

#endif
