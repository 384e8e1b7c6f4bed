/* diskcache: blocks of objects on local disk: the index, eviction, the
 * lock, degrading. See diskcache.h; the files themselves are blockfile.c's.
 */
#include "diskcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blockfile.h"
#include "log.h"
#include "stats.h"

#define DC_TOUCH_S        60 /* a block's mtime is refreshed at most this often */
#define DC_WRITE_PAUSE_S  60 /* storing pauses this long after a failure */
#define DC_BAD_LOGGED_MAX 10 /* bad blocks logged one by one, then counted only */
#define DC_OPEN_MAX       64 /* block files kept open, header checked */

/* A block a thread is writing: another thread does not write it too. */
struct writing {
    struct dc_key key;
    uint64_t block;
    struct writing *next;
};

/* Two lists run through the entries (the LRU, the open files): each
 * entry has links for both, and one pair of functions serves both. */
struct entry;
struct links {
    struct entry *newer, *older;
};
struct list {
    struct entry *newest, *oldest;
    size_t at; /* offsetof(struct entry, the links of this list) */
};

/* One block file known to be on disk. */
struct entry {
    struct dc_key key;
    uint64_t block;
    uint64_t bytes;      /* the file's size */
    time_t touched;      /* its mtime, as far as we set or saw it */
    struct entry *hnext; /* hash chain */
    struct links lru;    /* diskcache.lru */
    /* The file kept open with its header checked (DC_OPEN_MAX at most), so
     * a read of the block costs a dup, not an open and a header read: */
    int fd;            /* -1: not open */
    size_t len;        /* the block's length, as checked */
    uint32_t *crcs;    /* its chunks' CRCs */
    struct links open; /* diskcache.open */
};

struct diskcache {
    char *dir;    /* immutable: for log lines */
    int top_fd;   /* immutable: DIR */
    int v1_fd;    /* immutable: DIR/v1 */
    int lock_fd;  /* immutable: flock'ed for the process's lifetime */
    uint64_t max; /* immutable */
    pthread_mutex_t lock;
    /* Guarded by lock: */
    struct entry **buckets;
    size_t n_buckets, n_entries;
    struct list lru;  /* every entry, most recently used first */
    struct list open; /* the entries with a file open, most recently opened first */
    unsigned n_open;
    uint64_t total;          /* bytes of block files */
    uint64_t pending;        /* bytes of blocks being written (room made for them) */
    struct writing *writing; /* those blocks (on their writers' stacks) */
    time_t writes_off_until;
    bool write_warned;
    bool gone; /* DIR/v1 was removed: the cache is off until the next mount */
    unsigned bad_logged;
    uint64_t tmp_seq;
    bool counted; /* immutable after open: STATS_DISK_MAX holds max */
};

bool diskcache_key(struct dc_key *k, const char *id, const char *etag, uint64_t length,
                   uint64_t block_size)
{
    /* Each part with its NUL, so no two lists of parts hash alike. */
    static const char tag[] = "umongofs-block-v1";
    char lens[48];
    int nl = snprintf(lens, sizeof(lens), "%" PRIu64 "/%" PRIu64, length, block_size) + 1;
    size_t ni = strlen(id) + 1, ne = strlen(etag) + 1, n = sizeof(tag) + ni + ne + (size_t)nl;
    unsigned char *buf = malloc(n);
    if (!buf)
        return false;
    memcpy(buf, tag, sizeof(tag));
    memcpy(buf + sizeof(tag), id, ni);
    memcpy(buf + sizeof(tag) + ni, etag, ne);
    memcpy(buf + sizeof(tag) + ni + ne, lens, (size_t)nl);
    SHA256(buf, n, k->b);
    free(buf);
    return true;
}

/* ---------- the index (lock held) ---------- */

static size_t bucket_of(const struct diskcache *dc, const struct dc_key *k, uint64_t b)
{
    uint64_t h;
    memcpy(&h, k->b, sizeof(h));
    h ^= b * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (dc->n_buckets - 1);
}

static struct entry *find(const struct diskcache *dc, const struct dc_key *k, uint64_t b)
{
    for (struct entry *e = dc->buckets[bucket_of(dc, k, b)]; e; e = e->hnext)
        if (e->block == b && memcmp(e->key.b, k->b, 32) == 0)
            return e;
    return NULL;
}

static struct links *links_of(const struct list *l, struct entry *e)
{
    return (struct links *)((char *)e + l->at);
}

static void list_unlink(struct list *l, struct entry *e)
{
    struct links *x = links_of(l, e);
    if (x->newer)
        links_of(l, x->newer)->older = x->older;
    else
        l->newest = x->older;
    if (x->older)
        links_of(l, x->older)->newer = x->newer;
    else
        l->oldest = x->newer;
    x->newer = x->older = NULL;
}

static void list_push_newest(struct list *l, struct entry *e)
{
    struct links *x = links_of(l, e);
    x->older = l->newest;
    x->newer = NULL;
    if (l->newest)
        links_of(l, l->newest)->newer = e;
    else
        l->oldest = e;
    l->newest = e;
}

static void grow_buckets(struct diskcache *dc)
{
    size_t n = dc->n_buckets * 2;
    struct entry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return; /* longer chains, still right */
    struct entry **old = dc->buckets;
    size_t old_n = dc->n_buckets;
    dc->buckets = nb;
    dc->n_buckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (struct entry *e = old[i], *nx; e; e = nx) {
            nx = e->hnext;
            size_t at = bucket_of(dc, &e->key, e->block);
            e->hnext = nb[at];
            nb[at] = e;
        }
    free(old);
}

/* Adds an entry as the newest (or the oldest, for the scan's order). */
static struct entry *add(struct diskcache *dc, const struct dc_key *k, uint64_t b, uint64_t bytes,
                         time_t touched)
{
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = *k;
    e->block = b;
    e->bytes = bytes;
    e->touched = touched;
    e->fd = -1;
    if (dc->n_entries >= dc->n_buckets * 2)
        grow_buckets(dc);
    size_t at = bucket_of(dc, k, b);
    e->hnext = dc->buckets[at];
    dc->buckets[at] = e;
    dc->n_entries++;
    list_push_newest(&dc->lru, e);
    dc->total += bytes;
    stats_add(STATS_DISK_SIZE, (int64_t)bytes);
    return e;
}

/* Closes e's open file, if any. */
static void handle_close(struct diskcache *dc, struct entry *e)
{
    if (e->fd < 0)
        return;
    close(e->fd);
    free(e->crcs);
    e->fd = -1;
    e->crcs = NULL;
    list_unlink(&dc->open, e);
    dc->n_open--;
}

/* Keeps fd (checked, for a block len bytes long, with crcs) open for e,
 * closing the longest open one past DC_OPEN_MAX. */
static void handle_keep(struct diskcache *dc, struct entry *e, int fd, size_t len, uint32_t *crcs)
{
    if (dc->n_open >= DC_OPEN_MAX)
        handle_close(dc, dc->open.oldest);
    e->fd = fd;
    e->len = len;
    e->crcs = crcs;
    list_push_newest(&dc->open, e);
    dc->n_open++;
}

static void forget(struct diskcache *dc, struct entry *e)
{
    handle_close(dc, e);
    struct entry **pp = &dc->buckets[bucket_of(dc, &e->key, e->block)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    list_unlink(&dc->lru, e);
    dc->n_entries--;
    dc->total -= e->bytes;
    stats_add(STATS_DISK_SIZE, -(int64_t)e->bytes);
    free(e);
}

/* Deletes block e's file and forgets it. */
static void delete_entry(struct diskcache *dc, struct entry *e)
{
    char name[BLOCKFILE_NAME_MAX];
    blockfile_name(name, &e->key, e->block);
    if (unlinkat(dc->v1_fd, name, 0) != 0 && errno == EISDIR)
        unlinkat(dc->v1_fd, name, AT_REMOVEDIR); /* an empty directory in its place */
    forget(dc, e);
}

/* Evicts the least recently used blocks until room more bytes fit. */
static void make_room(struct diskcache *dc, uint64_t room)
{
    while (dc->lru.oldest && dc->total + room > dc->max) {
        delete_entry(dc, dc->lru.oldest);
        stats_inc(STATS_DISK_EVICTED);
    }
}

/* Whether DIR/v1 was removed under us (rm -rf cache_dir): then the cache
 * turns itself off, with one log line, rather than report every block. */
static bool dir_gone(struct diskcache *dc)
{
    struct stat st;
    if (fstat(dc->v1_fd, &st) != 0 || st.st_nlink > 0)
        return false;
    pthread_mutex_lock(&dc->lock);
    bool say = !dc->gone;
    dc->gone = true;
    while (dc->open.oldest) /* let go of the files, so their space is freed */
        handle_close(dc, dc->open.oldest);
    pthread_mutex_unlock(&dc->lock);
    if (say)
        log_warn("cache_dir %s was removed; reading without the disk cache until the next mount",
                 dc->dir);
    return true;
}

/* A block failed its checks (bad) or its file is gone: forget it, delete a
 * bad file, say so (the first few of either). */
static void drop(struct diskcache *dc, const struct dc_key *k, uint64_t b, bool bad)
{
    pthread_mutex_lock(&dc->lock);
    struct entry *e = find(dc, k, b);
    if (e && bad)
        delete_entry(dc, e);
    else if (e)
        forget(dc, e);
    bool say = dc->bad_logged < DC_BAD_LOGGED_MAX && !dc->gone;
    dc->bad_logged += say;
    bool last = say && dc->bad_logged == DC_BAD_LOGGED_MAX;
    pthread_mutex_unlock(&dc->lock);
    stats_inc(STATS_DISK_DROPPED);
    if (say)
        log_warn("cache_dir %s: block %" PRIu64 " of %02x%02x%02x%02x... %s; fetched again%s",
                 dc->dir, b, k->b[0], k->b[1], k->b[2], k->b[3],
                 bad ? "failed its checks and was deleted" : "is gone from the disk",
                 last ? " (further ones are counted, not logged)" : "");
}

/* Marks block b used now: newest in the LRU, and its file's mtime when the
 * last one is older than DC_TOUCH_S (fd open on it). */
static void touch(struct diskcache *dc, const struct dc_key *k, uint64_t b, int fd)
{
    time_t now = time(NULL);
    bool stamp = false;
    pthread_mutex_lock(&dc->lock);
    struct entry *e = find(dc, k, b);
    if (e) {
        list_unlink(&dc->lru, e);
        list_push_newest(&dc->lru, e);
        stamp = now - e->touched >= DC_TOUCH_S;
        if (stamp)
            e->touched = now;
    }
    pthread_mutex_unlock(&dc->lock);
    if (stamp)
        futimens(fd, NULL);
}

/* A descriptor of block b's file (the caller closes it) and a copy of its
 * chunks' CRCs (the caller frees it), or -1: a miss, the block dropped when
 * its file is gone or bad. The file's header is checked when it is opened;
 * the open file is then kept (handle_keep) for the block's next reads. */
static int open_block(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len,
                      uint32_t **crcs)
{
    size_t n = blockfile_chunks(len);
    uint32_t *copy = malloc(4 * n), *fresh;
    if (!copy)
        return -1;
    pthread_mutex_lock(&dc->lock);
    struct entry *e = find(dc, k, b);
    int fd = e && e->fd >= 0 && e->len == len ? dup(e->fd) : -1;
    if (fd >= 0)
        memcpy(copy, e->crcs, 4 * n);
    pthread_mutex_unlock(&dc->lock);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_nlink > 0) {
            *crcs = copy;
            return fd;
        }
        /* Deleted under us (rm -rf cache_dir): let go of it, so its space
         * is freed, and look for the name again. */
        close(fd);
        pthread_mutex_lock(&dc->lock);
        e = find(dc, k, b);
        if (e)
            handle_close(dc, e);
        pthread_mutex_unlock(&dc->lock);
    }
    char name[BLOCKFILE_NAME_MAX];
    blockfile_name(name, k, b);
    /* O_NONBLOCK: a FIFO put in a block's place must not hang the read
     * (read_head then finds it is no block file). */
    fd = openat(dc->v1_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        /* A symbolic link in a block's place is not followed: bad. */
        bool link = errno == ELOOP;
        free(copy);
        dir_gone(dc);
        drop(dc, k, b, link);
        return -1;
    }
    bool bad;
    fresh = blockfile_read_head(fd, k, b, len, &bad);
    if (!fresh) {
        free(copy);
        close(fd);
        if (bad)
            drop(dc, k, b, true);
        return -1;
    }
    memcpy(copy, fresh, 4 * n);
    pthread_mutex_lock(&dc->lock);
    e = find(dc, k, b);
    int keep = e && e->fd < 0 ? dup(fd) : -1;
    if (keep >= 0) {
        handle_keep(dc, e, keep, len, fresh);
        fresh = NULL;
    }
    pthread_mutex_unlock(&dc->lock);
    free(fresh);
    *crcs = copy;
    return fd;
}

bool diskcache_has(struct diskcache *dc, const struct dc_key *k, uint64_t b)
{
    pthread_mutex_lock(&dc->lock);
    bool has = !dc->gone && find(dc, k, b) != NULL;
    pthread_mutex_unlock(&dc->lock);
    return has;
}

static int read_block(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len,
                      char *out, size_t from, size_t to, bool in_place)
{
    if (from >= to || to > len || !diskcache_has(dc, k, b))
        return -ENOENT;
    uint32_t *crcs;
    int fd = open_block(dc, k, b, len, &crcs);
    if (fd < 0)
        return -ENOENT;
    bool good = blockfile_read_checked(fd, crcs, len, out, from, to, in_place);
    free(crcs);
    if (good)
        touch(dc, k, b, fd);
    close(fd);
    if (!good) {
        drop(dc, k, b, true); /* short or changed under us: bad either way */
        return -ENOENT;
    }
    stats_inc(STATS_DISK_HITS);
    stats_add(STATS_DISK_BYTES, (int64_t)(to - from));
    return 0;
}

int diskcache_read(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len, char *out,
                   size_t from, size_t to)
{
    return read_block(dc, k, b, len, out, from, to, false);
}

int diskcache_read_private(struct diskcache *dc, const struct dc_key *k, uint64_t b, size_t len,
                           char *out, size_t from, size_t to)
{
    return read_block(dc, k, b, len, out, from, to, true);
}

/* Storing failed with err: pause it, say so once. */
static void writes_failed(struct diskcache *dc, int err)
{
    pthread_mutex_lock(&dc->lock);
    dc->writes_off_until = time(NULL) + DC_WRITE_PAUSE_S;
    bool say = !dc->write_warned;
    dc->write_warned = true;
    pthread_mutex_unlock(&dc->lock);
    if (say)
        log_warn("cache_dir %s: cannot store blocks (%s); reads go on from the object store",
                 dc->dir, strerror(err));
}

static bool being_written(const struct diskcache *dc, const struct dc_key *k, uint64_t b)
{
    for (const struct writing *w = dc->writing; w; w = w->next)
        if (w->block == b && memcmp(w->key.b, k->b, 32) == 0)
            return true;
    return false;
}

static void done_writing(struct diskcache *dc, struct writing *me, uint64_t bytes)
{
    struct writing **pp = &dc->writing;
    while (*pp != me)
        pp = &(*pp)->next;
    *pp = me->next;
    dc->pending -= bytes;
}

void diskcache_store(struct diskcache *dc, const struct dc_key *k, uint64_t b, const char *data,
                     size_t len)
{
    uint64_t bytes = blockfile_head_size(len) + len;
    char tmp[64], name[BLOCKFILE_NAME_MAX];
    struct writing me = {.key = *k, .block = b};
    pthread_mutex_lock(&dc->lock);
    bool skip = dc->gone || find(dc, k, b) || being_written(dc, k, b) ||
                time(NULL) < dc->writes_off_until || bytes > dc->max;
    if (!skip) {
        /* Room for this block and those other threads are writing, so the
         * files never exceed max, temporary ones included. */
        make_room(dc, dc->pending + bytes);
        dc->pending += bytes;
        me.next = dc->writing;
        dc->writing = &me;
    }
    snprintf(tmp, sizeof(tmp), "tmp/%ld.%" PRIu64, (long)getpid(), ++dc->tmp_seq);
    pthread_mutex_unlock(&dc->lock);
    if (skip)
        return;
    blockfile_name(name, k, b);
    int rc = blockfile_write(dc->v1_fd, tmp, k, b, data, len);
    if (rc == 0 && renameat(dc->v1_fd, tmp, dc->v1_fd, name) != 0) {
        rc = -errno;
        char sub[3] = {name[0], name[1], '\0'};
        /* The key's directory is missing: make it (another thread may
         * have just made it: that is fine too) and try once more. */
        if (rc == -ENOENT && (mkdirat(dc->v1_fd, sub, 0700) == 0 || errno == EEXIST))
            rc = renameat(dc->v1_fd, tmp, dc->v1_fd, name) == 0 ? 0 : -errno;
    }
    if (rc)
        unlinkat(dc->v1_fd, tmp, 0);
    pthread_mutex_lock(&dc->lock);
    done_writing(dc, &me, bytes);
    pthread_mutex_unlock(&dc->lock);
    /* A directory in the block's place is no disk problem: only this block
     * goes unstored. */
    if (rc && rc != -EISDIR && rc != -ENOTEMPTY && !dir_gone(dc))
        writes_failed(dc, -rc);
    if (rc)
        return;
    pthread_mutex_lock(&dc->lock);
    struct entry *e = find(dc, k, b); /* none: nobody else writes it */
    if (!e) {
        make_room(dc, dc->pending + bytes);
        add(dc, k, b, bytes, time(NULL));
    }
    pthread_mutex_unlock(&dc->lock);
    stats_inc(STATS_DISK_STORED);
    stats_add(STATS_DISK_STORED_BYTES, (int64_t)len);
}

/* ---------- opening ---------- */

struct found {
    struct dc_key key;
    uint64_t block, bytes;
    int64_t mtime_ns; /* blocks stored within one second keep their order */
};

static int by_mtime(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    /* File times tick coarsely: among equals, a later block of a file was
     * most likely stored later (files are mostly read forward). */
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return x->block < y->block ? -1 : x->block > y->block;
}

/* Subdirectory name of DIR/v1 (not followed if a link), or NULL. */
static DIR *open_subdir(int v1_fd, const char *name)
{
    int fd = openat(v1_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    return d;
}

/* Collects the block files of subdirectory sub into *f (n of cap). */
static void scan_sub(int v1_fd, const char *sub, struct found **f, size_t *n, size_t *cap)
{
    DIR *d = open_subdir(v1_fd, sub);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct found x;
        struct stat st;
        if (strncmp(de->d_name, sub, 2) != 0 ||
            !blockfile_parse_name(de->d_name, &x.key, &x.block) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue; /* not ours: left alone */
        x.bytes = (uint64_t)st.st_size;
        x.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            struct found *nf = realloc(*f, nc * sizeof(*nf));
            if (!nf)
                break;
            *f = nf;
            *cap = nc;
        }
        (*f)[(*n)++] = x;
    }
    closedir(d);
}

/* Rebuilds the index from the files, oldest use first; evicts past max. */
static void scan(struct diskcache *dc)
{
    struct found *f = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 256; i++) {
        char sub[3];
        snprintf(sub, sizeof(sub), "%02x", i);
        scan_sub(dc->v1_fd, sub, &f, &n, &cap);
    }
    if (n > 1)
        qsort(f, n, sizeof(*f), by_mtime);
    pthread_mutex_lock(&dc->lock);
    for (size_t i = 0; i < n; i++)
        add(dc, &f[i].key, f[i].block, f[i].bytes, (time_t)(f[i].mtime_ns / 1000000000));
    make_room(dc, 0);
    pthread_mutex_unlock(&dc->lock);
    free(f);
}

/* Temporary files left by a process that ended mid-write (the lock is
 * ours, so no other is writing). */
static void clean_tmp(int v1_fd)
{
    DIR *d = open_subdir(v1_fd, "tmp");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

static int turned_off(const char *dir, const char *what, int err)
{
    log_warn("cache_dir %s: %s (%s); reading without the disk cache", dir, what, strerror(err));
    return 0;
}

static int mkdir_ok(int at, const char *name)
{
    return mkdirat(at, name, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* DIR/lock, taken for good: 0, 1 when another process holds it, -1 with
 * errno when it cannot be had at all. */
static int take_lock(struct diskcache *dc)
{
    dc->lock_fd = openat(dc->top_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (dc->lock_fd < 0)
        return -1;
    if (flock(dc->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK ? 1 : -1;
}

int diskcache_open(const char *dir, uint64_t max_bytes, struct diskcache **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct diskcache *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return turned_off(dir, "out of memory", ENOMEM);
    pthread_mutex_init(&dc->lock, NULL);
    dc->top_fd = dc->v1_fd = dc->lock_fd = -1;
    if (!(dc->dir = strdup(dir)) || !(dc->buckets = calloc(1024, sizeof(*dc->buckets)))) {
        diskcache_close(&dc);
        return turned_off(dir, "out of memory", ENOMEM);
    }
    dc->n_buckets = 1024;
    dc->max = max_bytes;
    dc->lru.at = offsetof(struct entry, lru);
    dc->open.at = offsetof(struct entry, open);
    int rc = 0;
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = turned_off(dir, "cannot create it", errno);
    } else if ((dc->top_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
               fstat(dc->top_fd, &st) != 0) {
        rc = turned_off(dir, "cannot open it", errno);
    } else if (st.st_uid != geteuid() || (st.st_mode & 022)) {
        snprintf(err, errlen,
                 "cache_dir %s: %s; it must be yours and writable by you alone (chmod 700)", dir,
                 st.st_uid != geteuid() ? "belongs to another user" : "others may write to it");
        rc = -EPERM;
    } else if ((rc = take_lock(dc)) != 0) {
        if (rc > 0) {
            snprintf(err, errlen,
                     "cache_dir %s is in use by another umongofs mount; give each mount its own "
                     "cache_dir",
                     dir);
            rc = -EBUSY;
        } else {
            rc = turned_off(dir, "cannot lock it", errno);
        }
    } else if (mkdir_ok(dc->top_fd, "v1") != 0 ||
               (dc->v1_fd = openat(dc->top_fd, "v1",
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
               mkdir_ok(dc->v1_fd, "tmp") != 0) {
        rc = turned_off(dir, "cannot set it up", errno);
    } else {
        clean_tmp(dc->v1_fd);
        scan(dc);
        stats_add(STATS_DISK_MAX, (int64_t)max_bytes);
        dc->counted = true;
        *out = dc;
        return 0;
    }
    diskcache_close(&dc);
    return rc;
}

void diskcache_close(struct diskcache **pdc)
{
    struct diskcache *dc = *pdc;
    if (!dc)
        return;
    *pdc = NULL;
    while (dc->lru.oldest)
        forget(dc, dc->lru.oldest);
    if (dc->counted)
        stats_add(STATS_DISK_MAX, -(int64_t)dc->max);
    int fds[] = {dc->top_fd, dc->v1_fd, dc->lock_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&dc->lock);
    free(dc->buckets);
    free(dc->dir);
    free(dc);
}
