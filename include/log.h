/* log: the one place messages leave the daemon.
 *
 * Foreground mounts write to stderr, daemonized ones to syslog (ident
 * "umongofs", facility daemon: journalctl -t umongofs); -o logfile= sends
 * every line to a file instead. Any thread may call these; log_init and
 * log_open_file only from main, before the threads that log exist. Secrets must never reach a log
 * call: use log_redact_url() for URLs (presigned query strings are credentials), never print keys.
 */
#ifndef UMONGOFS_LOG_H
#define UMONGOFS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* level: a syslog level (LOG_ERR .. LOG_DEBUG); messages above it are dropped. */
void log_init(int level, int use_syslog);
int log_level(void);

/* From now on every line goes to path, whatever log_init says: appended
 * (one write per line), with a timestamp and the pid, the file created mode
 * 0600. Refused (-errno, one line in err naming the file and the fix) when
 * path is a symbolic link, not a regular file, owned by another user, or
 * writable by group or others: log lines must not land in a file someone
 * else controls. The descriptor survives fuse_daemonize. */
int log_open_file(const char *path, char *err, size_t errlen);

/* True when a syslog socket (/dev/log) exists: without one, syslog(3)
 * drops every line. */
bool log_syslog_available(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

/* Copies url into buf without its query string and fragment ("...?<redacted>"),
 * escaped as log_escape does, truncating to n bytes. Returns buf. */
const char *log_redact_url(const char *url, char *buf, size_t n);

/* Copies untrusted text (a provider Message, a backup name, a user's path)
 * into buf for a log line: control characters (C0, DEL, C1) and bytes that
 * are not UTF-8 become \xNN, or \u{NNNN} for a multi-byte character; so do
 * the line and paragraph separators (U+2028, U+2029) and the Unicode
 * direction controls (U+202A..U+202E, U+2066..U+2069). The text can then
 * neither forge a line nor reorder or recolour what a terminal shows.
 * Ordinary UTF-8 is copied as is. Truncates to n bytes (never inside an
 * escape or a character). Returns buf.
 * log_msg applies it to every whole line as well; calling it at the call
 * site keeps one argument's truncation from eating the rest of the line. */
const char *log_escape(const char *text, char *buf, size_t n);

#endif
