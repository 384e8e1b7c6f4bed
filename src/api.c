/* api: signing, transport, RetCode handling and retries. See api.h. */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "retry.h"
#include "sign.h"
#include "stats.h"
#include "trace.h"

#define API_MAX_PARAMS 32

static void set_error(struct api_error *e, long retcode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The message is escaped here, once, so every later log line is safe. */
static void set_error(struct api_error *e, long retcode, const char *fmt, ...)
{
    char raw[sizeof(e->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    e->retcode = retcode;
    log_escape(raw, e->message, sizeof(e->message));
}

struct api_client {
    char *url;
    char *public_key;
    char *private_key; /* on pages of its own: see secret_dup */
    size_t private_cap;
    char *project_id;
    unsigned retries;
    struct http_pool *pool;
    atomic_ulong calls;
};

/* The private key lives as long as the client, so it gets pages of its own
 * that are left out of core dumps (main makes the whole process
 * non-dumpable; this still holds with fs.suid_dumpable=2 or a dump taken
 * as root) and locked out of swap by api_protect_key. The mapping is
 * inherited by fork (fuse_daemonize), the lock is not. */
static char *secret_dup(const char *s, size_t *cap)
{
    size_t len = strlen(s) + 1;
    long page = sysconf(_SC_PAGESIZE);
    size_t n = page > 0 ? (len + (size_t)page - 1) / (size_t)page * (size_t)page : len;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, n, MADV_DONTDUMP); /* best effort, like the lock */
    memcpy(p, s, len);
    *cap = n;
    return p;
}

void api_protect_key(struct api_client *c)
{
    /* Best effort: without CAP_IPC_LOCK or room in RLIMIT_MEMLOCK the key
     * still works, it may just reach swap. */
    if (c && c->private_key && mlock(c->private_key, c->private_cap) != 0)
        log_debug("the private key could not be locked in memory: %s", strerror(errno));
}

struct api_client *api_new(const struct api_opts *o)
{
    struct api_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->url = strdup(o->url);
    c->public_key = strdup(o->public_key);
    c->private_key = secret_dup(o->private_key, &c->private_cap);
    c->project_id = o->project_id && *o->project_id ? strdup(o->project_id) : NULL;
    c->retries = o->retries;
    struct http_opts ho = {.timeout_s = o->timeout_s,
                           .connect_timeout_s = o->timeout_s < 10 ? o->timeout_s : 10,
                           .max_handles = 8,
                           .cafile = o->cafile};
    c->pool = http_pool_new(&ho);
    if (!c->url || !c->public_key || !c->private_key || !c->pool ||
        (o->project_id && *o->project_id && !c->project_id)) {
        api_free(&c);
        return NULL;
    }
    api_protect_key(c);
    return c;
}

void api_free(struct api_client **pc)
{
    struct api_client *c = *pc;
    if (!c)
        return;
    if (c->private_key) {
        explicit_bzero(c->private_key, c->private_cap);
        munmap(c->private_key, c->private_cap); /* also ends the lock */
    }
    free(c->url);
    free(c->public_key);
    free(c->project_id);
    http_pool_free(&c->pool);
    free(c);
    *pc = NULL;
}

unsigned long api_calls_made(const struct api_client *c)
{
    return atomic_load(&((struct api_client *)c)->calls);
}

bool api_retcode_retryable(long rc)
{
    return rc == 110 || rc == 130 || rc == 150 || rc == 153;
}

int api_retcode_errno(long rc)
{
    switch (rc) {
    case 0:
        return 0;
    case 110:
    case 130:
    case 150:
    case 153:
        return -EAGAIN;
    case 171:
    case 172:
    case 174:
    case 292: /* the configured ProjectId: a setting to fix, not a missing file */
    case 293:
    case 294:
    case 295:
    case 299:
        return -EACCES;
    default: /* 160, 161, 170 (our bugs) and action-specific failures */
        return -EIO;
    }
}

bool api_retcode_action_specific(long rc)
{
    if (rc <= 0 || api_retcode_retryable(rc) || api_retcode_errno(rc) == -EACCES)
        return false;
    return !(rc >= 160 && rc <= 174);
}

static int append_pair(struct buf *b, bool first, const char *name, const char *value)
{
    char *en = http_form_escape(name);
    char *ev = http_form_escape(value);
    int rc = (!en || !ev) ? -ENOMEM : 0;

    if (!rc && !first)
        rc = buf_append(b, "&", 1);
    if (!rc)
        rc = buf_append(b, en, strlen(en));
    if (!rc)
        rc = buf_append(b, "=", 1);
    if (!rc)
        rc = buf_append(b, ev, strlen(ev));
    free(en);
    free(ev);
    return rc;
}

char *api_request_body(const struct api_client *c, const char *action,
                       const struct api_param *params, size_t n)
{
    struct sign_param sp[API_MAX_PARAMS + 4];
    size_t k = 0;
    bool has_project = false;

    if (n > API_MAX_PARAMS)
        return NULL;
    sp[k++] = (struct sign_param){"Action", action};
    sp[k++] = (struct sign_param){"PublicKey", c->public_key};
    for (size_t i = 0; i < n; i++) {
        /* The provider's SDK drops empty values before signing; an empty
         * ProjectId would otherwise name a project that does not exist. */
        if (!params[i].value || !params[i].value[0])
            continue;
        if (strcmp(params[i].name, "ProjectId") == 0)
            has_project = true;
        sp[k++] = (struct sign_param){params[i].name, params[i].value};
    }
    if (c->project_id && !has_project)
        sp[k++] = (struct sign_param){"ProjectId", c->project_id};

    char sig[SIGN_HEX_LEN + 1];
    if (sign_compute(sp, k, c->private_key, sig) != 0)
        return NULL;
    sp[k++] = (struct sign_param){"Signature", sig};

    struct buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < k; i++) {
        if (append_pair(&b, i == 0, sp[i].name, sp[i].value)) {
            if (b.data)
                explicit_bzero(b.data, b.len);
            buf_free(&b);
            return NULL;
        }
    }
    return b.data;
}

/* RetCode as a number or as decimal text ("0", "153"): the provider's Go SDK
 * rewrites the string form on every answer, so both occur. -1 = unusable. */
static long parse_retcode(const cJSON *it)
{
    if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        return d >= 0 && d <= 1e9 && d == (double)(long)d ? (long)d : -1;
    }
    if (cJSON_IsString(it) && it->valuestring) {
        const char *p = it->valuestring;
        long v = 0;
        if (!*p || strlen(p) > 9)
            return -1;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            v = v * 10 + (*p - '0');
        }
        return v;
    }
    return -1;
}

int api_parse_answer(const char *body, size_t len, long status, cJSON **out, struct api_error *err)
{
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    int rc;

    *out = NULL;
    set_error(err, -1, "%s", "");
    if (!j || !cJSON_IsObject(j)) {
        set_error(err, -1, "HTTP %ld with no JSON answer", status);
        rc = status >= 500 || status == 429 ? -EAGAIN : -EIO;
        goto out;
    }
    const cJSON *jrc = cJSON_GetObjectItemCaseSensitive(j, "RetCode");
    long retcode = parse_retcode(jrc);
    if (retcode < 0) {
        set_error(err, -1, "answer %s RetCode (HTTP %ld)", jrc ? "with an unusable" : "without",
                  status);
        rc = -EIO;
        goto out;
    }
    if (retcode != 0) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "Message");
        const char *m = cJSON_IsString(msg) && msg->valuestring ? msg->valuestring : "";
        set_error(err, retcode, "RetCode %ld: %.200s", retcode, m);
        rc = api_retcode_errno(retcode);
        goto out;
    }
    err->retcode = 0;
    *out = j;
    j = NULL;
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

/* One attempt. Returns 0 with *out, -EAGAIN to retry, other -errno final. */
static int call_once(struct api_client *c, const char *body, cJSON **out, struct api_error *err)
{
    struct buf resp;
    long status = 0;
    int rc;

    buf_init(&resp, API_MAX_ANSWER);
    *out = NULL;
    atomic_fetch_add(&c->calls, 1);
    rc = http_post(c->pool, c->url, "application/x-www-form-urlencoded", body, &resp, &status);
    if (rc == -E2BIG) {
        set_error(err, -1, "answer larger than %u MiB", API_MAX_ANSWER >> 20);
        rc = -EIO;
    } else if (rc) {
        set_error(err, -1, "%s", http_last_error());
    } else {
        rc = api_parse_answer(resp.data, resp.len, status, out, err);
    }
    buf_free(&resp);
    return rc;
}

/* How a failed attempt is logged: retries are routine, the final failure is
 * not; an answer's RetCode is left to a caller that takes the error (it
 * knows whether "no such action" or a refusal matters). */
static void log_failure(const char *action, int rc, bool final, bool caller_reports,
                        const struct api_error *e)
{
    if (retry_aborted())
        log_debug("%s: %s (shutting down)", action, e->message);
    else if (!final)
        log_info("%s: %s, will retry", action, e->message);
    else if (rc == -EACCES)
        log_err("%s: permission denied: %s", action, e->message);
    else if (caller_reports && e->retcode > 0)
        log_debug("%s: %s", action, e->message);
    else
        log_err("%s: %s", action, e->message);
}

int api_call(struct api_client *c, const char *action, const struct api_param *params, size_t n,
             int retries, cJSON **out, struct api_error *err)
{
    struct api_error local;
    struct api_error *e = err ? err : &local;
    unsigned max = retries < 0 ? c->retries : (unsigned)retries;
    int rc = -EIO;

    *out = NULL;
    set_error(e, -1, "%s", "");
    char *body = api_request_body(c, action, params, n);
    if (!body)
        return n > API_MAX_PARAMS ? -EINVAL : -ENOMEM;
    for (unsigned attempt = 0;; attempt++) {
        uint64_t t0 = retry_now_ms();
        rc = call_once(c, body, out, e);
        trace_api(action, attempt, e->retcode, e->message, t0);
        bool final = rc != -EAGAIN || attempt >= max;
        if (rc && !(final && rc == -EAGAIN))
            log_failure(action, rc, final, err != NULL, e);
        if (final)
            break;
        stats_inc(STATS_RETRIES);
        retry_sleep(attempt);
    }
    if (rc && retry_aborted()) {
        rc = -ECANCELED; /* shutting down: nothing to report */
    } else if (rc == -EAGAIN) {
        log_err("%s: giving up after %u attempts: %s", action, max + 1, e->message);
        rc = -EIO;
    }
    explicit_bzero(body, strlen(body)); /* it holds the signature */
    free(body);
    return rc;
}
