/* catalog: the tree of regions, clusters, backups and log packages.
 *
 * Owns every node, its name, inode number and attributes, and the listings
 * behind them, each trusted for dir_ttl seconds. Listings come from a source
 * (the API client in the daemon, canned answers in unit tests). Inode
 * numbers are never reused within a mount, and an entry that leaves a
 * listing and comes back keeps its number if it returns while its node is
 * still kept (README, "Names, attributes, errors": among the most recent
 * 1024 departures of its directory, and within gone_ttl). A number whose
 * node was dropped leads nowhere: calls taking an inode ignore it.
 *
 * Stale while revalidate: a directory listed before is answered from the
 * cache at once, however old; when it is older than dir_ttl a background
 * worker refreshes it (one refresh at a time per directory, a single attempt
 * each), and later calls see the new listing. Only a directory never listed
 * makes callers wait; concurrent callers wait for one listing and share its
 * result. When the API stops answering (the source returns -ETIMEDOUT for
 * several calls in a row) a circuit breaker opens: cold listings fail with
 * -EIO at once instead of each waiting a timeout, cached ones are still
 * served, and one call every breaker_cooldown seconds probes whether the API
 * is back. Opening and closing are logged, once each.
 *
 * Thread-safe: any FUSE thread may call any function. Internally one mutex
 * guards all state; it is never held while calling the source or a fill
 * callback, so a hung API call blocks nobody but the thread making it.
 */
#ifndef UMONGOFS_CATALOG_H
#define UMONGOFS_CATALOG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* Where listings come from: call(ctx, action, params, n, quick, &answer)
 * returns 0 with a cJSON answer the catalog frees, or a negative errno:
 * -ETIMEDOUT when no answer came at all (network failure, timeout), which
 * is what the circuit breaker counts; any other errno when an answer came,
 * even a broken one. Called from FUSE threads and the catalog's
 * refresh threads at once. quick: one attempt is enough (no retries): the
 * catalog has an older listing to fall back on, or the API has just failed
 * to answer. */
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
    unsigned breaker_failures;  /* unanswered calls in a row that open the breaker; 0 = 3 */
    unsigned breaker_cooldown;  /* seconds between probes while open; 0 = 10 */
    unsigned gone_ttl;          /* seconds a departed entry's node is kept for its
                                   return at most; 0 = max(600, 2 x dir_ttl) */
    /* Called with each path whose attributes a listing changed (a file's
     * size, time or mode; a directory's time or link count; an entry that
     * left), so the caller can drop what the kernel caches of it. Called
     * with the catalog's lock held, from any thread: it must only queue.
     * NULL = not told. */
    void (*changed)(void *ctx, const char *path);
    void *changed_ctx;
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
    bool size_verified;  /* size came from the object store, not the listing */
    bool size_corrected; /* and it differed from the listing's: the kernel may
                            still hold the listing's */
    bool readable;
};

struct catalog;

/* NULL on allocation failure. The source must outlive the catalog. The
 * refresh threads start at the first stale listing, so a process may fork
 * (daemonize) after catalog_new, as long as no listing went stale before;
 * were no thread to start, stale listings would be refreshed by their
 * caller (one attempt). catalog_free waits for the background refreshes
 * under way: at most one attempt of the source's each. */
struct catalog *catalog_new(const struct catalog_opts *opts);
void catalog_free(struct catalog **c);

/* Resolve path ("/", "/cn-bj2/orders", ...). 0, -ENOENT, or the listing's
 * error (-EACCES, -EIO) when a directory on the way had never been listed
 * and could not be (a directory listed before is served from the cache). */
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

/* Marks every cached listing stale: the next access to each directory
 * refreshes it (in the background, as for any stale listing). */
void catalog_invalidate(struct catalog *c);

/* Waits until no background refresh is queued or running (tests; the
 * refreshes started meanwhile are waited for too). */
void catalog_settle(struct catalog *c);

/* What the catalog holds now (tests, figures). */
struct catalog_counts {
    size_t nodes;  /* every node, live or gone, the root included */
    size_t gone;   /* of which gone: kept for their inode numbers */
    bool api_down; /* the circuit breaker is open */
};
void catalog_counts(struct catalog *c, struct catalog_counts *out);

#endif
