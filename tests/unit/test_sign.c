/* The signature, checked against the provider's documented test vector. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "sign.h"

static const char *const PK = "ucloudsomeone@example.com1296235120854146120";
static const char *const SK = "46f09bb9fab4f12dfc160dae12273d5332b5debe";

static void test_documented_vector(void **state)
{
    /* Deliberately unsorted: sign_compute must sort by name. */
    struct sign_param p[] = {{"Region", "cn-bj2"},
                             {"PublicKey", PK},
                             {"Limit", "10"},
                             {"Action", "DescribeUHostInstance"}};
    char sig[SIGN_HEX_LEN + 1];
    assert_int_equal(sign_compute(p, 4, SK, sig), 0);
    assert_string_equal(sig, "cba5cf5ec4d4233d206b1b54951e3787350a642f");
}

static void test_order_is_byte_order(void **state)
{
    /* "Zone" < "a" in byte order; the other order must give another signature. */
    struct sign_param p1[] = {{"a", "1"}, {"Zone", "2"}};
    struct sign_param p2[] = {{"Zone", "2"}, {"a", "1"}};
    char s1[SIGN_HEX_LEN + 1], s2[SIGN_HEX_LEN + 1];
    assert_int_equal(sign_compute(p1, 2, "k", s1), 0);
    assert_int_equal(sign_compute(p2, 2, "k", s2), 0);
    assert_string_equal(s1, s2);
    assert_string_equal(s1, "311e42e4d3a4a84079ec3e4576769601fcb2cfad"); /* sha1("Zone2a1k") */
}

static void test_values_not_escaped(void **state)
{
    struct sign_param a[] = {{"Name", "a b&c=d"}};
    struct sign_param b[] = {{"Name", "a%20b%26c%3Dd"}};
    char s1[SIGN_HEX_LEN + 1], s2[SIGN_HEX_LEN + 1];
    assert_int_equal(sign_compute(a, 1, "k", s1), 0);
    assert_int_equal(sign_compute(b, 1, "k", s2), 0);
    assert_string_not_equal(s1, s2);
}

static void test_bad_input(void **state)
{
    char sig[SIGN_HEX_LEN + 1];
    struct sign_param p[] = {{"A", NULL}};
    assert_int_equal(sign_compute(p, 1, "k", sig), -EINVAL);
    assert_int_equal(sign_compute(NULL, 0, NULL, sig), -EINVAL);
    assert_int_equal(sign_compute(NULL, 0, "k", sig), 0);
    assert_string_equal(sig, "13fbd79c3d390e5d6585a21e11ff5ec1970cff0c"); /* sha1("k") */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_vector),
        cmocka_unit_test(test_order_is_byte_order),
        cmocka_unit_test(test_values_not_escaped),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
