/* catalog: the tree of regions, clusters, backups and log packages.
 *
 * Owns every node, its name, inode number and attributes, and the listings
 * behind them, each trusted for dir_ttl seconds. Listings come from a source
 * (the API client in the daemon, canned answers in unit tests). Nodes live
 * until catalog_free, so inode numbers stay stable for the same entry within
 * a mount: an entry that leaves a listing and comes back keeps its number.
 *
 * Thread-safe: any FUSE thread may call any function. Listing calls run
 * without the lock held; concurrent requests for the same directory wait for
 * one refresh instead of each calling the API.
 */
#ifndef UMONGOFS_CATALOG_H
#define UMONGOFS_CATALOG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* Where listings come from: call(ctx, action, params, n, quick, &answer)
 * returns 0 with a cJSON answer the catalog frees, or a negative errno.
 * quick: the catalog has an older listing to fall back on, so one attempt
 * is enough (no retries): a dead API must not hold every stale directory on
 * the way to a file for a whole retry schedule each. */
struct catalog_source {
    int (*call)(void *ctx, const char *action, const struct api_param *params, size_t n, bool quick,
                cJSON **out);
    void *ctx;
};

struct catalog_opts {
    struct catalog_source source;
    unsigned dir_ttl;           /* seconds a listing is trusted */
    bool show_all;              /* also list unfinished backups/packages */
    const char *const *regions; /* NULL-terminated filter, NULL = all */
};

enum cat_kind {
    CAT_ROOT,
    CAT_REGION,
    CAT_CLUSTER,
    CAT_BATCH,    /* sharded cluster: one backup run */
    CAT_OPLOGDIR, /* <cluster>/oplog */
    CAT_LOGSDIR,  /* <cluster>/logs */
    CAT_BACKUP,   /* file: a backup (also inside a batch) */
    CAT_OPLOG,    /* file: an oplog backup */
    CAT_LOG,      /* file: a log package */
};

struct cat_stat {
    uint64_t ino;
    enum cat_kind kind;
    bool is_dir;
    bool readable; /* files: finished and downloadable */
    uint64_t size;
    int64_t mtime;
    unsigned nlink;
};

/* A file's download identity, copied out for the reader. */
struct cat_object {
    uint64_t ino;
    enum cat_kind kind; /* CAT_BACKUP, CAT_OPLOG or CAT_LOG (CAT_CLUSTER: catalog_cluster) */
    char *region;
    char *zone;
    char *cluster_id;
    char *object_id; /* BackupId or log package Id */
    uint64_t size;
    bool size_verified; /* size came from the object store, not the listing */
    bool readable;
};

struct catalog;

/* NULL on allocation failure. The source must outlive the catalog. */
struct catalog *catalog_new(const struct catalog_opts *opts);
void catalog_free(struct catalog **c);

/* Resolve path ("/", "/cn-bj2/orders", ...). 0, -ENOENT, or the listing's
 * error (-EACCES, -EIO) when a directory on the way could not be listed. */
int catalog_stat(struct catalog *c, const char *path, struct cat_stat *st);

/* Calls fill for each entry of the directory at path (not "." / "..").
 * A non-zero return from fill stops the walk. 0, -ENOTDIR, -ENOENT, -EIO... */
typedef int (*catalog_fill_fn)(void *ctx, const char *name, const struct cat_stat *st);
int catalog_readdir(struct catalog *c, const char *path, catalog_fill_fn fill, void *ctx);

/* The download identity of the file at path. 0, -ENOENT, -EISDIR, ...
 * Release with catalog_object_clear. */
int catalog_object(struct catalog *c, const char *path, struct cat_object *obj);
void catalog_object_clear(struct cat_object *obj);

/* The identity of the cluster directory at path (kind CAT_CLUSTER, object_id
 * = cluster_id), or -ENODATA when path is something else, -ENOENT, ...
 * Release with catalog_object_clear. */
int catalog_cluster(struct catalog *c, const char *path, struct cat_object *obj);

/* Records the length the object store reported for ino; from then on it is
 * the file's st_size (the listing's BackupSize can be wrong). */
void catalog_set_size(struct catalog *c, uint64_t ino, uint64_t size);

/* Records what the object store said about ino at an open (its length, as
 * catalog_set_size, and its ETag). Returns true when the same length and
 * ETag were recorded before, i.e. data cached from an earlier open is still
 * the object's; false the first time or when the object changed. */
bool catalog_object_seen(struct catalog *c, uint64_t ino, uint64_t size, const char *etag);

/* Extended attributes (README, "Names, attributes, errors"). getxattr: value
 * length, or -ENODATA, -ERANGE when size is too small (size 0 asks for the
 * length). listxattr: the NUL-separated names' total length, or -ERANGE. */
int catalog_getxattr(struct catalog *c, const char *path, const char *name, char *buf, size_t size);
int catalog_listxattr(struct catalog *c, const char *path, char *buf, size_t size);

/* Drops every cached listing so the next access lists again. */
void catalog_invalidate(struct catalog *c);

#endif
