/* urls: cache of presigned download URLs keyed by inode. See urls.h. */
#include "urls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "trace.h"

#define URLS_MAX 4096 /* cached entries; the oldest goes first */

/* The longest download URL taken: a presigned URL is a few hundred bytes;
 * the cache holds URLS_MAX of them, so their size must be bounded. */
#define URLS_MAX_LEN 8192

/* How long a refusal (the provider will not hand out this object) is
 * remembered: retries of the same open within it cost no API call. */
#define URLS_REFUSAL_TTL 300

struct url_entry {
    uint64_t ino;
    char *url;
    time_t fetched;
    bool fetching;
    unsigned gen;         /* counts finished fetches */
    int err;              /* result of the last one */
    time_t refused_until; /* the provider refused this object; -EPERM until then */
    struct url_entry *next;
};

struct urls {
    pthread_mutex_t lock;
    pthread_cond_t done;
    struct api_client *api;
    unsigned ttl;
    bool intranet;
    struct url_entry *head; /* most recently fetched first */
    size_t n;
};

unsigned urls_margin(unsigned ttl)
{
    /* Refresh early enough that a request started now still finds the URL
     * valid, but never spend most of a short lifetime on the margin. */
    unsigned m = ttl / 4;
    return m > 60 ? 60 : m;
}

struct urls *urls_new(const struct urls_opts *o)
{
    struct urls *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->done, NULL);
    u->api = o->api;
    u->ttl = o->ttl ? o->ttl : 3600;
    u->intranet = o->intranet;
    return u;
}

static void entry_free(struct url_entry *e)
{
    if (e->url)
        explicit_bzero(e->url, strlen(e->url));
    free(e->url);
    free(e);
}

void urls_free(struct urls **pu)
{
    struct urls *u = *pu;
    if (!u)
        return;
    for (struct url_entry *e = u->head, *nx; e; e = nx) {
        nx = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->done);
    free(u);
    *pu = NULL;
}

static struct url_entry *find(struct urls *u, uint64_t ino)
{
    for (struct url_entry *e = u->head; e; e = e->next)
        if (e->ino == ino)
            return e;
    return NULL;
}

/* Drops the oldest idle entries beyond URLS_MAX. Lock held. */
static void trim(struct urls *u)
{
    if (u->n <= URLS_MAX)
        return;
    struct url_entry **pp = &u->head;
    size_t k = 0;
    while (*pp) {
        struct url_entry *e = *pp;
        if (++k > URLS_MAX && !e->fetching) {
            *pp = e->next;
            entry_free(e);
            u->n--;
        } else {
            pp = &e->next;
        }
    }
}

/* The provider answered with a code about this very object (sharded and
 * snapshot backups "do not support download"): a property of the file, not
 * an outage. Said once per refusal, with the ids (validated [A-Za-z0-9_-]). */
static int refused(const struct cat_object *o, const struct api_error *e)
{
    log_err("%s %s of cluster %s: the provider will not hand out a download URL (%s); "
            "open fails with EPERM for %d s before asking again",
            o->kind == CAT_LOG ? "log package" : "backup", o->object_id, o->cluster_id, e->message,
            URLS_REFUSAL_TTL);
    return -EPERM;
}

static int describe(struct urls *u, const struct cat_object *o, char **url)
{
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", u->ttl);
    struct api_param p[6] = {{"Region", o->region},
                             {"Zone", o->zone},
                             {"ClusterId", o->cluster_id},
                             {o->kind == CAT_LOG ? "PackageId" : "BackupId", o->object_id},
                             {"ValidTime", ttl}};
    size_t n = 5;
    if (o->kind == CAT_OPLOG)
        p[n++] = (struct api_param){"Category", "oplog"};
    cJSON *j = NULL;
    struct api_error e;
    int rc = api_call(u->api, "DescribeUMongoDBBackupURL", p, n, -1, &j, &e);
    if (rc)
        return api_retcode_action_specific(e.retcode) ? refused(o, &e) : rc;
    const char *field = u->intranet ? "IntranetAddress" : "InternetAddress";
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, field);
    if (!cJSON_IsString(a) || !a->valuestring ||
        (strncmp(a->valuestring, "http://", 7) != 0 &&
         strncmp(a->valuestring, "https://", 8) != 0)) {
        log_err("DescribeUMongoDBBackupURL: answer has no usable %s", field);
        rc = -EIO;
    } else if (strlen(a->valuestring) > URLS_MAX_LEN) {
        log_err("DescribeUMongoDBBackupURL: %s is %zu bytes long, more than %d: refused", field,
                strlen(a->valuestring), URLS_MAX_LEN);
        rc = -EIO;
    } else {
        *url = strdup(a->valuestring);
        rc = *url ? 0 : -ENOMEM;
    }
    cJSON_Delete(j);
    return rc;
}

int urls_get(struct urls *u, const struct cat_object *o, const char *stale, char **url)
{
    *url = NULL;
    pthread_mutex_lock(&u->lock);
    struct url_entry *e = find(u, o->ino);
    for (;;) {
        bool waited = false;
        unsigned gen = e ? e->gen : 0;
        while (e && e->fetching) {
            waited = true;
            pthread_cond_wait(&u->done, &u->lock);
            e = find(u, o->ino);
        }
        /* We waited for another caller's fetch and it failed: that answer is
         * ours too (fetching again in turn would multiply the wait). */
        if (waited && e && e->gen != gen && e->err) {
            int err = e->err;
            pthread_mutex_unlock(&u->lock);
            return err;
        }
        time_t now = time(NULL);
        if (e && now < e->refused_until) {
            pthread_mutex_unlock(&u->lock);
            return -EPERM;
        }
        if (e && e->url && now < e->fetched + (time_t)(u->ttl - urls_margin(u->ttl)) &&
            !(stale && strcmp(stale, e->url) == 0)) {
            *url = strdup(e->url);
            pthread_mutex_unlock(&u->lock);
            return *url ? 0 : -ENOMEM;
        }
        if (!e) {
            e = calloc(1, sizeof(*e));
            if (!e) {
                pthread_mutex_unlock(&u->lock);
                return -ENOMEM;
            }
            e->ino = o->ino;
            e->next = u->head;
            u->head = e;
            u->n++;
        }
        break;
    }
    e->fetching = true;
    pthread_mutex_unlock(&u->lock);

    char *fresh = NULL;
    int rc = describe(u, o, &fresh);

    pthread_mutex_lock(&u->lock);
    e->fetching = false;
    e->gen++;
    e->err = rc;
    e->refused_until = rc == -EPERM ? time(NULL) + URLS_REFUSAL_TTL : 0;
    if (rc == 0) {
        trace_url(o->kind == CAT_LOG     ? "log package"
                  : o->kind == CAT_OPLOG ? "oplog"
                                         : "backup",
                  o->object_id, fresh, e->url != NULL);
        if (e->url)
            explicit_bzero(e->url, strlen(e->url));
        free(e->url);
        e->url = fresh;
        e->fetched = time(NULL);
        *url = strdup(fresh);
        if (!*url)
            rc = -ENOMEM;
    }
    trim(u);
    pthread_cond_broadcast(&u->done);
    pthread_mutex_unlock(&u->lock);
    return rc;
}
