#include "nsname.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const ns_kind_names[] = { "unknown", "docker", "containerd", "cri-o", "podman",
				      "kubernetes", "nspawn", "lxc", "service", "netns" };

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "<prefix><64 hex><suffix>" (suffix may be ""): the id, or false. */
static bool id_between(const char *c, const char *prefix, const char *suffix, char id[65])
{
	size_t lp = strlen(prefix), ls = strlen(suffix), n = strlen(c);

	if (n < lp + ls || strncmp(c, prefix, lp) || strcmp(c + n - ls, suffix) ||
	    !is_hex64(c + lp, n - lp - ls))
		return false;
	memcpy(id, c + lp, 64);
	id[64] = 0;
	return true;
}

/* A pod uid as the kubelet writes it in cgroup names: "pod<uuid>" (cgroupfs driver), or
 * "kubepods-<class>-pod<uuid>.slice" with '_' for '-' (systemd driver). */
static bool pod_uid(const char *c, char uid[37])
{
	const char *p;

	if (!strncmp(c, "pod", 3))
		p = c + 3;
	else if (!strncmp(c, "kubepods", 8) && (p = strstr(c, "-pod")))
		p += 4;
	else
		return false;
	if (strcspn(p, ".") != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char ch = p[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-' && ch != '_')
				return false;
			uid[i] = '-';
		} else if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) {
			uid[i] = ch;
		} else {
			return false;
		}
	}
	uid[36] = 0;
	return true;
}

/* systemd's unit-name escaping: "\x2d" is '-'. */
static void unescape(const char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned v;

		if (in[i] == '\\' && i + 3 < n && in[i + 1] == 'x' && sscanf(in + i + 2, "%2x", &v) == 1 &&
		    v >= 0x20 && v < 0x7f) {
			out[o++] = (char)v;
			i += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

bool ns_cgroup_parse(const char *path, struct ns_cgroup_info *out)
{
	char buf[1024], *save = NULL, *c, prev[256] = "";
	const char *unit = NULL;
	size_t unit_len = 0;
	bool kube = false;

	memset(out, 0, sizeof(*out));
	if (strlen(path) >= sizeof(buf))
		return false;
	strcpy(buf, path);
	for (c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(c);
		char id[65];

		if (!strncmp(c, "kubepods", 8))
			kube = true;
		if (kube && !out->pod_uid[0] && (!strncmp(c, "pod", 3) || !strncmp(c, "kubepods", 8)))
			pod_uid(c, out->pod_uid);
		if (id_between(c, "docker-", ".scope", id) ||
		    (!strcmp(prev, "docker") && is_hex64(c, n))) {
			out->kind = NSK_DOCKER;
			strcpy(out->id, id_between(c, "docker-", ".scope", id) ? id : c);
		} else if (id_between(c, "cri-containerd-", ".scope", id)) {
			out->kind = NSK_CONTAINERD;
			strcpy(out->id, id);
		} else if (id_between(c, "crio-", ".scope", id)) {
			out->kind = NSK_CRIO;
			strcpy(out->id, id);
		} else if (id_between(c, "libpod-", ".scope", id) || id_between(c, "libpod-", "", id)) {
			out->kind = NSK_PODMAN;
			strcpy(out->id, id);
		} else if (kube && is_hex64(c, n) && !out->id[0]) {
			out->kind = NSK_KUBERNETES; /* cgroupfs driver: <pod dir>/<container id> */
			strcpy(out->id, c);
		} else if (!strcmp(prev, "machine.slice") && !strncmp(c, "machine-", 8) && n > 14 &&
			   !strcmp(c + n - 6, ".scope") && out->kind == NSK_UNKNOWN) {
			out->kind = NSK_NSPAWN;
			unescape(c + 8, n - 14, out->name, sizeof(out->name));
		} else if (!strncmp(c, "lxc.payload.", 12) && n > 12) {
			out->kind = NSK_LXC;
			snprintf(out->name, sizeof(out->name), "%s", c + 12);
		} else if ((!strcmp(prev, "lxc") || !strcmp(prev, "lxc.payload")) && out->kind == NSK_UNKNOWN) {
			out->kind = NSK_LXC;
			snprintf(out->name, sizeof(out->name), "%s", c);
		} else if (n > 8 && !strcmp(c + n - 8, ".service")) {
			unit = c - buf + path; /* the deepest service wins */
			unit_len = n;
		}
		snprintf(prev, sizeof(prev), "%s", c);
	}
	if (out->kind == NSK_UNKNOWN && out->pod_uid[0])
		out->kind = NSK_KUBERNETES;
	if (out->kind == NSK_UNKNOWN && unit) {
		out->kind = NSK_SERVICE;
		unescape(unit, unit_len, out->name, sizeof(out->name));
	}
	return out->kind != NSK_UNKNOWN;
}

int ns_cgroup_pick(const char *text, char *out, size_t outlen)
{
	const char *line = text, *sysd = NULL;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n > 3 && !strncmp(line, "0::", 3)) {
			if (n - 3 >= outlen)
				return -1;
			memcpy(out, line + 3, n - 3);
			out[n - 3] = 0;
			/* hybrid mode: the unified line says "/" when systemd keeps processes in v1 */
			if (strcmp(out, "/"))
				return 0;
		} else {
			const char *colon = memchr(line, ':', n);

			if (colon && (size_t)(colon - line) + 14 <= n && !strncmp(colon + 1, "name=systemd:", 13))
				sysd = colon + 14;
		}
		line = end ? end + 1 : NULL;
	}
	if (sysd) {
		size_t n = strcspn(sysd, "\n");

		if (n >= outlen)
			return -1;
		memcpy(out, sysd, n);
		out[n] = 0;
		return 0;
	}
	return -1;
}

char *ns_read_small(const char *path, size_t max, size_t *len)
{
	struct stat st;
	size_t got = 0, cap;
	ssize_t n;
	char *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return NULL;
	}
	/* the size said, plus room to notice a file that grew past max meanwhile */
	cap = (size_t)st.st_size + 4096 < max + 2 ? (size_t)st.st_size + 4096 : max + 2;
	b = malloc(cap);
	while (b && got + 1 < cap && (n = read(fd, b + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (!b || got > max) {
		free(b);
		return NULL;
	}
	b[got] = 0;
	if (len)
		*len = got;
	return b;
}

static int pod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ns_pod *)a)->uid, ((const struct ns_pod *)b)->uid);
}

int ns_pods_load(struct ns_pods *p, const char *dir, uint32_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t cap = 0;

	memset(p, 0, sizeof(*p));
	if (!d)
		return 0;
	while ((e = readdir(d)) && p->n < max) {
		/* <namespace>_<name>_<uid>: namespaces and names hold no '_' (DNS labels) */
		const char *a = strchr(e->d_name, '_'), *b = a ? strchr(a + 1, '_') : NULL;
		struct ns_pod *x;

		if (!a || !b || strlen(b + 1) != 36 || (size_t)(a - e->d_name) >= sizeof(x->ns) ||
		    (size_t)(b - a - 1) >= sizeof(x->name) || a == e->d_name || b == a + 1)
			continue;
		if (p->n == cap) {
			uint32_t nc = cap ? cap * 2 : 32;
			struct ns_pod *v = realloc(p->v, nc * sizeof(*v));

			if (!v)
				break;
			p->v = v;
			cap = nc;
		}
		x = &p->v[p->n++];
		memcpy(x->ns, e->d_name, (size_t)(a - e->d_name));
		x->ns[a - e->d_name] = 0;
		memcpy(x->name, a + 1, (size_t)(b - a - 1));
		x->name[b - a - 1] = 0;
		memcpy(x->uid, b + 1, 37);
	}
	closedir(d);
	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), pod_cmp);
	return 0;
}

const struct ns_pod *ns_pods_find(const struct ns_pods *p, const char *uid)
{
	struct ns_pod key;

	if (!p->n || strlen(uid) != 36)
		return NULL;
	memcpy(key.uid, uid, 37);
	return bsearch(&key, p->v, p->n, sizeof(*p->v), pod_cmp);
}

void ns_pods_free(struct ns_pods *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* A printable name, as a runtime would accept it: no control characters. */
static int take_name(const char *v, char *out, size_t outlen)
{
	size_t n = strlen(v);

	if (!n || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -1;
	memcpy(out, v, n + 1);
	return 0;
}

int ns_docker_name(const char *json, size_t len, char *out, size_t outlen)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "Name");
	int r = -1;

	if (cJSON_IsString(n) && n->valuestring)
		r = take_name(n->valuestring[0] == '/' ? n->valuestring + 1 : n->valuestring, out,
			      outlen);
	cJSON_Delete(j);
	return r;
}

int ns_storage_name(const char *json, size_t len, const char *id, char *out, size_t outlen)
{
	cJSON *j = cJSON_ParseWithLength(json, len), *c;
	int r = -1;

	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return -1;
	}
	cJSON_ArrayForEach(c, j)
	{
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "id");
		const cJSON *names = cJSON_GetObjectItemCaseSensitive(c, "names");
		const cJSON *first = cJSON_IsArray(names) ? cJSON_GetArrayItem(names, 0) : NULL;

		if (cJSON_IsString(i) && i->valuestring && !strcmp(i->valuestring, id)) {
			if (cJSON_IsString(first) && first->valuestring)
				r = take_name(first->valuestring, out, outlen);
			break;
		}
	}
	cJSON_Delete(j);
	return r;
}
