/* Unit tests for stats.c: the JSON of the counters (every name present,
 * counts exact under concurrent threads, RetCodes in order, the table of
 * RetCodes full without losing a count) and trace.c's counting. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "stats.h"

static cJSON *snapshot(void)
{
    char *text = stats_json();
    assert_non_null(text);
    assert_null(strchr(text, '\n')); /* one log line */
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const cJSON *obj(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsObject(v));
    return v;
}

static void test_every_counter_is_there_at_zero(void **state)
{
    stats_reset();
    cJSON *j = snapshot();
    const char *names[] = {"uptime_s",         "url_renewals", "range_requests",
                           "bytes_from_store", "bytes_served", "retries",
                           "cache_hits",       "open_files",   "block_memory"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_true(num(j, names[i]) == 0);
    const char *disk[] = {"hits",    "bytes_read", "stored", "bytes_stored",
                          "evicted", "dropped",    "size",   "max"};
    for (size_t i = 0; i < sizeof(disk) / sizeof(disk[0]); i++)
        assert_true(num(obj(j, "disk_cache"), disk[i]) == 0);
    const cJSON *api = obj(j, "api_calls");
    assert_true(num(api, "total") == 0);
    assert_true(num(api, "no_answer") == 0);
    assert_true(num(obj(api, "by_action"), "DescribeUMongoDBBackupURL") == 0);
    assert_true(num(obj(api, "by_action"), "GetRegion") == 0);
    assert_null(obj(api, "by_retcode")->child);
    const cJSON *errors = obj(j, "errors");
    const char *kinds[] = {"EIO", "timeout", "EACCES", "EPERM", "ENOENT", "ENOMEM", "other"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        assert_true(num(errors, kinds[i]) == 0);
    cJSON_Delete(j);
}

static void test_api_calls_by_action_and_retcode(void **state)
{
    stats_reset();
    stats_api_call("GetRegion", 0);
    stats_api_call("DescribeUMongoDBBackupURL", 0);
    stats_api_call("DescribeUMongoDBBackupURL", 8039);
    stats_api_call("DescribeUMongoDBBackupURL", 153);
    stats_api_call("ListUMongoDBBackup", -1);
    stats_api_call("SomethingNew", 0);
    stats_api_call("GetRegion", 292);
    stats_api_call("GetRegion", 172);
    cJSON *j = snapshot();
    const cJSON *api = obj(j, "api_calls");
    assert_true(num(api, "total") == 8);
    assert_true(num(api, "no_answer") == 1);
    const cJSON *by_action = obj(api, "by_action");
    assert_true(num(by_action, "GetRegion") == 3);
    assert_true(num(by_action, "DescribeUMongoDBBackupURL") == 3);
    assert_true(num(by_action, "ListUMongoDBBackup") == 1);
    assert_true(num(by_action, "other") == 1);
    const cJSON *rc = obj(api, "by_retcode");
    assert_true(num(rc, "0") == 3);
    assert_true(num(rc, "153") == 1);
    assert_true(num(rc, "8039") == 1);
    /* Lowest first, whatever order the table holds them in. */
    const char *order[] = {"0", "153", "172", "292", "8039"};
    const cJSON *c = rc->child;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++, c = c->next) {
        assert_non_null(c);
        assert_string_equal(c->string, order[i]);
    }
    assert_null(c);
    cJSON_Delete(j);
}

static void test_retcode_table_full(void **state)
{
    stats_reset();
    for (long rc = 1; rc <= 100; rc++)
        stats_api_call("GetRegion", rc * 7);
    cJSON *j = snapshot();
    const cJSON *rc = obj(obj(j, "api_calls"), "by_retcode");
    double sum = 0;
    for (const cJSON *c = rc->child; c; c = c->next)
        sum += c->valuedouble;
    assert_true(sum == 100);
    assert_true(num(rc, "other") == 100 - 64);
    cJSON_Delete(j);
}

static void test_errors_by_kind(void **state)
{
    stats_reset();
    stats_error(0);
    stats_error(-ENODATA); /* an attribute probe, not a failure */
    stats_error(-ERANGE);
    stats_error(-ENOENT);
    stats_error(-ENOENT);
    stats_error(-EIO);
    stats_error(-EPROTO); /* answered as EIO */
    stats_error(-ETIMEDOUT);
    stats_error(-EACCES);
    stats_error(-EPERM);
    stats_error(-EISDIR);
    cJSON *j = snapshot();
    const cJSON *e = obj(j, "errors");
    assert_true(num(e, "ENOENT") == 2);
    assert_true(num(e, "EIO") == 2);
    assert_true(num(e, "timeout") == 1);
    assert_true(num(e, "EACCES") == 1);
    assert_true(num(e, "EPERM") == 1);
    assert_true(num(e, "other") == 1);
    cJSON_Delete(j);
}

#define THREADS 8
#define EACH    100000

static pthread_barrier_t start_line; /* all threads count at once */

static void *hammer(void *arg)
{
    long id = (long)(intptr_t)arg;
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < EACH; i++) {
        stats_inc(STATS_RANGE_REQUESTS);
        stats_add(STATS_SERVED_BYTES, 3);
        stats_add(STATS_OPEN_FILES, 1);
        stats_add(STATS_OPEN_FILES, -1);
        stats_api_call("GetRegion", 1000 + id * 10 + i % 5); /* 40 codes, inserted at once */
    }
    return NULL;
}

static void test_exact_under_concurrency(void **state)
{
    pthread_t t[THREADS];
    stats_reset();
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    cJSON *j = snapshot();
    assert_true(num(j, "range_requests") == THREADS * EACH);
    assert_true(num(j, "bytes_served") == 3.0 * THREADS * EACH);
    assert_true(num(j, "open_files") == 0);
    const cJSON *rc = obj(obj(j, "api_calls"), "by_retcode");
    int codes = 0;
    for (const cJSON *c = rc->child; c; c = c->next, codes++)
        assert_true(c->valuedouble == EACH / 5); /* each code once in the table */
    assert_int_equal(codes, THREADS * 5);
    cJSON_Delete(j);
}

static void test_gauge_never_shown_negative(void **state)
{
    stats_reset();
    stats_add(STATS_BLOCK_MEMORY, -4096);
    cJSON *j = snapshot();
    assert_true(num(j, "block_memory") == 0);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_counter_is_there_at_zero),
        cmocka_unit_test(test_api_calls_by_action_and_retcode),
        cmocka_unit_test(test_retcode_table_full),
        cmocka_unit_test(test_errors_by_kind),
        cmocka_unit_test(test_exact_under_concurrency),
        cmocka_unit_test(test_gauge_never_shown_negative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
