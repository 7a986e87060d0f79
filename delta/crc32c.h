/*
 * crc32c: CRC-32C (Castagnoli, iSCSI/ext4/Btrfs), the checksum of netinv's state file. The SSE4.2
 * crc32 instruction does 8 bytes a cycle where the CPU has it (a 9 MB state is checked in under a
 * millisecond, where zlib's CRC-32 took ~4 instructions a byte); a table-driven version elsewhere.
 * Both give the same values; tests pin them to the standard check value.
 */
#ifndef NETINV_CRC32C_H
#define NETINV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c(0, "123456789", 9) == 0xe3069283 */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
