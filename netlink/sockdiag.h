/*
 * sockdiag: NETLINK_SOCK_DIAG dump requests for TCP and UDP sockets and the inet_diag_msg parser
 * (family, protocol, state, local/remote address and port, uid, inode, bound interface).
 *
 * TCP uses the legacy TCPDIAG_GETSOCK request where the kernel offers it: it walks the shared
 * established/listen hashes once for both families (the compat path sets sdiag_family AF_UNSPEC),
 * where two SOCK_DIAG_BY_FAMILY requests walk them twice; a nearly empty TCP dump still costs
 * ~0.2 ms per walk because the kernel scans every bucket. UDP has no such path: one request per
 * family.
 */
#ifndef NETINV_SOCKDIAG_H
#define NETINV_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

/* Both families in one walk (TCP only). */
size_t sd_request_compat_tcp(void *buf);
size_t sd_request(void *buf, uint8_t family, uint8_t proto);
int sd_parse(const struct nlmsghdr *nlh, void *ctx);

#endif
