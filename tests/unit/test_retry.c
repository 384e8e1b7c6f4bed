/* The backoff schedule: bounded, growing, jittered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "retry.h"

static void test_bounds(void **state)
{
    for (unsigned attempt = 0; attempt < 40; attempt++) {
        uint64_t hi = 200;
        for (unsigned i = 0; i < attempt && hi < 10000; i++)
            hi *= 2;
        if (hi > 10000)
            hi = 10000;
        for (uint32_t r = 0; r < 5000; r += 7) {
            unsigned d = retry_delay_ms(attempt, 200, 10000, r * 2654435761u);
            assert_true(d >= 100);
            assert_true(d <= hi);
        }
    }
}

static void test_grows_then_caps(void **state)
{
    /* With the largest random value the delay is the ceiling of each step. */
    assert_int_equal(retry_delay_ms(0, 200, 10000, 100), 200);
    assert_int_equal(retry_delay_ms(1, 200, 10000, 300), 400);
    assert_int_equal(retry_delay_ms(2, 200, 10000, 700), 800);
    assert_int_equal(retry_delay_ms(6, 200, 10000, 9900), 10000);
    assert_int_equal(retry_delay_ms(1000, 200, 10000, 9900), 10000);
}

static void test_jitter_spreads(void **state)
{
    unsigned lo = 1u << 31, hi = 0;
    for (uint32_t r = 0; r < 1000; r++) {
        unsigned d = retry_delay_ms(4, 200, 10000, r * 2654435761u);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(hi - lo > 1000); /* not all clients retry at the same instant */
}

static void test_total_is_bounded(void **state)
{
    /* 5 retries at most cost under a minute even at the ceiling. */
    unsigned total = 0;
    for (unsigned a = 0; a < 5; a++)
        total += retry_delay_ms(a, RETRY_BASE_MS, RETRY_CAP_MS, UINT32_MAX);
    assert_true(total <= 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_grows_then_caps),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_total_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
