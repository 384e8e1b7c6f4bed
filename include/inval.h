/* inval: telling the kernel to drop what it caches of paths a listing
 * changed.
 *
 * The kernel keeps entries and attributes for attr_timeout (as long as a
 * listing is trusted). When a refresh changes a file's size, time or mode,
 * a directory's time or link count, or removes an entry, the catalog reports
 * the path here; a thread of ours asks the kernel to forget it
 * (fuse_invalidate_path), outside every request and lock, so that no
 * invalidation waits for a page a request of ours holds.
 *
 * Each path waits INVAL_DELAY_MS first: an invalidation the kernel gets
 * while the request that caused the refresh is still being answered (a
 * READDIRPLUS with every entry's attributes) makes it distrust that whole
 * answer and look every entry up again.
 *
 * Queueing is cheap and never blocks; at most INVAL_QUEUE_MAX paths wait
 * (more are dropped: those entries then show their old attributes until
 * attr_timeout). Paths queued before inval_start are kept for it.
 *
 * Lock order: the queue's lock is a leaf (the catalog calls inval_queue with
 * its own lock held). Thread-safe.
 */
#ifndef UMONGOFS_INVAL_H
#define UMONGOFS_INVAL_H

#include <stddef.h>

#define INVAL_QUEUE_MAX 65536
#define INVAL_DELAY_MS  100

struct fuse;
struct inval;

struct inval *inval_new(void);
/* Starts the thread that invalidates on f (from the FUSE init callback,
 * after daemonizing). 0 or a negative errno. */
int inval_start(struct inval *q, struct fuse *f);
/* Stops the thread (what is still queued is dropped). */
void inval_stop(struct inval *q);
void inval_free(struct inval **q);

/* The catalog's `changed` callback: queues path. ctx is the struct inval. */
void inval_queue(void *ctx, const char *path);

/* Paths invalidated and dropped so far (tests, counters). */
void inval_counts(struct inval *q, size_t *done, size_t *dropped);

#endif
