/* http: pooled libcurl easy handles, ranged GETs, form POSTs. See http.h.
 *
 * Why a pool of easy handles and not a multi handle: FUSE calls arrive on
 * many threads and each wants a blocking answer; borrowing a handle keeps
 * each connection cache single-threaded (libcurl's rule) while still reusing
 * warm connections across requests.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "retry.h"

#if LIBCURL_VERSION_NUM < 0x072000
#error "libcurl 7.32.0 or newer is needed (XFERINFOFUNCTION, protocol restriction)"
#endif

/* Lock order: pool->lock is a leaf; nothing else is taken while holding it.
 * The share locks are taken by curl inside a transfer (never with pool->lock
 * held), each alone: leaves too. */
struct http_pool {
    pthread_mutex_t lock; /* guards idle, n_idle, n_total */
    pthread_cond_t cond;  /* a handle came back (CLOCK_MONOTONIC) */
    CURL **idle;          /* stack of idle handles */
    unsigned n_idle;
    unsigned n_total; /* handles alive (idle + borrowed) */
    /* Immutable after http_pool_new: */
    unsigned max;
    unsigned timeout_s;
    unsigned connect_timeout_s;
    char *cafile;
    int verbose;
    int follow_redirects;
    /* TLS sessions and DNS answers shared by every handle, so a new
     * connection resumes a session instead of a full handshake. */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST]; /* one per kind of data */
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    struct http_pool *p = ud;
    pthread_mutex_lock(&p->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct http_pool *p = ud;
    pthread_mutex_unlock(&p->share_locks[data]);
}

/* NULL when curl cannot share (each handle then keeps its own sessions). */
static CURLSH *share_new(struct http_pool *p)
{
    CURLSH *sh = curl_share_init();
    if (!sh)
        return NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&p->share_locks[i], NULL);
    if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_USERDATA, p) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
        curl_share_cleanup(sh);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&p->share_locks[i]);
        return NULL;
    }
    return sh;
}

static __thread char t_last_error[CURL_ERROR_SIZE];

const char *http_last_error(void)
{
    return t_last_error;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct http_pool *http_pool_new(const struct http_opts *opts)
{
    pthread_once(&g_curl_once, http_global_init);
    struct http_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max = opts->max_handles ? opts->max_handles : 8;
    p->idle = calloc(p->max, sizeof(*p->idle));
    p->cafile = opts->cafile ? strdup(opts->cafile) : NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!p->idle || (opts->cafile && !p->cafile)) {
        free(p->idle);
        free(p->cafile);
        free(p);
        return NULL;
    }
    p->timeout_s = opts->timeout_s ? opts->timeout_s : 30;
    p->connect_timeout_s = opts->connect_timeout_s ? opts->connect_timeout_s : p->timeout_s;
    p->verbose = opts->verbose;
    p->follow_redirects = opts->follow_redirects;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    p->share = share_new(p);
    return p;
}

void http_pool_free(struct http_pool **pp)
{
    struct http_pool *p = *pp;
    if (!p)
        return;
    for (unsigned i = 0; i < p->n_idle; i++)
        curl_easy_cleanup(p->idle[i]);
    if (p->share) {
        curl_share_cleanup(p->share);
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&p->share_locks[i]);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->idle);
    free(p->cafile);
    free(p);
    *pp = NULL;
}

/* A handle, or NULL with *err: -ENOMEM, -ETIMEDOUT (every handle stayed busy
 * until deadline_ms), -ECANCELED. Waits in slices so an abort is noticed. */
static CURL *pool_borrow(struct http_pool *p, uint64_t deadline_ms, int *err)
{
    CURL *h = NULL;
    *err = 0;
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->n_total >= p->max && !*err) {
        uint64_t now = retry_now_ms(), until = now + 1000;
        if (retry_aborted())
            *err = -ECANCELED;
        else if (deadline_ms && now >= deadline_ms)
            *err = -ETIMEDOUT;
        if (*err)
            break;
        if (deadline_ms && deadline_ms < until)
            until = deadline_ms;
        struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    if (!*err && p->n_idle > 0) {
        h = p->idle[--p->n_idle];
    } else if (!*err) {
        h = curl_easy_init();
        if (h)
            p->n_total++;
        else
            *err = -ENOMEM;
    }
    pthread_mutex_unlock(&p->lock);
    return h;
}

/* Only the per-request options are reset, the error buffer included. After
 * a failed transfer the handle goes, with its connection: a connection that
 * broke mid-answer may still hold the rest of it, which the next request
 * would read as its own answer ("Received HTTP/0.9"). */
static void pool_return(struct http_pool *p, CURL *h, bool failed)
{
    if (failed)
        curl_easy_cleanup(h);
    else
        curl_easy_reset(h);
    pthread_mutex_lock(&p->lock);
    if (failed)
        p->n_total--;
    else
        p->idle[p->n_idle++] = h;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* The progress guard of one transfer. curl's LOW_SPEED_* averages over a
 * window of several seconds and lets 1 byte/s pass forever; this measures
 * from the last byte (stall) and per timeout_s window from the first byte
 * (minimum rate), and ends every transfer on retry_abort_all(). curl calls
 * it at least once a second, even while nothing arrives. */
struct guard {
    bool slow; /* stopped for moving too few bytes */
    uint64_t timeout_ms;
    unsigned min_rate;  /* bytes/s over each window, 0 = no minimum */
    uint64_t last_ms;   /* when bytes last moved */
    curl_off_t seen;    /* bytes moved so far */
    uint64_t win_ms;    /* the current rate window began (0 = no byte yet) */
    curl_off_t win_at;  /* bytes moved when it began */
    const char *reason; /* why the guard stopped the transfer, NULL if it did not */
};

static int guard_check(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct guard *g = ud;
    uint64_t now = retry_now_ms();
    curl_off_t moved = dlnow + ulnow;
    if (retry_aborted()) {
        g->reason = "cancelled: shutting down";
        return 1;
    }
    if (moved != g->seen) {
        if (g->win_ms == 0) {
            g->win_ms = now;
            g->win_at = g->seen;
        }
        g->seen = moved;
        g->last_ms = now;
    }
    if (now - g->last_ms >= g->timeout_ms) {
        g->reason = "no data within the timeout";
        return 1;
    }
    if (g->min_rate && g->win_ms && now - g->win_ms >= g->timeout_ms) {
        uint64_t need = (uint64_t)g->min_rate * g->timeout_ms / 1000;
        if ((uint64_t)(moved - g->win_at) < need) {
            g->reason = "slower than the minimum transfer rate";
            g->slow = true;
            return 1;
        }
        g->win_ms = now;
        g->win_at = moved;
    }
    return 0;
}

/* Options every transfer gets. -EIO when the protocols cannot be restricted:
 * a URL from an answer must never make us read a file or speak another
 * protocol, so no transfer happens then. */
static int setup_common(struct http_pool *p, CURL *h, const char *url, struct guard *g,
                        char *errbuf)
{
    g->timeout_ms = p->timeout_s * 1000ull;
    g->last_ms = retry_now_ms();
    errbuf[0] = '\0';
    CURLcode pc, rc;
#if LIBCURL_VERSION_NUM >= 0x075500
    pc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Never from https down to http: the URL carries a signature. */
    rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                          strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https");
#else
    pc = curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
                          strncasecmp(url, "https:", 6) == 0
                              ? (long)CURLPROTO_HTTPS
                              : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (pc != CURLE_OK || rc != CURLE_OK) {
        snprintf(t_last_error, sizeof(t_last_error), "cannot restrict curl to http and https");
        return -EIO;
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, guard_check);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, g);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (p->share)
        curl_easy_setopt(h, CURLOPT_SHARE, p->share);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)p->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (p->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    }
    curl_easy_setopt(h, CURLOPT_USERAGENT, "umongofs/" UMONGOFS_VERSION);
    if (p->cafile)
        curl_easy_setopt(h, CURLOPT_CAINFO, p->cafile);
    if (p->verbose)
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    return 0;
}

/* errno for a failed transfer; the message goes to t_last_error. */
static int transfer_errno(CURLcode c, const struct guard *g, const char *errbuf,
                          uint64_t deadline_ms)
{
    const char *text = errbuf[0] ? errbuf : curl_easy_strerror(c);
    if (c == CURLE_ABORTED_BY_CALLBACK && g->reason)
        text = g->reason;
    snprintf(t_last_error, sizeof(t_last_error), "%s", text);
    if (retry_aborted())
        return -ECANCELED;
    /* curl's own timer (set from the deadline) may fire a little early. */
    uint64_t slack = c == CURLE_OPERATION_TIMEDOUT ? 100 : 0;
    if (deadline_ms && retry_now_ms() + slack >= deadline_ms) {
        snprintf(t_last_error, sizeof(t_last_error), "deadline passed (%s)", text);
        return -ETIMEDOUT;
    }
    if (c == CURLE_ABORTED_BY_CALLBACK && g->slow)
        return -ETIME;
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* Garbage where an answer should start (the rest of an earlier
         * answer on a reused connection) is a glitch, not a protocol. */
        return strstr(text, "HTTP/0.9") ? -EAGAIN : -EPROTONOSUPPORT;
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
        return -EIO; /* retrying will not help */
    default:
        return -EAGAIN; /* connect, resolve, timeout, partial file, recv errors, guard */
    }
}

/* ---- ranged GET ---- */

struct range_ctx {
    uint64_t off;
    size_t len;
    char *dst;
    struct http_answer ans;
    struct http_plan plan;
    int verdict;     /* http_answer_plan's, 1 until the headers are complete */
    const char *why; /* -EPROTO: what was wrong */
    uint64_t body;   /* body bytes received */
    size_t written;  /* bytes stored in dst */
    bool full;       /* every wanted byte is in: stopped on purpose */
    bool overflow;   /* a 206 carried more than its Content-Range */
};

static size_t range_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct range_ctx *c = ud;
    size_t n = size * nitems;
    if (strncasecmp(line, "HTTP/", 5) == 0)
        c->verdict = 1; /* a new answer (redirect, 100): decide again */
    if (http_answer_line(&c->ans, line, n) == 1) {
        c->verdict = http_answer_plan(&c->ans, c->off, c->len, &c->plan, &c->why);
        if (c->verdict == -EPROTO)
            return 0; /* not one byte of this answer goes into dst */
    }
    return n;
}

static size_t range_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct range_ctx *c = ud;
    size_t n = size * nmemb, used = 0;
    if (c->verdict != 0)
        return n; /* an error page, or headers not usable: discard */
    if (c->body < c->plan.skip) {
        uint64_t s = c->plan.skip - c->body;
        used = s < n ? (size_t)s : n;
    }
    c->body += n;
    size_t room = (size_t)c->plan.take - c->written;
    size_t take = n - used < room ? n - used : room;
    memcpy(c->dst + c->written, data + used, take);
    c->written += take;
    if (used + take < n) {
        /* More than the answer announced (206), or past what we want (200). */
        c->overflow = c->ans.status == 206;
        c->full = !c->overflow;
        return 0;
    }
    if (c->ans.status == 200 && c->written == c->plan.take && c->plan.take == c->len) {
        c->full = true; /* the rest of a whole object is not ours to wait for */
        return 0;
    }
    return n;
}

/* The result of a GET whose headers were usable (verdict 0). */
static int range_result(struct range_ctx *c, CURLcode cc, const struct guard *g, const char *errbuf,
                        uint64_t deadline_ms, size_t *got)
{
    bool stopped = cc == CURLE_WRITE_ERROR && c->full;
    if (c->overflow) {
        snprintf(t_last_error, sizeof(t_last_error), "a 206 longer than its Content-Range");
        return -EPROTO;
    }
    *got = c->written;
    if (cc != CURLE_OK && !stopped)
        return transfer_errno(cc, g, errbuf, deadline_ms); /* the bytes so far are good */
    if (c->written == c->plan.take || c->full)
        return 0;
    if (c->ans.status == 200 && c->plan.total_src == HTTP_TOTAL_NONE) {
        /* No length and the body ended: it is as long as it was, unless cut
         * (the reader compares with what it knows). */
        c->plan.total = c->body;
        c->plan.total_src = HTTP_TOTAL_EOF;
        return 0;
    }
    snprintf(t_last_error, sizeof(t_last_error), "body ended after %zu of %" PRIu64 " bytes",
             c->written, c->plan.take);
    return -EAGAIN;
}

static void range_log(const char *url, uint64_t off, size_t len, int rc)
{
    char safe[256];
    log_debug("GET %s bytes %" PRIu64 "+%zu: %s (%d)", log_redact_url(url, safe, sizeof(safe)), off,
              len, t_last_error, rc);
}

int http_get_range(struct http_pool *p, const char *url, uint64_t off, size_t len,
                   uint64_t deadline_ms, char *dst, size_t *got, struct http_object *obj)
{
    *got = 0;
    *obj = (struct http_object){.total = HTTP_UNKNOWN_SIZE};
    t_last_error[0] = '\0';
    if (len == 0)
        return -EINVAL;
    int rc;
    CURL *h = pool_borrow(p, deadline_ms, &rc);
    if (!h)
        return rc;
    struct range_ctx c = {.off = off, .len = len, .dst = dst, .verdict = 1};
    http_answer_reset(&c.ans);
    struct guard g = {.min_rate = HTTP_MIN_RATE};
    char errbuf[CURL_ERROR_SIZE], range[64];
    rc = setup_common(p, h, url, &g, errbuf);
    if (rc)
        goto out;
    snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off, off + len - 1);
    curl_easy_setopt(h, CURLOPT_RANGE, range);
    uint64_t now = retry_now_ms();
    uint64_t limit = deadline_ms ? (deadline_ms > now ? deadline_ms - now : 1)
                                 : p->timeout_s * 1000ull + len * 1000ull / HTTP_MIN_RATE;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)limit);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, range_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, range_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    /* Bigger reads from the socket: fewer calls and callbacks per block. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, HTTP_RECV_BUFFER);

    CURLcode cc = retry_aborted() ? CURLE_ABORTED_BY_CALLBACK : curl_easy_perform(h);
    if (c.verdict == 0) {
        rc = range_result(&c, cc, &g, errbuf, deadline_ms, got);
        memcpy(obj->etag, c.ans.etag, sizeof(obj->etag));
        memcpy(obj->modified, c.ans.modified, sizeof(obj->modified));
        obj->total = c.plan.total;
        obj->total_src = c.plan.total_src;
    } else if (c.verdict == -EPROTO) {
        snprintf(t_last_error, sizeof(t_last_error), "the store answered with %s", c.why);
        rc = -EPROTO;
    } else if (c.verdict != 1) {
        /* An HTTP error status (its body may have been cut: no matter). */
        snprintf(t_last_error, sizeof(t_last_error), "HTTP %ld", c.ans.status);
        rc = retry_aborted() ? -ECANCELED : c.verdict;
        obj->total = c.plan.total;
        obj->total_src = c.plan.total_src;
    } else if (cc == CURLE_OK) {
        snprintf(t_last_error, sizeof(t_last_error), "an answer without headers");
        rc = -EPROTO;
    } else {
        rc = transfer_errno(cc, &g, errbuf, deadline_ms); /* no answer at all */
    }
out:
    if (rc)
        range_log(url, off, len, rc);
    pool_return(p, h, rc != 0 && rc != -EACCES && rc != -ENOENT && rc != -ERANGE);
    return rc;
}

/* ---- POST ---- */

struct post_ctx {
    struct buf *out;
    int toobig;
};

static size_t post_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct post_ctx *c = ud;
    size_t n = size * nmemb;
    if (buf_append(c->out, data, n) != 0) {
        c->toobig = 1;
        return 0;
    }
    return n;
}

int http_post(struct http_pool *p, const char *url, const char *content_type, const char *body,
              struct buf *out, long *status)
{
    *status = 0;
    t_last_error[0] = '\0';
    int rc;
    CURL *h = pool_borrow(p, 0, &rc);
    if (!h)
        return rc;
    struct post_ctx c = {.out = out};
    struct curl_slist *hdrs = NULL;
    char ct[128], errbuf[CURL_ERROR_SIZE];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, ct);
    hdrs = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
    rc = -ENOMEM;
    if (!hdrs)
        goto out;
    struct guard g = {0};
    rc = setup_common(p, h, url, &g, errbuf);
    if (rc)
        goto out;
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)p->timeout_s);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, post_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode cc = retry_aborted() ? CURLE_ABORTED_BY_CALLBACK : curl_easy_perform(h);
    if (c.toobig) {
        rc = -E2BIG;
    } else if (cc != CURLE_OK) {
        char safe[256];
        rc = transfer_errno(cc, &g, errbuf, 0);
        log_debug("POST %s: %s", log_redact_url(url, safe, sizeof(safe)), t_last_error);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        rc = 0;
    }
out:
    curl_slist_free_all(hdrs);
    pool_return(p, h, rc != 0);
    return rc;
}

char *http_form_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(3 * n + 1), *w = o;
    if (!o)
        return NULL;
    for (const unsigned char *r = (const unsigned char *)s; *r; r++) {
        unsigned char ch = *r;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *w++ = (char)ch;
        } else {
            *w++ = '%';
            *w++ = hex[ch >> 4];
            *w++ = hex[ch & 15];
        }
    }
    *w = '\0';
    return o;
}
