/* spec: listings -> what each directory should hold. See spec.h. */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Keys carry their kind ("b:", "l:", ...) so ids of different kinds never meet. */
static char *make_key(const char *prefix, const char *id)
{
    char *k = NULL;
    return asprintf(&k, "%s%s", prefix, id) < 0 ? NULL : k;
}

void xattrs_free(struct xattr *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(x[i].name);
        free(x[i].value);
    }
    free(x);
}

void spec_clear(struct spec *s)
{
    free(s->key);
    free(s->raw_name);
    free(s->id);
    free(s->region);
    free(s->zone);
    free(s->cluster_id);
    free(s->object_id);
    xattrs_free(s->xattrs, s->n_xattrs);
    for (size_t i = 0; i < s->n_sub; i++)
        spec_clear(&s->sub[i]);
    free(s->sub);
    memset(s, 0, sizeof(*s));
}

void specs_free(struct spec *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        spec_clear(&s[i]);
    free(s);
}

/* Adds an xattr when value is non-NULL. Returns -ENOMEM on failure. */
static int spec_xattr(struct spec *s, const char *name, const char *value)
{
    if (!value)
        return 0;
    struct xattr *x = realloc(s->xattrs, (s->n_xattrs + 1) * sizeof(*x));
    if (!x)
        return -ENOMEM;
    s->xattrs = x;
    x[s->n_xattrs].name = strdup(name);
    x[s->n_xattrs].value = strdup(value);
    s->n_xattrs++;
    if (!x[s->n_xattrs - 1].name || !x[s->n_xattrs - 1].value)
        return -ENOMEM;
    return 0;
}

static int spec_xattr_int(struct spec *s, const char *name, int64_t v)
{
    if (v < 0)
        return 0;
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    return spec_xattr(s, name, tmp);
}

/* A connection address as the listing gives it may carry "user:password@"
 * (mongodb://root:pw@host:27017/admin). The xattr shows it without: a
 * password has no business in getfattr output or a file manager. */
char *spec_strip_userinfo(const char *url)
{
    if (!url)
        return NULL;
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    char *out = NULL;
    if (!at)
        return strdup(url);
    if (asprintf(&out, "%.*s%s", (int)(auth - url), url, at + 1) < 0)
        return NULL;
    return out;
}

/* Adds a connection address without its credentials. */
static int spec_xattr_url(struct spec *s, const char *name, const char *url)
{
    if (!url || !*url)
        return 0;
    char *clean = spec_strip_userinfo(url);
    int rc = clean ? spec_xattr(s, name, clean) : -ENOMEM;
    free(clean);
    return rc;
}

static int64_t pick_time(int64_t a, int64_t b, int64_t c)
{
    /* 0 counts as missing too: the provider sends it for unfinished runs. */
    return a > 0 ? a : b > 0 ? b : c > 0 ? c : 0;
}

static int cmp_spec_key(const void *a, const void *b)
{
    return strcmp(((const struct spec *)a)->key, ((const struct spec *)b)->key);
}

/* The provider may list an id twice; one entry per key survives. */
static size_t dedupe_specs(struct spec *s, size_t n)
{
    if (n < 2)
        return n;
    qsort(s, n, sizeof(*s), cmp_spec_key);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(s[i].key, s[w - 1].key) == 0) {
            log_warn("listing repeats id %s; keeping the first", s[i].key);
            spec_clear(&s[i]);
            continue;
        }
        if (w != i) {
            s[w] = s[i];
            memset(&s[i], 0, sizeof(s[i]));
        }
        w++;
    }
    return w;
}

static bool region_wanted(const char *const *filter, const char *region)
{
    if (!filter)
        return true;
    for (const char *const *r = filter; *r; r++)
        if (strcmp(*r, region) == 0)
            return true;
    return false;
}

/* The strings every file spec carries: its name, the id for the collision
 * suffix and the download, and its cluster. 0 or -ENOMEM. */
static int file_identity(struct spec *e, const char *raw, const char *id,
                         const struct spec_owner *cl)
{
    e->raw_name = xstrdup(raw);
    e->id = strdup(id);
    e->object_id = strdup(id);
    e->region = xstrdup(cl->region);
    e->zone = xstrdup(cl->zone);
    e->cluster_id = xstrdup(cl->cluster_id);
    return (raw && !e->raw_name) || !e->id || !e->object_id || !e->region || !e->zone ||
                   !e->cluster_id
               ? -ENOMEM
               : 0;
}

static int backup_spec(struct spec *e, const struct listing_backup *b, const struct spec_owner *cl,
                       bool in_batch)
{
    bool oplog = b->type && strcmp(b->type, "oplog") == 0;
    e->kind = oplog ? CAT_OPLOG : CAT_BACKUP;
    e->key = make_key("b:", b->backup_id);
    /* Inside a batch every file shares the BackupName: the replica set tells them apart. */
    const char *raw = in_batch && b->virtual_cluster_id ? b->virtual_cluster_id : b->name;
    e->readable = b->state && strcmp(b->state, "Success") == 0;
    e->size = e->readable && b->size > 0 ? (uint64_t)b->size : 0;
    e->mtime = pick_time(b->end_time, b->start_time, -1);
    if (!e->key || file_identity(e, raw, b->backup_id, cl))
        return -ENOMEM;
    if (spec_xattr(e, "backup_id", b->backup_id) || spec_xattr(e, "cluster_id", cl->cluster_id) ||
        spec_xattr(e, "name", b->name ? b->name : "") ||
        spec_xattr(e, "zone", b->zone ? b->zone : cl->zone) || spec_xattr(e, "type", b->type) ||
        spec_xattr(e, "state", b->state) || spec_xattr_int(e, "start_time", b->start_time) ||
        spec_xattr_int(e, "end_time", b->end_time) ||
        spec_xattr(e, "batch_id", b->batch_id && *b->batch_id ? b->batch_id : NULL) ||
        spec_xattr(e, "replica_type", b->replica_type) ||
        spec_xattr(e, "virtual_cluster_id", b->virtual_cluster_id) ||
        spec_xattr(e, "backup_method", b->method) || spec_xattr_int(e, "disk_size", b->disk_size))
        return -ENOMEM;
    return 0;
}

static int log_spec(struct spec *e, const struct listing_log *l, const struct spec_owner *cl)
{
    e->kind = CAT_LOG;
    e->key = make_key("l:", l->package_id);
    e->readable = l->state && strcmp(l->state, "Package_Success") == 0;
    e->size = e->readable && l->size > 0 ? (uint64_t)l->size : 0;
    e->mtime = pick_time(l->finish_time, l->end, l->create_time);
    if (!e->key || file_identity(e, l->name, l->package_id, cl))
        return -ENOMEM;
    if (spec_xattr(e, "package_id", l->package_id) || spec_xattr(e, "name", l->name) ||
        spec_xattr(e, "package_type", l->package_type) || spec_xattr(e, "node_id", l->node_id) ||
        spec_xattr(e, "role", l->role) || spec_xattr(e, "state", l->state) ||
        spec_xattr(e, "cluster_id", cl->cluster_id))
        return -ENOMEM;
    return 0;
}

/* A directory spec (batch, oplog, logs) whose children are subs. */
static struct spec *dir_spec(struct spec *s, size_t *m, enum cat_kind kind, const char *id,
                             const char *raw_name, const struct spec_owner *cl)
{
    struct spec *e = &s[(*m)++];
    e->kind = kind;
    e->key = make_key(kind == CAT_BATCH ? "batch:" : ":", id);
    e->raw_name = xstrdup(raw_name);
    e->id = strdup(id);
    e->region = xstrdup(cl->region);
    e->zone = xstrdup(cl->zone);
    e->cluster_id = xstrdup(cl->cluster_id);
    e->readable = true;
    if (!e->key || !e->id || (raw_name && !e->raw_name))
        return NULL;
    return e;
}

static int add_sub(struct spec *dir, struct spec **slot)
{
    struct spec *t = realloc(dir->sub, (dir->n_sub + 1) * sizeof(*t));
    if (!t)
        return -ENOMEM;
    dir->sub = t;
    memset(&t[dir->n_sub], 0, sizeof(*t));
    *slot = &t[dir->n_sub++];
    return 0;
}

static int cmp_backup_batch(const void *a, const void *b)
{
    const struct listing_backup *x = *(const struct listing_backup *const *)a;
    const struct listing_backup *y = *(const struct listing_backup *const *)b;
    int r = strcmp(x->batch_id, y->batch_id);
    return r ? r : strcmp(x->backup_id, y->backup_id);
}

/* Turns a cluster's backups and log packages into the specs of the cluster
 * directory: plain backups, batch directories, oplog/ and logs/. */
int spec_cluster_dir(const struct spec_owner *cl, bool sharded, bool show_all,
                     const struct listing_backup *b, size_t nb, const struct listing_log *l,
                     size_t nl, struct spec **out, size_t *n_out)
{
    int rc = -ENOMEM;
    size_t m = 0;
    struct spec *s = calloc(nb + 3, sizeof(*s));
    const struct listing_backup **batched = calloc(nb + 1, sizeof(*batched));
    struct spec *oplog = NULL, *logs = NULL, *slot;
    size_t n_batched = 0;
    if (!s || !batched)
        goto out;
    for (size_t i = 0; i < nb; i++) {
        bool ok = b[i].state && strcmp(b[i].state, "Success") == 0;
        if (!ok && !show_all)
            continue;
        bool is_oplog = b[i].type && strcmp(b[i].type, "oplog") == 0;
        if (is_oplog) {
            if (!oplog && !(oplog = dir_spec(s, &m, CAT_OPLOGDIR, "oplog", "oplog", cl)))
                goto out;
            if (add_sub(oplog, &slot) || backup_spec(slot, &b[i], cl, false))
                goto out;
            if (slot->mtime > oplog->mtime)
                oplog->mtime = slot->mtime;
        } else if (sharded && b[i].batch_id && *b[i].batch_id) {
            batched[n_batched++] = &b[i];
        } else if (backup_spec(&s[m++], &b[i], cl, false)) {
            goto out;
        }
    }
    /* Group the sharded backups by BatchId: one directory per backup run. */
    qsort(batched, n_batched, sizeof(*batched), cmp_backup_batch);
    for (size_t i = 0; i < n_batched;) {
        size_t j = i;
        while (j < n_batched && strcmp(batched[j]->batch_id, batched[i]->batch_id) == 0)
            j++;
        const char *bname = NULL;
        for (size_t k = i; k < j && !bname; k++)
            if (batched[k]->name && *batched[k]->name)
                bname = batched[k]->name;
        struct spec *d = dir_spec(s, &m, CAT_BATCH, batched[i]->batch_id, bname, cl);
        if (!d || spec_xattr(d, "batch_id", batched[i]->batch_id) ||
            spec_xattr(d, "cluster_id", cl->cluster_id) || spec_xattr(d, "name", bname))
            goto out;
        for (size_t k = i; k < j; k++) {
            if (add_sub(d, &slot) || backup_spec(slot, batched[k], cl, true))
                goto out;
            if (slot->mtime > d->mtime)
                d->mtime = slot->mtime;
        }
        d->n_sub = dedupe_specs(d->sub, d->n_sub);
        i = j;
    }
    for (size_t i = 0; i < nl; i++) {
        bool ok = l[i].state && strcmp(l[i].state, "Package_Success") == 0;
        if (!ok && !show_all)
            continue;
        if (!logs && !(logs = dir_spec(s, &m, CAT_LOGSDIR, "logs", "logs", cl)))
            goto out;
        if (add_sub(logs, &slot) || log_spec(slot, &l[i], cl))
            goto out;
        if (slot->mtime > logs->mtime)
            logs->mtime = slot->mtime;
    }
    if (oplog)
        oplog->n_sub = dedupe_specs(oplog->sub, oplog->n_sub);
    if (logs)
        logs->n_sub = dedupe_specs(logs->sub, logs->n_sub);
    *out = s;
    *n_out = dedupe_specs(s, m);
    s = NULL;
    rc = 0;
out:
    specs_free(s, m);
    free(batched);
    return rc;
}

int spec_regions(const struct listing_region *r, size_t n, const char *const *filter,
                 int64_t fallback_time, struct spec **out, size_t *n_out)
{
    size_t m = 0;
    struct spec *s = calloc(n + 1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!region_wanted(filter, r[i].region))
            continue;
        bool dup = false;
        for (size_t k = 0; k < m && !dup; k++)
            dup = strcmp(s[k].region, r[i].region) == 0;
        if (dup)
            continue; /* GetRegion answers once per zone */
        struct spec *e = &s[m++];
        e->kind = CAT_REGION;
        e->key = make_key("r:", r[i].region);
        e->raw_name = strdup(r[i].region);
        e->id = strdup(r[i].region);
        e->region = strdup(r[i].region);
        e->readable = true;
        e->mtime = fallback_time;
        if (!e->key || !e->raw_name || !e->id || !e->region ||
            spec_xattr(e, "region", r[i].region)) {
            specs_free(s, m);
            return -ENOMEM;
        }
    }
    *out = s;
    *n_out = m;
    return 0;
}

int spec_clusters(const char *region, const struct listing_cluster *l, size_t n,
                  int64_t fallback_time, struct spec **out, size_t *n_out)
{
    size_t m = 0;
    struct spec *s = calloc(n + 1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].zone) {
            log_warn("cluster %s has no Zone; skipped", l[i].cluster_id);
            continue;
        }
        struct spec *e = &s[m++];
        e->kind = CAT_CLUSTER;
        e->key = make_key("c:", l[i].cluster_id);
        e->raw_name = xstrdup(l[i].name);
        e->id = strdup(l[i].cluster_id);
        e->region = strdup(region);
        e->zone = strdup(l[i].zone);
        e->cluster_id = strdup(l[i].cluster_id);
        e->readable = true;
        e->mtime = pick_time(l[i].create_time, -1, fallback_time);
        if (!e->key || !e->id || !e->region || !e->zone || !e->cluster_id ||
            (l[i].name && !e->raw_name) || spec_xattr(e, "cluster_id", l[i].cluster_id) ||
            spec_xattr(e, "name", l[i].name ? l[i].name : "") || spec_xattr(e, "zone", l[i].zone) ||
            spec_xattr(e, "db_version", l[i].db_version) ||
            spec_xattr(e, "cluster_type", l[i].cluster_type) ||
            spec_xattr(e, "state", l[i].state) ||
            spec_xattr_url(e, "connect_url", l[i].connect_url) ||
            spec_xattr_url(e, "ipv6_connect_url", l[i].ipv6_connect_url)) {
            specs_free(s, m);
            return -ENOMEM;
        }
    }
    *out = s;
    *n_out = dedupe_specs(s, m);
    return 0;
}
