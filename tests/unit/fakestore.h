/* fakestore: an in-process fake object store for the reader's unit tests
 * (reader.h's store seam: struct reader_store), with fault knobs and a
 * record of the requests, and the URL source that goes with it. Nothing
 * leaves the process. */
#ifndef UMONGOFS_TEST_FAKESTORE_H
#define UMONGOFS_TEST_FAKESTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* One object. Every field is guarded by lock (workers call fake_get). */
struct fake {
    pthread_mutex_t lock;
    char *data;
    uint64_t size;
    char etag[64];
    bool no_etag;
    /* Faults, each for the next N calls: */
    unsigned fail;  /* -EAGAIN, nothing delivered */
    unsigned proto; /* -EPROTO */
    unsigned drop;  /* drop_after bytes, then -EAGAIN */
    size_t drop_after;
    bool etag_after_drop; /* the object "changes" right after a drop */
    unsigned r416;        /* 416; with r416_total, "bytes * /r416_value" */
    bool r416_total;
    uint64_t r416_value;
    unsigned cut200; /* a 200 without length whose body ends at cut200_at */
    uint64_t cut200_at;
    unsigned refuse_below; /* URLs of an older generation get 403 */
    unsigned hang_ms;      /* every call waits this long (deadline, abort) */
    /* What happened: */
    unsigned calls;
    uint64_t offs[64]; /* the first 64 requested offsets */
    size_t lens[64];   /* and lengths */
};

/* Changes the fake under its lock: workers may be calling it. */
#define FAKE(f, ...)                                                                               \
    do {                                                                                           \
        pthread_mutex_lock(&(f)->lock);                                                            \
        __VA_ARGS__;                                                                               \
        pthread_mutex_unlock(&(f)->lock);                                                          \
    } while (0)

/* The reader_store get_range of a struct fake (ctx). */
int fake_get(void *ctx, const char *url, uint64_t off, size_t len, uint64_t deadline_ms, char *dst,
             size_t *got, struct http_object *obj);
/* An object of size pseudo-random bytes with ETag "v1". */
struct fake *fake_new(uint64_t size);
/* New contents (same ETag): size bytes from seed. */
void fake_fill(struct fake *f, uint64_t size, unsigned seed);
/* A new ETag, same bytes: the object "changed". */
void fake_etag(struct fake *f, const char *tag);
void fake_free(struct fake *f);
/* Requests answered so far. */
unsigned fake_calls(struct fake *f);

/* The URL source: "fake://object?gen=N"; a URL refused as stale moves on to
 * the next generation. Fields guarded by lock. */
struct urls {
    pthread_mutex_t lock;
    unsigned gen;
    unsigned calls, stale_calls;
    char last_stale[64];
};

extern struct urls g_urls;
/* A reader_url_fn over struct urls (ctx). */
int url_cb(void *ctx, const char *stale, char **url);
/* Back to generation 1, counters zeroed. */
void urls_reset(void);

#endif
