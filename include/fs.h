/* fs: the FUSE operations. Maps paths to catalog entries and open files to
 * readers, and every internal error to the errno a user sees (README,
 * "Names, attributes, errors"); that mapping lives here and only here.
 *
 * libfuse calls these from its worker threads; fs_ctx is shared by them and
 * is immutable after mount except for the reader pool, created in init().
 */
#ifndef UMONGOFS_FS_H
#define UMONGOFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "catalog.h"
#include "http.h"
#include "reader.h"
#include "recovery.h"
#include "urls.h"

struct fs_ctx {
    struct catalog *catalog;
    struct urls *urls;
    struct recovery *recovery; /* restore windows; NULL = none shown */
    struct http_pool *data_http; /* object-store connections */
    struct reader_pool_opts reader_opts;
    struct reader_pool *readers; /* started by init(), after daemonizing */
    pthread_mutex_t files_lock;  /* guards files */
    struct fs_file *files;       /* open files, closed by destroy() if the
                                    kernel never released them (SIGTERM) */
    uid_t uid;
    gid_t gid;
    mode_t umask;         /* cleared from every mode */
    double attr_timeout;  /* seconds the kernel may trust attributes */
    bool single_threaded; /* -s: no kernel notifications from inside a request */
};

struct fs_file;

/* The operation table; private_data must be a struct fs_ctx whose
 * files_lock is initialised. */
const struct fuse_operations *fs_operations(void);

/* errno (positive) for an internal negative error code. */
int fs_errno(int rc);

#endif
