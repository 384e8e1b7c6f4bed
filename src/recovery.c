/* recovery: restore windows per cluster, cached. See recovery.h. */
#include "recovery.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RECOVERY_ACTION "GetUMongoDBRecoverTimeRange"
#define RECOVERY_MAX    4096 /* cached clusters; past it the cache starts over */

struct recovery_entry {
    char *cluster_id;
    time_t fetched;
    int err; /* 0: window valid, -ENODATA: none, -EIO: the call failed */
    int64_t earliest, latest;
    struct recovery_entry *next;
};

/* Lock order: r->lock is a leaf; no other lock is taken while holding it. */
struct recovery {
    struct recovery_source src; /* immutable */
    unsigned ttl;               /* immutable */
    pthread_mutex_t lock;
    bool unsupported;            /* guarded by lock: RetCode 161 seen */
    struct recovery_entry *head; /* guarded by lock */
    size_t n;                    /* guarded by lock */
};

struct recovery *recovery_new(const struct recovery_source *src, unsigned ttl)
{
    struct recovery *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->src = *src;
    r->ttl = ttl ? ttl : 1;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void entries_free(struct recovery_entry *e)
{
    while (e) {
        struct recovery_entry *nx = e->next;
        free(e->cluster_id);
        free(e);
        e = nx;
    }
}

void recovery_free(struct recovery **pr)
{
    struct recovery *r = *pr;
    if (!r)
        return;
    entries_free(r->head);
    pthread_mutex_destroy(&r->lock);
    free(r);
    *pr = NULL;
}

/* Lock held. */
static struct recovery_entry *find(struct recovery *r, const char *cluster_id)
{
    for (struct recovery_entry *e = r->head; e; e = e->next)
        if (strcmp(e->cluster_id, cluster_id) == 0)
            return e;
    return NULL;
}

/* A time as the API sends it: a non-negative integer, or its decimal text. */
static int64_t get_time(const cJSON *j, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, name);
    if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < 1e15 &&
        it->valuedouble == (double)(int64_t)it->valuedouble)
        return (int64_t)it->valuedouble;
    if (cJSON_IsString(it) && it->valuestring && *it->valuestring &&
        strspn(it->valuestring, "0123456789") == strlen(it->valuestring) &&
        strlen(it->valuestring) < 16)
        return strtoll(it->valuestring, NULL, 10);
    return -1;
}

/* One call, without the lock. Returns 0, -ENODATA, -EIO, or 1 for "the
 * endpoint does not offer the action". */
static int fetch(struct recovery *r, const struct recovery_cluster *cl, int64_t *earliest,
                 int64_t *latest)
{
    struct api_param p[] = {
        {"Region", cl->region}, {"Zone", cl->zone}, {"ClusterId", cl->cluster_id}};
    struct api_error e;
    cJSON *j = NULL;
    int rc = r->src.call(r->src.ctx, RECOVERY_ACTION, p, 3, &j, &e);

    if (rc) {
        if (e.retcode == 161)
            return 1;
        if (api_retcode_action_specific(e.retcode)) {
            log_debug("cluster %s has no restore window: %s", cl->cluster_id, e.message);
            return -ENODATA;
        }
        log_warn("%s for cluster %s failed: %s", RECOVERY_ACTION, cl->cluster_id, e.message);
        return -EIO;
    }
    *earliest = get_time(j, "EarliestTime");
    *latest = get_time(j, "LatestTime");
    cJSON_Delete(j);
    if (*earliest < 0 || *latest < 0 || *earliest > *latest) {
        log_warn("%s: unusable window for cluster %s", RECOVERY_ACTION, cl->cluster_id);
        return -ENODATA;
    }
    return 0;
}

/* Lock held. Stores what a fetch learnt; a full cache starts over. */
static void remember(struct recovery *r, const char *cluster_id, int err, int64_t earliest,
                     int64_t latest)
{
    struct recovery_entry *e = find(r, cluster_id);
    if (!e) {
        if (r->n >= RECOVERY_MAX) {
            entries_free(r->head);
            r->head = NULL;
            r->n = 0;
        }
        e = calloc(1, sizeof(*e));
        if (!e || !(e->cluster_id = strdup(cluster_id))) {
            free(e);
            return;
        }
        e->next = r->head;
        r->head = e;
        r->n++;
    }
    e->fetched = time(NULL);
    e->err = err;
    e->earliest = earliest;
    e->latest = latest;
}

int recovery_get(struct recovery *r, const struct recovery_cluster *cl, int64_t *earliest,
                 int64_t *latest)
{
    pthread_mutex_lock(&r->lock);
    if (r->unsupported) {
        pthread_mutex_unlock(&r->lock);
        return -ENODATA;
    }
    struct recovery_entry *e = find(r, cl->cluster_id);
    /* A failed call is not cached: the next read asks again. */
    if (e && e->err != -EIO && time(NULL) - e->fetched < (time_t)r->ttl) {
        int err = e->err;
        *earliest = e->earliest;
        *latest = e->latest;
        pthread_mutex_unlock(&r->lock);
        return err;
    }
    pthread_mutex_unlock(&r->lock);

    int64_t lo = -1, hi = -1;
    int rc = fetch(r, cl, &lo, &hi);

    pthread_mutex_lock(&r->lock);
    if (rc == 1) {
        if (!r->unsupported)
            log_info("%s is not offered by this endpoint: clusters show no restore window",
                     RECOVERY_ACTION);
        r->unsupported = true;
        rc = -ENODATA;
    } else {
        remember(r, cl->cluster_id, rc, lo, hi);
    }
    pthread_mutex_unlock(&r->lock);
    *earliest = lo;
    *latest = hi;
    return rc;
}
