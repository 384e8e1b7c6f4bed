/* listing: the provider's list answers, parsed into plain C records.
 *
 * The answers come from the network and their types drift (ids as ints,
 * sizes as strings), so every field goes through one lenient, bounds-checked
 * converter, described by a per-record table instead of hand-written code, and
 * an unusable entry costs only itself. See listing.h for the contract.
 */
#include "listing.h"

#include "log.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LISTING_ID_MAX 64

/* Individual "skipped" warnings per answer; the rest are only counted, so a
 * broken answer of 5000 entries does not flood the log. */
#define LISTING_WARN_MAX 5

enum listing_kind {
    LISTING_KEY, /* string, must pass listing_valid_id; the entry is skipped otherwise */
    LISTING_STR,
    LISTING_INT, /* int64_t, -1 when missing or unusable */
    LISTING_BOOL,
};

/* The LISTING_KEY field comes first in each table, so an entry without one is
 * rejected before anything else is allocated for it. */
struct listing_field {
    const char *json;
    enum listing_kind kind;
    size_t off;
};

struct listing_spec {
    const char *what;  /* for warnings */
    const char *array; /* "DataSet" or "Regions" */
    size_t size;       /* of one record */
    const struct listing_field *fields;
    size_t nfields;
};

static const struct listing_field listing_region_fields[] = {
    {"Region", LISTING_KEY, offsetof(struct listing_region, region)},
    {"Zone", LISTING_STR, offsetof(struct listing_region, zone)},
    {"IsDefault", LISTING_BOOL, offsetof(struct listing_region, is_default)},
};

static const struct listing_field listing_cluster_fields[] = {
    {"ClusterId", LISTING_KEY, offsetof(struct listing_cluster, cluster_id)},
    {"Name", LISTING_STR, offsetof(struct listing_cluster, name)},
    {"Zone", LISTING_STR, offsetof(struct listing_cluster, zone)},
    {"DBVersion", LISTING_STR, offsetof(struct listing_cluster, db_version)},
    {"ClusterType", LISTING_STR, offsetof(struct listing_cluster, cluster_type)},
    {"State", LISTING_STR, offsetof(struct listing_cluster, state)},
    {"ConnectURL", LISTING_STR, offsetof(struct listing_cluster, connect_url)},
    {"IPv6ConnectURL", LISTING_STR, offsetof(struct listing_cluster, ipv6_connect_url)},
    {"CreateTime", LISTING_INT, offsetof(struct listing_cluster, create_time)},
};

static const struct listing_field listing_backup_fields[] = {
    {"BackupId", LISTING_KEY, offsetof(struct listing_backup, backup_id)},
    {"BackupName", LISTING_STR, offsetof(struct listing_backup, name)},
    {"ClusterId", LISTING_STR, offsetof(struct listing_backup, cluster_id)},
    {"Zone", LISTING_STR, offsetof(struct listing_backup, zone)},
    {"State", LISTING_STR, offsetof(struct listing_backup, state)},
    {"BackupType", LISTING_STR, offsetof(struct listing_backup, type)},
    {"BatchId", LISTING_STR, offsetof(struct listing_backup, batch_id)},
    {"VirtualClusterId", LISTING_STR, offsetof(struct listing_backup, virtual_cluster_id)},
    {"ReplicaType", LISTING_STR, offsetof(struct listing_backup, replica_type)},
    {"BackupMethod", LISTING_STR, offsetof(struct listing_backup, method)},
    {"BackupSize", LISTING_INT, offsetof(struct listing_backup, size)},
    {"DiskSize", LISTING_INT, offsetof(struct listing_backup, disk_size)},
    {"StartTime", LISTING_INT, offsetof(struct listing_backup, start_time)},
    {"EndTime", LISTING_INT, offsetof(struct listing_backup, end_time)},
};

static const struct listing_field listing_log_fields[] = {
    {"Id", LISTING_KEY, offsetof(struct listing_log, package_id)},
    {"Name", LISTING_STR, offsetof(struct listing_log, name)},
    {"State", LISTING_STR, offsetof(struct listing_log, state)},
    {"PackageType", LISTING_STR, offsetof(struct listing_log, package_type)},
    {"ClusterId", LISTING_STR, offsetof(struct listing_log, cluster_id)},
    {"NodeId", LISTING_STR, offsetof(struct listing_log, node_id)},
    {"Role", LISTING_STR, offsetof(struct listing_log, role)},
    {"Size", LISTING_INT, offsetof(struct listing_log, size)},
    {"Begin", LISTING_INT, offsetof(struct listing_log, begin)},
    {"End", LISTING_INT, offsetof(struct listing_log, end)},
    {"CreateTime", LISTING_INT, offsetof(struct listing_log, create_time)},
    {"FinishTime", LISTING_INT, offsetof(struct listing_log, finish_time)},
};

#define LISTING_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct listing_spec listing_regions_spec = {
    "GetRegion", "Regions", sizeof(struct listing_region), listing_region_fields,
    LISTING_COUNT(listing_region_fields)};
static const struct listing_spec listing_clusters_spec = {
    "ListUMongoDBInstances", "DataSet", sizeof(struct listing_cluster), listing_cluster_fields,
    LISTING_COUNT(listing_cluster_fields)};
static const struct listing_spec listing_backups_spec = {
    "ListUMongoDBBackup", "DataSet", sizeof(struct listing_backup), listing_backup_fields,
    LISTING_COUNT(listing_backup_fields)};
static const struct listing_spec listing_logs_spec = {
    "ListUMongoDBLogPackage", "DataSet", sizeof(struct listing_log), listing_log_fields,
    LISTING_COUNT(listing_log_fields)};

bool listing_valid_id(const char *s)
{
    size_t len = 0;

    if (!s)
        return false;
    for (; s[len]; len++) {
        char c = s[len];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok || len >= LISTING_ID_MAX)
            return false;
    }
    return len > 0;
}

/* cJSON keeps every number as a double; an integer is one with no fraction
 * that int64_t can hold exactly. The range test comes first, so the cast is
 * always defined, and NaN fails it. Needs no libm, which the build lacks. */
static bool listing_double_to_i64(double d, int64_t *v)
{
    if (!(d >= -0x1p63 && d < 0x1p63) || (double)(int64_t)d != d)
        return false;
    *v = (int64_t)d;
    return true;
}

/* Strict unsigned decimal: "123" yes; "", " 1", "+1", "-1", "1e3", "0x10" no. */
static bool listing_parse_decimal(const char *s, int64_t *v)
{
    int64_t acc = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        int d = *s - '0';
        if (acc > (INT64_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    *v = acc;
    return true;
}

/* Times and sizes alike: a non-negative integer, else -1 ("unknown"). */
static int64_t listing_get_int(const cJSON *it)
{
    int64_t v;

    if (cJSON_IsNumber(it)) {
        if (listing_double_to_i64(it->valuedouble, &v) && v >= 0)
            return v;
    } else if (cJSON_IsString(it) && it->valuestring) {
        if (listing_parse_decimal(it->valuestring, &v))
            return v;
    }
    return -1;
}

static bool listing_get_bool(const cJSON *it)
{
    if (cJSON_IsBool(it))
        return cJSON_IsTrue(it);
    if (cJSON_IsNumber(it))
        return it->valuedouble == 1;
    if (cJSON_IsString(it) && it->valuestring)
        return strcasecmp(it->valuestring, "true") == 0 || strcmp(it->valuestring, "1") == 0;
    return false;
}

/* A string, or a finite number as decimal text (the provider sends some ids
 * as ints). Anything else is "missing", including an infinity, which strtod
 * makes of "1e999" and which would otherwise become the valid id "inf".
 * *s is NULL then, and -ENOMEM is the only error. */
static int listing_get_str(const cJSON *it, char **s)
{
    char num[32];
    int64_t v;

    *s = NULL;
    if (cJSON_IsString(it) && it->valuestring) {
        *s = strdup(it->valuestring);
    } else if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
        if (listing_double_to_i64(it->valuedouble, &v))
            snprintf(num, sizeof(num), "%lld", (long long)v);
        else
            snprintf(num, sizeof(num), "%.17g", it->valuedouble);
        *s = strdup(num);
    } else {
        return 0;
    }
    return *s ? 0 : -ENOMEM;
}

static void listing_record_free(const struct listing_spec *spec, void *rec)
{
    for (size_t f = 0; f < spec->nfields; f++) {
        const struct listing_field *fd = &spec->fields[f];
        if (fd->kind == LISTING_KEY || fd->kind == LISTING_STR) {
            char **p = (char **)((char *)rec + fd->off);
            free(*p);
            *p = NULL;
        }
    }
}

static void listing_array_free(const struct listing_spec *spec, void *recs, size_t n)
{
    if (!recs)
        return;
    for (size_t i = 0; i < n; i++)
        listing_record_free(spec, (char *)recs + i * spec->size);
    free(recs);
}

/* Fills rec from the JSON object el. 0 on success, 1 when the entry has no
 * usable key (rec is left empty), -ENOMEM. */
static int listing_record_fill(const struct listing_spec *spec, const cJSON *el, void *rec)
{
    for (size_t f = 0; f < spec->nfields; f++) {
        const struct listing_field *fd = &spec->fields[f];
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(el, fd->json);
        void *dst = (char *)rec + fd->off;
        int rc;

        switch (fd->kind) {
        case LISTING_KEY:
        case LISTING_STR:
            rc = listing_get_str(it, (char **)dst);
            if (rc < 0) {
                listing_record_free(spec, rec);
                return rc;
            }
            if (fd->kind == LISTING_KEY && !listing_valid_id(*(char **)dst)) {
                listing_record_free(spec, rec);
                return 1;
            }
            break;
        case LISTING_INT:
            *(int64_t *)dst = listing_get_int(it);
            break;
        case LISTING_BOOL:
            *(bool *)dst = listing_get_bool(it);
            break;
        }
    }
    return 0;
}

/* The ids themselves are not logged: they failed validation, so they may be
 * arbitrarily long or full of control characters. */
static void listing_warn_skip(const struct listing_spec *spec, size_t i, size_t *skipped,
                              bool is_object)
{
    if (++*skipped > LISTING_WARN_MAX)
        return;
    if (is_object)
        log_warn("%s: skipping entry %zu: missing or invalid %s", spec->what, i,
                 spec->fields[0].json);
    else
        log_warn("%s: skipping entry %zu: not an object", spec->what, i);
}

/* On success *out is the array of *n records (NULL when none are usable). */
static int listing_parse(const struct listing_spec *spec, const cJSON *resp, void **out, size_t *n)
{
    const cJSON *arr, *el;
    size_t count = 0, got = 0, skipped = 0, i = 0;
    char *recs = NULL;

    *out = NULL;
    *n = 0;
    if (!cJSON_IsObject(resp))
        return -EIO;
    arr = cJSON_GetObjectItemCaseSensitive(resp, spec->array);
    /* The provider leaves the list out (or sends null) when it is empty, and
     * its own CLI reads that as "no entries" (docs/provider-api.md). Only a
     * list of the wrong type is malformed. */
    if (!arr || cJSON_IsNull(arr))
        return 0;
    if (!cJSON_IsArray(arr))
        return -EIO;

    /* Counted by walking the list, so the allocation is never larger than
     * what the answer actually holds. */
    for (el = arr->child; el; el = el->next)
        count++;
    if (count == 0)
        return 0;
    recs = calloc(count, spec->size);
    if (!recs)
        return -ENOMEM;

    for (el = arr->child; el; el = el->next, i++) {
        void *rec = recs + got * spec->size;
        int rc;

        if (!cJSON_IsObject(el)) {
            listing_warn_skip(spec, i, &skipped, false);
            continue;
        }
        rc = listing_record_fill(spec, el, rec);
        if (rc < 0) {
            listing_array_free(spec, recs, got);
            return rc;
        }
        if (rc > 0) {
            listing_warn_skip(spec, i, &skipped, true);
            memset(rec, 0, spec->size);
            continue;
        }
        got++;
    }
    if (skipped > LISTING_WARN_MAX)
        log_warn("%s: skipped %zu of %zu entries", spec->what, skipped, count);
    if (got == 0) {
        free(recs);
        return 0;
    }
    *out = recs;
    *n = got;
    return 0;
}

/* The typed wrappers go through a void * rather than casting T ** to void **,
 * which would store a T * through the wrong pointer type. */
int listing_parse_regions(const cJSON *resp, struct listing_region **out, size_t *n)
{
    void *recs;
    int rc;

    if (!out || !n)
        return -EINVAL;
    rc = listing_parse(&listing_regions_spec, resp, &recs, n);
    *out = recs;
    return rc;
}

int listing_parse_clusters(const cJSON *resp, struct listing_cluster **out, size_t *n)
{
    void *recs;
    int rc;

    if (!out || !n)
        return -EINVAL;
    rc = listing_parse(&listing_clusters_spec, resp, &recs, n);
    *out = recs;
    for (size_t i = 0; i < *n; i++) {
        const char *t = (*out)[i].cluster_type;
        (*out)[i].sharded = t && strcmp(t, "SharedCluster") == 0;
    }
    return rc;
}

int listing_parse_backups(const cJSON *resp, struct listing_backup **out, size_t *n)
{
    void *recs;
    int rc;

    if (!out || !n)
        return -EINVAL;
    rc = listing_parse(&listing_backups_spec, resp, &recs, n);
    *out = recs;
    return rc;
}

int listing_parse_logs(const cJSON *resp, struct listing_log **out, size_t *n)
{
    void *recs;
    int rc;

    if (!out || !n)
        return -EINVAL;
    rc = listing_parse(&listing_logs_spec, resp, &recs, n);
    *out = recs;
    return rc;
}

void listing_clear_backup(struct listing_backup *b)
{
    listing_record_free(&listing_backups_spec, b);
}

void listing_clear_log(struct listing_log *l)
{
    listing_record_free(&listing_logs_spec, l);
}

void listing_free_regions(struct listing_region **p, size_t n)
{
    if (!p)
        return;
    listing_array_free(&listing_regions_spec, *p, n);
    *p = NULL;
}

void listing_free_clusters(struct listing_cluster **p, size_t n)
{
    if (!p)
        return;
    listing_array_free(&listing_clusters_spec, *p, n);
    *p = NULL;
}

void listing_free_backups(struct listing_backup **p, size_t n)
{
    if (!p)
        return;
    listing_array_free(&listing_backups_spec, *p, n);
    *p = NULL;
}

void listing_free_logs(struct listing_log **p, size_t n)
{
    if (!p)
        return;
    listing_array_free(&listing_logs_spec, *p, n);
    *p = NULL;
}
