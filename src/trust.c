/* trust: ownership and mode checks on the files config.c reads. See trust.h. */
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* err is one line even when a path or profile name holds a newline. */
void trust_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* Root owns /, /tmp and /etc; nobody is protected from root anyway. */
static bool owner_ok(const struct stat *st)
{
    return st->st_uid == geteuid() || st->st_uid == 0;
}

static int check_dir(const char *dir, const char *what, const char *path, unsigned flags,
                     const struct stat *st, char *err, size_t errlen)
{
    mode_t mode = st->st_mode & 07777;

    if (!owner_ok(st)) {
        trust_err(err, errlen,
                  "directory %s (holding %s %s) is owned by uid %u, neither you (uid %u) nor "
                  "root; run: chown %u %s, or move the file",
                  dir, what, path, (unsigned)st->st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
                  dir);
        return -EACCES;
    }
    if ((mode & 022) && !((flags & TRUST_STICKY_DIR_OK) && (mode & S_ISVTX))) {
        trust_err(err, errlen,
                  "directory %s (holding %s %s) is writable by group or others (mode %04o); "
                  "run: chmod go-w %s",
                  dir, what, path, (unsigned)mode, dir);
        return -EACCES;
    }
    return 0;
}

int trust_check_private(const char *path, const char *what, mode_t st_mode, char *err,
                        size_t errlen)
{
    mode_t mode = st_mode & 07777;

    if (!(mode & 077))
        return 0;
    trust_err(err, errlen, "%s %s is %s by others (mode %04o); run: chmod 600 %s", what, path,
              (mode & 044)   ? "readable"
              : (mode & 022) ? "writable"
                             : "accessible",
              (unsigned)mode, path);
    return -EACCES;
}

static int check_file(const char *path, const char *what, unsigned flags, const struct stat *st,
                      char *err, size_t errlen)
{
    mode_t mode = st->st_mode & 07777;

    if (!S_ISREG(st->st_mode)) {
        trust_err(err, errlen, "%s %s is not a regular file", what, path);
        return -EINVAL;
    }
    if (!owner_ok(st)) {
        trust_err(err, errlen,
                  "%s %s is owned by uid %u, neither you (uid %u) nor root; run: chown %u %s", what,
                  path, (unsigned)st->st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
        return -EACCES;
    }
    if (flags & TRUST_PRIVATE)
        return trust_check_private(path, what, st->st_mode, err, errlen);
    if (mode & 022) {
        trust_err(err, errlen,
                  "%s %s is writable by group or others (mode %04o); run: chmod 600 %s", what, path,
                  (unsigned)mode, path);
        return -EACCES;
    }
    return 0;
}

/* Splits the resolved path into its directory and last component; "/" has
 * no last component and is opened as "." of itself. */
static void split_path(char *real, const char **dir, const char **base)
{
    char *slash = strrchr(real, '/');

    if (!slash || slash == real) {
        *dir = "/";
        *base = real[0] && real[1] ? real + 1 : ".";
        return;
    }
    *slash = '\0';
    *dir = real;
    *base = slash + 1;
}

/* The path is resolved first so that the directory checked is the one that
 * really holds the file (a symlink may point elsewhere); the file is then
 * opened relative to that directory's descriptor without following links,
 * so nothing swapped in between the checks and the open is read. */
int trust_open(const char *path, const char *what, unsigned flags, struct stat *st, char *err,
               size_t errlen)
{
    char real[PATH_MAX];
    const char *dir, *base;
    struct stat dst;
    int dfd = -1, fd = -1, ret;

    if (!realpath(path, real)) {
        ret = -errno;
        trust_err(err, errlen, "%s %s: %s", what, path, strerror(-ret));
        return ret;
    }
    split_path(real, &dir, &base);
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fstat(dfd, &dst) < 0) {
        ret = -errno;
        trust_err(err, errlen, "directory %s of %s %s: %s", dir, what, path, strerror(-ret));
        goto out;
    }
    ret = check_dir(dir, what, path, flags, &dst, err, errlen);
    if (ret)
        goto out;
    fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, st) < 0) {
        ret = -errno;
        trust_err(err, errlen, "cannot open %s %s: %s", what, path, strerror(-ret));
        goto out;
    }
    ret = check_file(path, what, flags, st, err, errlen);
out:
    if (dfd >= 0)
        close(dfd);
    if (ret) {
        if (fd >= 0)
            close(fd);
        return ret;
    }
    return fd;
}
