/* The signature, checked against the provider's documented test vector. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
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

/* SHA-1 of text, in lower-case hex, computed here without sign.c. */
static void sha1_hex(const char *text, char out[SIGN_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(text, strlen(text), md, &len, EVP_sha1(), NULL), 1);
    assert_int_equal(len * 2, SIGN_HEX_LEN);
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The signature covers the values exactly as given: no URL encoding (which
 * the request body applies afterwards), no trimming, no normalising. Each
 * value here holds something an encoder would change. */
static void test_values_not_escaped(void **state)
{
    static const char *const values[] = {
        "a b&c=d",          /* space, separators */
        "a%20b%26c%3Dd",    /* already encoded: must not be decoded either */
        "x+y/z?q#f~*'()!",  /* characters form and URL encoders disagree on */
        "caf\xc3\xa9",      /* UTF-8 */
        " lead and trail ", /* no trimming */
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct sign_param p[] = {{"Name", values[i]}, {"Action", "A"}};
        char text[128], want[SIGN_HEX_LEN + 1], got[SIGN_HEX_LEN + 1];
        snprintf(text, sizeof(text), "ActionAName%sk", values[i]);
        sha1_hex(text, want);
        assert_int_equal(sign_compute(p, 2, "k", got), 0);
        assert_string_equal(got, want);
    }
    /* And a fixed vector, in case sha1_hex and sign.c shared a mistake:
     * sha1("Namea b&c=dk"). */
    struct sign_param a[] = {{"Name", "a b&c=d"}};
    char sig[SIGN_HEX_LEN + 1];
    assert_int_equal(sign_compute(a, 1, "k", sig), 0);
    assert_string_equal(sig, "44d9a6e932db427916b39c3f84235e190d63ca54");
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
