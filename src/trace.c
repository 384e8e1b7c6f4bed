/* trace: -d lines and counters of API calls, URLs, ranges. See trace.h. */
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "retry.h"
#include "stats.h"

static unsigned long long since(uint64_t t0_ms)
{
    uint64_t now = retry_now_ms();
    return now > t0_ms ? (unsigned long long)(now - t0_ms) : 0;
}

void trace_api(const char *action, unsigned attempt, long retcode, const char *message,
               uint64_t t0_ms)
{
    stats_api_call(action, retcode);
    if (log_level() < LOG_DEBUG)
        return;
    /* The message names the RetCode and the provider's Message. */
    if (retcode == 0)
        log_debug("API %s: RetCode 0 (%llu ms, attempt %u)", action, since(t0_ms), attempt + 1);
    else if (retcode > 0)
        log_debug("API %s: %s (%llu ms, attempt %u)", action, message, since(t0_ms), attempt + 1);
    else
        log_debug("API %s: no answer: %s (%llu ms, attempt %u)", action, message, since(t0_ms),
                  attempt + 1);
}

void trace_url(const char *kind, const char *id, const char *url, bool renewed)
{
    if (renewed)
        stats_inc(STATS_URL_RENEWALS);
    if (log_level() < LOG_DEBUG)
        return;
    char safe[512];
    log_debug("download URL for %s %s %s: %s", kind, id, renewed ? "renewed" : "obtained",
              log_redact_url(url, safe, sizeof(safe)));
}

/* The answer in the words of HTTP where the store client's code says it. */
static const char *range_status(int rc, const struct http_object *obj, char *buf, size_t n)
{
    switch (rc) {
    case 0:
        return obj->total_src == HTTP_TOTAL_RANGE ? "206" : "200";
    case -ERANGE:
        return "416";
    case -EACCES:
        return "403";
    case -ENOENT:
        return "404";
    default:
        log_escape(http_last_error()[0] ? http_last_error() : strerror(rc < 0 ? -rc : rc), buf, n);
        return buf;
    }
}

void trace_range(const char *url, uint64_t off, size_t len, int rc, size_t got,
                 const struct http_object *obj, uint64_t t0_ms)
{
    stats_inc(STATS_RANGE_REQUESTS);
    stats_add(STATS_STORE_BYTES, (int64_t)got);
    if (log_level() < LOG_DEBUG)
        return;
    char safe[512], why[256];
    log_debug("range %s bytes %" PRIu64 "-%" PRIu64 ": %s, %zu bytes in %llu ms",
              log_redact_url(url, safe, sizeof(safe)), off, off + len - 1,
              range_status(rc, obj, why, sizeof(why)), got, since(t0_ms));
}

void trace_cache_hit(uint64_t b)
{
    stats_inc(STATS_CACHE_HITS);
    if (log_level() < LOG_DEBUG)
        return;
    log_debug("block %" PRIu64 ": cache hit", b);
}
