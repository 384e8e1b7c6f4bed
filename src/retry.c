/* retry: exponential backoff with jitter, deadlines, abort. See retry.h. */
#include "retry.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* Lock-free, so storing it from a signal handler is safe (C11 7.14.1.1). */
static atomic_int g_aborted;

/* A sleep is cut into slices this long so an abort ends it promptly. */
#define SLICE_MS 50

/* The longest wait before retry number attempt. */
static uint64_t ceiling_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms)
{
    uint64_t hi = base_ms;
    for (unsigned i = 0; i < attempt && hi < cap_ms; i++)
        hi *= 2;
    return hi > cap_ms ? cap_ms : hi;
}

unsigned retry_delay_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd)
{
    uint64_t hi = ceiling_ms(attempt, base_ms, cap_ms);
    uint64_t lo = base_ms / 2;
    if (lo > hi)
        lo = hi;
    return (unsigned)(lo + rnd % (hi - lo + 1));
}

uint64_t retry_backoff_total_ms(unsigned retries, unsigned base_ms, unsigned cap_ms)
{
    uint64_t total = 0;
    for (unsigned a = 0; a < retries; a++)
        total += ceiling_ms(a, base_ms, cap_ms);
    return total;
}

uint64_t retry_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void retry_abort_all(void)
{
    atomic_store(&g_aborted, 1);
}

bool retry_aborted(void)
{
    return atomic_load(&g_aborted) != 0;
}

void retry_abort_clear(void)
{
    atomic_store(&g_aborted, 0);
}

int retry_sleep_until(unsigned attempt, unsigned base_ms, uint64_t deadline_ms)
{
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    unsigned ms = retry_delay_ms(attempt, base_ms ? base_ms : RETRY_BASE_MS, RETRY_CAP_MS,
                                 (uint32_t)rand_r(&seed));
    uint64_t end = retry_now_ms() + ms;
    if (deadline_ms && end > deadline_ms)
        return -ETIMEDOUT;
    for (;;) {
        if (retry_aborted())
            return -ECANCELED;
        uint64_t now = retry_now_ms();
        if (now >= end)
            return 0;
        uint64_t left = end - now < SLICE_MS ? end - now : SLICE_MS;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL); /* EINTR: the loop looks at the clock again */
    }
}

int retry_sleep(unsigned attempt)
{
    return retry_sleep_until(attempt, RETRY_BASE_MS, 0);
}
