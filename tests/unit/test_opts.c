/* Unit tests for opts.c: size options, including the values that used to
 * wrap around (issue 6, finding 13: cache_size=17179869185G became 1G). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "opts.h"

static void expect_size(const char *s, uint64_t max, uint64_t want)
{
    uint64_t v = 12345;
    assert_int_equal(opts_parse_size(s, max, &v), 0);
    assert_true(v == want);
}

static void expect_fail(const char *s, uint64_t max, int rc)
{
    uint64_t v = 12345;
    assert_int_equal(opts_parse_size(s, max, &v), rc);
    assert_true(v == 12345); /* untouched on failure */
}

static void test_suffixes(void **state)
{
    expect_size("1048576", OPTS_SIZE_MAX, 1048576);
    expect_size("0", OPTS_SIZE_MAX, 0);
    expect_size("512K", OPTS_SIZE_MAX, 512u << 10);
    expect_size("512k", OPTS_SIZE_MAX, 512u << 10);
    expect_size("2M", OPTS_SIZE_MAX, 2u << 20);
    expect_size("2m", OPTS_SIZE_MAX, 2u << 20);
    expect_size("2MiB", OPTS_SIZE_MAX, 2u << 20);
    expect_size("2MB", OPTS_SIZE_MAX, 2u << 20);
    expect_size("4096B", OPTS_SIZE_MAX, 4096);
    expect_size("1G", OPTS_SIZE_MAX, UINT64_C(1) << 30);
    expect_size("16G", OPTS_SIZE_MAX, OPTS_SIZE_MAX);
    expect_size("16384M", OPTS_SIZE_MAX, OPTS_SIZE_MAX);
    expect_size("17179869184", OPTS_SIZE_MAX, OPTS_SIZE_MAX);
    expect_size("2T", UINT64_C(1) << 50, UINT64_C(2) << 40); /* cache_max */
    expect_size("3t", UINT64_C(1) << 50, UINT64_C(3) << 40);
    expect_fail("1T", OPTS_SIZE_MAX, -ERANGE);
    expect_fail("16777217G", UINT64_C(1) << 44, -ERANGE); /* (2^24+1) G > 16T */
}

static void test_malformed(void **state)
{
    const char *bad[] = {"",    "M",     "-1",  "-1G", "+1M",  " 1M",  "1M ", "1 M", "1P",
                         "1MM", "1MiBB", "1BB", "1iB", "0x10", "1.5M", "1e3", "2Mi"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_fail(bad[i], OPTS_SIZE_MAX, -EINVAL);
    uint64_t v;
    assert_int_equal(opts_parse_size(NULL, OPTS_SIZE_MAX, &v), -EINVAL);
}

/* Every one of these wraps around to an allowed value when the suffix is
 * applied first and the range checked after. */
static void test_overflow(void **state)
{
    expect_fail("17179869185G", OPTS_SIZE_MAX, -ERANGE);    /* (2^34+1) << 30 = 2^30 mod 2^64 */
    expect_fail("17592186044417M", OPTS_SIZE_MAX, -ERANGE); /* (2^44+1) << 20 */
    expect_fail("18014398509481985K", OPTS_SIZE_MAX, -ERANGE);
    expect_fail("18446744073709551617", OPTS_SIZE_MAX, -ERANGE); /* 2^64 + 1 */
    expect_fail("99999999999999999999999999999999G", OPTS_SIZE_MAX, -ERANGE);
    expect_fail("17G", OPTS_SIZE_MAX, -ERANGE);
    expect_fail("17179869185", OPTS_SIZE_MAX, -ERANGE);
    /* The per-option maxima of main.c. */
    expect_size("64M", 64u << 20, 64u << 20);
    expect_fail("65M", 64u << 20, -ERANGE);
    expect_fail("67108865", 64u << 20, -ERANGE);
    expect_fail("17592186044417M", 64u << 20, -ERANGE); /* (2^44+1) << 20 wraps to 1M */
    expect_size("1G", 1u << 30, 1u << 30);
    expect_fail("1025M", 1u << 30, -ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
