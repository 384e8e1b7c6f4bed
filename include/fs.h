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

/* Requests the kernel may have in flight in the background: async page
 * cache reads and (libfuse turns on async direct I/O) direct reads. */
#define FS_MAX_BACKGROUND 64

/* libfuse answers each request on one worker thread, and a read stuck on a
 * dead or dripping store holds its worker for the whole retry schedule. With
 * libfuse's default of 10 workers, 10 stuck reads left none for getattr or
 * readdir (issue 6, finding 7: `stat` of a listed directory took 14 s).
 * Bounding the blocked reads below the worker count cannot help with the
 * high-level API: a read waiting for its turn still holds a worker. So the
 * worker limit is set above what reads can take: all FS_MAX_BACKGROUND
 * background reads, plus FS_SPARE_WORKERS for the requests the kernel does
 * not count as background (metadata, open, release, and the synchronous
 * single-page read it retries after a failed readahead). Opens wait on the
 * store too (their probe), and direct reads (O_DIRECT) are not background
 * requests: the kernel caps neither, so the spare workers are many (150
 * opens stuck on a dead store held every one of 128 workers and `getfattr`
 * waited 10 s). Workers are started on demand; an idle one costs a stack
 * and a buffer, mostly untouched memory. */
#define FS_SPARE_WORKERS 448
#define FS_WORKERS       (FS_MAX_BACKGROUND + FS_SPARE_WORKERS)

struct fs_ctx {
    struct catalog *catalog;
    struct inval *inval; /* started by init(): drops what the kernel caches of
                            what a listing changed; NULL = none */
    struct urls *urls;
    struct recovery *recovery;   /* restore windows; NULL = none shown */
    struct http_pool *data_http; /* object-store connections */
    struct reader_pool_opts reader_opts;
    struct reader_pool *readers; /* started by init(), after daemonizing */
    pthread_mutex_t files_lock;  /* guards files */
    struct fs_file *files;       /* open files, closed by destroy() if the
                                    kernel never released them (SIGTERM) */
    uid_t uid;
    gid_t gid;
    mode_t umask;         /* cleared from every mode */
    double attr_timeout;  /* seconds the kernel may trust entries and attributes
                             (dir_ttl: inval tells it of changes sooner) */
    bool single_threaded; /* -s: no kernel notifications from inside a request */
};

struct fs_file;

/* The operation table; private_data must be a struct fs_ctx whose
 * files_lock is initialised. */
const struct fuse_operations *fs_operations(void);

/* errno (positive) for an internal negative error code. */
int fs_errno(int rc);

#endif
