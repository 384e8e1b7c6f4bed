/* stats: lock-free counters and their JSON. See stats.h. */
#include "stats.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* The actions umongofs calls; anything else counts as "other". */
static const char *const actions[] = {
    "GetRegion",
    "ListUMongoDBInstances",
    "ListUMongoDBBackup",
    "ListUMongoDBLogPackage",
    "DescribeUMongoDBBackupURL",
    "GetUMongoDBRecoverTimeRange",
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

/* Errors by kind, as a program sees them (timeout: an EIO that was a
 * deadline running out). */
enum err_kind {
    ERR_EIO,
    ERR_TIMEOUT,
    ERR_EACCES,
    ERR_EPERM,
    ERR_ENOENT,
    ERR_ENOMEM,
    ERR_OTHER,
    ERR_N
};
static const char *const err_names[ERR_N] = {"EIO",    "timeout", "EACCES", "EPERM",
                                             "ENOENT", "ENOMEM",  "other"};

/* RetCodes seen, in an open-addressed table filled by compare-and-swap:
 * key 0 is a free slot, otherwise RetCode + 1. The provider has a few dozen
 * codes; past RETCODE_SLOTS distinct ones the rest count as "other". */
#define RETCODE_SLOTS 64
struct retcode_slot {
    atomic_long key;
    atomic_ullong n;
};

static const char *const counter_names[STATS_N_COUNTERS] = {
    [STATS_URL_RENEWALS] = "url_renewals",
    [STATS_RANGE_REQUESTS] = "range_requests",
    [STATS_STORE_BYTES] = "bytes_from_store",
    [STATS_SERVED_BYTES] = "bytes_served",
    [STATS_RETRIES] = "retries",
    [STATS_CACHE_HITS] = "cache_hits",
    [STATS_OPEN_FILES] = "open_files",
    [STATS_BLOCK_MEMORY] = "block_memory",
    [STATS_DISK_HITS] = "hits",
    [STATS_DISK_BYTES] = "bytes_read",
    [STATS_DISK_STORED] = "stored",
    [STATS_DISK_STORED_BYTES] = "bytes_stored",
    [STATS_DISK_EVICTED] = "evicted",
    [STATS_DISK_DROPPED] = "dropped",
    [STATS_DISK_SIZE] = "size",
    [STATS_DISK_MAX] = "max",
};

static struct {
    atomic_llong counters[STATS_N_COUNTERS];
    atomic_ullong by_action[N_ACTIONS + 1]; /* the last: other */
    struct retcode_slot retcodes[RETCODE_SLOTS];
    atomic_ullong retcode_other; /* the table is full */
    atomic_ullong no_answer;     /* no usable answer (transport failure, not JSON) */
    atomic_ullong errors[ERR_N];
    atomic_llong started_ms;
} g;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stats_add(enum stats_counter c, int64_t n)
{
    if ((unsigned)c < STATS_N_COUNTERS)
        atomic_fetch_add_explicit(&g.counters[c], n, memory_order_relaxed);
}

static void count_retcode(long rc)
{
    long key = rc + 1;
    unsigned h = (unsigned)((unsigned long)rc * 2654435761u) % RETCODE_SLOTS;
    for (unsigned i = 0; i < RETCODE_SLOTS; i++) {
        struct retcode_slot *s = &g.retcodes[(h + i) % RETCODE_SLOTS];
        long k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == 0) {
            long empty = 0;
            if (atomic_compare_exchange_strong(&s->key, &empty, key))
                k = key;
            else
                k = empty; /* another thread took it: for this code or another */
        }
        if (k == key) {
            atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&g.retcode_other, 1, memory_order_relaxed);
}

void stats_api_call(const char *action, long retcode)
{
    size_t i = 0;
    while (i < N_ACTIONS && !(action && strcmp(actions[i], action) == 0))
        i++;
    atomic_fetch_add_explicit(&g.by_action[i], 1, memory_order_relaxed);
    if (retcode < 0)
        atomic_fetch_add_explicit(&g.no_answer, 1, memory_order_relaxed);
    else
        count_retcode(retcode);
}

void stats_error(int rc)
{
    enum err_kind k;
    switch (rc) {
    case 0:
    case -ENODATA: /* no such attribute: getfattr -d asks for each name */
    case -ERANGE:  /* the caller's buffer was too small; it asks again */
        return;
    case -ETIMEDOUT:
        k = ERR_TIMEOUT;
        break;
    case -EACCES:
        k = ERR_EACCES;
        break;
    case -EPERM:
        k = ERR_EPERM;
        break;
    case -ENOENT:
        k = ERR_ENOENT;
        break;
    case -ENOMEM:
        k = ERR_ENOMEM;
        break;
    case -ENOTDIR:
    case -EISDIR:
    case -EROFS:
    case -EINVAL:
        k = ERR_OTHER;
        break;
    default: /* fs.c answers EIO for everything else */
        k = ERR_EIO;
        break;
    }
    atomic_fetch_add_explicit(&g.errors[k], 1, memory_order_relaxed);
}

void stats_reset(void)
{
    for (size_t i = 0; i < STATS_N_COUNTERS; i++)
        atomic_store(&g.counters[i], 0);
    for (size_t i = 0; i <= N_ACTIONS; i++)
        atomic_store(&g.by_action[i], 0);
    for (size_t i = 0; i < RETCODE_SLOTS; i++) {
        atomic_store(&g.retcodes[i].n, 0);
        atomic_store(&g.retcodes[i].key, 0);
    }
    atomic_store(&g.retcode_other, 0);
    atomic_store(&g.no_answer, 0);
    for (size_t i = 0; i < ERR_N; i++)
        atomic_store(&g.errors[i], 0);
    atomic_store(&g.started_ms, now_ms());
}

static unsigned long long load(atomic_ullong *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* Adds name: n to o; false when out of memory. */
static bool add_num(cJSON *o, const char *name, double n)
{
    return cJSON_AddNumberToObject(o, name, n) != NULL;
}

/* {"total", "by_action", "by_retcode", "no_answer"}: every action umongofs
 * calls is listed (0 when not called yet), RetCodes as they were seen,
 * lowest first. */
static bool add_api(cJSON *root)
{
    cJSON *api = cJSON_AddObjectToObject(root, "api_calls");
    cJSON *by_action = api ? cJSON_AddObjectToObject(api, "by_action") : NULL;
    cJSON *by_rc = api ? cJSON_AddObjectToObject(api, "by_retcode") : NULL;
    unsigned long long total = 0;
    bool ok = by_action && by_rc;

    for (size_t i = 0; ok && i <= N_ACTIONS; i++) {
        unsigned long long n = load(&g.by_action[i]);
        total += n;
        ok = add_num(by_action, i < N_ACTIONS ? actions[i] : "other", (double)n);
    }
    long keys[RETCODE_SLOTS];
    unsigned long long counts[RETCODE_SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < RETCODE_SLOTS; i++) {
        long k = atomic_load_explicit(&g.retcodes[i].key, memory_order_acquire);
        if (k == 0)
            continue;
        size_t at = n++;
        for (; at > 0 && keys[at - 1] > k - 1; at--) { /* insertion sort, at most 64 */
            keys[at] = keys[at - 1];
            counts[at] = counts[at - 1];
        }
        keys[at] = k - 1;
        counts[at] = load(&g.retcodes[i].n);
    }
    for (size_t i = 0; ok && i < n; i++) {
        char name[24];
        snprintf(name, sizeof(name), "%ld", keys[i]);
        ok = add_num(by_rc, name, (double)counts[i]);
    }
    if (ok && load(&g.retcode_other))
        ok = add_num(by_rc, "other", (double)load(&g.retcode_other));
    return ok && add_num(api, "no_answer", (double)load(&g.no_answer)) &&
           add_num(api, "total", (double)total);
}

char *stats_json(void)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    long long started = atomic_load(&g.started_ms);
    bool ok =
        root && add_num(root, "uptime_s", started ? (double)((now_ms() - started) / 1000) : 0);

    ok = ok && add_api(root);
    cJSON *disk = ok ? cJSON_AddObjectToObject(root, "disk_cache") : NULL;
    ok = disk != NULL;
    for (size_t i = 0; ok && i < STATS_N_COUNTERS; i++) {
        long long v = atomic_load_explicit(&g.counters[i], memory_order_relaxed);
        ok = add_num(i >= STATS_DISK_HITS ? disk : root, counter_names[i], (double)(v < 0 ? 0 : v));
    }
    cJSON *errors = ok ? cJSON_AddObjectToObject(root, "errors") : NULL;
    ok = errors != NULL;
    for (size_t i = 0; ok && i < ERR_N; i++)
        ok = add_num(errors, err_names[i], (double)load(&g.errors[i]));
    if (ok)
        out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* -- SIGUSR1 ------------------------------------------------------------------ */

static pthread_t sig_thread;
static bool sig_running;
static atomic_bool sig_stop;

int stats_block_signal(void)
{
    sigset_t set;
    if (!atomic_load(&g.started_ms))
        atomic_store(&g.started_ms, now_ms());
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Waits for SIGUSR1 outside any handler, so logging and allocating here
 * is safe. */
static void *sig_main(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0 || atomic_load(&sig_stop))
            break;
        char *j = stats_json();
        log_notice("stats %s", j ? j : "(out of memory)");
        free(j);
    }
    return NULL;
}

int stats_start_signal_thread(void)
{
    if (sig_running)
        return 0;
    atomic_store(&sig_stop, false);
    int rc = pthread_create(&sig_thread, NULL, sig_main, NULL);
    sig_running = rc == 0;
    return -rc;
}

void stats_stop_signal_thread(void)
{
    if (!sig_running)
        return;
    atomic_store(&sig_stop, true);
    pthread_kill(sig_thread, SIGUSR1);
    pthread_join(sig_thread, NULL);
    sig_running = false;
}
