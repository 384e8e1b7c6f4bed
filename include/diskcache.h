/* diskcache: whole blocks of objects kept on local disk (-o cache_dir=DIR,
 * cache_max=SIZE), so a second read of a backup, in this mount or a later
 * one, does not go to the object store again.
 *
 * Correct by construction:
 * - A block is named by a key (diskcache_key: the object's id, its strong
 *   ETag, its length and the block size) and its index: an object that
 *   changed has another key and never meets its old blocks.
 * - Each block file (blockfile.h) holds a header (key, index, length, a
 *   CRC32C of every 64 KiB chunk, a CRC of the header) and the bytes. Every read from disk
 *   checks the chunks it reads; a block that fails (flipped, truncated,
 *   wrong header, gone) is deleted, reported as missing and fetched again.
 * - A block is written to DIR/v1/tmp/ and renamed into place, and never
 *   written again: a crash leaves a temporary file (removed at the next
 *   start) or a whole block.
 * - One mount at a time: DIR/lock is flock'ed for the process's lifetime;
 *   a second mount on DIR is refused.
 * - DIR must be the mounting user's own and not writable by others; it is
 *   created 0700 when missing.
 *
 * Bad disks degrade, never fail a read: a cache that cannot be set up at
 * start (read-only, full, unusable) is turned off with one log line; a
 * block that cannot be stored (disk full, DIR removed) turns storing off
 * for a minute with one log line; reads from disk that fail are misses.
 *
 * Least recently used blocks are deleted while the files exceed cache_max.
 * Use is remembered across mounts by the files' mtimes (touched at most
 * once a minute per block).
 *
 * Layout: DIR/lock, DIR/v1/tmp/, DIR/v1/XX/<64 hex key>-<16 hex index>,
 * XX the key's first byte. Only these names are ever created or deleted.
 *
 * Thread-safe. dc->lock guards the index; it is a leaf (taken under the
 * reader pool's lock by diskcache_has, never the other way round), and
 * file I/O happens without it except the unlinks of an eviction.
 */
#ifndef UMONGOFS_DISKCACHE_H
#define UMONGOFS_DISKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blockfile.h"

struct diskcache;

/* Opens (creating what is missing) the cache in dir, bounded by max_bytes.
 * 0 with *out set, or with *out NULL when the cache could not be set up and
 * is off (one line logged; the mount reads without it). A negative errno
 * with err set when the mount must be refused: -EBUSY (another mount holds
 * dir), -EPERM (dir belongs to another user or others may write to it). */
int diskcache_open(const char *dir, uint64_t max_bytes, struct diskcache **out, char *err,
                   size_t errlen);
void diskcache_close(struct diskcache **dc);

/* The key of the blocks of one version of an object; false when out of
 * memory (the object is then not cached). */
bool diskcache_key(struct dc_key *k, const char *id, const char *etag, uint64_t length,
                   uint64_t block_size);

/* Whether block b of k is on disk (as far as the index knows). */
bool diskcache_has(struct diskcache *dc, const struct dc_key *k, uint64_t b);

/* Reads bytes [from, to) of block b (len bytes long) into out, checking
 * every chunk they touch; the bytes checked are the bytes handed out, and
 * only checked bytes are ever written to out (others may be reading it: a
 * block buffer). 0, or -ENOENT: not on disk, or bad (then deleted). */
int diskcache_read(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len, char *out,
                   size_t from, size_t to);
/* The same into a buffer nobody else reads until this returns (a reply):
 * whole chunks are checked in place, one copy fewer; after a failure out
 * holds unchecked bytes, to be thrown away. */
int diskcache_read_private(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len,
                           char *out, size_t from, size_t to);

/* Stores block b (len bytes at data), best effort. */
void diskcache_store(struct diskcache *dc, const struct dc_key *k, uint64_t b, const char *data,
                     size_t len);

#endif
