/* api: signed calls to the provider API (api.md).
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
    const char *value;
};

/* NULL on allocation failure. Strings are copied. */
struct api_client *api_new(const struct api_opts *opts);
void api_free(struct api_client **c);

/* Calls action with params (not including Action/PublicKey/ProjectId/Signature).
 * On 0, *out is the parsed answer (RetCode 0), freed by the caller with
 * cJSON_Delete. Otherwise a negative errno (see api_retcode_errno; -EIO for
 * malformed answers, exhausted retries, network failures) and *out = NULL.
 * retries < 0 uses the client's setting. */
int api_call(struct api_client *c, const char *action, const struct api_param *params, size_t n,
             int retries, cJSON **out);

/* errno for a RetCode: 0 for 0; -EAGAIN for the transient ones; -EACCES for
 * credential/permission ones; -ENOENT for 292; -EIO otherwise. */
int api_retcode_errno(long retcode);
bool api_retcode_retryable(long retcode);

/* A one-line description (no secrets) of the last failed call made by the
 * calling thread: "RetCode 171: ...", "HTTP 502", "Couldn't connect to server". */
const char *api_last_error(void);

/* The RetCode of the calling thread's last answer, -1 when none arrived
 * (transport failure, malformed answer). */
long api_last_retcode(void);

/* Counters since api_new (for logs and tests). */
unsigned long api_calls_made(const struct api_client *c);

#endif
