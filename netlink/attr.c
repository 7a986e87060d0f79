#include "attr.h"
#include "../delta/hash.h"

#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>

int attr_parse_area(const void *p, size_t len, const struct nlattr **tb, uint16_t maxtype)
{
	const uint8_t *b = p;
	size_t off = 0;

	memset(tb, 0, sizeof(*tb) * ((size_t)maxtype + 1));
	/* off can pass len by the alignment padding of a last attribute that is not padded: test
	 * off < len first, or len - off wraps around (found by fuzzing). */
	while (off < len && len - off >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)(b + off);
		uint16_t type;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			return -EBADMSG;
		type = a->nla_type & NLA_TYPE_MASK;
		if (type <= maxtype)
			tb[type] = a;
		off += NLA_ALIGN(a->nla_len);
	}
	/* Up to 3 bytes of alignment padding may follow the last attribute, nothing more. */
	if (off < len && len - off >= NLA_HDRLEN)
		return -EBADMSG;
	return 0;
}

int attr_parse(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, uint16_t maxtype)
{
	size_t plen;

	if (nlh->nlmsg_len < NLMSG_HDRLEN)
		return -EBADMSG;
	plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (plen < hdrlen)
		return -EBADMSG;
	hdrlen = NLMSG_ALIGN(hdrlen);
	if (plen < hdrlen)
		hdrlen = plen;
	return attr_parse_area((const char *)nlh + NLMSG_HDRLEN + hdrlen, plen - hdrlen, tb, maxtype);
}

int attr_parse_nested(const struct nlattr *nest, const struct nlattr **tb, uint16_t maxtype)
{
	return attr_parse_area(attr_data(nest), attr_len(nest), tb, maxtype);
}

int attr_get_u8(const struct nlattr *a, uint8_t *out)
{
	if (!a)
		return 0;
	if (attr_len(a) != 1)
		return -EBADMSG;
	*out = *(const uint8_t *)attr_data(a);
	return 0;
}

int attr_get_u16(const struct nlattr *a, uint16_t *out)
{
	if (!a)
		return 0;
	if (attr_len(a) != 2)
		return -EBADMSG;
	memcpy(out, attr_data(a), 2);
	return 0;
}

int attr_get_u32(const struct nlattr *a, uint32_t *out)
{
	if (!a)
		return 0;
	if (attr_len(a) != 4)
		return -EBADMSG;
	memcpy(out, attr_data(a), 4);
	return 0;
}

int attr_get_addr(const struct nlattr *a, uint8_t family, uint8_t out[16])
{
	size_t l = af_addr_len(family);

	if (!a)
		return 0;
	if (!l || attr_len(a) != l)
		return -EBADMSG;
	memset(out, 0, 16);
	memcpy(out, attr_data(a), l);
	return 0;
}

int attr_get_str(const struct nlattr *a, size_t maxlen, const char **s, size_t *len)
{
	const char *p;
	const char *nul;

	if (!a)
		return 0;
	p = attr_data(a);
	nul = memchr(p, 0, attr_len(a));
	if (!nul || (size_t)(nul - p) > maxlen)
		return -EBADMSG;
	*s = p;
	*len = (size_t)(nul - p);
	return 0;
}

int attr_get_bytes(const struct nlattr *a, size_t maxlen, uint8_t *out, uint8_t *len)
{
	if (!a)
		return 0;
	if (attr_len(a) == 0 || attr_len(a) > maxlen)
		return -EBADMSG;
	memcpy(out, attr_data(a), attr_len(a));
	*len = (uint8_t)attr_len(a);
	return 0;
}

uint64_t attr_digest(const uint8_t *p, size_t len, size_t off, size_t from, uint64_t h, uint16_t skip_a,
		     uint16_t skip_b)
{
	while (off + NLA_HDRLEN <= len) {
		const struct nlattr *a = (const void *)(p + off);
		size_t next = off + NLA_ALIGN(a->nla_len);
		uint16_t type = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			break;
		if (next > len)
			next = len;
		if (type == skip_a || type == skip_b) {
			h = hash64(p + from, off - from, h);
			from = next;
		}
		off = next;
	}
	return hash64(p + from, len - from, h);
}
