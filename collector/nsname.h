/*
 * nsname: what a network namespace is, read passively from what the kernel and the file system
 * already show, never from a runtime's socket or API: the cgroup path of a process in it (Docker
 * docker-<id>.scope or /docker/<id>, containerd/CRI cri-containerd-<id>.scope under
 * kubepods…pod<uid>.slice, CRI-O crio-<id>.scope, Podman libpod-<id>.scope, systemd-nspawn
 * machine-<name>.scope, LXC lxc.payload.<name>, a systemd service's own sandbox), the kubelet's pod
 * log directories (namespace_name_uid), and the container name where the runtime's state file on
 * disk is readable (Docker's config.v2.json, the containers.json of containers/storage). Every input
 * is bounded and every parse is pure; nothing here logs.
 */
#ifndef NETINV_NSNAME_H
#define NETINV_NSNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ns_kind {
	NSK_UNKNOWN,
	NSK_DOCKER,
	NSK_CONTAINERD,
	NSK_CRIO,
	NSK_PODMAN,
	NSK_KUBERNETES, /* a pod under the cgroupfs driver: the runtime does not show */
	NSK_NSPAWN,
	NSK_LXC,
	NSK_SERVICE,
	NSK_NETNS, /* only a /run/netns name */
};
extern const char *const ns_kind_names[];

/* What one cgroup path says. */
struct ns_cgroup_info {
	enum ns_kind kind;
	char id[65];       /* container id (lowercase hex), "" = none */
	char pod_uid[37];  /* "" = not a Kubernetes pod */
	char name[128];    /* machine, LXC container or unit name, "" = none */
};

/* Parse a cgroup path ("/system.slice/docker-<id>.scope", ...). Returns whether it named anything. */
bool ns_cgroup_parse(const char *path, struct ns_cgroup_info *out);
/* The cgroup path of a process from the text of /proc/PID/cgroup: the unified ("0::") line, else
 * the name=systemd one. 0, or -1 when neither is there. */
int ns_cgroup_pick(const char *text, char *out, size_t outlen);

/* Kubernetes pods by uid, from the kubelet's log directories (<namespace>_<name>_<uid>). */
struct ns_pod {
	char uid[37];
	char ns[64];
	char name[254];
};
struct ns_pods {
	struct ns_pod *v;
	uint32_t n;
};
/* Read dir (normally /var/log/pods): at most max entries. A missing directory is no pods. */
int ns_pods_load(struct ns_pods *p, const char *dir, uint32_t max);
const struct ns_pod *ns_pods_find(const struct ns_pods *p, const char *uid);
void ns_pods_free(struct ns_pods *p);

/* A Docker container's name from its config.v2.json text ("Name":"/web" -> "web"). */
int ns_docker_name(const char *json, size_t len, char *out, size_t outlen);
/* Podman (containers/storage) names: containers.json text -> for id, its first name. */
int ns_storage_name(const char *json, size_t len, const char *id, char *out, size_t outlen);

/* Read a small file whole (NUL-terminated) into a malloc'd buffer, at most max bytes; NULL when
 * missing, unreadable, not a regular file or larger. */
char *ns_read_small(const char *path, size_t max, size_t *len);

#endif
