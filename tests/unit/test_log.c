/* Unit tests for log.c: untrusted text can neither forge a log line nor
 * reach a terminal as an escape sequence or a direction override (issue 6,
 * finding 12), and ordinary UTF-8 comes through unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void expect_escape(const char *in, const char *want)
{
    char buf[256];
    assert_ptr_equal(log_escape(in, buf, sizeof(buf)), buf);
    assert_string_equal(buf, want);
}

static void test_control_characters(void **state)
{
    expect_escape("a\nb", "a\\x0Ab");
    expect_escape("a\r\nb", "a\\x0D\\x0Ab");
    expect_escape("\x1b[31mred\x1b[0m", "\\x1B[31mred\\x1B[0m");
    expect_escape("tab\there", "tab\\x09here");
    expect_escape("del\x7f", "del\\x7F");
    /* C1 controls: U+009B is CSI, U+0085 NEL (a new line to some viewers). */
    expect_escape("\xc2\x9b"
                  "31m",
                  "\\u{009B}31m");
    expect_escape("a\xc2\x85"
                  "b",
                  "a\\u{0085}b");
    expect_escape("a\xe2\x80\xa8"
                  "b",
                  "a\\u{2028}b");
}

static void test_direction_controls(void **state)
{
    expect_escape("abc\xe2\x80\xae"
                  "fdp.exe",
                  "abc\\u{202E}fdp.exe"); /* RLO */
    expect_escape("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
                  "\\u{202A}\\u{202B}\\u{202C}\\u{202D}");
    expect_escape("x\xe2\x81\xa6y\xe2\x81\xa7z\xe2\x81\xa8w\xe2\x81\xa9",
                  "x\\u{2066}y\\u{2067}z\\u{2068}w\\u{2069}");
}

static void test_ordinary_text_unchanged(void **state)
{
    const char *same[] = {
        "orders-prod-auto-2026-11-27.tar.gz",
        "with space, (parens) & 100% \\x0A literal",
        "caf\xc3\xa9 \xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93 \xf0\x9f\x98\x80", /* café 数据库 😀 */
        /* U+2014, U+201C, U+201D, U+2060: near the escaped ones, not escaped */
        "\xe2\x80\x94 em dash, \xe2\x80\x9cquotes\xe2\x80\x9d, \xe2\x81\xa0",
        "",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        expect_escape(same[i], same[i]);
    char buf[8];
    assert_string_equal(log_escape(NULL, buf, sizeof(buf)), "");
}

static void test_invalid_utf8(void **state)
{
    expect_escape("a\xff"
                  "b",
                  "a\\xFFb");
    expect_escape("\xe2\x80", "\\xE2\\x80");          /* cut short */
    expect_escape("\xc0\xaf", "\\xC0\\xAF");          /* overlong '/' */
    expect_escape("\xed\xa0\x80", "\\xED\\xA0\\x80"); /* a surrogate */
    /* A lookalike of U+202E whose last byte is no continuation byte. */
    expect_escape("\xe2\x80n", "\\xE2\\x80n");
}

static void test_truncation(void **state)
{
    char buf[8];
    /* Never half an escape, never half a character. */
    assert_string_equal(log_escape("abcd\n", buf, sizeof(buf)), "abcd");
    assert_string_equal(log_escape("abcd\xc3\xa9\xc3\xa9", buf, sizeof(buf)), "abcd\xc3\xa9");
    assert_string_equal(log_escape("a\xe2\x80\xae", buf, sizeof(buf)), "a");
    char one[1] = {'x'};
    assert_string_equal(log_escape("abc", one, sizeof(one)), "");
}

static void test_redact_url(void **state)
{
    char buf[128];
    assert_string_equal(
        log_redact_url("https://s.example/b/c?Signature=abc&Expires=1", buf, sizeof(buf)),
        "https://s.example/b/c?<redacted>");
    assert_string_equal(log_redact_url("https://s.example/a\nb\x1b/c", buf, sizeof(buf)),
                        "https://s.example/a\\x0Ab\\x1B/c");
    assert_string_equal(log_redact_url("https://s.example/\xe2\x80\xae"
                                       "x?k=secret",
                                       buf, sizeof(buf)),
                        "https://s.example/\\u{202E}x?<redacted>");
    char small[16];
    log_redact_url("https://s.example/long/path?Signature=secret", small, sizeof(small));
    assert_null(strstr(small, "secret"));
    assert_null(strstr(small, "Sig"));
}

/* What log_msg writes to stderr for one line naming a cluster. */
static char *captured(const char *arg)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_true(saved >= 0);
    assert_non_null(tmp);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    log_init(LOG_DEBUG, 0);
    log_msg(LOG_ERR, "cluster %s: listed", arg);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    long len = ftell(tmp);
    assert_true(len >= 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(tmp);
    assert_int_equal(fread(text, 1, (size_t)len, tmp), (size_t)len);
    fclose(tmp);
    return text;
}

/* An argument nobody escaped still cannot forge a second line. */
static void test_log_line_escaped(void **state)
{
    char *text = captured("x\numongofs: error: forged line\x1b[2K\xe2\x80\xae"
                          "txt");
    assert_string_equal(text, "umongofs: error: cluster x\\x0Aumongofs: error: forged "
                              "line\\x1B[2K\\u{202E}txt: listed\n");
    free(text);
    text = captured("caf\xc3\xa9");
    assert_string_equal(text, "umongofs: error: cluster caf\xc3\xa9: listed\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_direction_controls),
        cmocka_unit_test(test_ordinary_text_unchanged),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_redact_url),
        cmocka_unit_test(test_log_line_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
