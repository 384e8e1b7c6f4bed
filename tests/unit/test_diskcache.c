/* Unit tests for diskcache.c and crc32c.c: blocks stored and read back,
 * every kind of damage on disk caught (never served), keys that keep
 * versions apart, eviction order, the lock, trust, and a directory that
 * vanishes. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "crc32c.h"
#include "diskcache.h"
#include "stats.h"

#define BS    (1u << 20)
#define MAX_3 (3 * (BS + 4096)) /* room for three 1 MiB blocks and their headers */

static char dir[64];
static char *blk; /* BS bytes of a pattern */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/umongofs-dc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    blk = malloc(BS);
    for (size_t i = 0; i < BS; i++)
        blk[i] = (char)(i * 31 + i / 4096);
    stats_reset();
    return 0;
}

static int teardown(void **state)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(blk);
    return 0;
}

static struct diskcache *open_dc(uint64_t max)
{
    struct diskcache *dc = NULL;
    char err[256];
    assert_int_equal(diskcache_open(dir, max, &dc, err, sizeof(err)), 0);
    assert_non_null(dc);
    return dc;
}

static void key(struct dc_key *k, const char *etag)
{
    assert_true(diskcache_key(k, "cn-bj2/udb-1/bk-1", etag, 10 * (uint64_t)BS, BS));
}

/* The path of block b of k, as diskcache.h lays it out. */
static void path_of(char *out, size_t n, const struct dc_key *k, uint64_t b)
{
    char h[65];
    for (int i = 0; i < 32; i++)
        snprintf(h + 2 * i, 3, "%02x", k->b[i]);
    snprintf(out, n, "%s/v1/%.2s/%s-%016llx", dir, h, h, (unsigned long long)b);
}

/* Overwrites one byte of block b's file at at with c. */
static void set_byte(const struct dc_key *k, uint64_t b, off_t at, char c)
{
    char p[256];
    path_of(p, sizeof(p), k, b);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static long long disk_stat(const char *name)
{
    char *j = stats_json();
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *at = strstr(strstr(j, "\"disk_cache\""), pat);
    long long v = at ? atoll(at + strlen(pat)) : -1;
    free(j);
    return v;
}

static void test_crc32c_known_values(void **state)
{
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* Every length and alignment: the instruction and the table agree, and
     * a CRC continued over two parts is the CRC of the whole. */
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len < 300; len += 7) {
            uint32_t a = crc32c(0, blk + off, len), b = crc32c_portable(0, blk + off, len);
            assert_int_equal(a, b);
            assert_int_equal(
                crc32c(crc32c(0, blk + off, len / 3), blk + off + len / 3, len - len / 3), a);
        }
}

static void test_store_then_read_back(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    assert_false(diskcache_has(dc, &k, 2));
    diskcache_store(dc, &k, 2, blk, BS);
    assert_true(diskcache_has(dc, &k, 2));
    assert_false(diskcache_has(dc, &k, 3));
    char *got = calloc(1, BS);
    assert_int_equal(diskcache_read(dc, &k, 2, BS, got, 0, BS), 0);
    assert_memory_equal(got, blk, BS);
    memset(got, 0, BS);
    assert_int_equal(diskcache_read(dc, &k, 2, BS, got, 3 * DISKCACHE_CHUNK, 5 * DISKCACHE_CHUNK),
                     0);
    assert_memory_equal(got, blk + 3 * DISKCACHE_CHUNK, 2 * DISKCACHE_CHUNK);
    assert_true(got[2 * DISKCACHE_CHUNK] == 0); /* nothing past what was asked */
    /* Unaligned, across a chunk boundary: partial chunks at both ends. */
    memset(got, 0, BS);
    assert_int_equal(diskcache_read(dc, &k, 2, BS, got, 70000, 70000 + 200000), 0);
    assert_memory_equal(got, blk + 70000, 200000);
    assert_true(got[200000] == 0);
    assert_int_equal(disk_stat("stored"), 1);
    assert_int_equal(disk_stat("hits"), 3);
    free(got);
    diskcache_close(&dc);
}

/* Pages of the file at path in the page cache. */
static size_t resident_pages(const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    size_t pages = ((size_t)st.st_size + 4095) / 4096, n = 0;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned char *v = malloc(pages);
    assert_int_equal(mincore(m, (size_t)st.st_size, v), 0);
    for (size_t i = 0; i < pages; i++)
        n += v[i] & 1;
    free(v);
    munmap(m, (size_t)st.st_size);
    close(fd);
    return n;
}

/* Whether dir's filesystem takes O_DIRECT (tmpfs before Linux 6.6 does not;
 * tmpfs is all page cache anyway). */
static bool direct_io_here(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    if (fd >= 0)
        close(fd);
    unlink(p);
    struct statfs sf;
    return fd >= 0 && statfs(dir, &sf) == 0 && sf.f_type != TMPFS_MAGIC;
}

/* A block buffer (page-aligned, as the readers' are) goes to disk with
 * O_DIRECT, not through the page cache: whole, a length that ends inside a
 * page (zero-padded, then cut), and one shorter than a page. A buffer that
 * is not aligned takes the buffered path. All read back exact. */
static void test_block_buffers_are_stored_around_the_page_cache(void **state)
{
    struct diskcache *dc = open_dc(8 * (uint64_t)BS);
    bool direct = direct_io_here();
    if (!direct)
        fprintf(stderr, "(no O_DIRECT in %s: page cache residency not checked)\n", dir);
    char *buf = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(buf != MAP_FAILED);
    memcpy(buf, blk, BS);
    const size_t lens[] = {BS, 3 * 4096 + 100, 100, BS - 1};
    char *got = malloc(BS);
    for (uint64_t b = 0; b < 5; b++) {
        struct dc_key k;
        key(&k, "\"direct\"");
        size_t len = b < 4 ? lens[b] : BS - 4096;
        const char *from = b < 4 ? buf : buf + 1; /* the last one unaligned */
        diskcache_store(dc, &k, b, from, len);
        assert_true(diskcache_has(dc, &k, b));
        char p[256];
        path_of(p, sizeof(p), &k, b);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, (off_t)(blockfile_head_size(len) + len));
        if (direct && b < 4)
            assert_int_equal(resident_pages(p), 0);
        memset(got, 0, BS);
        assert_int_equal(diskcache_read(dc, &k, b, len, got, 0, len), 0);
        assert_memory_equal(got, from, len);
    }
    assert_int_equal(disk_stat("stored"), 5);
    free(got);
    munmap(buf, BS);
    diskcache_close(&dc);
}

static void test_keys_keep_versions_apart(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k, other;
    key(&k, "\"e1\"");
    diskcache_store(dc, &k, 0, blk, BS);
    key(&other, "\"e2\"");
    assert_false(diskcache_has(dc, &other, 0));
    assert_true(diskcache_key(&other, "cn-bj2/udb-1/bk-1", "\"e1\"", 10 * (uint64_t)BS + 1, BS));
    assert_false(diskcache_has(dc, &other, 0));
    assert_true(diskcache_key(&other, "cn-bj2/udb-1/bk-1", "\"e1\"", 10 * (uint64_t)BS, 2 * BS));
    assert_false(diskcache_has(dc, &other, 0));
    assert_true(diskcache_key(&other, "cn-bj2/udb-1/bk-2", "\"e1\"", 10 * (uint64_t)BS, BS));
    assert_false(diskcache_has(dc, &other, 0));
    /* Parts do not run into each other: "a" + "bc" is not "ab" + "c". */
    struct dc_key x, y;
    assert_true(diskcache_key(&x, "a", "bc", 1, 1));
    assert_true(diskcache_key(&y, "ab", "c", 1, 1));
    assert_memory_not_equal(x.b, y.b, 32);
    /* A file renamed to another block's name is caught by its header. */
    char from[256], to[256];
    path_of(from, sizeof(from), &k, 0);
    path_of(to, sizeof(to), &k, 1);
    assert_int_equal(rename(from, to), 0);
    diskcache_close(&dc);
    dc = open_dc(MAX_3);
    char *got = malloc(BS);
    assert_true(diskcache_has(dc, &k, 1));
    assert_int_equal(diskcache_read(dc, &k, 1, BS, got, 0, BS), -ENOENT);
    assert_false(diskcache_has(dc, &k, 1));
    free(got);
    diskcache_close(&dc);
}

enum damage {
    FLIP_DATA,
    FLIP_LAST_BYTE,
    FLIP_HEADER,
    FLIP_CRC_TABLE,
    TRUNCATE,
    GROW,
    DELETE,
    FIFO,    /* a named pipe in the block's place: must not hang the read */
    SYMLINK, /* a link to a good copy of the block: not followed */
};

/* Stores a block, damages its file, and checks that neither way of reading
 * returns it: a miss, the file deleted (when it was there), counted. */
static void damaged(enum damage d, bool partial)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    diskcache_store(dc, &k, 5, blk, BS);
    char p[256];
    path_of(p, sizeof(p), &k, 5);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    off_t at = d == FLIP_DATA        ? 4096 + 3 * DISKCACHE_CHUNK + 17
               : d == FLIP_LAST_BYTE ? 4096 + BS - 1
               : d == FLIP_HEADER    ? 40
                                  : 72 + 4 * 15; /* the CRC of the last chunk, which is not read */
    char c;
    if (d <= FLIP_CRC_TABLE) {
        assert_int_equal(pread(fd, &c, 1, at), 1);
        c ^= 0x20;
        assert_int_equal(pwrite(fd, &c, 1, at), 1);
    } else if (d == TRUNCATE) {
        assert_int_equal(ftruncate(fd, 4096 + BS - 10), 0);
    } else if (d == GROW) {
        assert_int_equal(pwrite(fd, "x", 1, 4096 + BS), 1);
    } else if (d == DELETE) {
        assert_int_equal(unlink(p), 0);
    } else if (d == FIFO) {
        assert_int_equal(unlink(p), 0);
        assert_int_equal(mkfifo(p, 0600), 0);
    } else {
        char copy[300];
        snprintf(copy, sizeof(copy), "%s.copy", p);
        assert_int_equal(rename(p, copy), 0);
        assert_int_equal(symlink(copy, p), 0);
    }
    close(fd);
    char *got = malloc(BS);
    int rc;
    /* The whole block, so every chunk is looked at; but only the first
     * when the header's own CRC is what must catch the damage. */
    size_t to = d == FLIP_CRC_TABLE ? DISKCACHE_CHUNK : BS;
    /* Partial chunks (through the stack) or whole ones (straight into the
     * caller's buffer): both ways check. */
    if (partial)
        rc = diskcache_read(dc, &k, 5, BS, got, 1, to - 1);
    else
        rc = diskcache_read(dc, &k, 5, BS, got, 0, to);
    assert_int_equal(rc, -ENOENT);
    assert_false(diskcache_has(dc, &k, 5));
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(disk_stat("dropped"), 1);
    assert_int_equal(disk_stat("hits"), 0);
    /* Stored again, it reads back right. */
    diskcache_store(dc, &k, 5, blk, BS);
    assert_int_equal(diskcache_read(dc, &k, 5, BS, got, 0, BS), 0);
    assert_memory_equal(got, blk, BS);
    free(got);
    diskcache_close(&dc);
}

static void test_damage_is_never_served(void **state)
{
    for (int partial = 0; partial < 2; partial++)
        for (enum damage d = FLIP_DATA; d <= SYMLINK; d++) {
            teardown(state);
            setup(state);
            damaged(d, partial);
        }
}

/* A block's file stays open between its reads (its header checked once):
 * bytes changed or cut off after that are still caught, never served, and
 * a file cut short is a bad block, not a crash. */
static void test_damage_after_the_file_was_opened(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    char *got = malloc(BS);
    for (int cut = 0; cut < 2; cut++) {
        diskcache_store(dc, &k, 1, blk, BS);
        assert_int_equal(diskcache_read(dc, &k, 1, BS, got, 0, DISKCACHE_CHUNK), 0);
        if (cut) {
            char p[256];
            path_of(p, sizeof(p), &k, 1);
            assert_int_equal(truncate(p, 4096 + BS / 2), 0);
        } else {
            set_byte(&k, 1, 4096 + BS - 5, 0x11);
        }
        assert_int_equal(diskcache_read(dc, &k, 1, BS, got, BS - DISKCACHE_CHUNK, BS), -ENOENT);
        assert_false(diskcache_has(dc, &k, 1));
        diskcache_store(dc, &k, 1, blk, BS);
        assert_int_equal(diskcache_read(dc, &k, 1, BS, got, 0, BS), 0);
        assert_memory_equal(got, blk, BS);
        diskcache_store(dc, &k, 1, blk, BS); /* already there: nothing happens */
    }
    free(got);
    diskcache_close(&dc);
}

/* A block buffer may have readers copying from it while a load from disk
 * fills it (an earlier window of the same block): a chunk that fails its
 * check must never have been written there, not even for a moment. Only
 * a reply buffer (diskcache_read_private) is checked in place. */
static void test_a_bad_chunk_never_reaches_a_shared_buffer(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    char *got = malloc(BS);
    diskcache_store(dc, &k, 3, blk, BS);
    /* Chunk 2 changes on disk after the header was checked. */
    set_byte(&k, 3, 4096 + 2 * DISKCACHE_CHUNK + 7, (char)~blk[2 * DISKCACHE_CHUNK + 7]);
    memcpy(got, blk, BS); /* what the readers of the buffer see now */
    assert_int_equal(diskcache_read(dc, &k, 3, BS, got, 0, BS), -ENOENT);
    assert_memory_equal(got + 2 * DISKCACHE_CHUNK, blk + 2 * DISKCACHE_CHUNK, DISKCACHE_CHUNK);
    assert_false(diskcache_has(dc, &k, 3));
    /* The in-place read still never reports a bad chunk as read. */
    diskcache_store(dc, &k, 3, blk, BS);
    set_byte(&k, 3, 4096 + 2 * DISKCACHE_CHUNK + 7, (char)~blk[2 * DISKCACHE_CHUNK + 7]);
    assert_int_equal(diskcache_read_private(dc, &k, 3, BS, got, 0, BS), -ENOENT);
    diskcache_store(dc, &k, 3, blk, BS);
    memset(got, 0, BS);
    assert_int_equal(diskcache_read_private(dc, &k, 3, BS, got, 0, BS), 0);
    assert_memory_equal(got, blk, BS);
    free(got);
    diskcache_close(&dc);
}

struct racer {
    struct diskcache *dc;
    struct dc_key k;
    uint64_t b;
    pthread_barrier_t *go;
};

static void *store_one(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    diskcache_store(r->dc, &r->k, r->b, blk, 64 << 10);
    return NULL;
}

/* The first blocks of a new object, stored by several threads at once, all
 * land: they race to create the key's subdirectory, and losing that race
 * is not a failure (it paused storing for a minute: 1 of 13 blocks kept). */
static void test_threads_storing_a_new_object_at_once(void **state)
{
    struct diskcache *dc = open_dc(UINT64_C(1) << 30);
    enum { THREADS = 8 };
    for (int round = 0; round < 30; round++) {
        char etag[32];
        snprintf(etag, sizeof(etag), "\"round-%d\"", round);
        struct racer r[THREADS];
        pthread_t t[THREADS];
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, THREADS);
        for (int i = 0; i < THREADS; i++) {
            r[i] = (struct racer){dc, {{0}}, (uint64_t)i, &go};
            key(&r[i].k, etag);
            pthread_create(&t[i], NULL, store_one, &r[i]);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < THREADS; i++)
            assert_true(diskcache_has(dc, &r[i].k, (uint64_t)i));
    }
    diskcache_close(&dc);
}

static void test_span_checks_only_its_chunks_but_all_of_them(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    diskcache_store(dc, &k, 0, blk, BS);
    set_byte(&k, 0, 4096 + 9 * DISKCACHE_CHUNK + 5, 0x55); /* chunk 9 */
    char got[2 * DISKCACHE_CHUNK];
    /* Chunks 0..1: fine. A span reaching one byte into chunk 9: refused. */
    assert_int_equal(diskcache_read(dc, &k, 0, BS, got, 0, 2 * DISKCACHE_CHUNK), 0);
    assert_int_equal(
        diskcache_read(dc, &k, 0, BS, got, 8 * DISKCACHE_CHUNK + 1, 9 * DISKCACHE_CHUNK + 1),
        -ENOENT);
    diskcache_close(&dc);
}

static void test_reopen_finds_blocks_and_cleans_up(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    diskcache_store(dc, &k, 0, blk, BS);
    diskcache_store(dc, &k, 9, blk, 1000); /* a short last block */
    diskcache_close(&dc);
    char tmp[256], foreign[256];
    snprintf(tmp, sizeof(tmp), "%s/v1/tmp/123.4", dir);
    snprintf(foreign, sizeof(foreign), "%s/v1/notes.txt", dir);
    FILE *f = fopen(tmp, "w");
    fputs("half a block", f);
    fclose(f);
    f = fopen(foreign, "w");
    fclose(f);
    dc = open_dc(MAX_3);
    assert_true(diskcache_has(dc, &k, 0));
    assert_true(diskcache_has(dc, &k, 9));
    assert_int_equal(access(tmp, F_OK), -1);    /* a crashed write's leftover */
    assert_int_equal(access(foreign, F_OK), 0); /* not ours: left alone */
    char got[1000];
    assert_int_equal(diskcache_read(dc, &k, 9, 1000, got, 0, 1000), 0);
    assert_memory_equal(got, blk, 1000);
    assert_int_equal(disk_stat("size"), (long long)(2 * 4096 + BS + 1000));
    /* The same block asked for with another length is not it. */
    assert_int_equal(diskcache_read(dc, &k, 9, 999, got, 0, 999), -ENOENT);
    assert_int_equal(disk_stat("size"), (long long)(4096 + BS));
    diskcache_close(&dc);
}

static void test_eviction_keeps_the_bound_and_the_recent(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    char *got = malloc(BS);
    for (uint64_t b = 0; b < 3; b++)
        diskcache_store(dc, &k, b, blk, BS);
    /* Block 0 read last: 1 is now the least recently used. */
    assert_int_equal(diskcache_read(dc, &k, 0, BS, got, 0, DISKCACHE_CHUNK), 0);
    diskcache_store(dc, &k, 3, blk, BS);
    assert_true(diskcache_has(dc, &k, 0));
    assert_false(diskcache_has(dc, &k, 1));
    assert_true(diskcache_has(dc, &k, 2));
    assert_true(diskcache_has(dc, &k, 3));
    for (uint64_t b = 4; b < 10; b++)
        diskcache_store(dc, &k, b, blk, BS);
    assert_true(disk_stat("size") <= MAX_3);
    assert_int_equal(disk_stat("evicted"), 7);
    char p[256];
    path_of(p, sizeof(p), &k, 1);
    assert_int_equal(access(p, F_OK), -1);
    /* A smaller bound at the next start evicts down to it, oldest first. */
    diskcache_close(&dc);
    dc = open_dc(BS + 4096);
    assert_true(diskcache_has(dc, &k, 9));
    assert_false(diskcache_has(dc, &k, 8));
    free(got);
    diskcache_close(&dc);
}

static void test_second_user_of_a_directory_is_refused(void **state)
{
    struct diskcache *dc = open_dc(MAX_3), *second = NULL;
    char err[512];
    assert_int_equal(diskcache_open(dir, MAX_3, &second, err, sizeof(err)), -EBUSY);
    assert_null(second);
    assert_non_null(strstr(err, "in use by another umongofs mount"));
    diskcache_close(&dc);
    assert_int_equal(diskcache_open(dir, MAX_3, &second, err, sizeof(err)), 0);
    assert_non_null(second);
    diskcache_close(&second);
}

static void test_directory_others_may_write_is_refused(void **state)
{
    struct diskcache *dc = NULL;
    char err[512];
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(diskcache_open(dir, MAX_3, &dc, err, sizeof(err)), -EPERM);
    assert_null(dc);
    assert_non_null(strstr(err, "others may write to it"));
    assert_int_equal(chmod(dir, 0700), 0);
}

static void test_missing_parent_turns_the_cache_off(void **state)
{
    struct diskcache *dc = NULL;
    char err[512], p[128];
    snprintf(p, sizeof(p), "%s/no/such/dir", dir);
    assert_int_equal(diskcache_open(p, MAX_3, &dc, err, sizeof(err)), 0);
    assert_null(dc); /* off, not refused */
}

static void test_vanished_directory_degrades(void **state)
{
    struct diskcache *dc = open_dc(MAX_3);
    struct dc_key k;
    key(&k, "\"e1\"");
    diskcache_store(dc, &k, 0, blk, BS);
    teardown(state); /* rm -rf DIR under the running cache */
    blk = malloc(BS);
    memset(blk, 7, BS);
    diskcache_store(dc, &k, 1, blk, BS); /* fails quietly, storing pauses */
    assert_false(diskcache_has(dc, &k, 1));
    char *got = malloc(BS);
    assert_int_equal(diskcache_read(dc, &k, 0, BS, got, 0, BS), -ENOENT);
    assert_false(diskcache_has(dc, &k, 0));
    free(got);
    diskcache_close(&dc);
    assert_int_equal(mkdir(dir, 0700), 0); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crc32c_known_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_then_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_buffers_are_stored_around_the_page_cache, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keys_keep_versions_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_never_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_after_the_file_was_opened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_bad_chunk_never_reaches_a_shared_buffer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_storing_a_new_object_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_span_checks_only_its_chunks_but_all_of_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_finds_blocks_and_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_keeps_the_bound_and_the_recent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_user_of_a_directory_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_directory_others_may_write_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_parent_turns_the_cache_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_directory_degrades, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
