/* trace: what umongofs does, for -d, and the counters that go with it.
 *
 * Each function counts the event in stats.h and, when the log level is
 * LOG_DEBUG (-d), logs one line about it. The lines are redacted by
 * construction: an API call is named by its action and answer (never its
 * parameters, body or signature), a download URL by its scheme, host and
 * path (never its query string, which holds the presigned signature).
 *
 * A leaf next to log and stats; any thread may call these.
 */
#ifndef UMONGOFS_TRACE_H
#define UMONGOFS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_object;

/* One attempt of an API call that started at t0_ms (retry_now_ms() time)
 * and ended with the answer's retcode (-1: no usable answer) and message
 * (already escaped: api.h's struct api_error). */
void trace_api(const char *action, unsigned attempt, long retcode, const char *message,
               uint64_t t0_ms);

/* A download URL obtained for an object (kind "backup", "oplog" or "log
 * package", id its id); renewed: it replaces an earlier URL of the object. */
void trace_url(const char *kind, const char *id, const char *url, bool renewed);

/* One ranged GET of url for bytes [off, off+len), started at t0_ms: rc and
 * obj are what the store client returned, got the bytes it delivered. */
void trace_range(const char *url, uint64_t off, size_t len, int rc, size_t got,
                 const struct http_object *obj, uint64_t t0_ms);

/* A read found block b in memory (read before, or prefetched). */
void trace_cache_hit(uint64_t b);

#endif
