/* RetCode -> errno, retry decisions, and form escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"

static void test_retcode_mapping(void **state)
{
    static const struct {
        long code;
        int err;
        int retry;
    } table[] = {
        {0, 0, 0},         {110, -EAGAIN, 1}, {130, -EAGAIN, 1}, {150, -EAGAIN, 1},
        {153, -EAGAIN, 1}, {160, -EIO, 0},    {161, -EIO, 0},    {170, -EIO, 0},
        {171, -EACCES, 0}, {172, -EACCES, 0}, {174, -EACCES, 0}, {292, -ENOENT, 0},
        {293, -EACCES, 0}, {294, -EACCES, 0}, {295, -EACCES, 0}, {299, -EACCES, 0},
        {230, -EIO, 0},    {18004, -EIO, 0},  {-1, -EIO, 0},     {999999, -EIO, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(api_retcode_errno(table[i].code), table[i].err);
        assert_int_equal(api_retcode_retryable(table[i].code), table[i].retry);
    }
}

static void test_http_status_mapping(void **state)
{
    assert_int_equal(http_status_errno(200), 0);
    assert_int_equal(http_status_errno(206), 0);
    assert_int_equal(http_status_errno(403), -EACCES);
    assert_int_equal(http_status_errno(404), -ENOENT);
    assert_int_equal(http_status_errno(416), -ERANGE);
    assert_int_equal(http_status_errno(429), -EAGAIN);
    assert_int_equal(http_status_errno(500), -EAGAIN);
    assert_int_equal(http_status_errno(503), -EAGAIN);
    assert_int_equal(http_status_errno(400), -EIO);
}

static void test_form_escape(void **state)
{
    char *e = http_form_escape("a b&c=d/é~._-");
    assert_string_equal(e, "a%20b%26c%3Dd%2F%C3%A9~._-");
    free(e);
    e = http_form_escape("");
    assert_string_equal(e, "");
    free(e);
}

static void test_unreachable_api_fails_fast(void **state)
{
    /* Port 1 on loopback: connection refused, no retries asked. */
    struct api_opts o = {.url = "http://127.0.0.1:1/",
                         .public_key = "pk",
                         .private_key = "sk",
                         .timeout_s = 2,
                         .retries = 0};
    struct api_client *c = api_new(&o);
    assert_non_null(c);
    cJSON *j = (cJSON *)1;
    assert_int_equal(api_call(c, "GetRegion", NULL, 0, 0, &j), -EIO);
    assert_null(j);
    assert_true(strlen(api_last_error()) > 0);
    assert_int_equal(api_calls_made(c), 1);
    api_free(&c);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retcode_mapping),
        cmocka_unit_test(test_http_status_mapping),
        cmocka_unit_test(test_form_escape),
        cmocka_unit_test(test_unreachable_api_fails_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
