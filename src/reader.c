/* reader: block cache, sequential prefetch and retries for one open file.
 * See reader.h for the contract.
 *
 * Each reader has a few slots, each holding one aligned block. A slot is
 * EMPTY, LOADING (one thread, a reader or a worker, is fetching it; others
 * wait on the reader's condition variable), READY or FAILED. Loading slots
 * are never evicted; otherwise the least recently used slot is reused.
 */
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "retry.h"

enum slot_state { SLOT_EMPTY, SLOT_LOADING, SLOT_READY, SLOT_FAILED };

struct slot {
    enum slot_state state;
    uint64_t block;
    char *data;       /* block_size bytes, allocated on first use */
    size_t len;       /* bytes valid (less than block_size only at the end) */
    int err;          /* FAILED: the negative errno */
    time_t failed_at; /* FAILED: when (monotonic seconds) */
    bool fail_told;   /* FAILED: the error was already repeated once */
    bool queued;      /* LOADING for a worker job that has not started yet */
    uint64_t ticket;  /* changes at every claim: tells a job its slot is still its own */
    uint64_t used;    /* LRU tick */
};

struct reader {
    struct reader_pool *pool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool closing;

    reader_url_fn url_fn; /* thread-safe: called from readers and workers */
    void *url_ctx;
    void (*free_ctx)(void *);

    bool total_known;
    uint64_t total;
    char etag[128];

    struct slot *slots;
    unsigned n_slots;
    uint64_t tick;

    uint64_t seq_end; /* where the last read ended: the next sequential offset */
    unsigned ahead;   /* current prefetch distance, in blocks */
};

struct job {
    struct reader *r;
    struct slot *slot;
    uint64_t ticket;
    struct job *next;
};

struct reader_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    bool stop;
    pthread_t *threads;
    unsigned n_threads;
    struct http_pool *http;
    size_t bs;
    unsigned max_ahead;
    unsigned retries;
    size_t budget;           /* bytes of block buffers prefetching may hold in all */
    atomic_size_t allocated; /* bytes of block buffers held by all readers */
    atomic_ulong requests, refreshes, retried;
};

void reader_span(uint64_t off, size_t len, size_t bs, uint64_t *first, uint64_t *last)
{
    *first = off / bs;
    *last = (off + len - 1) / bs;
}

/* ---------- references ---------- */

static void reader_unref_locked(struct reader *r)
{
    /* Called with r->lock held; drops it. */
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    for (unsigned i = 0; i < r->n_slots; i++) {
        if (r->slots[i].data)
            atomic_fetch_sub(&r->pool->allocated, r->pool->bs);
        free(r->slots[i].data);
    }
    free(r->slots);
    if (r->free_ctx)
        r->free_ctx(r->url_ctx);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

/* ---------- one block from the store ---------- */

/* Checks a reply against what earlier replies said. Lock held. */
static int check_identity(struct reader *r, const struct http_object *obj)
{
    if (obj->total != HTTP_UNKNOWN_SIZE) {
        if (r->total_known && r->total != obj->total) {
            log_err("object length changed from %" PRIu64 " to %" PRIu64 " while open", r->total,
                    obj->total);
            return -EIO;
        }
        r->total = obj->total;
        r->total_known = true;
    }
    if (obj->etag[0]) {
        if (r->etag[0] && strcmp(r->etag, obj->etag) != 0) {
            log_err("object changed while open (ETag %s, was %s)", obj->etag, r->etag);
            return -EIO;
        }
        memcpy(r->etag, obj->etag, sizeof(r->etag));
    }
    return 0;
}

/* Fetches block b into dst (block_size bytes); *len = bytes stored.
 * Called without the lock. */
static int fetch_block(struct reader *r, uint64_t b, char *dst, size_t *len)
{
    struct reader_pool *p = r->pool;
    uint64_t off = b * p->bs;
    size_t want = p->bs;
    *len = 0;
    pthread_mutex_lock(&r->lock);
    if (r->total_known) {
        if (off >= r->total) {
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        if (r->total - off < want)
            want = (size_t)(r->total - off);
    }
    pthread_mutex_unlock(&r->lock);

    char *url = NULL, *stale = NULL;
    int rc = 0;
    unsigned failures = 0, refusals = 0;
    for (;;) {
        /* Asked for every request: the URL cache hands out the same URL
         * until shortly before it expires, then a fresh one, so long reads
         * switch URLs before the store starts refusing them. */
        rc = r->url_fn(r->url_ctx, stale, &url);
        free(stale);
        stale = NULL;
        if (rc)
            break;
        struct http_object obj;
        size_t got = 0;
        atomic_fetch_add(&p->requests, 1);
        rc = http_get_range(p->http, url, off, want, dst, &got, &obj);
        if (rc == 0 || rc == -ERANGE) {
            pthread_mutex_lock(&r->lock);
            int id = check_identity(r, &obj);
            if (rc == -ERANGE && !r->total_known) {
                r->total = off; /* past the end, and the store did not say where it is */
                r->total_known = true;
            }
            pthread_mutex_unlock(&r->lock);
            *len = rc == 0 ? got : 0;
            rc = id;
            break;
        }
        if (rc == -EACCES) {
            /* Expired (or revoked) URL: get a new one. A URL that is refused
             * straight after being issued will not get better by retrying. */
            atomic_fetch_add(&p->refreshes, 1);
            if (++refusals > 2) {
                log_err("object store refuses fresh download URLs (403)");
                break;
            }
            stale = url;
            url = NULL;
            continue;
        }
        if (rc != -EAGAIN) {
            if (rc == -ENOENT)
                log_err("object store no longer has the object (404)");
            rc = -EIO;
            break;
        }
        if (failures >= p->retries) {
            log_err("block at %" PRIu64 ": giving up after %u attempts", off, failures + 1);
            rc = -EIO;
            break;
        }
        atomic_fetch_add(&p->retried, 1);
        retry_sleep(failures++);
        free(url);
        url = NULL;
    }
    free(url);
    free(stale);
    return rc;
}

/* ---------- slots (lock held) ---------- */

static struct slot *find_slot(struct reader *r, uint64_t b)
{
    for (unsigned i = 0; i < r->n_slots; i++)
        if (r->slots[i].state != SLOT_EMPTY && r->slots[i].block == b)
            return &r->slots[i];
    return NULL;
}

/* A slot to load block b into, or NULL when every slot is loading. Never
 * takes a slot holding a block in [keep_lo, keep_hi]. */
static struct slot *claim_slot(struct reader *r, uint64_t b, uint64_t keep_lo, uint64_t keep_hi,
                               bool prefetch)
{
    struct reader_pool *p = r->pool;
    /* Prefetching past the memory budget only reuses buffers it already has;
     * a read that needs a block always gets one. */
    bool lean = prefetch && atomic_load(&p->allocated) + p->bs > p->budget;
    struct slot *best = NULL;
    for (unsigned i = 0; i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        if (s->state == SLOT_LOADING || (lean && !s->data))
            continue;
        if (s->state == SLOT_EMPTY || s->state == SLOT_FAILED) {
            best = s;
            break;
        }
        if (s->block >= keep_lo && s->block <= keep_hi)
            continue;
        if (!best || s->used < best->used)
            best = s;
    }
    if (!best)
        return NULL;
    if (!best->data) {
        if (!(best->data = malloc(p->bs)))
            return NULL;
        atomic_fetch_add(&p->allocated, p->bs);
    }
    best->state = SLOT_LOADING;
    best->block = b;
    best->len = 0;
    best->err = 0;
    best->queued = false;
    best->ticket = ++r->tick;
    best->used = r->tick;
    return best;
}

static bool any_loading(const struct reader *r)
{
    for (unsigned i = 0; i < r->n_slots; i++)
        if (r->slots[i].state == SLOT_LOADING)
            return true;
    return false;
}

/* A failed block repeats its error to one new request within this time
 * instead of being fetched again: the kernel retries a failed page read at
 * once, and running the whole retry schedule twice would double the time to
 * an error. */
#define FAIL_HOLD_S 2

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void finish_slot(struct reader *r, struct slot *s, int rc, size_t len)
{
    s->state = rc ? SLOT_FAILED : SLOT_READY;
    s->err = rc;
    s->len = len;
    s->failed_at = rc ? mono_now() : 0;
    s->fail_told = false;
    pthread_cond_broadcast(&r->cond);
}

/* ---------- background workers ---------- */

static void *worker_main(void *arg)
{
    struct reader_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cond, &p->lock);
        if (!p->head)
            break; /* stopping and nothing left */
        struct job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);

        struct reader *r = j->r;
        struct slot *s = j->slot;
        uint64_t ticket = j->ticket;
        free(j);
        pthread_mutex_lock(&r->lock);
        /* A read that needed the block took the job over: nothing to do. */
        bool mine = s->queued && s->ticket == ticket;
        if (mine && r->closing) {
            s->state = SLOT_EMPTY;
            s->queued = false;
            pthread_cond_broadcast(&r->cond);
        } else if (mine) {
            s->queued = false;
            uint64_t b = s->block;
            pthread_mutex_unlock(&r->lock);
            size_t len = 0;
            int rc = fetch_block(r, b, s->data, &len);
            pthread_mutex_lock(&r->lock);
            finish_slot(r, s, rc, len);
        }
        reader_unref_locked(r);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Queues a background fetch of block b. r->lock held. */
static void schedule(struct reader *r, uint64_t b, uint64_t keep_lo)
{
    if (find_slot(r, b))
        return;
    struct slot *s = claim_slot(r, b, keep_lo, UINT64_MAX, true);
    if (!s)
        return;
    struct job *j = calloc(1, sizeof(*j));
    if (!j) {
        s->state = SLOT_EMPTY;
        return;
    }
    s->queued = true;
    j->r = r;
    j->slot = s;
    j->ticket = s->ticket;
    r->refs++;
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

struct reader_pool *reader_pool_new(const struct reader_pool_opts *o)
{
    struct reader_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->http = o->http;
    p->bs = o->block_size ? o->block_size : (2u << 20);
    p->max_ahead = o->max_ahead;
    p->retries = o->retries;
    p->budget = o->cache_bytes ? o->cache_bytes : (256u << 20);
    p->threads = calloc(o->workers + 1, sizeof(*p->threads));
    if (!p->threads)
        goto fail;
    for (unsigned i = 0; i < o->workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            goto fail;
        p->n_threads++;
    }
    return p;
fail:
    reader_pool_free(&p);
    return NULL;
}

void reader_pool_free(struct reader_pool **pp)
{
    struct reader_pool *p = *pp;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
    *pp = NULL;
}

void reader_pool_stats(struct reader_pool *p, struct reader_stats *out)
{
    out->requests = atomic_load(&p->requests);
    out->refreshes = atomic_load(&p->refreshes);
    out->retries = atomic_load(&p->retried);
}

/* ---------- readers ---------- */

struct reader *reader_open(struct reader_pool *p, reader_url_fn url, void *url_ctx,
                           void (*free_ctx)(void *))
{
    struct reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->n_slots = p->max_ahead + 4;
    r->slots = calloc(r->n_slots, sizeof(*r->slots));
    if (!r->slots) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->pool = p;
    r->refs = 1;
    r->url_fn = url;
    r->url_ctx = url_ctx;
    r->free_ctx = free_ctx;
    return r;
}

void reader_close(struct reader **pr)
{
    struct reader *r = *pr;
    if (!r)
        return;
    *pr = NULL;
    pthread_mutex_lock(&r->lock);
    r->closing = true;
    reader_unref_locked(r);
}

/* Fetches block b into the LOADING slot s on this thread. Lock held (dropped
 * while fetching). Returns the fetch's result; the slot is finished either way. */
static int load_here(struct reader *r, struct slot *s, uint64_t b)
{
    pthread_mutex_unlock(&r->lock);
    size_t len = 0;
    int rc = fetch_block(r, b, s->data, &len);
    pthread_mutex_lock(&r->lock);
    finish_slot(r, s, rc, len);
    return rc;
}

/* Makes block b READY in a slot and returns it, or NULL with *err. Lock held
 * (dropped while fetching). Blocks in [keep_lo, b] are not evicted. */
static struct slot *get_block(struct reader *r, uint64_t b, uint64_t keep_lo, int *err)
{
    bool waited = false;
    for (;;) {
        struct slot *s = find_slot(r, b);
        if (s && s->state == SLOT_READY) {
            s->used = ++r->tick;
            return s;
        }
        if (s && s->state == SLOT_FAILED) {
            /* Those who waited for the fetch share its error. A new request
             * soon after gets it once more (that is the kernel retrying the
             * page read it just saw fail), anything later fetches again. */
            bool fresh = mono_now() - s->failed_at < FAIL_HOLD_S;
            if (waited || (fresh && !s->fail_told)) {
                s->fail_told = s->fail_told || !waited;
                *err = s->err;
                return NULL;
            }
            s->state = SLOT_EMPTY;
            continue;
        }
        if (s && s->queued) {
            /* Queued behind other files' prefetching: fetch it ourselves
             * rather than wait for a worker (the job will see it and skip). */
            s->queued = false;
            if ((*err = load_here(r, s, b)) != 0)
                return NULL;
            continue;
        }
        if (s) { /* loading elsewhere */
            waited = true;
            pthread_cond_wait(&r->cond, &r->lock);
            continue;
        }
        s = claim_slot(r, b, keep_lo, b, false);
        if (!s) {
            if (!any_loading(r)) {
                *err = -ENOMEM; /* no slot will come free: the buffer allocation failed */
                return NULL;
            }
            pthread_cond_wait(&r->cond, &r->lock); /* slots busy: wait for one */
            continue;
        }
        if ((*err = load_here(r, s, b)) != 0)
            return NULL;
    }
}

static ssize_t read_impl(struct reader *r, char *buf, size_t size, uint64_t off, bool probe)
{
    struct reader_pool *p = r->pool;
    if (size == 0)
        return 0;
    pthread_mutex_lock(&r->lock);
    if (r->total_known) {
        if (off >= r->total) {
            pthread_mutex_unlock(&r->lock);
            return 0;
        }
        if (r->total - off < size)
            size = (size_t)(r->total - off);
    }
    /* Going forward (within a block of where the last read ended) grows the
     * prefetch distance; a jump elsewhere resets it. */
    bool sequential =
        off >= r->seq_end && off - r->seq_end <= p->bs && (off > 0 || r->seq_end == 0);
    if (sequential)
        r->ahead = r->ahead ? (r->ahead * 2 > p->max_ahead ? p->max_ahead : r->ahead * 2) : 1;
    else
        r->ahead = 0;

    uint64_t first, last;
    reader_span(off, size, p->bs, &first, &last);
    size_t done = 0;
    int err = 0;
    for (uint64_t b = first; b <= last && done < size; b++) {
        struct slot *s = get_block(r, b, first, &err);
        if (!s)
            break;
        uint64_t boff = b * p->bs;
        uint64_t from = off + done - boff;
        if (from >= s->len)
            break; /* the object ends before this point */
        size_t n = s->len - from;
        if (n > size - done)
            n = size - done;
        memcpy(buf + done, s->data + from, n);
        done += n;
        if (s->len < p->bs)
            break; /* short block: end of object */
    }
    r->seq_end = off + done;
    if (err == 0 && r->ahead && done > 0 && !probe) {
        uint64_t end = r->total_known ? (r->total + p->bs - 1) / p->bs : UINT64_MAX;
        for (uint64_t k = 1; k <= r->ahead && last + k < end; k++)
            schedule(r, last + k, first);
    }
    pthread_mutex_unlock(&r->lock);
    /* Never a short count for a failure: the kernel would take it for the
     * end of the file (and shrink st_size), and cp would succeed short. */
    return err ? err : (ssize_t)done;
}

ssize_t reader_read(struct reader *r, char *buf, size_t size, uint64_t off)
{
    return read_impl(r, buf, size, off, false);
}

int reader_probe(struct reader *r, uint64_t *size, char *etag, size_t etag_len)
{
    char byte;
    ssize_t n = read_impl(r, &byte, 1, 0, true);
    if (n < 0)
        return (int)n;
    pthread_mutex_lock(&r->lock);
    int rc = r->total_known ? 0 : -EIO;
    *size = r->total;
    snprintf(etag, etag_len, "%s", r->etag);
    /* A probe is not a sequential read: do not let it start prefetching. */
    r->seq_end = 0;
    r->ahead = 0;
    pthread_mutex_unlock(&r->lock);
    return rc;
}
