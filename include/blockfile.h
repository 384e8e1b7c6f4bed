/* blockfile: one block of the disk cache as a file (diskcache.h is the
 * cache around it): its name, its header, writing it whole, and reading
 * bytes of it with every chunk they touch checked.
 *
 * The file: a header (magic, version, header size, key, block index,
 * length, chunk size and count, a CRC32C per DISKCACHE_CHUNK bytes, a
 * CRC32C of all that, zeros up to a multiple of BLOCKFILE_ALIGN), then the
 * bytes: they start aligned, so the file can be written with O_DIRECT.
 * Pure functions over file descriptors: no state, any thread.
 */
#ifndef UMONGOFS_BLOCKFILE_H
#define UMONGOFS_BLOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISKCACHE_CHUNK    (64u << 10) /* bytes per checksum */
#define BLOCKFILE_NAME_MAX 96          /* "XX/" + 64 hex + "-" + 16 hex, and the NUL */
#define BLOCKFILE_ALIGN    4096u       /* header size multiple; O_DIRECT alignment */

/* What names the blocks of one version of an object (diskcache_key). */
struct dc_key {
    unsigned char b[32];
};

/* "XX/<64 hex key>-<16 hex b>", XX the key's first byte. */
void blockfile_name(char out[BLOCKFILE_NAME_MAX], const struct dc_key *k, uint64_t b);
/* Parses "<64 hex key>-<16 hex b>" (a name inside XX/): true when it is one. */
bool blockfile_parse_name(const char *name, struct dc_key *k, uint64_t *b);

/* Chunks of a len-byte block, and the size of its header. */
size_t blockfile_chunks(size_t len);
size_t blockfile_head_size(size_t len);

/* Reads and checks the header of the open file fd as block b of k, len
 * bytes long: magic, version, key, index, length, chunking, the header's
 * CRC, zero padding, a regular file exactly header + len bytes long. The
 * chunk CRCs (malloc'd), or NULL: *bad set when the file is bad rather
 * than memory short. */
uint32_t *blockfile_read_head(int fd, const struct dc_key *k, uint64_t b, size_t len, bool *bad);

/* Reads bytes [from, to) of the len-byte block in fd into out, checking
 * every chunk they touch against crcs, so the bytes checked are the bytes
 * handed out. in_place: out is the caller's alone until this returns, so
 * whole chunks may be read into it and checked there (a bad chunk then
 * leaves its bytes in out). Otherwise each chunk goes through a buffer on
 * the stack and reaches out only once checked: for a buffer others may be
 * reading meanwhile. False when a read comes up short or a chunk does not
 * match. */
bool blockfile_read_checked(int fd, const uint32_t *crcs, size_t len, char *out, size_t from,
                            size_t to, bool in_place);

/* Creates tmp (O_EXCL, mode 0600) in dir_fd and writes block b of k (len
 * bytes at data) into it, header first. With data page-aligned (a block
 * buffer), through O_DIRECT where the filesystem takes it: the bytes go to
 * the disk without a copy in the page cache. 0 or -errno. */
int blockfile_write(int dir_fd, const char *tmp, const struct dc_key *k, uint64_t b,
                    const char *data, size_t len);

#endif
