/* catalog: the tree, its names and inodes, and the TTL cache of listings.
 *
 * Shape (README, "What it is"): root -> regions -> clusters -> backups, plus batch
 * directories (sharded clusters), oplog/ and logs/ inside a cluster. A
 * cluster listing (two API calls) fills the cluster and all the directories
 * below it at once, so those have no listing of their own.
 *
 * A refresh builds a list of "specs" (what the directory should hold) without
 * the lock, then merges it under the lock: children are matched to existing
 * nodes by key (the provider's id), so nodes, and with them inode numbers,
 * survive refreshes; names are recomputed by names_assign and children are
 * kept sorted by name for binary search.
 */
#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "listing.h"
#include "log.h"
#include "names.h"
#include "spec.h"

#define XATTR_PREFIX "user.umongofs."

struct node {
    uint64_t ino;
    enum cat_kind kind;
    struct node *parent;
    char *key;  /* identity within the parent: an id, or "oplog"/"logs" */
    char *name; /* current display name */
    bool gone;  /* left its listing; kept so the inode stays valid */

    /* directories */
    struct node **children; /* sorted by name */
    size_t n_children;
    struct node **gone_kids; /* children that left the listing, to revive by key */
    size_t n_gone;
    bool listed;
    bool refreshing;
    unsigned refresh_gen; /* counts finished refreshes */
    int refresh_err;      /* result of the last one */
    time_t listed_at;

    /* attributes */
    uint64_t size;
    bool size_verified;
    char *etag; /* as the store said at the last open, NULL before */
    bool readable;
    int64_t mtime;

    /* download / listing identity */
    char *region;
    char *zone;
    char *cluster_id;
    char *object_id;

    struct xattr *xattrs;
    size_t n_xattrs;
};

struct catalog {
    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    struct catalog_source src;
    unsigned dir_ttl;
    bool show_all;
    char **regions; /* NULL-terminated or NULL */
    int64_t mount_time;

    struct node **by_ino; /* by_ino[ino] */
    size_t n_ino, cap_ino;
    struct node *root;
};

/* ---------- small helpers ---------- */

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool is_dir_kind(enum cat_kind k)
{
    return k == CAT_ROOT || k == CAT_REGION || k == CAT_CLUSTER || k == CAT_BATCH ||
           k == CAT_OPLOGDIR || k == CAT_LOGSDIR;
}

/* ---------- nodes ---------- */

static struct node *node_new(struct catalog *c, enum cat_kind kind, struct node *parent)
{
    if (c->n_ino >= c->cap_ino) {
        size_t ncap = c->cap_ino ? c->cap_ino * 2 : 256;
        struct node **t = realloc(c->by_ino, ncap * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + c->cap_ino, 0, (ncap - c->cap_ino) * sizeof(*t));
        c->by_ino = t;
        c->cap_ino = ncap;
    }
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->ino = c->n_ino;
    n->kind = kind;
    n->parent = parent;
    n->readable = true;
    c->by_ino[c->n_ino++] = n;
    return n;
}

static void node_free(struct node *n)
{
    free(n->key);
    free(n->name);
    free(n->children);
    free(n->gone_kids);
    free(n->etag);
    free(n->region);
    free(n->zone);
    free(n->cluster_id);
    free(n->object_id);
    xattrs_free(n->xattrs, n->n_xattrs);
    free(n);
}

static void node_stat(const struct node *n, struct cat_stat *st)
{
    st->ino = n->ino;
    st->kind = n->kind;
    st->is_dir = is_dir_kind(n->kind);
    st->readable = n->readable;
    st->size = st->is_dir ? 0 : n->size;
    st->mtime = n->mtime;
    unsigned subdirs = 0;
    for (size_t i = 0; i < n->n_children; i++)
        subdirs += is_dir_kind(n->children[i]->kind);
    st->nlink = st->is_dir ? 2 + subdirs : 1;
}

static int cmp_child_name(const void *a, const void *b)
{
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    return strcmp(x->name, y->name);
}

static struct node *child_by_name(const struct node *dir, const char *name, size_t len)
{
    size_t lo = 0, hi = dir->n_children;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mn = dir->children[mid]->name;
        int r = strncmp(name, mn, len);
        if (r == 0)
            r = mn[len] == '\0' ? 0 : -1;
        if (r == 0)
            return dir->children[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* A listed directory shows its newest child's time; after d's children
 * changed, recompute d and its ancestors (their newest child may be d). */
static void update_dir_times(struct node *d)
{
    for (; d && d->n_children; d = d->parent) {
        int64_t newest = 0;
        for (size_t i = 0; i < d->n_children; i++)
            if (d->children[i]->mtime > newest)
                newest = d->children[i]->mtime;
        d->mtime = newest;
    }
}

/* ---------- merge a spec list into a directory (lock held) ---------- */

/* n left its parent's listing. It keeps its inode (and its own children,
 * so a directory that comes back revives theirs too) until the parent lists
 * it again. */
static int mark_gone(struct node *parent, struct node *n)
{
    struct node **t = realloc(parent->gone_kids, (parent->n_gone + 1) * sizeof(*t));
    if (!t)
        return -ENOMEM;
    parent->gone_kids = t;
    t[parent->n_gone++] = n;
    n->gone = true;
    n->listed = false;
    return 0;
}

/* A child that left dir's listing earlier and now comes back, or NULL. */
static struct node *revive(struct node *dir, const char *key, enum cat_kind kind)
{
    for (size_t i = 0; i < dir->n_gone; i++) {
        struct node *g = dir->gone_kids[i];
        if (g->kind == kind && strcmp(g->key, key) == 0) {
            dir->gone_kids[i] = dir->gone_kids[--dir->n_gone];
            return g;
        }
    }
    return NULL;
}

static int cmp_node_key(const void *a, const void *b)
{
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    return strcmp(x->key, y->key);
}

/* Moves the attributes of s into n (s keeps its key, name and subs). */
static void node_take_spec(struct node *n, struct spec *s)
{
#define TAKE(f)                                                                                    \
    do {                                                                                           \
        free(n->f);                                                                                \
        n->f = s->f;                                                                               \
        s->f = NULL;                                                                               \
    } while (0)
    TAKE(region);
    TAKE(zone);
    TAKE(cluster_id);
    TAKE(object_id);
#undef TAKE
    xattrs_free(n->xattrs, n->n_xattrs);
    n->xattrs = s->xattrs;
    n->n_xattrs = s->n_xattrs;
    s->xattrs = NULL;
    s->n_xattrs = 0;
    if (!n->size_verified)
        n->size = s->size;
    n->readable = s->readable;
    /* A directory that has been listed shows its newest child's time. */
    if (!(is_dir_kind(n->kind) && n->n_children))
        n->mtime = s->mtime;
}

/* Gives every spec its final name (names[i], malloc'd). */
static int assign_names(const struct node *dir, const struct spec *specs, size_t n, char **names)
{
    static const char *const cluster_reserved[] = {"oplog", "logs", NULL};
    const char **raw = calloc(n + 1, sizeof(*raw));
    const char **ids = calloc(n + 1, sizeof(*ids));
    size_t *idx = calloc(n + 1, sizeof(*idx));
    char **assigned = calloc(n + 1, sizeof(*assigned));
    int rc = -ENOMEM;
    if (!raw || !ids || !idx || !assigned)
        goto out;
    /* oplog/ and logs/ keep their plain names; entries named like them get
     * the id suffix (they are reserved in every cluster directory). */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (specs[i].kind == CAT_OPLOGDIR || specs[i].kind == CAT_LOGSDIR) {
            names[i] = strdup(specs[i].kind == CAT_OPLOGDIR ? "oplog" : "logs");
            if (!names[i])
                goto out;
            continue;
        }
        raw[m] = specs[i].raw_name;
        ids[m] = specs[i].id;
        idx[m++] = i;
    }
    rc = names_assign(raw, ids, m, dir->kind == CAT_CLUSTER ? cluster_reserved : NULL, assigned);
    if (rc == 0)
        for (size_t k = 0; k < m; k++)
            names[idx[k]] = assigned[k];
out:
    free(raw);
    free(ids);
    free(idx);
    free(assigned);
    return rc;
}

static int apply_specs(struct catalog *c, struct node *dir, struct spec *specs, size_t n,
                       time_t now)
{
    int rc = -ENOMEM;
    struct node **kids = calloc(n + 1, sizeof(*kids));
    char **names = calloc(n + 1, sizeof(*names));
    size_t n_old = dir->n_children;
    struct node **old = malloc((n_old + 1) * sizeof(*old));
    bool *used = calloc(n_old + 1, sizeof(*used));
    if (!kids || !names || !old || !used)
        goto out;
    rc = assign_names(dir, specs, n, names);
    if (rc)
        goto out;
    rc = -ENOMEM;

    /* Match by key against the current children so nodes (and inodes) survive. */
    if (n_old) {
        memcpy(old, dir->children, n_old * sizeof(*old));
        qsort(old, n_old, sizeof(*old), cmp_node_key);
    }
    for (size_t i = 0; i < n; i++) {
        struct node *k = NULL;
        struct node probe = {.key = specs[i].key}, *pp = &probe;
        struct node **hit = n_old ? bsearch(&pp, old, n_old, sizeof(*old), cmp_node_key) : NULL;
        if (hit && !used[hit - old] && (*hit)->kind == specs[i].kind) {
            k = *hit;
            used[hit - old] = true;
        } else if ((k = revive(dir, specs[i].key, specs[i].kind)) != NULL) {
            /* back in the listing: same node, same inode */
        } else {
            k = node_new(c, specs[i].kind, dir);
            if (!k)
                goto out;
            k->key = specs[i].key;
            specs[i].key = NULL;
        }
        k->gone = false;
        free(k->name);
        k->name = names[i];
        names[i] = NULL;
        node_take_spec(k, &specs[i]);
        kids[i] = k;
        if (is_dir_kind(k->kind) && k->kind != CAT_REGION && k->kind != CAT_CLUSTER) {
            /* batch/oplog/logs: filled by this same listing */
            rc = apply_specs(c, k, specs[i].sub, specs[i].n_sub, now);
            if (rc)
                goto out;
            rc = -ENOMEM;
            k->listed = true;
            k->listed_at = now;
        }
    }
    for (size_t i = 0; i < n_old; i++)
        if (!used[i] && mark_gone(dir, old[i]) != 0)
            goto out;

    qsort(kids, n, sizeof(*kids), cmp_child_name);
    free(dir->children);
    dir->children = kids;
    dir->n_children = n;
    kids = NULL;
    update_dir_times(dir);
    rc = 0;
out:
    if (names)
        for (size_t i = 0; i < n; i++)
            free(names[i]);
    free(names);
    free(old);
    free(used);
    free(kids);
    return rc;
}

/* ---------- building specs from listings (no lock) ---------- */

static int call_source(struct catalog *c, const char *action, const struct api_param *p, size_t n,
                       bool quick, cJSON **out)
{
    return c->src.call(c->src.ctx, action, p, n, quick, out);
}

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
    int rc = call_source(c, "GetRegion", NULL, 0, quick, &j);
    if (!rc)
        rc = parsed(listing_parse_regions(j, &r, &n), "GetRegion");
    if (!rc)
        rc = spec_regions(r, n, (const char *const *)c->regions, c->mount_time, out, n_out);
    listing_free_regions(&r, n);
    cJSON_Delete(j);
    return rc;
}

static int list_region(struct catalog *c, const char *region, bool quick, struct spec **out,
                       size_t *n_out)
{
    cJSON *j = NULL;
    struct listing_cluster *l = NULL;
    size_t n = 0;
    struct api_param p[] = {{"Region", region}};
    int rc = call_source(c, "ListUMongoDBInstances", p, 1, quick, &j);
    if (!rc)
        rc = parsed(listing_parse_clusters(j, &l, &n), "ListUMongoDBInstances");
    if (!rc)
        rc = spec_clusters(region, l, n, c->mount_time, out, n_out);
    listing_free_clusters(&l, n);
    cJSON_Delete(j);
    return rc;
}

/* ---------- refresh (takes and drops the lock) ---------- */

/* The directory whose listing fills d: batch/oplog/logs are filled by their cluster. */
static struct node *listing_owner(struct node *d)
{
    return (d->kind == CAT_BATCH || d->kind == CAT_OPLOGDIR || d->kind == CAT_LOGSDIR) ? d->parent
                                                                                       : d;
}

static int fetch_cluster(struct catalog *c, const struct node *snap, bool sharded, bool cold,
                         struct spec **s, size_t *n)
{
    struct api_param p[] = {
        {"Region", snap->region}, {"Zone", snap->zone}, {"ClusterId", snap->cluster_id}};
    cJSON *jb = NULL, *jl = NULL;
    struct listing_backup *b = NULL;
    struct listing_log *l = NULL;
    size_t nb = 0, nl = 0;
    int rc = call_source(c, "ListUMongoDBBackup", p, 3, !cold, &jb);
    if (!rc)
        rc = parsed(listing_parse_backups(jb, &b, &nb), "ListUMongoDBBackup");
    if (!rc) {
        rc = call_source(c, "ListUMongoDBLogPackage", p, 3, !cold, &jl);
        /* Keys allowed to list backups but not log packages still see the
         * backups, without logs/. Once listed, a refusal fails the refresh
         * like any other error, so logs/ does not vanish on a passing fault. */
        if (rc == -EACCES && cold) {
            log_warn("cluster %s: no permission to list log packages", snap->cluster_id);
            rc = 0;
        } else if (!rc) {
            rc = parsed(listing_parse_logs(jl, &l, &nl), "ListUMongoDBLogPackage");
        }
    }
    if (!rc)
        rc = spec_cluster_dir(&(struct spec_owner){snap->region, snap->zone, snap->cluster_id},
                              sharded, c->show_all, b, nb, l, nl, s, n);
    listing_free_backups(&b, nb);
    listing_free_logs(&l, nl);
    cJSON_Delete(jb);
    cJSON_Delete(jl);
    return rc;
}

static bool xattr_is(const struct node *n, const char *name, const char *value)
{
    for (size_t i = 0; i < n->n_xattrs; i++)
        if (strcmp(n->xattrs[i].name, name) == 0)
            return strcmp(n->xattrs[i].value, value) == 0;
    return false;
}

/* Makes sure d's listing is fresh. Called and returns with c->lock held; drops
 * it while talking to the API. Serves the old listing when a refresh fails. */
static int ensure_listed(struct catalog *c, struct node *d)
{
    d = listing_owner(d);
    bool waited = false;
    unsigned gen = d->refresh_gen;
    while (d->refreshing) {
        waited = true;
        pthread_cond_wait(&c->refreshed, &c->lock);
    }
    if (d->gone)
        return -ENOENT;
    /* We waited for someone else's refresh: its answer is ours too, even a
     * failure (retrying in turn would multiply the time to an error). */
    if (waited && d->refresh_gen != gen && d->refresh_err)
        return d->refresh_err;
    time_t now = time(NULL);
    if (d->listed && (now - d->listed_at < (time_t)c->dir_ttl || (waited && d->refresh_gen != gen)))
        return 0;

    d->refreshing = true;
    /* Copy what the calls need: the node's strings may be replaced meanwhile. */
    struct node snap = {.kind = d->kind,
                        .region = xstrdup(d->region),
                        .zone = xstrdup(d->zone),
                        .cluster_id = xstrdup(d->cluster_id)};
    bool sharded = xattr_is(d, "cluster_type", "SharedCluster");
    bool cold = !d->listed;
    pthread_mutex_unlock(&c->lock);

    struct spec *s = NULL;
    size_t n = 0;
    int rc;
    if (d->kind == CAT_ROOT)
        rc = list_root(c, !cold, &s, &n);
    else if (d->kind == CAT_REGION)
        rc = snap.region ? list_region(c, snap.region, !cold, &s, &n) : -ENOMEM;
    else
        rc = (snap.region && snap.zone && snap.cluster_id)
                 ? fetch_cluster(c, &snap, sharded, cold, &s, &n)
                 : -ENOMEM;
    free(snap.region);
    free(snap.zone);
    free(snap.cluster_id);

    pthread_mutex_lock(&c->lock);
    now = time(NULL);
    if (rc == 0) {
        rc = apply_specs(c, d, s, n, now);
        if (rc == 0) {
            d->listed = true;
            d->listed_at = now;
        }
    }
    if (rc && d->listed) {
        /* Stale beats failing: keep serving the old listing, retry soon. */
        log_warn("listing refresh failed (%s); serving the previous listing", strerror(-rc));
        time_t retry_in = c->dir_ttl < 5 ? c->dir_ttl : 5;
        d->listed_at = now - (time_t)c->dir_ttl + retry_in;
        rc = 0;
    }
    d->refreshing = false;
    d->refresh_gen++;
    d->refresh_err = rc;
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    specs_free(s, n);
    pthread_mutex_lock(&c->lock);
    return rc;
}

/* Walks path from the root, listing directories on the way. Lock held. */
static int resolve(struct catalog *c, const char *path, struct node **out)
{
    struct node *n = c->root;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (!is_dir_kind(n->kind))
            return -ENOTDIR;
        int rc = ensure_listed(c, n);
        if (rc)
            return rc;
        struct node *k = child_by_name(n, p, len);
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

struct catalog *catalog_new(const struct catalog_opts *o)
{
    struct catalog *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->refreshed, NULL);
    c->src = o->source;
    c->dir_ttl = o->dir_ttl;
    c->show_all = o->show_all;
    c->mount_time = time(NULL);
    c->n_ino = 1; /* inode 0 is never used; the root is 1 */
    if (o->regions) {
        size_t k = 0;
        while (o->regions[k])
            k++;
        c->regions = calloc(k + 1, sizeof(*c->regions));
        for (size_t i = 0; c->regions && i < k; i++)
            if (!(c->regions[i] = strdup(o->regions[i])))
                goto fail;
        if (!c->regions)
            goto fail;
    }
    c->root = node_new(c, CAT_ROOT, NULL);
    if (!c->root)
        goto fail;
    c->root->key = strdup("/");
    c->root->name = strdup("/");
    c->root->mtime = c->mount_time;
    if (!c->root->key || !c->root->name)
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
    for (size_t i = 1; i < c->n_ino; i++)
        node_free(c->by_ino[i]);
    free(c->by_ino);
    if (c->regions)
        for (char **r = c->regions; *r; r++)
            free(*r);
    free(c->regions);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->refreshed);
    free(c);
    *pc = NULL;
}

int catalog_stat(struct catalog *c, const char *path, struct cat_stat *st)
{
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc)
        node_stat(n, st);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int catalog_readdir(struct catalog *c, const char *path, catalog_fill_fn fill, void *ctx)
{
    pthread_mutex_lock(&c->lock);
    struct node *d;
    int rc = resolve(c, path, &d);
    if (!rc && !is_dir_kind(d->kind))
        rc = -ENOTDIR;
    if (!rc)
        rc = ensure_listed(c, d);
    size_t n = 0;
    char **names = NULL;
    struct cat_stat *sts = NULL;
    if (!rc) {
        /* Copy out, then call fill without the lock (it may block on the kernel). */
        n = d->n_children;
        names = calloc(n + 1, sizeof(*names));
        sts = calloc(n + 1, sizeof(*sts));
        if (!names || !sts)
            rc = -ENOMEM;
        for (size_t i = 0; !rc && i < n; i++) {
            names[i] = strdup(d->children[i]->name);
            node_stat(d->children[i], &sts[i]);
            if (!names[i])
                rc = -ENOMEM;
        }
    }
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

/* Copies n's identity into obj. Lock held. */
static int object_copy(const struct node *n, struct cat_object *obj)
{
    obj->ino = n->ino;
    obj->kind = n->kind;
    obj->size = n->size;
    obj->size_verified = n->size_verified;
    obj->readable = n->readable;
    obj->region = xstrdup(n->region);
    obj->zone = xstrdup(n->zone);
    obj->cluster_id = xstrdup(n->cluster_id);
    obj->object_id = xstrdup(n->object_id ? n->object_id : n->cluster_id);
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
    else if (!rc && !want_cluster && is_dir_kind(n->kind))
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

void catalog_set_size(struct catalog *c, uint64_t ino, uint64_t size)
{
    pthread_mutex_lock(&c->lock);
    if (ino > 0 && ino < c->n_ino && !is_dir_kind(c->by_ino[ino]->kind)) {
        struct node *n = c->by_ino[ino];
        if (n->size != size)
            log_info("%s: object store length %" PRIu64 " replaces the listed %" PRIu64, n->name,
                     size, n->size);
        n->size = size;
        n->size_verified = true;
    }
    pthread_mutex_unlock(&c->lock);
}

bool catalog_object_seen(struct catalog *c, uint64_t ino, uint64_t size, const char *etag)
{
    bool same = false;
    pthread_mutex_lock(&c->lock);
    if (ino > 0 && ino < c->n_ino && !is_dir_kind(c->by_ino[ino]->kind)) {
        struct node *n = c->by_ino[ino];
        same = n->etag && n->size_verified && n->size == size && strcmp(n->etag, etag) == 0;
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
    if (!rc) {
        rc = -ENODATA;
        size_t plen = strlen(XATTR_PREFIX);
        for (size_t i = 0; strncmp(name, XATTR_PREFIX, plen) == 0 && i < n->n_xattrs; i++) {
            if (strcmp(name + plen, n->xattrs[i].name) != 0)
                continue;
            size_t len = strlen(n->xattrs[i].value);
            if (size == 0)
                rc = (int)len;
            else if (len > size)
                rc = -ERANGE;
            else {
                memcpy(buf, n->xattrs[i].value, len);
                rc = (int)len;
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int catalog_listxattr(struct catalog *c, const char *path, char *buf, size_t size)
{
    pthread_mutex_lock(&c->lock);
    struct node *n;
    int rc = resolve(c, path, &n);
    if (!rc) {
        size_t total = 0;
        for (size_t i = 0; i < n->n_xattrs; i++)
            total += strlen(XATTR_PREFIX) + strlen(n->xattrs[i].name) + 1;
        if (size == 0) {
            rc = (int)total;
        } else if (total > size) {
            rc = -ERANGE;
        } else {
            char *w = buf;
            for (size_t i = 0; i < n->n_xattrs; i++)
                w += sprintf(w, "%s%s", XATTR_PREFIX, n->xattrs[i].name) + 1;
            rc = (int)total;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void catalog_invalidate(struct catalog *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 1; i < c->n_ino; i++)
        c->by_ino[i]->listed_at = 0;
    pthread_mutex_unlock(&c->lock);
}
