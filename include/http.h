/* http: libcurl transfers for the API and the object store.
 *
 * A pool owns a set of curl easy handles; each transfer borrows one, so its
 * connection cache is only ever used by one thread at a time and connections
 * are reused across requests. Any thread may call every function here; a
 * call blocks its thread until the transfer ends (stalls are cut off after
 * the pool's timeout). HTTP status codes are mapped to errno here and only
 * here (http_status_errno).
 */
#ifndef UMONGOFS_HTTP_H
#define UMONGOFS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct http_pool;

struct http_opts {
    unsigned timeout_s;         /* a transfer making no progress for this long fails */
    unsigned connect_timeout_s; /* 0 = timeout_s */
    unsigned max_handles;       /* concurrent transfers; further callers wait */
    const char *cafile;         /* NULL = system store */
    int verbose;                /* curl debug output to stderr (never in production) */
    int follow_redirects;       /* object stores may redirect; the API must not (a
                                   redirect would resend the signed request elsewhere) */
};

/* Returns NULL on allocation failure. Strings in opts are copied. */
struct http_pool *http_pool_new(const struct http_opts *opts);
void http_pool_free(struct http_pool **p);

/* What the object store said about the object, learned from any reply. */
struct http_object {
    uint64_t total; /* full length (Content-Range total or 200's length); UINT64_MAX unknown */
    char etag[128]; /* "" when the server sent none */
};

#define HTTP_UNKNOWN_SIZE UINT64_MAX

/* Reads bytes [off, off+len) of url into dst; *got = bytes stored (less than
 * len only at the end of the object). Copes with servers that ignore Range
 * (200 with the whole body). obj is filled from the reply.
 * Returns 0, or -EACCES (403: URL expired or refused), -ENOENT (404), -ERANGE
 * (416: off at or past the end; obj->total set when the server said it),
 * -EAGAIN (worth retrying: 5xx, 429, connection/transfer failure, stall, short
 * body), -EIO (anything else). */
int http_get_range(struct http_pool *p, const char *url, uint64_t off, size_t len, char *dst,
                   size_t *got, struct http_object *obj);

/* POSTs body (content_type given) to url; the reply body goes into out
 * (bounded by out->max) and the status into *status.
 * Returns 0 when any HTTP reply arrived (check *status), -EAGAIN for
 * transport failures, -E2BIG when the reply exceeds out->max, -EIO otherwise. */
int http_post(struct http_pool *p, const char *url, const char *content_type, const char *body,
              struct buf *out, long *status);

/* The calling thread's last transport failure, for messages ("" if none). */
const char *http_last_error(void);

/* errno for an HTTP status of an object-store reply (0 for 2xx). */
int http_status_errno(long status);

/* Percent-encodes s for a form body or query string (RFC 3986 unreserved kept).
 * Returns malloc'd text, NULL on allocation failure. */
char *http_form_escape(const char *s);

#endif
