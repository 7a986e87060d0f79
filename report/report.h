/*
 * report: the check-in report of PROTOCOL.md written straight from a snapshot into a JSON stream.
 * It applies the server's compatibility rules as it goes (wildcard listeners go to `listeners`, not
 * `connections`; MACs that are not exactly 6 octets become null; unspecified addresses, gateways
 * and sources are dropped or nulled) and counts every such change in metadata.stats.compat, so a
 * plain Graphēon server never rejects a report and nothing is changed silently.
 */
#ifndef NETINV_REPORT_H
#define NETINV_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "../delta/snapshot.h"

struct json_w;
struct names_conf;
struct collect_stats;
struct delta;

#define REPORT_SCHEMA_VERSION 1

/* Splitting a report into parts that each fit the server's limits. */
struct report_part {
	size_t budget;                      /* decoded bytes for this part, 0 = no limit */
	uint8_t *incl[SNAP_NTABLES];        /* out: per snapshot record, carried by this part */
	uint8_t *rincl[SNAP_NTABLES];       /* out: per removal, carried by this part */
	bool more;                          /* out: something did not fit: another part follows */
	uint32_t kept;                      /* out: records (and namespace tables) it carries */
	/* out: per SNAP_NETNS record, some of that namespace table went in this part, not all of it
	 * (what the server holds of it is unknown until the last piece is accepted) */
	uint8_t *ns_partial;
	unsigned index;                     /* 0-based */
};

/* One other network namespace as the `namespaces` extension shows it. Its tables are its own
 * snapshot's; which of them a report carries is the host snapshot's SNAP_NETNS records (the delta's
 * unit: a namespace's description, and each of its tables whole). */
#define REPORT_NS_HOST_LINKS 8
struct report_ns {
	const struct snapshot *s;             /* NULL: its tables were not read */
	const uint8_t *keep[SNAP_NETNS];      /* per table, per record: kept by the noise rules */
	/* A table larger than a part goes in pieces: per record, carried by an accepted part (sent)
	 * and by the part being written (pending). The check-in folds pending into sent when a part
	 * is accepted (report_ns_accept). NULL when not writing parts. */
	uint8_t *sent[SNAP_NETNS], *pending[SNAP_NETNS];
	const char *kind;                     /* docker, containerd, cri-o, podman, nspawn, lxc,
					       * service, netns, unknown */
	const char *name;                     /* container, machine or unit name; "" = unknown */
	const char *container_id, *netns_name, *cgroup;
	const char *pod_namespace, *pod_name, *pod_uid;
	const char *status;                   /* ok, not_permitted, failed */
	uint64_t inode;
	uint32_t nproc;
	const char *comm[8];
	uint32_t ncomm;
	uint32_t pid;                         /* the lowest pid in it, 0 = none */
	struct {
		uint32_t ifindex, peer_ifindex;   /* the host's end, the namespace's end */
	} host_link[REPORT_NS_HOST_LINKS];
	uint32_t n_host_links;
	const struct collect_stats *collect;
};

/* The namespaces of a run, and what the run met finding and reading them (metadata). */
struct report_netns {
	const struct report_ns *v;           /* indexed by snap_netns.ns */
	uint32_t n;
	const char *mode;                    /* "host" or "all" */
	const char *status;                  /* ok, partial, not_permitted, disabled */
	uint32_t found, read, not_permitted, failed, skipped, gone;
};

struct report_meta {
	const char *agent_uuid;
	const char *hostname;
	const char *fqdn;
	const char *agent_version;
	const char *platform_release;
	time_t observed_at;
	uint64_t sequence_number;
	bool full_snapshot;
	unsigned int tables; /* lists to write (1 << SNAP_*): the others are left out */
	const struct collect_stats *collect;
	bool identity_missing; /* no agent identity yet (dry run before enrollment) */
	/* The delta to report: only records it marks are written, and its removals are listed under
	 * `removed`. NULL writes every record (a full snapshot without noise control). */
	const struct delta *delta;
	/* With a part: records already carried (delta removed_sent, send cleared) are skipped, and
	 * writing stops before the budget is passed. The writer must buffer the whole part (its
	 * sink never flushes) so a record that does not fit can be taken back. */
	struct report_part *part;
	/* Extra top-level members, written before the lists so a part's budget counts them (the
	 * command results a check-in carries). NULL: none. */
	void (*extra)(struct json_w *w, void *ctx);
	void *extra_ctx;
	/* Route table, protocol and scope names (report/names.h); NULL: the kernel's names. */
	const struct names_conf *names;
	/* The other network namespaces; NULL: none looked for. */
	const struct report_netns *netns;
};

struct report_stats {
	uint32_t addresses_unspecified; /* dropped: the server rejects an unspecified ip_address */
	uint32_t neighbors_unspecified;
	uint32_t mac_not_6_octets;      /* sent as null */
	uint32_t gateway_unspecified;   /* sent as null */
	uint32_t source_unspecified;    /* sent as null */
	uint32_t listeners;             /* wildcard sockets moved to `listeners` */
	uint32_t states_unknown;        /* socket states outside the server's enumeration */
};

/* A part was accepted: the namespace records it carried become sent. */
void report_ns_accept(const struct report_netns *nn);
/* A part is about to be (re)built: nothing is pending. */
void report_ns_reset_pending(const struct report_netns *nn);

/* A namespace identity as the report shows it ("id"): hex (a container), a uuid (a pod), a name, or
 * the inode number; and its id_type's name. */
void report_ns_ident(uint8_t id_type, const uint8_t *ident, uint8_t id_len, char *out, size_t len);
const char *report_ns_id_type(uint8_t id_type);

int report_write(struct json_w *w, const struct snapshot *s, const struct report_meta *m,
		 struct report_stats *rs);

bool addr_unspecified(uint8_t family, const uint8_t *a);

#endif
