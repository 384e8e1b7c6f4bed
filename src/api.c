/* api: signing, transport, RetCode handling and retries. See api.h. */
#include "api.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "retry.h"
#include "sign.h"

#define API_MAX_PARAMS 32

static __thread char t_last_error[256];
static __thread long t_last_retcode = -1;

long api_last_retcode(void)
{
    return t_last_retcode;
}

const char *api_last_error(void)
{
    return t_last_error;
}

#define SET_ERROR(...) snprintf(t_last_error, sizeof(t_last_error), __VA_ARGS__)

struct api_client {
    char *url;
    char *public_key;
    char *private_key;
    char *project_id;
    unsigned retries;
    struct http_pool *pool;
    atomic_ulong calls;
};

struct api_client *api_new(const struct api_opts *o)
{
    struct api_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->url = strdup(o->url);
    c->public_key = strdup(o->public_key);
    c->private_key = strdup(o->private_key);
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
    return c;
}

void api_free(struct api_client **pc)
{
    struct api_client *c = *pc;
    if (!c)
        return;
    if (c->private_key)
        explicit_bzero(c->private_key, strlen(c->private_key));
    free(c->url);
    free(c->public_key);
    free(c->private_key);
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
    case 293:
    case 294:
    case 295:
    case 299:
        return -EACCES;
    case 292:
        return -ENOENT;
    default: /* 160, 161, 170 (our bugs) and action-specific failures */
        return -EIO;
    }
}

/* Builds "k=v&k=v..." with Signature appended. Returns malloc'd body or NULL. */
static char *build_body(const struct api_client *c, const char *action,
                        const struct api_param *params, size_t n)
{
    struct sign_param sp[API_MAX_PARAMS + 4];
    size_t k = 0;
    sp[k++] = (struct sign_param){"Action", action};
    sp[k++] = (struct sign_param){"PublicKey", c->public_key};
    bool has_project = false;
    for (size_t i = 0; i < n && k < API_MAX_PARAMS; i++) {
        if (!params[i].value)
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
        char *en = http_form_escape(sp[i].name);
        char *ev = http_form_escape(sp[i].value);
        int rc = (!en || !ev) ? -ENOMEM : 0;
        if (!rc && i)
            rc = buf_append(&b, "&", 1);
        if (!rc)
            rc = buf_append(&b, en, strlen(en));
        if (!rc)
            rc = buf_append(&b, "=", 1);
        if (!rc)
            rc = buf_append(&b, ev, strlen(ev));
        free(en);
        free(ev);
        if (rc) {
            buf_free(&b);
            return NULL;
        }
    }
    return b.data;
}

/* One attempt. Returns 0 with *out, -EAGAIN to retry, other -errno final.
 * *retcode gets the RetCode when an answer was parsed. */
static int call_once(struct api_client *c, const char *action, const char *body, cJSON **out,
                     long *retcode)
{
    struct buf resp;
    buf_init(&resp, API_MAX_ANSWER);
    long status = 0;
    *out = NULL;
    *retcode = -1;
    t_last_retcode = -1;
    atomic_fetch_add(&c->calls, 1);
    int rc = http_post(c->pool, c->url, "application/x-www-form-urlencoded", body, &resp, &status);
    if (rc == -E2BIG) {
        SET_ERROR("answer larger than %u MiB", API_MAX_ANSWER >> 20);
        log_err("%s: answer larger than %u MiB, refused", action, API_MAX_ANSWER >> 20);
        rc = -EIO;
        goto out;
    }
    if (rc) {
        SET_ERROR("%s", http_last_error());
        log_info("%s: API unreachable: %s", action, t_last_error);
        goto out;
    }
    cJSON *j = resp.data ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        SET_ERROR("HTTP %ld with no JSON answer", status);
        if (status >= 500 || status == 429) {
            log_info("%s: HTTP %ld from the API", action, status);
            rc = -EAGAIN;
        } else {
            log_err("%s: malformed answer from the API (HTTP %ld)", action, status);
            rc = -EIO;
        }
        goto out;
    }
    const cJSON *jrc = cJSON_GetObjectItemCaseSensitive(j, "RetCode");
    if (!cJSON_IsNumber(jrc)) {
        SET_ERROR("answer without RetCode");
        log_err("%s: answer without RetCode (HTTP %ld)", action, status);
        cJSON_Delete(j);
        rc = -EIO;
        goto out;
    }
    /* A RetCode that is no integer of sane size is a malformed answer. */
    double d = jrc->valuedouble;
    *retcode = d >= -1e9 && d <= 1e9 && d == (double)(long)d ? (long)d : -1;
    if (*retcode == -1) {
        SET_ERROR("answer with an unusable RetCode");
        log_err("%s: answer with an unusable RetCode", action);
        cJSON_Delete(j);
        rc = -EIO;
        goto out;
    }
    t_last_retcode = *retcode;
    if (*retcode != 0) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "Message");
        const char *m = cJSON_IsString(msg) && msg->valuestring ? msg->valuestring : "";
        rc = api_retcode_errno(*retcode);
        SET_ERROR("RetCode %ld: %.200s", *retcode, m);
        if (rc == -EACCES)
            log_err("%s: permission denied: RetCode %ld: %.200s", action, *retcode, m);
        else if (rc == -EAGAIN)
            log_info("%s: RetCode %ld (%.200s), will retry", action, *retcode, m);
        else
            log_err("%s: RetCode %ld: %.200s", action, *retcode, m);
        cJSON_Delete(j);
        goto out;
    }
    *out = j;
    rc = 0;
out:
    buf_free(&resp);
    return rc;
}

int api_call(struct api_client *c, const char *action, const struct api_param *params, size_t n,
             int retries, cJSON **out)
{
    *out = NULL;
    if (n > API_MAX_PARAMS)
        return -EINVAL;
    char *body = build_body(c, action, params, n);
    if (!body)
        return -ENOMEM;
    unsigned max = retries < 0 ? c->retries : (unsigned)retries;
    int rc = -EIO;
    long retcode = -1;
    for (unsigned attempt = 0;; attempt++) {
        rc = call_once(c, action, body, out, &retcode);
        if (rc != -EAGAIN)
            break;
        if (attempt >= max) {
            log_err("%s: giving up after %u attempts: %s", action, attempt + 1, t_last_error);
            rc = -EIO;
            break;
        }
        retry_sleep(attempt);
    }
    explicit_bzero(body, strlen(body)); /* it holds the signature */
    free(body);
    return rc;
}
