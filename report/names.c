#include "names.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <netlink/route/route.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/rtnl.h>
#include <netlink/utils.h>

static char proto_names[256][16];
static char scope_names[256][16];
static char type_names[256][16];
static char table_names[256][24];
static char nud_names[256][52];
static char nflag_names[256][64];
static char oper_names[256][24];
static bool loaded;

/* RTPROT_* from <linux/rtnetlink.h>: the kernel ABI's names, printed by iproute2 as well. */
static const struct {
	uint8_t id;
	const char *name;
} kernel_protos[] = {
	{ 9, "ra" },	     { 10, "mrt" },	 { 11, "zebra" },     { 12, "bird" },
	{ 13, "dnrouted" },  { 14, "xorp" },	 { 15, "ntk" },	      { 16, "dhcp" },
	{ 17, "mrouted" },   { 18, "keepalived" }, { 42, "babel" },   { 99, "openr" },
	{ 186, "bgp" },	     { 187, "isis" },	 { 188, "ospf" },     { 189, "rip" },
	{ 192, "eigrp" },
};

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
		snprintf(proto_names[i], sizeof(proto_names[i]), "%s",
			 rtnl_route_proto2str(i, buf, sizeof(buf)));
		snprintf(scope_names[i], sizeof(scope_names[i]), "%s",
			 rtnl_scope2str((uint8_t)i, buf, sizeof(buf)));
		snprintf(type_names[i], sizeof(type_names[i]), "%s",
			 nl_rtntype2str(i, buf, sizeof(buf)));
		snprintf(table_names[i], sizeof(table_names[i]), "%s",
			 rtnl_route_table2str(i, buf, sizeof(buf)));
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
		if (!strncmp(proto_names[i], "0x", 2))
			snprintf(proto_names[i], sizeof(proto_names[i]), "%d", i);
		if (!strncmp(scope_names[i], "0x", 2))
			snprintf(scope_names[i], sizeof(scope_names[i]), "%d", i);
		if (!strncmp(type_names[i], "0x", 2))
			snprintf(type_names[i], sizeof(type_names[i]), "%d", i);
		if (!strncmp(table_names[i], "0x", 2))
			snprintf(table_names[i], sizeof(table_names[i]), "%d", i);
	}
	for (size_t k = 0; k < sizeof(kernel_protos) / sizeof(kernel_protos[0]); k++)
		if (isdigit((unsigned char)proto_names[kernel_protos[k].id][0]))
			snprintf(proto_names[kernel_protos[k].id], 16, "%s", kernel_protos[k].name);
	loaded = true;
}

static inline void ready(void)
{
	if (__builtin_expect(!loaded, 0))
		load();
}

const char *name_rtproto(uint8_t p)
{
	ready();
	return proto_names[p];
}
const char *name_scope(uint8_t s)
{
	ready();
	return scope_names[s];
}
const char *name_rtntype(uint8_t t)
{
	ready();
	return type_names[t];
}

const char *name_table(uint32_t t, char *buf, size_t len)
{
	ready();
	if (t < 256)
		return table_names[t];
	snprintf(buf, len, "%u", t);
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
