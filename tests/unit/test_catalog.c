/* Unit tests for catalog.c: the tree of regions, clusters, backups, batches,
 * oplog/ and logs/ (README, "What it is" and "Names, attributes, errors"), its names,
 * inode numbers, TTL cache and error handling, driven by a fake listing source
 * that answers canned JSON per action, counts the calls and can be told to fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "log.h"

/* ---- the fake source ---- */

enum action { A_REGION, A_INSTANCES, A_BACKUP, A_LOGS, A_OTHER, A_COUNT };

static const char *const action_names[A_OTHER] = {"GetRegion", "ListUMongoDBInstances",
                                                  "ListUMongoDBBackup", "ListUMongoDBLogPackage"};

#define FAKE_MAX_CANNED 64

struct canned {
    enum action action;
    char *sel;   /* Region (instances) or ClusterId (backups, logs); NULL = any */
    cJSON *json; /* NULL: answer 0 without any JSON */
};

struct fake {
    pthread_mutex_t lock;
    struct canned canned[FAKE_MAX_CANNED];
    size_t n_canned;
    int fail[A_COUNT];       /* -errno to answer instead of the canned JSON */
    unsigned calls[A_COUNT]; /* calls per action */
    unsigned quick[A_COUNT]; /* of those, calls marked quick (a stale listing to fall back on) */
    unsigned bad_params;     /* calls lacking a required parameter, or unknown actions */
    unsigned delay_ms;       /* every call takes this long (widens races) */
    bool hold;               /* calls block until fake_release (an API that never answers) */
    unsigned held;           /* calls blocked right now */
    pthread_cond_t released;
    char last[A_COUNT][256]; /* "Region=..,Zone=..,ClusterId=.." of the last call */
};

static enum action action_of(const char *name)
{
    for (int a = 0; a < A_OTHER; a++)
        if (strcmp(name, action_names[a]) == 0)
            return (enum action)a;
    return A_OTHER;
}

static const char *param_of(const struct api_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return p[i].value;
    return NULL;
}

static bool same_sel(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Sets the answer to action for sel (NULL: for any); takes json. */
static void fake_set(struct fake *f, enum action a, const char *sel, cJSON *json)
{
    pthread_mutex_lock(&f->lock);
    size_t i = 0;
    while (i < f->n_canned && !(f->canned[i].action == a && same_sel(f->canned[i].sel, sel)))
        i++;
    if (i == f->n_canned && i < FAKE_MAX_CANNED) {
        f->canned[i].action = a;
        f->canned[i].sel = sel ? strdup(sel) : NULL;
        f->canned[i].json = NULL;
        f->n_canned++;
    }
    if (i < FAKE_MAX_CANNED) {
        cJSON_Delete(f->canned[i].json);
        f->canned[i].json = json;
        json = NULL;
    }
    pthread_mutex_unlock(&f->lock);
    cJSON_Delete(json);
    assert_true(i < FAKE_MAX_CANNED);
}

static void fake_hold(struct fake *f, bool hold)
{
    pthread_mutex_lock(&f->lock);
    f->hold = hold;
    pthread_cond_broadcast(&f->released);
    pthread_mutex_unlock(&f->lock);
}

static unsigned fake_held(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->held;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void fake_fail(struct fake *f, enum action a, int err)
{
    pthread_mutex_lock(&f->lock);
    f->fail[a] = err;
    pthread_mutex_unlock(&f->lock);
}

static void fake_calls(struct fake *f, unsigned out[A_COUNT])
{
    pthread_mutex_lock(&f->lock);
    for (int a = 0; a < A_COUNT; a++)
        out[a] = f->calls[a];
    pthread_mutex_unlock(&f->lock);
}

static unsigned fake_total(struct fake *f)
{
    unsigned c[A_COUNT], t = 0;
    fake_calls(f, c);
    for (int a = 0; a < A_COUNT; a++)
        t += c[a];
    return t;
}

static int fake_call(void *ctx, const char *action, const struct api_param *params, size_t n,
                     bool quick, cJSON **out)
{
    struct fake *f = ctx;
    enum action a = action_of(action);
    const char *region = param_of(params, n, "Region");
    const char *zone = param_of(params, n, "Zone");
    const char *cid = param_of(params, n, "ClusterId");
    const char *sel = a == A_INSTANCES ? region : cid;
    bool ok = a == A_REGION || (a == A_INSTANCES && region) ||
              ((a == A_BACKUP || a == A_LOGS) && region && zone && cid);

    *out = NULL;
    pthread_mutex_lock(&f->lock);
    f->calls[a]++;
    f->quick[a] += quick;
    f->bad_params += !ok;
    snprintf(f->last[a], sizeof(f->last[a]), "Region=%s,Zone=%s,ClusterId=%s",
             region ? region : "-", zone ? zone : "-", cid ? cid : "-");
    int rc = f->fail[a];
    unsigned delay = f->delay_ms;
    const struct canned *hit = NULL;
    for (size_t i = 0; i < f->n_canned && !hit; i++)
        if (f->canned[i].action == a && f->canned[i].sel && sel &&
            strcmp(f->canned[i].sel, sel) == 0)
            hit = &f->canned[i];
    for (size_t i = 0; i < f->n_canned && !hit; i++)
        if (f->canned[i].action == a && !f->canned[i].sel)
            hit = &f->canned[i];
    cJSON *ans = NULL;
    if (!rc && hit)
        ans = hit->json ? cJSON_Duplicate(hit->json, 1) : NULL;
    else if (!rc)
        ans = cJSON_Parse(a == A_REGION ? "{\"RetCode\":0,\"Regions\":[]}"
                                        : "{\"RetCode\":0,\"DataSet\":[]}");
    pthread_mutex_unlock(&f->lock);

    if (delay) {
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&f->lock);
    f->held++;
    while (f->hold)
        pthread_cond_wait(&f->released, &f->lock);
    f->held--;
    pthread_mutex_unlock(&f->lock);
    if (rc) {
        cJSON_Delete(ans);
        return rc;
    }
    *out = ans;
    return 0;
}

static void fake_clear(struct fake *f)
{
    for (size_t i = 0; i < f->n_canned; i++) {
        free(f->canned[i].sel);
        cJSON_Delete(f->canned[i].json);
    }
    f->n_canned = 0;
}

/* ---- JSON fixtures ---- */

/* Parses JSON written with ' for " (keeps fixtures readable). */
static cJSON *J(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

static cJSON *dataset(cJSON **arr)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "RetCode", 0);
    *arr = cJSON_CreateArray();
    cJSON_AddItemToObject(j, "DataSet", *arr);
    return j;
}

/* A backup entry; NULL strings and negative numbers are left out. */
static cJSON *backup_obj(const char *id, const char *name, const char *state, const char *type,
                         double size, double start, double end)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "BackupId", id);
    if (name)
        cJSON_AddStringToObject(b, "BackupName", name);
    if (state)
        cJSON_AddStringToObject(b, "State", state);
    if (type)
        cJSON_AddStringToObject(b, "BackupType", type);
    if (size >= 0)
        cJSON_AddNumberToObject(b, "BackupSize", size);
    if (start >= 0)
        cJSON_AddNumberToObject(b, "StartTime", start);
    if (end >= 0)
        cJSON_AddNumberToObject(b, "EndTime", end);
    return b;
}

static cJSON *cluster_obj(const char *id, const char *name, const char *zone)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "ClusterId", id);
    if (name)
        cJSON_AddStringToObject(c, "Name", name);
    cJSON_AddStringToObject(c, "Zone", zone);
    cJSON_AddStringToObject(c, "ClusterType", "ReplicaSet");
    cJSON_AddNumberToObject(c, "CreateTime", 1000);
    return c;
}

/* The demo account. GetRegion answers once per zone (cn-bj2 three times, not
 * adjacent). cn-bj2 holds a replica set with every kind of entry, a sharded
 * cluster and two clusters both named "staging"; hk is empty. */
static const char DEMO_REGIONS[] =
    "{'RetCode':0,'Action':'GetRegionResponse','Regions':["
    "{'RegionId':1,'Region':'cn-bj2','Zone':'cn-bj2-02','IsDefault':true},"
    "{'RegionId':1,'Region':'cn-bj2','Zone':'cn-bj2-03'},"
    "{'RegionId':2,'Region':'cn-sh2','Zone':'cn-sh2-01'},"
    "{'RegionId':1,'Region':'cn-bj2','Zone':'cn-bj2-05'},"
    "{'RegionId':3,'Region':'hk','Zone':'hk-01'}]}";

static const char DEMO_BJ2[] =
    "{'RetCode':0,'DataSet':["
    "{'ClusterId':'udb-orders','Name':'orders','Zone':'cn-bj2-02','DBVersion':'MongoDB-4.2',"
    "'ClusterType':'ReplicaSet','State':'Running','CreateTime':1000},"
    "{'ClusterId':'udb-an','Name':'analytics','Zone':'cn-bj2-03','DBVersion':'MongoDB-4.4',"
    "'ClusterType':'SharedCluster','State':'Running','CreateTime':1000},"
    "{'ClusterId':'udb-st1','Name':'staging','Zone':'cn-bj2-02','ClusterType':'ReplicaSet',"
    "'State':'Stopped','CreateTime':1000},"
    "{'ClusterId':'udb-st2','Name':'staging','Zone':'cn-bj2-03','ClusterType':'ReplicaSet',"
    "'State':'Running','CreateTime':1000}]}";

static const char DEMO_SH2[] = "{'RetCode':0,'DataSet':[{'ClusterId':'udb-sh','Name':'sh',"
                               "'Zone':'cn-sh2-01','ClusterType':'ReplicaSet','CreateTime':1000}]}";

/* bk-a1 carries a BatchId, which a ReplicaSet cluster must ignore. */
#define ORDERS_A1                                                                                  \
    "{'BackupId':'bk-a1','BackupName':'auto-1','ClusterId':'udb-orders','Zone':'cn-bj2-02',"       \
    "'State':'Success','BackupType':'auto','BackupSize':100,'StartTime':2000,'EndTime':2100,"      \
    "'BatchId':'rs-batch'}"
#define ORDERS_REST                                                                                \
    "{'BackupId':'bk-a2','BackupName':'auto-2','State':'Success','BackupType':'manual',"           \
    "'BackupSize':200,'StartTime':3000},"                                                          \
    "{'BackupId':'bk-run','BackupName':'running','State':'Backuping','BackupType':'manual',"       \
    "'BackupSize':0,'StartTime':4000},"                                                            \
    "{'BackupId':'bk-fail','BackupName':'failed','State':'Failed','BackupType':'auto',"            \
    "'BackupSize':50,'StartTime':1500,'EndTime':1600},"                                            \
    "{'BackupId':'bk-op1','BackupName':'op-1','State':'Success','BackupType':'oplog',"             \
    "'BackupSize':10,'StartTime':3500,'EndTime':3600},"                                            \
    "{'BackupId':'bk-op2','BackupName':'op-2','State':'Backuping','BackupType':'oplog',"           \
    "'StartTime':3700}"
static const char DEMO_ORDERS[] = "{'RetCode':0,'DataSet':[" ORDERS_A1 "," ORDERS_REST "]}";

static const char DEMO_ORDERS_LOGS[] =
    "{'RetCode':0,'DataSet':["
    "{'Id':101,'Name':'slow-1','State':'Package_Success','Size':7,'PackageType':'SlowLog',"
    "'ClusterId':'udb-orders','NodeId':'node-1','Role':'primary','Begin':100,'End':200,"
    "'CreateTime':300,'FinishTime':2500},"
    "{'Id':102,'Name':'err-1','State':'Package_Running','Size':9,'PackageType':'ErrorLog',"
    "'NodeId':'node-2','CreateTime':2600}]}";

#define AN_BACKUP(id, name, vc, rt, batch, state, size, end)                                       \
    "{'BackupId':'" id "','BackupName':'" name "','VirtualClusterId':'" vc "','ReplicaType':'" rt  \
    "','BatchId':'" batch "','State':'" state "','BackupType':'auto','BackupSize':" #size          \
    ",'StartTime':5000,'EndTime':" #end ",'Zone':'cn-bj2-03'}"
/* clang-format off */
#define AN_26_S0 \
    AN_BACKUP("bk-26-s0", "an-26", "udb-an-shard0", "DataRepl", "batch-26", "Success", 12, 5200)
static const char DEMO_AN[] = "{'RetCode':0,'DataSet':["
    AN_BACKUP("bk-26-cfg", "an-26", "udb-an-cfg", "ConfigRepl", "batch-26", "Success", 11, 5100) ","
    AN_26_S0 ","
    AN_BACKUP("bk-26-s1", "an-26", "udb-an-shard1", "DataRepl", "batch-26", "Success", 13, 5150) ","
    AN_BACKUP("bk-27-cfg", "an-27", "udb-an-cfg", "ConfigRepl", "batch-27", "Success", 21, 6100) ","
    AN_BACKUP("bk-27-s0", "an-27", "udb-an-shard0", "DataRepl", "batch-27", "Success", 22, 6300) ","
    AN_BACKUP("bk-27-s1", "an-27", "udb-an-shard1", "DataRepl", "batch-27", "Failed", 23, 6200) ","
    "{'BackupId':'bk-loose','BackupName':'loose','State':'Success','BackupType':'manual',"
    "'BackupSize':5,'StartTime':5400,'EndTime':5500}]}";
/* clang-format on */

static const char DEMO_SH[] = "{'RetCode':0,'DataSet':[{'BackupId':'bk-sh1','BackupName':'sh-1',"
                              "'State':'Success','BackupSize':1,'EndTime':1200}]}";

static void load_demo(struct fake *f)
{
    fake_set(f, A_REGION, NULL, J(DEMO_REGIONS));
    fake_set(f, A_INSTANCES, "cn-bj2", J(DEMO_BJ2));
    fake_set(f, A_INSTANCES, "cn-sh2", J(DEMO_SH2));
    fake_set(f, A_BACKUP, "udb-orders", J(DEMO_ORDERS));
    fake_set(f, A_LOGS, "udb-orders", J(DEMO_ORDERS_LOGS));
    fake_set(f, A_BACKUP, "udb-an", J(DEMO_AN));
    fake_set(f, A_BACKUP, "udb-sh", J(DEMO_SH));
}

/* ---- fixture ---- */

struct env {
    struct fake f;
    struct catalog *c;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    pthread_mutex_init(&e->f.lock, NULL);
    pthread_cond_init(&e->f.released, NULL);
    load_demo(&e->f);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    fake_hold(&e->f, false); /* a worker blocked in a call must end before the catalog */
    catalog_free(&e->c);
    fake_clear(&e->f);
    pthread_mutex_destroy(&e->f.lock);
    pthread_cond_destroy(&e->f.released);
    free(e);
    return 0;
}

static struct catalog *open_cat(struct env *e, unsigned ttl, bool show_all,
                                const char *const *regions)
{
    catalog_free(&e->c);
    struct catalog_opts o = {
        .source = {fake_call, &e->f}, .dir_ttl = ttl, .show_all = show_all, .regions = regions};
    e->c = catalog_new(&o);
    assert_non_null(e->c);
    return e->c;
}

/* ---- readdir, stat, xattr helpers ---- */

struct ent {
    char *name;
    struct cat_stat st;
};

struct dirlist {
    struct ent *e;
    size_t n, cap;
};

static int collect(void *ctx, const char *name, const struct cat_stat *st)
{
    struct dirlist *d = ctx;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->e = realloc(d->e, d->cap * sizeof(*d->e));
        assert_non_null(d->e);
    }
    d->e[d->n].name = strdup(name);
    d->e[d->n++].st = *st;
    return 0;
}

static void dirlist_free(struct dirlist *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->e[i].name);
    free(d->e);
    memset(d, 0, sizeof(*d));
}

static int list_dir(struct catalog *c, const char *path, struct dirlist *d)
{
    memset(d, 0, sizeof(*d));
    return catalog_readdir(c, path, collect, d);
}

/* Makes the next access to path see what the fake answers now. A listing
 * that was fetched before is served as it is, stale or not, while a worker
 * refreshes it in the background: so wait for the refreshes under way (they
 * may have read older answers), touch path and every directory on the way
 * (which starts their refreshes: they are stale, dir_ttl=0), and wait for
 * those. */
static void relist(struct catalog *c, const char *path)
{
    struct cat_stat st;
    struct dirlist d;
    catalog_settle(c);
    catalog_stat(c, path, &st);
    list_dir(c, path, &d);
    dirlist_free(&d);
    catalog_settle(c);
}

static const struct ent *find_ent(const struct dirlist *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->e[i].name, name) == 0)
            return &d->e[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The strings v[0..n) sorted and joined with '|'. */
static char *join_sorted(char **v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = calloc(1, len);
    assert_non_null(s);
    qsort(v, n, sizeof(*v), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += (size_t)snprintf(s + w, len - w, "%s%s", i ? "|" : "", v[i]);
    return s;
}

/* "b|a|c" -> "a|b|c" */
static char *sort_spec(const char *spec)
{
    char *copy = strdup(spec), *v[256], *save = NULL;
    size_t n = 0;
    assert_non_null(copy);
    for (char *t = strtok_r(copy, "|", &save); t && n < 256; t = strtok_r(NULL, "|", &save))
        v[n++] = t;
    char *s = join_sorted(v, n);
    free(copy);
    return s;
}

/* Checks the names readdir(path) gives, in any order, against "a|b|c". */
static void expect_ls(struct catalog *c, const char *path, const char *want)
{
    struct dirlist d;
    assert_int_equal(list_dir(c, path, &d), 0);
    char **v = calloc(d.n + 1, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < d.n; i++)
        v[i] = d.e[i].name;
    char *got = join_sorted(v, d.n), *exp = sort_spec(want);
    bool same = strcmp(got, exp) == 0;
    if (!same)
        print_error("readdir %s:\n  got  %s\n  want %s\n", path, got, exp);
    free(got);
    free(exp);
    free(v);
    dirlist_free(&d);
    assert_true(same);
}

static struct cat_stat stat_ok(struct catalog *c, const char *path)
{
    struct cat_stat st;
    memset(&st, 0, sizeof(st));
    int rc = catalog_stat(c, path, &st);
    if (rc)
        print_error("stat %s: %d\n", path, rc);
    assert_int_equal(rc, 0);
    return st;
}

static int stat_rc(struct catalog *c, const char *path)
{
    struct cat_stat st;
    return catalog_stat(c, path, &st);
}

static void expect_file(struct catalog *c, const char *path, enum cat_kind kind, bool readable,
                        uint64_t size, int64_t mtime)
{
    struct cat_stat st = stat_ok(c, path);
    assert_false(st.is_dir);
    assert_int_equal(st.kind, kind);
    assert_int_equal(st.readable, readable);
    assert_int_equal(st.size, size);
    assert_int_equal(st.mtime, mtime);
    assert_int_equal(st.nlink, 1);
    assert_true(st.ino > 0);
}

static void expect_dir(struct catalog *c, const char *path, enum cat_kind kind)
{
    struct cat_stat st = stat_ok(c, path);
    assert_true(st.is_dir);
    assert_int_equal(st.kind, kind);
    assert_true(st.nlink >= 2);
}

/* The value of xattr name at path, NUL-terminated, or NULL with *rc set. */
static char *xattr_get(struct catalog *c, const char *path, const char *name, int *rc)
{
    static char buf[4096];
    int len = catalog_getxattr(c, path, name, buf, sizeof(buf) - 1);
    if (rc)
        *rc = len;
    if (len < 0)
        return NULL;
    buf[len] = '\0';
    return buf;
}

static void expect_xattr(struct catalog *c, const char *path, const char *name, const char *want)
{
    int rc;
    const char *got = xattr_get(c, path, name, &rc);
    if (!got)
        print_error("getxattr %s %s: %d\n", path, name, rc);
    assert_non_null(got);
    assert_string_equal(got, want);
    /* size 0 asks for the length. */
    assert_int_equal(catalog_getxattr(c, path, name, NULL, 0), (int)strlen(want));
}

/* Checks the exact set of xattr names at path (without the prefix) against "a|b". */
static void expect_xattr_names(struct catalog *c, const char *path, const char *want)
{
    static const char prefix[] = "user.umongofs.";
    int total = catalog_listxattr(c, path, NULL, 0);
    assert_true(total > 0);
    char *buf = malloc((size_t)total);
    assert_non_null(buf);
    /* One byte short is too small; exactly enough is fine. */
    assert_int_equal(catalog_listxattr(c, path, buf, (size_t)total - 1), -ERANGE);
    assert_int_equal(catalog_listxattr(c, path, buf, (size_t)total), total);
    assert_int_equal(buf[total - 1], '\0');
    char *v[64];
    size_t n = 0;
    for (char *p = buf; p < buf + total && n < 64; p += strlen(p) + 1) {
        assert_int_equal(strncmp(p, prefix, strlen(prefix)), 0);
        /* Every listed name can be read. */
        assert_true(catalog_getxattr(c, path, p, NULL, 0) >= 0);
        v[n++] = p + strlen(prefix);
    }
    char *got = join_sorted(v, n), *exp = sort_spec(want);
    bool same = strcmp(got, exp) == 0;
    if (!same)
        print_error("listxattr %s:\n  got  %s\n  want %s\n", path, got, exp);
    free(got);
    free(exp);
    free(buf);
    assert_true(same);
}

/* ---- whole-tree walk ---- */

struct walk {
    size_t n, cap;
    char **path;
    struct cat_stat *st;
};

static void walk_free(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->path[i]);
    free(w->path);
    free(w->st);
    memset(w, 0, sizeof(*w));
}

/* readdir of path and of every directory below it, and a stat of every entry
 * (whose answer must agree with readdir's). */
static void walk_dir(struct catalog *c, const char *path, struct walk *w)
{
    struct dirlist d;
    assert_int_equal(list_dir(c, path, &d), 0);
    for (size_t i = 0; i < d.n; i++) {
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", d.e[i].name);
        struct cat_stat st = stat_ok(c, child);
        assert_int_equal(st.ino, d.e[i].st.ino);
        assert_int_equal(st.kind, d.e[i].st.kind);
        assert_int_equal(st.size, d.e[i].st.size);
        assert_int_equal(st.is_dir, d.e[i].st.is_dir);
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 64;
            w->path = realloc(w->path, w->cap * sizeof(*w->path));
            w->st = realloc(w->st, w->cap * sizeof(*w->st));
            assert_true(w->path && w->st);
        }
        w->path[w->n] = strdup(child);
        w->st[w->n++] = st;
        if (st.is_dir)
            walk_dir(c, child, w);
    }
    dirlist_free(&d);
}

static const struct cat_stat *walk_find(const struct walk *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->path[i], path) == 0)
            return &w->st[i];
    return NULL;
}

/* ---- the tree ---- */

static void test_root_lists_regions_once(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;

    expect_ls(c, "/", "cn-bj2|cn-sh2|hk");
    assert_int_equal(e->f.calls[A_REGION], 1);
    assert_int_equal(e->f.calls[A_INSTANCES], 0); /* listing "/" lists no region */
    assert_int_equal(list_dir(c, "/", &d), 0);
    for (size_t i = 0; i < d.n; i++) {
        assert_true(d.e[i].st.is_dir);
        assert_int_equal(d.e[i].st.kind, CAT_REGION);
    }
    dirlist_free(&d);
    expect_dir(c, "/", CAT_ROOT);
    expect_dir(c, "/cn-bj2", CAT_REGION);
    assert_int_equal(e->f.bad_params, 0);
}

static void test_regions_filter(void **state)
{
    struct env *e = *state;
    static const char *const only[] = {"cn-sh2", "xx-none", NULL};
    struct catalog *c = open_cat(e, 60, false, only);

    /* Only filtered regions that GetRegion knows. */
    expect_ls(c, "/", "cn-sh2");
    assert_int_equal(stat_rc(c, "/cn-bj2"), -ENOENT);
    assert_int_equal(stat_rc(c, "/xx-none"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders"), -ENOENT);
    expect_ls(c, "/cn-sh2", "sh");
    assert_int_equal(e->f.calls[A_INSTANCES], 1);
    assert_string_equal(e->f.last[A_INSTANCES], "Region=cn-sh2,Zone=-,ClusterId=-");
}

static void test_clusters_per_region(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    /* Two clusters named "staging": both get their id. */
    expect_ls(c, "/cn-bj2", "analytics|orders|staging~udb-st1|staging~udb-st2");
    assert_int_equal(e->f.calls[A_INSTANCES], 1);
    assert_string_equal(e->f.last[A_INSTANCES], "Region=cn-bj2,Zone=-,ClusterId=-");
    /* Listing a region lists none of its clusters. */
    assert_int_equal(e->f.calls[A_BACKUP] + e->f.calls[A_LOGS], 0);

    expect_ls(c, "/cn-sh2", "sh");
    assert_string_equal(e->f.last[A_INSTANCES], "Region=cn-sh2,Zone=-,ClusterId=-");
    expect_ls(c, "/hk", "");
    assert_int_equal(e->f.calls[A_INSTANCES], 3);

    expect_dir(c, "/cn-bj2/orders", CAT_CLUSTER);
    expect_dir(c, "/cn-bj2/staging~udb-st2", CAT_CLUSTER);
    assert_int_equal(stat_rc(c, "/cn-bj2/staging"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-sh2/orders"), -ENOENT);
    assert_int_equal(e->f.bad_params, 0);
}

static void test_cluster_dir_content(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;

    /* Unfinished (running, failed, op-2) and unfinished log packages are hidden. */
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    assert_string_equal(e->f.last[A_BACKUP], "Region=cn-bj2,Zone=cn-bj2-02,ClusterId=udb-orders");
    assert_string_equal(e->f.last[A_LOGS], "Region=cn-bj2,Zone=cn-bj2-02,ClusterId=udb-orders");
    assert_int_equal(e->f.calls[A_BACKUP], 1);
    assert_int_equal(e->f.calls[A_LOGS], 1);

    /* mtime: EndTime, else StartTime. A ReplicaSet ignores BatchId. */
    expect_file(c, "/cn-bj2/orders/auto-1", CAT_BACKUP, true, 100, 2100);
    expect_file(c, "/cn-bj2/orders/auto-2", CAT_BACKUP, true, 200, 3000);
    expect_dir(c, "/cn-bj2/orders/oplog", CAT_OPLOGDIR);
    expect_dir(c, "/cn-bj2/orders/logs", CAT_LOGSDIR);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/running"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/failed"), -ENOENT);

    expect_ls(c, "/cn-bj2/orders/oplog", "op-1");
    expect_file(c, "/cn-bj2/orders/oplog/op-1", CAT_OPLOG, true, 10, 3600);
    expect_ls(c, "/cn-bj2/orders/logs", "slow-1");
    expect_file(c, "/cn-bj2/orders/logs/slow-1", CAT_LOG, true, 7, 2500);

    /* readdir's attributes are stat's. */
    assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), 0);
    const struct ent *a1 = find_ent(&d, "auto-1");
    assert_non_null(a1);
    struct cat_stat st = stat_ok(c, "/cn-bj2/orders/auto-1");
    assert_int_equal(a1->st.ino, st.ino);
    assert_int_equal(a1->st.size, 100);
    assert_int_equal(a1->st.mtime, 2100);
    assert_true(a1->st.readable);
    assert_true(find_ent(&d, "oplog")->st.is_dir);
    dirlist_free(&d);

    /* Nothing but the two cluster calls was needed. */
    assert_int_equal(e->f.calls[A_BACKUP], 1);
    assert_int_equal(e->f.calls[A_LOGS], 1);
    assert_int_equal(e->f.bad_params, 0);
}

static void test_oplog_logs_only_if_any(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    /* udb-an has neither; udb-st1 has only unfinished ones. */
    expect_ls(c, "/cn-bj2/analytics", "an-26|an-27|loose");
    fake_set(&e->f, A_BACKUP, "udb-st1",
             J("{'DataSet':[{'BackupId':'o1','BackupName':'o','State':'Backuping',"
               "'BackupType':'oplog'}]}"));
    fake_set(&e->f, A_LOGS, "udb-st1",
             J("{'DataSet':[{'Id':5,'Name':'l','State':'Package_Failed'}]}"));
    expect_ls(c, "/cn-bj2/staging~udb-st1", "");
    assert_int_equal(stat_rc(c, "/cn-bj2/staging~udb-st1/oplog"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/staging~udb-st1/logs"), -ENOENT);

    /* With show_all they are visible, and unreadable. */
    c = open_cat(e, 60, true, NULL);
    expect_ls(c, "/cn-bj2/staging~udb-st1", "logs|oplog");
    expect_file(c, "/cn-bj2/staging~udb-st1/oplog/o", CAT_OPLOG, false, 0, 0);
    expect_file(c, "/cn-bj2/staging~udb-st1/logs/l", CAT_LOG, false, 0, 0);
}

static void test_show_all(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, true, NULL);
    struct cat_object o;

    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|failed|logs|oplog|running");
    /* Unfinished: unreadable and size 0 whatever BackupSize says. */
    expect_file(c, "/cn-bj2/orders/failed", CAT_BACKUP, false, 0, 1600);
    expect_file(c, "/cn-bj2/orders/running", CAT_BACKUP, false, 0, 4000);
    expect_file(c, "/cn-bj2/orders/auto-1", CAT_BACKUP, true, 100, 2100);
    expect_ls(c, "/cn-bj2/orders/oplog", "op-1|op-2");
    expect_file(c, "/cn-bj2/orders/oplog/op-2", CAT_OPLOG, false, 0, 3700);
    expect_ls(c, "/cn-bj2/orders/logs", "err-1|slow-1");
    expect_file(c, "/cn-bj2/orders/logs/err-1", CAT_LOG, false, 0, 2600);
    expect_ls(c, "/cn-bj2/analytics/an-27", "udb-an-cfg|udb-an-shard0|udb-an-shard1");
    expect_file(c, "/cn-bj2/analytics/an-27/udb-an-shard1", CAT_BACKUP, false, 0, 6200);

    assert_int_equal(catalog_object(c, "/cn-bj2/orders/running", &o), 0);
    assert_false(o.readable);
    assert_string_equal(o.object_id, "bk-run");
    catalog_object_clear(&o);
}

static void test_sharded_batches(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct cat_object o;

    /* One directory per BatchId, named by BackupName; a backup without a
     * BatchId stays a file. */
    expect_ls(c, "/cn-bj2/analytics", "an-26|an-27|loose");
    expect_dir(c, "/cn-bj2/analytics/an-26", CAT_BATCH);
    expect_file(c, "/cn-bj2/analytics/loose", CAT_BACKUP, true, 5, 5500);
    /* One file per replica set, named by VirtualClusterId. */
    expect_ls(c, "/cn-bj2/analytics/an-26", "udb-an-cfg|udb-an-shard0|udb-an-shard1");
    expect_ls(c, "/cn-bj2/analytics/an-27", "udb-an-cfg|udb-an-shard0");
    expect_file(c, "/cn-bj2/analytics/an-26/udb-an-shard0", CAT_BACKUP, true, 12, 5200);
    expect_file(c, "/cn-bj2/analytics/an-27/udb-an-cfg", CAT_BACKUP, true, 21, 6100);
    assert_int_equal(stat_rc(c, "/cn-bj2/analytics/an-27/udb-an-shard1"), -ENOENT);
    assert_int_equal(e->f.calls[A_BACKUP], 1);

    assert_int_equal(catalog_object(c, "/cn-bj2/analytics/an-26/udb-an-shard1", &o), 0);
    assert_int_equal(o.kind, CAT_BACKUP);
    assert_string_equal(o.object_id, "bk-26-s1");
    assert_string_equal(o.cluster_id, "udb-an");
    assert_string_equal(o.zone, "cn-bj2-03");
    assert_string_equal(o.region, "cn-bj2");
    assert_int_equal(o.size, 13);
    catalog_object_clear(&o);
    assert_int_equal(catalog_object(c, "/cn-bj2/analytics/an-26", &o), -EISDIR);
}

static void test_sharded_naming(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    fake_set(&e->f, A_BACKUP, "udb-an",
             J("{'DataSet':["
               "{'BackupId':'b1','BackupName':'nightly','VirtualClusterId':'rs-a',"
               "'BatchId':'batch-1','State':'Success','BackupSize':1,'EndTime':10},"
               "{'BackupId':'b2','BackupName':'nightly','VirtualClusterId':'rs-b',"
               "'BatchId':'batch-1','State':'Success','BackupSize':2,'EndTime':20},"
               "{'BackupId':'b3','BackupName':'nightly','VirtualClusterId':'rs-a',"
               "'BatchId':'batch-2','State':'Success','BackupSize':3,'EndTime':30},"
               "{'BackupId':'b4','BackupName':'','VirtualClusterId':'rs-a',"
               "'BatchId':'batch-3','State':'Success','BackupSize':4,'EndTime':40},"
               "{'BackupId':'b5','BackupName':'odd','BatchId':'batch-4','State':'Success'},"
               "{'BackupId':'b6','BackupName':'odd','BatchId':'batch-4','State':'Success'},"
               "{'BackupId':'b7','BackupName':'op','BatchId':'batch-5','State':'Success',"
               "'BackupType':'oplog'},"
               "{'BackupId':'b8','BackupName':'nightly','State':'Success'},"
               "{'BackupId':'b9','BackupName':'x','BatchId':'','State':'Success'}]}"));
    /* Batches named alike get their BatchId; an unnamed batch is its BatchId;
     * an oplog backup goes to oplog/ even with a BatchId; an empty BatchId is none. */
    expect_ls(c, "/cn-bj2/analytics",
              "batch-3|nightly~b8|nightly~batch-1|nightly~batch-2|odd|oplog|x");
    expect_ls(c, "/cn-bj2/analytics/nightly~batch-1", "rs-a|rs-b");
    expect_ls(c, "/cn-bj2/analytics/batch-3", "rs-a");
    expect_ls(c, "/cn-bj2/analytics/oplog", "op");
    /* Without VirtualClusterId the files fall back to BackupName, made unique. */
    expect_ls(c, "/cn-bj2/analytics/odd", "odd~b5|odd~b6");
    expect_file(c, "/cn-bj2/analytics/nightly~batch-1/rs-b", CAT_BACKUP, true, 2, 20);
    expect_xattr(c, "/cn-bj2/analytics/nightly~batch-2/rs-a", "user.umongofs.batch_id", "batch-2");
}

static void test_name_collisions(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct cat_object o;

    fake_set(&e->f, A_BACKUP, "udb-st1",
             J("{'DataSet':["
               "{'BackupId':'bk-d1','BackupName':'dup','State':'Success','BackupSize':1},"
               "{'BackupId':'bk-u','BackupName':'uniq','State':'Success','BackupSize':2},"
               "{'BackupId':'bk-d2','BackupName':'dup','State':'Success','BackupSize':3}]}"));
    fake_set(&e->f, A_LOGS, "udb-st1",
             J("{'DataSet':[{'Id':1,'Name':'log','State':'Package_Success'},"
               "{'Id':2,'Name':'log','State':'Package_Success'}]}"));
    expect_ls(c, "/cn-bj2/staging~udb-st1", "dup~bk-d1|dup~bk-d2|logs|uniq");
    expect_ls(c, "/cn-bj2/staging~udb-st1/logs", "log~1|log~2");
    assert_int_equal(catalog_object(c, "/cn-bj2/staging~udb-st1/dup~bk-d2", &o), 0);
    assert_string_equal(o.object_id, "bk-d2");
    assert_int_equal(o.size, 3);
    catalog_object_clear(&o);
    assert_int_equal(catalog_object(c, "/cn-bj2/staging~udb-st1/logs/log~1", &o), 0);
    assert_string_equal(o.object_id, "1");
    catalog_object_clear(&o);
    /* The cluster collision resolves to the right clusters. */
    expect_xattr(c, "/cn-bj2/staging~udb-st1", "user.umongofs.cluster_id", "udb-st1");
    expect_xattr(c, "/cn-bj2/staging~udb-st2", "user.umongofs.cluster_id", "udb-st2");
}

static void test_reserved_names(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);

    /* "oplog" and "logs" are taken in every cluster directory, even before the
     * directories exist, so a backup's name does not change when they appear. */
    fake_set(&e->f, A_BACKUP, "udb-st1",
             J("{'DataSet':[{'BackupId':'bk-o','BackupName':'oplog','State':'Success'},"
               "{'BackupId':'bk-l','BackupName':'logs','State':'Success'}]}"));
    expect_ls(c, "/cn-bj2/staging~udb-st1", "logs~bk-l|oplog~bk-o");
    uint64_t ino = stat_ok(c, "/cn-bj2/staging~udb-st1/oplog~bk-o").ino;

    fake_set(&e->f, A_BACKUP, "udb-st1",
             J("{'DataSet':[{'BackupId':'bk-o','BackupName':'oplog','State':'Success'},"
               "{'BackupId':'bk-l','BackupName':'logs','State':'Success'},"
               "{'BackupId':'bk-r','BackupName':'oplog','State':'Success',"
               "'BackupType':'oplog'}]}"));
    fake_set(&e->f, A_LOGS, "udb-st1",
             J("{'DataSet':[{'Id':7,'Name':'logs','State':'Package_Success'}]}"));
    relist(c, "/cn-bj2/staging~udb-st1");
    expect_ls(c, "/cn-bj2/staging~udb-st1", "logs|logs~bk-l|oplog|oplog~bk-o");
    assert_int_equal(stat_ok(c, "/cn-bj2/staging~udb-st1/oplog~bk-o").ino, ino);
    expect_dir(c, "/cn-bj2/staging~udb-st1/oplog", CAT_OPLOGDIR);
    expect_dir(c, "/cn-bj2/staging~udb-st1/logs", CAT_LOGSDIR);
    /* Inside oplog/ and logs/ the names are not reserved. */
    expect_ls(c, "/cn-bj2/staging~udb-st1/oplog", "oplog");
    expect_ls(c, "/cn-bj2/staging~udb-st1/logs", "logs");
    expect_file(c, "/cn-bj2/staging~udb-st1/oplog/oplog", CAT_OPLOG, true, 0, 0);
}

/* Every name in the tree is a safe single path component. */
static void check_safe_name(const char *n)
{
    size_t len = strlen(n);
    assert_true(len >= 1 && len <= 255);
    assert_string_not_equal(n, ".");
    assert_string_not_equal(n, "..");
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        assert_true(*p != '/' && *p >= 0x20 && *p != 0x7f);
}

static void test_hostile_names(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;
    char longname[301], want_long[256];

    memset(longname, 'x', 300);
    longname[300] = '\0';
    memset(want_long, 'x', 255);
    want_long[255] = '\0';
    cJSON *arr, *j = dataset(&arr);
    cJSON_AddItemToArray(arr, cluster_obj("c-slash", "a/b", "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-ctl", "\x01tab\there\x7f", "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-dotdot", "..", "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-dot", ".", "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-empty", "", "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-null", NULL, "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-long", longname, "hk-01"));
    cJSON_AddItemToArray(arr, cluster_obj("c-nl", "line\nbreak", "hk-01"));
    fake_set(&e->f, A_INSTANCES, "hk", j);

    j = dataset(&arr);
    cJSON_AddItemToArray(arr,
                         backup_obj("bk-trav", "../../etc/passwd", "Success", "auto", 1, -1, 5));
    cJSON_AddItemToArray(arr, backup_obj("bk-slash", "/", "Success", "auto", 1, -1, 5));
    cJSON_AddItemToArray(arr, backup_obj("bk-empty", "", "Success", "auto", 1, -1, 5));
    fake_set(&e->f, A_BACKUP, "c-slash", j);

    assert_int_equal(list_dir(c, "/hk", &d), 0);
    assert_int_equal(d.n, 8);
    for (size_t i = 0; i < d.n; i++)
        check_safe_name(d.e[i].name);
    dirlist_free(&d);
    expect_dir(c, "/hk/a_b", CAT_CLUSTER);
    expect_dir(c, "/hk/_tab_here_", CAT_CLUSTER);
    expect_dir(c, "/hk/_..", CAT_CLUSTER);
    expect_dir(c, "/hk/_.", CAT_CLUSTER);
    expect_dir(c, "/hk/c-empty", CAT_CLUSTER); /* an empty name shows the id */
    expect_dir(c, "/hk/c-null", CAT_CLUSTER);
    expect_dir(c, "/hk/line_break", CAT_CLUSTER);
    char path[300];
    snprintf(path, sizeof(path), "/hk/%s", want_long);
    expect_dir(c, path, CAT_CLUSTER);
    /* The xattr keeps the name as the provider spells it. */
    expect_xattr(c, "/hk/a_b", "user.umongofs.name", "a/b");
    expect_xattr(c, "/hk/_..", "user.umongofs.cluster_id", "c-dotdot");
    assert_int_equal(stat_rc(c, "/hk/.."), -ENOENT);

    expect_ls(c, "/hk/a_b", ".._.._etc_passwd|_|bk-empty");
    assert_int_equal(list_dir(c, "/hk/a_b", &d), 0);
    for (size_t i = 0; i < d.n; i++)
        check_safe_name(d.e[i].name);
    dirlist_free(&d);
    struct cat_object o;
    assert_int_equal(catalog_object(c, "/hk/a_b/_", &o), 0);
    assert_string_equal(o.object_id, "bk-slash");
    catalog_object_clear(&o);
}

static void test_lookups(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;

    /* Straight to deep paths, nothing listed before. */
    expect_file(c, "/cn-bj2/orders/oplog/op-1", CAT_OPLOG, true, 10, 3600);
    expect_file(c, "/cn-bj2/analytics/an-26/udb-an-cfg", CAT_BACKUP, true, 11, 5100);
    expect_file(c, "/cn-bj2/orders/logs/slow-1", CAT_LOG, true, 7, 2500);

    assert_int_equal(stat_rc(c, "/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/CN-BJ2"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj"), -ENOENT); /* prefix of a name */
    assert_int_equal(stat_rc(c, "/cn-bj22"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/auto-"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/oplog/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/logs/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/analytics/an-26/nope"), -ENOENT);
    assert_int_equal(stat_rc(c, "/nope/deeper/still"), -ENOENT);

    /* Through a file. */
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/auto-1/x"), -ENOTDIR);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/oplog/op-1/x/y"), -ENOTDIR);
    assert_int_equal(list_dir(c, "/cn-bj2/orders/auto-1", &d), -ENOTDIR);
    dirlist_free(&d);
    assert_int_equal(list_dir(c, "/cn-bj2/nope", &d), -ENOENT);
    dirlist_free(&d);

    struct cat_object o;
    assert_int_equal(catalog_object(c, "/", &o), -EISDIR);
    assert_int_equal(catalog_object(c, "/cn-bj2", &o), -EISDIR);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/oplog", &o), -EISDIR);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/nope", &o), -ENOENT);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/auto-1/x", &o), -ENOTDIR);
    assert_null(o.region);
    assert_int_equal(catalog_getxattr(c, "/nope", "user.umongofs.region", NULL, 0), -ENOENT);
    assert_int_equal(catalog_listxattr(c, "/nope", NULL, 0), -ENOENT);
}

/* A fill that says "full" after the first entry gets no more. */
static int fill_one(void *ctx, const char *name, const struct cat_stat *st)
{
    (void)name;
    (void)st;
    unsigned *n = ctx;
    return ++*n >= 1;
}

static void test_fill_stops_walk(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    unsigned n = 0;

    assert_int_equal(catalog_readdir(c, "/cn-bj2", fill_one, &n), 0);
    assert_int_equal(n, 1);
}

static void test_object_identity(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct cat_object o;

    assert_int_equal(catalog_object(c, "/cn-bj2/orders/auto-1", &o), 0);
    assert_int_equal(o.kind, CAT_BACKUP);
    assert_string_equal(o.region, "cn-bj2");
    assert_string_equal(o.zone, "cn-bj2-02");
    assert_string_equal(o.cluster_id, "udb-orders");
    assert_string_equal(o.object_id, "bk-a1");
    assert_int_equal(o.size, 100);
    assert_true(o.readable);
    assert_false(o.size_verified);
    assert_int_equal(o.ino, stat_ok(c, "/cn-bj2/orders/auto-1").ino);
    catalog_object_clear(&o);
    assert_null(o.region);
    assert_null(o.object_id);

    assert_int_equal(catalog_object(c, "/cn-bj2/orders/oplog/op-1", &o), 0);
    assert_int_equal(o.kind, CAT_OPLOG);
    assert_string_equal(o.object_id, "bk-op1");
    assert_string_equal(o.cluster_id, "udb-orders");
    assert_string_equal(o.zone, "cn-bj2-02");
    assert_int_equal(o.size, 10);
    catalog_object_clear(&o);

    assert_int_equal(catalog_object(c, "/cn-bj2/orders/logs/slow-1", &o), 0);
    assert_int_equal(o.kind, CAT_LOG);
    assert_string_equal(o.object_id, "101");
    assert_string_equal(o.region, "cn-bj2");
    assert_string_equal(o.zone, "cn-bj2-02");
    assert_string_equal(o.cluster_id, "udb-orders");
    assert_int_equal(o.size, 7);
    catalog_object_clear(&o);

    assert_int_equal(catalog_object(c, "/cn-sh2/sh/sh-1", &o), 0);
    assert_string_equal(o.region, "cn-sh2");
    assert_string_equal(o.zone, "cn-sh2-01");
    catalog_object_clear(&o);
}

/* ---- inodes ---- */

static void test_inodes_stable_across_refresh(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, true, NULL);
    struct walk w1 = {0}, w2 = {0};

    walk_dir(c, "/", &w1);
    assert_int_equal(w1.n, 28);
    /* Unique and never 0 (nor the root's). */
    uint64_t root = stat_ok(c, "/").ino;
    for (size_t i = 0; i < w1.n; i++) {
        assert_true(w1.st[i].ino != 0 && w1.st[i].ino != root);
        for (size_t k = i + 1; k < w1.n; k++)
            assert_true(w1.st[i].ino != w1.st[k].ino);
    }
    catalog_settle(c);
    unsigned before = fake_total(&e->f);
    walk_dir(c, "/", &w2); /* served from the cache, refreshed behind */
    catalog_settle(c);
    assert_true(fake_total(&e->f) > before); /* dir_ttl=0 did refresh */
    walk_free(&w2);
    walk_dir(c, "/", &w2);
    assert_int_equal(w2.n, w1.n);
    for (size_t i = 0; i < w1.n; i++) {
        const struct cat_stat *s2 = walk_find(&w2, w1.path[i]);
        assert_non_null(s2);
        assert_int_equal(s2->ino, w1.st[i].ino);
    }
    assert_int_equal(stat_ok(c, "/").ino, root);
    walk_free(&w1);
    walk_free(&w2);
}

static void test_inode_survives_rename(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);

    uint64_t file = stat_ok(c, "/cn-bj2/orders/auto-1").ino;
    uint64_t cl = stat_ok(c, "/cn-bj2/orders").ino;
    /* Refreshes started above must not see the renames: relist() reaches
     * the cluster by its old name. */
    catalog_settle(c);
    fake_set(&e->f, A_BACKUP, "udb-orders",
             J("{'DataSet':[{'BackupId':'bk-a1','BackupName':'renamed','State':'Success',"
               "'BackupSize':100,'EndTime':2100}]}"));
    fake_set(&e->f, A_INSTANCES, "cn-bj2",
             J("{'DataSet':[{'ClusterId':'udb-orders','Name':'orders-v2','Zone':'cn-bj2-02',"
               "'ClusterType':'ReplicaSet'}]}"));
    relist(c, "/cn-bj2/orders/auto-1");
    assert_int_equal(stat_rc(c, "/cn-bj2/orders"), -ENOENT);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders-v2").ino, cl);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders-v2/auto-1"), -ENOENT);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders-v2/renamed").ino, file);
    expect_ls(c, "/cn-bj2/orders-v2", "logs|renamed");

    /* A collision appearing renames the entry; the inode stays. */
    fake_set(&e->f, A_BACKUP, "udb-orders",
             J("{'DataSet':[{'BackupId':'bk-a1','BackupName':'renamed','State':'Success'},"
               "{'BackupId':'bk-zz','BackupName':'renamed','State':'Success'}]}"));
    relist(c, "/cn-bj2/orders-v2");
    expect_ls(c, "/cn-bj2/orders-v2", "logs|renamed~bk-a1|renamed~bk-zz");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders-v2/renamed~bk-a1").ino, file);
}

static void test_inode_kept_when_entry_returns(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    struct cat_object o;

    uint64_t a1 = stat_ok(c, "/cn-bj2/orders/auto-1").ino;
    uint64_t st1 = stat_ok(c, "/cn-bj2/staging~udb-st1").ino;

    /* auto-1 leaves the listing: gone, and nothing breaks for holders of its inode. */
    fake_set(&e->f, A_BACKUP, "udb-orders", J("{'DataSet':[" ORDERS_REST "]}"));
    relist(c, "/cn-bj2/orders");
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/auto-1"), -ENOENT);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/auto-1", &o), -ENOENT);
    catalog_set_size(c, a1, 5);
    /* udb-st1 leaves its region. */
    fake_set(&e->f, A_INSTANCES, "cn-bj2",
             J("{'DataSet':[{'ClusterId':'udb-orders','Name':'orders','Zone':'cn-bj2-02'},"
               "{'ClusterId':'udb-st2','Name':'staging','Zone':'cn-bj2-03'}]}"));
    relist(c, "/cn-bj2");
    expect_ls(c, "/cn-bj2", "orders|staging");

    /* Both come back. */
    fake_set(&e->f, A_BACKUP, "udb-orders", J(DEMO_ORDERS));
    fake_set(&e->f, A_INSTANCES, "cn-bj2", J(DEMO_BJ2));
    relist(c, "/cn-bj2/orders");
    struct cat_stat back = stat_ok(c, "/cn-bj2/orders/auto-1");
    struct cat_stat back_cl = stat_ok(c, "/cn-bj2/staging~udb-st1");
    print_message("auto-1: inode %llu, back as %llu; staging~udb-st1: %llu, back as %llu\n",
                  (unsigned long long)a1, (unsigned long long)back.ino, (unsigned long long)st1,
                  (unsigned long long)back_cl.ino);
    assert_int_equal(back.ino, a1);
    assert_int_equal(back_cl.ino, st1);
}

/* ---- API economy and caching ---- */

static void test_api_economy_ttl(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, true, NULL);
    struct walk w = {0};
    unsigned n1[A_COUNT], n2[A_COUNT];
    struct cat_object o;
    char buf[4096];

    walk_dir(c, "/", &w);
    fake_calls(&e->f, n1);
    /* One call per directory listing: 1 root, 3 regions, 5 clusters x 2. */
    assert_int_equal(n1[A_REGION], 1);
    assert_int_equal(n1[A_INSTANCES], 3);
    assert_int_equal(n1[A_BACKUP], 5);
    assert_int_equal(n1[A_LOGS], 5);
    assert_int_equal(n1[A_OTHER], 0);

    /* A second full walk, plus objects and xattrs, costs nothing. */
    walk_free(&w);
    walk_dir(c, "/", &w);
    for (size_t i = 0; i < w.n; i++) {
        assert_true(catalog_listxattr(c, w.path[i], buf, sizeof(buf)) >= 0);
        if (!w.st[i].is_dir) {
            assert_int_equal(catalog_object(c, w.path[i], &o), 0);
            catalog_object_clear(&o);
        }
    }
    fake_calls(&e->f, n2);
    assert_memory_equal(n1, n2, sizeof(n1));

    /* catalog_invalidate: exactly one more call per listing (made in the
     * background: the walk itself is answered from the cache). */
    catalog_invalidate(c);
    walk_free(&w);
    walk_dir(c, "/", &w);
    catalog_settle(c);
    fake_calls(&e->f, n2);
    for (int a = 0; a < A_OTHER; a++)
        assert_int_equal(n2[a], 2 * n1[a]);
    walk_free(&w);

    /* dir_ttl=0: every walk lists again. */
    c = open_cat(e, 0, true, NULL);
    walk_dir(c, "/", &w);
    catalog_settle(c);
    fake_calls(&e->f, n1);
    walk_free(&w);
    walk_dir(c, "/", &w);
    catalog_settle(c);
    fake_calls(&e->f, n2);
    for (int a = 0; a < A_OTHER; a++)
        assert_true(n2[a] > n1[a]);
    walk_free(&w);
    assert_int_equal(e->f.bad_params, 0);
}

static void test_refresh_failure_serves_old(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    static const int errs[] = {-EIO, -EACCES, -ENOENT};

    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    uint64_t ino = stat_ok(c, "/cn-bj2/orders/auto-1").ino;
    for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++) {
        for (int a = 0; a < A_OTHER; a++) {
            catalog_settle(c);
            unsigned before = fake_total(&e->f);
            fake_fail(&e->f, (enum action)a, errs[k]);
            relist(c, "/cn-bj2/orders/oplog"); /* refreshes that fail */
            expect_ls(c, "/", "cn-bj2|cn-sh2|hk");
            expect_ls(c, "/cn-bj2", "analytics|orders|staging~udb-st1|staging~udb-st2");
            expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
            expect_ls(c, "/cn-bj2/orders/oplog", "op-1");
            assert_int_equal(stat_ok(c, "/cn-bj2/orders/auto-1").ino, ino);
            catalog_settle(c);
            fake_fail(&e->f, (enum action)a, 0);
            assert_true(fake_total(&e->f) > before); /* it did try */
        }
    }
    /* A malformed answer in a refresh is a failure too. */
    fake_set(&e->f, A_BACKUP, "udb-orders", J("{'RetCode':0,'DataSet':{}}"));
    relist(c, "/cn-bj2/orders");
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    /* And a good one is taken again. */
    fake_set(&e->f, A_BACKUP, "udb-orders", J("{'DataSet':[" ORDERS_A1 "]}"));
    relist(c, "/cn-bj2/orders");
    expect_ls(c, "/cn-bj2/orders", "auto-1|logs");
}

/* A first listing gets the API client's full retry schedule; a refresh with
 * an older listing to fall back on asks for a single attempt. */
static void test_stale_refresh_is_quick(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    catalog_settle(c);
    for (int a = 0; a < A_OTHER; a++)
        assert_int_equal(e->f.quick[a], 0);
    relist(c, "/cn-bj2/orders"); /* refreshes, in the background */
    assert_true(e->f.quick[A_REGION] > 0);
    assert_true(e->f.quick[A_INSTANCES] > 0);
    assert_true(e->f.quick[A_BACKUP] > 0);
    assert_true(e->f.quick[A_LOGS] > 0);
}

static void test_first_listing_failure(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;
    struct cat_object o;

    fake_fail(&e->f, A_REGION, -EACCES);
    assert_int_equal(list_dir(c, "/", &d), -EACCES);
    dirlist_free(&d);
    assert_int_equal(stat_rc(c, "/cn-bj2"), -EACCES);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/auto-1"), -EACCES);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/auto-1", &o), -EACCES);
    assert_int_equal(catalog_getxattr(c, "/cn-bj2", "user.umongofs.region", NULL, 0), -EACCES);
    expect_dir(c, "/", CAT_ROOT); /* the root itself needs no listing */
    /* A failure is not cached. */
    fake_fail(&e->f, A_REGION, 0);
    expect_ls(c, "/", "cn-bj2|cn-sh2|hk");

    fake_fail(&e->f, A_INSTANCES, -EIO);
    assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
    dirlist_free(&d);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders"), -EIO);
    expect_dir(c, "/cn-bj2", CAT_REGION);
    fake_fail(&e->f, A_INSTANCES, 0);

    fake_fail(&e->f, A_BACKUP, -EIO);
    assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), -EIO);
    dirlist_free(&d);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/auto-1"), -EIO);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/oplog/op-1"), -EIO);
    fake_fail(&e->f, A_BACKUP, 0);
    /* Either of the two cluster calls failing fails the listing, except a
     * permission refusal of the log packages alone: backups without logs/. */
    fake_fail(&e->f, A_LOGS, -EIO);
    assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), -EIO);
    dirlist_free(&d);
    fake_fail(&e->f, A_LOGS, -EACCES);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|oplog");
    fake_fail(&e->f, A_LOGS, 0);
    catalog_invalidate(c);
    relist(c, "/cn-bj2/orders");
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
}

/* The provider leaves an empty list out of its answer, or sends null: empty
 * directories (a region without clusters, a cluster without backups) and no
 * logs/ for a cluster without log packages; never EIO. */
static void test_missing_list_is_empty(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    static const char *const empty[] = {"{'RetCode':0}", "{'RetCode':'0','DataSet':null}",
                                        "{'RetCode':0,'TotalCount':0}"};

    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        fake_set(&e->f, A_INSTANCES, "cn-sh2", J(empty[i]));
        relist(c, "/cn-sh2");
        expect_ls(c, "/cn-sh2", "");
        fake_set(&e->f, A_LOGS, "udb-orders", J(empty[i]));
        relist(c, "/cn-bj2/orders");
        expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|oplog");
        fake_set(&e->f, A_BACKUP, "udb-orders", J(empty[i]));
        relist(c, "/cn-bj2/orders");
        expect_ls(c, "/cn-bj2/orders", "");
        fake_set(&e->f, A_BACKUP, "udb-orders", J(DEMO_ORDERS));
        fake_set(&e->f, A_LOGS, "udb-orders", J(DEMO_ORDERS_LOGS));
        relist(c, "/cn-bj2/orders");
        expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    }
    fake_set(&e->f, A_REGION, NULL, J("{'RetCode':0}"));
    relist(c, "/");
    expect_ls(c, "/", "");
}

static void test_malformed_answers(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    struct dirlist d;
    static const char *const bad[] = {"{'DataSet':0,'Regions':0}",
                                      "{'DataSet':{},'Regions':{}}",
                                      "{'DataSet':'x','Regions':'x'}",
                                      "{'Regions':true,'DataSet':true}",
                                      "[]",
                                      "7"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_set(&e->f, A_REGION, NULL, J(bad[i]));
        assert_int_equal(list_dir(c, "/", &d), -EIO);
        dirlist_free(&d);
    }
    /* rc 0 but no answer at all: beyond the contract, still no crash. */
    fake_set(&e->f, A_REGION, NULL, NULL);
    assert_int_equal(list_dir(c, "/", &d), -EIO);
    dirlist_free(&d);
    fake_set(&e->f, A_REGION, NULL, J(DEMO_REGIONS));

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_set(&e->f, A_INSTANCES, "cn-sh2", J(bad[i]));
        assert_int_equal(list_dir(c, "/cn-sh2", &d), -EIO);
        dirlist_free(&d);
        fake_set(&e->f, A_BACKUP, "udb-orders", J(bad[i]));
        assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), -EIO);
        dirlist_free(&d);
        fake_set(&e->f, A_BACKUP, "udb-orders", J(DEMO_ORDERS));
        fake_set(&e->f, A_LOGS, "udb-orders", J(bad[i]));
        assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), -EIO);
        dirlist_free(&d);
        fake_set(&e->f, A_LOGS, "udb-orders", J(DEMO_ORDERS_LOGS));
    }

    /* Broken entries cost only themselves; types drift. */
    fake_set(&e->f, A_BACKUP, "udb-orders",
             J("{'DataSet':[1,'x',null,[],{},{'BackupId':'../x','BackupName':'evil',"
               "'State':'Success'},{'BackupId':7,'BackupName':'num-id','State':'Success'},"
               "{'BackupId':'ok','BackupName':'fine','State':'Success','BackupSize':'123',"
               "'EndTime':'99'},{'BackupId':'neg','BackupName':'neg','State':'Success',"
               "'BackupSize':-5,'StartTime':-1,'EndTime':'soon'},"
               "{'BackupId':'nostate','BackupName':'nostate'}]}"));
    expect_ls(c, "/cn-bj2/orders", "fine|logs|neg|num-id");
    expect_file(c, "/cn-bj2/orders/fine", CAT_BACKUP, true, 123, 99);
    expect_file(c, "/cn-bj2/orders/neg", CAT_BACKUP, true, 0, 0);
    assert_int_equal(stat_rc(c, "/cn-bj2/orders/nostate"), -ENOENT);
}

static void test_set_size(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    struct cat_object o;
    struct dirlist d;

    struct cat_stat st = stat_ok(c, "/cn-bj2/orders/auto-1");
    assert_int_equal(st.size, 100);
    catalog_set_size(c, st.ino, 12345);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/auto-1").size, 12345);
    assert_int_equal(catalog_object(c, "/cn-bj2/orders/auto-1", &o), 0);
    assert_int_equal(o.size, 12345);
    assert_true(o.size_verified);
    catalog_object_clear(&o);

    /* dir_ttl=0: the listing (still saying 100) is re-read each time. */
    assert_int_equal(list_dir(c, "/cn-bj2/orders", &d), 0);
    assert_int_equal(find_ent(&d, "auto-1")->st.size, 12345);
    assert_int_equal(find_ent(&d, "auto-2")->st.size, 200);
    dirlist_free(&d);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/auto-1").size, 12345);
    /* Also to 0, the length of an empty object. */
    uint64_t op = stat_ok(c, "/cn-bj2/orders/oplog/op-1").ino;
    catalog_set_size(c, op, 0);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/oplog/op-1").size, 0);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/oplog/op-1").size, 0);

    /* Inodes that are not files are ignored. */
    uint64_t dir = stat_ok(c, "/cn-bj2/orders").ino;
    catalog_set_size(c, dir, 77);
    catalog_set_size(c, 0, 77);
    catalog_set_size(c, UINT64_MAX, 77);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").size, 0);
}

/* ---- xattrs ---- */

static void test_getxattr(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    char buf[64];

    expect_xattr(c, "/cn-bj2", "user.umongofs.region", "cn-bj2");
    assert_int_equal(catalog_getxattr(c, "/cn-bj2", "user.umongofs.region", buf, 6), 6);
    assert_memory_equal(buf, "cn-bj2", 6);
    assert_int_equal(catalog_getxattr(c, "/cn-bj2", "user.umongofs.region", buf, 5), -ERANGE);
    assert_int_equal(catalog_getxattr(c, "/cn-bj2", "user.umongofs.region", buf, 1), -ERANGE);
    static const char *const unknown[] = {
        "user.umongofs.nope",  "user.umongofs.regio",     "user.umongofs.regionx",
        "user.umongofs.",      "user.umongofs",           "region",
        "user.region",         "trusted.umongofs.region", "",
        "USER.UMONGOFS.REGION"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(catalog_getxattr(c, "/cn-bj2", unknown[i], buf, sizeof(buf)), -ENODATA);
        assert_int_equal(catalog_getxattr(c, "/cn-bj2", unknown[i], NULL, 0), -ENODATA);
    }
    /* A backup's attribute is not the region's. */
    assert_int_equal(catalog_getxattr(c, "/cn-bj2", "user.umongofs.backup_id", NULL, 0), -ENODATA);

    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.cluster_id", "udb-orders");
    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.name", "orders");
    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.zone", "cn-bj2-02");
    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.db_version", "MongoDB-4.2");
    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.cluster_type", "ReplicaSet");
    expect_xattr(c, "/cn-bj2/orders", "user.umongofs.state", "Running");
    expect_xattr(c, "/cn-bj2/analytics", "user.umongofs.cluster_type", "SharedCluster");

    const char *f = "/cn-bj2/orders/auto-1";
    expect_xattr(c, f, "user.umongofs.backup_id", "bk-a1");
    expect_xattr(c, f, "user.umongofs.cluster_id", "udb-orders");
    expect_xattr(c, f, "user.umongofs.name", "auto-1");
    expect_xattr(c, f, "user.umongofs.zone", "cn-bj2-02");
    expect_xattr(c, f, "user.umongofs.type", "auto");
    expect_xattr(c, f, "user.umongofs.state", "Success");
    expect_xattr(c, f, "user.umongofs.start_time", "2000");
    expect_xattr(c, f, "user.umongofs.end_time", "2100");
    /* Zone falls back to the cluster's when the backup does not say. */
    expect_xattr(c, "/cn-bj2/orders/auto-2", "user.umongofs.zone", "cn-bj2-02");
    expect_xattr(c, "/cn-bj2/orders/oplog/op-1", "user.umongofs.type", "oplog");

    f = "/cn-bj2/orders/logs/slow-1";
    expect_xattr(c, f, "user.umongofs.package_id", "101");
    expect_xattr(c, f, "user.umongofs.package_type", "SlowLog");
    expect_xattr(c, f, "user.umongofs.node_id", "node-1");

    f = "/cn-bj2/analytics/an-26/udb-an-shard0";
    expect_xattr(c, f, "user.umongofs.batch_id", "batch-26");
    expect_xattr(c, f, "user.umongofs.name", "an-26");
    expect_xattr(c, f, "user.umongofs.zone", "cn-bj2-03");
}

/* What the service knows beyond the basics: the cluster's address without
 * its credentials, the restore space and the backup method, where present;
 * numbers as strings like the provider's SDK accepts them. */
static void test_service_xattrs(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    fake_set(&e->f, A_INSTANCES, "cn-sh2",
             J("{'RetCode':'0','DataSet':[{'ClusterId':'udb-sh','Name':'sh','Zone':'cn-sh2-01',"
               "'State':'Running','CreateTime':'1000',"
               "'ConnectURL':'mongodb://root:s3cret@10.9.1.20:27017/admin',"
               "'IPv6ConnectURL':'mongodb://[fd00::1]:27017/'}]}"));
    fake_set(&e->f, A_BACKUP, "udb-sh",
             J("{'RetCode':'0','DataSet':[{'BackupId':'b1','BackupName':'full','State':'Success',"
               "'BackupSize':'700','DiskSize':'3500','BackupMethod':'logical','EndTime':'9'},"
               "{'BackupId':'b2','BackupName':'bare','State':'Success'}]}"));
    expect_xattr(c, "/cn-sh2/sh", "user.umongofs.connect_url", "mongodb://10.9.1.20:27017/admin");
    expect_xattr(c, "/cn-sh2/sh", "user.umongofs.ipv6_connect_url", "mongodb://[fd00::1]:27017/");
    expect_xattr(c, "/cn-sh2/sh", "user.umongofs.state", "Running");
    expect_file(c, "/cn-sh2/sh/full", CAT_BACKUP, true, 700, 9);
    expect_xattr(c, "/cn-sh2/sh/full", "user.umongofs.disk_size", "3500");
    expect_xattr(c, "/cn-sh2/sh/full", "user.umongofs.backup_method", "logical");
    expect_xattr_names(c, "/cn-sh2/sh/bare", "backup_id|cluster_id|name|zone|state");
    expect_xattr_names(c, "/cn-sh2/sh", "cluster_id|name|zone|state|connect_url|ipv6_connect_url");

    /* The cluster's identity for the restore-window xattrs; nothing else has one. */
    struct cat_object cl;
    assert_int_equal(catalog_cluster(c, "/cn-sh2/sh", &cl), 0);
    assert_int_equal(cl.kind, CAT_CLUSTER);
    assert_string_equal(cl.cluster_id, "udb-sh");
    assert_string_equal(cl.zone, "cn-sh2-01");
    assert_string_equal(cl.region, "cn-sh2");
    catalog_object_clear(&cl);
    assert_int_equal(catalog_cluster(c, "/cn-sh2", &cl), -ENODATA);
    assert_int_equal(catalog_cluster(c, "/cn-sh2/sh/full", &cl), -ENODATA);
    assert_int_equal(catalog_cluster(c, "/cn-sh2/nope", &cl), -ENOENT);
}

static void test_listxattr(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    /* The README's xattr table ("Names, attributes, errors"), which lists
     * replica_type and virtual_cluster_id for backups and name, role, state
     * and cluster_id for log packages. */
    expect_xattr_names(c, "/cn-bj2", "region");
    expect_xattr_names(c, "/cn-bj2/orders", "cluster_id|name|zone|db_version|cluster_type|state");
    expect_xattr_names(c, "/cn-bj2/analytics/an-26/udb-an-shard0",
                       "backup_id|cluster_id|name|zone|type|state|start_time|end_time|batch_id|"
                       "replica_type|virtual_cluster_id");
    expect_xattr_names(c, "/cn-bj2/orders/logs/slow-1",
                       "package_id|package_type|node_id|name|role|state|cluster_id");
    /* Optional ones are left out when the listing lacks them: no EndTime, no
     * BatchId, and a ReplicaSet cluster's BatchId is still shown as given. */
    expect_xattr_names(c, "/cn-bj2/orders/auto-2",
                       "backup_id|cluster_id|name|zone|type|state|start_time");
    expect_xattr_names(c, "/cn-bj2/orders/auto-1",
                       "backup_id|cluster_id|name|zone|type|state|start_time|end_time|batch_id");
    /* A cluster missing everything optional still has its id and name. */
    expect_xattr_names(c, "/cn-sh2/sh", "cluster_id|name|zone|cluster_type");
}

/* ---- mtimes, duplicates, size ---- */

static void test_dir_mtime_newest_child(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/oplog").mtime, 3600);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/logs").mtime, 2500);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 3600);
    expect_ls(c, "/cn-bj2/analytics", "an-26|an-27|loose");
    assert_int_equal(stat_ok(c, "/cn-bj2/analytics/an-26").mtime, 5200);
    assert_int_equal(stat_ok(c, "/cn-bj2/analytics/an-27").mtime, 6300);
    assert_int_equal(stat_ok(c, "/cn-bj2/analytics").mtime, 6300);
    /* No children: the cluster's CreateTime. */
    expect_ls(c, "/cn-bj2/staging~udb-st2", "");
    assert_int_equal(stat_ok(c, "/cn-bj2/staging~udb-st2").mtime, 1000);

    c = open_cat(e, 60, true, NULL);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|failed|logs|oplog|running");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 4000);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/oplog").mtime, 3700);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders/logs").mtime, 2600);

    /* The cluster's time survives a refresh of its region (fixed in 0fc6bd5),
     * and the region shows its newest cluster's. */
    c = open_cat(e, 60, false, NULL);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    expect_ls(c, "/cn-bj2/analytics", "an-26|an-27|loose");
    assert_int_equal(stat_ok(c, "/cn-bj2").mtime, 6300);
    catalog_invalidate(c);
    relist(c, "/cn-bj2");
    expect_ls(c, "/cn-bj2", "analytics|orders|staging~udb-st1|staging~udb-st2");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 3600);
    assert_int_equal(stat_ok(c, "/cn-bj2/analytics").mtime, 6300);
    assert_int_equal(stat_ok(c, "/cn-bj2").mtime, 6300);

    /* dir_ttl=0: every stat re-lists the region; the newest child leaving
     * makes the next one the directory's time. */
    c = open_cat(e, 0, false, NULL);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 3600);
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 3600);
    fake_set(&e->f, A_BACKUP, "udb-orders", J("{'DataSet':[" ORDERS_A1 "]}"));
    relist(c, "/cn-bj2/orders");
    expect_ls(c, "/cn-bj2/orders", "auto-1|logs");
    assert_int_equal(stat_ok(c, "/cn-bj2/orders").mtime, 2500);
}

static void test_duplicate_ids(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);

    fake_set(&e->f, A_INSTANCES, "cn-sh2",
             J("{'DataSet':[{'ClusterId':'udb-sh','Name':'sh','Zone':'cn-sh2-01'},"
               "{'ClusterId':'udb-sh','Name':'sh','Zone':'cn-sh2-01'}]}"));
    fake_set(&e->f, A_BACKUP, "udb-orders",
             J("{'DataSet':[" ORDERS_A1 "," ORDERS_A1 "," ORDERS_REST "," ORDERS_REST "]}"));
    fake_set(&e->f, A_LOGS, "udb-orders",
             J("{'DataSet':[{'Id':101,'Name':'slow-1','State':'Package_Success'},"
               "{'Id':101,'Name':'slow-1','State':'Package_Success'}]}"));
    expect_ls(c, "/cn-sh2", "sh");
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    expect_ls(c, "/cn-bj2/orders/oplog", "op-1");
    expect_ls(c, "/cn-bj2/orders/logs", "slow-1");

    /* The same inside a batch of a sharded cluster. */
    fake_set(&e->f, A_BACKUP, "udb-an", J("{'DataSet':[" AN_26_S0 "," AN_26_S0 "]}"));
    struct dirlist d;
    assert_int_equal(list_dir(c, "/cn-bj2/analytics/an-26", &d), 0);
    assert_int_equal(d.n, 1);
    dirlist_free(&d);
    expect_ls(c, "/cn-bj2/analytics/an-26", "udb-an-shard0");
}

static void test_many_backups(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    enum { N = 5000 };
    struct dirlist d;

    cJSON *arr, *j = dataset(&arr);
    /* Reverse order, and every 100th one named "same". */
    for (int i = N - 1; i >= 0; i--) {
        char id[32], name[32];
        snprintf(id, sizeof(id), "bk-%05d", i);
        snprintf(name, sizeof(name), "backup-%05d", i);
        cJSON_AddItemToArray(arr, backup_obj(id, i % 100 ? name : "same", "Success", "auto", i + 1,
                                             100000 + i, 200000 + i));
    }
    fake_set(&e->f, A_BACKUP, "udb-st2", j);

    assert_int_equal(list_dir(c, "/cn-bj2/staging~udb-st2", &d), 0);
    assert_int_equal(d.n, N);
    for (size_t i = 0; i < d.n; i++)
        for (size_t k = i + 1; k < d.n && k < i + 2; k++)
            assert_true(strcmp(d.e[i].name, d.e[k].name) != 0);
    dirlist_free(&d);
    for (int i = 0; i < N; i++) {
        char path[128], id[32];
        snprintf(id, sizeof(id), "bk-%05d", i);
        if (i % 100)
            snprintf(path, sizeof(path), "/cn-bj2/staging~udb-st2/backup-%05d", i);
        else
            snprintf(path, sizeof(path), "/cn-bj2/staging~udb-st2/same~%s", id);
        struct cat_stat st = stat_ok(c, path);
        assert_int_equal(st.size, (uint64_t)i + 1);
        assert_int_equal(st.mtime, 200000 + i);
        if (i % 499 == 0) {
            struct cat_object o;
            assert_int_equal(catalog_object(c, path, &o), 0);
            assert_string_equal(o.object_id, id);
            catalog_object_clear(&o);
        }
    }
    assert_int_equal(stat_ok(c, "/cn-bj2/staging~udb-st2").mtime, 200000 + N - 1);
    assert_int_equal(stat_rc(c, "/cn-bj2/staging~udb-st2/same"), -ENOENT);
    assert_int_equal(stat_rc(c, "/cn-bj2/staging~udb-st2/backup-05000"), -ENOENT);
    assert_int_equal(e->f.calls[A_BACKUP], 1);
}

/* ---- stale while revalidate, and an API that stops answering ---- */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct cached_walk {
    struct catalog *c;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    unsigned bad;
};

/* Everything a cached cluster answers: listings, stat, object, xattrs. */
static void *cached_walk_main(void *arg)
{
    struct cached_walk *w = arg;
    struct cat_object o;
    struct dirlist d;
    char buf[256];
    unsigned bad = 0;
    for (int i = 0; i < 20; i++) {
        bad += list_dir(w->c, "/cn-bj2/orders", &d) != 0 || d.n != 4;
        dirlist_free(&d);
        bad += stat_rc(w->c, "/cn-bj2/orders/oplog/op-1") != 0;
        bad += catalog_object(w->c, "/cn-bj2/orders/auto-1", &o) != 0;
        catalog_object_clear(&o);
        bad += catalog_getxattr(w->c, "/cn-bj2/orders/auto-1", "user.umongofs.backup_id", buf,
                                sizeof(buf)) != 5;
    }
    pthread_mutex_lock(&w->lock);
    w->bad = bad;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Runs cached_walk_main in a thread; true when it finished within limit
 * seconds. Otherwise the API is let answer (fake_hold off), so the walk ends
 * before the test does: a broken catalog fails the test, never hangs it. */
static bool cached_walk(struct env *e, double limit, unsigned *bad)
{
    struct cached_walk w = {.c = e->c};
    pthread_t th;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    assert_int_equal(pthread_create(&th, NULL, cached_walk_main, &w), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)limit;
    pthread_mutex_lock(&w.lock);
    while (!w.done && pthread_cond_timedwait(&w.cond, &w.lock, &until) == 0)
        ;
    bool done = w.done;
    pthread_mutex_unlock(&w.lock);
    if (!done)
        fake_hold(&e->f, false);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    *bad = w.bad;
    return done;
}

/* A cached directory is answered at once, stale or not, while its refresh
 * hangs on an API that never answers; each stale directory gets one
 * refresh at a time; the new listing shows once the answer comes. */
static void test_stale_served_while_api_hangs(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    unsigned before[A_COUNT], now[A_COUNT], bad = 0;

    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    catalog_settle(c);
    fake_calls(&e->f, before);
    fake_set(&e->f, A_BACKUP, "udb-orders",
             J("{'DataSet':[{'BackupId':'bk-a1','BackupName':'renamed','State':'Success'}]}"));
    fake_hold(&e->f, true);
    double t0 = mono();
    bool done = cached_walk(e, 20, &bad);
    double took = mono() - t0;
    print_message("80 cached lookups with the API hanging: %.3f s\n", took);
    assert_true(done);
    assert_int_equal(bad, 0);
    /* One refresh per stale directory (root, region, cluster), not one per access. */
    for (double t = mono(); fake_held(&e->f) < 3 && mono() - t < 10;)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    fake_calls(&e->f, now);
    assert_int_equal(now[A_REGION] - before[A_REGION], 1);
    assert_int_equal(now[A_INSTANCES] - before[A_INSTANCES], 1);
    assert_int_equal(now[A_BACKUP] - before[A_BACKUP], 1);
    assert_int_equal(now[A_LOGS], before[A_LOGS]); /* the cluster's second call is yet to come */
    fake_hold(&e->f, false);
    catalog_settle(c);
    expect_ls(c, "/cn-bj2/orders", "logs|renamed");
}

static struct catalog *open_cat_breaker(struct env *e, unsigned ttl)
{
    catalog_free(&e->c);
    struct catalog_opts o = {
        .source = {fake_call, &e->f}, .dir_ttl = ttl, .breaker_failures = 3, .breaker_cooldown = 1};
    e->c = catalog_new(&o);
    assert_non_null(e->c);
    return e->c;
}

static bool api_down(struct catalog *c)
{
    struct catalog_counts n;
    catalog_counts(c, &n);
    return n.api_down;
}

static unsigned calls_of(struct fake *f, enum action a)
{
    unsigned n[A_COUNT];
    fake_calls(f, n);
    return n[a];
}

/* Past the breaker's cooldown (1 s, counted in whole seconds). */
static void after_cooldown(void)
{
    nanosleep(&(struct timespec){2, 100000000}, NULL);
}

/* Calls that get no answer (-ETIMEDOUT) open the breaker after 3 in a row:
 * then cold listings fail at once without a call, cached ones are served
 * without a refresh; one probe per cooldown; an answer closes it. */
static void test_breaker_fails_cold_listings_fast(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat_breaker(e, 60);
    struct dirlist d;

    expect_ls(c, "/", "cn-bj2|cn-sh2|hk");
    fake_fail(&e->f, A_INSTANCES, -ETIMEDOUT);
    for (unsigned k = 1; k <= 3; k++) {
        assert_false(api_down(c));
        assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
        dirlist_free(&d);
        assert_int_equal(calls_of(&e->f, A_INSTANCES), k);
        /* After the first call without an answer, one attempt each. */
        assert_int_equal(e->f.quick[A_INSTANCES], k - 1);
    }
    assert_true(api_down(c));
    /* Open: cold listings fail without asking the API at all... */
    assert_int_equal(list_dir(c, "/hk", &d), -EIO);
    dirlist_free(&d);
    assert_int_equal(stat_rc(c, "/cn-sh2/sh"), -EIO);
    assert_int_equal(calls_of(&e->f, A_INSTANCES), 3);
    /* ...and stale listings are served without a refresh. */
    catalog_invalidate(c);
    expect_ls(c, "/", "cn-bj2|cn-sh2|hk");
    catalog_settle(c);
    assert_int_equal(calls_of(&e->f, A_REGION), 1);

    /* Cooldown over: one probe; it fails, so the breaker stays open. */
    after_cooldown();
    assert_int_equal(list_dir(c, "/hk", &d), -EIO);
    dirlist_free(&d);
    assert_int_equal(calls_of(&e->f, A_INSTANCES), 4);
    assert_int_equal(list_dir(c, "/hk", &d), -EIO);
    dirlist_free(&d);
    assert_int_equal(calls_of(&e->f, A_INSTANCES), 4);
    assert_true(api_down(c));

    /* The API answers again: the next probe closes it. */
    fake_fail(&e->f, A_INSTANCES, 0);
    after_cooldown();
    expect_ls(c, "/hk", "");
    assert_false(api_down(c));
    expect_ls(c, "/cn-bj2", "analytics|orders|staging~udb-st1|staging~udb-st2");
    assert_int_equal(calls_of(&e->f, A_INSTANCES), 6);
}

/* An API that answers, even with errors, is up: no breaker. */
static void test_breaker_ignores_error_answers(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat_breaker(e, 60);
    struct dirlist d;

    expect_ls(c, "/", "cn-bj2|cn-sh2|hk");
    fake_fail(&e->f, A_INSTANCES, -EIO);
    for (unsigned k = 1; k <= 6; k++) {
        assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
        dirlist_free(&d);
        assert_int_equal(calls_of(&e->f, A_INSTANCES), k);
    }
    assert_false(api_down(c));
    assert_int_equal(e->f.quick[A_INSTANCES], 0); /* full retry schedule each time */
    /* Two calls without an answer, then one with: the count starts over. */
    fake_fail(&e->f, A_INSTANCES, -ETIMEDOUT);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
        dirlist_free(&d);
    }
    fake_fail(&e->f, A_INSTANCES, -EIO);
    assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
    dirlist_free(&d);
    fake_fail(&e->f, A_INSTANCES, -ETIMEDOUT);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(list_dir(c, "/cn-bj2", &d), -EIO);
        dirlist_free(&d);
    }
    assert_false(api_down(c));
}

/* Background refreshes count too: stale directories whose refreshes get no
 * answer open the breaker, and a background probe closes it again. */
static void test_breaker_from_background_refreshes(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat_breaker(e, 0);
    struct dirlist d;

    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    catalog_settle(c);
    for (int a = 0; a < A_OTHER; a++)
        fake_fail(&e->f, (enum action)a, -ETIMEDOUT);
    /* Three stale directories on the way: three refreshes, none answered. */
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    catalog_settle(c);
    assert_true(api_down(c));
    unsigned total = fake_total(&e->f);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    assert_int_equal(list_dir(c, "/cn-bj2/analytics", &d), -EIO); /* cold */
    dirlist_free(&d);
    catalog_settle(c);
    assert_int_equal(fake_total(&e->f), total);
    for (int a = 0; a < A_OTHER; a++)
        fake_fail(&e->f, (enum action)a, 0);
    after_cooldown();
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog"); /* kicks the probe */
    catalog_settle(c);
    assert_false(api_down(c));
    expect_ls(c, "/cn-bj2/analytics", "an-26|an-27|loose");
}

/* The daemon forks (fuse_daemonize) after catalog_new: the child must get
 * refresh threads of its own, and catalog_free must not wait for threads it
 * never had. */
static void test_fork_after_new(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog"); /* cold: no thread yet */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct dirlist d;
        fake_set(&e->f, A_BACKUP, "udb-orders", J("{'DataSet':[" ORDERS_A1 "]}"));
        relist(c, "/cn-bj2/orders"); /* stale: a background refresh, in the child */
        int rc = list_dir(c, "/cn-bj2/orders", &d);
        bool ok = rc == 0 && d.n == 2; /* auto-1, logs */
        dirlist_free(&d);
        catalog_free(&e->c);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 3000 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    if (got == 0) { /* hung: a child waiting for threads it does not have */
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    assert_int_equal(got, pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's catalog is unaffected and starts threads of its own. */
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
    catalog_settle(c);
}

/* ---- threads ---- */

struct worker {
    struct catalog *c;
    pthread_barrier_t *bar;
    const char *path;
    int rc;
    size_t n;
    unsigned bad;
};

static void *readdir_worker(void *arg)
{
    struct worker *w = arg;
    struct dirlist d;
    pthread_barrier_wait(w->bar);
    w->rc = list_dir(w->c, w->path, &d);
    w->n = d.n;
    dirlist_free(&d);
    return NULL;
}

static void test_concurrent_cold_readdir(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    enum { T = 8 };
    pthread_t th[T];
    struct worker w[T];
    pthread_barrier_t bar;

    e->f.delay_ms = 50; /* every call is slow: all threads pile up on the same refresh */
    pthread_barrier_init(&bar, NULL, T);
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){.c = c, .bar = &bar, .path = "/cn-bj2/orders"};
        assert_int_equal(pthread_create(&th[i], NULL, readdir_worker, &w[i]), 0);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < T; i++) {
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].n, 4);
    }
    assert_int_equal(e->f.calls[A_BACKUP], 1);
    assert_int_equal(e->f.calls[A_LOGS], 1);
    assert_int_equal(e->f.calls[A_INSTANCES], 1);
    assert_int_equal(e->f.calls[A_REGION], 1);
}

/* Threads piling up on a cold directory that cannot be listed. */
static void test_concurrent_cold_failure(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 60, false, NULL);
    enum { T = 8 };
    pthread_t th[T];
    struct worker w[T];
    pthread_barrier_t bar;

    expect_ls(c, "/cn-bj2", "analytics|orders|staging~udb-st1|staging~udb-st2");
    e->f.delay_ms = 50;
    /* It fails for everyone, and never as ENOENT. */
    fake_fail(&e->f, A_BACKUP, -EIO);
    pthread_barrier_init(&bar, NULL, T);
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){.c = c, .bar = &bar, .path = "/cn-bj2/analytics"};
        assert_int_equal(pthread_create(&th[i], NULL, readdir_worker, &w[i]), 0);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < T; i++)
        assert_int_equal(w[i].rc, -EIO);
    /* They waited for one refresh, so they share its result: one call, not
     * one per thread, each adding a full timeout x retries to the wait. */
    unsigned n = e->f.calls[A_BACKUP];
    print_message("failing cold refresh, %d threads: %u ListUMongoDBBackup calls\n", T, n);
    assert_int_equal(n, 1);
}

static void *stress_worker(void *arg)
{
    struct worker *w = arg;
    static const char *const paths[] = {"/cn-bj2/orders/auto-1", "/cn-bj2/orders/flip",
                                        "/cn-bj2/orders/auto-2", "/cn-bj2/orders/oplog/op-1",
                                        "/cn-bj2/analytics/an-26/udb-an-cfg"};
    pthread_barrier_wait(w->bar);
    for (unsigned i = 0; i < 300; i++) {
        const char *p = paths[i % 5];
        struct cat_stat st;
        struct cat_object o;
        struct dirlist d;
        char buf[512];
        int rc;
        switch (i % 4) {
        case 0:
            rc = list_dir(w->c, i % 8 ? "/cn-bj2/orders" : "/cn-bj2", &d);
            dirlist_free(&d);
            break;
        case 1:
            rc = catalog_stat(w->c, p, &st);
            if (rc == 0)
                catalog_set_size(w->c, st.ino, 42);
            break;
        case 2:
            rc = catalog_object(w->c, p, &o);
            catalog_object_clear(&o);
            break;
        default:
            rc = catalog_listxattr(w->c, p, buf, sizeof(buf));
            rc = rc > 0 ? 0 : rc;
            break;
        }
        if (rc != 0 && rc != -ENOENT)
            w->bad++;
    }
    return NULL;
}

/* Readers race with refreshes that rename and drop entries (for ASan/TSan). */
static void test_concurrent_refresh_stress(void **state)
{
    struct env *e = *state;
    struct catalog *c = open_cat(e, 0, false, NULL);
    enum { T = 8 };
    pthread_t th[T];
    struct worker w[T];
    pthread_barrier_t bar;

    cJSON *flipped =
        J("{'DataSet':[{'BackupId':'bk-a1','BackupName':'flip','State':'Success','BackupSize':1},"
          "{'BackupId':'bk-op1','BackupName':'op-1','State':'Success','BackupType':'oplog'}]}");
    pthread_barrier_init(&bar, NULL, T + 1);
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){.c = c, .bar = &bar};
        assert_int_equal(pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
    }
    pthread_barrier_wait(&bar);
    for (int k = 0; k < 100; k++) {
        fake_set(&e->f, A_BACKUP, "udb-orders",
                 k % 2 ? J(DEMO_ORDERS) : cJSON_Duplicate(flipped, 1));
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    cJSON_Delete(flipped);
    for (int i = 0; i < T; i++)
        assert_int_equal(w[i].bad, 0);
    relist(c, "/cn-bj2/orders");
    expect_ls(c, "/cn-bj2/orders", "auto-1|auto-2|logs|oplog");
}

int main(void)
{
    log_init(LOG_ERR, 0); /* the refresh warnings are expected */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_root_lists_regions_once),
        T(test_regions_filter),
        T(test_clusters_per_region),
        T(test_cluster_dir_content),
        T(test_oplog_logs_only_if_any),
        T(test_show_all),
        T(test_sharded_batches),
        T(test_sharded_naming),
        T(test_name_collisions),
        T(test_reserved_names),
        T(test_hostile_names),
        T(test_lookups),
        T(test_fill_stops_walk),
        T(test_object_identity),
        T(test_inodes_stable_across_refresh),
        T(test_inode_survives_rename),
        T(test_inode_kept_when_entry_returns),
        T(test_api_economy_ttl),
        T(test_refresh_failure_serves_old),
        T(test_stale_refresh_is_quick),
        T(test_first_listing_failure),
        T(test_missing_list_is_empty),
        T(test_service_xattrs),
        T(test_malformed_answers),
        T(test_set_size),
        T(test_getxattr),
        T(test_listxattr),
        T(test_dir_mtime_newest_child),
        T(test_duplicate_ids),
        T(test_many_backups),
        T(test_stale_served_while_api_hangs),
        T(test_breaker_fails_cold_listings_fast),
        T(test_breaker_ignores_error_answers),
        T(test_breaker_from_background_refreshes),
        T(test_fork_after_new),
        T(test_concurrent_cold_readdir),
        T(test_concurrent_cold_failure),
        T(test_concurrent_refresh_stress),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
