/* The bounded buffer refuses to grow past its limit and keeps its content. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"

static void test_append_and_cap(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(buf_append(&b, "world", 5), 0);
    assert_string_equal(b.data, "helloworld");
    assert_int_equal(buf_append(&b, "!", 1), -E2BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append(&b, "x", 1), 0);
    buf_free(&b);
    assert_null(b.data);
}

static void test_large(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    int rc = 0, n = 0;
    while ((rc = buf_append(&b, chunk, sizeof(chunk))) == 0)
        n++;
    assert_int_equal(rc, -E2BIG);
    assert_int_equal(n, (1 << 20) / 1000);
    assert_int_equal(b.data[b.len], '\0');
    buf_free(&b);
}

static void test_huge_request_does_not_overflow(void **state)
{
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, "ab", 2), 0);
    assert_int_equal(buf_append(&b, "x", (size_t)-1), -E2BIG);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_huge_request_does_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
