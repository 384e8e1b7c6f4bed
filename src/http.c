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

struct http_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    CURL **idle; /* stack of idle handles */
    unsigned n_idle;
    unsigned n_total; /* handles alive (idle + borrowed) */
    unsigned max;
    unsigned timeout_s;
    unsigned connect_timeout_s;
    char *cafile;
    int verbose;
    int follow_redirects;
};

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
    pthread_cond_init(&p->cond, NULL);
    return p;
}

void http_pool_free(struct http_pool **pp)
{
    struct http_pool *p = *pp;
    if (!p)
        return;
    for (unsigned i = 0; i < p->n_idle; i++)
        curl_easy_cleanup(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->idle);
    free(p->cafile);
    free(p);
    *pp = NULL;
}

static CURL *pool_borrow(struct http_pool *p)
{
    CURL *h = NULL;
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->n_total >= p->max)
        pthread_cond_wait(&p->cond, &p->lock);
    if (p->n_idle > 0) {
        h = p->idle[--p->n_idle];
    } else {
        h = curl_easy_init();
        if (h)
            p->n_total++;
    }
    pthread_mutex_unlock(&p->lock);
    return h;
}

/* broken: the handle saw a failure that may leave a bad connection; keeping
 * the handle is still fine (curl drops dead connections), so we only reset
 * the per-request options. */
static void pool_return(struct http_pool *p, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = h;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Stall detection. curl's LOW_SPEED_* averages speed over a window of
 * several seconds, so a burst followed by silence is noticed late; this
 * aborts a transfer that has moved no byte for timeout_s, measured from the
 * last byte. */
struct stall_guard {
    struct timespec last;
    curl_off_t seen;
    unsigned timeout_s;
};

static int stall_check(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct stall_guard *g = ud;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (dlnow + ulnow != g->seen) {
        g->seen = dlnow + ulnow;
        g->last = now;
        return 0;
    }
    double idle = (double)(now.tv_sec - g->last.tv_sec) + (now.tv_nsec - g->last.tv_nsec) / 1e9;
    if (idle >= g->timeout_s) {
        snprintf(t_last_error, sizeof(t_last_error), "no data for %u s", g->timeout_s);
        return 1; /* CURLE_ABORTED_BY_CALLBACK: retryable */
    }
    return 0;
}

static void setup_common(struct http_pool *p, CURL *h, const char *url, struct stall_guard *g)
{
    g->seen = 0;
    g->timeout_s = p->timeout_s;
    clock_gettime(CLOCK_MONOTONIC, &g->last);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stall_check);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, g);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)p->connect_timeout_s);
    /* A transfer that moves less than 1 byte/s for timeout_s is stalled. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)p->timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (p->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Never from https down to http: the URL carries a signature. */
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                     strncmp(url, "https:", 6) == 0 ? "https" : "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, "umongofs/" UMONGOFS_VERSION);
    if (p->cafile)
        curl_easy_setopt(h, CURLOPT_CAINFO, p->cafile);
    if (p->verbose)
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
}

int http_status_errno(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 401:
    case 403:
        return -EACCES;
    case 404:
    case 410:
        return -ENOENT;
    case 416:
        return -ERANGE;
    case 408:
    case 429:
        return -EAGAIN;
    default:
        return status >= 500 ? -EAGAIN : -EIO;
    }
}

static int curl_errno(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
        return -EIO; /* retrying will not help */
    default:
        return -EAGAIN; /* connect, resolve, timeout, partial file, recv errors */
    }
}

/* ---- ranged GET ---- */

struct range_ctx {
    CURL *h;
    char *dst;
    size_t len;        /* room in dst */
    size_t written;    /* bytes stored in dst */
    uint64_t skip;     /* body bytes still to drop (server ignored Range) */
    uint64_t want_off; /* first byte wanted */
    long status;       /* status of the reply being received */
    int full;          /* dst filled: stop the transfer */
    int overflow;      /* a 206 carried more than asked */
    struct http_object *obj;
    uint64_t cr_start; /* Content-Range start, UINT64_MAX if none */
    uint64_t clen;     /* Content-Length, UINT64_MAX if none */
};

static size_t range_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct range_ctx *c = ud;
    size_t n = size * nitems;
    char tmp[256];
    size_t k = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;
    memcpy(tmp, line, k);
    tmp[k] = '\0';
    tmp[strcspn(tmp, "\r\n")] = '\0';

    if (strncmp(tmp, "HTTP/", 5) == 0) {
        /* A new reply (after a redirect or 100-continue): forget the old one. */
        c->cr_start = UINT64_MAX;
        c->clen = UINT64_MAX;
        c->obj->total = HTTP_UNKNOWN_SIZE;
        c->obj->etag[0] = '\0';
        return n;
    }
    if (strncasecmp(tmp, "content-range:", 14) == 0) {
        const char *v = tmp + 14;
        v += strspn(v, " \t");
        unsigned long long a, b, t;
        /* Lengths past INT64_MAX cannot be a file's st_size: treat as unknown. */
        if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
            c->cr_start = a;
            c->obj->total = t <= INT64_MAX ? t : HTTP_UNKNOWN_SIZE;
        } else if (sscanf(v, "bytes */%llu", &t) == 1) {
            c->obj->total = t <= INT64_MAX ? t : HTTP_UNKNOWN_SIZE;
        } else if (sscanf(v, "bytes %llu-%llu/*", &a, &b) == 2) {
            c->cr_start = a;
        }
    } else if (strncasecmp(tmp, "content-length:", 15) == 0) {
        unsigned long long l;
        if (sscanf(tmp + 15, " %llu", &l) == 1 && l <= INT64_MAX)
            c->clen = l;
    } else if (strncasecmp(tmp, "etag:", 5) == 0) {
        const char *v = tmp + 5;
        v += strspn(v, " \t");
        snprintf(c->obj->etag, sizeof(c->obj->etag), "%s", v);
    }
    return n;
}

static size_t range_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct range_ctx *c = ud;
    size_t n = size * nmemb;
    if (c->status == 0) {
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
        /* A 200 to a range request carries the object from byte 0: drop the
         * bytes before the range as they stream past. */
        if (c->status == 200)
            c->skip = c->want_off;
    }
    if (c->status != 200 && c->status != 206)
        return n; /* error body: discard */
    size_t used = 0;
    if (c->skip) {
        size_t s = c->skip < n ? (size_t)c->skip : n;
        c->skip -= s;
        used += s;
    }
    size_t room = c->len - c->written;
    size_t take = n - used < room ? n - used : room;
    memcpy(c->dst + c->written, data + used, take);
    c->written += take;
    used += take;
    if (used < n) {
        /* More than we asked for: fine from a 200 (stop here), wrong from a 206. */
        if (c->status == 206)
            c->overflow = 1;
        c->full = 1;
        return 0; /* aborts the transfer */
    }
    return n;
}

int http_get_range(struct http_pool *p, const char *url, uint64_t off, size_t len, char *dst,
                   size_t *got, struct http_object *obj)
{
    *got = 0;
    obj->total = HTTP_UNKNOWN_SIZE;
    obj->etag[0] = '\0';
    if (len == 0)
        return -EINVAL;
    CURL *h = pool_borrow(p);
    if (!h)
        return -ENOMEM;
    struct range_ctx c = {.h = h,
                          .dst = dst,
                          .len = len,
                          .want_off = off,
                          .obj = obj,
                          .cr_start = UINT64_MAX,
                          .clen = UINT64_MAX};
    char range[64];
    snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off, off + len - 1);
    struct stall_guard guard;
    setup_common(p, h, url, &guard);
    curl_easy_setopt(h, CURLOPT_RANGE, range);
    /* A deadline for the whole request too: a store trickling a few bytes a
     * second never trips the stall guard. 64 KiB/s is the slowest we wait
     * for (a 2 MiB block: 32 s beyond the timeout). */
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(p->timeout_s + len / (64 << 10)));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, range_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, range_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);

    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc;
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && c.full && !c.overflow)) {
        char safe[256];
        log_debug("GET %s range %s: %s", log_redact_url(url, safe, sizeof(safe)), range,
                  c.overflow ? "reply longer than the range" : curl_easy_strerror(cc));
        snprintf(t_last_error, sizeof(t_last_error), "%s", curl_easy_strerror(cc));
        rc = c.overflow ? -EIO : curl_errno(cc);
        goto out;
    }
    rc = http_status_errno(status);
    if (rc)
        goto out;
    if (status == 200) {
        if (c.clen != UINT64_MAX)
            obj->total = c.clen;
        else if (!c.full)
            obj->total = off + c.written; /* streamed to the end */
        if (obj->total != HTTP_UNKNOWN_SIZE && off >= obj->total) {
            rc = -ERANGE;
            goto out;
        }
    } else if (c.cr_start != off) {
        log_warn("object store answered range %s with other bytes", range);
        rc = -EIO;
        goto out;
    }
    uint64_t want = len;
    if (obj->total != HTTP_UNKNOWN_SIZE)
        want = obj->total - off < len ? obj->total - off : len;
    if (c.written < want) {
        rc = -EAGAIN; /* short body: the connection dropped mid-way */
        goto out;
    }
    *got = c.written;
out:
    pool_return(p, h);
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
    CURL *h = pool_borrow(p);
    if (!h)
        return -ENOMEM;
    struct post_ctx c = {.out = out};
    struct curl_slist *hdrs = NULL;
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, ct);
    hdrs = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
    int rc = -ENOMEM;
    if (!hdrs)
        goto out;
    struct stall_guard guard;
    setup_common(p, h, url, &guard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)p->timeout_s);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, post_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    CURLcode cc = curl_easy_perform(h);
    if (c.toobig) {
        rc = -E2BIG;
    } else if (cc != CURLE_OK) {
        char safe[256];
        snprintf(t_last_error, sizeof(t_last_error), "%s", curl_easy_strerror(cc));
        log_debug("POST %s: %s", log_redact_url(url, safe, sizeof(safe)), curl_easy_strerror(cc));
        rc = curl_errno(cc);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        rc = 0;
    }
out:
    curl_slist_free_all(hdrs);
    pool_return(p, h);
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
