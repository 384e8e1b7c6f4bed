/* Unit tests for listing.c: the four list parsers on well-formed answers (every
 * field checked) and on hostile ones (wrong shapes, wrong types, bad ids, huge
 * or deeply nested input), plus what the skip warnings may and may not say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listing.h"
#include "log.h"

/* ---- helpers ---- */

static cJSON *parse(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

/* Runs all four parsers on json and expects rc from each; on success, also
 * expects n entries from each. */
static void expect_all(const char *json, int rc, size_t n)
{
    cJSON *j = json ? parse(json) : NULL;
    struct listing_region *r = (void *)1;
    struct listing_cluster *c = (void *)1;
    struct listing_backup *b = (void *)1;
    struct listing_log *l = (void *)1;
    size_t nr = 99, nc = 99, nb = 99, nl = 99;

    assert_int_equal(listing_parse_regions(j, &r, &nr), rc);
    assert_int_equal(listing_parse_clusters(j, &c, &nc), rc);
    assert_int_equal(listing_parse_backups(j, &b, &nb), rc);
    assert_int_equal(listing_parse_logs(j, &l, &nl), rc);
    if (rc < 0) {
        /* Failure leaves nothing to free. */
        assert_null(r);
        assert_null(c);
        assert_null(b);
        assert_null(l);
        assert_int_equal(nr + nc + nb + nl, 0);
    } else {
        assert_int_equal(nr, n);
        assert_int_equal(nc, n);
        assert_int_equal(nb, n);
        assert_int_equal(nl, n);
    }
    listing_free_regions(&r, nr);
    listing_free_clusters(&c, nc);
    listing_free_backups(&b, nb);
    listing_free_logs(&l, nl);
    assert_null(r);
    assert_null(c);
    assert_null(b);
    assert_null(l);
    cJSON_Delete(j);
}

/* Parses {"DataSet":[<elems>]} as backups. */
static size_t backups_of(const char *elems, struct listing_backup **out)
{
    char json[8192];
    size_t n = 0;

    snprintf(json, sizeof(json), "{\"RetCode\":0,\"DataSet\":[%s]}", elems);
    cJSON *j = parse(json);
    assert_int_equal(listing_parse_backups(j, out, &n), 0);
    cJSON_Delete(j);
    return n;
}

/* BackupSize of {"BackupId":"b1","BackupSize":<value>}. */
static int64_t size_of(const char *value)
{
    char elem[512];
    struct listing_backup *b = NULL;

    snprintf(elem, sizeof(elem), "{\"BackupId\":\"b1\",\"BackupSize\":%s,\"StartTime\":%s}", value,
             value);
    assert_int_equal(backups_of(elem, &b), 1);
    int64_t v = b[0].size;
    assert_true(b[0].start_time == v); /* times follow the same rules */
    listing_free_backups(&b, 1);
    return v;
}

/* BackupName of {"BackupId":"b1","BackupName":<value>}, as a new string or NULL. */
static char *name_of(const char *value)
{
    char elem[512];
    struct listing_backup *b = NULL;

    snprintf(elem, sizeof(elem), "{\"BackupId\":\"b1\",\"BackupName\":%s}", value);
    assert_int_equal(backups_of(elem, &b), 1);
    char *s = b[0].name ? strdup(b[0].name) : NULL;
    listing_free_backups(&b, 1);
    return s;
}

static void expect_name(const char *value, const char *want)
{
    char *s = name_of(value);
    if (want)
        assert_string_equal(s, want);
    else
        assert_null(s);
    free(s);
}

/* The backup id that survives {"BackupId":<value>}, or NULL when skipped. */
static char *backup_id_of(const char *value)
{
    char elem[512];
    struct listing_backup *b = NULL;

    snprintf(elem, sizeof(elem), "{\"BackupId\":%s,\"BackupName\":\"n\"}", value);
    size_t n = backups_of(elem, &b);
    assert_true(n <= 1);
    char *s = n ? strdup(b[0].backup_id) : NULL;
    listing_free_backups(&b, n);
    return s;
}

static void expect_backup_id(const char *value, const char *want)
{
    char *s = backup_id_of(value);
    if (want)
        assert_string_equal(s, want);
    else
        assert_null(s);
    free(s);
}

static bool is_default_of(const char *value)
{
    char json[512];
    struct listing_region *r = NULL;
    size_t n = 0;

    snprintf(json, sizeof(json), "{\"Regions\":[{\"Region\":\"cn-bj2\",\"IsDefault\":%s}]}", value);
    cJSON *j = parse(json);
    assert_int_equal(listing_parse_regions(j, &r, &n), 0);
    assert_int_equal(n, 1);
    bool v = r[0].is_default;
    listing_free_regions(&r, n);
    cJSON_Delete(j);
    return v;
}

/* Runs fn with stderr (where log.c writes in the foreground) captured into
 * buf, so tests can check what a warning says. */
static void capture_stderr(void (*fn)(void), char *buf, size_t size)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t got = fread(buf, 1, size - 1, tmp);
    buf[got] = '\0';
    fclose(tmp);
}

/* ---- well-formed answers ---- */

static void test_regions_ok(void **state)
{
    (void)state;
    cJSON *j = parse("{\"Action\":\"GetRegionResponse\",\"RetCode\":0,\"Regions\":["
                     "{\"RegionId\":1,\"RegionName\":\"Beijing 2\",\"IsDefault\":true,"
                     "\"BitMaps\":\"11111\",\"Region\":\"cn-bj2\",\"Zone\":\"cn-bj2-02\"},"
                     "{\"RegionId\":1,\"RegionName\":\"Beijing 2\",\"IsDefault\":false,"
                     "\"BitMaps\":\"11111\",\"Region\":\"cn-bj2\",\"Zone\":\"cn-bj2-03\"},"
                     "{\"RegionId\":7,\"RegionName\":\"Hong Kong\",\"IsDefault\":false,"
                     "\"Region\":\"hk\",\"Zone\":\"hk-02\"}]}");
    struct listing_region *r = NULL;
    size_t n = 0;

    assert_int_equal(listing_parse_regions(j, &r, &n), 0);
    assert_int_equal(n, 3); /* one per zone, not deduplicated */
    assert_string_equal(r[0].region, "cn-bj2");
    assert_string_equal(r[0].zone, "cn-bj2-02");
    assert_true(r[0].is_default);
    assert_string_equal(r[1].region, "cn-bj2");
    assert_string_equal(r[1].zone, "cn-bj2-03");
    assert_false(r[1].is_default);
    assert_string_equal(r[2].region, "hk");
    assert_string_equal(r[2].zone, "hk-02");
    assert_false(r[2].is_default);
    listing_free_regions(&r, n);
    assert_null(r);
    cJSON_Delete(j);
}

static void test_clusters_ok(void **state)
{
    (void)state;
    cJSON *j =
        parse("{\"Action\":\"ListUMongoDBInstancesResponse\",\"RetCode\":0,\"DataSet\":["
              "{\"Zone\":\"cn-bj2-02\",\"ClusterId\":\"udb-abc123\",\"Name\":\"prod/db\","
              "\"DBVersion\":\"MongoDB-4.2\",\"ConnectURL\":\"mongodb://10.0.0.1:27017\","
              "\"CreateTime\":1700000000,\"ClusterType\":\"ReplicaSet\",\"State\":\"Running\","
              "\"IPv6ConnectURL\":\"\"},"
              "{\"Zone\":\"cn-bj2-03\",\"ClusterId\":\"udb-shard_1\",\"Name\":\"\","
              "\"DBVersion\":\"MongoDB-6.0\",\"CreateTime\":0,\"ClusterType\":\"SharedCluster\","
              "\"State\":\"Stopped\"}]}");
    struct listing_cluster *c = NULL;
    size_t n = 0;

    assert_int_equal(listing_parse_clusters(j, &c, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].cluster_id, "udb-abc123");
    assert_string_equal(c[0].name, "prod/db");
    assert_string_equal(c[0].zone, "cn-bj2-02");
    assert_string_equal(c[0].db_version, "MongoDB-4.2");
    assert_string_equal(c[0].cluster_type, "ReplicaSet");
    assert_string_equal(c[0].state, "Running");
    assert_int_equal(c[0].create_time, 1700000000);
    assert_false(c[0].sharded);
    assert_string_equal(c[1].cluster_id, "udb-shard_1");
    assert_string_equal(c[1].name, "");
    assert_string_equal(c[1].zone, "cn-bj2-03");
    assert_string_equal(c[1].db_version, "MongoDB-6.0");
    assert_string_equal(c[1].cluster_type, "SharedCluster");
    assert_string_equal(c[1].state, "Stopped");
    assert_int_equal(c[1].create_time, 0);
    assert_true(c[1].sharded);
    listing_free_clusters(&c, n);
    assert_null(c);
    cJSON_Delete(j);

    /* sharded follows the exact provider spelling, nothing else. */
    j = parse("{\"DataSet\":[{\"ClusterId\":\"a\",\"ClusterType\":\"ShardedCluster\"},"
              "{\"ClusterId\":\"b\",\"ClusterType\":\"sharedcluster\"},"
              "{\"ClusterId\":\"c\"},{\"ClusterId\":\"d\",\"ClusterType\":1}]}");
    assert_int_equal(listing_parse_clusters(j, &c, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_false(c[i].sharded);
    assert_null(c[2].cluster_type);
    assert_int_equal(c[2].create_time, -1);
    listing_free_clusters(&c, n);
    cJSON_Delete(j);
}

static void test_backups_ok(void **state)
{
    (void)state;
    cJSON *j = parse(
        "{\"Action\":\"ListUMongoDBBackupResponse\",\"RetCode\":0,\"DataSet\":["
        "{\"BackupId\":\"bk-001\",\"BackupName\":\"daily 2024-01-01\",\"ClusterId\":\"udb-1\","
        "\"Zone\":\"cn-bj2-02\",\"State\":\"Success\",\"BackupSize\":1073741824,"
        "\"BackupType\":\"auto\",\"StartTime\":1704067200,\"EndTime\":1704067500,"
        "\"DiskSize\":20},"
        "{\"BackupId\":\"bk-002\",\"BackupName\":\"shard0\",\"ClusterId\":\"udb-2\","
        "\"Zone\":\"cn-bj2-03\",\"State\":\"Backuping\",\"BackupSize\":0,"
        "\"BackupType\":\"manual\",\"StartTime\":1704067200,\"EndTime\":0,"
        "\"VirtualClusterId\":\"vc-1\",\"ReplicaType\":\"DataRepl\",\"BatchId\":\"batch-9\"},"
        "{\"BackupId\":\"bk-003\"}]}");
    struct listing_backup *b = NULL;
    size_t n = 0;

    assert_int_equal(listing_parse_backups(j, &b, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(b[0].backup_id, "bk-001");
    assert_string_equal(b[0].name, "daily 2024-01-01");
    assert_string_equal(b[0].cluster_id, "udb-1");
    assert_string_equal(b[0].zone, "cn-bj2-02");
    assert_string_equal(b[0].state, "Success");
    assert_string_equal(b[0].type, "auto");
    assert_null(b[0].batch_id);
    assert_null(b[0].virtual_cluster_id);
    assert_null(b[0].replica_type);
    assert_int_equal(b[0].size, 1073741824);
    assert_int_equal(b[0].start_time, 1704067200);
    assert_int_equal(b[0].end_time, 1704067500);

    assert_string_equal(b[1].backup_id, "bk-002");
    assert_string_equal(b[1].name, "shard0");
    assert_string_equal(b[1].cluster_id, "udb-2");
    assert_string_equal(b[1].zone, "cn-bj2-03");
    assert_string_equal(b[1].state, "Backuping");
    assert_string_equal(b[1].type, "manual");
    assert_string_equal(b[1].batch_id, "batch-9");
    assert_string_equal(b[1].virtual_cluster_id, "vc-1");
    assert_string_equal(b[1].replica_type, "DataRepl");
    assert_int_equal(b[1].size, 0);
    assert_int_equal(b[1].start_time, 1704067200);
    assert_int_equal(b[1].end_time, 0);

    /* Only the id: every other field is "unknown". */
    assert_string_equal(b[2].backup_id, "bk-003");
    assert_null(b[2].name);
    assert_null(b[2].cluster_id);
    assert_null(b[2].zone);
    assert_null(b[2].state);
    assert_null(b[2].type);
    assert_null(b[2].batch_id);
    assert_null(b[2].virtual_cluster_id);
    assert_null(b[2].replica_type);
    assert_int_equal(b[2].size, -1);
    assert_int_equal(b[2].start_time, -1);
    assert_int_equal(b[2].end_time, -1);
    listing_free_backups(&b, n);
    assert_null(b);
    cJSON_Delete(j);
}

static void test_logs_ok(void **state)
{
    (void)state;
    cJSON *j =
        parse("{\"Action\":\"ListUMongoDBLogPackageResponse\",\"RetCode\":0,\"DataSet\":["
              "{\"Id\":12345,\"Name\":\"slow-2024-01-01\",\"State\":\"Package_Success\","
              "\"Size\":4096,\"PackageType\":\"SlowLog\",\"ClusterId\":\"udb-1\","
              "\"NodeId\":\"node-a\",\"Role\":\"Primary\",\"Begin\":1704000000,\"End\":1704067200,"
              "\"CreateTime\":1704067300,\"FinishTime\":1704067400},"
              "{\"Id\":\"678\",\"Name\":\"err\",\"State\":\"Package_Running\",\"Size\":0,"
              "\"PackageType\":\"ErrorLog\"}]}");
    struct listing_log *l = NULL;
    size_t n = 0;

    assert_int_equal(listing_parse_logs(j, &l, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].package_id, "12345");
    assert_string_equal(l[0].name, "slow-2024-01-01");
    assert_string_equal(l[0].state, "Package_Success");
    assert_string_equal(l[0].package_type, "SlowLog");
    assert_string_equal(l[0].cluster_id, "udb-1");
    assert_string_equal(l[0].node_id, "node-a");
    assert_string_equal(l[0].role, "Primary");
    assert_int_equal(l[0].size, 4096);
    assert_int_equal(l[0].begin, 1704000000);
    assert_int_equal(l[0].end, 1704067200);
    assert_int_equal(l[0].create_time, 1704067300);
    assert_int_equal(l[0].finish_time, 1704067400);

    assert_string_equal(l[1].package_id, "678");
    assert_string_equal(l[1].name, "err");
    assert_string_equal(l[1].state, "Package_Running");
    assert_string_equal(l[1].package_type, "ErrorLog");
    assert_null(l[1].cluster_id);
    assert_null(l[1].node_id);
    assert_null(l[1].role);
    assert_int_equal(l[1].size, 0);
    assert_int_equal(l[1].begin, -1);
    assert_int_equal(l[1].end, -1);
    assert_int_equal(l[1].create_time, -1);
    assert_int_equal(l[1].finish_time, -1);
    listing_free_logs(&l, n);
    assert_null(l);
    cJSON_Delete(j);

    /* Ids that are not integers do not become package ids. */
    j = parse("{\"DataSet\":[{\"Id\":1.5},{\"Id\":1e30},{\"Id\":true},{\"Id\":null},"
              "{\"Id\":{}},{\"Id\":\"\"},{\"Id\":\"1 2\"},{\"Name\":\"no id\"},{\"Id\":0}]}");
    assert_int_equal(listing_parse_logs(j, &l, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].package_id, "0");
    listing_free_logs(&l, n);
    cJSON_Delete(j);
}

/* ---- hostile answers ---- */

static void test_not_an_object(void **state)
{
    (void)state;
    expect_all(NULL, -EIO, 0);
    expect_all("[]", -EIO, 0);
    expect_all("[{\"DataSet\":[]}]", -EIO, 0);
    expect_all("123", -EIO, 0);
    expect_all("\"DataSet\"", -EIO, 0);
    expect_all("null", -EIO, 0);
    expect_all("true", -EIO, 0);
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_all("{\"DataSet\":{},\"Regions\":{}}", -EIO, 0);
    expect_all("{\"DataSet\":\"[]\",\"Regions\":\"[]\"}", -EIO, 0);
    expect_all("{\"DataSet\":0,\"Regions\":0}", -EIO, 0);
    expect_all("{\"DataSet\":false,\"Regions\":true}", -EIO, 0);
}

/* The provider leaves an empty list out, or sends null: no entries, never
 * an error (a region without clusters, a cluster without log packages). */
static void test_missing_is_empty(void **state)
{
    (void)state;
    expect_all("{}", 0, 0);
    expect_all("{\"RetCode\":0}", 0, 0);
    expect_all("{\"RetCode\":\"0\",\"TotalCount\":0}", 0, 0);
    expect_all("{\"DataSet\":null,\"Regions\":null}", 0, 0);
    /* Names are case-sensitive: a list under another spelling is not ours. */
    expect_all("{\"dataset\":[{\"BackupId\":\"b\"}],\"regions\":[]}", 0, 0);

    /* Each parser looks for its own list only. */
    struct listing_region *r = NULL;
    struct listing_backup *b = NULL;
    size_t n = 1;
    cJSON *j = parse("{\"DataSet\":[{\"Region\":\"cn-bj2\",\"BackupId\":\"b\"}]}");
    assert_int_equal(listing_parse_regions(j, &r, &n), 0);
    assert_int_equal(n, 0);
    assert_null(r);
    cJSON_Delete(j);
    n = 1;
    j = parse("{\"Regions\":[{\"Region\":\"cn-bj2\",\"BackupId\":\"b\"}]}");
    assert_int_equal(listing_parse_backups(j, &b, &n), 0);
    assert_int_equal(n, 0);
    assert_null(b);
    cJSON_Delete(j);
}

static void test_empty_array(void **state)
{
    (void)state;
    expect_all("{\"DataSet\":[],\"Regions\":[]}", 0, 0);
    /* Nothing usable is the same as nothing. */
    expect_all("{\"DataSet\":[1,2],\"Regions\":[{}]}", 0, 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cJSON *j = parse("{\"DataSet\":[],\"Regions\":[]}");
    struct listing_backup *b = NULL;
    size_t n = 0;

    assert_int_equal(listing_parse_backups(j, NULL, &n), -EINVAL);
    assert_int_equal(listing_parse_backups(j, &b, NULL), -EINVAL);
    assert_int_equal(listing_parse_regions(j, NULL, NULL), -EINVAL);
    assert_int_equal(listing_parse_clusters(j, NULL, NULL), -EINVAL);
    assert_int_equal(listing_parse_logs(j, NULL, NULL), -EINVAL);
    /* Freeing nothing is fine. */
    listing_free_backups(NULL, 0);
    listing_free_backups(&b, 0);
    listing_free_regions(NULL, 3);
    listing_free_clusters(NULL, 0);
    listing_free_logs(NULL, 0);
    cJSON_Delete(j);
}

static void test_elements_not_objects(void **state)
{
    (void)state;
    struct listing_backup *b = NULL;
    size_t n = backups_of("1,\"bk-1\",null,true,false,[],[{\"BackupId\":\"in-array\"}],"
                          "{\"BackupId\":\"bk-ok\"},-5,1e308",
                          &b);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].backup_id, "bk-ok");
    listing_free_backups(&b, n);
}

static void test_ids(void **state)
{
    (void)state;
    expect_backup_id("\"bk-1_A\"", "bk-1_A");
    expect_backup_id("\"0123456789012345678901234567890123456789012345678901234567890123\"",
                     "0123456789012345678901234567890123456789012345678901234567890123");
    /* 65 bytes */
    expect_backup_id("\"01234567890123456789012345678901234567890123456789012345678901234\"", NULL);
    expect_backup_id("\"\"", NULL);
    expect_backup_id("\"a/b\"", NULL);
    expect_backup_id("\"../etc\"", NULL);
    expect_backup_id("\"a b\"", NULL);
    expect_backup_id("\" ab\"", NULL);
    expect_backup_id("\"ab\\n\"", NULL);
    expect_backup_id("\"a\\u0001b\"", NULL);
    expect_backup_id("\"caf\\u00e9\"", NULL);
    expect_backup_id("\"a~b\"", NULL);
    expect_backup_id("\"a.b\"", NULL);
    expect_backup_id("\"a?b=c&d\"", NULL);
    expect_backup_id("null", NULL);
    expect_backup_id("true", NULL);
    expect_backup_id("{}", NULL);
    expect_backup_id("{\"id\":\"x\"}", NULL);
    expect_backup_id("[]", NULL);
    expect_backup_id("[\"bk-1\"]", NULL);
    /* Numeric ids become decimal text and are validated as such. */
    expect_backup_id("42", "42");
    expect_backup_id("0", "0");
    expect_backup_id("4.0", "4");
    expect_backup_id("4.5", NULL);
    expect_backup_id("1e30", NULL);
    expect_backup_id("1e999", NULL); /* strtod makes this infinity, not "inf" */
    expect_backup_id("-1e999", NULL);
    expect_backup_id("-7", "-7"); /* letters, digits, '-' and '_': still a valid id */

    /* A missing id skips the entry, not the answer. */
    struct listing_backup *b = NULL;
    size_t n =
        backups_of("{\"BackupName\":\"no id\"},{\"BackupId\":\"b2\",\"BackupName\":\"ok\"}", &b);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].backup_id, "b2");
    assert_string_equal(b[0].name, "ok");
    listing_free_backups(&b, n);

    /* Ids are case-sensitive keys: "backupId" is an unknown field. */
    n = backups_of("{\"backupId\":\"b1\"}", &b);
    assert_int_equal(n, 0);
    assert_null(b);

    /* Regions must look like ids too: they become directory names. */
    cJSON *j = parse("{\"Regions\":[{\"Region\":\"cn-bj2\"},{\"Region\":\"../x\"},{\"Zone\":\"z\"},"
                     "{\"Region\":\"\"},{\"Region\":null},{\"Region\":\"hk\"}]}");
    struct listing_region *r = NULL;
    assert_int_equal(listing_parse_regions(j, &r, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].region, "cn-bj2");
    assert_null(r[0].zone);
    assert_false(r[0].is_default);
    assert_string_equal(r[1].region, "hk");
    listing_free_regions(&r, n);
    cJSON_Delete(j);

    /* Clusters without a usable ClusterId are skipped. */
    j = parse("{\"DataSet\":[{\"Name\":\"x\"},{\"ClusterId\":\"u/1\"},{\"ClusterId\":\"u-1\"}]}");
    struct listing_cluster *c = NULL;
    assert_int_equal(listing_parse_clusters(j, &c, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].cluster_id, "u-1");
    listing_free_clusters(&c, n);
    cJSON_Delete(j);
}

static void test_valid_id(void **state)
{
    (void)state;
    assert_true(listing_valid_id("a"));
    assert_true(listing_valid_id("udb-AZaz09_-"));
    assert_true(
        listing_valid_id("0123456789012345678901234567890123456789012345678901234567890123"));
    assert_false(
        listing_valid_id("01234567890123456789012345678901234567890123456789012345678901234"));
    assert_false(listing_valid_id(NULL));
    assert_false(listing_valid_id(""));
    assert_false(listing_valid_id("a/b"));
    assert_false(listing_valid_id("a b"));
    assert_false(listing_valid_id("."));
    assert_false(listing_valid_id(".."));
    assert_false(listing_valid_id("a\x01"));
    assert_false(listing_valid_id("\xc3\xa9"));
    assert_false(listing_valid_id("a+b"));
}

static void test_numbers(void **state)
{
    (void)state;
    assert_int_equal(size_of("123"), 123);
    assert_int_equal(size_of("0"), 0);
    assert_int_equal(size_of("\"123\""), 123); /* numeric string */
    assert_int_equal(size_of("\"0\""), 0);
    assert_int_equal(size_of("1024.0"), 1024); /* integral float */
    assert_int_equal(size_of("1.5e3"), 1500);
    assert_int_equal(size_of("1099511627776"), 1099511627776LL); /* 1 TiB, past 32 bits */
    assert_int_equal(size_of("1.5"), -1);                        /* fractional */
    assert_int_equal(size_of("-1"), -1);                         /* negative */
    assert_int_equal(size_of("-100"), -1);
    assert_int_equal(size_of("-0.5"), -1);
    assert_int_equal(size_of("1e30"), -1); /* huge */
    assert_int_equal(size_of("-1e30"), -1);
    assert_int_equal(size_of("1e999"), -1); /* infinity after strtod */
    assert_int_equal(size_of("-1e999"), -1);
    assert_int_equal(size_of("9223372036854775807"), -1); /* rounds to 2^63: past int64 */
    assert_int_equal(size_of("9223372036854774784"), 9223372036854774784LL); /* largest below */
    assert_int_equal(size_of("{}"), -1);                                     /* object */
    assert_int_equal(size_of("{\"v\":1}"), -1);
    assert_int_equal(size_of("[1]"), -1); /* array */
    assert_int_equal(size_of("true"), -1);
    assert_int_equal(size_of("false"), -1);
    assert_int_equal(size_of("null"), -1);
    assert_int_equal(size_of("\"\""), -1); /* strings must be plain decimal */
    assert_int_equal(size_of("\"-5\""), -1);
    assert_int_equal(size_of("\"+5\""), -1);
    assert_int_equal(size_of("\" 5\""), -1);
    assert_int_equal(size_of("\"5 \""), -1);
    assert_int_equal(size_of("\"12abc\""), -1);
    assert_int_equal(size_of("\"1e3\""), -1);
    assert_int_equal(size_of("\"0x10\""), -1);
    assert_int_equal(size_of("\"1.5\""), -1);
    assert_int_equal(size_of("\"NaN\""), -1);
    assert_int_equal(size_of("\"inf\""), -1);
    assert_int_equal(size_of("\"9223372036854775807\""), INT64_MAX);
    assert_int_equal(size_of("\"9223372036854775808\""), -1); /* overflow */
    assert_int_equal(size_of("\"99999999999999999999999999\""), -1);
    assert_int_equal(size_of("\"007\""), 7);
}

/* NaN and infinities cannot be written in JSON, but a cJSON tree can hold them
 * (e.g. one built in code), so the parsers must not trust a number's value.
 * Set directly: cJSON_CreateNumber(NAN) would itself cast NaN to int. */
static cJSON *number(double d)
{
    cJSON *it = cJSON_CreateNumber(0);
    assert_non_null(it);
    it->valuedouble = d;
    return it;
}

static void test_numbers_not_finite(void **state)
{
    (void)state;
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(j, "DataSet");
        cJSON *el = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, el);
        cJSON_AddStringToObject(el, "BackupId", "b1");
        cJSON_AddItemToObject(el, "BackupSize", number(bad[i]));
        cJSON_AddItemToObject(el, "StartTime", number(bad[i]));
        cJSON_AddItemToObject(el, "BackupName", number(bad[i]));
        struct listing_backup *b = NULL;
        size_t n = 0;
        assert_int_equal(listing_parse_backups(j, &b, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(b[0].size, -1);
        assert_int_equal(b[0].start_time, -1);
        assert_null(b[0].name);
        listing_free_backups(&b, n);

        /* Nor as an id. */
        cJSON_ReplaceItemInObject(el, "BackupId", number(bad[i]));
        assert_int_equal(listing_parse_backups(j, &b, &n), 0);
        assert_int_equal(n, 0);
        cJSON_Delete(j);
    }
}

static void test_strings(void **state)
{
    (void)state;
    expect_name("\"plain\"", "plain");
    expect_name("\"\"", "");
    expect_name("42", "42"); /* number where a string is expected */
    expect_name("-3", "-3");
    expect_name("2.5", "2.5");
    expect_name("1e300", "1.0000000000000001e+300");
    expect_name("1e999", NULL); /* infinity is no text anyone sent */
    expect_name("{}", NULL);    /* object */
    expect_name("{\"a\":\"b\"}", NULL);
    expect_name("[]", NULL); /* array */
    expect_name("[\"x\"]", NULL);
    expect_name("true", NULL);
    expect_name("false", NULL);
    expect_name("null", NULL);
    /* Control characters and '/' are kept as sent: making names safe is
     * names.c's job, and xattrs show the real value. */
    expect_name("\"a\\u0001b\\nc\\td\\u001f\\u007f\"", "a\001b\nc\td\037\177");
    expect_name("\"../../etc/passwd\"", "../../etc/passwd");
    expect_name("\"caf\\u00e9 \\ud83d\\ude00\"", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    /* An embedded NUL ends the C string; nothing past it leaks in. */
    char *s = name_of("\"ab\\u0000cd\"");
    assert_non_null(s);
    assert_int_equal(strncmp(s, "ab", 2), 0);
    free(s);
}

static void test_bools(void **state)
{
    (void)state;
    assert_true(is_default_of("true"));
    assert_false(is_default_of("false"));
    assert_true(is_default_of("1"));
    assert_false(is_default_of("0"));
    assert_true(is_default_of("\"true\""));
    assert_false(is_default_of("\"false\""));
    assert_true(is_default_of("\"TRUE\""));
    assert_true(is_default_of("\"1\""));
    assert_false(is_default_of("\"0\""));
    /* Anything else is "not the default". */
    assert_false(is_default_of("2"));
    assert_false(is_default_of("-1"));
    assert_false(is_default_of("0.5"));
    assert_false(is_default_of("\"yes\""));
    assert_false(is_default_of("\"\""));
    assert_false(is_default_of("null"));
    assert_false(is_default_of("{}"));
    assert_false(is_default_of("[true]"));
}

static void test_unknown_fields(void **state)
{
    (void)state;
    struct listing_backup *b = NULL;
    size_t n = backups_of("{\"Extra\":1,\"BackupId\":\"b1\",\"Nested\":{\"BackupId\":\"evil\","
                          "\"BackupSize\":1},\"List\":[1,2,{\"x\":null}],\"BackupSize\":5,"
                          "\"backupsize\":7,\"BACKUPID\":\"b2\",\"\":\"\"}",
                          &b);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].backup_id, "b1");
    assert_int_equal(b[0].size, 5);
    listing_free_backups(&b, n);

    /* Unknown top-level fields next to the array, too. */
    cJSON *j = parse("{\"Action\":\"X\",\"RetCode\":0,\"TotalCount\":\"many\",\"Request\":{},"
                     "\"DataSet\":[{\"BackupId\":\"b1\"}],\"More\":[[[]]]}");
    assert_int_equal(listing_parse_backups(j, &b, &n), 0);
    assert_int_equal(n, 1);
    listing_free_backups(&b, n);
    cJSON_Delete(j);

    /* A duplicated key: the first one counts, and nothing leaks. */
    n = backups_of("{\"BackupId\":\"b1\",\"BackupName\":\"first\",\"BackupName\":\"second\"}", &b);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].name, "first");
    listing_free_backups(&b, n);
}

/* depth levels of [ ... ] or {"k": ... } around a scalar. */
static char *nested(size_t depth, int objects)
{
    char *s = malloc(depth * 6 + 16), *p = s;
    assert_non_null(s);
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "%s", objects ? "{\"k\":" : "[");
    p += sprintf(p, "1");
    for (size_t i = 0; i < depth; i++)
        *p++ = objects ? '}' : ']';
    *p = '\0';
    return s;
}

static void test_deeply_nested(void **state)
{
    (void)state;
    /* Just under cJSON's nesting limit (1000), in unknown fields and in
     * known ones: the parsers only ever look one level into an entry. */
    char *arrs = nested(990, 0), *objs = nested(990, 1);
    size_t len = 3 * strlen(arrs) + 2 * strlen(objs) + 256;
    char *json = malloc(len);
    assert_non_null(json);
    snprintf(json, len,
             "{\"Junk\":%s,\"DataSet\":[%s,{\"BackupId\":\"b1\",\"BackupName\":%s,"
             "\"BackupSize\":%s,\"Deep\":%s}]}",
             arrs, arrs, objs, arrs, objs);
    /* 3 levels above the junk (answer, DataSet, entry) keep it under the limit. */
    cJSON *j = parse(json);
    struct listing_backup *b = NULL;
    size_t n = 0;
    assert_int_equal(listing_parse_backups(j, &b, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(b[0].backup_id, "b1");
    assert_null(b[0].name);
    assert_int_equal(b[0].size, -1);
    listing_free_backups(&b, n);
    cJSON_Delete(j);
    free(json);
    free(arrs);
    free(objs);

    /* Something cJSON did parse, built deeper than its own limit. */
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "DataSet");
    cJSON *el = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, el);
    cJSON_AddStringToObject(el, "BackupId", "b1");
    cJSON *deep = cJSON_AddObjectToObject(el, "BackupName");
    for (int i = 0; i < 5000; i++)
        deep = cJSON_AddObjectToObject(deep, "k");
    assert_int_equal(listing_parse_backups(root, &b, &n), 0);
    assert_int_equal(n, 1);
    assert_null(b[0].name);
    listing_free_backups(&b, n);
    cJSON_Delete(root);
}

/* Writes a DataSet of count backups where every 7th has an unusable id
 * carrying the marker text; returns a cJSON tree. */
static cJSON *big_answer(size_t count, const char *marker)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "DataSet");
    assert_non_null(arr);
    for (size_t i = 0; i < count; i++) {
        char id[128], name[64];
        cJSON *el = cJSON_CreateObject();
        if (i % 7 == 3)
            snprintf(id, sizeof(id), "%s/%zu", marker, i);
        else
            snprintf(id, sizeof(id), "bk-%zu", i);
        snprintf(name, sizeof(name), "backup %zu", i % 100);
        cJSON_AddStringToObject(el, "BackupId", id);
        cJSON_AddStringToObject(el, "BackupName", name);
        cJSON_AddNumberToObject(el, "BackupSize", (double)i * 1000);
        cJSON_AddNumberToObject(el, "StartTime", 1700000000.0 + (double)i);
        cJSON_AddStringToObject(el, "State", "Success");
        cJSON_AddItemToArray(arr, el);
    }
    /* Non-objects are skipped as well. */
    cJSON_AddItemToArray(arr, cJSON_CreateString(marker));
    return root;
}

static void test_many_entries(void **state)
{
    (void)state;
    enum { N = 5000 };
    cJSON *j = big_answer(N, "SECRET-ish");
    struct listing_backup *b = NULL;
    size_t n = 0, want = 0;

    for (size_t i = 0; i < N; i++)
        want += i % 7 != 3;
    assert_int_equal(listing_parse_backups(j, &b, &n), 0);
    assert_int_equal(n, want);
    /* Order is kept, skipped entries leave no hole. */
    size_t k = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 7 == 3)
            continue;
        char id[32];
        snprintf(id, sizeof(id), "bk-%zu", i);
        assert_string_equal(b[k].backup_id, id);
        assert_int_equal(b[k].size, (int64_t)i * 1000);
        assert_int_equal(b[k].start_time, 1700000000 + (int64_t)i);
        assert_int_equal(b[k].end_time, -1);
        assert_string_equal(b[k].state, "Success");
        k++;
    }
    listing_free_backups(&b, n);
    cJSON_Delete(j);
}

static void parse_big_for_capture(void)
{
    cJSON *j = big_answer(5000, "MARKER-7f3a");
    struct listing_backup *b = NULL;
    size_t n = 0;
    int rc = listing_parse_backups(j, &b, &n);
    listing_free_backups(&b, n);
    cJSON_Delete(j);
    fprintf(stderr, "rc=%d\n", rc);
}

/* Skips are reported, but only a few lines per answer and without the
 * offending values (which may be anything, secrets included). */
static void test_skip_warnings(void **state)
{
    (void)state;
    static char out[65536];
    int old = log_level();

    log_init(LOG_WARNING, 0);
    capture_stderr(parse_big_for_capture, out, sizeof(out));
    log_init(old, 0);

    assert_non_null(strstr(out, "rc=0"));
    assert_null(strstr(out, "MARKER-7f3a"));
    assert_non_null(strstr(out, "skipping entry 3: missing or invalid BackupId"));
    assert_non_null(strstr(out, "skipping entry 10:"));
    assert_non_null(strstr(out, "skipped 715 of 5001 entries"));
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_true(lines <= 7); /* 5 skips, one summary, our rc line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regions_ok),
        cmocka_unit_test(test_clusters_ok),
        cmocka_unit_test(test_backups_ok),
        cmocka_unit_test(test_logs_ok),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_missing_is_empty),
        cmocka_unit_test(test_empty_array),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_elements_not_objects),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_valid_id),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_not_finite),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_deeply_nested),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_skip_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
