#include "namespaces.h"
#include "../delta/hash.h"
#include "../delta/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#define NO_CENSUS UINT32_MAX

static struct ns_entry *ns_add(struct ns_set *ns, uint32_t *cap, uint64_t dev, uint64_t ino)
{
	struct ns_entry *e;

	if (ns->n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 16;
		struct ns_entry *v = realloc(ns->v, (size_t)nc * sizeof(*v));

		if (!v)
			return NULL;
		ns->v = v;
		*cap = nc;
	}
	e = &ns->v[ns->n++];
	memset(e, 0, sizeof(*e));
	e->dev = dev;
	e->ino = ino;
	e->census = NO_CENSUS;
	e->host_nsid = -1;
	return e;
}

static int fstatfs_at(int dir, const char *name, struct statfs *fs)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int r;

	if (fd < 0)
		return -1;
	r = fstatfs(fd, fs);
	close(fd);
	return r;
}

int ns_discover(struct ns_set *ns, const struct procmap *pm, const struct ns_paths *p, uint32_t max)
{
	uint32_t cap = 0;
	DIR *d;
	struct dirent *de;

	ns->pm = pm;

	/* pm->ns[0] is netinv's own namespace: the host's tables cover it */
	for (uint32_t i = 1; i < pm->nns; i++) {
		struct ns_entry *e;

		if (ns->n >= max) {
			ns->rep.skipped++;
			continue;
		}
		if (!(e = ns_add(ns, &cap, pm->ns[i].dev, pm->ns[i].ino)))
			return -ENOMEM;
		e->census = i;
	}
	ns->rep.skipped += pm->ns_skipped;
	d = opendir(p->netns_dir);
	while (d && (de = readdir(d))) {
		struct stat st;
		struct ns_entry *e = NULL;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(e->netns_name))
			continue;
		/* ip netns bind-mounts the namespace on the file: stat sees the namespace itself */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		if (pm->nns && st.st_dev == pm->ns[0].dev && st.st_ino == pm->ns[0].ino)
			continue; /* a name for netinv's own namespace */
		for (uint32_t i = 0; i < ns->n && !e; i++)
			if (ns->v[i].dev == st.st_dev && ns->v[i].ino == st.st_ino)
				e = &ns->v[i];
		if (!e) {
			struct statfs fs;

			/* only a namespace: not a file an unmounted name left behind */
			if (fstatfs_at(dirfd(d), de->d_name, &fs) < 0 || fs.f_type != NSFS_MAGIC)
				continue;
			if (ns->n >= max) {
				ns->rep.skipped++;
				continue;
			}
			if (!(e = ns_add(ns, &cap, st.st_dev, st.st_ino))) {
				closedir(d);
				return -ENOMEM;
			}
		}
		if (!e->netns_name[0])
			snprintf(e->netns_name, sizeof(e->netns_name), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	ns->rep.found = ns->n + ns->rep.skipped;
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* hex text -> bytes; the number of bytes */
static uint8_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (h[0] && h[1] && n < max) {
		if (*h == '-') {
			h++;
			continue;
		}
		if (hexval(h[0]) < 0 || hexval(h[1]) < 0)
			break;
		out[n++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
		h += 2;
	}
	return (uint8_t)n;
}

/* A name as an identity: itself when it fits, else its head and a hash of the whole. */
static void ident_name(struct ns_entry *e, uint8_t type, const char *name)
{
	size_t n = strlen(name);

	e->id_type = type;
	if (n <= NETNS_IDENT_MAX) {
		memcpy(e->ident, name, n);
		e->id_len = (uint8_t)n;
		return;
	}
	{
		char b[NETNS_IDENT_MAX + 1];

		snprintf(b, sizeof(b), "%.35s~%08x", name,
			 (unsigned)(hash64(name, n, 0x6e616d65) & 0xffffffffu));
		memcpy(e->ident, b, NETNS_IDENT_MAX);
	}
	e->id_len = NETNS_IDENT_MAX;
}

static void ident(struct ns_entry *e)
{
	memset(e->ident, 0, sizeof(e->ident));
	if (e->cg.pod_uid[0]) {
		e->id_type = NETNS_ID_POD;
		e->id_len = unhex(e->cg.pod_uid, e->ident, 16);
	} else if (e->cg.id[0]) {
		e->id_type = NETNS_ID_CONTAINER;
		e->id_len = unhex(e->cg.id, e->ident, 32);
	} else if ((e->cg.kind == NSK_NSPAWN || e->cg.kind == NSK_LXC) && e->cg.name[0]) {
		ident_name(e, NETNS_ID_MACHINE, e->cg.name);
	} else if (e->netns_name[0]) {
		ident_name(e, NETNS_ID_NETNS, e->netns_name);
	} else if (e->cg.kind == NSK_SERVICE && e->cg.name[0]) {
		ident_name(e, NETNS_ID_UNIT, e->cg.name);
	} else {
		e->id_type = NETNS_ID_INODE;
		for (int i = 0; i < 8; i++)
			e->ident[i] = (uint8_t)(e->ino >> (8 * i));
		e->id_len = 8;
	}
}

static bool same_ident(const struct ns_entry *a, const struct ns_entry *b)
{
	return a->id_type == b->id_type && a->id_len == b->id_len &&
	       !memcmp(a->ident, b->ident, a->id_len);
}

/* containers/storage keeps one containers.json per storage driver */
static const char *const storage_drivers[] = { "overlay", "vfs", "btrfs", "zfs" };
#define N_DRIVERS (sizeof(storage_drivers) / sizeof(storage_drivers[0]))

struct storage_files {
	char *json[N_DRIVERS];
	size_t len[N_DRIVERS];
	bool read;
};

static void container_name(struct ns_entry *e, const struct ns_paths *p, struct storage_files *sf)
{
	char path[768];
	size_t len;
	char *j;

	if (e->cg.kind == NSK_DOCKER && e->cg.id[0]) {
		snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json",
			 p->container_root, e->cg.id);
		if ((j = ns_read_small(path, 4u << 20, &len))) {
			ns_docker_name(j, len, e->name, sizeof(e->name));
			free(j);
		}
	} else if (e->cg.kind == NSK_PODMAN && e->cg.id[0]) {
		if (!sf->read) {
			sf->read = true;
			for (size_t d = 0; d < N_DRIVERS; d++) {
				snprintf(path, sizeof(path),
					 "%s/var/lib/containers/storage/%s-containers/containers.json",
					 p->container_root, storage_drivers[d]);
				/* a few hundred bytes a container: 16 MiB is tens of
				 * thousands of them, well inside the unit's MemoryMax */
				sf->json[d] = ns_read_small(path, 16u << 20, &sf->len[d]);
			}
		}
		for (size_t d = 0; d < N_DRIVERS && !e->name[0]; d++)
			if (sf->json[d])
				ns_storage_name(sf->json[d], sf->len[d], e->cg.id, e->name,
						sizeof(e->name));
	}
}

void ns_name(struct ns_set *ns, const struct procmap *pm, const struct ns_paths *p)
{
	struct ns_pods pods;
	struct storage_files sf = { 0 };
	char path[512];

	snprintf(path, sizeof(path), "%s/var/log/pods", p->container_root);
	ns_pods_load(&pods, path, 65536);
	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];

		if (e->census != NO_CENSUS) {
			const struct procmap_netns *c = &pm->ns[e->census];

			/* the lowest pid first: a pod's sandbox, a container's init */
			for (int k = 0; k < PROCMAP_NS_PIDS && c->pid[k] && !e->cgroup[0]; k++) {
				char *t;

				snprintf(path, sizeof(path), "%s/%u/cgroup", p->proc_root, c->pid[k]);
				if ((t = ns_read_small(path, 65536, NULL))) {
					ns_cgroup_pick(t, e->cgroup, sizeof(e->cgroup));
					free(t);
				}
			}
			if (e->cgroup[0])
				ns_cgroup_parse(e->cgroup, &e->cg);
		}
		if (e->cg.kind == NSK_UNKNOWN && e->netns_name[0])
			e->cg.kind = NSK_NETNS;
		if (e->cg.pod_uid[0]) {
			const struct ns_pod *pod = ns_pods_find(&pods, e->cg.pod_uid);

			if (pod) {
				snprintf(e->pod_ns, sizeof(e->pod_ns), "%s", pod->ns);
				snprintf(e->pod_name, sizeof(e->pod_name), "%s", pod->name);
				snprintf(e->name, sizeof(e->name), "%s", pod->name);
			}
		}
		if (!e->name[0])
			container_name(e, p, &sf);
		if (!e->name[0] && e->cg.name[0])
			snprintf(e->name, sizeof(e->name), "%s", e->cg.name);
		ident(e);
		/* two namespaces claiming one identity (a pod's sandbox being replaced): the later
		 * one is told apart by its inode */
		for (uint32_t k = 0; k < i; k++) {
			if (same_ident(&ns->v[k], e)) {
				memset(&e->cg.id, 0, sizeof(e->cg.id));
				e->id_type = NETNS_ID_INODE;
				memset(e->ident, 0, sizeof(e->ident));
				for (int b = 0; b < 8; b++)
					e->ident[b] = (uint8_t)(e->ino >> (8 * b));
				e->id_len = 8;
				break;
			}
		}
	}
	for (size_t d = 0; d < N_DRIVERS; d++)
		free(sf.json[d]);
	ns_pods_free(&pods);
}

static bool have_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return data[CAP_SYS_ADMIN >> 5].effective & (1u << (CAP_SYS_ADMIN & 31));
}

/* Room for three sockets per namespace, within the hard limit. */
static void raise_nofile(uint32_t n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n * 3 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The namespace's file, checked to be that namespace (a pid may have been reused). */
static int ns_fd(const struct ns_entry *e, const struct procmap *pm, const struct ns_paths *p)
{
	char path[600];
	struct stat st;
	int fd = -1;

	if (e->netns_name[0]) {
		snprintf(path, sizeof(path), "%s/%s", p->netns_dir, e->netns_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	if (e->census == NO_CENSUS || !pm)
		return -ENOENT;
	for (int k = 0; k < PROCMAP_NS_PIDS && pm->ns[e->census].pid[k]; k++) {
		snprintf(path, sizeof(path), "%s/%u/ns/net", p->proc_root, pm->ns[e->census].pid[k]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

int ns_open(struct ns_set *ns, const struct ns_paths *p, unsigned tables)
{
	int self, r = 0;
	bool refused = false;

	ns->permitted = ns->n == 0 || have_sys_admin();
	if (!ns->permitted) {
		for (uint32_t i = 0; i < ns->n; i++)
			ns->v[i].state = NSE_NOT_PERMITTED;
		return 0;
	}
	if (!ns->n)
		return 0;
	raise_nofile(ns->n);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];
		int fd;

		if (refused) {
			e->state = NSE_NOT_PERMITTED;
			continue;
		}
		fd = ns_fd(e, ns->pm, p);
		if (fd < 0) {
			e->state = NSE_GONE; /* its processes exited, its name was removed */
			continue;
		}
		if (setns(fd, CLONE_NEWNET) < 0) {
			e->err = -errno;
			close(fd);
			/* a sandbox that forbids setns (seccomp, RestrictNamespaces=) forbids it for
			 * every namespace */
			if (e->err == -EPERM) {
				e->state = NSE_NOT_PERMITTED;
				refused = true;
			} else {
				e->state = NSE_FAILED;
			}
			continue;
		}
		close(fd);
		r = collect_open(&e->socks, tables);
		if (setns(self, CLONE_NEWNET) < 0) {
			r = -errno;
			if (r == 0)
				r = -EIO;
			collect_close(&e->socks);
			close(self);
			return r;
		}
		if (r < 0) {
			e->err = r;
			e->state = NSE_FAILED; /* EMFILE: past the open-file limit */
			r = 0;
			continue;
		}
		collect_pin(&e->socks);
		e->state = NSE_OPEN;
	}
	close(self);
	if (refused)
		ns->permitted = false;
	return 0;
}

/* The kept records' fingerprints, folded order-independently, with their count. */
static uint64_t table_content(const struct ns_entry *e, enum snap_table t)
{
	uint64_t h = 0;
	uint32_t n = 0;
	uint8_t key[STATE_KEY_LEN];

	for (uint32_t i = 0; i < e->s.t[t].n; i++) {
		uint64_t id, content;

		if (!e->keep[t][i])
			continue;
		canon_key(&e->cc, t, i, key);
		canon_fps(&e->cc, t, i, key, &id, &content);
		h += hash_mix(id, content);
		n++;
	}
	h = hash_mix(h, n);
	return h ? h : 1;
}

static void find_host_links(struct ns_entry *e, const struct snapshot *host)
{
	struct report_ns *v = &e->view;

	for (uint32_t i = 0; i < e->s.t[SNAP_LINKS].n; i++) {
		const struct snap_link *l = snap_at(&e->s, SNAP_LINKS, i);
		const struct snap_link *h;

		if (!l->has_netnsid || !l->link || e->host_nsid < 0 || l->link_netnsid != e->host_nsid)
			continue;
		h = snap_link_by_index(host, l->link);
		/* the host's end points back at this end */
		if (!h || h->link != l->ifindex || !h->has_netnsid)
			continue;
		if (v->n_host_links < REPORT_NS_HOST_LINKS) {
			v->host_link[v->n_host_links].ifindex = h->ifindex;
			v->host_link[v->n_host_links].peer_ifindex = l->ifindex;
			v->n_host_links++;
		}
	}
}

void ns_collect(struct ns_set *ns, const struct collect_opts *co, const struct procmap *pm,
		const struct procmap_stats *walk, const struct canon_opts *copts,
		const struct snapshot *host)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];
		bool ok = true;

		if (e->state != NSE_OPEN)
			continue;
		if (snap_init(&e->s, NULL) < 0) {
			e->state = NSE_FAILED;
			e->err = -ENOMEM;
			collect_close(&e->socks);
			continue;
		}
		e->have_s = true;
		collect_run_on(&e->socks, &e->s, co, &e->cs);
		e->cs.netns_inode = e->ino;
		if (self >= 0 && collect_peer_nsid(&e->socks, self, &e->host_nsid) < 0)
			e->host_nsid = -1;
		collect_close(&e->socks);
		e->cs.proc = *walk;
		e->cs.proc.wanted = e->cs.proc.attributed = 0;
		if (walk->status != PROCMAP_DISABLED && walk->status != PROCMAP_NOT_PERMITTED)
			procmap_attribute(pm, &e->s, &e->cs.proc);
		if (canon_ctx_init(&e->cc, &e->s, copts) < 0) {
			ok = false;
		} else {
			e->have_cc = true;
			for (int t = 0; t < SNAP_NETNS && ok; t++) {
				e->keep[t] = calloc(e->s.t[t].n ? e->s.t[t].n : 1, 1);
				e->sent[t] = calloc(e->s.t[t].n ? e->s.t[t].n : 1, 1);
				e->pending[t] = calloc(e->s.t[t].n ? e->s.t[t].n : 1, 1);
				if (!e->keep[t] || !e->sent[t] || !e->pending[t]) {
					ok = false;
					break;
				}
				for (uint32_t r = 0; r < e->s.t[t].n; r++)
					e->keep[t][r] = canon_keep(&e->cc, (enum snap_table)t, r);
			}
		}
		if (!ok) {
			e->state = NSE_FAILED;
			e->err = -ENOMEM;
			continue;
		}
		find_host_links(e, host);
		e->state = NSE_READ;
	}
	if (self >= 0)
		close(self);
}

static uint64_t hstr(uint64_t h, const char *s)
{
	return hash64(s, strlen(s) + 1, h);
}

/* The description's fingerprint: what it is and how it is wired, not its process count. */
static uint64_t meta_content(const struct ns_entry *e, const struct snapshot *host)
{
	uint64_t h = 0x6d657461ull;

	h = hstr(h, ns_kind_names[e->cg.kind]);
	h = hstr(h, e->name);
	h = hstr(h, e->cg.id);
	h = hstr(h, e->netns_name);
	h = hstr(h, e->pod_ns);
	h = hstr(h, e->pod_name);
	h = hstr(h, e->cg.pod_uid);
	h = hstr(h, e->cgroup);
	for (uint32_t k = 0; k < e->view.n_host_links; k++) {
		const struct snap_link *l = snap_link_by_index(host, e->view.host_link[k].ifindex);

		h = hash_mix(h, e->view.host_link[k].ifindex);
		h = hash_mix(h, e->view.host_link[k].peer_ifindex);
		h = hstr(h, l ? snap_s(host, l->name) : "");
	}
	return h ? h : 1;
}

static struct snap_netns *push(struct snapshot *host, const struct ns_entry *e, uint32_t idx,
			       uint8_t table, uint64_t content)
{
	struct snap_netns *r = snap_push(host, SNAP_NETNS);

	if (!r)
		return NULL;
	r->ns = idx;
	r->table = table;
	r->id_type = e->id_type;
	r->id_len = e->id_len;
	memcpy(r->ident, e->ident, sizeof(r->ident));
	r->content = content;
	return r;
}

static const char *state_name(enum ns_state s)
{
	switch (s) {
	case NSE_READ:
		return "ok";
	case NSE_NOT_PERMITTED:
		return "not_permitted";
	case NSE_GONE:
		return "gone";
	default:
		return "failed";
	}
}

static void fill_view(struct ns_entry *e, const struct procmap *pm)
{
	struct report_ns *v = &e->view;

	v->s = e->state == NSE_READ ? &e->s : NULL;
	for (int t = 0; t < SNAP_NETNS; t++) {
		v->keep[t] = e->keep[t];
		v->sent[t] = e->sent[t];
		v->pending[t] = e->pending[t];
	}
	v->kind = ns_kind_names[e->cg.kind];
	v->name = e->name;
	v->container_id = e->cg.id;
	v->netns_name = e->netns_name;
	v->cgroup = e->cgroup;
	v->pod_namespace = e->pod_ns;
	v->pod_name = e->pod_name;
	v->pod_uid = e->cg.pod_uid;
	v->status = state_name(e->state);
	v->inode = e->ino;
	v->collect = e->state == NSE_READ ? &e->cs : NULL;
	if (e->census != NO_CENSUS && pm) {
		const struct procmap_netns *c = &pm->ns[e->census];

		v->nproc = c->nproc;
		v->pid = c->pid[0];
		v->ncomm = c->ncomm;
		for (uint32_t k = 0; k < c->ncomm && k < 8; k++)
			v->comm[k] = procmap_str(pm, c->comm[k]);
	}
}

/* Acknowledged records of a namespace still there but not read this run (a table outside
 * --only, a namespace that failed) stay as they are. */
static int carry(struct ns_set *ns, struct snapshot *host, unsigned tables,
		 const struct acked_state *prev)
{
	const struct acked_table *pt = &prev->t[SNAP_NETNS];

	for (uint32_t r = 0; r < pt->n; r++) {
		const struct key_netns *k = (const void *)pt->r[r].key;

		for (uint32_t i = 0; i < ns->n; i++) {
			const struct ns_entry *e = &ns->v[i];
			bool read = e->state == NSE_READ;

			if (e->id_type != k->id_type || e->id_len != k->id_len ||
			    memcmp(e->ident, k->ident, e->id_len))
				continue;
			if (e->state == NSE_GONE)
				break;
			if (read && (k->table == NETNS_META ||
				     (k->table < SNAP_NETNS && (tables & (1u << k->table)))))
				break; /* read this run: its own record stands */
			if (!push(host, e, i, k->table, pt->r[r].content))
				return -ENOMEM;
			break;
		}
	}
	return 0;
}

int ns_report(struct ns_set *ns)
{
	struct report_netns *rep = &ns->rep;

	free(ns->views);
	ns->views = calloc(ns->n ? ns->n : 1, sizeof(*ns->views));
	if (!ns->views)
		return -ENOMEM;
	rep->read = rep->not_permitted = rep->gone = rep->failed = 0;
	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];

		fill_view(e, ns->pm);
		ns->views[i] = e->view;
		switch (e->state) {
		case NSE_READ:
			rep->read++;
			break;
		case NSE_NOT_PERMITTED:
			rep->not_permitted++;
			break;
		case NSE_GONE:
			rep->gone++;
			break;
		default:
			rep->failed++;
		}
	}
	rep->v = ns->views;
	rep->n = ns->n;
	rep->mode = ns->all ? "all" : "host";
	if (!ns->all)
		rep->status = "disabled";
	else if (!ns->permitted)
		rep->status = "not_permitted";
	else if (rep->failed || rep->not_permitted || rep->skipped)
		rep->status = "partial";
	else
		rep->status = "ok";
	return 0;
}

int ns_records(struct ns_set *ns, struct snapshot *host, unsigned tables,
	       const struct acked_state *prev)
{
	host->st[SNAP_NETNS].collected = true;
	host->st[SNAP_NETNS].attempts = 1;
	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];

		if (e->state != NSE_READ)
			continue;
		if (!push(host, e, i, NETNS_META, meta_content(e, host)))
			return -ENOMEM;
		for (int t = 0; t < SNAP_NETNS; t++)
			if ((tables & (1u << t)) &&
			    !push(host, e, i, (uint8_t)t, table_content(e, (enum snap_table)t)))
				return -ENOMEM;
	}
	if (prev && carry(ns, host, tables, prev) < 0)
		return -ENOMEM;
	canon_sort(host, SNAP_NETNS);
	return 0;
}

void ns_free(struct ns_set *ns)
{
	for (uint32_t i = 0; i < ns->n; i++) {
		struct ns_entry *e = &ns->v[i];

		if (e->state == NSE_OPEN)
			collect_close(&e->socks);
		for (int t = 0; t < SNAP_NETNS; t++) {
			free(e->keep[t]);
			free(e->sent[t]);
			free(e->pending[t]);
		}
		if (e->have_cc)
			canon_ctx_free(&e->cc);
		if (e->have_s)
			snap_free(&e->s);
	}
	free(ns->v);
	free(ns->views);
	memset(ns, 0, sizeof(*ns));
}
