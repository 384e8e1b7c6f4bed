/* reader_disk: the disk cache (diskcache.h) under the readers: blocks are
 * looked for on disk before the store, and a block fetched whole from the
 * store is kept there. See reader_int.h for the lock.
 *
 * Only blocks of an object whose version is known for sure go to disk: the
 * store said its length and a strong ETag (an object without one could be
 * replaced by another of the same length unseen), and it has not changed
 * under this reader. The probe of an open, which learns them, therefore
 * always goes to the store: after a remount it is the one small request
 * that validates the blocks on disk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diskcache.h"
#include "http.h"
#include "reader_int.h"

bool disk_ready(struct reader *r)
{
    struct reader_pool *p = r->pool;
    if (!p->disk || !r->cache_id || r->stale || !r->total_known || !r->answered ||
        !http_etag_strong(r->etag))
        return false;
    if (!r->key_ready)
        r->key_ready = diskcache_key(&r->key, r->cache_id, r->etag, r->total, p->bs);
    return r->key_ready;
}

size_t disk_block_len(const struct reader *r, uint64_t b)
{
    const struct reader_pool *p = r->pool;
    uint64_t at = b * p->bs;
    if (at >= r->total)
        return 0;
    return r->total - at < p->bs ? (size_t)(r->total - at) : p->bs;
}

bool disk_has(struct reader *r, uint64_t b)
{
    return disk_ready(r) && disk_block_len(r, b) > 0 && diskcache_has(r->pool->disk, &r->key, b);
}

int disk_load(struct reader *r, uint64_t b, char *dst, size_t from, size_t upto, bool extend,
              size_t *hi, bool *end)
{
    struct reader_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    bool ready = disk_ready(r);
    struct dc_key key = r->key;
    size_t len = ready ? disk_block_len(r, b) : 0;
    uint64_t total = r->total;
    pthread_mutex_unlock(&p->lock);
    if (!ready || from >= len)
        return -ENOENT;
    size_t to = extend || upto > len ? len : upto;
    /* dst is a block buffer: readers of an earlier window of it may still
     * be copying, so only checked bytes may land there (diskcache_read,
     * not _private). */
    int rc = diskcache_read(p->disk, &key, b, len, dst + from, from, to);
    if (rc)
        return rc;
    *hi = to;
    *end = b * p->bs + to == total;
    return 0;
}

void disk_keep(struct reader *r, struct slot *s)
{
    struct reader_pool *p = r->pool;
    if (s->state != SLOT_READY || s->lo != 0 || !disk_ready(r) || s->hi == 0 ||
        s->hi != disk_block_len(r, s->block))
        return;
    struct dc_key key = r->key;
    s->pins++;
    pthread_mutex_unlock(&p->lock);
    diskcache_store(p->disk, &key, s->block, s->data, s->hi);
    pthread_mutex_lock(&p->lock);
    if (--s->pins == 0 && p->buf_waiters)
        pthread_cond_broadcast(&p->slot_cond);
}
