/* crc32c: the Castagnoli CRC (iSCSI, ext4, mountpoint-s3's cache) that
 * guards every chunk of a block kept on disk (diskcache.c).
 *
 * On x86-64 with SSE 4.2 it runs on the CPU's crc32 instruction (several
 * GB/s, so checking every read from disk costs little next to the read);
 * elsewhere on a table. Both give the same values (tests/unit/test_crc32c.c).
 * A leaf: no state but a table built once, thread-safe.
 */
#ifndef UMONGOFS_CRC32C_H
#define UMONGOFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of len bytes at p, continuing from crc (0 to start):
 * crc32c(crc32c(0, a, n), b, m) == crc32c of a then b. */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

/* The table version, whatever the CPU (tests compare the two). */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t len);

#endif
