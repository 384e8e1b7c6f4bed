/* urls: the download-URL cache against a fake provider API on 127.0.0.1 in
 * this process. One API call per file however many threads ask at once, a
 * refused URL replaced once, a refusal remembered, the right parameters per
 * kind of file, an expired URL fetched again, malformed answers refused. */
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

#include "api.h"
#include "loopback.h"
#include "urls.h"

/* ---------- a fake DescribeUMongoDBBackupURL ---------- */

enum answer {
    GOOD,       /* both addresses, numbered by the call */
    REFUSED,    /* RetCode 18011, as for a snapshot backup */
    BUSY,       /* RetCode 150: transient */
    NO_ADDRESS, /* RetCode 0 but no InternetAddress */
    FTP,        /* an address that is not http(s) */
    LONG,       /* an address of 9,000 bytes */
};

static struct {
    int lfd;
    int port;
    pthread_t thread;
    atomic_int stop;
    atomic_int answer;
    atomic_int delay_ms; /* before answering */
    atomic_int calls;
    pthread_mutex_t lock;
    char last_body[2048]; /* guarded by lock */
} api;

/* Reads one request (headers and a Content-Length body); 0 when complete. */
static int read_request(int fd, char *req, size_t cap, const char **body)
{
    size_t have = 0;
    for (;;) {
        if (have + 1 >= cap)
            return -1;
        ssize_t k = recv(fd, req + have, cap - 1 - have, 0);
        if (k <= 0)
            return -1;
        have += (size_t)k;
        req[have] = '\0';
        char *end = strstr(req, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(req, "Content-Length:");
        size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - req) + want) {
            *body = end + 4;
            return 0;
        }
    }
}

static void answer(int fd, int n)
{
    char json[512], out[1024];
    if (atomic_load(&api.answer) == LONG) {
        static char big[10000];
        int k =
            snprintf(big, sizeof(big), "{\"RetCode\":0,\"InternetAddress\":\"http://127.0.0.1:9/");
        memset(big + k, 'a', 9000);
        k += 9000;
        k += snprintf(big + k, sizeof(big) - (size_t)k, "\"}");
        int h = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", k);
        loopback_send_all(fd, out, (size_t)h);
        loopback_send_all(fd, big, (size_t)k);
        return;
    }
    switch ((enum answer)atomic_load(&api.answer)) {
    case GOOD:
        snprintf(json, sizeof(json),
                 "{\"RetCode\":0,\"InternetAddress\":\"http://127.0.0.1:9/internet?n=%d\","
                 "\"IntranetAddress\":\"http://127.0.0.1:9/intranet?n=%d\"}",
                 n, n);
        break;
    case REFUSED:
        snprintf(json, sizeof(json),
                 "{\"RetCode\":18011,\"Message\":\"snapshot backup does not support download\"}");
        break;
    case BUSY:
        snprintf(json, sizeof(json), "{\"RetCode\":150,\"Message\":\"busy\"}");
        break;
    case NO_ADDRESS:
        snprintf(json, sizeof(json), "{\"RetCode\":0}");
        break;
    case FTP:
        snprintf(json, sizeof(json), "{\"RetCode\":0,\"InternetAddress\":\"ftp://127.0.0.1/x\"}");
        break;
    case LONG:
        break;
    }
    int k = snprintf(out, sizeof(out),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(json), json);
    loopback_send_all(fd, out, (size_t)k);
}

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[4096];
    const char *body;
    if (read_request(fd, req, sizeof(req), &body) == 0) {
        int n = atomic_fetch_add(&api.calls, 1) + 1;
        pthread_mutex_lock(&api.lock);
        snprintf(api.last_body, sizeof(api.last_body), "%s", body);
        pthread_mutex_unlock(&api.lock);
        int ms = atomic_load(&api.delay_ms);
        if (ms)
            nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
        answer(fd, n);
    }
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    while (!atomic_load(&api.stop)) {
        struct pollfd pf = {api.lfd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        int fd = accept(api.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static int server_up(void **state)
{
    (void)state;
    pthread_mutex_init(&api.lock, NULL);
    api.lfd = loopback_listen(64, &api.port);
    if (api.lfd < 0)
        return -1;
    return pthread_create(&api.thread, NULL, serve, NULL);
}

static int server_down(void **state)
{
    (void)state;
    atomic_store(&api.stop, 1);
    pthread_join(api.thread, NULL);
    close(api.lfd);
    return 0;
}

/* ---------- fixtures ---------- */

struct fixture {
    struct api_client *api;
    struct urls *urls;
};

static struct fixture *setup_with(unsigned ttl, bool intranet)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", api.port);
    struct api_opts ao = {
        .url = url, .public_key = "pub", .private_key = "secret", .timeout_s = 3, .retries = 0};
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->api = api_new(&ao);
    assert_non_null(f->api);
    f->urls = urls_new(&(struct urls_opts){.api = f->api, .ttl = ttl, .intranet = intranet});
    assert_non_null(f->urls);
    atomic_store(&api.answer, GOOD);
    atomic_store(&api.delay_ms, 0);
    atomic_store(&api.calls, 0);
    return f;
}

static int setup(void **state)
{
    *state = setup_with(600, false);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    urls_free(&f->urls);
    assert_null(f->urls);
    api_free(&f->api);
    free(f);
    return 0;
}

static struct cat_object object(uint64_t ino, enum cat_kind kind)
{
    return (struct cat_object){.ino = ino,
                               .kind = kind,
                               .region = "cn-bj2",
                               .zone = "cn-bj2-04",
                               .cluster_id = "udb-orders01",
                               .object_id = "bk-1",
                               .readable = true};
}

static int calls(void)
{
    return atomic_load(&api.calls);
}

static const char *last_body(void)
{
    static char copy[sizeof(api.last_body)];
    pthread_mutex_lock(&api.lock);
    memcpy(copy, api.last_body, sizeof(copy));
    pthread_mutex_unlock(&api.lock);
    return copy;
}

/* ---------- tests ---------- */

static void test_cached_per_file(void **state)
{
    struct fixture *f = *state;
    struct cat_object a = object(10, CAT_BACKUP), b = object(11, CAT_BACKUP);
    char *u1, *u2, *u3;
    assert_int_equal(urls_get(f->urls, &a, NULL, &u1), 0);
    assert_string_equal(u1, "http://127.0.0.1:9/internet?n=1");
    assert_int_equal(urls_get(f->urls, &a, NULL, &u2), 0);
    assert_string_equal(u2, u1);
    assert_ptr_not_equal(u2, u1); /* each caller owns its copy */
    assert_int_equal(calls(), 1);
    assert_int_equal(urls_get(f->urls, &b, NULL, &u3), 0);
    assert_string_equal(u3, "http://127.0.0.1:9/internet?n=2");
    assert_int_equal(calls(), 2);
    free(u1);
    free(u2);
    free(u3);
}

static void test_parameters_per_kind(void **state)
{
    struct fixture *f = *state;
    char *u;
    struct cat_object o = object(20, CAT_BACKUP);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    free(u);
    const char *body = last_body();
    assert_non_null(strstr(body, "Action=DescribeUMongoDBBackupURL"));
    assert_non_null(strstr(body, "BackupId=bk-1"));
    assert_non_null(strstr(body, "ClusterId=udb-orders01"));
    assert_non_null(strstr(body, "Region=cn-bj2"));
    assert_non_null(strstr(body, "Zone=cn-bj2-04"));
    assert_non_null(strstr(body, "ValidTime=600"));
    assert_null(strstr(body, "Category="));
    assert_null(strstr(body, "PackageId="));

    o = object(21, CAT_OPLOG);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    free(u);
    body = last_body();
    assert_non_null(strstr(body, "BackupId=bk-1"));
    assert_non_null(strstr(body, "Category=oplog"));

    o = object(22, CAT_LOG);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    free(u);
    body = last_body();
    assert_non_null(strstr(body, "PackageId=bk-1"));
    assert_null(strstr(body, "BackupId="));
    assert_null(strstr(body, "Category="));
    assert_int_equal(calls(), 3);
}

static void test_intranet_address(void **state)
{
    (void)state;
    struct fixture *f = setup_with(600, true);
    struct cat_object o = object(30, CAT_BACKUP);
    char *u;
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    assert_string_equal(u, "http://127.0.0.1:9/intranet?n=1");
    free(u);
    teardown((void **)&f);
}

/* A URL the store refused is replaced once: the caller that names the
 * current URL as stale gets a new one; a caller naming an older URL (another
 * thread already replaced it) gets the current one without an API call. */
static void test_stale_replaced_once(void **state)
{
    struct fixture *f = *state;
    struct cat_object o = object(40, CAT_BACKUP);
    char *old, *fresh, *again;
    assert_int_equal(urls_get(f->urls, &o, NULL, &old), 0);
    assert_int_equal(urls_get(f->urls, &o, old, &fresh), 0);
    assert_string_not_equal(fresh, old);
    assert_int_equal(calls(), 2);
    assert_int_equal(urls_get(f->urls, &o, old, &again), 0);
    assert_string_equal(again, fresh);
    assert_int_equal(calls(), 2);
    free(old);
    free(fresh);
    free(again);
}

struct asker {
    struct fixture *f;
    struct cat_object o;
    int rc;
    char *url;
};

static void *ask(void *arg)
{
    struct asker *a = arg;
    a->rc = urls_get(a->f->urls, &a->o, NULL, &a->url);
    return NULL;
}

static void ask_together(struct fixture *f, struct asker *a, size_t n)
{
    pthread_t t[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        a[i] = (struct asker){f, object(50, CAT_BACKUP), 1, NULL};
        assert_int_equal(pthread_create(&t[i], NULL, ask, &a[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void test_concurrent_callers_share_one_call(void **state)
{
    struct fixture *f = *state;
    struct asker a[12];
    atomic_store(&api.delay_ms, 300);
    ask_together(f, a, 12);
    assert_int_equal(calls(), 1);
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(a[i].rc, 0);
        assert_string_equal(a[i].url, "http://127.0.0.1:9/internet?n=1");
        free(a[i].url);
    }
}

/* Callers that waited for a fetch that failed share its error rather than
 * each paying for another attempt; the next call asks again. */
static void test_concurrent_failure_shared(void **state)
{
    struct fixture *f = *state;
    struct asker a[8];
    atomic_store(&api.answer, BUSY);
    atomic_store(&api.delay_ms, 300);
    ask_together(f, a, 8);
    assert_int_equal(calls(), 1);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(a[i].rc, -EIO);
        assert_null(a[i].url);
    }
    atomic_store(&api.answer, GOOD);
    atomic_store(&api.delay_ms, 0);
    char *u;
    struct cat_object o = object(50, CAT_BACKUP);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    assert_int_equal(calls(), 2);
    free(u);
}

/* The provider will not hand out this object: EPERM, and asking again
 * within the refusal's lifetime costs no API call. Other files are asked. */
static void test_refusal_remembered(void **state)
{
    struct fixture *f = *state;
    struct cat_object o = object(60, CAT_BACKUP), other = object(61, CAT_BACKUP);
    char *u = NULL;
    atomic_store(&api.answer, REFUSED);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EPERM);
    assert_null(u);
    atomic_store(&api.answer, GOOD);
    for (int i = 0; i < 3; i++)
        assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EPERM);
    assert_int_equal(calls(), 1);
    assert_int_equal(urls_get(f->urls, &other, NULL, &u), 0);
    assert_int_equal(calls(), 2);
    free(u);
}

/* A transient failure is not remembered: the next open asks again. */
static void test_transient_not_remembered(void **state)
{
    struct fixture *f = *state;
    struct cat_object o = object(70, CAT_BACKUP);
    char *u = NULL;
    atomic_store(&api.answer, BUSY);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EIO);
    atomic_store(&api.answer, GOOD);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    assert_int_equal(calls(), 2);
    free(u);
}

static void test_malformed_answers(void **state)
{
    struct fixture *f = *state;
    struct cat_object o = object(80, CAT_BACKUP);
    char *u = NULL;
    atomic_store(&api.answer, NO_ADDRESS);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EIO);
    assert_null(u);
    atomic_store(&api.answer, FTP);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EIO);
    assert_null(u);
    atomic_store(&api.answer, LONG); /* the cache holds thousands: bounded */
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), -EIO);
    assert_null(u);
    atomic_store(&api.answer, GOOD);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u), 0);
    assert_string_equal(u, "http://127.0.0.1:9/internet?n=4");
    free(u);
}

static void test_margin(void **state)
{
    (void)state;
    assert_int_equal(urls_margin(3600), 60);
    assert_int_equal(urls_margin(240), 60);
    assert_int_equal(urls_margin(100), 25);
    assert_int_equal(urls_margin(3), 0);
}

/* A URL is handed out until its lifetime minus the margin: with ValidTime=2
 * (margin 0) a URL fetched now is fetched again after 2 s. */
static void test_expiry(void **state)
{
    (void)state;
    struct fixture *f = setup_with(2, false);
    struct cat_object o = object(90, CAT_BACKUP);
    char *u1, *u2, *u3;
    assert_int_equal(urls_get(f->urls, &o, NULL, &u1), 0);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u2), 0);
    assert_int_equal(calls(), 1);
    assert_non_null(strstr(last_body(), "ValidTime=2"));
    sleep(3);
    assert_int_equal(urls_get(f->urls, &o, NULL, &u3), 0);
    assert_int_equal(calls(), 2);
    assert_string_not_equal(u3, u1);
    free(u1);
    free(u2);
    free(u3);
    teardown((void **)&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cached_per_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameters_per_kind, setup, teardown),
        cmocka_unit_test(test_intranet_address),
        cmocka_unit_test_setup_teardown(test_stale_replaced_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_callers_share_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_failure_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_not_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_answers, setup, teardown),
        cmocka_unit_test(test_margin),
        cmocka_unit_test(test_expiry),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
