/* trust: may a file we take keys or settings from be believed?
 *
 * config.json decides where signed calls go (base_url) and credential files
 * decide which keys sign them, so a file another user could write, or
 * replace through its directory, must not be read; a file holding keys must
 * not be readable by anyone else either. A file or directory is trusted when
 * it is owned by the mounting user (geteuid()) or root and is not writable by
 * group or others. The checks look at what is actually opened (fstat of the
 * descriptors, after resolving symlinks), not at a path seen earlier.
 *
 * Used by config.c, once, from main, before any thread exists. Messages go
 * into err: one line naming the file or directory and the command that
 * fixes it, never the file's contents.
 */
#ifndef UMONGOFS_TRUST_H
#define UMONGOFS_TRUST_H

#include <stddef.h>
#include <sys/stat.h>

/* The file holds keys: group and others must not have any access to it. */
#define TRUST_PRIVATE 1u
/* The file may sit in a world-writable directory that has the sticky bit
 * (/tmp): there others cannot remove or rename a file they do not own. Only
 * for a file the user named explicitly (-o credentials=FILE). */
#define TRUST_STICKY_DIR_OK 2u

/* Opens path read-only (close-on-exec, non-blocking so a FIFO cannot hang
 * us) once the file and the directory holding it pass the checks above;
 * *st is the opened file's fstat. what names the file in messages
 * ("credentials file", "config file").
 * Returns the descriptor, or -ENOENT/-ENOTDIR when the file is not there,
 * -EACCES when it or its directory is not trusted, -EINVAL when it is not a
 * regular file, another -errno when it cannot be opened. */
int trust_open(const char *path, const char *what, unsigned flags, struct stat *st, char *err,
               size_t errlen);

/* -EACCES (with the chmod 600 message) when group or others have any access
 * to a file whose mode is st_mode, else 0. For files found to hold keys only
 * after they were read. */
int trust_check_private(const char *path, const char *what, mode_t st_mode, char *err,
                        size_t errlen);

/* Formats one line of error text into err (control characters become '?',
 * so a path or profile name cannot break the line). Shared with config.c. */
void trust_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
