/*
 * names: text for the kernel's numeric codes in the report.
 *
 * Route tables, protocols, scopes and realms are named as `ip` names them: from the iproute2
 * configuration (rt_tables and rt_tables.d/NAME.conf, rt_protos and rt_protos.d/NAME.conf, rt_scopes,
 * rt_realms;
 * a file the configuration directory lacks is read from iproute2's packaged defaults), read once
 * per run by names_conf_load into a caller-owned, fixed-size struct: at most 64 KiB a file and
 * NAMES_MAX_TABLES table names (32-bit ids, so table 1000 has its name too). Without a
 * configuration (NULL) the kernel's own names serve (rtnetlink.h's RT_TABLE_*, RTPROT_*,
 * RT_SCOPE_*). The report prints the number beside every such name.
 *
 * Route types, neighbour states and flags, link flags, operstates and link types come from
 * libnl-route-3's tables, looked up once per value on the first use and cached (the hot loops then
 * only index arrays; no caller initialises anything). Connection states map to the server's
 * enumeration.
 */
#ifndef NETINV_NAMES_H
#define NETINV_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAMES_MAX_TABLES 1024
#define NAMES_MAX_FILE (64u << 10)
#define NAMES_MAX_DFILES 64 /* files read from one rt_*.d directory; more are counted, not read */
#define NAMES_LEN 32

struct names_table {
	uint32_t id;
	char name[NAMES_LEN];
};

/* The iproute2 configuration's names. Fixed size (about 60 KiB): the caller owns it. */
struct names_conf {
	char proto[256][NAMES_LEN]; /* "" = none configured */
	char scope[256][NAMES_LEN];
	struct names_table table[NAMES_MAX_TABLES]; /* ascending by id */
	uint32_t ntables;
	struct names_table realm[NAMES_MAX_TABLES]; /* ascending by id (16-bit realms) */
	uint32_t nrealms;
	uint32_t files;     /* files read */
	uint32_t bad_lines; /* lines that were not "NUMBER NAME" (ignored, as iproute2 ignores them) */
	char first_bad[160]; /* "FILE:LINE" of the first, or of a file that could not be used */
};

/* Read the configuration from dir, and each file dir lacks from fallback (NULL: none). Files that
 * do not exist are fine; a file over 64 KiB or with malformed lines is used as far as it can be,
 * and counted. Always succeeds: the kernel's names stay for whatever no file names. */
void names_conf_load(struct names_conf *nc, const char *dir, const char *fallback);

/* nc NULL: the kernel's names. Numbers with no name print as the number. */
const char *name_rtproto(const struct names_conf *nc, uint8_t p);
const char *name_scope(const struct names_conf *nc, uint8_t s);
const char *name_rtntype(uint8_t t);
/* Writes into buf when the table has no name (its number). */
const char *name_table(const struct names_conf *nc, uint32_t t, char *buf, size_t len);
/* A route realm (16-bit), the same way ("cosmos" for 0 without a configuration). */
const char *name_realm(const struct names_conf *nc, uint32_t r, char *buf, size_t len);
/* Upper case like `ip neigh` ("REACHABLE", "STALE", "NOARP"); "NONE" for 0; at most 50 chars.
 * States past 255 (none today) are written into buf. */
const char *name_nud(uint16_t state, char *buf, size_t len);
const char *name_operstate(uint8_t o);
const char *name_arphrd(uint16_t type, char *buf, size_t len);
/* Comma-separated libnl flag names for links, addresses and neighbours. */
const char *name_link_flags(uint32_t f, char *buf, size_t len);
const char *name_addr_flags(uint32_t f, char *buf, size_t len);
const char *name_neigh_flags(uint8_t f, char *buf, size_t len);
/* Server enumeration for a TCP state: listen, established, ..., unknown. UDP uses the same codes
 * (TCP_ESTABLISHED when connected, TCP_CLOSE otherwise). */
const char *name_sock_state(uint8_t proto, uint8_t state);
/* ss's own spelling of the state (ESTAB, UNCONN, TIME-WAIT, ...), kept as an extension field. */
const char *name_sock_state_ss(uint8_t proto, uint8_t state);

#endif
