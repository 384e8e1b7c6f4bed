/* inval: the kernel-cache invalidation queue. See inval.h. */
#define FUSE_USE_VERSION 312
#include "inval.h"

#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "log.h"
#include "retry.h"

struct item {
    struct item *next;
    uint64_t due_ms; /* retry_now_ms() time to tell the kernel */
    char path[];
};

struct inval {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a path was queued, or stop */
    /* Guarded by lock: */
    struct item *head, *tail;
    size_t n;
    size_t done, dropped;
    bool stop;
    bool running;
    bool told_full;
    pthread_t thread; /* valid while running */
    struct fuse *fuse;
};

struct inval *inval_new(void)
{
    struct inval *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    return q;
}

void inval_queue(void *ctx, const char *path)
{
    struct inval *q = ctx;
    size_t len = strlen(path);
    pthread_mutex_lock(&q->lock);
    struct item *it = q->n < INVAL_QUEUE_MAX ? malloc(sizeof(*it) + len + 1) : NULL;
    if (!it) {
        q->dropped++;
        if (!q->told_full)
            log_debug("kernel cache invalidations queue full: some entries keep their old "
                      "attributes until attr_timeout");
        q->told_full = true;
    } else {
        memcpy(it->path, path, len + 1);
        it->next = NULL;
        it->due_ms = retry_now_ms() + INVAL_DELAY_MS;
        if (q->tail)
            q->tail->next = it;
        else
            q->head = it;
        q->tail = it;
        q->n++;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
}

static void *run(void *arg)
{
    struct inval *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cond, &q->lock);
        if (q->stop)
            break;
        uint64_t now = retry_now_ms();
        if (now < q->head->due_ms) {
            uint64_t ms = q->head->due_ms - now;
            pthread_mutex_unlock(&q->lock);
            nanosleep(&(struct timespec){0, (long)ms * 1000000L}, NULL);
            pthread_mutex_lock(&q->lock);
            continue;
        }
        struct item *it = q->head;
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        if (q->n < INVAL_QUEUE_MAX / 2)
            q->told_full = false;
        pthread_mutex_unlock(&q->lock);
        /* -ENOENT: the kernel never looked the path up; nothing to drop. */
        fuse_invalidate_path(q->fuse, it->path);
        free(it);
        pthread_mutex_lock(&q->lock);
        q->done++;
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int inval_start(struct inval *q, struct fuse *f)
{
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    if (!q->running) {
        q->fuse = f;
        q->stop = false;
        rc = -pthread_create(&q->thread, NULL, run, q);
        q->running = rc == 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void inval_stop(struct inval *q)
{
    pthread_mutex_lock(&q->lock);
    bool running = q->running;
    q->stop = true;
    q->running = false;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (running)
        pthread_join(q->thread, NULL);
}

void inval_free(struct inval **pq)
{
    struct inval *q = *pq;
    if (!q)
        return;
    inval_stop(q);
    for (struct item *it = q->head, *nx; it; it = nx) {
        nx = it->next;
        free(it);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
    *pq = NULL;
}

void inval_counts(struct inval *q, size_t *done, size_t *dropped)
{
    pthread_mutex_lock(&q->lock);
    *done = q->done;
    *dropped = q->dropped;
    pthread_mutex_unlock(&q->lock);
}
