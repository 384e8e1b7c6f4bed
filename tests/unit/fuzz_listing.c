/* fuzz_listing: libFuzzer target for the list parsers and, through them, the
 * name assignment that the catalog runs on every listing.
 *
 * Not part of the meson build; scripts/test.sh builds it and runs it from
 * the seeds in tests/unit/corpus/listing (the provider's real answers, with
 * numbers as text, without DataSet, hostile names). By hand (Debian clang):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       src/listing.c src/names.c src/log.c tests/unit/fuzz_listing.c -lcjson -o fuzz_listing
 *   mkdir -p new && ./fuzz_listing -max_total_time=60 -dict=tests/unit/corpus/json.dict \
 *       new tests/unit/corpus/listing
 * Besides crashes, it aborts when an assigned name breaks the rules of names.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "log.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Assigns names to the backups as a cluster directory would and checks that
 * they are safe and unique. */
static void fuzz_names(const struct listing_backup *b, size_t n)
{
    static const char *const reserved[] = {"oplog", "logs", NULL};
    const char **raw = calloc(n, sizeof(*raw)), **ids = calloc(n, sizeof(*ids));
    char **out = calloc(n, sizeof(*out));

    if (!raw || !ids || !out)
        goto out;
    for (size_t i = 0; i < n; i++) {
        raw[i] = b[i].name;
        ids[i] = b[i].backup_id;
    }
    if (names_assign(raw, ids, n, reserved, out) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out[i]);
        if (len == 0 || len > NAMES_MAX || strchr(out[i], '/') || !strcmp(out[i], ".") ||
            !strcmp(out[i], "..") || !strcmp(out[i], "oplog") || !strcmp(out[i], "logs"))
            abort();
    }
    qsort(out, n, sizeof(*out), fuzz_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(out[i - 1], out[i]) == 0)
            abort();
    for (size_t i = 0; i < n; i++)
        free(out[i]);
out:
    free(raw);
    free(ids);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    cJSON *j;

    if (!quiet) {
        log_init(LOG_ERR, 0); /* skip warnings would drown the fuzzer's output */
        quiet = 1;
    }
    j = cJSON_ParseWithLength((const char *)data, size);

    struct listing_region *r;
    struct listing_cluster *c;
    struct listing_backup *b;
    struct listing_log *l;
    size_t n;

    if (listing_parse_regions(j, &r, &n) == 0)
        listing_free_regions(&r, n);
    if (listing_parse_clusters(j, &c, &n) == 0)
        listing_free_clusters(&c, n);
    if (listing_parse_logs(j, &l, &n) == 0)
        listing_free_logs(&l, n);
    if (listing_parse_backups(j, &b, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (!listing_valid_id(b[i].backup_id) || b[i].size < -1 || b[i].start_time < -1)
                abort();
        fuzz_names(b, n);
        listing_free_backups(&b, n);
    }
    cJSON_Delete(j);
    return 0;
}
