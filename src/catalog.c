/* catalog: listings, their TTL cache and refreshes, over the tree (tree.c).
 *
 * A directory's listing is fetched without the lock, turned into specs
 * (spec.c), then merged into the tree under the lock. A directory listed
 * before is served from the cache at once, even when stale: a stale one is
 * handed to a background worker, one refresh at a time per directory, and
 * the next access sees the result. Only a directory never listed (cold) makes
 * its caller wait, for one listing shared by everyone who asks meanwhile.
 * A circuit breaker (breaker.h) notices when the API stops answering and
 * then fails cold listings at once instead of making each wait a timeout.
 */
#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "breaker.h"
#include "listing.h"
#include "log.h"
#include "spec.h"
#include "tree.h"

#define CAT_WORKERS          4     /* background refreshes running at once */
#define CAT_BREAKER_FAILURES 3     /* unanswered calls in a row that open the breaker */
#define CAT_BREAKER_COOLDOWN 10    /* seconds between probes while it is open */
#define CAT_GONE_TTL_MIN     600   /* seconds: the least gone_ttl, whatever dir_ttl */
#define CAT_TRIM_ENTRIES     10000 /* listings this big give their memory back */

/* Lock order: c->lock is the catalog's only lock. It is never held while
 * calling the source (the network), a readdir fill callback, or joining a
 * thread. Every node (tree.h) is guarded by it. */
struct catalog {
    /* Set by catalog_new, read-only afterwards (no lock needed). */
    struct catalog_source src;
    unsigned dir_ttl;
    bool show_all;
    char **regions; /* NULL-terminated or NULL */
    int64_t mount_time;
    void (*changed)(void *ctx, const char *path);
    void *changed_ctx;

    pthread_mutex_t lock;
    /* Guarded by lock: */
    pthread_t workers[CAT_WORKERS]; /* started on first need, not by catalog_new: */
    unsigned n_workers;             /* the daemon forks (fuse_daemonize) after it */
    pid_t workers_pid;              /* the process they run in */
    pthread_cond_t refreshed;       /* a refresh ended or a queued one was dropped */
    pthread_cond_t work;            /* the queue got a directory, or stopping */
    struct tree tree;
    uint64_t *queue; /* inodes of stale directories for the workers (a ring) */
    size_t q_head, q_len, q_cap;
    unsigned bg_running; /* refreshes the workers are running */
    bool stopping;
    struct breaker breaker;
};

/* What a listing call needs, copied out of the tree: the node's strings may
 * be replaced (or the node freed) while the lock is dropped. */
struct snap {
    enum cat_kind kind;
    char *region, *zone, *cluster_id;
    bool sharded;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---------- fetching listings (no lock) ---------- */

/* A parser's verdict, logged: an answer without its list is the provider's
 * fault and the user sees EIO, so say why. */
static int parsed(int rc, const char *action)
{
    if (rc)
        log_err("%s: malformed answer (no usable list): %s", action, strerror(-rc));
    return rc;
}

static int list_root(struct catalog *c, bool quick, struct spec **out, size_t *n_out)
{
    cJSON *j = NULL;
    struct listing_region *r = NULL;
    size_t n = 0;
    int rc = c->src.call(c->src.ctx, "GetRegion", NULL, 0, quick, &j);
    if (!rc)
        rc = parsed(listing_parse_regions(j, &r, &n), "GetRegion");
    cJSON_Delete(j);
    if (!rc)
        rc = spec_regions(r, n, (const char *const *)c->regions, c->mount_time, out, n_out);
    listing_free_regions(&r, n);
    return rc;
}

static int list_region(struct catalog *c, const char *region, bool quick, struct spec **out,
                       size_t *n_out)
{
    cJSON *j = NULL;
    struct listing_cluster *l = NULL;
    size_t n = 0;
    struct api_param p[] = {{"Region", region}};
    int rc = c->src.call(c->src.ctx, "ListUMongoDBInstances", p, 1, quick, &j);
    if (!rc)
        rc = parsed(listing_parse_clusters(j, &l, &n), "ListUMongoDBInstances");
    cJSON_Delete(j);
    if (!rc)
        rc = spec_clusters(l, n, c->mount_time, out, n_out);
    listing_free_clusters(&l, n);
    return rc;
}

/* Each answer is parsed, then freed whole before anything else is built
 * from it (and before the next call): what is kept of a big listing is then
 * allocated into the answer's freed memory, not scattered through it, and
 * the rest can go back to the system (refresh_cleanup). */
static int list_cluster(struct catalog *c, const struct snap *sn, bool quick, bool cold,
                        struct spec **s, size_t *n)
{
    struct api_param p[] = {
        {"Region", sn->region}, {"Zone", sn->zone}, {"ClusterId", sn->cluster_id}};
    cJSON *j = NULL;
    struct listing_backup *b = NULL;
    struct listing_log *l = NULL;
    size_t nb = 0, nl = 0;
    int rc = c->src.call(c->src.ctx, "ListUMongoDBBackup", p, 3, quick, &j);
    if (!rc)
        rc = parsed(listing_parse_backups(j, &b, &nb), "ListUMongoDBBackup");
    cJSON_Delete(j);
    j = NULL;
    if (!rc) {
        rc = c->src.call(c->src.ctx, "ListUMongoDBLogPackage", p, 3, quick, &j);
        /* Keys allowed to list backups but not log packages still see the
         * backups, without logs/. Once listed, a refusal fails the refresh
         * like any other error, so logs/ does not vanish on a passing fault. */
        if (rc == -EACCES && cold) {
            log_warn("cluster %s: no permission to list log packages", sn->cluster_id);
            rc = 0;
        } else if (!rc) {
            rc = parsed(listing_parse_logs(j, &l, &nl), "ListUMongoDBLogPackage");
        }
        cJSON_Delete(j);
    }
    if (!rc)
        rc = spec_cluster_dir(&(struct spec_owner){sn->region, sn->zone, sn->cluster_id},
                              sn->sharded, c->show_all, b, nb, l, nl, s, n);
    listing_free_backups(&b, nb);
    listing_free_logs(&l, nl);
    return rc;
}

/* The specs of sn's directory, named and sorted: all the work that needs no lock. */
static int fetch(struct catalog *c, const struct snap *sn, bool quick, bool cold, struct spec **s,
                 size_t *n)
{
    int rc;
    if (sn->kind == CAT_ROOT)
        rc = list_root(c, quick, s, n);
    else if (!sn->region)
        rc = -ENOMEM;
    else if (sn->kind == CAT_REGION)
        rc = list_region(c, sn->region, quick, s, n);
    else if (!sn->zone || !sn->cluster_id)
        rc = -ENOMEM;
    else
        rc = list_cluster(c, sn, quick, cold, s, n);
    return rc ? rc : spec_name_all(*s, *n, sn->kind == CAT_CLUSTER);
}

/* Frees what a refresh leaves behind, without the lock. A listing of a
 * million backups passes through 1.5 GB of parsed answer, and glibc keeps
 * freed memory in the heap of the thread that used it (each refresh thread
 * and FUSE thread has its own): without the trim the daemon would stay at
 * the peak of its biggest listing, once per thread. */
static void refresh_cleanup(struct spec *s, size_t n, struct node *evicted)
{
    tree_free_evicted(evicted);
    /* Counted before the specs go; trimmed after. */
    size_t total = n;
    for (size_t i = 0; s && i < n && total < CAT_TRIM_ENTRIES; i++)
        total += s[i].n_sub;
    specs_free(s, n);
#ifdef __GLIBC__
    if (total >= CAT_TRIM_ENTRIES)
        malloc_trim(0);
#endif
}

/* ---------- refreshing a directory (lock held, dropped meanwhile) ---------- */

static void snap_take(const struct node *d, struct snap *sn)
{
    *sn = (struct snap){.kind = (enum cat_kind)d->kind};
    if (d->kind == CAT_REGION)
        sn->region = xstrdup(d->id);
    if (d->kind == CAT_CLUSTER) {
        sn->region = xstrdup(d->parent->id);
        sn->zone = xstrdup(d->dir->zone);
        sn->cluster_id = xstrdup(d->id);
        sn->sharded = d->dir->sharded;
    }
}

static void snap_clear(struct snap *sn)
{
    free(sn->region);
    free(sn->zone);
    free(sn->cluster_id);
}

static bool is_stale(const struct catalog *c, const struct node *d, time_t now)
{
    return now - d->dir->listed_at >= (time_t)c->dir_ttl;
}

/* Tells the breaker how a call went; logs when it opens or closes. */
static void breaker_record(struct catalog *c, enum breaker_verdict v, int rc)
{
    enum breaker_outcome o = rc == -ETIMEDOUT ? BREAKER_NO_ANSWER
                             : rc == -ENOMEM  ? BREAKER_NEUTRAL
                                              : BREAKER_ANSWERED;
    switch (breaker_done(&c->breaker, v, o, mono_now())) {
    case BREAKER_OPENED:
        log_warn("the API did not answer %u calls in a row: listings not cached yet fail at "
                 "once (EIO) for %us at a time; cached listings are served",
                 c->breaker.failures, c->breaker.cooldown);
        break;
    case BREAKER_CLOSED:
        log_notice("the API answers again: listings are fetched as usual");
        break;
    default:
        break;
    }
}

/* Merges a fetched listing (or its failure) into d and wakes the waiters. */
static int refresh_done(struct catalog *c, struct node *d, int rc, struct spec *s, size_t n)
{
    time_t now = time(NULL);
    if (rc == 0) {
        struct cat_stat before[TREE_CHAIN_MAX];
        size_t n_before = tree_chain_stats(d, before);
        rc = tree_apply(&c->tree, d, s, n, now);
        d->dir->listed = true;
        d->dir->listed_at = now;
        if (rc == 0 && c->changed)
            tree_report_merge(d, before, n_before, c->changed, c->changed_ctx);
    }
    if (rc && d->dir->listed) {
        /* Stale beats failing: keep serving the old listing, retry soon. */
        log_warn("%s: listing refresh failed (%s); serving the previous listing", d->name,
                 strerror(-rc));
        time_t retry_in = c->dir_ttl < 5 ? c->dir_ttl : 5;
        d->dir->listed_at = now - (time_t)c->dir_ttl + retry_in;
        rc = 0;
    }
    d->dir->refreshing = false;
    d->dir->refresh_gen++;
    d->dir->refresh_err = rc;
    return rc;
}

/* Lists d, cold (a caller waits) or in the background. Called and returns
 * with the lock held; drops it for the calls. d may be freed meanwhile:
 * callers look their nodes up again by inode afterwards. */
static int refresh(struct catalog *c, struct node *d, bool cold, enum breaker_verdict v)
{
    struct snap sn;
    struct spec *s = NULL;
    size_t n = 0;
    uint64_t ino = d->ino;
    /* A stale listing to fall back on, or an API already not answering:
     * one attempt, no retry schedule. */
    bool quick = !cold || v == BREAKER_PROBE || breaker_suspect(&c->breaker);
    snap_take(d, &sn);
    d->dir->refreshing = true;
    pthread_mutex_unlock(&c->lock);

    int rc = fetch(c, &sn, quick, cold, &s, &n);

    pthread_mutex_lock(&c->lock);
    breaker_record(c, v, rc);
    if (rc == -ETIMEDOUT)
        rc = -EIO;
    d = tree_find(&c->tree, ino);
    rc = d ? refresh_done(c, d, rc, s, n) : -ENOENT;
    struct node *evicted = tree_take_evicted(&c->tree);
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    refresh_cleanup(s, n, evicted);
    snap_clear(&sn);
    pthread_mutex_lock(&c->lock);
    return rc;
}

/* ---------- background refreshes ---------- */

static void *worker_main(void *arg);

/* The number of refresh workers running in this process, starting them if
 * none is. Threads do not survive a fork: those of a parent are forgotten. */
static unsigned workers_running(struct catalog *c)
{
    if (c->n_workers && c->workers_pid == getpid())
        return c->n_workers;
    c->n_workers = 0;
    c->workers_pid = getpid();
    for (unsigned i = 0; i < CAT_WORKERS; i++)
        if (pthread_create(&c->workers[c->n_workers], NULL, worker_main, c) == 0)
            c->n_workers++;
    return c->n_workers;
}

/* Hands stale d to the workers unless it is on its way already. False when
 * no worker thread can run: the caller refreshes d itself then. */
static bool kick(struct catalog *c, struct node *d)
{
    struct dir *dd = d->dir;
    if (dd->refreshing || dd->queued || c->stopping ||
        !breaker_would_admit(&c->breaker, mono_now()))
        return true;
    if (!workers_running(c))
        return false;
    if (c->q_len == c->q_cap) {
        size_t ncap = c->q_cap ? c->q_cap * 2 : 64;
        uint64_t *q = malloc(ncap * sizeof(*q));
        if (!q)
            return true; /* served stale; the next access tries again */
        for (size_t i = 0; i < c->q_len; i++)
            q[i] = c->queue[(c->q_head + i) % c->q_cap];
        free(c->queue);
        c->queue = q;
        c->q_cap = ncap;
        c->q_head = 0;
    }
    c->queue[(c->q_head + c->q_len++) % c->q_cap] = d->ino;
    dd->queued = true;
    pthread_cond_signal(&c->work);
    return true;
}

/* One queued directory: refreshed if it still exists, is still stale and
 * the breaker lets the call through. Lock held. */
static void work_one(struct catalog *c, uint64_t ino)
{
    struct node *d = tree_find(&c->tree, ino);
    if (!d || !d->dir)
        return;
    d->dir->queued = false;
    if (d->gone || !d->dir->listed || d->dir->refreshing || !is_stale(c, d, time(NULL)))
        return;
    enum breaker_verdict v = breaker_admit(&c->breaker, mono_now());
    if (v == BREAKER_REFUSE)
        return;
    c->bg_running++;
    refresh(c, d, false, v);
    c->bg_running--;
}

static void *worker_main(void *arg)
{
    struct catalog *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stopping && c->q_len == 0)
            pthread_cond_wait(&c->work, &c->lock);
        if (c->stopping)
            break;
        uint64_t ino = c->queue[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
        work_one(c, ino);
        pthread_cond_broadcast(&c->refreshed); /* catalog_settle */
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---------- looking things up (lock held) ---------- */

/* The directory whose listing fills d: batch/oplog/logs are filled by their cluster. */
static struct node *listing_owner(struct node *d)
{
    return (d->kind == CAT_BATCH || d->kind == CAT_OPLOGDIR || d->kind == CAT_LOGSDIR) ? d->parent
                                                                                       : d;
}

/* d has never been listed (or came back after leaving its parent's
 * listing): list it now, or wait for whoever does, and share the result. */
static int list_cold(struct catalog *c, struct node *d)
{
    uint64_t ino = d->ino;
    unsigned gen = d->dir->refresh_gen;
    while (d->dir->refreshing) {
        pthread_cond_wait(&c->refreshed, &c->lock);
        if (!(d = tree_find(&c->tree, ino)))
            return -ENOENT;
        /* Someone else's listing: its answer is ours too, even a failure
         * (retrying in turn would multiply the time to an error). */
        if (d->dir->refresh_gen != gen)
            return d->dir->listed ? 0 : d->dir->refresh_err;
    }
    if (d->dir->listed)
        return 0;
    enum breaker_verdict v = breaker_admit(&c->breaker, mono_now());
    if (v == BREAKER_REFUSE)
        return -EIO; /* the API is not answering: say so now, not after a timeout */
    return refresh(c, d, true, v);
}

/* Makes sure *np's listing is there: served as it is when fresh or stale
 * (a stale one gets a background refresh), listed first when cold. *np is
 * looked up again afterwards: it may have gone, or been freed. */
static int ensure_listed(struct catalog *c, struct node **np)
{
    uint64_t ino = (*np)->ino;
    struct node *d = listing_owner(*np);
    uint64_t owner = d->ino;
    if ((*np)->gone || d->gone)
        return -ENOENT;
    int rc = 0;
    if (d->dir->listed && (!is_stale(c, d, time(NULL)) || kick(c, d)))
        return 0;
    if (d->dir->listed) /* no thread to hand it to: the old way, one attempt */
        rc = refresh(c, d, false, breaker_admit(&c->breaker, mono_now()));
    else
        rc = list_cold(c, d);
    *np = tree_find(&c->tree, ino);
    d = tree_find(&c->tree, owner);
    if (!rc && (!*np || !d || (*np)->gone || d->gone))
        rc = -ENOENT;
    return rc;
}

/* Walks path from the root, listing directories on the way. */
static int resolve(struct catalog *c, const char *path, struct node **out)
{
    struct node *n = c->tree.root;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (!n->dir)
            return -ENOTDIR;
        int rc = ensure_listed(c, &n);
        if (rc)
            return rc;
        struct node *k = tree_child(n, p, len);
        if (!k)
            return -ENOENT;
        n = k;
        p += len;
        while (*p == '/')
            p++;
    }
    if (n->gone)
        return -ENOENT;
    *out = n;
    return 0;
}

/* ---------- public ---------- */

static int copy_regions(struct catalog *c, const char *const *regions)
{
    size_t k = 0;
    while (regions[k])
        k++;
    c->regions = calloc(k + 1, sizeof(*c->regions));
    if (!c->regions)
        return -ENOMEM;
    for (size_t i = 0; i < k; i++)
        if (!(c->regions[i] = strdup(regions[i])))
            return -ENOMEM;
    return 0;
}

struct catalog *catalog_new(const struct catalog_opts *o)
{
    struct catalog *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->refreshed, NULL);
    pthread_cond_init(&c->work, NULL);
    c->src = o->source;
    c->dir_ttl = o->dir_ttl;
    c->show_all = o->show_all;
    c->changed = o->changed;
    c->changed_ctx = o->changed_ctx;
    c->mount_time = time(NULL);
    breaker_init(&c->breaker, o->breaker_failures ? o->breaker_failures : CAT_BREAKER_FAILURES,
                 o->breaker_cooldown ? o->breaker_cooldown : CAT_BREAKER_COOLDOWN);
    /* Long enough that an entry missing from one or two listings comes back
     * with its inode, whatever dir_ttl is. */
    time_t gone_ttl =
        2 * (time_t)o->dir_ttl > CAT_GONE_TTL_MIN ? 2 * (time_t)o->dir_ttl : CAT_GONE_TTL_MIN;
    if (o->gone_ttl)
        gone_ttl = o->gone_ttl;
    if ((o->regions && copy_regions(c, o->regions)) || tree_init(&c->tree, c->mount_time, gone_ttl))
        goto fail;
    return c;
fail:
    catalog_free(&c);
    return NULL;
}

void catalog_free(struct catalog **pc)
{
    struct catalog *c = *pc;
    if (!c)
        return;
    /* A worker in the middle of a call finishes it first (one attempt,
     * bounded by the source's timeout). */
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->work);
    unsigned n = c->workers_pid == getpid() ? c->n_workers : 0;
    pthread_mutex_unlock(&c->lock);
    for (unsigned i = 0; i < n; i++)
        pthread_join(c->workers[i], NULL);
    tree_free(&c->tree);
    free(c->queue);
    if (c->regions)
        for (char **r = c->regions; *r; r++)
            free(*r);
    free(c->regions);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->refreshed);
    pthread_cond_destroy(&c->work);
    free(c);
    *pc = NULL;
}

int catalog_stat(struct catalog *c, const char *path, struct cat_stat *st)
{
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc)
        tree_stat(n, st);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Copies d's entries out, so fill runs without the lock (it may block on the kernel). */
static int copy_entries(const struct node *d, char ***names, struct cat_stat **sts, size_t *n)
{
    *n = d->dir->n_kids;
    *names = calloc(*n + 1, sizeof(**names));
    *sts = calloc(*n + 1, sizeof(**sts));
    if (!*names || !*sts)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        tree_stat(d->dir->kids[i], &(*sts)[i]);
        if (!((*names)[i] = strdup(d->dir->kids[i]->name)))
            return -ENOMEM;
    }
    return 0;
}

int catalog_readdir(struct catalog *c, const char *path, catalog_fill_fn fill, void *ctx)
{
    pthread_mutex_lock(&c->lock);
    struct node *d;
    size_t n = 0;
    char **names = NULL;
    struct cat_stat *sts = NULL;
    int rc = resolve(c, path, &d);
    if (!rc && !d->dir)
        rc = -ENOTDIR;
    if (!rc)
        rc = ensure_listed(c, &d);
    if (!rc)
        rc = copy_entries(d, &names, &sts, &n);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; !rc && i < n; i++)
        if (fill(ctx, names[i], &sts[i]))
            break;
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(sts);
    return rc;
}

/* Copies n's identity into obj. */
static int object_copy(const struct node *n, struct cat_object *obj)
{
    const struct node *cl = tree_cluster_of(n);
    if (!cl)
        return -ENODATA;
    obj->ino = n->ino;
    obj->kind = (enum cat_kind)n->kind;
    obj->size = n->size;
    obj->size_verified = n->size_verified;
    obj->size_corrected = n->size_corrected;
    obj->readable = n->readable;
    obj->region = xstrdup(cl->parent->id);
    obj->zone = xstrdup(cl->dir->zone);
    obj->cluster_id = xstrdup(cl->id);
    obj->object_id = xstrdup(n->id);
    return !obj->region || !obj->zone || !obj->cluster_id || !obj->object_id ? -ENOMEM : 0;
}

/* want_cluster: the cluster directory at path, else the file at path. */
static int object_at(struct catalog *c, const char *path, struct cat_object *obj, bool want_cluster)
{
    memset(obj, 0, sizeof(*obj));
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc && want_cluster && n->kind != CAT_CLUSTER)
        rc = -ENODATA;
    else if (!rc && !want_cluster && n->dir)
        rc = -EISDIR;
    if (!rc)
        rc = object_copy(n, obj);
    pthread_mutex_unlock(&c->lock);
    if (rc)
        catalog_object_clear(obj);
    return rc;
}

int catalog_object(struct catalog *c, const char *path, struct cat_object *obj)
{
    return object_at(c, path, obj, false);
}

int catalog_cluster(struct catalog *c, const char *path, struct cat_object *obj)
{
    return object_at(c, path, obj, true);
}

void catalog_object_clear(struct cat_object *o)
{
    free(o->region);
    free(o->zone);
    free(o->cluster_id);
    free(o->object_id);
    memset(o, 0, sizeof(*o));
}

/* The file with inode ino, or NULL: a number the kernel still holds may
 * belong to a node freed since (tree.h). Lock held. */
static struct node *file_by_ino(struct catalog *c, uint64_t ino)
{
    struct node *n = tree_find(&c->tree, ino);
    return n && !n->dir ? n : NULL;
}

void catalog_set_size(struct catalog *c, uint64_t ino, uint64_t size)
{
    pthread_mutex_lock(&c->lock);
    struct node *n = file_by_ino(c, ino);
    if (n) {
        if (n->size != size) {
            log_info("%s: object store length %" PRIu64 " replaces the listed %" PRIu64, n->name,
                     size, n->size);
            n->size_corrected = true;
        }
        n->size = size;
        n->size_verified = true;
    }
    pthread_mutex_unlock(&c->lock);
}

bool catalog_object_seen(struct catalog *c, uint64_t ino, uint64_t size, const char *etag)
{
    bool same = false;
    pthread_mutex_lock(&c->lock);
    struct node *n = file_by_ino(c, ino);
    if (n) {
        /* Only a strong validator (an ETag, not "W/...") proves that bytes
         * cached at an earlier open are the object's: without one, "" equals
         * "" whatever changed. */
        bool strong = etag[0] && strncmp(etag, "W/", 2) != 0;
        same =
            strong && n->etag && n->size_verified && n->size == size && strcmp(n->etag, etag) == 0;
        char *e = same ? NULL : strdup(etag);
        if (e) {
            free(n->etag);
            n->etag = e;
        }
    }
    pthread_mutex_unlock(&c->lock);
    catalog_set_size(c, ino, size);
    return same;
}

int catalog_getxattr(struct catalog *c, const char *path, const char *name, char *buf, size_t size)
{
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc)
        rc = tree_getxattr(n, name, buf, size);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int catalog_listxattr(struct catalog *c, const char *path, char *buf, size_t size)
{
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc)
        rc = tree_listxattr(n, buf, size);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void catalog_invalidate(struct catalog *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; c->tree.slot && i <= c->tree.mask; i++)
        if (c->tree.slot[i] && c->tree.slot[i]->dir)
            c->tree.slot[i]->dir->listed_at = 0;
    pthread_mutex_unlock(&c->lock);
}

void catalog_settle(struct catalog *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->q_len || c->bg_running)
        pthread_cond_wait(&c->refreshed, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

void catalog_counts(struct catalog *c, struct catalog_counts *out)
{
    pthread_mutex_lock(&c->lock);
    out->nodes = c->tree.n_nodes;
    out->gone = c->tree.n_gone;
    out->api_down = c->breaker.open;
    pthread_mutex_unlock(&c->lock);
}
