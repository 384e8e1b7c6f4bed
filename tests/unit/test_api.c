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
        {171, -EACCES, 0}, {172, -EACCES, 0}, {174, -EACCES, 0}, {292, -EACCES, 0},
        {293, -EACCES, 0}, {294, -EACCES, 0}, {295, -EACCES, 0}, {299, -EACCES, 0},
        {230, -EIO, 0},    {18004, -EIO, 0},  {-1, -EIO, 0},     {999999, -EIO, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(api_retcode_errno(table[i].code), table[i].err);
        assert_int_equal(api_retcode_retryable(table[i].code), table[i].retry);
    }
}

/* Codes about one request's object, as opposed to the documented common ones. */
static void test_action_specific(void **state)
{
    static const long common[] = {-1,  0,   110, 130, 150, 153, 160, 161, 170,
                                  171, 172, 174, 292, 293, 294, 295, 299};
    static const long specific[] = {230, 8038, 18003, 18005, 18010, 18011, 999999};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        assert_false(api_retcode_action_specific(common[i]));
    for (size_t i = 0; i < sizeof(specific) / sizeof(specific[0]); i++)
        assert_true(api_retcode_action_specific(specific[i]));
}

static int parse_answer(const char *body, long status, cJSON **out, struct api_error *e)
{
    return api_parse_answer(body, body ? strlen(body) : 0, status, out, e);
}

/* RetCode as a number or as decimal text; anything else is malformed. */
static void test_parse_answer_retcode(void **state)
{
    struct api_error e;
    cJSON *j = NULL;

    assert_int_equal(parse_answer("{\"RetCode\":0,\"X\":1}", 200, &j, &e), 0);
    assert_non_null(j);
    assert_int_equal(e.retcode, 0);
    cJSON_Delete(j);
    assert_int_equal(parse_answer("{\"RetCode\":\"0\",\"DataSet\":[]}", 200, &j, &e), 0);
    assert_non_null(j);
    cJSON_Delete(j);

    assert_int_equal(parse_answer("{\"RetCode\":\"153\",\"Message\":\"slow\"}", 200, &j, &e),
                     -EAGAIN);
    assert_null(j);
    assert_int_equal(e.retcode, 153);
    assert_int_equal(parse_answer("{\"RetCode\":\"171\"}", 200, &j, &e), -EACCES);
    assert_int_equal(parse_answer("{\"RetCode\":292}", 200, &j, &e), -EACCES);
    assert_int_equal(e.retcode, 292);
    assert_int_equal(parse_answer("{\"RetCode\":\"18010\",\"Message\":\"no\"}", 200, &j, &e), -EIO);
    assert_int_equal(e.retcode, 18010);
    assert_string_equal(e.message, "RetCode 18010: no");

    static const char *const bad[] = {"{}",
                                      "{\"RetCode\":null}",
                                      "{\"RetCode\":\"\"}",
                                      "{\"RetCode\":\" 0\"}",
                                      "{\"RetCode\":\"0x0\"}",
                                      "{\"RetCode\":\"-1\"}",
                                      "{\"RetCode\":-1}",
                                      "{\"RetCode\":0.5}",
                                      "{\"RetCode\":\"1e3\"}",
                                      "{\"RetCode\":\"99999999999\"}",
                                      "{\"RetCode\":true}",
                                      "{\"RetCode\":[0]}",
                                      "[0]",
                                      "not json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = (cJSON *)1;
        assert_int_equal(parse_answer(bad[i], 200, &j, &e), -EIO);
        assert_null(j);
        assert_int_equal(e.retcode, -1);
    }
    /* A gateway page instead of JSON: worth a retry only for 5xx and 429. */
    assert_int_equal(parse_answer("<html>502</html>", 502, &j, &e), -EAGAIN);
    assert_int_equal(parse_answer(NULL, 429, &j, &e), -EAGAIN);
    assert_int_equal(parse_answer("<html></html>", 404, &j, &e), -EIO);
}

/* The provider's Message reaches logs: it must not forge lines. */
static void test_parse_answer_escapes_message(void **state)
{
    struct api_error e;
    cJSON *j = NULL;

    assert_int_equal(
        parse_answer("{\"RetCode\":18010,\"Message\":\"a\\nb\\u001b[31m\\u202ec\"}", 200, &j, &e),
        -EIO);
    assert_null(strchr(e.message, '\n'));
    assert_null(strchr(e.message, '\x1b'));
    assert_string_equal(e.message, "RetCode 18010: a\\x0Ab\\x1B[31m\\u{202E}c");
}

/* Empty values are neither sent nor signed, like the provider's SDK does. */
static void test_request_body_drops_empty(void **state)
{
    struct api_opts o = {.url = "http://127.0.0.1:1/",
                         .public_key = "pk",
                         .private_key = "sk",
                         .project_id = "",
                         .timeout_s = 1};
    struct api_client *c = api_new(&o);
    assert_non_null(c);
    struct api_param with_empty[] = {{"Region", "cn-bj2"}, {"Zone", ""}, {"ClusterId", NULL}};
    struct api_param plain[] = {{"Region", "cn-bj2"}};
    char *a = api_request_body(c, "ListUMongoDBInstances", with_empty, 3);
    char *b = api_request_body(c, "ListUMongoDBInstances", plain, 1);
    assert_non_null(a);
    assert_non_null(b);
    /* Same body, same signature: the empty parameters left no trace. */
    assert_string_equal(a, b);
    assert_null(strstr(a, "Zone"));
    assert_null(strstr(a, "ClusterId"));
    assert_null(strstr(a, "ProjectId"));
    assert_non_null(strstr(a, "Region=cn-bj2"));
    free(a);
    free(b);
    api_free(&c);

    o.project_id = "org-1";
    c = api_new(&o);
    a = api_request_body(c, "GetRegion", NULL, 0);
    assert_non_null(strstr(a, "ProjectId=org-1"));
    free(a);
    api_free(&c);
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
    struct api_error e;
    assert_int_equal(api_call(c, "GetRegion", NULL, 0, 0, &j, &e), -EIO);
    assert_null(j);
    assert_int_equal(e.retcode, -1);
    assert_true(strlen(e.message) > 0);
    assert_int_equal(api_calls_made(c), 1);
    api_free(&c);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retcode_mapping),
        cmocka_unit_test(test_action_specific),
        cmocka_unit_test(test_parse_answer_retcode),
        cmocka_unit_test(test_parse_answer_escapes_message),
        cmocka_unit_test(test_request_body_drops_empty),
        cmocka_unit_test(test_http_status_mapping),
        cmocka_unit_test(test_form_escape),
        cmocka_unit_test(test_unreachable_api_fails_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
