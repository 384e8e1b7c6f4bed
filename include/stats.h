/* stats: the daemon's live counters, one process-wide set.
 *
 * What an admin asks of a running mount: API calls by action and by
 * RetCode, download URL renewals, range requests to the object store, bytes
 * from the store and bytes served to readers, retries, block cache hits,
 * errors by kind, open files, block memory in use and the disk cache. Shown as JSON by the
 * mount root's user.umongofs.stats attribute (fs.c) and logged on SIGUSR1.
 *
 * A leaf: every module may count, from any thread, at any time (also
 * before stats_start and after stats_stop_signal_thread). Every counter is
 * a relaxed atomic: no lock, no allocation, so counting costs one atomic
 * add on the paths it sits on. A snapshot is not taken atomically as a
 * whole: each number is exact, their sum may be a request apart.
 */
#ifndef UMONGOFS_STATS_H
#define UMONGOFS_STATS_H

#include <stdint.h>

enum stats_counter {
    STATS_URL_RENEWALS,   /* a download URL replaced (expiring soon, or refused with 403) */
    STATS_RANGE_REQUESTS, /* ranged GETs sent to the object store */
    STATS_STORE_BYTES,    /* bytes received from the object store */
    STATS_SERVED_BYTES,   /* bytes returned by read() to the kernel */
    STATS_RETRIES,        /* API calls and store requests tried again */
    STATS_CACHE_HITS,     /* reads of a block already in memory (read before or prefetched) */
    STATS_OPEN_FILES,     /* gauge: files open now */
    STATS_BLOCK_MEMORY,   /* gauge: bytes of block buffers mapped now */
    /* The disk cache (cache_dir=), shown as the object "disk_cache": */
    STATS_DISK_HITS,         /* reads from block files: a whole block read ahead, or a small read */
    STATS_DISK_BYTES,        /* bytes those reads took from disk */
    STATS_DISK_STORED,       /* blocks written to disk */
    STATS_DISK_STORED_BYTES, /* bytes of those blocks */
    STATS_DISK_EVICTED,      /* blocks deleted to stay within cache_max */
    STATS_DISK_DROPPED,      /* blocks found bad (deleted) or gone when read */
    STATS_DISK_SIZE,         /* gauge: bytes of block files now */
    STATS_DISK_MAX,          /* gauge: cache_max (0: no disk cache) */
    STATS_N_COUNTERS
};

/* Adds n (may be negative for the gauges) to counter c. */
void stats_add(enum stats_counter c, int64_t n);
static inline void stats_inc(enum stats_counter c)
{
    stats_add(c, 1);
}

/* One API call answered with retcode (-1: no usable answer at all). */
void stats_api_call(const char *action, long retcode);

/* One error returned to a program: rc is the internal negative errno
 * (-ETIMEDOUT counts as "timeout"; it reaches the program as EIO). 0 and
 * the answers that are not failures (-ENODATA, -ERANGE: an attribute
 * probe) are not counted. */
void stats_error(int rc);

/* The counters as one line of JSON (no newline), malloc'd: the caller
 * frees it. NULL when out of memory. */
char *stats_json(void);

/* Sets every counter back to zero and the start time to now (tests). */
void stats_reset(void);

/* SIGUSR1 logs stats_json() as one notice line. stats_block_signal() blocks
 * SIGUSR1 in the calling thread; call it in main before any thread exists,
 * so every thread inherits the mask. stats_start_signal_thread() then starts
 * the thread that waits for it with sigwait (after fuse_daemonize: threads
 * do not survive its fork); 0 or -errno. stats_stop_signal_thread() ends and
 * joins it; harmless when it never started. */
int stats_block_signal(void);
int stats_start_signal_thread(void);
void stats_stop_signal_thread(void);

#endif
