/* reader: reads, sequential prefetch and background workers. See reader.h;
 * the shared structures and their lock are in reader_int.h, the budget of
 * buffers in blocks.c, fetching one block in fetch.c.
 *
 * A block of a reader is in one slot at most: LOADING (one thread, a read
 * or a worker, fetches it; others wait on pool->slot_cond), READY or
 * FAILED. A read copies out of a READY slot with the slot pinned and the
 * lock dropped, so a 1 MiB copy does not hold up other files.
 */
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reader_int.h"
#include "retry.h"
#include "trace.h"

/* A failed block repeats its error to one new request within this time
 * instead of being fetched again: the kernel retries a failed page read at
 * once, and running the whole retry schedule twice would double the time to
 * an error. */
#define FAIL_HOLD_MS 2000

void reader_span(uint64_t off, size_t len, size_t bs, uint64_t *first, uint64_t *last)
{
    *first = off / bs;
    *last = (off + len - 1) / bs;
}

static int http_store_get(void *ctx, const char *url, uint64_t off, size_t len,
                          uint64_t deadline_ms, char *dst, size_t *got, struct http_object *obj)
{
    return http_get_range(ctx, url, off, len, deadline_ms, dst, got, obj);
}

/* ---------- references (lock held) ---------- */

/* Drops a reference; the last one frees the reader. Returns with the lock
 * held, but drops it meanwhile to call free_ctx. */
static void reader_unref(struct reader *r)
{
    struct reader_pool *p = r->pool;
    if (--r->refs > 0)
        return;
    blocks_release_reader(r); /* nothing is loading: every load holds a reference */
    if (--p->n_readers == 0)
        blocks_trim(p);
    pthread_mutex_unlock(&p->lock);
    if (r->free_ctx)
        r->free_ctx(r->url_ctx);
    free(r);
    pthread_mutex_lock(&p->lock);
}

/* A fetch of s ended. Lock held. */
static void finish_slot(struct reader *r, struct slot *s, int rc, size_t len)
{
    if (r->closing || r->stale) {
        blocks_release(s); /* nobody will read it */
    } else {
        s->state = rc ? SLOT_FAILED : SLOT_READY;
        s->err = rc;
        s->len = len;
        s->failed_ms = rc ? retry_now_ms() : 0;
        s->fail_told = false;
    }
    pthread_cond_broadcast(&r->pool->slot_cond);
}

/* Fetches block b into the LOADING slot s on this thread. Lock held (dropped
 * while fetching). Returns the fetch's result; the slot is finished either way. */
static int load_here(struct reader *r, struct slot *s, uint64_t b, uint64_t deadline_ms)
{
    struct reader_pool *p = r->pool;
    r->refs++;
    pthread_mutex_unlock(&p->lock);
    size_t len = 0;
    int rc = fetch_block(r, b, s->data, &len, deadline_ms);
    pthread_mutex_lock(&p->lock);
    finish_slot(r, s, rc, len);
    reader_unref(r);
    return rc;
}

/* ---------- background workers ---------- */

static void run_job(struct reader_pool *p, struct job *j)
{
    struct reader *r = j->r;
    struct slot *s = j->slot;
    /* A read that needed the block took the job over, or the slot went to
     * someone else: nothing to do. */
    bool mine = s->owner == r && s->queued && s->ticket == j->ticket;
    free(j);
    if (mine && (r->closing || r->stale)) {
        blocks_release(s);
    } else if (mine) {
        s->queued = false;
        uint64_t b = s->block, deadline = retry_now_ms() + p->read_ms;
        pthread_mutex_unlock(&p->lock);
        size_t len = 0;
        int rc = fetch_block(r, b, s->data, &len, deadline);
        pthread_mutex_lock(&p->lock);
        finish_slot(r, s, rc, len);
    }
    reader_unref(r);
}

static void *worker_main(void *arg)
{
    struct reader_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->work_cond, &p->lock);
        if (!p->head)
            break; /* stopping and nothing left */
        struct job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        run_job(p, j);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Queues a background fetch of block b. Lock held. */
static void schedule(struct reader *r, uint64_t b)
{
    struct reader_pool *p = r->pool;
    int err;
    if (blocks_find(r, b))
        return;
    struct slot *s = blocks_claim(r, b, true, &err);
    if (!s)
        return;
    struct job *j = calloc(1, sizeof(*j));
    if (!j) {
        blocks_release(s);
        return;
    }
    s->queued = true;
    j->r = r;
    j->slot = s;
    j->ticket = s->ticket;
    r->refs++;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->work_cond);
}

/* ---------- the pool ---------- */

struct reader_pool *reader_pool_new(const struct reader_pool_opts *o)
{
    struct reader_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    pthread_cond_init(&p->slot_cond, &ca);
    pthread_condattr_destroy(&ca);
    p->store = o->store.get_range ? o->store : (struct reader_store){http_store_get, o->http};
    p->bs = o->block_size ? o->block_size : (2u << 20);
    p->max_ahead = o->max_ahead;
    p->per_reader = o->max_ahead + 4;
    p->retries = o->retries;
    p->backoff_ms = o->backoff_ms ? o->backoff_ms : RETRY_BASE_MS;
    uint64_t timeout_ms = (o->timeout_s ? o->timeout_s : 30) * 1000ull;
    p->read_ms = timeout_ms * (o->retries + 1ull) +
                 retry_backoff_total_ms(o->retries, p->backoff_ms, RETRY_CAP_MS);
    p->threads = calloc(o->workers + 1, sizeof(*p->threads));
    if (!p->threads || blocks_init(p, o->cache_bytes ? o->cache_bytes : (256u << 20)) != 0)
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
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    blocks_destroy(p);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work_cond);
    pthread_cond_destroy(&p->slot_cond);
    free(p);
    *pp = NULL;
}

void reader_pool_stats(struct reader_pool *p, struct reader_stats *out)
{
    out->requests = atomic_load(&p->requests);
    out->refreshes = atomic_load(&p->refreshes);
    out->retries = atomic_load(&p->retried);
    out->resumes = atomic_load(&p->resumed);
    pthread_mutex_lock(&p->lock);
    out->mapped = p->mapped;
    out->mapped_peak = p->mapped_peak;
    pthread_mutex_unlock(&p->lock);
    out->deadline_ms = p->read_ms;
}

/* ---------- readers ---------- */

struct reader *reader_open(struct reader_pool *p, uint64_t size_hint, reader_url_fn url,
                           void *url_ctx, void (*free_ctx)(void *))
{
    struct reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->pool = p;
    r->refs = 1;
    r->floor = size_hint;
    r->url_fn = url;
    r->url_ctx = url_ctx;
    r->free_ctx = free_ctx;
    pthread_mutex_lock(&p->lock);
    p->n_readers++;
    pthread_mutex_unlock(&p->lock);
    return r;
}

void reader_invalidate(struct reader *r)
{
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    r->stale = true;
    blocks_release_reader(r);
    pthread_cond_broadcast(&p->slot_cond);
    pthread_mutex_unlock(&p->lock);
}

void reader_close(struct reader **pr)
{
    struct reader *r = *pr;
    if (!r)
        return;
    *pr = NULL;
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    r->closing = true;
    blocks_release_reader(r); /* the buffers are of use to other files now */
    reader_unref(r);
    pthread_mutex_unlock(&p->lock);
}

/* Waits for a slot to change, until deadline_ms at most. Lock held.
 * 0, or -ETIMEDOUT when the deadline has passed. */
static int wait_slot(struct reader_pool *p, uint64_t deadline_ms)
{
    uint64_t now = retry_now_ms();
    if (now >= deadline_ms)
        return -ETIMEDOUT;
    /* In slices, so an abort (which cannot signal a condition) is seen. */
    uint64_t until = deadline_ms < now + 1000 ? deadline_ms : now + 1000;
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(&p->slot_cond, &p->lock, &ts);
    return 0;
}

/* Repeats a failed block's error, or drops the slot to fetch again. Lock held. */
static bool failed_again(struct slot *s, bool waited, int *err)
{
    /* Those who waited for the fetch share its error. A new request soon
     * after gets it once more (that is the kernel retrying the page read it
     * just saw fail), anything later fetches again. */
    bool fresh = retry_now_ms() - s->failed_ms < FAIL_HOLD_MS;
    if (waited || (fresh && !s->fail_told)) {
        s->fail_told = s->fail_told || !waited;
        *err = s->err;
        return true;
    }
    blocks_release(s);
    return false;
}

/* Makes block b READY in a slot and returns it, or NULL with *err. Lock held
 * (dropped while fetching). */
static struct slot *get_block(struct reader *r, uint64_t b, uint64_t deadline_ms, int *err)
{
    struct reader_pool *p = r->pool;
    bool waited = false;
    for (bool first = true;; first = false) {
        struct slot *s = blocks_find(r, b);
        if (s && s->state == SLOT_READY) {
            s->used = ++p->tick;
            if (first)
                trace_cache_hit(b); /* in memory before this read asked */
            return s;
        }
        if (s && s->state == SLOT_FAILED) {
            if (failed_again(s, waited, err))
                return NULL;
            continue;
        }
        /* What is left needs the store: not after an abort, and not for a
         * reader whose object changed (its blocks fetched before are still
         * served: old bytes, never mixed with new ones). */
        *err = retry_aborted() ? -ECANCELED : r->stale ? -EIO : 0;
        if (*err)
            return NULL;
        if (s && s->queued) {
            /* Queued behind other files' prefetching: fetch it ourselves
             * rather than wait for a worker (the job will see it and skip). */
            s->queued = false;
            *err = load_here(r, s, b, deadline_ms);
            if (*err)
                return NULL;
            continue;
        }
        if (s) { /* loading elsewhere */
            waited = true;
            *err = wait_slot(p, deadline_ms);
            if (*err)
                return NULL;
            continue;
        }
        s = blocks_claim(r, b, false, err);
        if (s) {
            *err = load_here(r, s, b, deadline_ms);
            if (*err)
                return NULL;
            continue;
        }
        if (*err)
            return NULL;
        p->buf_waiters++; /* every buffer is busy: prefetching stops, we wait */
        *err = wait_slot(p, deadline_ms);
        p->buf_waiters--;
        if (*err)
            return NULL;
    }
}

/* Copies n bytes at from out of READY slot s, without the lock. Lock held. */
static void copy_out(struct reader_pool *p, struct slot *s, char *dst, size_t from, size_t n)
{
    s->pins++;
    s->consumed = true;
    pthread_mutex_unlock(&p->lock);
    memcpy(dst, s->data + from, n);
    pthread_mutex_lock(&p->lock);
    if (--s->pins == 0 && p->buf_waiters)
        pthread_cond_broadcast(&p->slot_cond);
}

/* Going forward (within a block of where the last read ended) grows the
 * prefetch distance; a jump elsewhere resets it. Lock held. */
static void track_sequence(struct reader *r, uint64_t off)
{
    struct reader_pool *p = r->pool;
    bool sequential =
        off >= r->seq_end && off - r->seq_end <= p->bs && (off > 0 || r->seq_end == 0);
    unsigned next = r->ahead ? r->ahead * 2 : 1;
    r->ahead = sequential ? (next > p->max_ahead ? p->max_ahead : next) : 0;
}

static ssize_t read_impl(struct reader *r, char *buf, size_t size, uint64_t off, bool probe)
{
    struct reader_pool *p = r->pool;
    uint64_t deadline = retry_now_ms() + p->read_ms;
    if (size == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    if (r->total_known)
        size = off >= r->total ? 0 : r->total - off < size ? (size_t)(r->total - off) : size;
    int err = 0;
    if (size == 0) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    track_sequence(r, off);
    uint64_t first, last;
    reader_span(off, size, p->bs, &first, &last);
    size_t done = 0;
    for (uint64_t b = first; b <= last && done < size; b++) {
        struct slot *s = get_block(r, b, deadline, &err);
        if (!s)
            break;
        uint64_t from = off + done - b * p->bs;
        if (from >= s->len)
            break; /* the object ends before this point */
        size_t n = s->len - from < size - done ? s->len - (size_t)from : size - done;
        bool end = s->len < p->bs;
        copy_out(p, s, buf + done, (size_t)from, n);
        done += n;
        if (end)
            break; /* short block: end of object */
    }
    r->seq_end = off + done;
    if (err == 0 && r->ahead && done > 0 && !probe) {
        uint64_t end = r->total_known ? (r->total + p->bs - 1) / p->bs : UINT64_MAX;
        for (uint64_t k = 1; k <= r->ahead && last + k < end; k++)
            schedule(r, last + k);
    }
    pthread_mutex_unlock(&p->lock);
    if (err == -ETIMEDOUT)
        log_err("read at %" PRIu64 ": no block within the read's deadline", off);
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
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    int rc = r->total_known ? 0 : -EIO;
    *size = r->total;
    snprintf(etag, etag_len, "%s", r->etag);
    /* A probe is not a sequential read: do not let it start prefetching. */
    r->seq_end = 0;
    r->ahead = 0;
    pthread_mutex_unlock(&p->lock);
    return rc;
}
