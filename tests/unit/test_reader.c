/* The read path against an in-process fake object store (reader.h's store
 * seam): block arithmetic, slot states, URL refresh on 403, an object that
 * changes, transient failures and their retries, dropped transfers resumed,
 * 416s and short answers, the memory budget, deadlines and abort, and random
 * read sequences from many threads checked byte by byte. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fakestore.h"
#include "reader.h"
#include "retry.h"

#define BS 16384u /* block size of the tests: small, so objects span many */

/* ---------- helpers ---------- */

static struct reader_pool *pool_new_bs(struct fake *f, unsigned blocks, unsigned retries,
                                       unsigned ahead, size_t bs)
{
    struct reader_pool_opts o = {.store = {fake_get, f},
                                 .workers = 3,
                                 .block_size = bs,
                                 .max_ahead = ahead,
                                 .retries = retries,
                                 .timeout_s = 5,
                                 .backoff_ms = 2,
                                 .cache_bytes = (size_t)blocks * bs};
    struct reader_pool *p = reader_pool_new(&o);
    assert_non_null(p);
    return p;
}

static struct reader_pool *pool_new(struct fake *f, unsigned blocks, unsigned retries,
                                    unsigned ahead)
{
    return pool_new_bs(f, blocks, retries, ahead, BS);
}

static struct reader *open_reader(struct reader_pool *p, uint64_t hint)
{
    struct reader *r = reader_open(p, hint, url_cb, &g_urls, NULL);
    assert_non_null(r);
    return r;
}

/* Reads [off, off+n) and checks every byte against the fake object. */
static void expect_bytes(struct reader *r, struct fake *f, uint64_t off, size_t n)
{
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    ssize_t got = reader_read(r, buf, n, off);
    uint64_t want = off >= f->size ? 0 : f->size - off < n ? f->size - off : n;
    assert_int_equal(got, (ssize_t)want);
    if (want)
        assert_memory_equal(buf, f->data + off, (size_t)want);
    free(buf);
}

static ssize_t read_at(struct reader *r, uint64_t off, size_t n)
{
    char buf[256];
    return reader_read(r, buf, n < sizeof(buf) ? n : sizeof(buf), off);
}

static int setup(void **state)
{
    urls_reset();
    retry_abort_clear();
    return 0;
}

/* ---------- tests ---------- */

static void test_span(void **state)
{
    uint64_t f, l;
    const size_t bs = 1u << 20;
    reader_span(0, 1, bs, &f, &l);
    assert_int_equal(f, 0);
    assert_int_equal(l, 0);
    reader_span(0, bs, bs, &f, &l);
    assert_int_equal(l, 0);
    reader_span(0, bs + 1, bs, &f, &l);
    assert_int_equal(l, 1);
    reader_span(bs - 1, 2, bs, &f, &l);
    assert_int_equal(f, 0);
    assert_int_equal(l, 1);
    reader_span(5 * bs, 4096, bs, &f, &l);
    assert_int_equal(f, 5);
    assert_int_equal(l, 5);
    /* Offsets beyond 4 GiB must not wrap. */
    reader_span((uint64_t)300 << 30, 128 << 10, bs, &f, &l);
    assert_int_equal(f, (uint64_t)300 << 10);
    assert_int_equal(l, (uint64_t)300 << 10);
}

static void test_reads_every_byte_and_probe(void **state)
{
    struct fake *f = fake_new(5 * BS + 777);
    struct reader_pool *p = pool_new(f, 16, 2, 4);
    struct reader *r = open_reader(p, 0);
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, f->size);
    assert_string_equal(etag, "\"v1\"");
    for (uint64_t off = 0; off < f->size; off += 3000)
        expect_bytes(r, f, off, 3000);      /* forward: prefetch grows */
    expect_bytes(r, f, BS - 1, 2 * BS + 2); /* three blocks in one read */
    expect_bytes(r, f, f->size - 5, 100);   /* the end: short */
    expect_bytes(r, f, f->size, 100);       /* past it: 0 */
    expect_bytes(r, f, f->size + 10 * BS, 1);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_empty_object(void **state)
{
    struct fake *f = fake_new(0);
    struct reader_pool *p = pool_new(f, 4, 1, 2);
    struct reader *r = open_reader(p, 0);
    uint64_t size = 99;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, 0);
    assert_int_equal(read_at(r, 0, 10), 0);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_refresh_on_403_asks_with_the_stale_url(void **state)
{
    struct fake *f = fake_new(3 * BS);
    FAKE(f, f->refuse_below = 2); /* the first URL has expired */
    struct reader_pool *p = pool_new(f, 8, 1, 0);
    struct reader *r = open_reader(p, 0);
    expect_bytes(r, f, 100, 1000);
    assert_int_equal(g_urls.stale_calls, 1);
    assert_string_equal(g_urls.last_stale, "fake://object?gen=1");
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_int_equal(st.refreshes, 1);
    assert_int_equal(st.retries, 0);
    /* Fresh URLs refused again and again: EIO after two refreshes more. */
    FAKE(f, f->refuse_below = 1000);
    assert_int_equal(read_at(r, 2 * BS, 10), -EIO);
    reader_pool_stats(p, &st);
    assert_int_equal(st.refreshes, 4);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_etag_change_fails_every_later_read(void **state)
{
    struct fake *f = fake_new(6 * BS);
    struct reader_pool *p = pool_new(f, 16, 3, 0);
    struct reader *r = open_reader(p, 0);
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    expect_bytes(r, f, BS, 100); /* block 1 cached */
    fake_etag(f, "\"v2\"");
    unsigned before = fake_calls(f);
    assert_int_equal(read_at(r, 4 * BS, 100), -EIO);
    assert_int_equal(fake_calls(f), before + 1);     /* no retry: the object changed */
    expect_bytes(r, f, BS, 100);                     /* fetched before: old bytes, still */
    assert_int_equal(read_at(r, 2 * BS, 100), -EIO); /* anything else: never the new */
    reader_close(&r);
    /* A new reader reads the new version. */
    r = open_reader(p, 0);
    expect_bytes(r, f, 4 * BS, 100);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_length_change_is_eio(void **state)
{
    struct fake *f = fake_new(6 * BS);
    struct reader_pool *p = pool_new(f, 16, 3, 0);
    struct reader *r = open_reader(p, 0);
    expect_bytes(r, f, 0, 100);
    fake_fill(f, 8 * BS, 5); /* same ETag, other length */
    assert_int_equal(read_at(r, 3 * BS, 100), -EIO);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_invalidate_fails_reads(void **state)
{
    struct fake *f = fake_new(4 * BS);
    struct reader_pool *p = pool_new(f, 8, 1, 0);
    struct reader *r = open_reader(p, 0);
    expect_bytes(r, f, 0, 100);
    reader_invalidate(r);
    assert_int_equal(read_at(r, 0, 100), -EIO);
    assert_int_equal(read_at(r, 2 * BS, 100), -EIO);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_transient_failures_are_retried_then_eio(void **state)
{
    struct fake *f = fake_new(4 * BS);
    struct reader_pool *p = pool_new(f, 8, 3, 0);
    struct reader *r = open_reader(p, 0);
    FAKE(f, f->fail = 3);
    expect_bytes(r, f, 10, 100);
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_int_equal(st.retries, 3);
    FAKE(f, f->fail = 4);
    unsigned before = fake_calls(f);
    assert_int_equal(read_at(r, 2 * BS, 100), -EIO);
    assert_int_equal(fake_calls(f), before + 4);
    FAKE(f, f->proto = 2); /* answers not believed: retried the same way */
    expect_bytes(r, f, 3 * BS, 100);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_failed_block_repeats_its_error_once(void **state)
{
    struct fake *f = fake_new(4 * BS);
    struct reader_pool *p = pool_new(f, 8, 0, 0);
    struct reader *r = open_reader(p, 0);
    FAKE(f, f->fail = 1);
    assert_int_equal(read_at(r, BS, 10), -EIO);
    unsigned before = fake_calls(f);
    /* The kernel's immediate retry of the same page gets the error again
     * without a new request; the next read after that fetches anew. */
    assert_int_equal(read_at(r, BS + 5, 10), -EIO);
    assert_int_equal(fake_calls(f), before);
    expect_bytes(r, f, BS + 5, 10);
    assert_int_equal(fake_calls(f), before + 1);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_dropped_transfers_resume_without_using_retries(void **state)
{
    struct fake *f = fake_new(3 * BS);
    struct reader_pool *p = pool_new(f, 8, 1, 0);
    struct reader *r = open_reader(p, 0);
    FAKE(f, f->drop = 5; f->drop_after = 1000; f->fail = 1);
    expect_bytes(r, f, 0, BS);       /* a failure and 5 drops, with retries=1 */
    assert_int_equal(f->offs[0], 0); /* the failure */
    for (unsigned i = 0; i <= 5; i++)
        assert_int_equal(f->offs[1 + i], i * 1000); /* each drop resumed from its last byte */
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_int_equal(st.resumes, 5);
    assert_int_equal(st.retries, 1);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_resume_checks_the_etag(void **state)
{
    struct fake *f = fake_new(3 * BS);
    struct reader_pool *p = pool_new(f, 8, 3, 0);
    struct reader *r = open_reader(p, 0);
    FAKE(f, f->drop = 1; f->drop_after = 1000; f->etag_after_drop = true);
    assert_int_equal(read_at(r, 0, 100), -EIO);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_416_inside_the_object_is_an_error_not_eof(void **state)
{
    struct fake *f = fake_new(6 * BS);
    struct reader_pool *p = pool_new(f, 16, 2, 0);
    struct reader *r = open_reader(p, 0);
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    FAKE(f, f->r416 = 2); /* without Content-Range: retried, then the bytes */
    expect_bytes(r, f, 3 * BS + 5, 100);
    /* "bytes * /32768", below the length: still an error. */
    FAKE(f, f->r416 = 100; f->r416_total = true; f->r416_value = 2 * BS);
    assert_int_equal(read_at(r, 4 * BS, 100), -EIO);
    FAKE(f, f->r416 = 0);
    expect_bytes(r, f, 5 * BS, 100);
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, f->size); /* the length never shrank */
    reader_close(&r);
    /* Before any answer, the listing's length is the floor. */
    r = open_reader(p, f->size);
    FAKE(f, f->r416 = 1; f->r416_total = false);
    expect_bytes(r, f, 0, 100);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_200_cut_short_below_the_listing_is_retried(void **state)
{
    struct fake *f = fake_new(4 * BS);
    struct reader_pool *p = pool_new(f, 8, 2, 0);
    struct reader *r = open_reader(p, f->size);
    FAKE(f, f->cut200 = 2; f->cut200_at = 5000); /* looks like a 5000-byte object */
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, f->size);
    expect_bytes(r, f, 0, BS);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_no_etag_store(void **state)
{
    struct fake *f = fake_new(3 * BS);
    FAKE(f, f->no_etag = true);
    struct reader_pool *p = pool_new(f, 8, 1, 2);
    struct reader *r = open_reader(p, 0);
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_string_equal(etag, "");
    expect_bytes(r, f, 0, (size_t)f->size);
    reader_close(&r);
    /* An ETag where the object had none is another object (a redirect to
     * another server, a replacement): never mixed in. */
    r = open_reader(p, 0);
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    FAKE(f, f->no_etag = false);
    assert_int_equal(read_at(r, 2 * BS, 10), -EIO);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

/* ---------- deadline and abort ---------- */

static void test_deadline_bounds_a_hanging_store(void **state)
{
    struct fake *f = fake_new(3 * BS);
    struct reader_pool_opts o = {.store = {fake_get, f},
                                 .workers = 1,
                                 .block_size = BS,
                                 .retries = 1,
                                 .timeout_s = 1,
                                 .backoff_ms = 2,
                                 .cache_bytes = 4 * BS};
    struct reader_pool *p = reader_pool_new(&o);
    struct reader *r = open_reader(p, 0);
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_true(st.deadline_ms >= 2000 && st.deadline_ms < 2100); /* 1 s x 2 + backoff */
    FAKE(f, f->hang_ms = 60000);
    uint64_t t0 = retry_now_ms();
    assert_int_equal(read_at(r, BS, 10), -EIO);
    uint64_t took = retry_now_ms() - t0;
    assert_true(took >= 1900 && took < 3 * st.deadline_ms);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

struct stuck {
    struct reader *r;
    ssize_t rc;
};

static void *stuck_read(void *arg)
{
    struct stuck *s = arg;
    s->rc = read_at(s->r, BS, 10);
    return NULL;
}

static void test_abort_ends_stuck_reads_at_once(void **state)
{
    struct fake *f = fake_new(3 * BS);
    struct reader_pool *p = pool_new(f, 8, 5, 0); /* deadline: about 36 s */
    struct reader *r = open_reader(p, 0);
    FAKE(f, f->hang_ms = 60000);
    struct stuck s = {r, 1};
    pthread_t t;
    pthread_create(&t, NULL, stuck_read, &s);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    uint64_t t0 = retry_now_ms();
    retry_abort_all();
    pthread_join(t, NULL);
    assert_true(retry_now_ms() - t0 < 1000);
    assert_int_equal(s.rc, -ECANCELED);
    assert_int_equal(retry_sleep(3), -ECANCELED);
    retry_abort_clear();
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

/* ---------- the memory budget, and many threads ---------- */

struct worker {
    struct reader *r;
    struct fake *f;
    unsigned seed;
    unsigned rounds;
    bool sequential;
    int bad; /* reads that returned other bytes or an error */
};

/* Random (offset, size): anywhere, across block edges, at and past the end. */
static void pick(unsigned *seed, uint64_t size, uint64_t *off, size_t *n)
{
    unsigned k = (unsigned)rand_r(seed);
    switch (k % 4) {
    case 0:
        *off = (uint64_t)rand_r(seed) % size;
        break;
    case 1:
        *off = ((uint64_t)rand_r(seed) % (size / BS + 1)) * BS - (uint64_t)(rand_r(seed) % 7);
        break;
    case 2:
        *off = size - (uint64_t)(rand_r(seed) % 3000);
        break;
    default:
        *off = size + (uint64_t)(rand_r(seed) % 3);
    }
    if (*off > size + 2)
        *off = 0;
    *n = 1 + (size_t)rand_r(seed) % (3 * BS);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char *buf = malloc(3 * BS + 1);
    uint64_t off = 0;
    size_t n = 0;
    for (unsigned i = 0; i < w->rounds && buf; i++) {
        if (w->sequential)
            n = 1 + (size_t)rand_r(&w->seed) % (2 * BS);
        else
            pick(&w->seed, w->f->size, &off, &n);
        ssize_t got = reader_read(w->r, buf, n, off);
        uint64_t want = off >= w->f->size ? 0 : w->f->size - off < n ? w->f->size - off : n;
        if (got != (ssize_t)want || memcmp(buf, w->f->data + off, (size_t)want) != 0)
            w->bad++;
        off = w->sequential ? (off + n >= w->f->size ? 0 : off + n) : off;
    }
    free(buf);
    return NULL;
}

/* n_threads workers on n_readers readers of f; returns the bad reads. */
static int run_workers(struct reader_pool *p, struct fake *f, unsigned n_threads,
                       unsigned n_readers, unsigned rounds, unsigned seed)
{
    struct reader *readers[32];
    struct worker w[32];
    pthread_t t[32];
    int bad = 0;
    for (unsigned i = 0; i < n_readers; i++)
        readers[i] = open_reader(p, i % 2 ? f->size : 0);
    for (unsigned i = 0; i < n_threads; i++) {
        w[i] = (struct worker){readers[i % n_readers], f, seed + i, rounds, i % 3 == 0, 0};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (unsigned i = 0; i < n_threads; i++) {
        pthread_join(t[i], NULL);
        bad += w[i].bad;
    }
    for (unsigned i = 0; i < n_readers; i++)
        reader_close(&readers[i]);
    return bad;
}

static void test_memory_budget_holds_with_many_readers(void **state)
{
    struct fake *f = fake_new(40 * BS + 123);
    struct reader_pool *p = pool_new(f, 6, 2, 8); /* 6 buffers; 8 ahead each */
    assert_int_equal(run_workers(p, f, 16, 16, 60, 1), 0);
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_true(st.mapped_peak <= 6 * BS);
    assert_true(st.mapped_peak >= 2 * BS); /* prefetching did happen */
    /* All closed: the buffers go back once the last job has let go. */
    for (int i = 0; i < 200 && st.mapped; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        reader_pool_stats(p, &st);
    }
    assert_int_equal(st.mapped, 0);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_one_buffer_still_makes_progress(void **state)
{
    struct fake *f = fake_new(10 * BS + 1);
    struct reader_pool *p = pool_new(f, 1, 2, 4);
    assert_int_equal(run_workers(p, f, 6, 3, 40, 7), 0);
    struct reader_stats st;
    reader_pool_stats(p, &st);
    assert_int_equal(st.mapped_peak, BS);
    reader_pool_free(&p);
    fake_free(f);
}

/* Faults injected while the workers run: every completed read is exact. */
static void *chaos_main(void *arg)
{
    struct fake *f = arg;
    unsigned seed = 99;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&f->lock);
        switch (rand_r(&seed) % 3) {
        case 0:
            f->fail = 1;
            break;
        case 1:
            f->drop = 1;
            f->drop_after = (size_t)rand_r(&seed) % BS;
            break;
        default:
            f->proto = 1;
        }
        pthread_mutex_unlock(&f->lock);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ---------- windows: blocks larger than the smallest request ---------- */

#define KiB 1024u
#define MiB (1024u * 1024u)

/* The request n (offset and length) the fake saw. */
static void expect_request(struct fake *f, unsigned n, uint64_t off, size_t len)
{
    pthread_mutex_lock(&f->lock);
    uint64_t o = f->offs[n];
    size_t l = f->lens[n];
    pthread_mutex_unlock(&f->lock);
    if (o != off || l != len)
        fail_msg("request %u was [%llu, +%zu), expected [%llu, +%zu)", n, (unsigned long long)o, l,
                 (unsigned long long)off, len);
}

/* An open's probe costs 64 KiB; reading on from the start grows the window
 * fourfold (256 KiB, then 1 MiB), then whole blocks. */
static void test_windows_grow_from_a_small_first_request(void **state)
{
    struct fake *f = fake_new(5 * MiB + 777);
    struct reader_pool *p = pool_new_bs(f, 8, 0, 4, 2 * MiB);
    struct reader *r = open_reader(p, 0);
    uint64_t size;
    char etag[HTTP_ETAG_MAX];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, 5 * MiB + 777);
    assert_int_equal(fake_calls(f), 1);
    expect_request(f, 0, 0, 64 * KiB);
    for (uint64_t off = 0; off < 128 * KiB; off += 32 * KiB)
        expect_bytes(r, f, off, 32 * KiB);
    assert_int_equal(fake_calls(f), 2);
    expect_request(f, 1, 64 * KiB, 192 * KiB); /* the window: 256 KiB */
    for (uint64_t off = 128 * KiB; off < 320 * KiB; off += 32 * KiB)
        expect_bytes(r, f, off, 32 * KiB);
    assert_int_equal(fake_calls(f), 3);
    expect_request(f, 2, 256 * KiB, 768 * KiB); /* 1 MiB */
    for (uint64_t off = 320 * KiB; off < size; off += 128 * KiB)
        expect_bytes(r, f, off, 128 * KiB);
    reader_close(&r);
    reader_pool_free(&p);
    /* Then whole blocks (or what is left of one), prefetched. */
    for (unsigned i = 4; i < fake_calls(f) && i < 64; i++) {
        if (f->lens[i] != 2 * MiB && f->offs[i] + f->lens[i] != 5 * MiB + 777)
            fail_msg("request %u: [%llu, +%zu)", i, (unsigned long long)f->offs[i], f->lens[i]);
    }
    assert_true(fake_calls(f) <= 6);
    fake_free(f);
}

/* Random small reads cost a 64 KiB request each, however far apart in a
 * block; a read just below a window grows it down to meet it. */
static void test_random_reads_fetch_a_window_each(void **state)
{
    struct fake *f = fake_new(4 * MiB);
    struct reader_pool *p = pool_new_bs(f, 8, 0, 4, 2 * MiB);
    struct reader *r = open_reader(p, 4 * MiB);
    static const uint64_t offs[] = {1900 * KiB, 100 * KiB,  3 * MiB + 5,
                                    40 * KiB,   2500 * KiB, 1 * MiB};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
        expect_bytes(r, f, offs[i], 4 * KiB);
    assert_int_equal(fake_calls(f), 6);
    expect_request(f, 0, 1856 * KiB, 64 * KiB);
    expect_request(f, 1, 64 * KiB, 64 * KiB); /* far below: a new window */
    expect_request(f, 3, 0, 64 * KiB);        /* just below [64K, 128K): grown down */
    expect_request(f, 5, 1 * MiB, 64 * KiB);
    /* A block keeps one window, the last: still served without the store. */
    expect_bytes(r, f, 1 * MiB, 64 * KiB);
    expect_bytes(r, f, 2 * MiB + 448 * KiB, 64 * KiB);
    assert_int_equal(fake_calls(f), 6);
    /* A read across a window's end and the next block: the rest is fetched. */
    expect_bytes(r, f, 2 * MiB - 8 * KiB, 64 * KiB);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

/* The kernel's readahead requests of one sequential reader arrive out of
 * order: a read ahead of the window fills the gap instead of starting a new
 * window, so the block stays whole (and can be kept on disk), and the read
 * that arrives late is served from memory. */
static void test_reads_out_of_order_keep_the_block_whole(void **state)
{
    struct fake *f = fake_new(8 * MiB);
    struct reader_pool *p = pool_new_bs(f, 8, 0, 0, 2 * MiB);
    struct reader *r = open_reader(p, 8 * MiB);
    unsigned before = fake_calls(f); /* the open's probe */
    expect_bytes(r, f, 0, 512 * KiB);
    expect_bytes(r, f, 1 * MiB, 512 * KiB); /* arrived before [512K, 1M) */
    expect_bytes(r, f, 512 * KiB, 512 * KiB);
    expect_bytes(r, f, 0, 64 * KiB); /* the start of the block is still there */
    expect_bytes(r, f, 1536 * KiB, 512 * KiB);
    assert_int_equal(fake_calls(f) - before, 2);
    /* Small random reads behind the window are no stream: a new window. */
    expect_bytes(r, f, 6 * MiB, 4 * KiB);
    expect_bytes(r, f, 4 * MiB + 8 * KiB, 4 * KiB);
    assert_int_equal(fake_calls(f) - before, 4);
    expect_request(f, fake_calls(f) - 1, 4 * MiB, 64 * KiB);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

/* Reading the first MiB (file(1), a thumbnailer) does not prefetch; a copy
 * (more than a block in one run) does. */
static void test_prefetch_waits_for_a_block_read_in_sequence(void **state)
{
    struct fake *f = fake_new(12 * MiB);
    struct reader_pool *p = pool_new_bs(f, 8, 0, 4, 2 * MiB);
    struct reader *r = open_reader(p, 0);
    for (uint64_t off = 0; off < MiB; off += 128 * KiB)
        expect_bytes(r, f, off, 128 * KiB);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    unsigned n = fake_calls(f);
    for (unsigned i = 0; i < n; i++)
        assert_true(f->offs[i] < MiB);
    for (uint64_t off = MiB; off < 4 * MiB; off += 128 * KiB)
        expect_bytes(r, f, off, 128 * KiB);
    /* Blocks 2.. are being fetched ahead of the reader. */
    bool ahead = false;
    for (int tries = 0; tries < 200 && !ahead; tries++) {
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&f->lock);
        for (unsigned i = 0; i < f->calls && i < 64; i++)
            ahead = ahead || f->offs[i] >= 4 * MiB;
        pthread_mutex_unlock(&f->lock);
    }
    assert_true(ahead);
    reader_close(&r);
    reader_pool_free(&p);
    fake_free(f);
}

static void test_random_read_sequences_are_byte_exact(void **state)
{
    for (unsigned round = 0; round < 4; round++) {
        struct fake *f = fake_new(23 * BS + 321 * round);
        struct reader_pool *p = pool_new(f, 3 + round * 4, 1000, 1 + round * 3);
        pthread_t chaos;
        pthread_create(&chaos, NULL, chaos_main, f);
        assert_int_equal(run_workers(p, f, 8, 1 + round * 2, 80, round * 100), 0);
        pthread_join(chaos, NULL);
        reader_pool_free(&p);
        fake_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span),
        cmocka_unit_test_setup(test_reads_every_byte_and_probe, setup),
        cmocka_unit_test_setup(test_empty_object, setup),
        cmocka_unit_test_setup(test_refresh_on_403_asks_with_the_stale_url, setup),
        cmocka_unit_test_setup(test_etag_change_fails_every_later_read, setup),
        cmocka_unit_test_setup(test_length_change_is_eio, setup),
        cmocka_unit_test_setup(test_invalidate_fails_reads, setup),
        cmocka_unit_test_setup(test_transient_failures_are_retried_then_eio, setup),
        cmocka_unit_test_setup(test_failed_block_repeats_its_error_once, setup),
        cmocka_unit_test_setup(test_dropped_transfers_resume_without_using_retries, setup),
        cmocka_unit_test_setup(test_resume_checks_the_etag, setup),
        cmocka_unit_test_setup(test_416_inside_the_object_is_an_error_not_eof, setup),
        cmocka_unit_test_setup(test_200_cut_short_below_the_listing_is_retried, setup),
        cmocka_unit_test_setup(test_no_etag_store, setup),
        cmocka_unit_test_setup(test_deadline_bounds_a_hanging_store, setup),
        cmocka_unit_test_setup(test_abort_ends_stuck_reads_at_once, setup),
        cmocka_unit_test_setup(test_memory_budget_holds_with_many_readers, setup),
        cmocka_unit_test_setup(test_one_buffer_still_makes_progress, setup),
        cmocka_unit_test_setup(test_windows_grow_from_a_small_first_request, setup),
        cmocka_unit_test_setup(test_random_reads_fetch_a_window_each, setup),
        cmocka_unit_test_setup(test_reads_out_of_order_keep_the_block_whole, setup),
        cmocka_unit_test_setup(test_prefetch_waits_for_a_block_read_in_sequence, setup),
        cmocka_unit_test_setup(test_random_read_sequences_are_byte_exact, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
