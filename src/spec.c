/* spec: listings -> what each directory should hold. See spec.h. */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

/* ---------- packed attributes ---------- */

static const char *const xa_names[XA_COUNT] = {
    [XA_REGION] = "region",
    [XA_CLUSTER_ID] = "cluster_id",
    [XA_NAME] = "name",
    [XA_ZONE] = "zone",
    [XA_DB_VERSION] = "db_version",
    [XA_CLUSTER_TYPE] = "cluster_type",
    [XA_STATE] = "state",
    [XA_CONNECT_URL] = "connect_url",
    [XA_IPV6_CONNECT_URL] = "ipv6_connect_url",
    [XA_BATCH_ID] = "batch_id",
    [XA_BACKUP_ID] = "backup_id",
    [XA_TYPE] = "type",
    [XA_START_TIME] = "start_time",
    [XA_END_TIME] = "end_time",
    [XA_REPLICA_TYPE] = "replica_type",
    [XA_VIRTUAL_CLUSTER_ID] = "virtual_cluster_id",
    [XA_BACKUP_METHOD] = "backup_method",
    [XA_DISK_SIZE] = "disk_size",
    [XA_PACKAGE_ID] = "package_id",
    [XA_PACKAGE_TYPE] = "package_type",
    [XA_NODE_ID] = "node_id",
    [XA_ROLE] = "role",
};

const char *xa_name(unsigned attr)
{
    return attr > XA_END && attr < XA_COUNT ? xa_names[attr] : NULL;
}

bool xa_next(const char **p, unsigned *attr, unsigned *src, const char **value)
{
    const unsigned char *q = (const unsigned char *)*p;
    if (!q || *q == XA_END)
        return false;
    *attr = *q & ((1u << XA_SRC_SHIFT) - 1);
    *src = *q >> XA_SRC_SHIFT;
    q++;
    *value = NULL;
    if (*src == XS_INLINE) {
        *value = (const char *)q;
        q += strlen(*value) + 1;
    }
    *p = (const char *)q;
    return true;
}

size_t xa_size(const char *xa)
{
    const char *p = xa;
    unsigned a, s;
    const char *v;
    while (xa_next(&p, &a, &s, &v))
        ;
    return xa ? (size_t)(p - xa) + 1 : 1;
}

void xa_refer_name(char *xa, const char *name)
{
    if (!xa)
        return;
    size_t total = xa_size(xa);
    char *rec = xa;
    while ((unsigned char)*rec != XA_END) {
        unsigned attr = (unsigned char)*rec & ((1u << XA_SRC_SHIFT) - 1);
        if ((unsigned char)*rec >> XA_SRC_SHIFT != XS_INLINE) {
            rec++;
            continue;
        }
        char *v = rec + 1;
        size_t vlen = strlen(v) + 1;
        if (strcmp(v, name) != 0) {
            rec = v + vlen;
            continue;
        }
        /* The record shrinks to its header byte. */
        *rec = (char)(attr | (XS_NAME << XA_SRC_SHIFT));
        memmove(v, v + vlen, total - (size_t)(v + vlen - xa));
        total -= vlen;
        rec++;
    }
}

/* A growing packed set, reused from one entry to the next so that each
 * entry costs one allocation of exactly its size (xa_finish). */
struct xa_buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void xa_bytes(struct xa_buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > ncap)
            ncap *= 2;
        char *t = realloc(b->p, ncap);
        if (!t) {
            b->oom = true;
            return;
        }
        b->p = t;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void xa_ref(struct xa_buf *b, unsigned attr, unsigned src)
{
    unsigned char h = (unsigned char)(attr | (src << XA_SRC_SHIFT));
    xa_bytes(b, &h, 1);
}

/* An inline value; none when value is NULL (the listing lacks the field). */
static void xa_str(struct xa_buf *b, unsigned attr, const char *value)
{
    if (!value)
        return;
    xa_ref(b, attr, XS_INLINE);
    xa_bytes(b, value, strlen(value) + 1);
}

/* A number from the listing; none when unknown (negative). */
static void xa_int(struct xa_buf *b, unsigned attr, int64_t v)
{
    char tmp[32];
    if (v < 0)
        return;
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    xa_str(b, attr, tmp);
}

/* Moves the set built so far into *out (one allocation) and empties b. */
static int xa_finish(struct xa_buf *b, char **out)
{
    *out = NULL;
    if (b->oom)
        return -ENOMEM;
    if (b->len) {
        *out = malloc(b->len + 1);
        if (!*out)
            return -ENOMEM;
        memcpy(*out, b->p, b->len);
        (*out)[b->len] = XA_END;
    }
    b->len = 0;
    return 0;
}

/* ---------- specs ---------- */

static char *take(char **field)
{
    char *s = *field;
    *field = NULL;
    return s;
}

void spec_clear(struct spec *s)
{
    free(s->id);
    free(s->raw_name);
    free(s->name);
    free(s->zone);
    free(s->xattrs);
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

/* A connection address without its credentials. */
static void xa_url(struct xa_buf *b, unsigned attr, const char *url)
{
    if (!url || !*url)
        return;
    char *clean = spec_strip_userinfo(url);
    if (!clean)
        b->oom = true;
    xa_str(b, attr, clean);
    free(clean);
}

static int64_t pick_time(int64_t a, int64_t b, int64_t c)
{
    /* 0 counts as missing too: the provider sends it for unfinished runs. */
    return a > 0 ? a : b > 0 ? b : c > 0 ? c : 0;
}

static int cmp_spec_key(const void *a, const void *b)
{
    const struct spec *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The provider may list an id twice; one entry per key survives. quiet: the
 * duplicates are expected (GetRegion lists a region once per zone). */
static size_t dedupe(struct spec *s, size_t n, bool quiet)
{
    if (n < 2)
        return n;
    qsort(s, n, sizeof(*s), cmp_spec_key);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (cmp_spec_key(&s[i], &s[w - 1]) == 0) {
            if (!quiet)
                log_warn("listing repeats id %s; keeping the first", s[i].id);
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

static size_t dedupe_specs(struct spec *s, size_t n)
{
    return dedupe(s, n, false);
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

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int backup_spec(struct spec *e, struct listing_backup *b, const struct spec_owner *cl,
                       bool in_batch, struct xa_buf *xa)
{
    e->kind = b->type && strcmp(b->type, "oplog") == 0 ? CAT_OPLOG : CAT_BACKUP;
    e->readable = b->state && strcmp(b->state, "Success") == 0;
    e->size = e->readable && b->size > 0 ? (uint64_t)b->size : 0;
    e->mtime = pick_time(b->end_time, b->start_time, -1);
    xa_ref(xa, XA_BACKUP_ID, XS_ID);
    xa_ref(xa, XA_CLUSTER_ID, XS_CLUSTER);
    xa_str(xa, XA_NAME, b->name ? b->name : "");
    if (b->zone && !same(b->zone, cl->zone))
        xa_str(xa, XA_ZONE, b->zone);
    else
        xa_ref(xa, XA_ZONE, XS_ZONE);
    xa_str(xa, XA_TYPE, b->type);
    xa_str(xa, XA_STATE, b->state);
    xa_int(xa, XA_START_TIME, b->start_time);
    xa_int(xa, XA_END_TIME, b->end_time);
    xa_str(xa, XA_BATCH_ID, b->batch_id && *b->batch_id ? b->batch_id : NULL);
    xa_str(xa, XA_REPLICA_TYPE, b->replica_type);
    xa_str(xa, XA_VIRTUAL_CLUSTER_ID, b->virtual_cluster_id);
    xa_str(xa, XA_BACKUP_METHOD, b->method);
    xa_int(xa, XA_DISK_SIZE, b->disk_size);
    /* Inside a batch every file shares the BackupName: the replica set tells them apart. */
    e->raw_name = take(in_batch && b->virtual_cluster_id ? &b->virtual_cluster_id : &b->name);
    e->id = take(&b->backup_id);
    return xa_finish(xa, &e->xattrs) || !e->id ? -ENOMEM : 0;
}

static int log_spec(struct spec *e, struct listing_log *l, struct xa_buf *xa)
{
    e->kind = CAT_LOG;
    e->readable = l->state && strcmp(l->state, "Package_Success") == 0;
    e->size = e->readable && l->size > 0 ? (uint64_t)l->size : 0;
    e->mtime = pick_time(l->finish_time, l->end, l->create_time);
    xa_ref(xa, XA_PACKAGE_ID, XS_ID);
    xa_str(xa, XA_NAME, l->name);
    xa_str(xa, XA_PACKAGE_TYPE, l->package_type);
    xa_str(xa, XA_NODE_ID, l->node_id);
    xa_str(xa, XA_ROLE, l->role);
    xa_str(xa, XA_STATE, l->state);
    xa_ref(xa, XA_CLUSTER_ID, XS_CLUSTER);
    e->raw_name = take(&l->name);
    e->id = take(&l->package_id);
    return xa_finish(xa, &e->xattrs) || !e->id ? -ENOMEM : 0;
}

/* A directory spec (batch, oplog, logs) whose children are subs. */
static struct spec *dir_spec(struct spec *s, size_t *m, enum cat_kind kind, const char *id,
                             const char *raw_name)
{
    struct spec *e = &s[(*m)++];
    e->kind = kind;
    e->id = strdup(id);
    e->raw_name = raw_name ? strdup(raw_name) : NULL;
    e->readable = true;
    if (!e->id || (raw_name && !e->raw_name))
        return NULL;
    return e;
}

static int add_sub(struct spec *dir, size_t *cap, struct spec **slot)
{
    if (dir->n_sub == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct spec *t = realloc(dir->sub, ncap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        dir->sub = t;
        *cap = ncap;
    }
    memset(&dir->sub[dir->n_sub], 0, sizeof(*dir->sub));
    *slot = &dir->sub[dir->n_sub++];
    return 0;
}

static int cmp_backup_batch(const void *a, const void *b)
{
    const struct listing_backup *x = *(const struct listing_backup *const *)a;
    const struct listing_backup *y = *(const struct listing_backup *const *)b;
    int r = strcmp(x->batch_id, y->batch_id);
    return r ? r : strcmp(x->backup_id, y->backup_id);
}

/* Specs built for one cluster directory, and what they need while growing. */
struct cluster_build {
    const struct spec_owner *cl;
    struct spec *s; /* room for every backup plus oplog/ and logs/ */
    size_t m;
    struct spec *oplog, *logs;
    size_t oplog_cap, logs_cap;
    struct xa_buf xa;
};

/* Adds an entry to oplog/ or logs/, creating the directory on first use. */
static int sub_entry(struct cluster_build *cb, bool oplog, struct spec **slot)
{
    struct spec **dir = oplog ? &cb->oplog : &cb->logs;
    const char *name = oplog ? "oplog" : "logs";
    if (!*dir && !(*dir = dir_spec(cb->s, &cb->m, oplog ? CAT_OPLOGDIR : CAT_LOGSDIR, name, name)))
        return -ENOMEM;
    return add_sub(*dir, oplog ? &cb->oplog_cap : &cb->logs_cap, slot);
}

static void newest(struct spec *dir, const struct spec *e)
{
    if (e->mtime > dir->mtime)
        dir->mtime = e->mtime;
}

/* Sharded backups grouped by BatchId: one directory per backup run. */
static int build_batches(struct cluster_build *cb, struct listing_backup **batched, size_t n)
{
    qsort(batched, n, sizeof(*batched), cmp_backup_batch);
    for (size_t i = 0; i < n;) {
        size_t j = i, cap = 0;
        while (j < n && strcmp(batched[j]->batch_id, batched[i]->batch_id) == 0)
            j++;
        const char *bname = NULL;
        for (size_t k = i; k < j && !bname; k++)
            if (batched[k]->name && *batched[k]->name)
                bname = batched[k]->name;
        struct spec *d = dir_spec(cb->s, &cb->m, CAT_BATCH, batched[i]->batch_id, bname);
        if (!d)
            return -ENOMEM;
        xa_ref(&cb->xa, XA_BATCH_ID, XS_ID);
        xa_ref(&cb->xa, XA_CLUSTER_ID, XS_CLUSTER);
        xa_str(&cb->xa, XA_NAME, bname);
        if (xa_finish(&cb->xa, &d->xattrs))
            return -ENOMEM;
        for (size_t k = i; k < j; k++) {
            struct spec *slot;
            if (add_sub(d, &cap, &slot) || backup_spec(slot, batched[k], cb->cl, true, &cb->xa))
                return -ENOMEM;
            listing_clear_backup(batched[k]);
            newest(d, slot);
        }
        d->n_sub = dedupe_specs(d->sub, d->n_sub);
        i = j;
    }
    return 0;
}

static int build_backups(struct cluster_build *cb, bool sharded, bool show_all,
                         struct listing_backup *b, size_t nb)
{
    struct listing_backup **batched = calloc(nb + 1, sizeof(*batched));
    size_t n_batched = 0;
    int rc = batched ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < nb; i++) {
        struct spec *slot;
        if (!(b[i].state && strcmp(b[i].state, "Success") == 0) && !show_all)
            continue;
        if (b[i].type && strcmp(b[i].type, "oplog") == 0) {
            rc = sub_entry(cb, true, &slot);
            if (!rc)
                rc = backup_spec(slot, &b[i], cb->cl, false, &cb->xa);
            if (!rc)
                newest(cb->oplog, slot);
        } else if (sharded && b[i].batch_id && *b[i].batch_id) {
            batched[n_batched++] = &b[i];
            continue; /* grouped below */
        } else {
            rc = backup_spec(&cb->s[cb->m++], &b[i], cb->cl, false, &cb->xa);
        }
        /* Done with the record: its memory serves the next specs. */
        listing_clear_backup(&b[i]);
    }
    if (!rc)
        rc = build_batches(cb, batched, n_batched);
    free(batched);
    return rc;
}

/* Turns a cluster's backups and log packages into the specs of the cluster
 * directory: plain backups, batch directories, oplog/ and logs/. */
int spec_cluster_dir(const struct spec_owner *cl, bool sharded, bool show_all,
                     struct listing_backup *b, size_t nb, struct listing_log *l, size_t nl,
                     struct spec **out, size_t *n_out)
{
    struct cluster_build cb = {.cl = cl, .s = calloc(nb + 3, sizeof(*cb.s))};
    int rc = cb.s ? build_backups(&cb, sharded, show_all, b, nb) : -ENOMEM;
    for (size_t i = 0; !rc && i < nl; i++) {
        struct spec *slot;
        if (!(l[i].state && strcmp(l[i].state, "Package_Success") == 0) && !show_all)
            continue;
        rc = sub_entry(&cb, false, &slot);
        if (!rc)
            rc = log_spec(slot, &l[i], &cb.xa);
        listing_clear_log(&l[i]);
        if (!rc)
            newest(cb.logs, slot);
    }
    free(cb.xa.p);
    if (rc) {
        specs_free(cb.s, cb.m);
        return rc;
    }
    if (cb.oplog)
        cb.oplog->n_sub = dedupe_specs(cb.oplog->sub, cb.oplog->n_sub);
    if (cb.logs)
        cb.logs->n_sub = dedupe_specs(cb.logs->sub, cb.logs->n_sub);
    *out = cb.s;
    *n_out = dedupe_specs(cb.s, cb.m);
    return 0;
}

int spec_regions(struct listing_region *r, size_t n, const char *const *filter,
                 int64_t fallback_time, struct spec **out, size_t *n_out)
{
    size_t m = 0;
    struct spec *s = calloc(n + 1, sizeof(*s));
    struct xa_buf xa = {0};
    int rc = s ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!region_wanted(filter, r[i].region))
            continue;
        /* Named after its id (raw_name NULL): the region is both. */
        struct spec *e = &s[m++];
        e->kind = CAT_REGION;
        e->id = take(&r[i].region);
        e->readable = true;
        e->mtime = fallback_time;
        xa_ref(&xa, XA_REGION, XS_ID);
        rc = xa_finish(&xa, &e->xattrs);
    }
    free(xa.p);
    if (rc) {
        specs_free(s, m);
        return rc;
    }
    *out = s;
    *n_out = dedupe(s, m, true); /* GetRegion answers once per zone */
    return 0;
}

int spec_clusters(struct listing_cluster *l, size_t n, int64_t fallback_time, struct spec **out,
                  size_t *n_out)
{
    size_t m = 0;
    struct spec *s = calloc(n + 1, sizeof(*s));
    struct xa_buf xa = {0};
    int rc = s ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!l[i].zone) {
            log_warn("cluster %s has no Zone; skipped", l[i].cluster_id);
            continue;
        }
        struct spec *e = &s[m++];
        e->kind = CAT_CLUSTER;
        e->readable = true;
        e->sharded = l[i].sharded;
        e->mtime = pick_time(l[i].create_time, -1, fallback_time);
        xa_ref(&xa, XA_CLUSTER_ID, XS_ID);
        xa_str(&xa, XA_NAME, l[i].name ? l[i].name : "");
        xa_ref(&xa, XA_ZONE, XS_ZONE);
        xa_str(&xa, XA_DB_VERSION, l[i].db_version);
        xa_str(&xa, XA_CLUSTER_TYPE, l[i].cluster_type);
        xa_str(&xa, XA_STATE, l[i].state);
        xa_url(&xa, XA_CONNECT_URL, l[i].connect_url);
        xa_url(&xa, XA_IPV6_CONNECT_URL, l[i].ipv6_connect_url);
        e->id = take(&l[i].cluster_id);
        e->raw_name = take(&l[i].name);
        e->zone = take(&l[i].zone);
        rc = xa_finish(&xa, &e->xattrs);
    }
    free(xa.p);
    if (rc) {
        specs_free(s, m);
        return rc;
    }
    *out = s;
    *n_out = dedupe_specs(s, m);
    return 0;
}

/* ---------- naming ---------- */

static int cmp_spec_name(const void *a, const void *b)
{
    return strcmp(((const struct spec *)a)->name, ((const struct spec *)b)->name);
}

/* names_assign over the specs that are not oplog/ or logs/ (which keep
 * their plain names). */
static int assign_names(struct spec *s, size_t n, bool cluster_dir)
{
    static const char *const cluster_reserved[] = {"oplog", "logs", NULL};
    const char **raw = calloc(n + 1, sizeof(*raw));
    const char **ids = calloc(n + 1, sizeof(*ids));
    size_t *idx = calloc(n + 1, sizeof(*idx));
    char **assigned = calloc(n + 1, sizeof(*assigned));
    int rc = -ENOMEM;
    if (!raw || !ids || !idx || !assigned)
        goto out;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].kind == CAT_OPLOGDIR || s[i].kind == CAT_LOGSDIR) {
            if (!(s[i].name = strdup(s[i].kind == CAT_OPLOGDIR ? "oplog" : "logs")))
                goto out;
            continue;
        }
        raw[m] = s[i].raw_name;
        ids[m] = s[i].id;
        idx[m++] = i;
    }
    rc = names_assign(raw, ids, m, cluster_dir ? cluster_reserved : NULL, assigned);
    for (size_t k = 0; rc == 0 && k < m; k++)
        s[idx[k]].name = assigned[k];
out:
    free(raw);
    free(ids);
    free(idx);
    free(assigned);
    return rc;
}

int spec_name_all(struct spec *s, size_t n, bool cluster_dir)
{
    int rc = assign_names(s, n, cluster_dir);
    for (size_t i = 0; !rc && i < n; i++) {
        xa_refer_name(s[i].xattrs, s[i].name);
        /* raw_name has served: give its memory back before the merge. */
        free(s[i].raw_name);
        s[i].raw_name = NULL;
        rc = spec_name_all(s[i].sub, s[i].n_sub, false);
    }
    if (!rc && n > 1)
        qsort(s, n, sizeof(*s), cmp_spec_name);
    return rc;
}
