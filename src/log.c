/* log: stderr or syslog, with a level filter. See log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int g_level = LOG_NOTICE;
static int g_syslog;

void log_init(int level, int use_syslog)
{
    g_level = level;
    g_syslog = use_syslog;
    if (use_syslog)
        openlog("umongofs", LOG_PID, LOG_DAEMON);
}

int log_level(void)
{
    return g_level;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    if (g_syslog) {
        vsyslog(level, fmt, ap);
        return;
    }
    static const char *const names[] = {"emerg", "alert", "crit", "error",
                                        "warn",  "note",  "info", "debug"};
    char line[2048];
    vsnprintf(line, sizeof(line), fmt, ap);
    /* One fprintf per line so lines from different threads do not interleave. */
    fprintf(stderr, "umongofs: %s: %s\n", names[level & 7], line);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

const char *log_redact_url(const char *url, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    if (!url) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t len = strcspn(url, "?#");
    if (url[len])
        snprintf(buf, n, "%.*s?<redacted>", (int)len, url);
    else
        snprintf(buf, n, "%s", url);
    return buf;
}
