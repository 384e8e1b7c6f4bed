/* log: stderr, syslog or a file, with a level filter. See log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_level = LOG_NOTICE;
static int g_syslog;
static int g_fd = -1; /* -o logfile=: wins over both */

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

/* One write per line: with O_APPEND, lines of different threads (and of
 * several mounts sharing the file) never interleave. */
static void file_line(const char *level, const char *text)
{
    char stamp[40], out[4200];
    struct tm tm;
    time_t now = time(NULL);
    if (!localtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm))
        stamp[0] = '\0';
    int n = snprintf(out, sizeof(out), "%s umongofs[%ld]: %s: %s\n", stamp, (long)getpid(), level,
                     text);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1;
    out[len - 1] = '\n';
    ssize_t w;
    do
        w = write(g_fd, out, len);
    while (w < 0 && errno == EINTR);
}

/* Why the opened logfile must not be used (0: it may). */
static int logfile_refused(const struct stat *st, const char *safe, char *err, size_t errlen)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "logfile %s is not a regular file", safe);
        return -EINVAL;
    }
    if (st->st_uid != geteuid()) {
        snprintf(err, errlen,
                 "logfile %s is owned by uid %u, not you (uid %u); remove it or choose another "
                 "path",
                 safe, (unsigned)st->st_uid, (unsigned)geteuid());
        return -EACCES;
    }
    if (st->st_mode & 022) {
        snprintf(err, errlen,
                 "logfile %s is writable by group or others (mode %04o); run: chmod go-w %s", safe,
                 (unsigned)(st->st_mode & 07777), safe);
        return -EACCES;
    }
    return 0;
}

int log_open_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    char safe[1024];
    /* O_NOFOLLOW: a link planted where the file would be is refused, not
     * followed to a file of ours. O_NONBLOCK: a FIFO cannot hang us. */
    int fd = open(
        path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
    int rc = fd < 0 || fstat(fd, &st) != 0 ? -errno : 0;

    log_escape(path, safe, sizeof(safe));
    if (rc == -ELOOP)
        snprintf(err, errlen, "logfile %s is a symbolic link; give the path of the file itself",
                 safe);
    else if (rc)
        snprintf(err, errlen, "cannot open logfile %s: %s", safe, strerror(-rc));
    else
        rc = logfile_refused(&st, safe, err, errlen);
    if (rc) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    fcntl(fd, F_SETFL, O_APPEND); /* blocking writes from now on */
    if (g_fd >= 0)
        close(g_fd);
    g_fd = fd;
    return 0;
}

bool log_syslog_available(void)
{
    struct stat st;
    return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    static const char *const names[] = {"emerg", "alert", "crit", "error",
                                        "warn",  "note",  "info", "debug"};
    char line[2048], safe[4096];
    vsnprintf(line, sizeof(line), fmt, ap);
    /* Call sites escape what they know to be untrusted; this catches any
     * they miss, so no argument can ever start a forged line or send a
     * terminal escape. Our own formats contain no control characters. */
    log_escape(line, safe, sizeof(safe));
    if (g_fd >= 0) {
        file_line(names[level & 7], safe);
        return;
    }
    if (g_syslog) {
        syslog(level, "%s", safe);
        return;
    }
    /* One fprintf per line so lines from different threads do not interleave. */
    fprintf(stderr, "umongofs: %s: %s\n", names[level & 7], safe);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 character at p (at most avail bytes) and its
 * code point, or 0 when p does not start one (RFC 3629: no overlongs,
 * surrogates or values past U+10FFFF). */
static size_t utf8_char(const unsigned char *p, size_t avail, unsigned *cp)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, c &= 0x07;
    else
        return 0;
    if (len > avail)
        return 0;
    if (p[0] == 0xE0)
        lo = 0xA0;
    else if (p[0] == 0xED)
        hi = 0x9F;
    else if (p[0] == 0xF0)
        lo = 0x90;
    else if (p[0] == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3Fu);
    }
    *cp = c;
    return len;
}

/* Code points a terminal or log viewer acts on rather than shows: C1
 * controls (U+009B is CSI on many terminals), the line and paragraph
 * separators (a new line to some viewers) and the direction embeddings,
 * overrides and isolates (they reorder the rest of the line). */
static bool escaped_code_point(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* log_escape over the first len bytes of text, appended at buf[*w]. */
static void escape_into(const char *text, size_t len, char *buf, size_t n, size_t *w)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;

    while (p < end && *p) {
        char esc[12];
        const char *piece = esc;
        size_t plen;
        unsigned cp = 0;
        size_t clen = utf8_char(p, (size_t)(end - p), &cp);

        if (clen == 0 || cp < 0x20 || cp == 0x7F) {
            /* A control byte, or a byte that is not UTF-8: shown as such,
             * never passed on for a terminal to interpret. */
            plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", *p);
            clen = 1;
        } else if (escaped_code_point(cp)) {
            plen = (size_t)snprintf(esc, sizeof(esc), "\\u{%04X}", cp);
        } else {
            piece = (const char *)p;
            plen = clen;
        }
        if (*w + plen >= n)
            break;
        memcpy(buf + *w, piece, plen);
        *w += plen;
        p += clen;
    }
    buf[*w] = '\0';
}

const char *log_escape(const char *text, char *buf, size_t n)
{
    size_t w = 0;

    if (n == 0)
        return buf;
    text = text ? text : "";
    escape_into(text, strlen(text), buf, n, &w);
    return buf;
}

/* The path of a URL is the provider's text too (download URLs come from its
 * answers), so it is escaped as well as cut. */
const char *log_redact_url(const char *url, char *buf, size_t n)
{
    static const char redacted[] = "?<redacted>";
    size_t w = 0;

    if (n == 0)
        return buf;
    if (!url) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t len = strcspn(url, "?#");
    if (url[len] && n > sizeof(redacted)) {
        escape_into(url, len, buf, n - (sizeof(redacted) - 1), &w);
        memcpy(buf + w, redacted, sizeof(redacted));
    } else {
        escape_into(url, len, buf, n, &w);
    }
    return buf;
}
