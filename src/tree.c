/* tree: nodes, the inode index and the merge of listings. See tree.h.
 *
 * Shape (README, "What it is"): root -> regions -> clusters -> backups, plus
 * batch directories (sharded clusters), oplog/ and logs/ inside a cluster. A
 * cluster listing fills the cluster and all the directories below it at
 * once, so those have no listing of their own.
 */
#include "tree.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XATTR_PREFIX "user.umongofs."

bool tree_is_dir(enum cat_kind k)
{
    return k == CAT_ROOT || k == CAT_REGION || k == CAT_CLUSTER || k == CAT_BATCH ||
           k == CAT_OPLOGDIR || k == CAT_LOGSDIR;
}

/* ---------- the inode index ---------- */

static size_t ino_hash(uint64_t ino)
{
    return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 17);
}

/* Kept at most half full, so probes stay short. */
static int index_grow(struct tree *t)
{
    size_t cap = t->slot ? (t->mask + 1) * 2 : 1024;
    struct node **s = calloc(cap, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; t->slot && i <= t->mask; i++) {
        struct node *n = t->slot[i];
        if (!n)
            continue;
        size_t k = ino_hash(n->ino) & (cap - 1);
        while (s[k])
            k = (k + 1) & (cap - 1);
        s[k] = n;
    }
    free(t->slot);
    t->slot = s;
    t->mask = cap - 1;
    return 0;
}

static int index_add(struct tree *t, struct node *n)
{
    if ((!t->slot || (t->n_nodes + 1) * 2 > t->mask + 1) && index_grow(t))
        return -ENOMEM;
    size_t k = ino_hash(n->ino) & t->mask;
    while (t->slot[k])
        k = (k + 1) & t->mask;
    t->slot[k] = n;
    t->n_nodes++;
    return 0;
}

struct node *tree_find(const struct tree *t, uint64_t ino)
{
    if (!t->slot)
        return NULL;
    for (size_t k = ino_hash(ino) & t->mask; t->slot[k]; k = (k + 1) & t->mask)
        if (t->slot[k]->ino == ino)
            return t->slot[k];
    return NULL;
}

/* Removal by backward shift: no tombstones, so lookups never slow down. */
static void index_remove(struct tree *t, const struct node *n)
{
    size_t k = ino_hash(n->ino) & t->mask;
    while (t->slot[k] && t->slot[k] != n)
        k = (k + 1) & t->mask;
    if (!t->slot[k])
        return;
    t->slot[k] = NULL;
    t->n_nodes--;
    for (size_t j = (k + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
        size_t home = ino_hash(t->slot[j]->ino) & t->mask;
        /* Move slot j into the hole unless its home lies in (k, j]. */
        bool stays = k <= j ? (home > k && home <= j) : (home > k || home <= j);
        if (stays)
            continue;
        t->slot[k] = t->slot[j];
        t->slot[j] = NULL;
        k = j;
    }
}

/* ---------- nodes ---------- */

static struct node *node_new(struct tree *t, enum cat_kind kind, struct node *parent)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    if (tree_is_dir(kind) && !(n->dir = calloc(1, sizeof(*n->dir)))) {
        free(n);
        return NULL;
    }
    n->ino = t->next_ino;
    n->kind = (uint8_t)kind;
    n->parent = parent;
    n->readable = true;
    if (index_add(t, n)) {
        free(n->dir);
        free(n);
        return NULL;
    }
    t->next_ino++;
    return n;
}

/* Drops n and everything below it, live or gone, from the index: from now
 * on nobody can reach them. n must already be out of its parent's lists. */
static void node_unindex(struct tree *t, struct node *n)
{
    if (n->dir) {
        for (size_t i = 0; i < n->dir->n_kids; i++)
            node_unindex(t, n->dir->kids[i]);
        for (size_t i = 0; i < n->dir->n_gone; i++)
            node_unindex(t, n->dir->gone[i].node);
        t->n_gone -= n->dir->n_gone;
    }
    index_remove(t, n);
}

/* Frees the memory of n and everything below it (unindexed already). */
static void node_release(struct node *n)
{
    if (n->dir) {
        for (size_t i = 0; i < n->dir->n_kids; i++)
            node_release(n->dir->kids[i]);
        for (size_t i = 0; i < n->dir->n_gone; i++)
            node_release(n->dir->gone[i].node);
        free(n->dir->kids);
        free(n->dir->gone);
        free(n->dir->zone);
        free(n->dir);
    }
    free(n->id);
    free(n->name);
    free(n->xattrs);
    free(n->etag);
    free(n);
}

/* Evicts n: unreachable at once, its memory freed later, without the lock
 * (tree_take_evicted): a refresh may evict a million nodes. */
static void node_evict(struct tree *t, struct node *n)
{
    node_unindex(t, n);
    n->parent = t->evicted; /* the list's link: n has no parent any more */
    t->evicted = n;
}

struct node *tree_take_evicted(struct tree *t)
{
    struct node *list = t->evicted;
    t->evicted = NULL;
    return list;
}

void tree_free_evicted(struct node *list)
{
    while (list) {
        struct node *next = list->parent;
        node_release(list);
        list = next;
    }
}

int tree_init(struct tree *t, int64_t root_mtime, time_t gone_ttl)
{
    memset(t, 0, sizeof(*t));
    t->next_ino = 1; /* inode 0 is never used; the root is 1 */
    t->gone_ttl = gone_ttl;
    t->root = node_new(t, CAT_ROOT, NULL);
    if (!t->root)
        return -ENOMEM;
    t->root->id = strdup("/");
    t->root->name = strdup("/");
    t->root->mtime = root_mtime;
    return t->root->id && t->root->name ? 0 : -ENOMEM;
}

void tree_free(struct tree *t)
{
    if (t->root)
        node_release(t->root);
    tree_free_evicted(t->evicted);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

struct node *tree_child(const struct node *dir, const char *name, size_t len)
{
    size_t lo = 0, hi = dir->dir ? dir->dir->n_kids : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mn = dir->dir->kids[mid]->name;
        int r = strncmp(name, mn, len);
        if (r == 0)
            r = mn[len] == '\0' ? 0 : -1;
        if (r == 0)
            return dir->dir->kids[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct node *tree_cluster_of(const struct node *n)
{
    while (n && n->kind != CAT_CLUSTER)
        n = n->parent;
    return n;
}

void tree_stat(const struct node *n, struct cat_stat *st)
{
    st->ino = n->ino;
    st->kind = (enum cat_kind)n->kind;
    st->is_dir = n->dir != NULL;
    st->readable = n->readable;
    st->size = st->is_dir ? 0 : n->size;
    st->mtime = n->mtime;
    st->nlink = st->is_dir ? 2 + n->dir->n_subdirs : 1;
}

/* ---------- what a merge changed ---------- */

/* The path of n ("/" for the root) into buf; false when it does not fit. */
static bool node_path(const struct node *n, char *buf, size_t size)
{
    if (!n->parent)
        return snprintf(buf, size, "/") < (int)size;
    size_t end = size - 1;
    buf[end] = '\0';
    for (; n->parent; n = n->parent) {
        size_t len = strlen(n->name);
        if (len + 1 > end)
            return false;
        end -= len;
        memcpy(buf + end, n->name, len);
        buf[--end] = '/';
    }
    memmove(buf, buf + end, size - end);
    return true;
}

static void report(const struct node *n, tree_changed_fn fn, void *ctx)
{
    char path[PATH_MAX];
    if (node_path(n, path, sizeof(path)))
        fn(ctx, path);
}

/* Reports and clears the changed children of d, and those of the
 * directories the same listing fills (batches, oplog/, logs/). */
static void report_children(struct node *d, tree_changed_fn fn, void *ctx)
{
    for (size_t i = 0; i < d->dir->n_kids; i++) {
        struct node *k = d->dir->kids[i];
        if (k->changed)
            report(k, fn, ctx);
        k->changed = false;
        if (k->dir && k->kind != CAT_REGION && k->kind != CAT_CLUSTER)
            report_children(k, fn, ctx);
    }
    for (size_t i = 0; i < d->dir->n_gone; i++) {
        struct node *k = d->dir->gone[i].node;
        if (k->changed)
            report(k, fn, ctx);
        k->changed = false;
    }
}

size_t tree_chain_stats(const struct node *d, struct cat_stat *st)
{
    size_t n = 0;
    for (; d && n < TREE_CHAIN_MAX; d = d->parent)
        tree_stat(d, &st[n++]);
    return n;
}

void tree_report_merge(struct node *d, const struct cat_stat *before, size_t n_before,
                       tree_changed_fn fn, void *ctx)
{
    report_children(d, fn, ctx);
    struct cat_stat after[TREE_CHAIN_MAX];
    size_t n = tree_chain_stats(d, after);
    const struct node *a = d;
    for (size_t i = 0; i < n && i < n_before; i++, a = a->parent) {
        if (after[i].mtime != before[i].mtime || after[i].nlink != before[i].nlink)
            report(a, fn, ctx);
    }
}

/* ---------- merging a listing ---------- */

/* A listed directory shows its newest child's time; after d's children
 * changed, recompute d and, when asked, its ancestors (their newest child
 * may be d). A directory without children keeps its own time. */
static void update_times(struct node *d, bool ancestors)
{
    for (; d && d->dir->n_kids; d = ancestors ? d->parent : NULL) {
        int64_t newest = 0;
        for (size_t i = 0; i < d->dir->n_kids; i++)
            if (d->dir->kids[i]->mtime > newest)
                newest = d->dir->kids[i]->mtime;
        d->mtime = newest;
    }
}

/* The old children of a directory (live and gone) by identity, for one merge. */
struct key_index {
    struct node **slot;
    size_t mask;
};

static size_t key_hash(uint8_t kind, const char *id)
{
    uint64_t h = 1469598103934665603ULL ^ kind; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

static int key_index_init(struct key_index *x, const struct dir *d)
{
    size_t want = 2 * (d->n_kids + d->n_gone) + 2, cap = 16;
    while (cap < want)
        cap *= 2;
    x->slot = calloc(cap, sizeof(*x->slot));
    x->mask = cap - 1;
    if (!x->slot)
        return -ENOMEM;
    for (size_t i = 0; i < d->n_kids + d->n_gone; i++) {
        struct node *n = i < d->n_kids ? d->kids[i] : d->gone[i - d->n_kids].node;
        size_t k = key_hash(n->kind, n->id) & x->mask;
        while (x->slot[k])
            k = (k + 1) & x->mask;
        x->slot[k] = n;
    }
    return 0;
}

/* The old child with this identity not matched yet, or NULL. */
static struct node *key_index_take(struct key_index *x, enum cat_kind kind, const char *id)
{
    for (size_t k = key_hash((uint8_t)kind, id) & x->mask; x->slot[k]; k = (k + 1) & x->mask) {
        struct node *n = x->slot[k];
        if (n->kind == kind && !n->mark && strcmp(n->id, id) == 0) {
            n->mark = true;
            return n;
        }
    }
    return NULL;
}

/* Moves the name and attributes of s into n. Most refreshes change
 * nothing: the old blocks are kept then, sparing the allocator a million
 * frees and mallocs per refresh of a big listing. */
static void node_take_spec(struct node *n, struct spec *s)
{
    /* A node seen before (it has a name) whose stat changes is reported:
     * the kernel may hold its old attributes. */
    uint64_t size = n->size;
    int64_t mtime = n->mtime;
    bool readable = n->readable, seen = n->name != NULL;
    if (!n->name || strcmp(n->name, s->name) != 0) {
        free(n->name);
        n->name = s->name;
        s->name = NULL;
    }
    size_t len = xa_size(s->xattrs);
    if (n->xattrs && s->xattrs && len == xa_size(n->xattrs) &&
        memcmp(n->xattrs, s->xattrs, len) == 0) {
        free(s->xattrs);
    } else {
        free(n->xattrs);
        n->xattrs = s->xattrs;
    }
    s->xattrs = NULL;
    if (n->dir && s->zone) {
        free(n->dir->zone);
        n->dir->zone = s->zone;
        s->zone = NULL;
    }
    if (n->dir)
        n->dir->sharded = s->sharded;
    if (!n->size_verified)
        n->size = s->size;
    n->readable = s->readable;
    /* A directory that has been listed shows its newest child's time. */
    if (!(n->dir && n->dir->n_kids))
        n->mtime = s->mtime;
    if (seen && (size != n->size || mtime != n->mtime || readable != n->readable))
        n->changed = true;
}

static int apply_dir(struct tree *t, struct node *dir, struct spec *specs, size_t n, time_t now);

/* The node for spec s: an old child with its identity (live, or gone and now
 * back: same node, same inode), else a new one. NULL on allocation failure. */
static struct node *match(struct tree *t, struct node *dir, struct key_index *x, struct spec *s)
{
    struct node *k = key_index_take(x, s->kind, s->id);
    if (!k && (k = node_new(t, s->kind, dir)) != NULL) {
        k->id = s->id;
        s->id = NULL;
        k->mark = true;
    }
    return k;
}

/* Children of d that were not matched become gone; gone ones that were
 * matched leave the gone list. Then the gone list is trimmed to what is kept
 * (TREE_GONE_MAX, gone_ttl) and the rest freed. g has room for every old
 * child, live or gone; d takes it. */
static void settle_gone(struct tree *t, struct dir *d, struct gone *g, time_t now)
{
    size_t m = 0;
    for (size_t i = 0; i < d->n_gone; i++)
        if (!d->gone[i].node->mark)
            g[m++] = d->gone[i];
    for (size_t i = 0; i < d->n_kids; i++) {
        struct node *k = d->kids[i];
        if (k->mark)
            continue;
        k->gone = true;
        k->changed = true;
        if (k->dir)
            k->dir->listed = false;
        g[m++] = (struct gone){k, now};
    }
    /* Oldest first: drop from the front. */
    size_t drop = m > TREE_GONE_MAX ? m - TREE_GONE_MAX : 0;
    while (drop < m && now - g[drop].since > t->gone_ttl)
        drop++;
    for (size_t i = 0; i < drop; i++)
        node_evict(t, g[i].node);
    memmove(g, g + drop, (m - drop) * sizeof(*g));
    t->n_gone = t->n_gone - d->n_gone + (m - drop);
    free(d->gone);
    d->gone = g;
    d->n_gone = m - drop;
}

/* Fills k (matched to s) from s, and the directories s fills itself. */
static int fill_child(struct tree *t, struct node *k, struct spec *s, time_t now)
{
    k->gone = false;
    node_take_spec(k, s);
    if (!k->dir || k->kind == CAT_REGION || k->kind == CAT_CLUSTER)
        return 0;
    /* batch/oplog/logs: filled by this same listing */
    int rc = apply_dir(t, k, s->sub, s->n_sub, now);
    k->dir->listed = true;
    k->dir->listed_at = now;
    return rc;
}

/* Makes kids (m of them, all marked, in the specs' order: by name) dir's children. */
static void install_kids(struct dir *d, struct node **kids, size_t m)
{
    free(d->kids);
    d->kids = kids;
    d->n_kids = m;
    d->n_subdirs = 0;
    for (size_t i = 0; i < m; i++) {
        kids[i]->mark = false;
        d->n_subdirs += kids[i]->dir != NULL;
    }
}

/* Everything that can fail is allocated before the tree is touched; after
 * that, an entry whose node cannot be made is left out, nothing else. */
static int apply_dir(struct tree *t, struct node *dir, struct spec *specs, size_t n, time_t now)
{
    struct dir *d = dir->dir;
    struct key_index x = {0};
    struct node **kids = calloc(n + 1, sizeof(*kids));
    struct gone *g = malloc((d->n_gone + d->n_kids + 1) * sizeof(*g));
    int rc = !kids || !g ? -ENOMEM : key_index_init(&x, d);
    bool ready = rc == 0;
    size_t m = 0;
    for (size_t i = 0; ready && i < n; i++) {
        struct node *k = match(t, dir, &x, &specs[i]);
        if (!k) {
            rc = -ENOMEM; /* left out */
            continue;
        }
        int frc = fill_child(t, k, &specs[i], now);
        rc = rc ? rc : frc;
        kids[m++] = k;
    }
    if (ready) {
        settle_gone(t, d, g, now);
        install_kids(d, kids, m);
        g = NULL;
        kids = NULL;
        update_times(dir, false);
    }
    free(kids);
    free(g);
    free(x.slot);
    return rc;
}

int tree_apply(struct tree *t, struct node *dir, struct spec *specs, size_t n, time_t now)
{
    int rc = apply_dir(t, dir, specs, n, now);
    if (dir->dir->n_kids)
        update_times(dir->parent, true);
    return rc;
}

/* ---------- extended attributes ---------- */

/* The value of a packed record of n. */
static const char *xa_value(const struct node *n, unsigned src, const char *inline_value)
{
    const struct node *cl;
    switch (src) {
    case XS_INLINE:
        return inline_value;
    case XS_ID:
        return n->id;
    case XS_NAME:
        return n->name;
    case XS_CLUSTER:
        cl = tree_cluster_of(n);
        return cl ? cl->id : "";
    case XS_ZONE:
        cl = tree_cluster_of(n);
        return cl && cl->dir->zone ? cl->dir->zone : "";
    default:
        return "";
    }
}

int tree_getxattr(const struct node *n, const char *name, char *buf, size_t size)
{
    size_t plen = strlen(XATTR_PREFIX);
    if (strncmp(name, XATTR_PREFIX, plen) != 0)
        return -ENODATA;
    const char *p = n->xattrs, *v;
    unsigned attr, src;
    while (xa_next(&p, &attr, &src, &v)) {
        const char *an = xa_name(attr);
        if (!an || strcmp(name + plen, an) != 0)
            continue;
        const char *value = xa_value(n, src, v);
        size_t len = strlen(value);
        if (size == 0)
            return (int)len;
        if (len > size)
            return -ERANGE;
        memcpy(buf, value, len);
        return (int)len;
    }
    return -ENODATA;
}

int tree_listxattr(const struct node *n, char *buf, size_t size)
{
    size_t total = 0, plen = strlen(XATTR_PREFIX);
    const char *p = n->xattrs, *v;
    unsigned attr, src;
    while (xa_next(&p, &attr, &src, &v))
        if (xa_name(attr))
            total += plen + strlen(xa_name(attr)) + 1;
    if (size == 0)
        return (int)total;
    if (total > size)
        return -ERANGE;
    char *w = buf;
    for (p = n->xattrs; xa_next(&p, &attr, &src, &v);) {
        const char *an = xa_name(attr);
        if (!an)
            continue;
        size_t alen = strlen(an);
        memcpy(w, XATTR_PREFIX, plen);
        memcpy(w + plen, an, alen + 1);
        w += plen + alen + 1;
    }
    return (int)total;
}
