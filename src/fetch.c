/* fetch: a range of one block from the object store, whatever the store
 * does. See reader_int.h.
 *
 * The range is asked for in one ranged request; what each answer delivers is
 * checked against everything the store said before (judge) and the fetch
 * goes on from the last good byte until the range is whole:
 * - a different ETag, or a Content-Range with a different length, means the
 *   object changed: -EIO, and the reader is stale from then on;
 * - an answer that is not believable (a 416 below the known length, a 200
 *   shorter than the listing or earlier answers said, an answer without the
 *   ETag the others had, a first answer that does not say the length) is
 *   retried like a transient failure, never taken
 *   for the end of the file;
 * - an attempt that delivered good bytes (a dropped connection) is resumed
 *   and does not use up the retry budget; attempts that delivered nothing
 *   do, and so do attempts cut off for being slower than HTTP_MIN_RATE
 *   (their bytes are kept); the read's deadline bounds everything;
 * - 403 asks the url callback for a new URL, twice at most in a row.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reader_int.h"
#include "retry.h"
#include "stats.h"
#include "trace.h"

struct fetch {
    struct reader *r;
    uint64_t off; /* the first byte asked for */
    size_t want;  /* bytes asked for that the object has */
    bool at_end;  /* want reaches the object's end */
    size_t have;  /* bytes stored and believed */
    char *dst;
    uint64_t deadline; /* retry_now_ms() time */
    unsigned failures; /* attempts that delivered nothing */
    unsigned refusals; /* 403s since the last answer */
    bool eof;          /* the object ends at off + have */
};

/* Shrinks want to the object's end once the length is known. Lock held. */
static void clip(struct fetch *f)
{
    struct reader *r = f->r;
    if (!r->total_known)
        return;
    uint64_t left = r->total > f->off ? r->total - f->off : 0;
    if (left <= f->want) {
        f->want = (size_t)left;
        f->at_end = true;
    }
    if (f->have >= f->want)
        f->eof = f->at_end;
}

/* The object changed under the reader. Lock held. */
static int changed(struct reader *r, const char *what, const char *now, const char *was)
{
    if (!r->stale)
        log_err("object changed while open (%s %s, was %s): open it again", what, now, was);
    r->stale = true;
    return -EIO;
}

static int changed_length(struct reader *r, uint64_t now)
{
    char a[24], b[24];
    snprintf(a, sizeof(a), "%" PRIu64, now);
    snprintf(b, sizeof(b), "%" PRIu64, r->total);
    return changed(r, "length", a, b);
}

/* A 416. Below the length the listing or the store gave it is a lie (or a
 * fault), never the end of the file. Lock held. */
static int judge_416(struct fetch *f, const struct http_object *obj)
{
    struct reader *r = f->r;
    uint64_t at = f->off + f->have;
    uint64_t known = r->total_known ? r->total : r->floor;
    if (at < known) {
        log_warn("object store answered 416 at byte %" PRIu64 " of %" PRIu64 "; retrying", at,
                 known);
        return -EPROTO;
    }
    if (!r->total_known) {
        uint64_t t = obj->total_src == HTTP_TOTAL_RANGE ? obj->total : at;
        if (f->have > 0 && t != at)
            return -EPROTO; /* the bytes before say the object reaches at least here */
        r->total = t;
        r->total_known = true;
    }
    f->eof = true;
    return 0;
}

/* A length from a 200 (LENGTH) or from where its body ended (EOF) is what a
 * server that ignored Range claims: it may not make the object shorter than
 * the listing or the store said. A body that ended early is a cut transfer,
 * its bytes still good. Lock held. */
static int judge_weak_length(struct fetch *f, int rc, const struct http_object *obj)
{
    struct reader *r = f->r;
    uint64_t known = r->total_known ? r->total : r->floor;
    if (r->total_known && obj->total > r->total) {
        log_warn("object store answered with a length above the object's; retrying");
        return -EPROTO;
    }
    if (obj->total >= known)
        return rc;
    if (obj->total_src == HTTP_TOTAL_EOF)
        return -EAGAIN;
    log_warn("object store answered 200 with %" PRIu64 " bytes of %" PRIu64 "; retrying",
             obj->total, known);
    return -EPROTO;
}

/* The answer's validators (ETag, Last-Modified) against the object's: a
 * different one means the object changed; one the object had, missing, is
 * retried; one the object never had, appearing after its first answer, is
 * another object (a redirect elsewhere, a replacement). A 416 carries none
 * (the store has no part of the object to describe). Lock held. */
static int judge_validators(struct reader *r, int rc, const struct http_object *obj)
{
    if (rc == -ERANGE)
        return 0;
    if (obj->etag[0] && r->etag[0] && strcmp(obj->etag, r->etag) != 0)
        return changed(r, "ETag", obj->etag, r->etag);
    if (obj->modified[0] && r->modified[0] && strcmp(obj->modified, r->modified) != 0)
        return changed(r, "Last-Modified", obj->modified, r->modified);
    if ((!obj->etag[0] && r->etag[0]) || (!obj->modified[0] && r->modified[0])) {
        log_warn("object store answered without the object's %s; retrying",
                 r->etag[0] && !obj->etag[0] ? "ETag" : "Last-Modified");
        return -EPROTO;
    }
    if (r->answered && obj->etag[0] && !r->etag[0])
        return changed(r, "ETag", obj->etag, "none");
    if (r->answered && obj->modified[0] && !r->modified[0])
        return changed(r, "Last-Modified", obj->modified, "none");
    return 0;
}

/* Believes an answer or not. rc is the store's (0, -EAGAIN, -ERANGE), got
 * the bytes it stored at off + have. Returns 0 or -EAGAIN with *took bytes
 * believed, -EPROTO (retry, nothing taken) or -EIO (changed). Lock held. */
static int judge(struct fetch *f, int rc, size_t got, const struct http_object *obj, size_t *took)
{
    struct reader *r = f->r;
    uint64_t at = f->off + f->have;
    *took = 0;
    int v = judge_validators(r, rc, obj);
    if (v)
        return v;
    if (rc == -ERANGE)
        rc = judge_416(f, obj);
    else if (obj->total_src == HTTP_TOTAL_RANGE && r->total_known && obj->total != r->total)
        return changed_length(r, obj->total);
    else if (obj->total_src == HTTP_TOTAL_LENGTH || obj->total_src == HTTP_TOTAL_EOF)
        rc = judge_weak_length(f, rc, obj);
    if (rc != 0 && rc != -EAGAIN)
        return rc;
    /* Where a cut body ended says nothing about the length. */
    bool says_total =
        obj->total_src != HTTP_TOTAL_NONE && !(obj->total_src == HTTP_TOTAL_EOF && rc != 0);
    if (says_total && !r->total_known && !f->eof) {
        if (obj->total < at + got && !(got == 0 && f->have == 0))
            return -EPROTO; /* a length below the bytes delivered */
        r->total = obj->total;
        r->total_known = true;
    }
    /* The first complete answer must say the length: a 200 without one,
     * cut off where our range ended, leaves st_size unknowable. */
    if (rc == 0 && !r->total_known && !f->eof) {
        log_warn("object store answered without the object's length; retrying");
        return -EPROTO;
    }
    if (!r->answered && rc != -ERANGE) {
        memcpy(r->etag, obj->etag, sizeof(r->etag));
        memcpy(r->modified, obj->modified, sizeof(r->modified));
        r->answered = true;
    }
    *took = f->eof ? 0 : got;
    return rc;
}

/* After an attempt that failed with rc (and believed took bytes): 0 to go
 * on (after a wait), or the fetch's final error. */
static int next_attempt(struct fetch *f, int rc, size_t took)
{
    struct reader_pool *p = f->r->pool;
    if (took > 0) {
        atomic_fetch_add(&p->resumed, 1);
        stats_inc(STATS_RETRIES);
        rc = retry_sleep_until(0, p->backoff_ms, f->deadline);
    } else if (f->failures >= p->retries) {
        log_err("block at %" PRIu64 ": giving up after %u attempts: %s", f->off, f->failures + 1,
                http_last_error());
        return -EIO;
    } else {
        atomic_fetch_add(&p->retried, 1);
        stats_inc(STATS_RETRIES);
        rc = retry_sleep_until(f->failures++, p->backoff_ms, f->deadline);
    }
    if (rc == -ETIMEDOUT) {
        log_err("block at %" PRIu64 ": giving up at the read's deadline: %s", f->off,
                http_last_error());
        return -EIO;
    }
    return rc;
}

/* What to do after an attempt's verdict rc: 0 to go on, else the fetch's
 * final error. *url and *stale: the URL just used, and the one to report as
 * refused to the url callback next time. */
static int after(struct fetch *f, int rc, size_t took, char **url, char **stale)
{
    struct reader_pool *p = f->r->pool;
    switch (rc) {
    case 0:
        f->refusals = 0;
        if (took > 0 || f->eof || f->have >= f->want)
            return 0;
        return next_attempt(f, -EPROTO, 0); /* an answer without a byte */
    case -EACCES:
        /* Expired (or revoked) URL: get a new one. A URL that is refused
         * straight after being issued will not get better by retrying. */
        atomic_fetch_add(&p->refreshes, 1);
        if (++f->refusals > 2) {
            log_err("object store refuses fresh download URLs (403)");
            return -EIO;
        }
        *stale = *url;
        *url = NULL;
        return 0;
    case -EAGAIN:
    case -EPROTO:
        return next_attempt(f, rc, took);
    case -ECANCELED:
        return rc;
    case -ETIMEDOUT:
        log_err("block at %" PRIu64 ": giving up at the read's deadline: %s", f->off,
                http_last_error());
        return -EIO;
    case -ENOENT:
        log_err("object store no longer has the object (404)");
        return -EIO;
    default:
        if (rc != -EIO || http_last_error()[0])
            log_err("block at %" PRIu64 ": %s", f->off,
                    http_last_error()[0] ? http_last_error() : strerror(-rc));
        return -EIO;
    }
}

/* One request for the rest of the block. 0 to go on, else final. */
static int attempt(struct fetch *f, char **url, char **stale)
{
    struct reader *r = f->r;
    struct reader_pool *p = r->pool;
    if (retry_aborted())
        return -ECANCELED;
    if (retry_now_ms() >= f->deadline)
        return after(f, -ETIMEDOUT, 0, url, stale);
    /* Asked for every request: the URL cache hands out the same URL until
     * shortly before it expires, then a fresh one, so long reads switch URLs
     * before the store starts refusing them. */
    free(*url);
    *url = NULL;
    int rc = r->url_fn(r->url_ctx, *stale, url);
    free(*stale);
    *stale = NULL;
    if (rc)
        return rc;
    struct http_object obj;
    size_t got = 0, took = 0;
    atomic_fetch_add(&p->requests, 1);
    uint64_t t0 = retry_now_ms();
    rc = p->store.get_range(p->store.ctx, *url, f->off + f->have, f->want - f->have, f->deadline,
                            f->dst + f->have, &got, &obj);
    trace_range(*url, f->off + f->have, f->want - f->have, rc, got, &obj, t0);
    /* A store too slow to finish in time keeps what it delivered, but the
     * attempt counts against the retries: a drip is not progress. */
    bool slow = rc == -ETIME;
    rc = slow ? -EAGAIN : rc;
    /* A failure before any header (no connection) has nothing to judge. */
    if (rc == 0 || rc == -ERANGE || (rc == -EAGAIN && got > 0)) {
        pthread_mutex_lock(&p->lock);
        rc = r->stale ? -EIO : judge(f, rc, got, &obj, &took);
        f->have += took;
        clip(f);
        pthread_mutex_unlock(&p->lock);
    }
    return after(f, rc, slow ? 0 : took, url, stale);
}

int fetch_block(struct reader *r, uint64_t b, char *dst, size_t from, size_t upto, size_t *hi,
                bool *end, uint64_t deadline_ms)
{
    struct reader_pool *p = r->pool;
    struct fetch f = {.r = r,
                      .off = b * p->bs + from,
                      .want = upto - from,
                      .dst = dst + from,
                      .deadline = deadline_ms};
    char *url = NULL, *stale = NULL;
    pthread_mutex_lock(&p->lock);
    int rc = r->stale ? -EIO : 0;
    clip(&f);
    pthread_mutex_unlock(&p->lock);
    while (rc == 0 && f.have < f.want && !f.eof)
        rc = attempt(&f, &url, &stale);
    free(url);
    free(stale);
    *hi = from + f.have;
    *end = f.eof;
    return rc;
}
