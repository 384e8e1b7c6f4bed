/* retry: the backoff schedule shared by API calls and object reads.
 *
 * Exponential backoff with "full jitter": attempt k (0-based) waits a random
 * time in [base/2, min(cap, base * 2^k)]. Keeping half the base as a floor
 * stops a rate-limited client from hammering the API with zero-length waits.
 * Pure function plus a thread-safe sleeper.
 */
#ifndef UMONGOFS_RETRY_H
#define UMONGOFS_RETRY_H

#include <stdint.h>

#define RETRY_BASE_MS 200
#define RETRY_CAP_MS  10000

/* Delay in ms before retry number attempt (0 = first retry); rnd is any
 * random 32-bit value (tests pass fixed ones). */
unsigned retry_delay_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd);

/* Sleeps retry_delay_ms(attempt, RETRY_BASE_MS, RETRY_CAP_MS, random). */
void retry_sleep(unsigned attempt);

#endif
