/* The readers over the disk cache (reader_disk.c, reader_read_disk): how
 * reads of blocks kept on disk are served. A stream gets whole blocks read
 * ahead of it into memory by the workers; small scattered reads take only
 * their bytes from disk; either way not one request beyond the open's probe
 * reaches the store, and every byte is the object's. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "diskcache.h"
#include "fakestore.h"
#include "reader.h"
#include "retry.h"
#include "stats.h"

#define KiB (1024u)
#define BS  (256 * KiB) /* four of the disk cache's 64 KiB chunks */
#define N   24u         /* blocks in the object */
#define ID  "cn-bj2/udb-1/bk-1"

static char dir[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    urls_reset();
    retry_abort_clear();
    snprintf(dir, sizeof(dir), "/tmp/umongofs-rd-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static struct reader_pool *pool_with_disk(struct fake *f, struct diskcache *dc)
{
    struct reader_pool_opts o = {.store = {fake_get, f},
                                 .workers = 3,
                                 .block_size = BS,
                                 .max_ahead = 8,
                                 .retries = 0,
                                 .timeout_s = 5,
                                 .backoff_ms = 2,
                                 .cache_bytes = 16 * (size_t)BS,
                                 .disk = dc};
    struct reader_pool *p = reader_pool_new(&o);
    assert_non_null(p);
    return p;
}

static struct reader *open_probed(struct reader_pool *p, struct fake *f)
{
    struct reader *r = reader_open(p, f->size, url_cb, &g_urls, NULL);
    assert_non_null(r);
    reader_set_cache_id(r, ID);
    uint64_t size;
    char etag[64];
    assert_int_equal(reader_probe(r, &size, etag, sizeof(etag)), 0);
    assert_int_equal(size, f->size);
    return r;
}

/* As fs_read does: the disk first, then memory or the store. */
static void read_checked(struct reader *r, struct fake *f, uint64_t off, size_t n)
{
    char *buf = malloc(n);
    assert_non_null(buf);
    ssize_t got = reader_read_disk(r, buf, n, off);
    if (got == 0)
        got = reader_read(r, buf, n, off);
    assert_int_equal(got, (ssize_t)n);
    assert_memory_equal(buf, f->data + off, n);
    free(buf);
}

/* One of the "disk_cache" counters of stats_json(). */
static long long disk_stat(const char *name)
{
    char *j = stats_json(), pat[64];
    assert_non_null(j);
    const char *dc = strstr(j, "\"disk_cache\":");
    assert_non_null(dc);
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *at = strstr(dc, pat);
    assert_non_null(at);
    long long v = strtoll(at + strlen(pat), NULL, 10);
    free(j);
    return v;
}

/* Reads the whole object through a first pool, so every block lands on
 * disk, and returns the cache with the pool gone (no block in memory). */
static struct diskcache *cache_everything(struct fake *f)
{
    struct diskcache *dc = NULL;
    char err[256];
    assert_int_equal(diskcache_open(dir, 64u << 20, &dc, err, sizeof(err)), 0);
    assert_non_null(dc);
    struct reader_pool *p = pool_with_disk(f, dc);
    struct reader *r = open_probed(p, f);
    for (uint64_t off = 0; off < f->size; off += 128 * KiB)
        read_checked(r, f, off, 128 * KiB);
    reader_close(&r);
    reader_pool_free(&p);
    struct dc_key k;
    assert_true(diskcache_key(&k, ID, "\"v1\"", f->size, BS));
    for (uint64_t b = 0; b < N; b++)
        assert_true(diskcache_has(dc, &k, b));
    return dc;
}

/* Every block of an object on disk, and a fresh pool (nothing in memory)
 * with a reader opened and probed; the counters zeroed. */
struct rig {
    struct fake *f;
    struct diskcache *dc;
    struct reader_pool *p;
    struct reader *r;
};

static struct rig rig_up(void)
{
    struct rig g = {.f = fake_new((uint64_t)N * BS)};
    g.dc = cache_everything(g.f);
    g.p = pool_with_disk(g.f, g.dc);
    g.r = open_probed(g.p, g.f);
    stats_reset();
    return g;
}

static void rig_down(struct rig *g)
{
    reader_close(&g->r);
    reader_pool_free(&g->p);
    diskcache_close(&g->dc);
    fake_free(g->f);
}

/* A stream over blocks on disk: each block is read from disk once, whole,
 * mostly by the workers ahead of the reader; its 16 KiB reads are copies
 * from memory, not 16 trips to the disk per block. */
static void test_a_stream_reads_blocks_ahead_whole(void **state)
{
    struct rig g = rig_up();
    struct fake *f = g.f;
    struct reader *r = g.r;
    unsigned probe = fake_calls(f);
    for (uint64_t off = 0; off < 4 * BS; off += 16 * KiB)
        read_checked(r, f, off, 16 * KiB);
    /* Blocks 4.. come from disk with no read asking: the workers read them
     * ahead (up to 8 blocks, the distance doubling with each block read). */
    long long want = 7 * (long long)BS;
    for (int i = 0; i < 500 && disk_stat("bytes_read") < want; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(disk_stat("bytes_read") >= want);
    for (uint64_t off = 4 * BS; off < f->size; off += 16 * KiB)
        read_checked(r, f, off, 16 * KiB);
    assert_int_equal(fake_calls(f), probe); /* nothing from the store */
    long long hits = disk_stat("hits");
    /* Block 0 came with the probe; the first block of the run may be read
     * straight from disk (a run is not a stream until it is a block long). */
    assert_true(hits >= N - 2);
    assert_true(hits <= N + BS / (16 * KiB));
    rig_down(&g);
}

/* Small reads here and there take their own bytes from disk, not whole
 * blocks: a database's random reads must not read 64 times what they ask. */
static void test_scattered_small_reads_take_only_their_bytes(void **state)
{
    struct rig g = rig_up();
    struct fake *f = g.f;
    struct reader *r = g.r;
    unsigned probe = fake_calls(f);
    unsigned seed = 7, reads = 0;
    for (unsigned i = 0; i < 40; i++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t b = 1 + (seed >> 8) % (N - 1); /* block 0 is in memory (probe) */
        uint64_t off = b * BS + ((seed >> 4) % (BS / (4 * KiB))) * 4 * KiB;
        read_checked(r, f, off, 4 * KiB);
        reads++;
    }
    assert_int_equal(fake_calls(f), probe);
    assert_int_equal(disk_stat("hits"), reads);
    assert_int_equal(disk_stat("bytes_read"), (long long)reads * 4 * KiB);
    rig_down(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_stream_reads_blocks_ahead_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scattered_small_reads_take_only_their_bytes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
