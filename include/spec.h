/* spec: what a directory should hold, according to the API's listings.
 *
 * Turns parsed listing records (listing.h) into "specs": one per directory
 * entry, with its kind, identity key, raw display name, attributes and
 * xattrs, and, for the directories a cluster listing fills at once (sharded
 * batches, oplog/, logs/), their own entries. The catalog merges specs into
 * its tree. This is where the tree's shape rules live (README, "What it is"
 * and "Names, attributes, errors"): regions deduplicated, unfinished backups hidden unless
 * show_all, oplog backups in oplog/, finished log packages in logs/, sharded backups grouped by
 * BatchId.
 *
 * Pure functions, any thread. Every spec and string is malloc'd and owned by
 * the caller: specs_free().
 */
#ifndef UMONGOFS_SPEC_H
#define UMONGOFS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h" /* enum cat_kind */
#include "listing.h"

struct xattr {
    char *name; /* without the "user.umongofs." prefix */
    char *value;
};

struct spec {
    enum cat_kind kind;
    char *key;      /* identity within the directory, kind-prefixed: "b:<BackupId>" */
    char *raw_name; /* display name before names_assign (may be NULL) */
    char *id;       /* for the collision suffix */
    uint64_t size;
    bool readable;
    int64_t mtime;
    char *region, *zone, *cluster_id, *object_id;
    struct xattr *xattrs;
    size_t n_xattrs;
    struct spec *sub; /* entries of a batch/oplog/logs directory */
    size_t n_sub;
};

/* The cluster whose listing is being turned into specs. */
struct spec_owner {
    const char *region;
    const char *zone;
    const char *cluster_id;
};

/* The root: one region directory per region (GetRegion lists one entry per
 * zone). filter: NULL-terminated region names to keep, NULL = all.
 * fallback_time: the mtime of a region not listed yet. 0 or -ENOMEM. */
int spec_regions(const struct listing_region *r, size_t n, const char *const *filter,
                 int64_t fallback_time, struct spec **out, size_t *n_out);

/* A region: one directory per cluster (clusters without a Zone are skipped). */
int spec_clusters(const char *region, const struct listing_cluster *l, size_t n,
                  int64_t fallback_time, struct spec **out, size_t *n_out);

/* A cluster: its finished backups as files, sharded ones grouped into batch
 * directories, oplog/ and logs/ when they have entries. */
int spec_cluster_dir(const struct spec_owner *cl, bool sharded, bool show_all,
                     const struct listing_backup *b, size_t nb, const struct listing_log *l,
                     size_t nl, struct spec **out, size_t *n_out);

/* url without the "user:password@" part of its authority (malloc'd, NULL on
 * allocation failure or a NULL url). */
char *spec_strip_userinfo(const char *url);

void spec_clear(struct spec *s);
void specs_free(struct spec *s, size_t n);
void xattrs_free(struct xattr *x, size_t n);

#endif
