/* http: libcurl transfers for the API and the object store.
 *
 * A pool owns a set of curl easy handles; each transfer borrows one, so its
 * connection cache is only ever used by one thread at a time and connections
 * are reused across requests. Any thread may call every function here; a
 * call blocks its thread until the transfer ends. HTTP status codes are
 * mapped to errno here and only here (http_status_errno).
 *
 * Every transfer speaks http or https only (anything else, redirects
 * included, is refused), puts curl's own explanation of a failure (a TLS
 * certificate that is self-signed, expired or for another name) into
 * http_last_error(), and ends within about a second once retry_abort_all()
 * was called (retry.h: shutdown).
 *
 * A transfer fails when no byte moved for timeout_s (a stall), and a ranged
 * GET also when it moved fewer than HTTP_MIN_RATE bytes per second over any
 * timeout_s window since its first byte (a store that drips), or when its
 * deadline passes.
 *
 * The answer parsers (http_parse_*, http_answer_*) are pure functions in
 * http_parse.c, fuzzed by tests/unit/fuzz_http.c.
 */
#ifndef UMONGOFS_HTTP_H
#define UMONGOFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct http_pool;

/* The slowest a ranged GET may deliver, in bytes per second, measured over
 * windows of timeout_s seconds from the first byte. */
#define HTTP_MIN_RATE 4096

/* Bytes curl reads from the socket at a time on the data path. */
#define HTTP_RECV_BUFFER (256L << 10)

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

#define HTTP_UNKNOWN_SIZE UINT64_MAX
#define HTTP_ETAG_MAX     256
#define HTTP_MODIFIED_MAX 80

/* Where an answer's statement of the object's length comes from. Only a
 * Content-Range is the store saying so on purpose; the others are what a
 * server that ignored the Range claims or what a body that ended shows. */
enum http_total_src {
    HTTP_TOTAL_NONE,   /* the answer does not say */
    HTTP_TOTAL_RANGE,  /* Content-Range "bytes a-b/N" of a 206, or "bytes * /N" of a 416 */
    HTTP_TOTAL_LENGTH, /* Content-Length of a 200 (the whole object, if honest) */
    HTTP_TOTAL_EOF,    /* a 200 without Content-Length ended there (or was cut) */
};

/* What the object store said about the object in one answer. */
struct http_object {
    uint64_t total; /* its length, HTTP_UNKNOWN_SIZE when total_src is NONE */
    enum http_total_src total_src;
    char etag[HTTP_ETAG_MAX];         /* as sent ("W/" included); "" when none or unusable */
    char modified[HTTP_MODIFIED_MAX]; /* Last-Modified as sent; "" when none or unusable */
};

/* A strong validator: a non-empty ETag that is not weak ("W/..."). Only such
 * an ETag proves two answers came from the same bytes. */
bool http_etag_strong(const char *etag);

/* Reads bytes [off, off+len) of url into dst; len > 0. Fails at
 * deadline_ms (retry_now_ms() time; 0 = timeout_s plus len at HTTP_MIN_RATE).
 * Every answer is checked against the request before a byte is stored: a 206
 * must carry "Content-Range: bytes off-b/total" with b < total, no more
 * than len bytes and a Content-Length (if any) equal to b-off+1; a 200 (a
 * server ignoring Range) is the object from byte 0 and its body must match
 * its Content-Length. obj is filled from the answer. Returns
 *   0        *got bytes of [off, off+len) stored; less than len when the
 *            answer ended there: at the object's end if obj->total says so,
 *            else the server sent a shorter range (ask for the rest)
 *   -ERANGE  416; obj->total set when it carried "bytes * /N"
 *   -EAGAIN  worth retrying (5xx, 429, connection lost, stall, short body);
 *            the first *got bytes are good (resume from off + *got)
 *   -ETIME   slower than HTTP_MIN_RATE: as -EAGAIN, but a store this slow
 *            did not make progress worth the name
 *   -EPROTO  the answer contradicts itself or the request; *got = 0
 *   -EACCES (401/403: URL expired or refused), -ENOENT (404/410),
 *   -ETIMEDOUT (deadline passed), -ECANCELED (retry_abort_all),
 *   -EPROTONOSUPPORT (not an http/https URL), -EIO (anything else). */
int http_get_range(struct http_pool *p, const char *url, uint64_t off, size_t len,
                   uint64_t deadline_ms, char *dst, size_t *got, struct http_object *obj);

/* POSTs body (content_type given) to url; the reply body goes into out
 * (bounded by out->max) and the status into *status.
 * Returns 0 when any HTTP reply arrived (check *status), -EAGAIN for
 * transport failures, -E2BIG when the reply exceeds out->max, -ECANCELED,
 * -EPROTONOSUPPORT, -EIO otherwise. */
int http_post(struct http_pool *p, const char *url, const char *content_type, const char *body,
              struct buf *out, long *status);

/* The calling thread's last transfer failure, for messages ("" if none):
 * curl's explanation where it has one ("SSL certificate problem: self-signed
 * certificate"), else what was wrong with the answer. */
const char *http_last_error(void);

/* errno for an HTTP status of an object-store reply (0 for 2xx). */
int http_status_errno(long status);

/* Percent-encodes s for a form body or query string (RFC 3986 unreserved kept).
 * Returns malloc'd text, NULL on allocation failure. */
char *http_form_escape(const char *s);

/* ---- answer parsing (pure; http_parse.c) ---- */

/* Content-Range: "bytes a-b/N", "bytes a-b/ *" (total unknown) or
 * "bytes * /N" (has_range false). Numbers are decimal digits up to INT64_MAX;
 * a <= b, and b < N when N is known. 0 or -EINVAL. */
struct http_range {
    bool has_range;
    uint64_t start, end;
    uint64_t total; /* HTTP_UNKNOWN_SIZE for "*" */
};
int http_parse_content_range(const char *v, size_t n, struct http_range *out);

/* Content-Length: decimal digits up to INT64_MAX, nothing else. 0 or -EINVAL. */
int http_parse_content_length(const char *v, size_t n, uint64_t *out);

/* ETag: printable, no spaces; copied to out (HTTP_ETAG_MAX bytes) verbatim,
 * or, when too long for it, as "#" and the SHA-256 of the value in hex
 * ("W/#..." for a weak one): two different tags never compare equal. 0 or
 * -EINVAL. */
/* Last-Modified: printable (spaces inside kept), copied to out
 * (HTTP_MODIFIED_MAX bytes), or its SHA-256 as for a long ETag. 0 or
 * -EINVAL. The object store's second validator: without an ETag, a change
 * of Last-Modified is what tells a replaced object. */
int http_parse_modified(const char *v, size_t n, char *out);

int http_parse_etag(const char *v, size_t n, char *out);

/* "HTTP/1.1 206 Partial Content" -> 206. 0 or -EINVAL. */
int http_parse_status_line(const char *line, size_t n, long *status);

/* The headers of one answer, collected line by line. */
struct http_answer {
    long status;             /* 0 until the status line */
    bool has_range;          /* a Content-Range header came */
    bool range_bad;          /* unparsable, repeated or folded */
    struct http_range range; /* when has_range && !range_bad */
    uint64_t length;         /* Content-Length, HTTP_UNKNOWN_SIZE if none */
    bool length_bad;         /* unparsable, or two that differ */
    bool encoded;            /* a Content-Encoding other than identity */
    bool etag_bad;           /* an ETag we cannot use (then etag is "") */
    char etag[HTTP_ETAG_MAX];
    bool modified_bad; /* a Last-Modified we cannot use (then modified is "") */
    char modified[HTTP_MODIFIED_MAX];
    int last; /* internal: the header a folded line would continue */
};

void http_answer_reset(struct http_answer *a);

/* Feeds one header line as curl hands it over (CRLF included or not). A
 * status line starts a new answer (after a redirect or a 100). Returns 1 for
 * the blank line that ends the headers, else 0. */
int http_answer_line(struct http_answer *a, const char *line, size_t n);

/* How the body of an answer to a request for [off, off+len) fills the buffer. */
struct http_plan {
    uint64_t skip; /* body bytes before the first wanted one (a 200 starts at 0) */
    uint64_t take; /* wanted bytes the body carries (at most, for a 200 without length) */
    uint64_t total;
    enum http_total_src total_src;
};

/* Decides, from the headers alone, what an answer is worth: 0 with *plan for a
 * usable 200 or 206; -ERANGE for a 416 (plan->total from "bytes * /N", which
 * must not be above off); -EPROTO with *why (a static phrase) for an answer
 * that contradicts itself or the request; else http_status_errno's errno. */
int http_answer_plan(const struct http_answer *a, uint64_t off, size_t len, struct http_plan *plan,
                     const char **why);

#endif
