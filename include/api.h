/* api: signed calls to the provider API (docs/provider-api.md).
 *
 * Builds the parameter list (adding PublicKey, ProjectId and Signature),
 * POSTs it form-encoded, parses the JSON answer and turns RetCode into an
 * errno, retrying the transient codes (110, 130, 150, 153) and transport
 * failures with backoff. RetCode -> errno lives here and only here.
 * Any thread may call api_call; the client is immutable after api_new.
 */
#ifndef UMONGOFS_API_H
#define UMONGOFS_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define API_MAX_ANSWER (64u << 20) /* bytes; a bigger answer is an error */

struct api_client;

struct api_opts {
    const char *url;         /* endpoint, e.g. https://api.dezai.com/ */
    const char *public_key;  /* required */
    const char *private_key; /* required; copied, wiped on api_free */
    const char *project_id;  /* NULL = none sent */
    const char *cafile;      /* NULL = system store */
    unsigned timeout_s;      /* per attempt */
    unsigned retries;        /* retries after the first attempt */
};

struct api_param {
    const char *name;
    const char *value; /* NULL or "" = not sent (and not signed) */
};

/* What a failed call said, for callers that report failures themselves. */
struct api_error {
    long retcode;      /* the answer's RetCode; -1 when no usable answer came */
    char message[256]; /* the provider's Message or the transport error, with
                          control characters escaped: safe to log as is */
};

/* NULL on allocation failure. Strings are copied. */
struct api_client *api_new(const struct api_opts *opts);
void api_free(struct api_client **c);

/* Calls action with params (not including Action/PublicKey/ProjectId/Signature).
 * On 0, *out is the parsed answer (RetCode 0), freed by the caller with
 * cJSON_Delete. Otherwise a negative errno (see api_retcode_errno; -EIO for
 * malformed answers, exhausted retries, network failures) and *out = NULL.
 * retries < 0 uses the client's setting.
 * err (may be NULL) receives the failure. With err, a failure the API
 * answered with a RetCode (other than a permission one) is the caller's to
 * report (api only logs it at debug level); without, api logs every failure. */
int api_call(struct api_client *c, const char *action, const struct api_param *params, size_t n,
             int retries, cJSON **out, struct api_error *err);

/* errno for a RetCode: 0 for 0; -EAGAIN for the transient ones; -EACCES for
 * credential/permission ones and 292 (the configured project does not exist:
 * a setting to fix, never "no such file"); -EIO otherwise. */
int api_retcode_errno(long retcode);
bool api_retcode_retryable(long retcode);

/* True for a RetCode that is about this one request's object (not in the
 * documented common table): e.g. the provider refusing to hand out a backup. */
bool api_retcode_action_specific(long retcode);

/* Parses one HTTP answer of the API (body may be NULL). 0 with *out when
 * RetCode is 0; -EAGAIN when worth retrying; else a negative errno. err gets
 * the RetCode and message either way. RetCode may be a number or a decimal
 * string (the provider's SDKs accept both). Pure; exposed for tests. */
int api_parse_answer(const char *body, size_t len, long http_status, cJSON **out,
                     struct api_error *err);

/* The signed, form-encoded request body (malloc'd; holds the signature, so
 * the caller wipes it before freeing). NULL on allocation failure or too
 * many parameters. Parameters with a NULL or empty value are left out of
 * both the body and the signature, as the provider's own SDK does. */
char *api_request_body(const struct api_client *c, const char *action,
                       const struct api_param *params, size_t n);

/* Locks the private key's pages in memory (never swapped). api_new does it;
 * a process that forks (daemonizes) afterwards calls it again in the child,
 * since memory locks are not inherited. Best effort. */
void api_protect_key(struct api_client *c);

/* Counters since api_new (for logs and tests). */
unsigned long api_calls_made(const struct api_client *c);

#endif
