/* fuzz_api: libFuzzer target for the API answer parser (api_parse_answer)
 * and, through the members of whatever object the input holds, the signed
 * form body (api_request_body). Seeds: tests/unit/corpus/api/.
 *
 * Not part of the meson build; scripts/test.sh builds and runs it:
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       src/api.c src/http.c src/sign.c src/buf.c src/retry.c src/log.c \
 *       tests/unit/fuzz_api.c -lcjson -lcurl -lcrypto -o fuzz_api
 *   ./fuzz_api -dict=tests/unit/corpus/json.dict tests/unit/corpus/api
 * Besides crashes, it aborts when an answer breaks api.h's contract: a
 * result without its answer, an unescaped error message, a RetCode/errno
 * mismatch, or a form body with a byte a form encoder must not let through.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Statuses the transport hands over: success, the retryable ones, others. */
static const long statuses[] = {200, 503};

static void check_message(const struct api_error *e)
{
    const unsigned char *m = (const unsigned char *)e->message;
    size_t len = strnlen(e->message, sizeof(e->message));

    if (len == sizeof(e->message))
        abort(); /* not terminated */
    for (size_t i = 0; i < len; i++)
        if (m[i] < 0x20 || m[i] == 0x7f)
            abort(); /* log_escape let a control character through */
}

static void check_answer(const char *body, size_t len, long status)
{
    cJSON *out = (cJSON *)1;
    struct api_error e;
    int rc = api_parse_answer(body, len, status, &out, &e);

    check_message(&e);
    if (rc == 0) {
        if (!out || !cJSON_IsObject(out) || e.retcode != 0)
            abort();
        cJSON_Delete(out);
        return;
    }
    if (out)
        abort(); /* a failure leaves no answer behind */
    if (rc != -EAGAIN && rc != -EIO && rc != -EACCES)
        abort();
    if (e.retcode > 0 && rc != api_retcode_errno(e.retcode))
        abort();
}

/* The object's string members as request parameters: whatever they hold,
 * the body is name=value pairs joined by '&' with everything else escaped. */
static void check_body(const char *body, size_t len)
{
    static struct api_client *c;
    struct api_param p[8];
    size_t n = 0;
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *it;

    if (!c) {
        struct api_opts o = {.url = "http://127.0.0.1:1/",
                             .public_key = "pk",
                             .private_key = "sk",
                             .project_id = "org-x",
                             .timeout_s = 1};
        c = api_new(&o);
        if (!c)
            abort();
    }
    cJSON_ArrayForEach(it, j)
    {
        if (n < 8 && it->string && cJSON_IsString(it) && it->valuestring)
            p[n++] = (struct api_param){it->string, it->valuestring};
    }
    char *form = api_request_body(c, "Fuzz", p, n);
    if (!form)
        abort(); /* at most 8 + 4 parameters: never too many */
    size_t amps = 0, eqs = 0;
    for (const char *q = form; *q; q++) {
        unsigned char ch = (unsigned char)*q;
        amps += ch == '&';
        eqs += ch == '=';
        if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#')
            abort();
    }
    if (eqs != amps + 1)
        abort(); /* a name or value leaked a separator */
    free(form);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;

    if (!quiet) {
        log_init(LOG_CRIT, 0); /* every malformed answer would log an error */
        quiet = 1;
    }
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        check_answer((const char *)data, size, statuses[i]);
    check_answer(NULL, 0, 200);
    check_body((const char *)data, size);
    return 0;
}
