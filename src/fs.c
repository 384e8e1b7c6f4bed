/* fs: FUSE operations over the catalog and readers. See fs.h. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "log.h"
#include "inval.h"
#include "stats.h"

#define FS_BLKSIZE (1u << 20) /* st_blksize: makes cp/cat issue 1 MiB reads */

/* The mount root's live counters (stats.h), as JSON. */
#define FS_STATS_XATTR "user.umongofs.stats"

/* One open file. Lock order: fs_ctx.files_lock, then the reader pool's. */
struct fs_file {
    struct reader *reader;
    uint64_t ino;
    struct fs_file *prev, *next; /* fs_ctx.files; files_lock */
    /* The object's version this file reads, as the store said at open: */
    uint64_t size;                    /* immutable after open */
    char etag[HTTP_ETAG_MAX];         /* immutable after open; "" when none */
    char modified[HTTP_MODIFIED_MAX]; /* immutable after open: Last-Modified, "" when none */
    bool stale;                       /* files_lock: a later open saw another version */
};

/* Adds f to the open files. An open file of the same inode that read
 * another version of the object (another length, ETag or Last-Modified) is stale from now
 * on: its reads fail with EIO, since its pages would mix with the new
 * version's in the page cache the inode shares. Returns true while any such
 * file is open. */
static bool files_add_version(struct fs_ctx *c, struct fs_file *f)
{
    bool older = false;
    pthread_mutex_lock(&c->files_lock);
    for (struct fs_file *o = c->files; o; o = o->next) {
        if (o->ino != f->ino || (!o->stale && o->size == f->size && !strcmp(o->etag, f->etag) &&
                                 !strcmp(o->modified, f->modified)))
            continue;
        if (!o->stale)
            reader_invalidate(o->reader);
        o->stale = true;
        older = true;
    }
    f->next = c->files;
    if (c->files)
        c->files->prev = f;
    c->files = f;
    pthread_mutex_unlock(&c->files_lock);
    return older;
}

static void files_remove(struct fs_ctx *c, struct fs_file *f)
{
    pthread_mutex_lock(&c->files_lock);
    if (f->prev)
        f->prev->next = f->next;
    else
        c->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    pthread_mutex_unlock(&c->files_lock);
}

/* What the reader needs to get (and replace) this file's download URL. */
struct url_ctx {
    struct urls *urls;
    struct cat_object obj;
};

static struct fs_ctx *ctx(void)
{
    return fuse_get_context()->private_data;
}

int fs_errno(int rc)
{
    stats_error(rc);
    switch (rc) {
    case 0:
        return 0;
    case -ENOENT:
    case -ENOTDIR:
    case -EISDIR:
    case -EACCES:
    case -EPERM:
    case -ENOMEM:
    case -ENODATA:
    case -ERANGE:
    case -EROFS:
        return -rc;
    default:
        /* Timeouts, exhausted retries, malformed answers, changed objects:
         * all are I/O errors to the user, never "no such file". */
        return EIO;
    }
}

static void fill_stat(const struct cat_stat *cs, struct stat *st)
{
    struct fs_ctx *c = ctx();
    memset(st, 0, sizeof(*st));
    st->st_ino = cs->ino;
    st->st_nlink = cs->nlink;
    st->st_uid = c->uid;
    st->st_gid = c->gid;
    st->st_blksize = FS_BLKSIZE;
    st->st_mtime = st->st_ctime = st->st_atime = (time_t)cs->mtime;
    if (cs->is_dir) {
        st->st_mode = S_IFDIR | (0555 & ~c->umask);
    } else {
        /* Unfinished backups (show_all) cannot be read: say so in the mode. */
        st->st_mode = S_IFREG | (cs->readable ? 0444 & ~c->umask : 0);
        st->st_size = (off_t)cs->size;
        st->st_blocks = (blkcnt_t)((cs->size + 511) / 512);
    }
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    struct fs_ctx *c = ctx();
    cfg->use_ino = 1;
    cfg->entry_timeout = c->attr_timeout;
    cfg->attr_timeout = c->attr_timeout;
    cfg->negative_timeout = 0;
    cfg->nullpath_ok = 0;
    /* Async reads through many background requests: the defaults (12)
     * throttle us. main.c sizes the worker pool from this (fs.h). */
    conn->max_background = FS_MAX_BACKGROUND;
    conn->congestion_threshold = FS_MAX_BACKGROUND * 3 / 4;
    conn->max_readahead = 1u << 20;
    conn->want |= FUSE_CAP_ASYNC_READ;
    /* ls -l of a big directory: attributes come with the listing, no
     * LOOKUP per entry, every time (not only when the kernel guesses so). */
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
    if (c->inval && inval_start(c->inval, fuse_get_context()->fuse) != 0)
        log_err("cannot start the cache invalidation thread: changed entries keep their "
                "old attributes for up to %.0f s",
                c->attr_timeout);
    c->readers = reader_pool_new(&c->reader_opts);
    if (!c->readers)
        log_err("cannot start the read workers; reads will fail");
    return c;
}

static void fs_destroy(void *data)
{
    struct fs_ctx *c = data;
    if (c->inval)
        inval_stop(c->inval);
    /* Files still open when the loop ends (unmounted by a signal) never get
     * a release: close them so their readers stop before the workers do. */
    for (struct fs_file *f = c->files, *nx; f; f = nx) {
        nx = f->next;
        reader_close(&f->reader);
        free(f);
        stats_add(STATS_OPEN_FILES, -1);
    }
    c->files = NULL;
    reader_pool_free(&c->readers);
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct cat_stat cs;
    int rc = catalog_stat(ctx()->catalog, path, &cs);
    if (rc)
        return -fs_errno(rc);
    fill_stat(&cs, st);
    return 0;
}

/* Entries are handed over with offsets (".", "..", then the listing's in
 * order: entry k says k + 1), so libfuse answers READDIRPLUS with each
 * entry's attributes and node (in libfuse 3.14 only this mode does): ls -l
 * then makes no LOOKUP per entry. A call resumes after offset off. */
struct fill_ctx {
    void *buf;
    fuse_fill_dir_t filler;
    enum fuse_fill_dir_flags flags;
    off_t skip; /* entries before this one were answered already */
    off_t k;    /* the next entry's index */
};

static int fill_entry(struct fill_ctx *f, const char *name, const struct stat *st)
{
    off_t k = f->k++;
    if (k < f->skip)
        return 0;
    return f->filler(f->buf, name, st, k + 1, st ? f->flags : 0);
}

static int fill_one(void *p, const char *name, const struct cat_stat *cs)
{
    struct stat st;
    fill_stat(cs, &st);
    return fill_entry(p, name, &st);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    struct fill_ctx f = {buf, filler, (flags & FUSE_READDIR_PLUS) ? FUSE_FILL_DIR_PLUS : 0, off, 0};
    if (fill_entry(&f, ".", NULL) || fill_entry(&f, "..", NULL))
        return 0;
    return -fs_errno(catalog_readdir(ctx()->catalog, path, fill_one, &f));
}

static int url_for(void *p, const char *stale, char **url)
{
    struct url_ctx *u = p;
    return urls_get(u->urls, &u->obj, stale, url);
}

static void url_ctx_free(void *p)
{
    struct url_ctx *u = p;
    catalog_object_clear(&u->obj);
    free(u);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    struct fs_ctx *c = ctx();
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
        return -EROFS;
    if (!c->readers)
        return -EIO;
    struct url_ctx *u = calloc(1, sizeof(*u));
    struct fs_file *f = calloc(1, sizeof(*f));
    int rc = -ENOMEM;
    if (!u || !f)
        goto fail;
    u->urls = c->urls;
    rc = catalog_object(c->catalog, path, &u->obj);
    if (rc)
        goto fail;
    if (!u->obj.readable) {
        rc = -EACCES;
        goto fail;
    }
    f->ino = u->obj.ino;
    uint64_t known = u->obj.size;
    bool corrected = u->obj.size_corrected;
    f->reader = reader_open(c->readers, known, url_for, u, url_ctx_free);
    if (!f->reader) {
        rc = -ENOMEM;
        goto fail;
    }
    char *id = NULL; /* the disk cache's name for the object: unique, whole */
    if (u->obj.region && u->obj.cluster_id && u->obj.object_id &&
        asprintf(&id, "%s/%s/%s", u->obj.region, u->obj.cluster_id, u->obj.object_id) > 0) {
        reader_set_cache_id(f->reader, id);
        free(id);
    }
    u = NULL; /* owned by the reader now */

    /* Ask the store for the object's length and ETag before the kernel
     * reads: the listing's size may be wrong (the kernel stops at st_size),
     * and the object may have changed since data was cached at an earlier
     * open. The first block fetched here serves the first read. */
    rc = reader_probe(f->reader, &f->size, f->etag, sizeof(f->etag));
    if (rc)
        goto fail;
    reader_modified(f->reader, f->modified, sizeof(f->modified));
    uint64_t size = f->size;
    bool older = files_add_version(c, f);
    /* The page cache outlives an open only with a strong validator that
     * matches the last open's (catalog_object_seen). While readers of an
     * older version are open, this one reads around the cache (direct_io)
     * so no new page reaches them, and records no ETag, so the first open
     * after they are gone drops what they may have cached meanwhile. */
    char version[HTTP_ETAG_MAX + HTTP_MODIFIED_MAX + 2];
    snprintf(version, sizeof(version), "%s\n%s", f->etag, f->modified);
    bool seen = catalog_object_seen(c->catalog, f->ino, size, older ? "" : version);
    fi->keep_cache = seen && http_etag_strong(f->etag) && !older;
    if (size != known || corrected || older) {
        /* The kernel may still hold the listing's size (or pages of the old
         * version) for this inode, until it is told otherwise: read around
         * its page cache so every byte reaches the reader, and make it ask
         * for the attributes (st_size) again. */
        fi->direct_io = 1;
        fi->keep_cache = 0;
        /* With -s, not from here: invalidating waits for pages another
         * request may hold locked, and that request would need this very
         * thread. The invalidation thread does it instead. */
        if (!c->single_threaded)
            fuse_invalidate_path(fuse_get_context()->fuse, path);
        else if (c->inval)
            inval_queue(c->inval, path);
    }
    fi->fh = (uint64_t)(uintptr_t)f;
    stats_inc(STATS_OPEN_FILES);
    return 0;
fail:
    if (f)
        reader_close(&f->reader);
    free(f);
    if (u)
        url_ctx_free(u);
    return -fs_errno(rc);
}

/* Reads at off: from a block on disk when it is there (checked on the way
 * into buf), else from memory and the store. */
static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
    if (off < 0)
        return -EINVAL;
    ssize_t n = reader_read_disk(f->reader, buf, size, (uint64_t)off);
    if (n == 0)
        n = reader_read(f->reader, buf, size, (uint64_t)off);
    stats_add(STATS_SERVED_BYTES, n > 0 ? n : 0);
    return n < 0 ? -fs_errno((int)n) : (int)n;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
    if (f) {
        files_remove(ctx(), f);
        reader_close(&f->reader);
        free(f);
        stats_add(STATS_OPEN_FILES, -1);
    }
    return 0;
}

/* The restore window of a cluster directory, or -ENODATA. */
static int recovery_xattr(const char *path, const char *name, char *value, size_t size)
{
    bool earliest = strcmp(name, RECOVERY_XATTR_EARLIEST) == 0;
    struct cat_object cl;
    int64_t lo, hi;
    char text[24];

    if (!ctx()->recovery)
        return -ENODATA;
    int rc = catalog_cluster(ctx()->catalog, path, &cl);
    if (rc)
        return rc;
    rc = recovery_get(ctx()->recovery,
                      &(struct recovery_cluster){cl.region, cl.zone, cl.cluster_id}, &lo, &hi);
    catalog_object_clear(&cl);
    if (rc)
        return rc;
    int len = snprintf(text, sizeof(text), "%lld", (long long)(earliest ? lo : hi));
    if (size == 0)
        return len;
    if ((size_t)len > size)
        return -ERANGE;
    memcpy(value, text, (size_t)len);
    return len;
}

/* The counters change between a caller's size probe and its read: the
 * probe answers with room to spare, so the read that follows fits. */
static int stats_xattr(char *value, size_t size)
{
    char *j = stats_json();
    if (!j)
        return -ENOMEM;
    size_t len = strlen(j);
    int rc = (int)len;
    if (size == 0)
        rc = (int)len + 256;
    else if (len > size)
        rc = -ERANGE;
    else
        memcpy(value, j, len);
    free(j);
    return rc;
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
    int rc;
    /* ls -l asks every file for security.selinux and its ACL: answered
     * here, before any lookup, as they are thousands in a big directory.
     * Neither labels nor ACLs are supported: saying so (rather than "none
     * on this file") makes ls stop asking for the rest of the mount. (ACLs
     * are not negotiated with the kernel, so its permission checks never
     * ask for one.) */
    if (strncmp(name, "security.", 9) == 0 || strncmp(name, "system.", 7) == 0)
        return -EOPNOTSUPP;
    if (strncmp(name, "user.umongofs.", 14) != 0)
        return -ENODATA;
    if (strcmp(path, "/") == 0 && strcmp(name, FS_STATS_XATTR) == 0)
        rc = stats_xattr(value, size);
    else if (strcmp(name, RECOVERY_XATTR_EARLIEST) == 0 || strcmp(name, RECOVERY_XATTR_LATEST) == 0)
        rc = recovery_xattr(path, name, value, size);
    else
        rc = catalog_getxattr(ctx()->catalog, path, name, value, size);
    return rc < 0 ? -fs_errno(rc) : rc;
}

/* Cluster directories also list the restore window's names when it is
 * known: listing names that then have no value would make getfattr -d and
 * file managers report errors. Only xattr-aware tools pay for the call (ls
 * does not list xattrs), and the answer is cached. */
static int fs_listxattr(const char *path, char *list, size_t size)
{
    static const char recovery[] = RECOVERY_XATTR_EARLIEST "\0" RECOVERY_XATTR_LATEST;
    static const char root[] = FS_STATS_XATTR;
    int rc = catalog_listxattr(ctx()->catalog, path, list, size);
    const char *extra = recovery;
    size_t n = sizeof(recovery);
    if (rc >= 0 && strcmp(path, "/") == 0) {
        extra = root;
        n = sizeof(root);
    } else if (rc < 0 || recovery_xattr(path, RECOVERY_XATTR_EARLIEST, NULL, 0) < 0) {
        return rc < 0 ? -fs_errno(rc) : rc;
    }
    if (size == 0)
        return rc + (int)n;
    if ((size_t)rc + n > size)
        return -ERANGE;
    memcpy(list + rc, extra, n);
    return rc + (int)n;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
    memset(sv, 0, sizeof(*sv));
    sv->f_bsize = FS_BLKSIZE;
    sv->f_frsize = FS_BLKSIZE;
    sv->f_namemax = 255;
    sv->f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
    return 0;
}

static int fs_access(const char *path, int mask)
{
    if (mask & W_OK)
        return -EROFS;
    struct cat_stat cs;
    return -fs_errno(catalog_stat(ctx()->catalog, path, &cs));
}

/* Everything that would change the tree: read-only by construction. */
static int ro_path(const char *path, mode_t mode)
{
    return -EROFS;
}
static int ro_mknod(const char *path, mode_t mode, dev_t dev)
{
    return -EROFS;
}
static int ro_one(const char *path)
{
    return -EROFS;
}
static int ro_two(const char *from, const char *to)
{
    return -EROFS;
}
static int ro_rename(const char *from, const char *to, unsigned int flags)
{
    return -EROFS;
}
static int ro_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    return -EROFS;
}
static int ro_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    return -EROFS;
}
static int ro_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
    return -EROFS;
}

static const struct fuse_operations fs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
    .release = fs_release,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .statfs = fs_statfs,
    .access = fs_access,
    .mkdir = ro_path,
    .mknod = ro_mknod,
    .unlink = ro_one,
    .rmdir = ro_one,
    .symlink = ro_two,
    .link = ro_two,
    .rename = ro_rename,
    .chmod = ro_chmod,
    .chown = ro_chown,
    .truncate = ro_truncate,
    .write = ro_write,
    .create = ro_create,
    .utimens = ro_utimens,
    .setxattr = ro_setxattr,
    .removexattr = ro_two,
    .fallocate = ro_fallocate,
};

const struct fuse_operations *fs_operations(void)
{
    return &fs_ops;
}
