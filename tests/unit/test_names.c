/* Unit tests for names.c: sanitizing display names and the collision rules of
 * the README ("Names, attributes, errors"). The invariants every assignment must keep are
 * checked in one place (check_assignment) and applied to every case, including
 * a randomized one, so a new rule cannot quietly break an old guarantee.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"

/* ---- helpers ---- */

/* Independent of names.c on purpose: a strict RFC 3629 check. */
static int valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        uint32_t cp;
        int len;
        if (s[0] < 0x80) {
            s++;
            continue;
        } else if ((s[0] & 0xe0) == 0xc0) {
            cp = s[0] & 0x1f;
            len = 2;
        } else if ((s[0] & 0xf0) == 0xe0) {
            cp = s[0] & 0x0f;
            len = 3;
        } else if ((s[0] & 0xf8) == 0xf0) {
            cp = s[0] & 0x07;
            len = 4;
        } else {
            return 0;
        }
        for (int i = 1; i < len; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        s += len;
    }
    return 1;
}

/* What every safe name must be, wherever it came from. */
static void check_safe(const char *s)
{
    assert_non_null(s);
    assert_true(strlen(s) >= 1);
    assert_true(strlen(s) <= NAMES_MAX);
    assert_string_not_equal(s, ".");
    assert_string_not_equal(s, "..");
    assert_null(strchr(s, '/'));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        assert_true(*p >= 0x20 && *p != 0x7f);
        /* No C1 control, no U+2028..U+202E, no U+2066..U+2069. */
        assert_false(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
        assert_false(p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae);
        assert_false(p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
    }
    assert_true(valid_utf8(s));
}

static void expect_sanitize(const char *raw, const char *id, const char *want)
{
    char *s = names_sanitize(raw, id);
    check_safe(s);
    assert_string_equal(s, want);
    free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Safe, pairwise distinct, distinct from every reserved name. */
static void check_assignment(char **out, size_t n, const char *const *reserved)
{
    char **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    assert_non_null(sorted);
    for (size_t i = 0; i < n; i++) {
        check_safe(out[i]);
        for (size_t r = 0; reserved && reserved[r]; r++)
            assert_string_not_equal(out[i], reserved[r]);
        sorted[i] = out[i];
    }
    qsort(sorted, n, sizeof(*sorted), cmp_str);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(sorted[i - 1], sorted[i]);
    free(sorted);
}

static void free_out(char **out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(out[i]);
}

/* Runs names_assign, checks the invariants and the expected names (want may
 * be NULL to skip that part). */
static void expect_assign(const char *const *raw, const char *const *ids, size_t n,
                          const char *const *reserved, const char *const *want)
{
    char **out = calloc(n ? n : 1, sizeof(*out));
    assert_non_null(out);
    assert_int_equal(names_assign(raw, ids, n, reserved, out), 0);
    check_assignment(out, n, reserved);
    for (size_t i = 0; want && i < n; i++)
        assert_string_equal(out[i], want[i]);
    free_out(out, n);
    free(out);
}

static const char *const oplog_logs[] = {"oplog", "logs", NULL};

/* ---- names_sanitize ---- */

static void test_plain_names_unchanged(void **state)
{
    (void)state;
    expect_sanitize("backup-2024-01-01", "b1", "backup-2024-01-01");
    expect_sanitize("with space", "b1", "with space");
    expect_sanitize("...", "b1", "...");
    expect_sanitize(".hidden", "b1", ".hidden");
    expect_sanitize("a..b", "b1", "a..b");
    expect_sanitize("~", "b1", "~");
    expect_sanitize("x~b1", "b1", "x~b1");
}

static void test_slash(void **state)
{
    (void)state;
    expect_sanitize("/", "b1", "_");
    expect_sanitize("a/b", "b1", "a_b");
    expect_sanitize("/etc/passwd", NULL, "_etc_passwd");
    expect_sanitize("../../x", NULL, ".._.._x");
    expect_sanitize("//", NULL, "__");
}

static void test_dots(void **state)
{
    (void)state;
    expect_sanitize(".", "b1", "_.");
    expect_sanitize("..", "b1", "_..");
    expect_sanitize(".", NULL, "_.");
    expect_sanitize("..", NULL, "_..");
    /* An id standing in for an empty name gets the same treatment. */
    expect_sanitize("", ".", "_.");
    expect_sanitize("", "..", "_..");
}

static void test_empty(void **state)
{
    (void)state;
    expect_sanitize("", "b-123", "b-123");
    expect_sanitize(NULL, "b-123", "b-123");
    expect_sanitize("", NULL, "_");
    expect_sanitize(NULL, NULL, "_");
    expect_sanitize("", "", "_");
    expect_sanitize(NULL, "", "_");
    /* An id is made safe like a name. */
    expect_sanitize("", "a/b", "a_b");
}

static void test_control_characters(void **state)
{
    (void)state;
    expect_sanitize("a\001b", "b1", "a_b");
    expect_sanitize("\t\n\r", "b1", "___");
    expect_sanitize("x\x1f\x7fy", "b1", "x__y");
    expect_sanitize("\x1b[31mred\x1b[0m", "b1", "_[31mred_[0m");
    /* A name that is only control characters is not empty: it stays visible. */
    expect_sanitize("\x01", "b1", "_");
    /* C1 controls (U+0080..U+009F) are control characters too: U+009B is
     * CSI to many terminals. One '_' per character. */
    expect_sanitize("a\302\205b", "b1", "a_b");
    expect_sanitize("\302\23331mred", "b1", "_31mred");
    expect_sanitize("\302\200\302\237", "b1", "__");
    /* Their neighbours are ordinary characters. */
    expect_sanitize("a\302\240b\302\251", "b1", "a\302\240b\302\251"); /* NBSP, (c) */
}

/* Direction controls reorder what a listing shows: "invoice<U+202E>fdp.exe"
 * displays as "invoiceexe.pdf". They become '_' like control characters,
 * one per character, and so do the line and paragraph separators. */
static void test_direction_controls(void **state)
{
    (void)state;
    expect_sanitize("invoice\342\200\256fdp.exe", "b1", "invoice_fdp.exe"); /* U+202E */
    expect_sanitize("a\342\201\246b\342\201\251c", "b1", "a_b_c");          /* U+2066, U+2069 */
    expect_sanitize("\342\200\252\342\200\253\342\200\254\342\200\255", "b1",
                    "____");                                         /* U+202A..U+202D */
    expect_sanitize("\342\201\247\342\201\250", "b1", "__");         /* U+2067, U+2068 */
    expect_sanitize("l1\342\200\250l2\342\200\251", "b1", "l1_l2_"); /* U+2028, U+2029 */
    /* Only an override: still a visible, non-empty name. */
    expect_sanitize("\342\200\256", "b1", "_");
    /* Neighbouring code points are ordinary text. */
    expect_sanitize("\342\200\224\342\200\257\342\201\245\342\201\252", "b1",
                    "\342\200\224\342\200\257\342\201\245\342\201\252");
    /* Two clusters differing only by an override collide and get their ids. */
    const char *raw[] = {"x\342\200\256y", "x_y"};
    const char *ids[] = {"udb-1", "udb-2"};
    const char *want[] = {"x_y~udb-1", "x_y~udb-2"};
    expect_assign(raw, ids, 2, NULL, want);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* Valid multibyte characters are kept. */
    expect_sanitize("caf\xc3\xa9", "b1", "caf\xc3\xa9");
    expect_sanitize("\xe2\x82\xac", "b1", "\xe2\x82\xac");
    expect_sanitize("\xf0\x9f\x98\x80", "b1", "\xf0\x9f\x98\x80");
    expect_sanitize("\xe4\xb8\xad\xe6\x96\x87", "b1", "\xe4\xb8\xad\xe6\x96\x87");
    /* One '_' per offending byte. */
    expect_sanitize("\xff", "b1", "_");
    expect_sanitize("a\376\377b", "b1", "a__b");
    expect_sanitize("\x80", "b1", "_");                            /* lone continuation */
    expect_sanitize("\xc0\xaf", "b1", "__");                       /* overlong '/' */
    expect_sanitize("\xe0\x80\xaf", "b1", "___");                  /* overlong, 3 bytes */
    expect_sanitize("\xf0\x80\x80\xaf", "b1", "____");             /* overlong, 4 bytes */
    expect_sanitize("\xed\xa0\x80", "b1", "___");                  /* surrogate U+D800 */
    expect_sanitize("\xf4\x90\x80\x80", "b1", "____");             /* U+110000 */
    expect_sanitize("\xf5\x80\x80\x80", "b1", "____");             /* lead byte past F4 */
    expect_sanitize("\xe2\x82x", "b1", "__x");                     /* truncated */
    expect_sanitize("x\xe2\x82", "b1", "x__");                     /* truncated at the end */
    expect_sanitize("\xc3\xa9\xa9", "b1", "\xc3\xa9_");            /* stray continuation */
    expect_sanitize("\xed\x9f\xbf", "b1", "\xed\x9f\xbf");         /* U+D7FF is fine */
    expect_sanitize("\xf4\x8f\xbf\xbf", "b1", "\xf4\x8f\xbf\xbf"); /* U+10FFFF is fine */
}

/* n copies of the character c (a string of 1 to 4 bytes). */
static char *repeat(const char *c, size_t n)
{
    size_t len = strlen(c);
    char *s = malloc(len * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, c, len);
    s[len * n] = '\0';
    return s;
}

static void check_cut(const char *c, size_t count, size_t want_len)
{
    char *raw = repeat(c, count);
    char *s = names_sanitize(raw, "b1");
    check_safe(s);
    assert_int_equal(strlen(s), want_len);
    assert_memory_equal(s, raw, want_len);
    free(s);
    free(raw);
}

static void test_long_names(void **state)
{
    (void)state;
    check_cut("a", 300, 255);               /* ASCII: 300 -> 255 */
    check_cut("a", 255, 255);               /* exactly the limit: untouched */
    check_cut("\xc3\xa9", 150, 254);        /* 2-byte: 127 characters */
    check_cut("\xe2\x82\xac", 100, 255);    /* 3-byte: 85 characters, exact fit */
    check_cut("\xf0\x9f\x98\x80", 75, 252); /* 4-byte: 63 characters */

    /* A character straddling byte 255 after an ASCII prefix is dropped whole. */
    char raw[300];
    memset(raw, 'a', 253);
    memcpy(raw + 253, "\xf0\x9f\x98\x80tail", 9);
    char *s = names_sanitize(raw, NULL);
    check_safe(s);
    assert_int_equal(strlen(s), 253);
    free(s);

    /* A replaced byte counts as one byte of the limit. */
    memset(raw, '/', 299);
    raw[299] = '\0';
    s = names_sanitize(raw, NULL);
    check_safe(s);
    assert_int_equal(strlen(s), 255);
    free(s);

    /* A very long name costs no more than the limit. */
    char *huge = repeat("x", 1 << 20);
    s = names_sanitize(huge, NULL);
    assert_int_equal(strlen(s), 255);
    free(s);
    free(huge);

    /* Long id standing in for an empty name. */
    char *id = repeat("i", 300);
    s = names_sanitize("", id);
    check_safe(s);
    assert_int_equal(strlen(s), 255);
    free(s);
    free(id);
}

/* ---- names_assign ---- */

static void test_assign_unique_unchanged(void **state)
{
    (void)state;
    const char *raw[] = {"daily", "weekly", "a/b", ".", NULL, ""};
    const char *ids[] = {"b1", "b2", "b3", "b4", "b5", "b6"};
    const char *want[] = {"daily", "weekly", "a_b", "_.", "b5", "b6"};
    expect_assign(raw, ids, 6, oplog_logs, want);
    expect_assign(raw, ids, 0, oplog_logs, NULL);
    expect_assign(NULL, NULL, 0, NULL, NULL);
}

static void test_assign_duplicates(void **state)
{
    (void)state;
    const char *raw2[] = {"x", "x", "y"};
    const char *ids2[] = {"b2", "b1", "b3"};
    const char *want2[] = {"x~b2", "x~b1", "y"};
    expect_assign(raw2, ids2, 3, oplog_logs, want2);

    const char *raw3[] = {"nightly", "other", "nightly", "nightly"};
    const char *ids3[] = {"c", "d", "a", "b"};
    const char *want3[] = {"nightly~c", "other", "nightly~a", "nightly~b"};
    expect_assign(raw3, ids3, 4, oplog_logs, want3);

    /* Different raw names that sanitize alike collide too. */
    const char *rawc[] = {"a/b", "a\001b", "a_b"};
    const char *idsc[] = {"i1", "i2", "i3"};
    const char *wantc[] = {"a_b~i1", "a_b~i2", "a_b~i3"};
    expect_assign(rawc, idsc, 3, NULL, wantc);

    /* Two unnamed entries are told apart by their ids without any suffix,
     * but an unnamed entry and one named like its id collide. */
    const char *rawe[] = {"", NULL, "e1"};
    const char *idse[] = {"e1", "e2", "z9"};
    const char *wante[] = {"e1~e1", "e2", "e1~z9"};
    expect_assign(rawe, idse, 3, NULL, wante);
}

static void test_assign_reserved(void **state)
{
    (void)state;
    const char *raw[] = {"oplog", "logs", "oplogs", "log"};
    const char *ids[] = {"b1", "b2", "b3", "b4"};
    const char *want[] = {"oplog~b1", "logs~b2", "oplogs", "log"};
    expect_assign(raw, ids, 4, oplog_logs, want);

    /* Without reserved names, nothing is suffixed. */
    const char *want_none[] = {"oplog", "logs", "oplogs", "log"};
    expect_assign(raw, ids, 4, NULL, want_none);
    const char *const empty[] = {NULL};
    expect_assign(raw, ids, 4, empty, want_none);

    /* A reserved name that is also duplicated. */
    const char *rawd[] = {"oplog", "oplog"};
    const char *idsd[] = {"b1", "b2"};
    const char *wantd[] = {"oplog~b1", "oplog~b2"};
    expect_assign(rawd, idsd, 2, oplog_logs, wantd);

    /* A reserved name that looks like a suffixed one is never handed out. */
    const char *const tricky[] = {"x~b1", "x~b1~2", NULL};
    const char *rawt[] = {"x", "x", "x~b1"};
    const char *idst[] = {"b1", "b2", "b3"};
    const char *wantt[] = {"x~b1~3", "x~b2", "x~b1~b3"};
    expect_assign(rawt, idst, 3, tricky, wantt);
}

static void test_assign_looks_suffixed(void **state)
{
    (void)state;
    /* The entry the user literally named "x~b1" keeps that name; the
     * generated one moves on. */
    const char *raw[] = {"x", "x", "x~b1"};
    const char *ids[] = {"b1", "b2", "b3"};
    const char *want[] = {"x~b1~2", "x~b2", "x~b1"};
    expect_assign(raw, ids, 3, oplog_logs, want);

    /* "~2" is itself taken by a literal name: the next number is used. */
    const char *raw2[] = {"x", "x", "x~b1", "x~b1~2"};
    const char *ids2[] = {"b1", "b2", "b3", "b4"};
    const char *want2[] = {"x~b1~3", "x~b2", "x~b1", "x~b1~2"};
    expect_assign(raw2, ids2, 4, oplog_logs, want2);

    /* Alone, a name that looks suffixed is just a name. */
    const char *raw3[] = {"x~b1"};
    const char *ids3[] = {"b9"};
    const char *want3[] = {"x~b1"};
    expect_assign(raw3, ids3, 1, oplog_logs, want3);
}

static void test_assign_same_id(void **state)
{
    (void)state;
    /* Hostile: the same entry twice. Still unique, still deterministic. */
    const char *raw[] = {"x", "x", "x"};
    const char *ids[] = {"a", "a", "a"};
    const char *want[] = {"x~a", "x~a~2", "x~a~3"};
    expect_assign(raw, ids, 3, NULL, want);

    /* Empty and odd ids in a suffix are made safe too. */
    const char *rawo[] = {"x", "x", "x"};
    const char *idso[] = {"", "a/b", "\x01"};
    char *out[3];
    assert_int_equal(names_assign(rawo, idso, 3, NULL, out), 0);
    check_assignment(out, 3, NULL);
    assert_string_equal(out[0], "x~_");
    assert_string_equal(out[1], "x~a_b");
    assert_string_equal(out[2], "x~_~2");
    free_out(out, 3);
}

static void check_suffixed_long(const char *c, size_t count, const char *id)
{
    char *raw = repeat(c, count);
    const char *raws[] = {raw, raw};
    const char *ids[] = {id, "zz"};
    char *out[2];
    size_t idlen = strlen(id);

    assert_int_equal(names_assign(raws, ids, 2, NULL, out), 0);
    check_assignment(out, 2, NULL);
    size_t len = strlen(out[0]);
    assert_true(len <= NAMES_MAX);
    assert_true(len > NAMES_MAX - strlen(c)); /* cut as little as possible */
    assert_int_equal(out[0][len - idlen - 1], '~');
    assert_string_equal(out[0] + len - idlen, id);
    assert_memory_equal(out[0], raw, len - idlen - 1);
    free_out(out, 2);
    free(raw);
}

static void test_assign_long_suffixed(void **state)
{
    (void)state;
    check_suffixed_long("a", 300, "b1");
    check_suffixed_long("a", 300,
                        "0123456789012345678901234567890123456789012345678901234567890123");
    check_suffixed_long("\xc3\xa9", 150, "b1");
    check_suffixed_long("\xe2\x82\xac", 100, "abc");
    check_suffixed_long("\xe2\x82\xac", 100, "ab");
    check_suffixed_long("\xf0\x9f\x98\x80", 75, "b-1_x");

    /* Short enough not to need a cut. */
    const char *raws[] = {"short", "short"};
    const char *ids[] = {"i1", "i2"};
    const char *want[] = {"short~i1", "short~i2"};
    expect_assign(raws, ids, 2, NULL, want);

    /* A 255-byte name and a same-id twin: "~2" also fits within the limit. */
    char *raw = repeat("a", 300);
    const char *rawt[] = {raw, raw};
    const char *idt[] = {"b1", "b1"};
    char *out[2];
    assert_int_equal(names_assign(rawt, idt, 2, NULL, out), 0);
    check_assignment(out, 2, NULL);
    assert_int_equal(strlen(out[0]), 255);
    assert_int_equal(strlen(out[1]), 255);
    free_out(out, 2);

    /* A huge id cannot crowd the name out. */
    char *bigid = repeat("i", 1000);
    const char *idb[] = {bigid, "b2"};
    assert_int_equal(names_assign(rawt, idb, 2, NULL, out), 0);
    check_assignment(out, 2, NULL);
    assert_true(strncmp(out[0], "aaaa", 4) == 0);
    free_out(out, 2);
    free(bigid);
    free(raw);
}

/* Deterministic PRNG so a failure reproduces. */
static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

struct triple {
    const char *raw, *id, *name;
};

static int cmp_triple(const void *pa, const void *pb)
{
    const struct triple *a = pa, *b = pb;
    int r = strcmp(a->raw, b->raw);
    if (r == 0)
        r = strcmp(a->id, b->id);
    if (r == 0)
        r = strcmp(a->name, b->name);
    return r;
}

/* The (raw, id) -> name mapping as a sorted list. Entries with the same raw
 * name and id cannot be told apart, so only the set of names they get counts. */
static struct triple *mapping(const char **raw, const char **ids, char **out, size_t n)
{
    struct triple *t = calloc(n, sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        t[i].raw = raw[i] ? raw[i] : "";
        t[i].id = ids[i];
        t[i].name = out[i];
    }
    qsort(t, n, sizeof(*t), cmp_triple);
    return t;
}

/* Any permutation of the input must give the same mapping. */
static void check_order_independent(const char **raw, const char **ids, size_t n,
                                    const char *const *reserved, uint32_t seed)
{
    char **ref = calloc(n, sizeof(*ref)), **out = calloc(n, sizeof(*out));
    const char **praw = calloc(n, sizeof(*praw)), **pids = calloc(n, sizeof(*pids));
    size_t *perm = calloc(n, sizeof(*perm));
    assert_true(ref && out && perm && praw && pids);

    assert_int_equal(names_assign(raw, ids, n, reserved, ref), 0);
    check_assignment(ref, n, reserved);
    struct triple *want = mapping(raw, ids, ref, n);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = rng_next(&seed) % i, t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            praw[i] = raw[perm[i]];
            pids[i] = ids[perm[i]];
        }
        assert_int_equal(names_assign(praw, pids, n, reserved, out), 0);
        struct triple *got = mapping(praw, pids, out, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(cmp_triple(&got[i], &want[i]), 0);
        free(got);
        free_out(out, n);
    }
    free(want);
    free_out(ref, n);
    free(ref);
    free(out);
    free(perm);
    free(praw);
    free(pids);
}

static void test_assign_order_independent(void **state)
{
    (void)state;
    const char *raw[] = {"x",   "x",   "x~b1", "x~b1~2", "oplog", "",   NULL,
                         "a/b", "a_b", "y",    "x",      "logs",  "b7", "z"};
    const char *ids[] = {"b1", "b2", "b3", "b4", "b5", "b6", "b7",
                         "b8", "b9", "c1", "b1", "c2", "c3", "c4"};
    check_order_independent(raw, ids, sizeof(raw) / sizeof(raw[0]), oplog_logs, 1);
}

/* Random names from a tiny alphabet, so that collisions, literal "~" names and
 * reserved names all occur often. */
static void test_assign_random(void **state)
{
    (void)state;
    static const char *const pieces[] = {"x", "~", "1", "2", "b", "/", "", "\xff", "oplog"};
    static const char *const idpool[] = {"1", "2", "b1", "b2", "x", "~1"};
    const char *const reserved[] = {"oplog", "logs", "x~1", "x~b1~2", NULL};
    enum { N = 60 };
    char bufs[N][32];
    const char *raw[N], *ids[N];
    uint32_t seed = 12345;

    for (int iter = 0; iter < 200; iter++) {
        size_t n = 1 + rng_next(&seed) % N;
        for (size_t i = 0; i < n; i++) {
            bufs[i][0] = '\0';
            for (uint32_t k = rng_next(&seed) % 4; k > 0; k--)
                strcat(bufs[i], pieces[rng_next(&seed) % 9]);
            raw[i] = bufs[i];
            ids[i] = idpool[rng_next(&seed) % 6];
        }
        check_order_independent(raw, ids, n, reserved, seed);
    }
}

static void test_assign_many(void **state)
{
    (void)state;
    enum { N = 5000 };
    char(*idbuf)[16] = malloc(N * sizeof(*idbuf));
    const char **raw = malloc(N * sizeof(*raw)), **ids = malloc(N * sizeof(*ids));
    char **out = calloc(N, sizeof(*out));
    assert_true(idbuf && raw && ids && out);

    /* 5000 backups all called the same: every one gets its id. */
    for (size_t i = 0; i < N; i++) {
        snprintf(idbuf[i], sizeof(idbuf[i]), "bk-%zu", i);
        raw[i] = "daily";
        ids[i] = idbuf[i];
    }
    assert_int_equal(names_assign(raw, ids, N, oplog_logs, out), 0);
    check_assignment(out, N, oplog_logs);
    assert_string_equal(out[4321], "daily~bk-4321");
    free_out(out, N);

    /* 5000 copies of the very same entry: "~2" .. "~5000", in linear time. */
    for (size_t i = 0; i < N; i++)
        ids[i] = "same";
    assert_int_equal(names_assign(raw, ids, N, oplog_logs, out), 0);
    check_assignment(out, N, oplog_logs);
    free_out(out, N);

    /* 5000 distinct names: nothing changes. */
    for (size_t i = 0; i < N; i++) {
        raw[i] = idbuf[i];
        ids[i] = idbuf[i];
    }
    assert_int_equal(names_assign(raw, ids, N, oplog_logs, out), 0);
    check_assignment(out, N, oplog_logs);
    for (size_t i = 0; i < N; i++)
        assert_string_equal(out[i], idbuf[i]);
    free_out(out, N);

    free(idbuf);
    free(raw);
    free(ids);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names_unchanged),
        cmocka_unit_test(test_slash),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_direction_controls),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_assign_unique_unchanged),
        cmocka_unit_test(test_assign_duplicates),
        cmocka_unit_test(test_assign_reserved),
        cmocka_unit_test(test_assign_looks_suffixed),
        cmocka_unit_test(test_assign_same_id),
        cmocka_unit_test(test_assign_long_suffixed),
        cmocka_unit_test(test_assign_order_independent),
        cmocka_unit_test(test_assign_random),
        cmocka_unit_test(test_assign_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
