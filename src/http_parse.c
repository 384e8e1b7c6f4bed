/* http_parse: the object store's answer headers, parsed strictly. See http.h.
 *
 * Pure functions over (pointer, length) so they run on curl's header lines
 * as they are, need no NUL terminator and can be fuzzed alone. Strict on
 * purpose: a number with a sign, a space inside or more digits than fit is
 * not a number, and a header we cannot read is a header we cannot trust.
 */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

enum { F_NONE, F_RANGE, F_LENGTH, F_ETAG, F_MODIFIED, F_OTHER };

#define MAX_DIGITS 19 /* INT64_MAX has 19 digits */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims CR, LF and optional whitespace from both ends of [*v, *v + *n). */
static void trim(const char **v, size_t *n)
{
    while (*n && (is_ows(**v) || **v == '\r' || **v == '\n')) {
        (*v)++;
        (*n)--;
    }
    while (*n && (is_ows((*v)[*n - 1]) || (*v)[*n - 1] == '\r' || (*v)[*n - 1] == '\n'))
        (*n)--;
}

/* Decimal digits at *p (at most end), up to INT64_MAX; advances *p. */
static int parse_u63(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t k = 0;
    while (s + k < end && s[k] >= '0' && s[k] <= '9') {
        if (k == MAX_DIGITS)
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[k] - '0');
        k++;
    }
    if (k == 0 || v > INT64_MAX)
        return -EINVAL;
    *p = s + k;
    *out = v;
    return 0;
}

static bool starts_nocase(const char *s, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - s) >= n && strncasecmp(s, word, n) == 0;
}

int http_parse_content_range(const char *v, size_t n, struct http_range *out)
{
    trim(&v, &n);
    const char *p = v, *end = v + n;
    struct http_range r = {.total = HTTP_UNKNOWN_SIZE};
    if (!starts_nocase(p, end, "bytes"))
        return -EINVAL;
    p += 5;
    if (p == end || !is_ows(*p))
        return -EINVAL;
    while (p < end && is_ows(*p))
        p++;
    if (p < end && *p == '*') {
        p++;
    } else {
        r.has_range = true;
        if (parse_u63(&p, end, &r.start) != 0 || p == end || *p++ != '-' ||
            parse_u63(&p, end, &r.end) != 0 || r.start > r.end)
            return -EINVAL;
    }
    if (p == end || *p++ != '/')
        return -EINVAL;
    if (p < end && *p == '*' && r.has_range) {
        p++; /* "bytes a-b/ *": the length is not known */
    } else if (parse_u63(&p, end, &r.total) != 0) {
        return -EINVAL;
    }
    if (p != end || (r.has_range && r.total != HTTP_UNKNOWN_SIZE && r.end >= r.total))
        return -EINVAL;
    *out = r;
    return 0;
}

int http_parse_content_length(const char *v, size_t n, uint64_t *out)
{
    trim(&v, &n);
    const char *p = v;
    uint64_t len;
    if (parse_u63(&p, v + n, &len) != 0 || p != v + n)
        return -EINVAL;
    *out = len;
    return 0;
}

/* A validator's value into out (max bytes): verbatim when it fits, else
 * prefix, "#" and the value's SHA-256 in hex (which always fits). */
static int validator(const char *v, size_t n, bool spaces, const char *prefix, char *out,
                     size_t max)
{
    trim(&v, &n);
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || (c == 0x20 && !spaces))
            return -EINVAL;
    }
    if (n < max) {
        memcpy(out, v, n);
        out[n] = '\0';
        return 0;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)v, n, md);
    size_t k = (size_t)snprintf(out, max, "%s#", prefix);
    for (size_t i = 0; i < sizeof(md) && k + 2 < max; i++, k += 2)
        snprintf(out + k, max - k, "%02x", md[i]);
    return 0;
}

int http_parse_etag(const char *v, size_t n, char *out)
{
    const char *t = v;
    size_t tn = n;
    trim(&t, &tn);
    bool weak = tn >= 2 && strncmp(t, "W/", 2) == 0;
    return validator(v, n, false, weak ? "W/" : "", out, HTTP_ETAG_MAX);
}

int http_parse_modified(const char *v, size_t n, char *out)
{
    return validator(v, n, true, "", out, HTTP_MODIFIED_MAX);
}

int http_parse_status_line(const char *line, size_t n, long *status)
{
    const char *p = line, *end = line + n;
    if (!starts_nocase(p, end, "HTTP/"))
        return -EINVAL;
    while (p < end && !is_ows(*p))
        p++;
    while (p < end && is_ows(*p))
        p++;
    if (end - p < 3)
        return -EINVAL;
    long s = 0;
    for (int i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        s = s * 10 + (p[i] - '0');
    }
    if (end - p > 3 && !is_ows(p[3]) && p[3] != '\r' && p[3] != '\n')
        return -EINVAL;
    *status = s;
    return 0;
}

int http_status_errno(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 401:
    case 403:
        return -EACCES;
    case 404:
    case 410:
        return -ENOENT;
    case 416:
        return -ERANGE;
    case 408:
    case 429:
        return -EAGAIN;
    default:
        return status >= 500 ? -EAGAIN : -EIO;
    }
}

bool http_etag_strong(const char *etag)
{
    return etag[0] != '\0' && strncmp(etag, "W/", 2) != 0;
}

void http_answer_reset(struct http_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->length = HTTP_UNKNOWN_SIZE;
    a->range.total = HTTP_UNKNOWN_SIZE;
}

/* A folded line (obs-fold) continues the previous header: whatever we read
 * from that header is incomplete. */
static void folded(struct http_answer *a)
{
    if (a->last == F_RANGE)
        a->range_bad = true;
    else if (a->last == F_LENGTH)
        a->length_bad = true;
    else if (a->last == F_ETAG) {
        a->etag_bad = true;
        a->etag[0] = '\0';
    } else if (a->last == F_MODIFIED) {
        a->modified_bad = true;
        a->modified[0] = '\0';
    }
}

static void on_range(struct http_answer *a, const char *v, size_t n)
{
    struct http_range r;
    if (a->has_range || http_parse_content_range(v, n, &r) != 0)
        a->range_bad = true; /* two are one too many: which would be true? */
    else
        a->range = r;
    a->has_range = true;
}

static void on_length(struct http_answer *a, const char *v, size_t n)
{
    uint64_t len;
    if (http_parse_content_length(v, n, &len) != 0 ||
        (a->length != HTTP_UNKNOWN_SIZE && a->length != len))
        a->length_bad = true;
    else
        a->length = len;
}

static void on_etag(struct http_answer *a, const char *v, size_t n)
{
    char tag[HTTP_ETAG_MAX];
    if (a->etag_bad || http_parse_etag(v, n, tag) != 0 || (a->etag[0] && strcmp(a->etag, tag))) {
        a->etag_bad = true;
        a->etag[0] = '\0';
        return;
    }
    memcpy(a->etag, tag, sizeof(tag));
}

static void on_modified(struct http_answer *a, const char *v, size_t n)
{
    char m[HTTP_MODIFIED_MAX];
    if (a->modified_bad || http_parse_modified(v, n, m) != 0 ||
        (a->modified[0] && strcmp(a->modified, m))) {
        a->modified_bad = true;
        a->modified[0] = '\0';
        return;
    }
    memcpy(a->modified, m, sizeof(m));
}

static void on_encoding(struct http_answer *a, const char *v, size_t n)
{
    trim(&v, &n);
    if (n && !(n == 8 && strncasecmp(v, "identity", 8) == 0))
        a->encoded = true;
}

int http_answer_line(struct http_answer *a, const char *line, size_t n)
{
    if (n && is_ows(line[0])) {
        folded(a);
        return 0;
    }
    const char *v = line;
    size_t k = n;
    trim(&v, &k);
    if (k == 0)
        return 1;
    long status;
    if (http_parse_status_line(line, n, &status) == 0) {
        http_answer_reset(a); /* a new answer: after a redirect or a 100 */
        a->status = status;
        return 0;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return 0;
    size_t name = (size_t)(colon - line), vn = n - name - 1;
    const char *val = colon + 1;
    a->last = F_OTHER;
    if (name == 13 && strncasecmp(line, "Content-Range", 13) == 0) {
        a->last = F_RANGE;
        on_range(a, val, vn);
    } else if (name == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        a->last = F_LENGTH;
        on_length(a, val, vn);
    } else if (name == 4 && strncasecmp(line, "ETag", 4) == 0) {
        a->last = F_ETAG;
        on_etag(a, val, vn);
    } else if (name == 13 && strncasecmp(line, "Last-Modified", 13) == 0) {
        a->last = F_MODIFIED;
        on_modified(a, val, vn);
    } else if (name == 16 && strncasecmp(line, "Content-Encoding", 16) == 0) {
        on_encoding(a, val, vn);
    }
    return 0;
}

static int plan_206(const struct http_answer *a, uint64_t off, size_t len, struct http_plan *plan,
                    const char **why)
{
    if (!a->has_range || a->range_bad || !a->range.has_range) {
        *why = "a 206 without a readable Content-Range";
        return -EPROTO;
    }
    const struct http_range *r = &a->range;
    uint64_t n = r->end - r->start + 1;
    if (r->start != off) {
        *why = "a Content-Range that starts elsewhere";
        return -EPROTO;
    }
    if (n > len) {
        *why = "more bytes than asked for";
        return -EPROTO;
    }
    if (a->length_bad || (a->length != HTTP_UNKNOWN_SIZE && a->length != n)) {
        *why = "a Content-Length that disagrees with the Content-Range";
        return -EPROTO;
    }
    plan->take = n;
    plan->total = r->total;
    plan->total_src = r->total == HTTP_UNKNOWN_SIZE ? HTTP_TOTAL_NONE : HTTP_TOTAL_RANGE;
    return 0;
}

static int plan_200(const struct http_answer *a, uint64_t off, size_t len, struct http_plan *plan,
                    const char **why)
{
    if (a->length_bad) {
        *why = "an unreadable Content-Length";
        return -EPROTO;
    }
    plan->skip = off;
    plan->take = len;
    if (a->length != HTTP_UNKNOWN_SIZE) {
        uint64_t left = a->length > off ? a->length - off : 0;
        plan->take = left < len ? left : len;
        plan->total = a->length;
        plan->total_src = HTTP_TOTAL_LENGTH;
    }
    return 0;
}

int http_answer_plan(const struct http_answer *a, uint64_t off, size_t len, struct http_plan *plan,
                     const char **why)
{
    *plan = (struct http_plan){.total = HTTP_UNKNOWN_SIZE, .total_src = HTTP_TOTAL_NONE};
    *why = "";
    if ((a->status == 200 || a->status == 206) && a->encoded) {
        *why = "a Content-Encoding that was not asked for";
        return -EPROTO;
    }
    if (a->status == 206)
        return plan_206(a, off, len, plan, why);
    if (a->status == 200)
        return plan_200(a, off, len, plan, why);
    if (a->status == 416) {
        if (a->has_range && !a->range_bad && !a->range.has_range) {
            if (a->range.total > off) {
                *why = "a 416 for a range that starts inside the object";
                return -EPROTO;
            }
            plan->total = a->range.total;
            plan->total_src = HTTP_TOTAL_RANGE;
        }
        return -ERANGE;
    }
    if (a->status >= 200 && a->status < 300) {
        *why = "a success status other than 200 or 206";
        return -EPROTO;
    }
    return http_status_errno(a->status);
}
