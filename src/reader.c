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

/* The smallest request, and the unit windows are rounded to: a cold read
 * (an open's probe, a file manager's type sniff, a random read) costs one
 * request this size, not a whole block. */
#define READ_MIN_REQ (64u << 10)

/* How far behind where the last read ended a read may start and still be
 * part of a sequential run: two of the kernel's largest requests. Only a run
 * of READ_RUN_MIN bytes is a stream whose reads can arrive out of order (and
 * fills gaps, see grow_range); small random reads never are. */
#define READ_REORDER (2u << 20)
#define READ_RUN_MIN (256u << 10)

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
    free(r->cache_id);
    free(r);
    pthread_mutex_lock(&p->lock);
}

static size_t round_down(size_t v, size_t unit)
{
    return v / unit * unit;
}

static size_t round_up(size_t v, size_t unit)
{
    return (v + unit - 1) / unit * unit;
}

/* A fetch of [from, hi) of s ended, end set when the object ends at hi. The
 * slot's window before it was [s->lo, s->hi) (empty for a new slot); the
 * fetch grew it at one side. Lock held. */
static void finish_slot(struct reader *r, struct slot *s, int rc, size_t from, size_t hi, bool end)
{
    bool grew_down = s->hi > s->lo && from < s->lo;
    /* Growing down must meet the bytes above; an end before them would
     * contradict them (and the object's length was checked already). */
    if (rc == 0 && grew_down && (end || hi != s->lo))
        rc = -EIO;
    if (r->closing || r->stale) {
        blocks_release(s); /* nobody will read it */
    } else if (rc) {
        s->state = SLOT_FAILED;
        s->err = rc;
        s->failed_ms = retry_now_ms();
        s->fail_told = false;
    } else {
        s->state = SLOT_READY;
        if (grew_down) {
            s->lo = from;
        } else {
            s->lo = s->hi > s->lo ? s->lo : from;
            s->hi = hi;
            s->end = end;
        }
    }
    pthread_cond_broadcast(&r->pool->slot_cond);
}

/* Fetches [from, upto) of block b into the LOADING slot s on this thread.
 * Lock held (dropped while fetching). Returns the fetch's result; the slot
 * is finished either way. */
static int load_here(struct reader *r, struct slot *s, uint64_t b, size_t from, size_t upto,
                     uint64_t deadline_ms)
{
    struct reader_pool *p = r->pool;
    r->refs++;
    /* A block on disk is read from there: to its end, unless the window
     * grows down (it must then meet the bytes above exactly). */
    bool on_disk = disk_has(r, b);
    bool down = s->hi > s->lo && from < s->lo;
    pthread_mutex_unlock(&p->lock);
    size_t hi = from;
    bool end = false;
    int rc = on_disk ? disk_load(r, b, s->data, from, upto, !down, &hi, &end) : -ENOENT;
    if (rc == -ENOENT) {
        on_disk = false;
        rc = fetch_block(r, b, s->data, from, upto, &hi, &end, deadline_ms);
    }
    pthread_mutex_lock(&p->lock);
    finish_slot(r, s, rc, from, hi, end);
    if (rc == 0 && !on_disk)
        disk_keep(r, s);
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
        load_here(r, s, s->block, 0, p->bs, retry_now_ms() + p->read_ms);
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
        return; /* in memory, or on its way (from the disk cache or the store) */
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
    p->disk = o->disk;
    p->bs = o->block_size ? o->block_size : (4u << 20);
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

/* Whether READY slot s answers a read of [lo, hi) of its block: it holds
 * those bytes, or the object ends before them. */
static bool covers(const struct slot *s, size_t lo, size_t hi)
{
    if (s->end && lo >= s->hi)
        return true;
    return s->lo <= lo && (hi <= s->hi || s->end);
}

/* [lo, hi) of a block rounded out to READ_MIN_REQ. */
static void window_around(const struct reader_pool *p, size_t lo, size_t hi, size_t *from,
                          size_t *upto)
{
    *from = round_down(lo, READ_MIN_REQ);
    *upto = round_up(hi, READ_MIN_REQ);
    *upto = *upto < p->bs ? *upto : p->bs;
}

/* The first window of a block: the whole block for a reader going forward
 * (prefetch is under way), else the read's bytes rounded to READ_MIN_REQ. */
static void first_range(const struct reader *r, size_t lo, size_t hi, size_t *from, size_t *upto)
{
    const struct reader_pool *p = r->pool;
    if (r->ahead) {
        *from = 0;
        *upto = p->bs;
        return;
    }
    window_around(p, lo, hi, from, upto);
}

/* The bytes of its block a READY slot s that does not cover [lo, hi) should
 * fetch next: below its window down to it, or above it, growing the window
 * fourfold (so a file read from its start costs a few requests that grow
 * to the block size, and a sniff of its first bytes a small one); the rest
 * of the block at once for a reader going forward. A read more than
 * READ_MIN_REQ away from the window starts a new one there instead (random
 * reads cost a small request each, not the gap): returns true, and the
 * caller drops the old window. */
static bool grow_range(const struct reader *r, const struct slot *s, size_t lo, size_t hi,
                       size_t *from, size_t *upto)
{
    const struct reader_pool *p = r->pool;
    bool below = lo < s->lo;
    size_t gap = below ? (hi < s->lo ? s->lo - hi : 0) : (lo > s->hi ? lo - s->hi : 0);
    /* A reader in a sequential run (this read continued it, READ_RUN_MIN
     * long) fills a gap ahead rather than dropping the window: its reads
     * only arrived out of order, and a block left in pieces is never whole
     * (nor kept on disk). */
    bool run = r->ahead || (r->seq_run >= READ_RUN_MIN && r->seq_run > hi - lo);
    if (gap > READ_MIN_REQ && !(run && !below)) {
        /* Rounded to READ_MIN_REQ, the new window stays clear of the old
         * one, which others may still be copying from. */
        window_around(p, lo, hi, from, upto);
        return true;
    }
    if (below) {
        *from = round_down(lo, READ_MIN_REQ);
        *upto = s->lo;
        return false;
    }
    size_t grown = r->ahead ? p->bs : s->lo + 4 * (s->hi - s->lo);
    size_t want = round_up(hi, READ_MIN_REQ);
    *from = s->hi;
    *upto = want > grown ? want : grown;
    *upto = *upto < p->bs ? *upto : p->bs;
    return false;
}

/* Why a read may not go to the store now, or 0. Lock held. */
static int store_barred(const struct reader *r)
{
    /* Not after an abort, and not for a reader whose object changed (its
     * blocks fetched before are still served: old bytes, never mixed with
     * new ones). */
    return retry_aborted() ? -ECANCELED : r->stale ? -EIO : 0;
}

/* Makes bytes [lo, hi) of block b READY in a slot (or past the object's end)
 * and returns it, or NULL with *err. Lock held (dropped while fetching). */
static struct slot *get_block(struct reader *r, uint64_t b, size_t lo, size_t hi,
                              uint64_t deadline_ms, int *err)
{
    struct reader_pool *p = r->pool;
    bool waited = false;
    size_t from, upto;
    for (bool first = true;; first = false) {
        struct slot *s = blocks_find(r, b);
        if (s && s->state == SLOT_READY && covers(s, lo, hi)) {
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
        if ((*err = store_barred(r)))
            return NULL;
        if (s && s->state == SLOT_READY) {
            /* Grow the window: bytes outside it are written while others
             * may copy from inside it, which is safe. */
            if (grow_range(r, s, lo, hi, &from, &upto)) {
                s->lo = s->hi = 0; /* disjoint from the new window: copies go on */
                s->end = false;
            }
            s->state = SLOT_LOADING;
            if ((*err = load_here(r, s, b, from, upto, deadline_ms)))
                return NULL;
            continue;
        }
        if (s && s->queued) {
            /* Queued behind other files' prefetching: fetch it ourselves
             * rather than wait for a worker (the job will see it and skip). */
            s->queued = false;
            if ((*err = load_here(r, s, b, 0, p->bs, deadline_ms)))
                return NULL;
            continue;
        }
        if (s) { /* loading elsewhere */
            waited = true;
            if ((*err = wait_slot(p, deadline_ms)))
                return NULL;
            continue;
        }
        s = blocks_claim(r, b, false, err);
        if (s) {
            first_range(r, lo, hi, &from, &upto);
            if ((*err = load_here(r, s, b, from, upto, deadline_ms)))
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

/* A read of size bytes at off going forward (within a block of where the
 * last read ended, or up to READ_REORDER behind it: the kernel's readahead
 * requests arrive out of order) extends the sequential run; a jump
 * elsewhere ends it. Prefetching starts once the run is a whole block long
 * (reading the first MiB, as file(1) does, is a sniff, not a copy) and
 * doubles its distance with every block read, up to max_ahead. Lock held. */
static void track_sequence(struct reader *r, uint64_t off, size_t size)
{
    struct reader_pool *p = r->pool;
    bool sequential = off >= r->seq_end
                          ? off - r->seq_end <= p->bs && (off > 0 || r->seq_end == 0)
                          : r->seq_end - off <= READ_REORDER && r->seq_run >= READ_RUN_MIN;
    uint64_t end = off + size;
    r->seq_end = sequential && end < r->seq_end ? r->seq_end : end;
    r->seq_run = sequential ? r->seq_run + size : size;
    uint64_t blocks = r->seq_run / p->bs;
    unsigned ahead = blocks == 0 ? 0 : blocks > 16 ? 1u << 16 : 1u << (blocks - 1);
    r->ahead = ahead > p->max_ahead ? p->max_ahead : ahead;
}

/* Fetches ahead of a sequential reader whose read ended in block last.
 * Lock held. */
static void prefetch_after(struct reader *r, uint64_t last)
{
    struct reader_pool *p = r->pool;
    uint64_t end = r->total_known ? (r->total + p->bs - 1) / p->bs : UINT64_MAX;
    for (uint64_t k = 1; k <= r->ahead && last + k < end; k++)
        schedule(r, last + k);
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
    if (!probe)
        track_sequence(r, off, size);
    uint64_t first, last;
    reader_span(off, size, p->bs, &first, &last);
    size_t done = 0;
    for (uint64_t b = first; b <= last && done < size; b++) {
        size_t from = (size_t)(off + done - b * p->bs);
        size_t n = p->bs - from < size - done ? p->bs - from : size - done;
        struct slot *s = get_block(r, b, from, from + n, deadline, &err);
        if (!s)
            break;
        if (from >= s->hi)
            break; /* the object ends before this point */
        n = s->hi - from < n ? s->hi - from : n;
        bool end = s->end && from + n == s->hi;
        copy_out(p, s, buf + done, from, n);
        done += n;
        if (end)
            break;
    }
    if (err == 0 && done > 0 && !probe)
        prefetch_after(r, last);
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

ssize_t reader_read_disk(struct reader *r, char *buf, size_t size, uint64_t off)
{
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    bool ready = size > 0 && disk_ready(r) && off < r->total;
    size = ready && r->total - off < size ? (size_t)(r->total - off) : size;
    uint64_t b = off / p->bs;
    size_t from = (size_t)(off - b * p->bs);
    /* Straight from disk: the chunks the read touches and no more (small
     * scattered reads). A read across two blocks goes through memory, as
     * does one whose block is in memory or on its way there: a stream's
     * blocks are read ahead of it, whole, by the workers (prefetch_after),
     * which keeps the disk busy and makes its reads copies. */
    ready = ready && from + size <= p->bs && !blocks_find(r, b) && disk_has(r, b);
    struct dc_key key = r->key;
    size_t len = ready ? disk_block_len(r, b) : 0;
    pthread_mutex_unlock(&p->lock);
    if (!ready || diskcache_read_private(p->disk, &key, b, len, buf, from, from + size) != 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    track_sequence(r, off, size);
    prefetch_after(r, b);
    pthread_mutex_unlock(&p->lock);
    return (ssize_t)size;
}

void reader_set_cache_id(struct reader *r, const char *id)
{
    struct reader_pool *p = r->pool;
    char *copy = strdup(id);
    pthread_mutex_lock(&p->lock);
    if (!r->cache_id)
        r->cache_id = copy;
    else
        free(copy);
    pthread_mutex_unlock(&p->lock);
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
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void reader_modified(struct reader *r, char *out, size_t n)
{
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    snprintf(out, n, "%s", r->modified);
    pthread_mutex_unlock(&p->lock);
}
