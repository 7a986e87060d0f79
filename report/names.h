/*
 * names: text for the kernel's numeric codes in the report. Route protocols, scopes, route types,
 * tables, neighbour states and flags, link flags, operstates and link types come from libnl-route-3's
 * tables, looked up once per value on the first use and cached (the hot loops then only index
 * arrays; no caller initialises anything).
 * Where libnl 3.7 has no name (it only knows route protocols 0-4 unless /etc/iproute2/rt_protos
 * exists, which Debian 12 does not ship) the kernel's own RTPROT_* names from rtnetlink.h fill in,
 * the same names `ip route` prints. Connection states map to the server's enumeration.
 */
#ifndef NETINV_NAMES_H
#define NETINV_NAMES_H

#include <stddef.h>
#include <stdint.h>

const char *name_rtproto(uint8_t p);
const char *name_scope(uint8_t s);
const char *name_rtntype(uint8_t t);
/* Writes into buf (table numbers with no name print as their number). */
const char *name_table(uint32_t t, char *buf, size_t len);
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
