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

/* The UTF-8 encodings of the direction controls start with E2 80 or E2 81. */
static unsigned bidi_control(const unsigned char *p)
{
    if (p[0] != 0xE2 || (p[1] != 0x80 && p[1] != 0x81) || !p[2])
        return 0;
    unsigned cp = 0x2000u | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ? cp : 0;
}

const char *log_escape(const char *text, char *buf, size_t n)
{
    size_t w = 0;

    if (n == 0)
        return buf;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        char esc[12];
        const char *piece = esc;
        size_t len;
        unsigned cp = bidi_control(p);

        if (cp) {
            len = (size_t)snprintf(esc, sizeof(esc), "\\u{%04X}", cp);
            p += 2;
        } else if (*p < 0x20 || *p == 0x7F) {
            len = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", *p);
        } else {
            piece = (const char *)p;
            len = 1;
        }
        if (w + len >= n)
            break;
        memcpy(buf + w, piece, len);
        w += len;
    }
    buf[w] = '\0';
    return buf;
}
