/* Scale and memory figures for the catalog (not run by `meson test`).
 *
 *   bench_catalog mem N       one cluster listing of N backups: peak RSS and
 *                             heap kept per entry
 *   bench_catalog churn N K   list N backups, then K refreshes in which every
 *                             id is new: time of each, nodes kept, heap
 *
 * The listing is built the way the daemon gets it: JSON text parsed by cJSON
 * (the API client's part), then handed to the catalog, which parses it into
 * records, specs and nodes (the catalog's part). VmHWM is reset once the tree
 * exists, so "peak" is the catalog's part plus the tree it was handed.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"
#include "synth.h"
#include "catalog.h"
#include "log.h"

struct src {
    cJSON *backups; /* the ListUMongoDBBackup answer */
    bool keep;      /* answer copies of it (else hand it over, once) */
};

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        fprintf(stderr, "bench: cJSON_Parse failed\n");
        exit(1);
    }
    return j;
}

static int src_call(void *ctx, const char *action, const struct api_param *p, size_t n, bool quick,
                    cJSON **out)
{
    struct src *s = ctx;
    if (strcmp(action, "GetRegion") == 0)
        *out =
            parse("{\"RetCode\":0,\"Regions\":[{\"Region\":\"cn-bj2\",\"Zone\":\"cn-bj2-02\"}]}");
    else if (strcmp(action, "ListUMongoDBInstances") == 0)
        *out = parse("{\"RetCode\":0,\"DataSet\":[{\"ClusterId\":\"udb-listing01\",\"Name\":"
                     "\"listing\",\"Zone\":\"cn-bj2-02\",\"ClusterType\":\"ReplicaSet\"}]}");
    else if (strcmp(action, "ListUMongoDBBackup") == 0 && s->backups && s->keep)
        *out = cJSON_Duplicate(s->backups, 1);
    else if (strcmp(action, "ListUMongoDBBackup") == 0 && s->backups) {
        *out = s->backups;
        s->backups = NULL;
    } else
        *out = parse("{\"RetCode\":0}");
    return 0;
}

static void reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1)
            perror("clear_refs");
        close(fd);
    }
}

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *listing_text(size_t n, unsigned gen)
{
    char *t = synth_listing(n, gen, "bk-list-", true);
    if (!t)
        exit(1);
    return t;
}

static int count_fill(void *ctx, const char *name, const struct cat_stat *st)
{
    (*(size_t *)ctx)++;
    return 0;
}

static size_t ls(struct catalog *c)
{
    size_t n = 0;
    int rc = catalog_readdir(c, "/cn-bj2/listing", count_fill, &n);
    if (rc) {
        fprintf(stderr, "bench: readdir: %d\n", rc);
        exit(1);
    }
    return n;
}

static void bench_mem(size_t n)
{
    struct src s = {0};
    struct catalog_opts o = {.source = {src_call, &s}, .dir_ttl = 3600};
    struct catalog *c = catalog_new(&o);
    catalog_readdir(c, "/cn-bj2", count_fill, &(size_t){0});
    malloc_trim(0);
    long rss0 = procstat_kb("VmRSS");
    size_t heap0 = heap_used();

    char *text = listing_text(n, 0);
    s.backups = parse(text);
    size_t text_len = strlen(text);
    free(text);
    long rss_tree = procstat_kb("VmRSS");
    size_t heap_tree = heap_used();
    reset_hwm();

    double t0 = now_s();
    size_t got = ls(c);
    double took = now_s() - t0;
    long hwm = procstat_kb("VmHWM");
    size_t heap1 = heap_used();
    malloc_trim(0);
    long rss1 = procstat_kb("VmRSS");
    printf("entries %zu (listed %zu), JSON text %.1f MB\n", n, got, text_len / 1e6);
    printf("cJSON tree handed over: %.1f MB heap (%.0f B/entry), RSS %+.1f MB\n",
           (heap_tree - heap0) / 1e6, (double)(heap_tree - heap0) / n, (rss_tree - rss0) / 1e3);
    printf("listing (parse+specs+apply): %.2f s, peak RSS %.1f MB (%.0f B/entry over start)\n",
           took, hwm / 1e3, (hwm - rss0) * 1024.0 / n);
    printf("kept after listing: heap %.1f MB (%.0f B/entry), RSS after trim %.1f MB\n",
           (heap1 - heap0) / 1e6, (double)(heap1 - heap0) / n, rss1 / 1e3);
    catalog_free(&c);
}

static void bench_churn(size_t n, unsigned k)
{
    struct src s = {.keep = true};
    struct catalog_opts o = {.source = {src_call, &s}, .dir_ttl = 0};
    struct catalog *c = catalog_new(&o);
    char *text = listing_text(n, 0);
    s.backups = parse(text);
    free(text);
    double t0 = now_s();
    size_t got = ls(c);
    printf("first listing of %zu: %.2f s (%zu entries)\n", n, now_s() - t0, got);
    for (unsigned g = 1; g <= k; g++) {
        text = listing_text(n, g);
        catalog_settle(c);
        cJSON_Delete(s.backups);
        s.backups = parse(text);
        free(text);
        t0 = now_s();
        got = ls(c); /* dir_ttl=0: served stale, refreshed in the background */
        catalog_settle(c);
        got = ls(c);
        double took = now_s() - t0;
        malloc_trim(0);
        struct catalog_counts cc;
        catalog_counts(c, &cc);
        printf("refresh %u, all ids new: %.2f s; nodes %zu (gone kept %zu); heap %.1f MB, RSS "
               "%.1f MB\n",
               g, took, cc.nodes, cc.gone, heap_used() / 1e6, procstat_kb("VmRSS") / 1e3);
        fflush(stdout);
    }
    t0 = now_s();
    for (int i = 0; i < 10; i++)
        ls(c);
    printf("ls of %zu (x10, each served from the cache): %.3f s each\n", n, (now_s() - t0) / 10);
    catalog_free(&c);
    cJSON_Delete(s.backups);
}

int main(int argc, char **argv)
{
    log_init(LOG_ERR, 0);
    if (argc == 3 && strcmp(argv[1], "mem") == 0) {
        bench_mem(strtoul(argv[2], NULL, 10));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "churn") == 0) {
        bench_churn(strtoul(argv[2], NULL, 10), (unsigned)strtoul(argv[3], NULL, 10));
        return 0;
    }
    fprintf(stderr, "usage: bench_catalog mem N | churn N K\n");
    return 2;
}
