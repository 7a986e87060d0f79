/* Naming network namespaces (nsname), the /proc walk's census and attribution (procmap) on a tree
 * of the test's own, and the `namespaces` extension of the report: identities as shown, parts
 * that take whole tables, and one removal for a namespace that is gone. */
#include "testutil.h"
#include "../../collector/nsname.h"
#include "../../delta/canon.h"
#include "../../delta/diff.h"
#include "../../netlink/procmap.h"
#include "../../report/json.h"
#include "../../report/report.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/netinv-ut-ns.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "4c7e2f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6"

static void test_cgroup_paths(void **state)
{
	static const struct {
		const char *path;
		enum ns_kind kind;
		const char *id, *pod, *name;
	} cases[] = {
		{ "/system.slice/docker-" ID64 ".scope", NSK_DOCKER, ID64, "", "" },
		{ "/docker/" ID64, NSK_DOCKER, ID64, "", "" },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
		  "4c7e2f0a_1b2c_4d5e_8f90_a1b2c3d4e5f6.slice/cri-containerd-" ID64 ".scope",
		  NSK_CONTAINERD, ID64, UID, "" },
		{ "/kubepods.slice/kubepods-pod4c7e2f0a_1b2c_4d5e_8f90_a1b2c3d4e5f6.slice/crio-" ID64
		  ".scope",
		  NSK_CRIO, ID64, UID, "" },
		{ "/kubepods/burstable/pod" UID "/" ID64, NSK_KUBERNETES, ID64, UID, "" },
		{ "/machine.slice/libpod-" ID64 ".scope/container", NSK_PODMAN, ID64, "", "" },
		{ "/libpod_parent/libpod-" ID64, NSK_PODMAN, ID64, "", "" },
		{ "/machine.slice/machine-web\\x2d1.scope/payload", NSK_NSPAWN, "", "", "web-1" },
		{ "/lxc.payload.db1/init.scope", NSK_LXC, "", "", "db1" },
		{ "/lxc/db2", NSK_LXC, "", "", "db2" },
		{ "/system.slice/systemd-resolved.service", NSK_SERVICE, "", "", "systemd-resolved.service" },
		{ "/", NSK_UNKNOWN, "", "", "" },
		{ "/user.slice/user-0.slice/session-3.scope", NSK_UNKNOWN, "", "", "" },
		/* near misses: an id one digit short, upper case, conmon's own scope */
		{ "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.scope",
		  NSK_UNKNOWN, "", "", "" },
		{ "/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		  NSK_UNKNOWN, "", "", "" },
		{ "/machine.slice/libpod-conmon-" ID64 ".scope", NSK_UNKNOWN, "", "", "" },
	};
	struct ns_cgroup_info ci;
	char longpath[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool named = ns_cgroup_parse(cases[i].path, &ci);

		if (ci.kind != cases[i].kind || strcmp(ci.id, cases[i].id) ||
		    strcmp(ci.pod_uid, cases[i].pod) || strcmp(ci.name, cases[i].name))
			fail_msg("%s: kind %d id '%s' pod '%s' name '%s'", cases[i].path, ci.kind, ci.id,
				 ci.pod_uid, ci.name);
		assert_int_equal(named, cases[i].kind != NSK_UNKNOWN);
	}
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_false(ns_cgroup_parse(longpath, &ci)); /* longer than any cgroup path: nothing */
}

static void test_cgroup_pick(void **state)
{
	char out[256];

	(void)state;
	/* hybrid: the unified line is "/" while systemd keeps the process in name=systemd */
	assert_int_equal(ns_cgroup_pick("12:pids:/x\n1:name=systemd:/system.slice/docker-a.scope\n0::/\n",
					out, sizeof(out)),
			 0);
	assert_string_equal(out, "/system.slice/docker-a.scope");
	assert_int_equal(ns_cgroup_pick("0::/kubepods.slice/x\n", out, sizeof(out)), 0);
	assert_string_equal(out, "/kubepods.slice/x");
	assert_int_equal(ns_cgroup_pick("4:memory:/a\n", out, sizeof(out)), -1);
	assert_int_equal(ns_cgroup_pick("", out, sizeof(out)), -1);
	assert_int_equal(ns_cgroup_pick("0::/a-path-longer-than-the-buffer\n", out, 8), -1);
}

static void test_pods_and_names(void **state)
{
	struct ns_pods pods;
	const struct ns_pod *p;
	char path[256], name[64];
	const char *j;

	(void)state;
	put("pods/default_web-7d4b9_" UID "/app/0.log", "x");
	put("pods/kube-system_coredns-5d78c_00000000-1111-2222-3333-444444444444/x", "x");
	put("pods/not-a-pod-dir/x", "x");
	put("pods/a_b_short-uid/x", "x");
	put("pods/_noname_" UID "/x", "x");
	snprintf(path, sizeof(path), "%s/pods", dir);
	assert_int_equal(ns_pods_load(&pods, path, 100), 0);
	assert_int_equal(pods.n, 2);
	p = ns_pods_find(&pods, UID);
	assert_non_null(p);
	assert_string_equal(p->ns, "default");
	assert_string_equal(p->name, "web-7d4b9");
	assert_null(ns_pods_find(&pods, "00000000-0000-0000-0000-000000000000"));
	ns_pods_free(&pods);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(ns_pods_load(&pods, path, 100), 0); /* no kubelet: no pods */
	assert_int_equal(pods.n, 0);

	j = "{\"ID\":\"x\",\"Name\":\"/web-1\"}";
	assert_int_equal(ns_docker_name(j, strlen(j), name, sizeof(name)), 0);
	assert_string_equal(name, "web-1");
	j = "{\"Name\":\"/bad\\u0007name\"}"; /* a control character: refused */
	assert_int_equal(ns_docker_name(j, strlen(j), name, sizeof(name)), -1);
	j = "{\"Name\":5}";
	assert_int_equal(ns_docker_name(j, strlen(j), name, sizeof(name)), -1);
	j = "not json";
	assert_int_equal(ns_docker_name(j, strlen(j), name, sizeof(name)), -1);
	j = "[{\"id\":\"aa\",\"names\":[\"first\",\"second\"]},{\"id\":\"bb\",\"names\":[]}]";
	assert_int_equal(ns_storage_name(j, strlen(j), "aa", name, sizeof(name)), 0);
	assert_string_equal(name, "first");
	assert_int_equal(ns_storage_name(j, strlen(j), "bb", name, sizeof(name)), -1);
	assert_int_equal(ns_storage_name(j, strlen(j), "cc", name, sizeof(name)), -1);
	assert_int_equal(ns_storage_name("{}", 2, "aa", name, sizeof(name)), -1);
}

static void test_read_small(void **state)
{
	char path[256], big[5000];
	size_t len;
	char *b;

	(void)state;
	put("small", "hello");
	snprintf(path, sizeof(path), "%s/small", dir);
	b = ns_read_small(path, 100, &len);
	assert_non_null(b);
	assert_int_equal(len, 5);
	assert_string_equal(b, "hello");
	free(b);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	put("big", big);
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_null(ns_read_small(path, 4096, &len)); /* over the bound */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(ns_read_small(path, 4096, &len)); /* never blocks on a FIFO */
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("small", path), 0);
	assert_null(ns_read_small(path, 4096, &len)); /* no symlink at the last component */
}

/* A /proc of the test's own: processes 1, 2, 7 and 9; 7 and 9 share a namespace (a hard link to
 * one file is one inode), 2 is in the walker's, 1 in a third; sockets 100 (held by 7 and 9),
 * 200 (9), 300 (2). */
static void test_census_and_attribution(void **state)
{
	struct procmap_limits lim = { .max_procs = 100, .max_fds = 1000, .max_netns = 10 };
	struct procmap pm = { 0 };
	struct procmap_stats st;
	struct snapshot s;
	struct snap_sock *k;
	char root[128], a[256], b[256];
	static const struct {
		const char *pid, *comm, *ns;
		unsigned socks[2];
	} procs[] = { { "1", "init", "nsA", { 0, 0 } },
		      { "2", "agent", "self", { 300, 0 } },
		      { "7", "nginx", "nsB", { 100, 0 } },
		      { "9", "worker", "nsB", { 200, 100 } } };

	(void)state;
	snprintf(root, sizeof(root), "%s/proc", dir);
	put("proc/nsfiles/nsA", "");
	put("proc/nsfiles/nsB", "");
	put("proc/nsfiles/self", "");
	for (size_t i = 0; i < 4; i++) {
		char rel[64], comm[32];

		snprintf(rel, sizeof(rel), "proc/%s/comm", procs[i].pid);
		snprintf(comm, sizeof(comm), "%s\n", procs[i].comm);
		put(rel, comm);
		snprintf(a, sizeof(a), "%s/nsfiles/%s", root, procs[i].ns);
		snprintf(b, sizeof(b), "%s/%s/ns", root, procs[i].pid);
		assert_int_equal(mkdir(b, 0755), 0);
		snprintf(b, sizeof(b), "%s/%s/ns/net", root, procs[i].pid);
		assert_int_equal(link(a, b), 0);
		snprintf(b, sizeof(b), "%s/%s/fd", root, procs[i].pid);
		assert_int_equal(mkdir(b, 0755), 0);
		for (int f = 0; f < 2; f++) {
			char target[32];

			if (!procs[i].socks[f])
				continue;
			snprintf(target, sizeof(target), "socket:[%u]", procs[i].socks[f]);
			snprintf(b, sizeof(b), "%s/%s/fd/%d", root, procs[i].pid, f + 3);
			assert_int_equal(symlink(target, b), 0);
		}
	}
	snprintf(a, sizeof(a), "%s/nsfiles/self", root);
	snprintf(b, sizeof(b), "%s/self", root);
	assert_int_equal(mkdir(b, 0755), 0);
	snprintf(b, sizeof(b), "%s/self/ns", root);
	assert_int_equal(mkdir(b, 0755), 0);
	snprintf(b, sizeof(b), "%s/self/ns/net", root);
	assert_int_equal(link(a, b), 0);

	assert_int_equal(procmap_walk(&pm, root, &lim, PROCMAP_SOCKETS | PROCMAP_NETNS, &st), 0);
	assert_int_equal(st.status, PROCMAP_OK);
	assert_int_equal(st.processes, 4);
	/* the walker's own first, then in order of discovery */
	assert_int_equal(pm.nns, 3);
	assert_int_equal(pm.ns[0].nproc, 1);
	assert_int_equal(pm.ns[0].pid[0], 2);
	assert_int_equal(pm.ns[0].ncomm, 0); /* the host's processes are not named */
	{
		/* the other two in the order the directory listed them */
		const struct procmap_netns *a1 = &pm.ns[pm.ns[1].nproc == 1 ? 1 : 2];
		const struct procmap_netns *b2 = &pm.ns[pm.ns[1].nproc == 1 ? 2 : 1];
		const char *c0, *c1;

		assert_int_equal(a1->nproc, 1);
		assert_int_equal(a1->pid[0], 1);
		assert_int_equal(b2->nproc, 2);
		assert_int_equal(b2->pid[0], 7); /* ascending, whatever the listing's order */
		assert_int_equal(b2->pid[1], 9);
		assert_int_equal(b2->ncomm, 2);
		c0 = procmap_str(&pm, b2->comm[0]);
		c1 = procmap_str(&pm, b2->comm[1]);
		assert_true((!strcmp(c0, "nginx") && !strcmp(c1, "worker")) ||
			    (!strcmp(c0, "worker") && !strcmp(c1, "nginx")));
	}
	/* one entry per inode, the lowest pid */
	assert_int_equal(pm.nsock, 3);
	assert_int_equal(pm.sock[0].inode, 100);
	assert_int_equal(pm.sock[0].pid, 7);

	assert_int_equal(snap_init(&s, NULL), 0);
	for (unsigned ino = 100; ino <= 400; ino += 100) {
		k = snap_push(&s, SNAP_SOCKS);
		k->inode = ino;
	}
	k = snap_push(&s, SNAP_SOCKS); /* TIME_WAIT: no inode, nobody's */
	memset(&st, 0, sizeof(st));
	procmap_attribute(&pm, &s, &st);
	assert_int_equal(st.wanted, 4);
	assert_int_equal(st.attributed, 3);
	k = s.t[SNAP_SOCKS].v;
	assert_int_equal(k[0].pid, 7);
	assert_string_equal(snap_s(&s, k[0].comm), "nginx");
	assert_int_equal(k[1].pid, 9);
	assert_string_equal(snap_s(&s, k[1].comm), "worker");
	assert_int_equal(k[2].pid, 2);
	assert_int_equal(k[3].pid, 0);
	assert_int_equal(k[4].pid, 0);
	snap_free(&s);
	procmap_free(&pm);

	/* the census alone, capped at two namespaces: the third is counted */
	lim.max_netns = 2;
	assert_int_equal(procmap_walk(&pm, root, &lim, PROCMAP_NETNS, &st), 0);
	assert_int_equal(st.status, PROCMAP_DISABLED);
	assert_int_equal(pm.nns, 2);
	assert_int_equal(pm.ns_skipped, 1); /* one namespace, however many processes */
	assert_int_equal(pm.nsock, 0);
	procmap_free(&pm);
}

/* --- the `namespaces` extension of the report --- */

static char rbuf[1 << 18], rout[1 << 18];
static size_t rout_len;

static int rsink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	assert_true(rout_len + n < sizeof(rout));
	memcpy(rout + rout_len, p, n);
	rout_len += n;
	rout[rout_len] = 0;
	return 0;
}

static cJSON *write_report(const struct snapshot *h, const struct report_netns *nn,
			   const struct delta *d, struct report_part *part)
{
	struct report_meta m = { .agent_uuid = "123e4567-e89b-42d3-a456-426614174000",
				 .hostname = "h",
				 .agent_version = "0",
				 .platform_release = "6.1",
				 .observed_at = 1700000000,
				 .full_snapshot = d->full,
				 .tables = 1u << SNAP_NETNS,
				 .delta = d,
				 .part = part,
				 .netns = nn };
	struct report_stats rs;
	struct json_w w;
	cJSON *j;

	rout_len = 0;
	json_init(&w, rbuf, sizeof(rbuf), rsink, NULL, false);
	assert_int_equal(report_write(&w, h, &m, &rs), 0);
	assert_int_equal(json_finish(&w), 0);
	j = cJSON_ParseWithLength(rout, rout_len);
	assert_non_null(j);
	return j;
}

static void ns_rec(struct snapshot *h, uint32_t ns, uint8_t type, const void *id, uint8_t len,
		   uint8_t table, uint64_t content)
{
	struct snap_netns *r = snap_push(h, SNAP_NETNS);

	r->ns = ns;
	r->table = table;
	r->id_type = type;
	r->id_len = len;
	memcpy(r->ident, id, len);
	r->content = content;
}

/* Three namespaces (a container, a pod, a named one), each with a description, links and 40
 * addresses (about 6 KB): a full report in parts of 3 KB carries every address exactly once, a
 * table in pieces ("partial", then "continued"), acknowledged with its last piece; the ids read as
 * a runtime shows them. Then the container and the named namespace go, and the pod loses its
 * links table: two whole removals and one of a list. */
static void test_report_namespaces(void **state)
{
	static const uint8_t cid[32] = { 0xde, 0xad, 0xbe, 0xef, [31] = 0x01 };
	static const uint8_t pod[16] = { 0x4c, 0x7e, 0x2f, 0x0a, 0x1b, 0x2c, 0x4d, 0x5e,
					 0x8f, 0x90, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6 };
	struct canon_opts co = { 0 };
	struct snapshot nsS, h, h2;
	struct report_ns views[3];
	struct report_netns nn = { .v = views, .n = 3, .mode = "all", .status = "ok" };
	struct canon_ctx cc, cc2;
	struct delta d, d2;
	struct acked_state prev = { 0 };
	struct report_part part = { 0 };
	uint8_t *keep, *incl[SNAP_NTABLES] = { 0 }, *rincl[SNAP_NTABLES] = { 0 };
	int seen[3][SNAP_NTABLES + 1] = { { 0 } }, parts = 0, addrs[3] = { 0 }, pieces = 0;
	uint8_t sent[3][SNAP_NETNS][64], pending[3][SNAP_NETNS][64];
	cJSON *j, *n;

	(void)state;
	assert_int_equal(snap_init(&nsS, NULL), 0);
	{
		struct snap_link *l = snap_push(&nsS, SNAP_LINKS);

		l->ifindex = 2;
		l->name = snap_str(&nsS, "eth0", 4);
		for (int i = 0; i < 40; i++) {
			struct snap_addr *a = snap_push(&nsS, SNAP_ADDRS);

			a->family = AF_INET;
			a->prefixlen = 24;
			a->ifindex = 2;
			a->addr[0] = 10;
			a->addr[3] = (uint8_t)(i + 1);
		}
	}
	keep = malloc(64);
	memset(keep, 1, 64);
	memset(views, 0, sizeof(views));
	memset(sent, 0, sizeof(sent));
	memset(pending, 0, sizeof(pending));
	for (int i = 0; i < 3; i++) {
		views[i].s = &nsS;
		for (int t = 0; t < SNAP_NETNS; t++) {
			views[i].keep[t] = keep;
			views[i].sent[t] = sent[i][t];
			views[i].pending[t] = pending[i][t];
		}
		views[i].kind = i == 1 ? "containerd" : "docker";
		views[i].name = "";
		views[i].container_id = views[i].netns_name = views[i].cgroup = "";
		views[i].pod_namespace = views[i].pod_name = views[i].pod_uid = "";
		views[i].status = "ok";
	}
	assert_int_equal(snap_init(&h, NULL), 0);
	for (uint8_t t = 0; t < 2; t++) {
		ns_rec(&h, 0, NETNS_ID_CONTAINER, cid, 32, t, 11 + t);
		ns_rec(&h, 1, NETNS_ID_POD, pod, 16, t, 21 + t);
		ns_rec(&h, 2, NETNS_ID_NETNS, "blue", 4, t, 31 + t);
	}
	ns_rec(&h, 0, NETNS_ID_CONTAINER, cid, 32, NETNS_META, 10);
	ns_rec(&h, 1, NETNS_ID_POD, pod, 16, NETNS_META, 20);
	ns_rec(&h, 2, NETNS_ID_NETNS, "blue", 4, NETNS_META, 30);
	canon_sort(&h, SNAP_NETNS);
	assert_int_equal(canon_ctx_init(&cc, &h, &co), 0);
	assert_int_equal(delta_build(&d, &cc, NULL, 1u << SNAP_NETNS), 0);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		incl[t] = calloc(16, 1);
		rincl[t] = calloc(16, 1);
	}
	do {
		uint8_t partial[16] = { 0 };

		memset(incl[SNAP_NETNS], 0, 16);
		part = (struct report_part){ .budget = 3000, .incl = { 0 }, .index = (unsigned)parts,
					     .ns_partial = partial };
		memcpy(part.incl, incl, sizeof(incl));
		memcpy(part.rincl, rincl, sizeof(rincl));
		report_ns_reset_pending(&nn);
		j = write_report(&h, &nn, &d, &part);
		cJSON_ArrayForEach(n, cJSON_GetObjectItem(j, "namespaces"))
		{
			const char *id = cJSON_GetObjectItem(n, "id")->valuestring;
			int k = !strcmp(id, "blue") ? 2 : strlen(id) == 36 ? 1 : 0;

			if (k == 0)
				assert_string_equal(id, "deadbeef00000000000000000000000000000000000000000000000000000001");
			if (k == 1)
				assert_string_equal(id, "4c7e2f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
			cJSON *a = cJSON_GetObjectItem(n, "addresses");
			cJSON *pa = cJSON_GetObjectItem(n, "partial"), *cn = cJSON_GetObjectItem(n, "continued");

			seen[k][SNAP_LINKS] += cJSON_GetObjectItem(n, "links") != NULL;
			if (a) {
				addrs[k] += cJSON_GetArraySize(a);
				assert_true(cJSON_GetArraySize(a) > 0); /* never an empty piece */
				/* a piece that is not the last says so; one after the first says that */
				assert_int_equal(pa != NULL, addrs[k] < 40);
				assert_int_equal(cn != NULL, addrs[k] > cJSON_GetArraySize(a));
				if (pa)
					assert_string_equal(cJSON_GetArrayItem(pa, 0)->valuestring, "addresses");
				pieces++;
				/* the table is acknowledged with its last piece only */
				for (uint32_t r = 0; r < h.t[SNAP_NETNS].n; r++) {
					const struct snap_netns *x = snap_at(&h, SNAP_NETNS, r);

					if (x->ns == (uint32_t)k && x->table == SNAP_ADDRS) {
						assert_int_equal(incl[SNAP_NETNS][r], addrs[k] == 40);
						assert_int_equal(partial[r], addrs[k] < 40);
					}
				}
			}
		}
		cJSON_Delete(j);
		report_ns_accept(&nn);
		{
			bool carried = delta_accept_part(&d, incl, rincl);

			for (int r = 0; r < 16; r++)
				carried |= partial[r];
			assert_true(carried || !part.more); /* every part moves on */
		}
		parts++;
	} while (part.more && parts < 40);
	assert_false(part.more);
	assert_true(pieces > 3);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(seen[k][SNAP_LINKS], 1);
		assert_int_equal(addrs[k], 40);
	}

	/* the acknowledged state: all of it */
	{
		uint32_t n0 = h.t[SNAP_NETNS].n;
		uint8_t key[STATE_KEY_LEN];

		prev.t[SNAP_NETNS].r = calloc(n0, sizeof(struct state_rec));
		prev.t[SNAP_NETNS].n = n0;
		for (uint32_t i = 0; i < n0; i++) {
			struct state_rec *r = &prev.t[SNAP_NETNS].r[i];

			canon_key(&cc, SNAP_NETNS, i, key);
			canon_fps(&cc, SNAP_NETNS, i, key, &r->id, &r->content);
			memcpy(r->key, key, sizeof(key));
		}
		for (uint32_t i = 1; i < n0; i++)
			for (uint32_t k = i; k > 0 && prev.t[SNAP_NETNS].r[k - 1].id > prev.t[SNAP_NETNS].r[k].id; k--) {
				struct state_rec t = prev.t[SNAP_NETNS].r[k];

				prev.t[SNAP_NETNS].r[k] = prev.t[SNAP_NETNS].r[k - 1];
				prev.t[SNAP_NETNS].r[k - 1] = t;
			}
	}
	assert_int_equal(snap_init(&h2, NULL), 0);
	ns_rec(&h2, 1, NETNS_ID_POD, pod, 16, NETNS_META, 20);
	ns_rec(&h2, 1, NETNS_ID_POD, pod, 16, SNAP_ADDRS, 22);
	canon_sort(&h2, SNAP_NETNS);
	assert_int_equal(canon_ctx_init(&cc2, &h2, &co), 0);
	assert_int_equal(delta_build(&d2, &cc2, &prev, 1u << SNAP_NETNS), 0);
	assert_int_equal(d2.t[SNAP_NETNS].n_removed, 7);
	j = write_report(&h2, &nn, &d2, NULL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "namespaces")), 0);
	{
		cJSON *rem = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "removed"), "namespaces");
		int whole = 0, lists = 0;

		assert_int_equal(cJSON_GetArraySize(rem), 3);
		cJSON_ArrayForEach(n, rem)
		{
			cJSON *l = cJSON_GetObjectItem(n, "lists");

			if (!l) {
				whole++;
				continue;
			}
			lists++;
			assert_string_equal(cJSON_GetObjectItem(n, "id_type")->valuestring, "pod");
			assert_int_equal(cJSON_GetArraySize(l), 1);
			assert_string_equal(cJSON_GetArrayItem(l, 0)->valuestring, "links");
		}
		assert_int_equal(whole, 2);
		assert_int_equal(lists, 1);
	}
	cJSON_Delete(j);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		free(incl[t]);
		free(rincl[t]);
	}
	free(prev.t[SNAP_NETNS].r);
	delta_free(&d);
	delta_free(&d2);
	canon_ctx_free(&cc);
	canon_ctx_free(&cc2);
	snap_free(&h);
	snap_free(&h2);
	snap_free(&nsS);
	free(keep);
}

static void test_ident_format(void **state)
{
	static const uint8_t ino[8] = { 0x12, 0x34, 0, 0, 0, 0, 0, 0 };
	char out[128];

	(void)state;
	report_ns_ident(NETNS_ID_INODE, ino, 8, out, sizeof(out));
	assert_string_equal(out, "13330");
	report_ns_ident(NETNS_ID_UNIT, (const uint8_t *)"svc.service", 11, out, sizeof(out));
	assert_string_equal(out, "svc.service");
	report_ns_ident(NETNS_ID_CONTAINER, (const uint8_t *)"\x01\xff", 2, out, sizeof(out));
	assert_string_equal(out, "01ff");
	report_ns_ident(NETNS_ID_CONTAINER, ino, 8, out, 6); /* a short buffer: cut, terminated */
	assert_true(strlen(out) < 6);
	assert_string_equal(report_ns_id_type(NETNS_ID_MACHINE), "machine");
	assert_string_equal(report_ns_id_type(200), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_cgroup_pick),
		cmocka_unit_test_setup_teardown(test_pods_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_and_attribution, setup, teardown),
		cmocka_unit_test(test_report_namespaces),
		cmocka_unit_test(test_ident_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
