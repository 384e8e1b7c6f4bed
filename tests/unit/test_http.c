/* http: the answer parsers (pure) and ranged GETs against a hostile HTTP
 * server on 127.0.0.1 in this process: every answer is checked before a
 * byte is stored, a dripping or stalled transfer fails in bounded time, an
 * abort ends a transfer at once, and nothing but http and https is spoken. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "http.h"
#include "loopback.h"
#include "retry.h"

/* ---------- parsers ---------- */

static int cr(const char *v, struct http_range *r)
{
    return http_parse_content_range(v, strlen(v), r);
}

static void test_content_range(void **state)
{
    struct http_range r;
    assert_int_equal(cr("bytes 0-99/1000", &r), 0);
    assert_true(r.has_range);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 99);
    assert_int_equal(r.total, 1000);
    assert_int_equal(cr(" Bytes  5-5/6\r\n", &r), 0);
    assert_int_equal(r.end, 5);
    assert_int_equal(cr("bytes 0-99/*", &r), 0);
    assert_int_equal(r.total, HTTP_UNKNOWN_SIZE);
    assert_int_equal(cr("bytes */4096", &r), 0);
    assert_false(r.has_range);
    assert_int_equal(r.total, 4096);
    assert_int_equal(cr("bytes 9223372036854775806-9223372036854775806/9223372036854775807", &r),
                     0);
    static const char *bad[] = {
        "bytes 0-2097151/123", /* end past the total */
        "bytes 0-99/100x",
        "bytes 5-4/100",
        "bytes -1-5/100",
        "bytes 0--5/100",
        "bytes +0-5/100",
        "bytes 0-5/-100",
        "bytes */*",
        "bytes 0 -5/100",
        "bytes 0-5 /100",
        "bytes0-5/100",
        "items 0-5/100",
        "bytes 0-5",
        "bytes ",
        "",
        "bytes 0-5/100/7",
        "bytes 0-5/9223372036854775808",                 /* above INT64_MAX */
        "bytes 0-5/00000000000000000000000000000000007", /* too many digits */
        "bytes 0-99/100, bytes 0-99/100",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cr(bad[i], &r) != -EINVAL)
            fail_msg("accepted Content-Range %s", bad[i]);
    }
}

static void test_content_length_etag_status(void **state)
{
    uint64_t n;
    assert_int_equal(http_parse_content_length(" 1234\r\n", 7, &n), 0);
    assert_int_equal(n, 1234);
    static const char *bad[] = {"", "+5", "-5", "5 5", "5,5", "0x10", "99999999999999999999", "5a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(http_parse_content_length(bad[i], strlen(bad[i]), &n), -EINVAL);

    char tag[HTTP_ETAG_MAX], big[400];
    assert_int_equal(http_parse_etag(" \"abc\"\r\n", 8, tag), 0);
    assert_string_equal(tag, "\"abc\"");
    assert_true(http_etag_strong(tag));
    assert_int_equal(http_parse_etag("W/\"abc\"", 7, tag), 0);
    assert_false(http_etag_strong(tag));
    assert_false(http_etag_strong(""));
    assert_int_equal(http_parse_etag("\"a b\"", 5, tag), -EINVAL);
    assert_int_equal(http_parse_etag("\"a\x01\"", 4, tag), -EINVAL);
    assert_int_equal(http_parse_etag("  ", 2, tag), -EINVAL);
    memset(big, 'x', sizeof(big));
    assert_int_equal(http_parse_etag(big, HTTP_ETAG_MAX - 1, tag), 0);
    assert_int_equal(strlen(tag), HTTP_ETAG_MAX - 1);
    /* Too long to keep: its digest, so two long tags still tell apart. */
    char tag2[HTTP_ETAG_MAX];
    assert_int_equal(http_parse_etag(big, HTTP_ETAG_MAX, tag), 0);
    assert_int_equal(tag[0], '#');
    assert_int_equal(strlen(tag), 65);
    big[300] = 'y';
    assert_int_equal(http_parse_etag(big, sizeof(big), tag2), 0);
    assert_string_not_equal(tag, tag2);
    big[0] = 'W';
    big[1] = '/';
    assert_int_equal(http_parse_etag(big, sizeof(big), tag2), 0);
    assert_memory_equal(tag2, "W/#", 3);
    assert_false(http_etag_strong(tag2));

    char lm[HTTP_MODIFIED_MAX];
    const char *date = " Tue, 01 Dec 2026 00:00:00 GMT\r\n";
    assert_int_equal(http_parse_modified(date, strlen(date), lm), 0);
    assert_string_equal(lm, "Tue, 01 Dec 2026 00:00:00 GMT");
    assert_int_equal(http_parse_modified("a\x01b", 3, lm), -EINVAL);
    assert_int_equal(http_parse_modified("  ", 2, lm), -EINVAL);

    long s;
    assert_int_equal(http_parse_status_line("HTTP/1.1 206 Partial Content\r\n", 30, &s), 0);
    assert_int_equal(s, 206);
    assert_int_equal(http_parse_status_line("HTTP/2 200", 10, &s), 0);
    assert_int_equal(s, 200);
    assert_int_equal(http_parse_status_line("HTTP/1.1 20", 11, &s), -EINVAL);
    assert_int_equal(http_parse_status_line("HTTP/1.1 2000 x", 15, &s), -EINVAL);
    assert_int_equal(http_parse_status_line("Content-Range: x", 16, &s), -EINVAL);
}

/* Feeds header lines (NULL-terminated) and plans a request for [off, off+len). */
static int plan(const char *const *lines, uint64_t off, size_t len, struct http_plan *p)
{
    struct http_answer a;
    const char *why;
    http_answer_reset(&a);
    int end = 0;
    for (; *lines; lines++)
        end = http_answer_line(&a, *lines, strlen(*lines));
    assert_int_equal(end, 1); /* every list ends with the blank line */
    int rc = http_answer_plan(&a, off, len, p, &why);
    assert_true(rc != -EPROTO || why[0]);
    return rc;
}

#define LINES(...) ((const char *const[]){__VA_ARGS__, "\r\n", NULL})

static void test_answer_plan(void **state)
{
    struct http_plan p;
    assert_int_equal(plan(LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/1000",
                                "Content-Length: 100", "ETag: \"e\""),
                          100, 100, &p),
                     0);
    assert_int_equal(p.take, 100);
    assert_int_equal(p.total, 1000);
    assert_int_equal(p.total_src, HTTP_TOTAL_RANGE);
    /* A redirect before it: only the last answer counts. */
    assert_int_equal(plan(LINES("HTTP/1.1 302 Found", "Content-Range: junk", "\r\n",
                                "HTTP/1.1 206 OK", "Content-Range: bytes 0-9/10"),
                          0, 100, &p),
                     0);
    assert_int_equal(p.take, 10); /* shorter: the object ends there */
    const char *const *bad206[] = {
        LINES("HTTP/1.1 206 OK"),
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 50-149/1000"),  /* starts elsewhere */
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-299/1000"), /* more than asked */
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/150"),  /* past its total */
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/1000", "Content-Length: 99"),
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/1000",
              "Content-Range: bytes "
              "100-199/1000"),
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/1000", " folded"),
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes 100-199/1000", "Content-Encoding: gzip"),
        LINES("HTTP/1.1 206 OK", "Content-Range: bytes */1000"),
        LINES("HTTP/1.1 204 No Content"),
    };
    for (size_t i = 0; i < sizeof(bad206) / sizeof(bad206[0]); i++) {
        if (plan(bad206[i], 100, 100, &p) != -EPROTO)
            fail_msg("answer %zu accepted", i);
    }
    /* 200: the object from byte 0, its length the total. */
    assert_int_equal(plan(LINES("HTTP/1.1 200 OK", "Content-Length: 1000"), 950, 100, &p), 0);
    assert_int_equal(p.skip, 950);
    assert_int_equal(p.take, 50);
    assert_int_equal(p.total_src, HTTP_TOTAL_LENGTH);
    assert_int_equal(
        plan(LINES("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"), 0, 100, &p),
        -EPROTO);
    assert_int_equal(plan(LINES("HTTP/1.1 200 OK", "Content-Encoding: identity"), 0, 100, &p), 0);
    assert_int_equal(p.take, 100);
    assert_int_equal(p.total_src, HTTP_TOTAL_NONE);
    /* 416: past the end is a total, inside the object a contradiction. */
    assert_int_equal(plan(LINES("HTTP/1.1 416 No", "Content-Range: bytes */1000"), 1000, 10, &p),
                     -ERANGE);
    assert_int_equal(p.total, 1000);
    assert_int_equal(plan(LINES("HTTP/1.1 416 No", "Content-Range: bytes */1000"), 999, 10, &p),
                     -EPROTO);
    assert_int_equal(plan(LINES("HTTP/1.1 416 No"), 5, 10, &p), -ERANGE);
    assert_int_equal(p.total_src, HTTP_TOTAL_NONE);
    assert_int_equal(plan(LINES("HTTP/1.1 503 Busy"), 0, 10, &p), -EAGAIN);
    assert_int_equal(plan(LINES("HTTP/1.1 403 Denied"), 0, 10, &p), -EACCES);
    assert_int_equal(plan(LINES("HTTP/1.1 404 Gone"), 0, 10, &p), -ENOENT);
}

/* ---------- a hostile server on 127.0.0.1 ---------- */

#define OBJ_SIZE 100000

enum mode {
    GOOD,
    WRONG_START,
    WRONG_TOTAL,
    LONGER,
    DROP,
    CUT_200,
    WHOLE_200,
    R416,
    DRIP,
    STALL,
    ENCODED,
    GLITCH, /* good answers on a kept connection, each followed by stray bytes */
};

static struct {
    int lfd;
    int port;
    pthread_t thread;
    atomic_int stop;
    atomic_int mode;
    char obj[OBJ_SIZE];
} srv;

/* Waits until the client hangs up or the server stops, a byte at a time
 * every 100 ms when drip. */
static void linger(int fd, bool drip, uint64_t at)
{
    while (!atomic_load(&srv.stop)) {
        struct pollfd pf = {fd, POLLIN, 0};
        char c;
        if (poll(&pf, 1, 100) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
            return;
        if (drip && send(fd, srv.obj + at++ % OBJ_SIZE, 1, MSG_NOSIGNAL) != 1)
            return;
    }
}

static void respond(int fd, enum mode m, uint64_t a, uint64_t b)
{
    char h[512];
    uint64_t n = b - a + 1;
    const char *body = srv.obj + a;
    int k;
    switch (m) {
    case WRONG_START:
        body += 10;
        k = snprintf(h, sizeof(h), "Content-Range: bytes %llu-%llu/%d\r\nContent-Length: %llu\r\n",
                     (unsigned long long)a + 10, (unsigned long long)b + 10, OBJ_SIZE,
                     (unsigned long long)n);
        break;
    case WRONG_TOTAL:
        k = snprintf(h, sizeof(h), "Content-Range: bytes %llu-%llu/123\r\nContent-Length: %llu\r\n",
                     (unsigned long long)a, (unsigned long long)b, (unsigned long long)n);
        break;
    case LONGER:
        k = snprintf(h, sizeof(h), "Content-Range: bytes %llu-%llu/%d\r\nConnection: close\r\n",
                     (unsigned long long)a, (unsigned long long)b, OBJ_SIZE);
        n += 100;
        break;
    case ENCODED:
        k = snprintf(h, sizeof(h),
                     "Content-Range: bytes %llu-%llu/%d\r\nContent-Length: %llu\r\n"
                     "Content-Encoding: gzip\r\n",
                     (unsigned long long)a, (unsigned long long)b, OBJ_SIZE, (unsigned long long)n);
        break;
    default:
        k = snprintf(h, sizeof(h), "Content-Range: bytes %llu-%llu/%d\r\nContent-Length: %llu\r\n",
                     (unsigned long long)a, (unsigned long long)b, OBJ_SIZE, (unsigned long long)n);
    }
    char head[768];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 206 Partial Content\r\nETag: \"e1\"\r\n%.*s\r\n", k, h);
    loopback_send_all(fd, head, (size_t)hn);
    if (m == DROP)
        n /= 2;
    if (m == DRIP || m == STALL) {
        linger(fd, m == DRIP, a);
        return;
    }
    loopback_send_all(fd, body, n);
}

static void serve_one(int fd)
{
    char req[4096] = "";
    size_t got = 0;
    while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t k = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (k <= 0)
            return;
        got += (size_t)k;
        req[got] = '\0';
    }
    unsigned long long a = 0, b = OBJ_SIZE - 1;
    const char *r = strstr(req, "Range: bytes=");
    if (r)
        sscanf(r + 13, "%llu-%llu", &a, &b);
    if (b >= OBJ_SIZE)
        b = OBJ_SIZE - 1;
    enum mode m = (enum mode)atomic_load(&srv.mode);
    char head[256];
    int hn;
    if (m == R416 || a >= OBJ_SIZE) {
        hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\n"
                      "Content-Length: 0\r\n\r\n",
                      OBJ_SIZE);
        loopback_send_all(fd, head, (size_t)hn);
    } else if (m == CUT_200 || m == WHOLE_200) {
        hn = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nETag: \"e1\"\r\n%s\r\n",
                      m == WHOLE_200 ? "Content-Length: 100000\r\n" : "Connection: close\r\n");
        loopback_send_all(fd, head, (size_t)hn);
        loopback_send_all(fd, srv.obj, m == WHOLE_200 ? OBJ_SIZE : 5000);
    } else {
        respond(fd, m, a, b);
    }
}

static void *server_main(void *arg)
{
    while (!atomic_load(&srv.stop)) {
        struct pollfd pf = {srv.lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (atomic_load(&srv.mode) == GLITCH) {
            /* Kept alive: stray bytes arrive after each answer, where the
             * next answer on the connection should start. */
            for (int i = 0; i < 8 && !atomic_load(&srv.stop); i++) {
                serve_one(fd);
                nanosleep(&(struct timespec){0, 30 * 1000000L}, NULL);
                if (send(fd, "stray bytes\r\n", 13, MSG_NOSIGNAL) != 13)
                    break;
            }
        } else {
            serve_one(fd);
        }
        close(fd); /* one request per connection: "Connection: close" or not */
    }
    return NULL;
}

static int server_up(void **state)
{
    for (int i = 0; i < OBJ_SIZE; i++)
        srv.obj[i] = (char)(i * 7 + i / 256);
    srv.lfd = loopback_listen(16, &srv.port);
    if (srv.lfd < 0)
        return -1;
    atomic_store(&srv.stop, 0);
    return pthread_create(&srv.thread, NULL, server_main, NULL);
}

static int server_down(void **state)
{
    atomic_store(&srv.stop, 1);
    pthread_join(srv.thread, NULL);
    close(srv.lfd);
    return 0;
}

static struct http_pool *pool(unsigned timeout_s)
{
    struct http_opts o = {.timeout_s = timeout_s, .max_handles = 4};
    struct http_pool *p = http_pool_new(&o);
    assert_non_null(p);
    return p;
}

static int get(struct http_pool *p, enum mode m, uint64_t off, size_t len, uint64_t deadline,
               char *dst, size_t *got, struct http_object *obj)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/o", srv.port);
    atomic_store(&srv.mode, m);
    memset(dst, 0x55, len);
    return http_get_range(p, url, off, len, deadline, dst, got, obj);
}

/* Stray bytes left on a kept connection fail the next request there
 * ("Received HTTP/0.9"): a glitch to retry, and the connection is not used
 * again, never a protocol refused for good. */
static void test_stray_bytes_on_a_kept_connection_are_a_glitch(void **state)
{
    struct http_pool *p = pool(5);
    static char dst[OBJ_SIZE];
    size_t got;
    struct http_object o;
    assert_int_equal(get(p, GLITCH, 0, 100, 0, dst, &got, &o), 0);
    nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    int rc = get(p, GLITCH, 100, 100, 0, dst, &got, &o);
    if (rc != 0 && rc != -EAGAIN)
        fail_msg("after stray bytes: %d (%s)", rc, http_last_error());
    nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    rc = get(p, GLITCH, 200, 100, 0, dst, &got, &o);
    if (rc != 0 && rc != -EAGAIN)
        fail_msg("after stray bytes: %d (%s)", rc, http_last_error());
    http_pool_free(&p);
}

static void test_get_checks_every_answer(void **state)
{
    struct http_pool *p = pool(5);
    static char dst[OBJ_SIZE];
    size_t got;
    struct http_object o;
    assert_int_equal(get(p, GOOD, 1000, 5000, 0, dst, &got, &o), 0);
    assert_int_equal(got, 5000);
    assert_memory_equal(dst, srv.obj + 1000, 5000);
    assert_int_equal(o.total, OBJ_SIZE);
    assert_int_equal(o.total_src, HTTP_TOTAL_RANGE);
    assert_string_equal(o.etag, "\"e1\"");
    assert_int_equal(get(p, GOOD, OBJ_SIZE - 10, 5000, 0, dst, &got, &o), 0);
    assert_int_equal(got, 10); /* the end */
    static const enum mode lies[] = {WRONG_START, WRONG_TOTAL, LONGER, ENCODED};
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        int rc = get(p, lies[i], 1000, 5000, 0, dst, &got, &o);
        if (rc != -EPROTO || got != 0)
            fail_msg("mode %d: rc %d, got %zu", (int)lies[i], rc, got);
        if (lies[i] != LONGER && dst[0] != 0x55)
            fail_msg("mode %d stored bytes of an answer it rejected", (int)lies[i]);
    }
    assert_int_equal(get(p, DROP, 1000, 5000, 0, dst, &got, &o), -EAGAIN);
    assert_int_equal(got, 2500); /* the good part, for a resume */
    assert_memory_equal(dst, srv.obj + 1000, 2500);
    assert_int_equal(get(p, CUT_200, 1000, 8000, 0, dst, &got, &o), 0);
    assert_int_equal(got, 4000);
    assert_int_equal(o.total, 5000);
    assert_int_equal(o.total_src, HTTP_TOTAL_EOF); /* the reader judges it */
    assert_int_equal(get(p, WHOLE_200, 90000, 5000, 0, dst, &got, &o), 0);
    assert_int_equal(got, 5000);
    assert_memory_equal(dst, srv.obj + 90000, 5000);
    assert_int_equal(o.total_src, HTTP_TOTAL_LENGTH);
    assert_int_equal(get(p, R416, OBJ_SIZE + 5, 10, 0, dst, &got, &o), -ERANGE);
    assert_int_equal(o.total, OBJ_SIZE);
    assert_int_equal(get(p, R416, 5, 10, 0, dst, &got, &o), -EPROTO); /* 416 inside */
    http_pool_free(&p);
}

static void test_drip_and_stall_fail_in_bounded_time(void **state)
{
    struct http_pool *p = pool(1);
    static char dst[OBJ_SIZE];
    size_t got;
    struct http_object o;
    uint64_t t0 = retry_now_ms();
    assert_int_equal(get(p, DRIP, 0, 50000, 0, dst, &got, &o), -ETIME);
    uint64_t took = retry_now_ms() - t0;
    assert_true(got > 0 && got < 100); /* what it delivered is kept */
    assert_memory_equal(dst, srv.obj, got);
    assert_true(strstr(http_last_error(), "minimum transfer rate") != NULL);
    assert_true(took < 4000); /* a 1 s window, checked about once a second */
    t0 = retry_now_ms();
    assert_int_equal(get(p, STALL, 0, 50000, 0, dst, &got, &o), -EAGAIN);
    assert_true(retry_now_ms() - t0 < 4000);
    http_pool_free(&p);
    /* The deadline ends a transfer whatever the timeout. */
    p = pool(30);
    t0 = retry_now_ms();
    assert_int_equal(get(p, DRIP, 0, 50000, t0 + 500, dst, &got, &o), -ETIMEDOUT);
    assert_true(retry_now_ms() - t0 < 2000);
    http_pool_free(&p);
}

static void *abort_later(void *arg)
{
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    retry_abort_all();
    return NULL;
}

static void test_abort_ends_a_transfer(void **state)
{
    struct http_pool *p = pool(30);
    static char dst[OBJ_SIZE];
    size_t got;
    struct http_object o;
    pthread_t t;
    pthread_create(&t, NULL, abort_later, NULL);
    uint64_t t0 = retry_now_ms();
    assert_int_equal(get(p, STALL, 0, 50000, 0, dst, &got, &o), -ECANCELED);
    assert_true(retry_now_ms() - t0 < 2500);
    pthread_join(t, NULL);
    /* And every later one fails at once. */
    assert_int_equal(get(p, GOOD, 0, 10, 0, dst, &got, &o), -ECANCELED);
    retry_abort_clear();
    assert_int_equal(get(p, GOOD, 0, 10, 0, dst, &got, &o), 0);
    http_pool_free(&p);
}

static void test_only_http_and_https(void **state)
{
    struct http_pool *p = pool(2);
    char dst[64];
    size_t got;
    struct http_object o;
    struct buf out;
    long status;
    assert_int_equal(http_get_range(p, "file:///etc/hostname", 0, 10, 0, dst, &got, &o),
                     -EPROTONOSUPPORT);
    assert_int_equal(http_get_range(p, "ftp://127.0.0.1:1/x", 0, 10, 0, dst, &got, &o),
                     -EPROTONOSUPPORT);
    buf_init(&out, 1024);
    assert_int_equal(http_post(p, "file:///etc/hostname", "text/plain", "x", &out, &status),
                     -EPROTONOSUPPORT);
    buf_free(&out);
    http_pool_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_content_length_etag_status),
        cmocka_unit_test(test_answer_plan),
        cmocka_unit_test(test_get_checks_every_answer),
        cmocka_unit_test(test_stray_bytes_on_a_kept_connection_are_a_glitch),
        cmocka_unit_test(test_drip_and_stall_fail_in_bounded_time),
        cmocka_unit_test(test_abort_ends_a_transfer),
        cmocka_unit_test(test_only_http_and_https),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
