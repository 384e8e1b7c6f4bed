/* fuzz_http: libFuzzer target for the object store's answer parsers
 * (http_parse.c): Content-Range, Content-Length, ETag, the status line and
 * the decision what an answer may put into the reader's buffer.
 *
 * Not part of the meson build; scripts/test.sh builds it and runs it from
 * the seeds in tests/unit/corpus/http. By hand (Debian clang):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       src/http_parse.c tests/unit/fuzz_http.c -o fuzz_http
 *   mkdir -p new && ./fuzz_http -max_total_time=60 new tests/unit/corpus/http
 * Input: a first line "OFF LEN" (the request), then header lines. Besides
 * crashes, it aborts when a plan lets an answer write outside the request
 * or claim a length its own bytes contradict.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every parser on one line alone, with their promises checked. */
static void fuzz_line(const char *p, size_t n)
{
    struct http_range r;
    uint64_t len;
    char tag[HTTP_ETAG_MAX];
    long status;
    if (http_parse_content_range(p, n, &r) == 0) {
        if (r.has_range && (r.start > r.end || r.end > INT64_MAX))
            abort();
        if (r.has_range && r.total != HTTP_UNKNOWN_SIZE && r.end >= r.total)
            abort();
        if (!r.has_range && r.total > INT64_MAX)
            abort();
    }
    if (http_parse_content_length(p, n, &len) == 0 && len > INT64_MAX)
        abort();
    if (http_parse_etag(p, n, tag) == 0 && (strlen(tag) == 0 || strlen(tag) >= HTTP_ETAG_MAX))
        abort();
    if (http_parse_status_line(p, n, &status) == 0 && (status < 0 || status > 999))
        abort();
}

static void check_plan(const struct http_answer *a, uint64_t off, size_t len)
{
    struct http_plan p;
    const char *why = NULL;
    int rc = http_answer_plan(a, off, len, &p, &why);
    if (!why || (rc == -EPROTO && !why[0]))
        abort();
    if (rc == 0 && a->status == 206) {
        if (p.skip != 0 || p.take == 0 || p.take > len || a->range.start != off)
            abort();
        if (p.total != HTTP_UNKNOWN_SIZE &&
            (p.total_src != HTTP_TOTAL_RANGE || off + p.take > p.total))
            abort();
    } else if (rc == 0 && a->status == 200) {
        if (p.skip != off || p.take > len)
            abort();
        if (p.total_src == HTTP_TOTAL_LENGTH && off + p.take > p.total && p.take)
            abort();
    } else if (rc == 0) {
        abort(); /* only 200 and 206 carry bytes */
    } else if (rc == -ERANGE && p.total_src == HTTP_TOTAL_RANGE && p.total > off) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;
    const char *nl = memchr(s, '\n', size);
    char first[64] = "";
    if (nl && (size_t)(nl - s) < sizeof(first))
        memcpy(first, s, (size_t)(nl - s));
    char *rest = NULL;
    uint64_t off = strtoull(first, &rest, 10) % ((uint64_t)1 << 40);
    size_t len = (size_t)(strtoull(rest, NULL, 10) % (64u << 20)) + 1;
    struct http_answer a;
    http_answer_reset(&a);
    for (const char *p = nl ? nl + 1 : s; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e ? (size_t)(e - p) + 1 : (size_t)(end - p);
        fuzz_line(p, n);
        if (http_answer_line(&a, p, n) == 1)
            check_plan(&a, off, len);
        p += n;
    }
    check_plan(&a, off, len);
    return 0;
}
