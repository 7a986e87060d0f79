#include "names.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netlink/route/route.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/rtnl.h>
#include <netlink/utils.h>

static char type_names[256][16];
static char nud_names[256][52];
static char nflag_names[256][64];
static char oper_names[256][24];
static bool loaded;

/* The kernel's names (<linux/rtnetlink.h>: RTPROT_*, RT_SCOPE_*, RT_TABLE_*), the names iproute2's
 * own files give them too: what serves when no configuration names a value. */
static const struct kname {
	uint32_t id;
	const char *name;
} kernel_protos[] = {
	{ 0, "unspec" },    { 1, "redirect" },   { 2, "kernel" },	  { 3, "boot" },
	{ 4, "static" },    { 8, "gated" },	 { 9, "ra" },		  { 10, "mrt" },
	{ 11, "zebra" },    { 12, "bird" },	 { 13, "dnrouted" },	  { 14, "xorp" },
	{ 15, "ntk" },	    { 16, "dhcp" },	 { 17, "mrouted" },	  { 18, "keepalived" },
	{ 42, "babel" },    { 99, "openr" },	 { 186, "bgp" },	  { 187, "isis" },
	{ 188, "ospf" },    { 189, "rip" },	 { 192, "eigrp" },
}, kernel_scopes[] = {
	{ 0, "global" }, { 200, "site" }, { 253, "link" }, { 254, "host" }, { 255, "nowhere" },
}, kernel_tables[] = {
	{ 0, "unspec" }, { 253, "default" }, { 254, "main" }, { 255, "local" },
};

static const char *kname(const struct kname *k, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].id == id)
			return k[i].name;
	return NULL;
}

#define KNAME(tab, id) kname(tab, sizeof(tab) / sizeof(tab[0]), id)

/* ---- the iproute2 configuration ---- */

static void note_bad(struct names_conf *nc, const char *path, unsigned line)
{
	if (!nc->bad_lines++)
		snprintf(nc->first_bad, sizeof(nc->first_bad), "%.140s:%u", path, line);
}

/* One "NUMBER NAME" line; -1 when it is not one (comments and blank lines are 0 with *name "") */
static int parse_line(char *l, uint32_t *id, char **name)
{
	char *end, *n;
	unsigned long v;

	*name = NULL;
	while (isspace((unsigned char)*l))
		l++;
	if (!*l || *l == '#') {
		*name = l + strlen(l);
		return 0;
	}
	errno = 0;
	v = strtoul(l, &end, 0);
	if (end == l || errno || v > UINT32_MAX || !isspace((unsigned char)*end))
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	n = end;
	while (*end && !isspace((unsigned char)*end) && *end != '#')
		if (!isprint((unsigned char)*end++))
			return -1;
	if (end == n || end - n >= NAMES_LEN)
		return -1;
	if (*end && *end != '#') {
		char *rest = end;

		*end = 0;
		for (rest++; isspace((unsigned char)*rest); rest++)
			;
		if (*rest && *rest != '#')
			return -1;
	}
	*end = 0;
	*id = (uint32_t)v;
	*name = n;
	return 0;
}

enum kind { K_TABLE, K_PROTO, K_SCOPE, K_REALM };

static void add_name(struct names_conf *nc, enum kind k, uint32_t id, const char *name,
		     const char *path, unsigned line)
{
	if (k == K_TABLE || k == K_REALM) {
		struct names_table *v = k == K_TABLE ? nc->table : nc->realm;
		uint32_t *n = k == K_TABLE ? &nc->ntables : &nc->nrealms;

		if (*n >= NAMES_MAX_TABLES || (k == K_REALM && id > 0xffff)) {
			note_bad(nc, path, line);
			return;
		}
		v[*n].id = id;
		snprintf(v[(*n)++].name, NAMES_LEN, "%s", name);
	} else if (id > 255) {
		note_bad(nc, path, line);
	} else {
		snprintf(k == K_PROTO ? nc->proto[id] : nc->scope[id], NAMES_LEN, "%s", name);
	}
}

/* One file, at most NAMES_MAX_FILE bytes of it (non-blocking open: a FIFO cannot hang the run).
 * 0 when read, -1 when it does not exist. */
static int read_file(struct names_conf *nc, enum kind k, const char *path)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	unsigned line = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -1 : (note_bad(nc, path, 0), 0);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(buf = malloc(NAMES_MAX_FILE + 1))) {
		bool oom = fstat(fd, &st) == 0 && S_ISREG(st.st_mode); /* the malloc failed */

		close(fd);
		note_bad(nc, path, 0);
		if (oom && nc->bad_lines == 1)
			snprintf(nc->first_bad, sizeof(nc->first_bad), "%.140s: out of memory", path);
		return 0;
	}
	while (got < NAMES_MAX_FILE && (n = read(fd, buf + got, NAMES_MAX_FILE - got)) > 0)
		got += (size_t)n;
	close(fd);
	if ((uint64_t)st.st_size > NAMES_MAX_FILE)
		note_bad(nc, path, 0); /* used as far as the bound: counted */
	buf[got] = 0;
	nc->files++;
	for (char *p = buf, *nl; p && *p; p = nl) {
		uint32_t id = 0;
		char *name;

		nl = strchr(p, '\n');
		if (nl)
			*nl++ = 0;
		line++;
		if (parse_line(p, &id, &name) < 0)
			note_bad(nc, path, line);
		else if (*name)
			add_name(nc, k, id, name, path, line);
	}
	free(buf);
	return 0;
}

static int conf_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

/* NAME and NAME.d/X.conf (sorted) from dir, each taken from fallback when dir lacks it. */
static void read_set(struct names_conf *nc, enum kind k, const char *dir, const char *fallback,
		     const char *name, bool with_d)
{
	char path[4096];
	struct dirent **ents = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_file(nc, k, path) < 0 && fallback) {
		snprintf(path, sizeof(path), "%s/%s", fallback, name);
		read_file(nc, k, path);
	}
	if (!with_d)
		return;
	snprintf(path, sizeof(path), "%s/%s.d", dir, name);
	n = scandir(path, &ents, conf_file, alphasort);
	if (n < 0 && fallback) {
		snprintf(path, sizeof(path), "%s/%s.d", fallback, name);
		n = scandir(path, &ents, conf_file, alphasort);
	}
	for (int i = 0; i < n; i++) {
		char file[4096 + 300];

		snprintf(file, sizeof(file), "%s/%s", path, ents[i]->d_name);
		if (i < NAMES_MAX_DFILES)
			read_file(nc, k, file);
		else
			note_bad(nc, file, 0);
		free(ents[i]);
	}
	free(ents);
}

static int cmp_table(const void *a, const void *b)
{
	const struct names_table *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x < y ? -1 : 1; /* stable: the later of two names of one id wins below */
}

/* Sorted by id; of two names for one id the one read last counts, as in iproute2. */
static void sort_names(struct names_table *v, uint32_t *n)
{
	uint32_t w = 0;

	qsort(v, *n, sizeof(*v), cmp_table);
	for (uint32_t i = 0; i < *n; i++) {
		if (w && v[w - 1].id == v[i].id)
			w--;
		v[w++] = v[i];
	}
	*n = w;
}

static const char *find_name(const struct names_table *v, uint32_t n, uint32_t id)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid].id == id)
			return v[mid].name;
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void names_conf_load(struct names_conf *nc, const char *dir, const char *fallback)
{
	memset(nc, 0, sizeof(*nc));
	read_set(nc, K_TABLE, dir, fallback, "rt_tables", true);
	read_set(nc, K_PROTO, dir, fallback, "rt_protos", true);
	read_set(nc, K_SCOPE, dir, fallback, "rt_scopes", false);
	read_set(nc, K_REALM, dir, fallback, "rt_realms", false);
	sort_names(nc->table, &nc->ntables);
	sort_names(nc->realm, &nc->nrealms);
}

static void upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

/* The tables, filled from libnl once, on the first name asked for: no caller has to know. */
static void load(void)
{
	char buf[128];

	for (int i = 0; i < 256; i++) {
		snprintf(oper_names[i], sizeof(oper_names[i]), "%s",
			 rtnl_link_operstate2str((uint8_t)i, buf, sizeof(buf)));
		snprintf(type_names[i], sizeof(type_names[i]), "%s",
			 nl_rtntype2str(i, buf, sizeof(buf)));
		snprintf(nflag_names[i], sizeof(nflag_names[i]), "%s",
			 rtnl_neigh_flags2str(i, buf, sizeof(buf)));
		if (i == 0) {
			snprintf(nud_names[i], sizeof(nud_names[i]), "NONE");
		} else {
			/* libnl joins several bits with ','; `ip` separates them with spaces, and
			 * the server only needs a short string: keep libnl's text, upper case. */
			snprintf(nud_names[i], sizeof(nud_names[i]), "%s",
				 rtnl_neigh_state2str(i, buf, sizeof(buf)));
			upper(nud_names[i]);
		}
	}
	/* libnl prints unknown values as "0x.."; numbers read better and match `ip -json`. */
	for (int i = 0; i < 256; i++) {
		if (!strncmp(type_names[i], "0x", 2))
			snprintf(type_names[i], sizeof(type_names[i]), "%d", i);
	}
	loaded = true;
}

static inline void ready(void)
{
	if (__builtin_expect(!loaded, 0))
		load();
}

static const char *number(uint32_t v)
{
	static char nums[256][4];

	if (!nums[v & 255][0])
		snprintf(nums[v & 255], sizeof(nums[0]), "%u", v & 255);
	return nums[v & 255];
}

const char *name_rtproto(const struct names_conf *nc, uint8_t p)
{
	const char *k;

	if (nc && nc->proto[p][0])
		return nc->proto[p];
	k = KNAME(kernel_protos, p);
	return k ? k : number(p);
}

const char *name_scope(const struct names_conf *nc, uint8_t s)
{
	const char *k;

	if (nc && nc->scope[s][0])
		return nc->scope[s];
	k = KNAME(kernel_scopes, s);
	return k ? k : number(s);
}
const char *name_rtntype(uint8_t t)
{
	ready();
	return type_names[t];
}

const char *name_table(const struct names_conf *nc, uint32_t t, char *buf, size_t len)
{
	const char *k = nc ? find_name(nc->table, nc->ntables, t) : NULL;

	if (k || (k = KNAME(kernel_tables, t)))
		return k;
	snprintf(buf, len, "%u", t);
	return buf;
}

const char *name_realm(const struct names_conf *nc, uint32_t r, char *buf, size_t len)
{
	const char *k = nc ? find_name(nc->realm, nc->nrealms, r) : NULL;

	if (k)
		return k;
	if (r == 0)
		return "cosmos"; /* iproute2's name for realm 0 */
	snprintf(buf, len, "%u", r);
	return buf;
}

const char *name_nud(uint16_t state, char *buf, size_t len)
{
	char tmp[128];

	ready();
	if (state < 256)
		return nud_names[state];
	snprintf(buf, len, "%s", rtnl_neigh_state2str(state, tmp, sizeof(tmp)));
	upper(buf);
	return buf;
}

const char *name_operstate(uint8_t o)
{
	ready();
	return oper_names[o];
}

const char *name_arphrd(uint16_t type, char *buf, size_t len)
{
	return nl_llproto2str(type, buf, len);
}

const char *name_link_flags(uint32_t f, char *buf, size_t len)
{
	return rtnl_link_flags2str((int)f, buf, len);
}

const char *name_addr_flags(uint32_t f, char *buf, size_t len)
{
	return rtnl_addr_flags2str((int)f, buf, len);
}

const char *name_neigh_flags(uint8_t f, char *buf, size_t len)
{
	(void)buf;
	(void)len;
	ready();
	return nflag_names[f];
}

/* TCP_* numbering from include/net/tcp_states.h (1 ESTABLISHED ... 12 NEW_SYN_RECV). */
const char *name_sock_state(uint8_t proto, uint8_t state)
{
	static const char *const tcp[] = {
		[1] = "established", [2] = "syn_sent",	 [3] = "syn_recv", [4] = "fin_wait1",
		[5] = "fin_wait2",   [6] = "time_wait",	 [7] = "closed",   [8] = "close_wait",
		[9] = "last_ack",    [10] = "listen",	 [11] = "closing", [12] = "syn_recv",
	};

	if (proto == 17 /* UDP */)
		return state == 1 ? "established" : "closed";
	if (state < sizeof(tcp) / sizeof(tcp[0]) && tcp[state])
		return tcp[state];
	return "unknown";
}

const char *name_sock_state_ss(uint8_t proto, uint8_t state)
{
	static const char *const ss[] = {
		[1] = "ESTAB",	   [2] = "SYN-SENT",   [3] = "SYN-RECV", [4] = "FIN-WAIT-1",
		[5] = "FIN-WAIT-2", [6] = "TIME-WAIT",  [7] = "UNCONN",	  [8] = "CLOSE-WAIT",
		[9] = "LAST-ACK",  [10] = "LISTEN",    [11] = "CLOSING", [12] = "SYN-RECV",
		[13] = "BOUND-INACTIVE",
	};

	(void)proto;
	if (state < sizeof(ss) / sizeof(ss[0]) && ss[state])
		return ss[state];
	return "UNKNOWN";
}
