/* names: safe and unique directory entry names from the provider's display names.
 *
 * Display names are arbitrary user text (docs/provider-api.md; the rules are
 * in the README, "Names, attributes, errors"), so every byte that could break
 * a path or a terminal is replaced, and names that clash
 * within one directory are told apart by the entry's id. Everything here is a
 * pure function of its input *set*: the catalog re-lists directories in
 * whatever order the provider answers, and a name must not move when it does.
 * See names.h for the contract.
 */
#include "names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An id longer than this is cut before it becomes a "~ID" suffix, so that a
 * hostile id cannot push the display name out of the result altogether. Real
 * ids are at most 64 bytes (listing.h). */
#define NAMES_ID_MAX 127

/* Length of the valid UTF-8 character at s, or 0 when s does not start one.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid, as in
 * RFC 3629. Never reads past a NUL: NUL is not a continuation byte. */
static size_t names_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;

    /* The second byte's range is what excludes overlongs, surrogates and
     * values past U+10FFFF. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* True for the character of length n at s that a terminal acts on rather
 * than shows: the C1 controls (U+0080..U+009F; U+009B is CSI to many
 * terminals), the line and paragraph separators (U+2028, U+2029) and the
 * direction embeddings, overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069), which reorder how the rest of a name is displayed
 * ("abc<U+202E>txt.exe" shows as "abcexe.txt"). */
static bool names_hidden_control(const unsigned char *s, size_t n)
{
    if (n == 2)
        return s[0] == 0xc2 && s[1] <= 0x9f;
    if (n != 3 || s[0] != 0xe2)
        return false;
    return (s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae) ||
           (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9);
}

/* Copies the safe form of s into dst (room for max bytes plus a NUL), stopping
 * before the first character that would not fit, so a cut never splits a
 * character. Reads only as much of s as it copies (plus a character's worth),
 * so a megabyte-long name costs no more than a short one. Returns the length. */
static size_t names_clean(const char *s, size_t max, char *dst)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0;

    while (*p) {
        size_t n = names_utf8_len(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f || *p == '/'))) {
            /* One '_' per offending byte: a broken sequence stays visible as
             * such instead of silently merging with its neighbours. */
            if (len + 1 > max)
                break;
            dst[len++] = '_';
            p++;
            continue;
        }
        if (names_hidden_control(p, n)) {
            /* A valid character, so one '_' for the whole of it. */
            if (len + 1 > max)
                break;
            dst[len++] = '_';
            p += n;
            continue;
        }
        if (len + n > max)
            break;
        memcpy(dst + len, p, n);
        len += n;
        p += n;
    }
    dst[len] = '\0';
    return len;
}

/* Longest prefix of the valid UTF-8 string s (of length len) that is at most
 * max bytes and ends on a character boundary. */
static size_t names_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

char *names_sanitize(const char *raw, const char *id)
{
    char buf[NAMES_MAX + 1];
    size_t len = names_clean(raw ? raw : "", NAMES_MAX, buf);

    /* An unnamed entry is best shown by its id: it is what the provider's
     * console shows and what the user will search for. */
    if (len == 0 && id)
        len = names_clean(id, NAMES_MAX, buf);
    if (len == 0)
        return strdup("_");
    if (strcmp(buf, ".") == 0)
        return strdup("_.");
    if (strcmp(buf, "..") == 0)
        return strdup("_..");
    return strdup(buf);
}

/* "<base>~<tail>", with base cut on a character boundary so the whole is at
 * most NAMES_MAX bytes. tail is short (see NAMES_ID_MAX), so base keeps at
 * least one character. */
static char *names_join(const char *base, const char *tail)
{
    size_t tlen = strlen(tail);
    size_t blen = names_cut(base, strlen(base), NAMES_MAX - 1 - tlen);
    char *s = malloc(blen + 1 + tlen + 1);

    if (!s)
        return NULL;
    memcpy(s, base, blen);
    s[blen] = '~';
    memcpy(s + blen + 1, tail, tlen + 1);
    return s;
}

/* ---- a set of strings (not owned), open addressing ---- */

struct names_set {
    const char **slot;
    size_t mask;
};

static uint64_t names_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* Sized once for at most `most` insertions, kept at most half full. */
static int names_set_init(struct names_set *set, size_t most)
{
    size_t cap = 16;

    while (cap / 2 < most) {
        if (cap > SIZE_MAX / 2 / sizeof(*set->slot))
            return -ENOMEM;
        cap *= 2;
    }
    set->slot = calloc(cap, sizeof(*set->slot));
    if (!set->slot)
        return -ENOMEM;
    set->mask = cap - 1;
    return 0;
}

static void names_set_free(struct names_set *set)
{
    free(set->slot);
    set->slot = NULL;
}

static bool names_set_has(const struct names_set *set, const char *s)
{
    for (size_t i = names_hash(s) & set->mask; set->slot[i]; i = (i + 1) & set->mask)
        if (strcmp(set->slot[i], s) == 0)
            return true;
    return false;
}

/* Adds s unless present. The caller never exceeds the size given to init. */
static void names_set_add(struct names_set *set, const char *s)
{
    size_t i = names_hash(s) & set->mask;

    for (; set->slot[i]; i = (i + 1) & set->mask)
        if (strcmp(set->slot[i], s) == 0)
            return;
    set->slot[i] = s;
}

/* ---- assignment ---- */

struct names_ent {
    const char *raw; /* never NULL: NULL is read as "" */
    const char *id;  /* never NULL */
    char *base;      /* sanitized display name */
    char *cand;      /* base, or base~ID in a collision (may alias base) */
    char *final;     /* cand, or cand~N when cand was still taken (may alias) */
    size_t idx;      /* position in the caller's arrays */
    bool suffixed;
};

/* Orders by content only (idx last, for entries that are identical anyway),
 * which is what makes the result independent of the input order. */
static int names_cmp_content(const struct names_ent *a, const struct names_ent *b)
{
    int r = strcmp(a->base, b->base);
    if (r == 0)
        r = strcmp(a->id, b->id);
    if (r == 0)
        r = strcmp(a->raw, b->raw);
    if (r == 0)
        r = (a->idx > b->idx) - (a->idx < b->idx);
    return r;
}

static int names_cmp_base(const void *pa, const void *pb)
{
    return names_cmp_content(pa, pb);
}

/* Within equal candidates an unsuffixed name wins: it is the entry whose name
 * the user literally chose (e.g. an entry really called "x~ID"). */
static int names_cmp_cand(const void *pa, const void *pb)
{
    const struct names_ent *a = pa, *b = pb;
    int r = strcmp(a->cand, b->cand);

    if (r == 0)
        r = (int)a->suffixed - (int)b->suffixed;
    if (r == 0)
        r = names_cmp_content(a, b);
    return r;
}

static void names_ents_free(struct names_ent *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].final != e[i].cand)
            free(e[i].final);
        if (e[i].cand != e[i].base)
            free(e[i].cand);
        free(e[i].base);
    }
    free(e);
}

/* Gives base~ID to every entry of a run of equal bases that has more than one
 * member or uses a reserved name; the others keep their base. */
static int names_suffix_runs(struct names_ent *e, size_t n, const struct names_set *reserved)
{
    char sid[NAMES_ID_MAX + 1];

    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(e[i].base, e[j].base) == 0; j++)
            ;
        bool clash = j - i > 1 || names_set_has(reserved, e[i].base);
        for (size_t k = i; k < j; k++) {
            if (!clash) {
                e[k].cand = e[k].base;
                continue;
            }
            if (names_clean(e[k].id, NAMES_ID_MAX, sid) == 0)
                memcpy(sid, "_", 2);
            e[k].cand = names_join(e[k].base, sid);
            if (!e[k].cand)
                return -ENOMEM;
            e[k].suffixed = true;
        }
    }
    return 0;
}

/* Candidates can still clash: with a name that already looked like "x~ID",
 * with a reserved name containing '~', between entries with the same id, or
 * after a cut. The first of a run (see names_cmp_cand) keeps the candidate
 * unless it is reserved; the rest get the smallest free "~N", N >= 2. */
static int names_settle(struct names_ent *e, size_t n, const struct names_set *reserved,
                        struct names_set *used)
{
    char tail[24];

    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(e[i].cand, e[j].cand) == 0; j++)
            ;
        size_t k = i;
        if (!names_set_has(reserved, e[i].cand))
            e[k++].final = e[i].cand;
        /* N carries over within a run, so a run of m equal names costs O(m)
         * probes, not O(m^2). */
        unsigned long long num = 2;
        for (; k < j; k++) {
            char *s;
            for (;;) {
                snprintf(tail, sizeof(tail), "%llu", num++);
                s = names_join(e[k].cand, tail);
                if (!s)
                    return -ENOMEM;
                if (!names_set_has(used, s))
                    break;
                free(s);
            }
            e[k].final = s;
            names_set_add(used, s);
        }
    }
    return 0;
}

int names_assign(const char *const *raw, const char *const *ids, size_t n,
                 const char *const *reserved, char **out)
{
    struct names_set rset = {0}, used = {0};
    struct names_ent *e = NULL;
    size_t nres = 0;
    int rc = -ENOMEM;

    while (reserved && reserved[nres])
        nres++;
    /* used holds the reserved names, every candidate and every "~N" name. */
    if (n > (SIZE_MAX - nres) / 2)
        return -ENOMEM;
    e = calloc(n ? n : 1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    if (names_set_init(&rset, nres) < 0 || names_set_init(&used, nres + 2 * n) < 0)
        goto out;
    for (size_t i = 0; i < nres; i++) {
        names_set_add(&rset, reserved[i]);
        names_set_add(&used, reserved[i]);
    }

    for (size_t i = 0; i < n; i++) {
        e[i].raw = raw && raw[i] ? raw[i] : "";
        e[i].id = ids && ids[i] ? ids[i] : "";
        e[i].idx = i;
        e[i].base = names_sanitize(e[i].raw, e[i].id);
        if (!e[i].base)
            goto out;
    }
    qsort(e, n, sizeof(*e), names_cmp_base);
    if ((rc = names_suffix_runs(e, n, &rset)) < 0)
        goto out;

    qsort(e, n, sizeof(*e), names_cmp_cand);
    for (size_t i = 0; i < n; i++)
        names_set_add(&used, e[i].cand);
    if ((rc = names_settle(e, n, &rset, &used)) < 0)
        goto out;

    /* Hand the finals over; what stays behind (an unused base or candidate)
     * is freed with the entries. */
    for (size_t i = 0; i < n; i++) {
        char *f = e[i].final;
        if (f == e[i].cand)
            e[i].cand = NULL;
        if (f == e[i].base)
            e[i].base = NULL;
        e[i].final = NULL;
        out[e[i].idx] = f;
    }
    rc = 0;
out:
    names_set_free(&rset);
    names_set_free(&used);
    names_ents_free(e, n);
    return rc;
}
