/* buf: a growing byte buffer with a hard cap.
 *
 * Every buffer filled from the network has a limit; appending past it fails
 * with -E2BIG and leaves the buffer as it was. Not thread-safe: one owner.
 */
#ifndef UMONGOFS_BUF_H
#define UMONGOFS_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
/* 0, -E2BIG past max, -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
void buf_reset(struct buf *b);
/* Frees the storage; the struct can be reused after buf_init. */
void buf_free(struct buf *b);

#endif
