/* mountpoint: may umongofs mount here, and tuning the mount once it is up.
 *
 * Mounting on a directory that already holds a FUSE mount stacks a second
 * mount on it (the first one's files disappear until the second is gone);
 * mounting on a regular file succeeds and then answers every access with
 * EIO. Both are refused before anything is mounted. A directory that is not
 * empty is allowed, as FUSE 3 allows it, with a warning: its files are
 * hidden while mounted.
 *
 * Called from main only, before and right after fuse_mount; reads
 * /proc/self/mountinfo, never the mounted filesystem itself (its daemon may
 * be gone or hung).
 */
#ifndef UMONGOFS_MOUNTPOINT_H
#define UMONGOFS_MOUNTPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The top mount on a path, as /proc/self/mountinfo describes it. */
struct mountpoint_info {
    char dev[32];     /* "0:52" */
    char fstype[64];  /* "fuse.umongofs", "ext4" */
    char source[256]; /* "umongofs:prod" */
};

/* Looks for path (absolute, resolved, as in mountinfo) in the mountinfo
 * text f and fills *out with the last (topmost) mount on it. 1 when found,
 * 0 when nothing is mounted there. Pure apart from reading f. */
int mountpoint_find(FILE *f, const char *path, struct mountpoint_info *out);

/* 0 when umongofs may mount on path (absolute and resolved, as libfuse's
 * fuse_parse_cmdline leaves it), with *nonempty set when the directory
 * holds entries. -1 with one line in err (what is wrong and what to do)
 * when path is already a FUSE mount (of any FUSE filesystem) or is not a
 * directory. "/dev/fd/N" (a descriptor mount.fuse3 opened) is not checked. */
int mountpoint_check(const char *path, bool *nonempty, char *err, size_t errlen);

/* The kernel gives a FUSE mount 128 KiB of readahead; this raises our
 * mount's to 1 MiB so sequential reads arrive as 1 MiB requests. Root only;
 * elsewhere it does nothing. */
void mountpoint_raise_readahead(const char *path);

#endif
