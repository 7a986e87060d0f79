/*
 * attr: netlink attribute validation. Every attribute a parser uses passes through here first: the
 * attribute area must tile exactly (no length past the end of its message or nest), and each value
 * is checked for its exact length (u8/u16/u32, 4- or 16-byte addresses by family) or, for strings,
 * for a terminating NUL inside the payload. netinv's own walker, not libmnl's mnl_attr_parse: see
 * docs/ARCHITECTURE.md for why (exact lengths, and 5x less time per message). Nothing is
 * allocated.
 */
#ifndef NETINV_ATTR_H
#define NETINV_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

/* Index the attributes that follow a hdrlen-byte family header. Types above maxtype are ignored
 * (forward compatibility); a later duplicate replaces an earlier one. -EBADMSG when the message is
 * shorter than its header or an attribute overruns its container. */
int attr_parse(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, uint16_t maxtype);
int attr_parse_nested(const struct nlattr *nest, const struct nlattr **tb, uint16_t maxtype);
int attr_parse_area(const void *p, size_t len, const struct nlattr **tb, uint16_t maxtype);

/* Fold the payload bytes p[from, len) into h, leaving out the attributes of types skip_a and skip_b
 * (header and payload), walking the attributes from offset off. A malformed area ends the walk
 * (the rest is hashed as it is: the parser refuses the message the same way each time). The dump
 * digests' common part (route_digest, neigh_digest). */
uint64_t attr_digest(const uint8_t *p, size_t len, size_t off, size_t from, uint64_t h, uint16_t skip_a,
		     uint16_t skip_b);

static inline size_t attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}
static inline const void *attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

/* Exact-length readers: -EBADMSG on a wrong length; 0 when a is NULL (out untouched). */
int attr_get_u8(const struct nlattr *a, uint8_t *out);
int attr_get_u16(const struct nlattr *a, uint16_t *out);
int attr_get_u32(const struct nlattr *a, uint32_t *out);
/* Address of the given family: exactly 4 (AF_INET) or 16 (AF_INET6) bytes into out[16]. */
int attr_get_addr(const struct nlattr *a, uint8_t family, uint8_t out[16]);
/* NUL-terminated string of at most maxlen characters: -EBADMSG when unterminated or too long. */
int attr_get_str(const struct nlattr *a, size_t maxlen, const char **s, size_t *len);
/* Byte string of 1..maxlen bytes (link-layer addresses of any length). */
int attr_get_bytes(const struct nlattr *a, size_t maxlen, uint8_t *out, uint8_t *len);

static inline size_t af_addr_len(uint8_t family)
{
	return family == 2 /* AF_INET */ ? 4 : family == 10 /* AF_INET6 */ ? 16 : 0;
}



/* Start a dump request in buf: a zeroed netlink header of this type and a zeroed family header of
 * hdrlen bytes (returned), nlmsg_len covering both. The caller sets the family header's fields. */
static inline void *nl_request_start(void *buf, uint16_t type, size_t hdrlen)
{
	struct nlmsghdr *nlh = buf;

	__builtin_memset(buf, 0, NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen));
	nlh->nlmsg_type = type;
	nlh->nlmsg_len = (uint32_t)(NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen));
	return (char *)buf + NLMSG_HDRLEN;
}

static inline size_t nl_request_len(const void *buf)
{
	return ((const struct nlmsghdr *)buf)->nlmsg_len;
}

/* What every parser callback receives: the snapshot to fill and the dump's context. */
struct snapshot;
struct route_seams;
struct nl_walk;
struct parse_ctx {
	struct snapshot *snap;
	uint8_t proto; /* sock_diag: the protocol the request asked for */
	uint8_t proxy; /* neighbours: this is the proxy (pneigh) dump */
	/* neighbours: the digest covers NUD_NOARP entries too (all_neighbors: the snapshot keeps
	 * them) */
	uint8_t keep_noarp;
	uint8_t event; /* routes: a change notification, so RTM_DELROUTE is a route too */
	/* routes: where the kernel's IPv4 dump broke between datagrams (NULL: not tracked), and
	 * the walk that tells which datagram a message came in */
	struct route_seams *seams;
	const struct nl_walk *walk;
	/* routes, neighbours: the dump's digest, folded message by message (route_digest,
	 * neigh_digest); NULL: none */
	uint64_t *digest;
	/* a dump only digested: the messages that are records of the table (what parsing would
	 * have kept) */
	uint32_t digested;
};
#endif
