/*
 * namespaces: every other network namespace on the host, read with the host's own collectors.
 *   1. ns_discover: which exist. The census of the one /proc walk (procmap: each process's
 *      ns/net) and the named namespaces (/run/netns), de-duplicated by device and inode.
 *   2. ns_name: what each is (nsname: cgroup paths, pod log directories, runtime state files),
 *      and the identity that survives a container's restart (pod uid, container id, machine,
 *      netns or unit name; else the inode).
 *   3. ns_open: enter each one just long enough to open its netlink sockets (setns needs
 *      CAP_SYS_ADMIN) and come back; the caller then gives the capability up for good, before a
 *      byte is parsed. Without it nothing is entered and every namespace is not_permitted.
 *   4. ns_collect: dump each over its own sockets into a snapshot of its own (same tables,
 *      stability checks and limits as the host's), attribute its sockets from the walk, apply the
 *      noise rules, and find its veths' host ends (RTM_GETNSID).
 *   5. ns_records: the host snapshot's SNAP_NETNS records, the delta's unit for namespaces: one
 *      for each namespace's description and one per table, each with a fingerprint of what a
 *      report would carry. Tables not read this run carry their acknowledged records over.
 * Below the run modes: nothing here logs or exits; what went wrong is counted in the report view.
 */
#ifndef NETINV_NAMESPACES_H
#define NETINV_NAMESPACES_H

#include "nsname.h"
#include "../delta/canon.h"
#include "../delta/diff.h"
#include "../delta/snapshot.h"
#include "../netlink/collect.h"
#include "../netlink/procmap.h"
#include "../report/report.h"

#include <stdbool.h>
#include <stdint.h>

enum ns_state { NSE_FOUND, NSE_OPEN, NSE_READ, NSE_NOT_PERMITTED, NSE_GONE, NSE_FAILED };

struct ns_entry {
	uint64_t dev, ino;
	uint32_t census; /* index in the walk's namespaces, UINT32_MAX = only named */
	char netns_name[256];
	char cgroup[512];
	struct ns_cgroup_info cg;
	char name[256];
	char pod_ns[64], pod_name[254];
	uint8_t id_type, id_len;
	uint8_t ident[NETNS_IDENT_MAX];
	enum ns_state state;
	int err;                  /* what failed (negative errno) */
	int32_t host_nsid;        /* how it knows the host's namespace; -1 = no id */
	struct collect_socks socks;
	struct snapshot s;
	bool have_s;
	struct collect_stats cs;
	struct canon_ctx cc;
	bool have_cc;
	uint8_t *keep[SNAP_NETNS];
	uint8_t *sent[SNAP_NETNS], *pending[SNAP_NETNS]; /* pieces of tables across parts */
	struct report_ns view;
};

struct ns_set {
	struct ns_entry *v;
	uint32_t n;
	bool all;                 /* namespaces=all */
	bool permitted;           /* CAP_SYS_ADMIN held and setns allowed */
	const struct procmap *pm; /* the walk they were found by (pids, names) */
	struct report_ns *views;  /* v[i].view, contiguous, for the report */
	struct report_netns rep;
};

struct ns_paths {
	const char *proc_root;      /* "/proc" */
	const char *netns_dir;      /* "/run/netns" */
	const char *container_root; /* "/" */
};

/* 1. The walk's namespaces (other than its own) and the named ones. 0 or -ENOMEM. */
int ns_discover(struct ns_set *ns, const struct procmap *pm, const struct ns_paths *p,
		uint32_t max);
/* 2. Kind, names and identity of each. */
void ns_name(struct ns_set *ns, const struct procmap *pm, const struct ns_paths *p);
/* 3. Open each one's sockets. 0, or a negative errno when netinv could not return to its own
 * namespace (then nothing may be collected: the caller must stop). */
int ns_open(struct ns_set *ns, const struct ns_paths *p, unsigned tables);
/* 4. Collect each opened namespace; host: the host's collected snapshot (links sorted). */
void ns_collect(struct ns_set *ns, const struct collect_opts *co, const struct procmap *pm,
		const struct procmap_stats *walk, const struct canon_opts *copts,
		const struct snapshot *host);
/* The report's view of them (ns->rep: each namespace, and the counts). 0 or -ENOMEM. */
int ns_report(struct ns_set *ns);
/* 5. The SNAP_NETNS records into host; prev: the acknowledged state (NULL: a full snapshot).
 * 0 or -ENOMEM. */
int ns_records(struct ns_set *ns, struct snapshot *host, unsigned tables,
	       const struct acked_state *prev);
void ns_free(struct ns_set *ns);

#endif
