/* blocks: the block buffers of all readers, within one budget. See reader_int.h.
 *
 * The pool owns cache_bytes / block_size slots, one buffer each, and no
 * buffer exists outside a slot: block memory cannot exceed the budget
 * however many files are open. A reader takes a free slot, or evicts the
 * least recently used block nobody is loading or copying, its own or another
 * reader's; a read that finds every slot busy waits for one (reader.c).
 * Prefetching is the first to give way: it only takes free slots or blocks
 * already read, never while a read waits, and a read may take over the slot
 * of a prefetch that has not started.
 *
 * Buffers are mapped with mmap, not malloc: they go back to the system when
 * the last file is closed instead of staying in a malloc arena, so the
 * daemon's RSS follows the budget.
 *
 * Every function here runs with pool->lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "reader_int.h"
#include "stats.h"

int blocks_init(struct reader_pool *p, size_t cache_bytes)
{
    size_t n = cache_bytes / p->bs;
    p->n_slots = n ? (unsigned)n : 1;
    p->slots = calloc(p->n_slots, sizeof(*p->slots));
    return p->slots ? 0 : -ENOMEM;
}

void blocks_destroy(struct reader_pool *p)
{
    for (unsigned i = 0; p->slots && i < p->n_slots; i++)
        if (p->slots[i].data)
            munmap(p->slots[i].data, p->bs);
    free(p->slots);
    p->slots = NULL;
}

struct slot *blocks_find(struct reader *r, uint64_t b)
{
    for (struct slot *s = r->owned; s; s = s->next_owned)
        if (s->block == b)
            return s;
    return NULL;
}

static void unlink_owned(struct slot *s)
{
    struct reader *r = s->owner;
    for (struct slot **pp = &r->owned; *pp; pp = &(*pp)->next_owned) {
        if (*pp == s) {
            *pp = s->next_owned;
            r->n_owned--;
            break;
        }
    }
    s->next_owned = NULL;
    s->owner = NULL;
}

void blocks_release(struct slot *s)
{
    if (s->owner) {
        struct reader_pool *p = s->owner->pool;
        unlink_owned(s);
        pthread_cond_broadcast(&p->slot_cond);
    }
    s->state = SLOT_FREE;
    s->queued = false; /* a queued job sees its ticket gone and skips */
}

void blocks_release_reader(struct reader *r)
{
    struct slot *s = r->owned;
    while (s) {
        struct slot *next = s->next_owned;
        if (s->state != SLOT_LOADING && s->pins == 0)
            blocks_release(s);
        s = next;
    }
}

void blocks_trim(struct reader_pool *p)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        struct slot *s = &p->slots[i];
        if (s->state == SLOT_FREE && s->data) {
            munmap(s->data, p->bs);
            s->data = NULL;
            p->mapped -= p->bs;
            stats_add(STATS_BLOCK_MEMORY, -(int64_t)p->bs);
        }
    }
}

/* How cheap s is to take, lower first, or -1 when it cannot be taken. A
 * failed block costs nothing, a prefetch not started only a request, a
 * block already read less than one not read yet. */
static int cost(const struct slot *s, bool prefetch)
{
    if (s->pins)
        return -1;
    switch (s->state) {
    case SLOT_FREE:
    case SLOT_FAILED:
        return 0;
    case SLOT_LOADING:
        return !prefetch && s->queued ? 1 : -1;
    case SLOT_READY:
        return s->consumed ? 2 : prefetch ? -1 : 3;
    }
    return -1;
}

static bool better(const struct slot *s, int c, const struct slot *best, int best_c)
{
    return !best || c < best_c || (c == best_c && s->used < best->used);
}

/* The slot to reuse for r: among its own when it holds its share, else a
 * free mapped one, a free unmapped one, or the cheapest to evict. */
static struct slot *pick(struct reader *r, bool prefetch)
{
    struct reader_pool *p = r->pool;
    struct slot *best = NULL, *unmapped = NULL;
    int best_c = 0;
    if (r->n_owned >= p->per_reader) {
        for (struct slot *s = r->owned; s; s = s->next_owned) {
            int c = cost(s, prefetch);
            if (c >= 0 && better(s, c, best, best_c)) {
                best = s;
                best_c = c;
            }
        }
        return best;
    }
    for (unsigned i = 0; i < p->n_slots; i++) {
        struct slot *s = &p->slots[i];
        if (s->state == SLOT_FREE && s->data)
            return s;
        if (s->state == SLOT_FREE) {
            unmapped = unmapped ? unmapped : s;
            continue;
        }
        int c = cost(s, prefetch);
        if (c >= 0 && better(s, c, best, best_c)) {
            best = s;
            best_c = c;
        }
    }
    return unmapped ? unmapped : best;
}

struct slot *blocks_claim(struct reader *r, uint64_t b, bool prefetch, int *err)
{
    struct reader_pool *p = r->pool;
    *err = 0;
    if (prefetch && p->buf_waiters)
        return NULL;
    struct slot *s = pick(r, prefetch);
    if (!s)
        return NULL;
    blocks_release(s);
    if (!s->data) {
        void *m = mmap(NULL, p->bs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            *err = -ENOMEM;
            return NULL;
        }
        s->data = m;
        p->mapped += p->bs;
        stats_add(STATS_BLOCK_MEMORY, (int64_t)p->bs);
        if (p->mapped > p->mapped_peak)
            p->mapped_peak = p->mapped;
    }
    s->owner = r;
    s->next_owned = r->owned;
    r->owned = s;
    r->n_owned++;
    s->state = SLOT_LOADING;
    s->block = b;
    s->lo = 0;
    s->hi = 0;
    s->end = false;
    s->err = 0;
    s->queued = false;
    s->consumed = false;
    s->ticket = ++p->tick;
    s->used = p->tick;
    return s;
}
