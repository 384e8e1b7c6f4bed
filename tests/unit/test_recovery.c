/* Restore windows: lazy, cached, and silent when the endpoint lacks the
 * action or the cluster has no window. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery.h"
#include "spec.h"

struct fake {
    const char *answer; /* JSON when retcode is 0 */
    long retcode;       /* 0, or the RetCode to fail with; -1: transport failure */
    unsigned calls;
};

static int fake_call(void *ctx, const char *action, const struct api_param *p, size_t n,
                     cJSON **out, struct api_error *err)
{
    struct fake *f = ctx;
    f->calls++;
    assert_string_equal(action, "GetUMongoDBRecoverTimeRange");
    assert_int_equal(n, 3);
    assert_string_equal(p[2].name, "ClusterId");
    err->retcode = f->retcode;
    snprintf(err->message, sizeof(err->message), "RetCode %ld: nope", f->retcode);
    if (f->retcode == -1)
        return -EIO;
    if (f->retcode)
        return api_retcode_errno(f->retcode);
    *out = cJSON_Parse(f->answer);
    return 0;
}

static const struct recovery_cluster CL = {"cn-bj2", "cn-bj2-02", "udb-1"};

static struct recovery *open_rec(struct fake *f)
{
    struct recovery_source src = {fake_call, f};
    struct recovery *r = recovery_new(&src, 60);
    assert_non_null(r);
    return r;
}

static void test_window_is_cached(void **state)
{
    struct fake f = {.answer = "{\"RetCode\":0,\"EarliestTime\":100,\"LatestTime\":\"200\"}"};
    struct recovery *r = open_rec(&f);
    int64_t lo = 0, hi = 0;

    assert_int_equal(f.calls, 0); /* nothing is asked before it is needed */
    assert_int_equal(recovery_get(r, &CL, &lo, &hi), 0);
    assert_int_equal(lo, 100);
    assert_int_equal(hi, 200);
    assert_int_equal(recovery_get(r, &CL, &lo, &hi), 0);
    assert_int_equal(f.calls, 1);
    recovery_free(&r);
    assert_null(r);
}

/* 161: the endpoint does not offer the action; never asked again. */
static void test_unknown_action(void **state)
{
    struct fake f = {.retcode = 161};
    struct recovery *r = open_rec(&f);
    int64_t lo, hi;

    assert_int_equal(recovery_get(r, &CL, &lo, &hi), -ENODATA);
    struct recovery_cluster other = {"cn-bj2", "cn-bj2-02", "udb-other"};
    assert_int_equal(recovery_get(r, &other, &lo, &hi), -ENODATA);
    assert_int_equal(f.calls, 1);
    recovery_free(&r);
}

/* An action-specific code: this cluster has no window (cached); others may. */
static void test_no_window(void **state)
{
    struct fake f = {.retcode = 18006};
    struct recovery *r = open_rec(&f);
    int64_t lo, hi;

    assert_int_equal(recovery_get(r, &CL, &lo, &hi), -ENODATA);
    assert_int_equal(recovery_get(r, &CL, &lo, &hi), -ENODATA);
    assert_int_equal(f.calls, 1);
    struct recovery_cluster other = {"cn-bj2", "cn-bj2-02", "udb-2"};
    f.retcode = 0;
    f.answer = "{\"RetCode\":0,\"EarliestTime\":1,\"LatestTime\":2}";
    assert_int_equal(recovery_get(r, &other, &lo, &hi), 0);
    assert_int_equal(f.calls, 2);
    recovery_free(&r);
}

/* A failed call is an error now and asks again next time. */
static void test_failure_not_cached(void **state)
{
    struct fake f = {.retcode = -1};
    struct recovery *r = open_rec(&f);
    int64_t lo, hi;

    assert_int_equal(recovery_get(r, &CL, &lo, &hi), -EIO);
    f.retcode = 0;
    f.answer = "{\"RetCode\":0,\"EarliestTime\":5,\"LatestTime\":6}";
    assert_int_equal(recovery_get(r, &CL, &lo, &hi), 0);
    assert_int_equal(f.calls, 2);
    recovery_free(&r);
}

/* Unusable answers are "no window", never garbage. */
static void test_bad_answers(void **state)
{
    static const char *const bad[] = {"{\"RetCode\":0}",
                                      "{\"RetCode\":0,\"EarliestTime\":9,\"LatestTime\":3}",
                                      "{\"RetCode\":0,\"EarliestTime\":-1,\"LatestTime\":3}",
                                      "{\"RetCode\":0,\"EarliestTime\":\"x\",\"LatestTime\":3}",
                                      "{\"RetCode\":0,\"EarliestTime\":1.5,\"LatestTime\":3}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fake f = {.answer = bad[i]};
        struct recovery *r = open_rec(&f);
        int64_t lo, hi;
        assert_int_equal(recovery_get(r, &CL, &lo, &hi), -ENODATA);
        recovery_free(&r);
    }
}

static void expect_stripped(const char *in, const char *want)
{
    char *got = spec_strip_userinfo(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_strip_userinfo(void **state)
{
    expect_stripped("mongodb://root:s3cret@10.9.1.20:27017/admin",
                    "mongodb://10.9.1.20:27017/admin");
    expect_stripped("mongodb://u:p@w@h1:1,h2:2/?replicaSet=x", "mongodb://h1:1,h2:2/?replicaSet=x");
    expect_stripped("mongodb://h1:1,h2:2/?replicaSet=x&u=a@b",
                    "mongodb://h1:1,h2:2/?replicaSet=x&u=a@b");
    expect_stripped("user:pw@10.0.0.1:27017", "10.0.0.1:27017");
    expect_stripped("10.0.0.1:27017", "10.0.0.1:27017");
    expect_stripped("", "");
    assert_null(spec_strip_userinfo(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_is_cached), cmocka_unit_test(test_unknown_action),
        cmocka_unit_test(test_no_window),        cmocka_unit_test(test_failure_not_cached),
        cmocka_unit_test(test_bad_answers),      cmocka_unit_test(test_strip_userinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
