/* reader: the bytes of one open file, from the object store.
 *
 * Serves reads from aligned blocks. Each block is one ranged GET (block_size
 * bytes, 1 MiB or more), so the kernel's 128 KiB reads never become 128 KiB
 * requests. When reads go forward, the next blocks are fetched in the
 * background by a shared pool of workers, and the distance ahead doubles up
 * to max_ahead blocks.
 *
 * Memory: all block buffers of all readers come out of one budget,
 * cache_bytes (block_size each). A read that finds none free takes the least
 * recently used block of any reader, or waits for one; prefetching takes
 * only what nobody needs. However many files are open, block memory stays
 * within cache_bytes.
 *
 * The object store is the truth, checked at every answer: the first answer
 * fixes the object's ETag, the first Content-Range its length. A different
 * ETag or length later means the object changed: that read and every later
 * one of this reader that needs the store fail with -EIO (blocks fetched
 * before are still served: old bytes, never bytes of two versions). Answers
 * that contradict themselves, a 416 below the known length, or a 200 shorter
 * than the listing said are retried, then -EIO: never the end of the file.
 * Expired URLs (403) are replaced through the url callback (asked before
 * every request, so a cached URL near its expiry is replaced before it
 * fails) and the request repeated; a dropped transfer is resumed from its
 * last good byte; other failures are retried with backoff, `retries` times
 * at most for attempts that deliver nothing.
 *
 * Time: a read fails with -EIO at most timeout_s x (retries+1) plus the
 * backoff (retry_backoff_total_ms) after it started, whatever the block size
 * (reader_stats.deadline_ms), and at once after retry_abort_all().
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

struct diskcache;

/* Fills *url (malloc'd) for this file; stale is the URL just refused, or NULL. */
typedef int (*reader_url_fn)(void *ctx, const char *stale, char **url);

/* Where the bytes come from: get_range has http_get_range's contract. The
 * default (get_range NULL) is http_get_range on reader_pool_opts.http; unit
 * tests plug in a fake store. Called from many threads at once. */
struct reader_store {
    int (*get_range)(void *ctx, const char *url, uint64_t off, size_t len, uint64_t deadline_ms,
                     char *dst, size_t *got, struct http_object *obj);
    void *ctx;
};

struct reader_pool;
struct reader;

struct reader_pool_opts {
    struct http_pool *http;    /* object-store connections (the default store) */
    struct reader_store store; /* get_range NULL: the default */
    unsigned workers;          /* background fetch threads */
    size_t block_size;         /* bytes per request */
    unsigned max_ahead;        /* blocks fetched ahead of a sequential reader */
    unsigned retries;          /* retries of a request that delivered nothing */
    unsigned timeout_s;        /* the http timeout, for a read's deadline (0 = 30) */
    unsigned backoff_ms;       /* base of the backoff (0 = RETRY_BASE_MS; tests shorten it) */
    size_t cache_bytes;        /* every block buffer of every reader, reads included */
    struct diskcache *disk;    /* blocks kept on disk (cache_dir=), NULL: none */
};

/* Starts the workers. Call after daemonizing (threads do not survive fork). */
struct reader_pool *reader_pool_new(const struct reader_pool_opts *opts);
/* Stops the workers; every reader must be closed first. */
void reader_pool_free(struct reader_pool **p);

/* A reader for one object. url_ctx is owned by the caller and must stay valid
 * until reader_close; free_ctx (may be NULL) is called on it at the end.
 * size_hint: the listing's length (0 = none). Until a Content-Range says
 * otherwise, no answer may make the object shorter than that. */
struct reader *reader_open(struct reader_pool *p, uint64_t size_hint, reader_url_fn url,
                           void *url_ctx, void (*free_ctx)(void *));

/* Learns the object's length and ETag from the store (fetching the first
 * block). 0 with *size and etag (NUL-terminated, "" if none) set, or a
 * negative errno. */
int reader_probe(struct reader *r, uint64_t *size, char *etag, size_t etag_len);

/* Names the object for the disk cache (its blocks are kept on disk only
 * with a name): the backup's or package's id, unique within the provider.
 * Call before the first read. */
void reader_set_cache_id(struct reader *r, const char *id);

/* Answers a read from the disk cache when the bytes at off are all in one
 * block on disk and that block is neither in memory nor being loaded (a
 * stream's blocks are, read ahead whole from disk by the workers): reads
 * them into buf, checked, and returns the byte count (the object may end
 * sooner than size); 0 when the read must go through reader_read. */
ssize_t reader_read_disk(struct reader *r, char *buf, size_t size, uint64_t off);

/* Reads up to size bytes at off; returns bytes read (0 at the end) or -errno.
 * Never fewer bytes than asked for because of a failure: fewer only at the
 * end of the object. */
ssize_t reader_read(struct reader *r, char *buf, size_t size, uint64_t off);

/* The Last-Modified the store gave with the object ("" if none), once
 * reader_probe succeeded: with the ETag, what tells one version from
 * another. */
void reader_modified(struct reader *r, char *out, size_t n);

/* The object changed since this reader learned it (another open saw a new
 * ETag or length): its blocks are dropped and every read from now on fails
 * with -EIO. */
void reader_invalidate(struct reader *r);

/* Drops the caller's reference; the reader goes when background work ends. */
void reader_close(struct reader **r);

/* Counters for tests and logs. */
struct reader_stats {
    unsigned long requests;  /* ranged GETs sent */
    unsigned long refreshes; /* URLs replaced after a 403 */
    unsigned long retries;   /* attempts that delivered nothing, retried */
    unsigned long resumes;   /* transfers that broke after good bytes, resumed */
    size_t mapped;           /* bytes of block buffers now */
    size_t mapped_peak;      /* the most there ever were (never above cache_bytes) */
    uint64_t deadline_ms;    /* how long a read may take at most */
};
void reader_pool_stats(struct reader_pool *p, struct reader_stats *out);

/* Block arithmetic, exposed for unit tests: the first and last block index
 * covering [off, off+len) with block size bs (len > 0). */
void reader_span(uint64_t off, size_t len, size_t bs, uint64_t *first, uint64_t *last);

#endif
