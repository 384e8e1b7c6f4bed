/* Block arithmetic of the read path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "reader.h"

static void test_span(void **state)
{
    uint64_t f, l;
    const size_t bs = 1u << 20;
    reader_span(0, 1, bs, &f, &l);
    assert_int_equal(f, 0);
    assert_int_equal(l, 0);
    reader_span(0, bs, bs, &f, &l);
    assert_int_equal(l, 0);
    reader_span(0, bs + 1, bs, &f, &l);
    assert_int_equal(l, 1);
    reader_span(bs - 1, 2, bs, &f, &l);
    assert_int_equal(f, 0);
    assert_int_equal(l, 1);
    reader_span(5 * bs, 4096, bs, &f, &l);
    assert_int_equal(f, 5);
    assert_int_equal(l, 5);
    /* Offsets beyond 4 GiB must not wrap. */
    reader_span((uint64_t)300 << 30, 128 << 10, bs, &f, &l);
    assert_int_equal(f, (uint64_t)300 << 10);
    assert_int_equal(l, (uint64_t)300 << 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
