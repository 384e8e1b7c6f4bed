/* reader: the bytes of one open file, from the object store.
 *
 * Serves reads from a per-handle cache of aligned blocks. Each block is one
 * ranged GET (block_size bytes, 1 MiB or more), so the kernel's 128 KiB reads
 * never become 128 KiB requests. When reads go forward, the next blocks are
 * fetched in the background by a shared pool of workers, and the distance
 * ahead doubles up to max_ahead blocks.
 *
 * The object store is the truth: the first reply fixes the object's length
 * and ETag; a later reply that disagrees fails the read with -EIO instead of
 * mixing bytes of two objects. Expired URLs (403) are replaced through the
 * url callback (asked before every request, so a cached URL near its expiry
 * is replaced before it fails) and the request repeated; transient failures are retried with
 * backoff, at most `retries` times.
 *
 * Thread-safe: many threads may read one reader at once.
 */
#ifndef UMONGOFS_READER_H
#define UMONGOFS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"

/* Fills *url (malloc'd) for this file; stale is the URL just refused, or NULL. */
typedef int (*reader_url_fn)(void *ctx, const char *stale, char **url);

struct reader_pool;
struct reader;

struct reader_pool_opts {
    struct http_pool *http; /* object-store connections */
    unsigned workers;       /* background fetch threads */
    size_t block_size;      /* bytes per request */
    unsigned max_ahead;     /* blocks fetched ahead of a sequential reader */
    unsigned retries;       /* retries of a failed request */
    size_t cache_bytes;     /* block memory prefetching may use across all readers;
                               reads themselves may exceed it by a block or two each */
};

/* Starts the workers. Call after daemonizing (threads do not survive fork). */
struct reader_pool *reader_pool_new(const struct reader_pool_opts *opts);
/* Stops the workers; every reader must be closed first. */
void reader_pool_free(struct reader_pool **p);

/* A reader for one object. url_ctx is owned by the caller and must stay valid
 * until reader_close; free_ctx (may be NULL) is called on it at the end.
 * size_hint: the listing's size (used only until the store says otherwise). */
struct reader *reader_open(struct reader_pool *p, reader_url_fn url, void *url_ctx,
                           void (*free_ctx)(void *));

/* Learns the object's length and ETag from the store (fetching the first
 * block). 0 with *size and etag (NUL-terminated, "" if none) set, or a
 * negative errno. */
int reader_probe(struct reader *r, uint64_t *size, char *etag, size_t etag_len);

/* Reads up to size bytes at off; returns bytes read (0 at the end) or -errno. */
ssize_t reader_read(struct reader *r, char *buf, size_t size, uint64_t off);

/* Drops the caller's reference; the reader goes when background work ends. */
void reader_close(struct reader **r);

/* Counters for tests and logs. */
struct reader_stats {
    unsigned long requests;  /* ranged GETs sent */
    unsigned long refreshes; /* URLs replaced after a 403 */
    unsigned long retries;
};
void reader_pool_stats(struct reader_pool *p, struct reader_stats *out);

/* Block arithmetic, exposed for unit tests: the first and last block index
 * covering [off, off+len) with block size bs (len > 0). */
void reader_span(uint64_t off, size_t len, size_t bs, uint64_t *first, uint64_t *last);

#endif
