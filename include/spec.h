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
 * the caller: specs_free(). The builders take the strings they keep out of
 * the records they are given (setting those fields to NULL) instead of
 * copying them: a listing is held once, not twice.
 */
#ifndef UMONGOFS_SPEC_H
#define UMONGOFS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h" /* enum cat_kind */
#include "listing.h"

/* Extended attributes, packed: one allocation per entry instead of a
 * name/value pair of strings per attribute (a cluster may list a million
 * backups). A packed set is a sequence of records, each a header byte
 * (attribute number | source << XA_SRC_SHIFT) followed, for XS_INLINE only,
 * by the NUL-terminated value; a 0 byte ends the set. Values that repeat
 * what the tree already holds (the entry's id, its cluster's id and zone,
 * its display name) are not stored but referred to, so every backup of a
 * cluster shares its cluster's strings. Records keep the order they were
 * added in (listxattr shows that order). */
enum xa_attr {
    XA_END = 0,
    XA_REGION,
    XA_CLUSTER_ID,
    XA_NAME,
    XA_ZONE,
    XA_DB_VERSION,
    XA_CLUSTER_TYPE,
    XA_STATE,
    XA_CONNECT_URL,
    XA_IPV6_CONNECT_URL,
    XA_BATCH_ID,
    XA_BACKUP_ID,
    XA_TYPE,
    XA_START_TIME,
    XA_END_TIME,
    XA_REPLICA_TYPE,
    XA_VIRTUAL_CLUSTER_ID,
    XA_BACKUP_METHOD,
    XA_DISK_SIZE,
    XA_PACKAGE_ID,
    XA_PACKAGE_TYPE,
    XA_NODE_ID,
    XA_ROLE,
    XA_COUNT
};

enum xa_src {
    XS_INLINE = 0,  /* the value follows the header */
    XS_ID = 1,      /* the entry's own id (spec.id) */
    XS_CLUSTER = 2, /* the id of the cluster the entry belongs to (or is) */
    XS_ZONE = 3,    /* that cluster's zone */
    XS_NAME = 4,    /* the entry's display name (set by xa_refer_name) */
};
#define XA_SRC_SHIFT 5

/* The attribute's name without the "user.umongofs." prefix; NULL if unknown. */
const char *xa_name(unsigned attr);

/* Steps through a packed set: returns false at its end, else sets *attr,
 * *src and (XS_INLINE) *value, and advances *p. */
bool xa_next(const char **p, unsigned *attr, unsigned *src, const char **value);

/* Bytes of a packed set, its end marker included (1 for NULL). */
size_t xa_size(const char *xa);

/* Rewrites, in place, every inline value equal to name as XS_NAME: a
 * backup's BackupName is nearly always its display name too. */
void xa_refer_name(char *xa, const char *name);

struct spec {
    enum cat_kind kind;
    char *id;       /* the provider's id; with kind, the entry's identity in its directory */
    char *raw_name; /* display name before names_assign (may be NULL) */
    char *name;     /* the final name, once spec_name_all has run */
    char *zone;     /* clusters: their Zone */
    bool sharded;   /* clusters: ClusterType SharedCluster */
    uint64_t size;
    bool readable;
    int64_t mtime;
    char *xattrs;     /* packed (above); NULL = none */
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
int spec_regions(struct listing_region *r, size_t n, const char *const *filter,
                 int64_t fallback_time, struct spec **out, size_t *n_out);

/* A region: one directory per cluster (clusters without a Zone are skipped). */
int spec_clusters(struct listing_cluster *l, size_t n, int64_t fallback_time, struct spec **out,
                  size_t *n_out);

/* A cluster: its finished backups as files, sharded ones grouped into batch
 * directories, oplog/ and logs/ when they have entries. */
int spec_cluster_dir(const struct spec_owner *cl, bool sharded, bool show_all,
                     struct listing_backup *b, size_t nb, struct listing_log *l, size_t nl,
                     struct spec **out, size_t *n_out);

/* Gives every spec of one directory (and of the directories they fill) its
 * final name (names.h; in a cluster directory "oplog" and "logs" are
 * reserved), refers the xattrs that repeat it to it, and sorts the specs by
 * name. 0 or -ENOMEM. Runs before the catalog takes its lock: naming and
 * sorting a million entries takes a while. */
int spec_name_all(struct spec *s, size_t n, bool cluster_dir);

/* url without the "user:password@" part of its authority (malloc'd, NULL on
 * allocation failure or a NULL url). */
char *spec_strip_userinfo(const char *url);

void spec_clear(struct spec *s);
void specs_free(struct spec *s, size_t n);

#endif
