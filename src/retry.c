/* retry: exponential backoff with jitter. See retry.h. */
#include "retry.h"

#include <stdlib.h>
#include <time.h>

unsigned retry_delay_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd)
{
    uint64_t hi = base_ms;
    for (unsigned i = 0; i < attempt && hi < cap_ms; i++)
        hi *= 2;
    if (hi > cap_ms)
        hi = cap_ms;
    uint64_t lo = base_ms / 2;
    if (lo > hi)
        lo = hi;
    return (unsigned)(lo + rnd % (hi - lo + 1));
}

void retry_sleep(unsigned attempt)
{
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    unsigned ms = retry_delay_ms(attempt, RETRY_BASE_MS, RETRY_CAP_MS, (uint32_t)rand_r(&seed));
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}
