/* fakestore: an in-process fake object store for the reader's tests
 * (reader.h's store seam), with fault knobs, and the URL source that goes
 * with it. See fakestore.h. */
#include "fakestore.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "retry.h"

static unsigned url_gen(const char *url)
{
    const char *g = strstr(url, "gen=");
    return g ? (unsigned)strtoul(g + 4, NULL, 10) : 0;
}

/* Waits hang_ms, as a dead store would, but not past the deadline. */
static int fake_hang(unsigned ms, uint64_t deadline_ms)
{
    uint64_t end = retry_now_ms() + ms;
    while (retry_now_ms() < end) {
        if (retry_aborted())
            return -ECANCELED;
        if (deadline_ms && retry_now_ms() >= deadline_ms)
            return -ETIMEDOUT;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* A fault answer, or 1 when the call is to be answered normally. Lock held. */
static int fake_fault(struct fake *f, const char *url, uint64_t off, struct http_object *obj)
{
    if (url_gen(url) < f->refuse_below)
        return -EACCES;
    if (f->r416) {
        f->r416--;
        if (f->r416_total) {
            obj->total = f->r416_value;
            obj->total_src = HTTP_TOTAL_RANGE;
        }
        return -ERANGE;
    }
    if (f->fail) {
        f->fail--;
        return -EAGAIN;
    }
    if (f->proto) {
        f->proto--;
        return -EPROTO;
    }
    if (!f->no_etag)
        snprintf(obj->etag, sizeof(obj->etag), "%s", f->etag);
    if (off >= f->size) {
        obj->total = f->size;
        obj->total_src = HTTP_TOTAL_RANGE;
        return -ERANGE;
    }
    return 1;
}

int fake_get(void *ctx, const char *url, uint64_t off, size_t len, uint64_t deadline_ms, char *dst,
             size_t *got, struct http_object *obj)
{
    struct fake *f = ctx;
    *got = 0;
    *obj = (struct http_object){.total = HTTP_UNKNOWN_SIZE};
    pthread_mutex_lock(&f->lock);
    unsigned hang = f->hang_ms;
    if (f->calls < 64) {
        f->offs[f->calls] = off;
        f->lens[f->calls] = len;
    }
    f->calls++;
    pthread_mutex_unlock(&f->lock);
    int rc = hang ? fake_hang(hang, deadline_ms) : 0;
    if (rc)
        return rc;
    pthread_mutex_lock(&f->lock);
    rc = fake_fault(f, url, off, obj);
    if (rc != 1) {
        pthread_mutex_unlock(&f->lock);
        return rc; /* nothing delivered */
    }
    uint64_t n = f->size - off < len ? f->size - off : len;
    obj->total = f->size;
    obj->total_src = HTTP_TOTAL_RANGE;
    rc = 0;
    if (f->cut200) {
        /* A 200 without Content-Length, cut: the body is [0, cut200_at). */
        f->cut200--;
        n = f->cut200_at > off ? (f->cut200_at - off < n ? f->cut200_at - off : n) : 0;
        obj->total = f->cut200_at;
        obj->total_src = HTTP_TOTAL_EOF;
    } else if (f->drop && f->drop_after < n) {
        f->drop--;
        n = f->drop_after;
        rc = -EAGAIN;
        if (f->etag_after_drop)
            snprintf(f->etag, sizeof(f->etag), "\"changed\"");
    }
    memcpy(dst, f->data + off, n);
    *got = n;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* New contents for the object (workers may be reading it). */
void fake_fill(struct fake *f, uint64_t size, unsigned seed)
{
    char *data = malloc(size ? size : 1);
    assert_non_null(data);
    for (uint64_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (char)(seed >> 16);
    }
    pthread_mutex_lock(&f->lock);
    free(f->data);
    f->data = data;
    f->size = size;
    pthread_mutex_unlock(&f->lock);
}

struct fake *fake_new(uint64_t size)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    fake_fill(f, size, (unsigned)size);
    snprintf(f->etag, sizeof(f->etag), "\"v1\"");
    return f;
}

/* The object changes its ETag (workers may be reading it). Not inlined:
 * GCC's -Warray-bounds then takes f for a null pointer after cmocka's
 * assert_non_null in the caller. */
__attribute__((noinline)) void fake_etag(struct fake *f, const char *tag)
{
    pthread_mutex_lock(&f->lock);
    snprintf(f->etag, sizeof(f->etag), "%s", tag);
    pthread_mutex_unlock(&f->lock);
}

void fake_free(struct fake *f)
{
    pthread_mutex_destroy(&f->lock);
    free(f->data);
    free(f);
}

/* ---------- the URL source ---------- */

int url_cb(void *ctx, const char *stale, char **url)
{
    struct urls *u = ctx;
    char buf[64];
    pthread_mutex_lock(&u->lock);
    u->calls++;
    if (stale) {
        u->stale_calls++;
        snprintf(u->last_stale, sizeof(u->last_stale), "%s", stale);
        if (url_gen(stale) == u->gen)
            u->gen++;
    }
    snprintf(buf, sizeof(buf), "fake://object?gen=%u", u->gen);
    pthread_mutex_unlock(&u->lock);
    *url = strdup(buf);
    return *url ? 0 : -ENOMEM;
}

struct urls g_urls = {.lock = PTHREAD_MUTEX_INITIALIZER, .gen = 1};

void urls_reset(void)
{
    pthread_mutex_lock(&g_urls.lock);
    g_urls.gen = 1;
    g_urls.calls = g_urls.stale_calls = 0;
    g_urls.last_stale[0] = '\0';
    pthread_mutex_unlock(&g_urls.lock);
}

unsigned fake_calls(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}
