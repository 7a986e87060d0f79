/*
 * procmap: the one bounded pass over /proc that serves both process attribution and the census of
 * network namespaces. For every process it notes which network namespace it lives in
 * (/proc/PID/ns/net: device and inode, with its count of processes and the first few names), and,
 * when attribution is wanted and permitted (CAP_SYS_PTRACE in the effective set: reading another
 * user's fd table needs ptrace read access), every socket inode it holds with the first process
 * (lowest pid) holding it and that process's comm. The pass runs before any dump, while netinv still
 * holds the capabilities; procmap_attribute then gives each dumped socket its process, in the host's
 * snapshot and in every namespace's (socket inodes are unique host-wide). Not permitted: nothing is
 * recorded for sockets and the stats say so once; it never fails the run.
 */
#ifndef NETINV_PROCMAP_H
#define NETINV_PROCMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../delta/snapshot.h" /* struct procmap_stats: the report carries it */

struct procmap_limits {
	uint32_t max_procs;
	uint32_t max_fds;
	uint32_t max_netns; /* namespaces the census keeps; the rest are counted */
};

/* What the walk records. */
#define PROCMAP_SOCKETS 1u /* socket inodes, for attribution */
#define PROCMAP_NETNS   2u /* the census of network namespaces */
#define PROCMAP_CHECK_CAPS 4u /* record sockets only with CAP_SYS_PTRACE (off for test trees) */

#define PROCMAP_NS_PIDS  4 /* processes kept per namespace (to open it, and to name it) */
#define PROCMAP_NS_COMMS 8 /* distinct process names kept per namespace */

struct procmap_sock {
	uint32_t inode, pid, comm; /* comm: offset in the map's strings, 0 = unknown */
};

struct procmap_netns {
	uint64_t dev, ino;               /* the namespace's identity (st_dev, st_ino of ns/net) */
	uint32_t pid[PROCMAP_NS_PIDS];   /* the lowest pids in it, 0 = none */
	uint32_t comm[PROCMAP_NS_COMMS]; /* distinct names, offsets in the map's strings */
	uint32_t nproc;
	uint8_t ncomm;
};

struct procmap {
	struct procmap_sock *sock; /* after the walk: ascending by inode, one per inode */
	uint32_t nsock, capsock;
	struct procmap_netns *ns;  /* in order of discovery; ns[0] is the walker's own */
	uint32_t nns, capns;
	uint32_t ns_skipped;       /* namespaces past max_netns */
	char *str;                 /* offset 0 is the empty string */
	uint32_t str_len, str_cap;
};

/* proc_root is normally "/proc"; tests point it at a tree of their own. 0 or -ENOMEM; every other
 * problem is a status in st. pm is the caller's, zeroed or freed; procmap_free releases it. */
int procmap_walk(struct procmap *pm, const char *proc_root, const struct procmap_limits *lim,
		 unsigned what, struct procmap_stats *st);
/* Give each socket of s with an inode the process recorded for it; adds to st's wanted and
 * attributed counts. Sockets whose inode the walk did not see keep pid 0. */
void procmap_attribute(const struct procmap *pm, struct snapshot *s, struct procmap_stats *st);
static inline const char *procmap_str(const struct procmap *pm, uint32_t off)
{
	return pm->str ? pm->str + off : "";
}
void procmap_free(struct procmap *pm);
int procmap_permitted(void);

#endif
