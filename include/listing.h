/* listing: parse the provider's list answers into plain C records.
 *
 * The provider's JSON is untrusted: fields may be missing, mistyped (a number
 * as a string or the reverse), negative, huge, or come with unknown siblings.
 * The parsers never crash on any input; an entry whose id is missing or not a
 * valid id (letters, digits, '-', '_', 1..64 bytes) is skipped with a warning;
 * a missing string field becomes NULL; a missing or unusable number becomes
 * -1 (times, sizes) so callers can tell "unknown" from 0. A response whose
 * DataSet/Regions is missing or null is an empty list (the provider's way of
 * saying "none"); one whose list has another type is malformed: -EIO.
 *
 * Pure functions, any thread. Every returned array and string is malloc'd and
 * owned by the caller, freed with the matching listing_free_*().
 */
#ifndef UMONGOFS_LISTING_H
#define UMONGOFS_LISTING_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GetRegion: one entry per zone, as the provider sends them (not deduplicated). */
struct listing_region {
    char *region; /* required: entries without it are skipped */
    char *zone;
    bool is_default;
};

/* ListUMongoDBInstances */
struct listing_cluster {
    char *cluster_id; /* required, a valid id */
    char *name;
    char *zone;
    char *db_version;
    char *cluster_type; /* "ReplicaSet", "SharedCluster", ... */
    char *state;
    char *connect_url;      /* may embed user:password: strip before showing */
    char *ipv6_connect_url; /* likewise */
    int64_t create_time;    /* -1 unknown */
    bool sharded;           /* cluster_type == "SharedCluster" */
};

/* ListUMongoDBBackup */
struct listing_backup {
    char *backup_id; /* required, a valid id */
    char *name;
    char *cluster_id;
    char *zone;
    char *state; /* "Success" = downloadable */
    char *type;  /* "auto", "manual", "oplog" */
    char *batch_id;
    char *virtual_cluster_id;
    char *replica_type;
    char *method;                 /* BackupMethod, where the provider sends it */
    int64_t size;                 /* BackupSize, -1 unknown */
    int64_t disk_size;            /* DiskSize: space a restore needs, -1 unknown */
    int64_t start_time, end_time; /* -1 unknown */
};

/* ListUMongoDBLogPackage */
struct listing_log {
    char *package_id; /* the integer Id as decimal text; required */
    char *name;
    char *state; /* "Package_Success" = downloadable */
    char *package_type;
    char *cluster_id;
    char *node_id;
    char *role;
    int64_t size;                                 /* -1 unknown */
    int64_t begin, end, create_time, finish_time; /* -1 unknown */
};

int listing_parse_regions(const cJSON *resp, struct listing_region **out, size_t *n);
int listing_parse_clusters(const cJSON *resp, struct listing_cluster **out, size_t *n);
int listing_parse_backups(const cJSON *resp, struct listing_backup **out, size_t *n);
int listing_parse_logs(const cJSON *resp, struct listing_log **out, size_t *n);

/* Each frees the n records and the array, and sets *p = NULL. */
void listing_free_regions(struct listing_region **p, size_t n);
void listing_free_clusters(struct listing_cluster **p, size_t n);
void listing_free_backups(struct listing_backup **p, size_t n);
void listing_free_logs(struct listing_log **p, size_t n);

/* Each frees one record's strings (they become NULL; the record stays), so a
 * caller done with part of a listing can give its memory back early. */
void listing_clear_backup(struct listing_backup *b);
void listing_clear_log(struct listing_log *l);

/* True when s is a usable provider id (see above). */
bool listing_valid_id(const char *s);

#endif
