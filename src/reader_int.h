/* reader_int: what reader.c, blocks.c and fetch.c share; nothing else may
 * include it. See reader.h for the contract.
 *
 * Locking: one mutex, pool->lock, guards every mutable field below (slots,
 * readers, the job queue); it is held only for bookkeeping and never while
 * calling the store, the url callback or free_ctx, or while copying a block
 * out (a pinned slot is safe without it). Lock order: pool->lock, then the
 * disk cache's own (diskcache_has, a lookup); nothing else is locked while
 * holding it. Atomics are for counters only.
 */
#ifndef UMONGOFS_READER_INT_H
#define UMONGOFS_READER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diskcache.h"
#include "http.h"
#include "reader.h"

enum slot_state {
    SLOT_FREE,    /* no owner; data (if mapped) is a spare buffer */
    SLOT_LOADING, /* one thread fetches it (or a queued job will) */
    SLOT_READY,
    SLOT_FAILED,
};

/* One buffer of block_size bytes and what it holds. The pool has
 * cache_bytes / block_size of them, so block memory never exceeds the budget.
 *
 * A block is not always fetched whole: a cold read fetches a window around
 * what it needs (READ_MIN_REQ at least), and later reads grow the window
 * (fourfold each time, see reader.c). The buffer is indexed by the offset in
 * the block; bytes [lo, hi) are valid. Pages outside the window are never
 * touched, so they cost no memory. */
struct slot {
    enum slot_state state;
    struct reader *owner;    /* NULL when FREE */
    struct slot *next_owned; /* the owner's list */
    uint64_t block;
    char *data;         /* mapped on first use, NULL before */
    size_t lo, hi;      /* READY (and LOADING to grow): valid bytes of the block */
    bool end;           /* READY: the object ends at hi */
    int err;            /* FAILED: the negative errno */
    uint64_t failed_ms; /* FAILED: when */
    bool fail_told;     /* FAILED: the error was already repeated once */
    bool queued;        /* LOADING for a worker job that has not started */
    bool consumed;      /* a read copied from it: prefetching may reuse it */
    unsigned pins;      /* threads copying out of data without the lock */
    uint64_t ticket;    /* changes at every claim: tells a job its slot is still its own */
    uint64_t used;      /* LRU tick */
};

struct reader {
    struct reader_pool *pool; /* immutable */
    reader_url_fn url_fn;     /* immutable; thread-safe: called from readers and workers */
    void *url_ctx;            /* immutable */
    void (*free_ctx)(void *); /* immutable */
    uint64_t floor;           /* immutable: the listing's length, 0 = none */
    int refs;                 /* the opener, queued jobs, loads in flight */
    bool closing;
    bool stale;       /* the object changed: every read fails */
    bool total_known; /* the store said the length */
    uint64_t total;
    char etag[HTTP_ETAG_MAX];         /* the first answer's, "" if it had none */
    char modified[HTTP_MODIFIED_MAX]; /* its Last-Modified, "" if none */
    bool answered;                    /* an answer (not a 416) was believed */
    struct slot *owned;               /* slots with this owner */
    unsigned n_owned;
    uint64_t seq_end; /* where the last read ended: the next sequential offset */
    uint64_t seq_run; /* bytes read in the current sequential run */
    unsigned ahead;   /* current prefetch distance, in blocks */
    char *cache_id;   /* set before the first read, then immutable: the disk cache's name */
    bool key_ready;   /* key is set (then immutable): blocks may live on disk */
    struct dc_key key;
};

struct job {
    struct reader *r;
    struct slot *slot;
    uint64_t ticket;
    struct job *next;
};

struct reader_pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* workers: a job came, or stop */
    pthread_cond_t slot_cond; /* a slot finished loading, was released or unpinned
                                 (CLOCK_MONOTONIC) */
    struct job *head, *tail;
    bool stop;
    struct slot *slots; /* the budget: n_slots buffers */
    unsigned n_slots;
    unsigned buf_waiters; /* reads waiting for a buffer: prefetching yields to them */
    unsigned n_readers;   /* open (or closing) readers */
    uint64_t tick;
    size_t mapped, mapped_peak; /* bytes of buffers mapped now / at most */
    /* Immutable after reader_pool_new: */
    pthread_t *threads;
    unsigned n_threads;
    struct reader_store store;
    struct diskcache *disk; /* NULL: no disk cache */
    size_t bs;
    unsigned max_ahead;
    unsigned per_reader; /* most slots one reader may hold */
    unsigned retries;
    unsigned backoff_ms;
    uint64_t read_ms; /* a read's deadline: timeout x (retries+1) + backoff */
    atomic_ulong requests, refreshes, retried, resumed;
};

/* blocks.c: the slots (pool->lock held for all). */
int blocks_init(struct reader_pool *p, size_t cache_bytes);
void blocks_destroy(struct reader_pool *p);
struct slot *blocks_find(struct reader *r, uint64_t b);
/* A slot, now LOADING block b for r, or NULL: none can be had now (a read
 * waits for one) or, with *err, none can be mapped. Prefetching (prefetch)
 * only takes free slots or blocks a read has already copied, and nothing
 * while a read waits for a buffer. */
struct slot *blocks_claim(struct reader *r, uint64_t b, bool prefetch, int *err);
void blocks_release(struct slot *s);
/* Releases every slot of r that nobody is loading or copying. */
void blocks_release_reader(struct reader *r);
/* Unmaps spare buffers: called when no reader is open. */
void blocks_trim(struct reader_pool *p);

/* fetch.c: bytes [from, upto) of block b of r into dst + from (dst: the
 * block's buffer) by deadline_ms. *hi = the end of what was stored: upto, or
 * less with *end set when the object ends there. Called without the lock.
 * 0 or a negative errno (-EIO, -ECANCELED, ...). */
int fetch_block(struct reader *r, uint64_t b, char *dst, size_t from, size_t upto, size_t *hi,
                bool *end, uint64_t deadline_ms);

/* reader_disk.c: the disk cache under the readers (pool->disk NULL: none). */
/* Whether r's blocks may be on disk (sets r->key then). Lock held. */
bool disk_ready(struct reader *r);
/* The length of block b of r (total known), 0 past the end. */
size_t disk_block_len(const struct reader *r, uint64_t b);
/* Whether block b of r is on disk. Lock held. */
bool disk_has(struct reader *r, uint64_t b);
/* Like fetch_block, from disk: [from, upto) of block b, or to the block's
 * end when extend. 0, or -ENOENT: fetch it from the store. Lock not held. */
int disk_load(struct reader *r, uint64_t b, char *dst, size_t from, size_t upto, bool extend,
              size_t *hi, bool *end);
/* Stores READY slot s on disk when it holds its whole block. Lock held
 * (dropped meanwhile, s pinned). */
void disk_keep(struct reader *r, struct slot *s);

#endif
