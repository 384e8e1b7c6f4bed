/* breaker: fail fast while the API does not answer. See breaker.h. */
#include "breaker.h"

void breaker_init(struct breaker *b, unsigned threshold, unsigned cooldown)
{
    *b = (struct breaker){.threshold = threshold ? threshold : 1, .cooldown = cooldown};
}

bool breaker_would_admit(const struct breaker *b, int64_t now)
{
    return !b->open || (!b->probing && now >= b->retry_at);
}

enum breaker_verdict breaker_admit(struct breaker *b, int64_t now)
{
    if (!b->open)
        return BREAKER_PASS;
    if (b->probing || now < b->retry_at)
        return BREAKER_REFUSE;
    b->probing = true;
    return BREAKER_PROBE;
}

enum breaker_event breaker_done(struct breaker *b, enum breaker_verdict v,
                                enum breaker_outcome outcome, int64_t now)
{
    if (v == BREAKER_PROBE)
        b->probing = false;
    if (outcome == BREAKER_ANSWERED) {
        bool was_open = b->open;
        b->failures = 0;
        b->open = false;
        return was_open ? BREAKER_CLOSED : BREAKER_SAME;
    }
    if (outcome != BREAKER_NO_ANSWER)
        return BREAKER_SAME;
    if (b->failures < UINT32_MAX)
        b->failures++;
    /* A failed probe waits out another cooldown; calls that were already
     * under way when the breaker opened do not push the probe back. */
    if (v == BREAKER_PROBE)
        b->retry_at = now + b->cooldown;
    if (b->open || b->failures < b->threshold)
        return BREAKER_SAME;
    b->open = true;
    b->retry_at = now + b->cooldown;
    return BREAKER_OPENED;
}

bool breaker_suspect(const struct breaker *b)
{
    return b->failures > 0;
}
