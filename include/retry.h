/* retry: the backoff schedule shared by API calls and object reads, the
 * monotonic clock their deadlines use, and the process-wide abort switch.
 *
 * Exponential backoff with "full jitter": attempt k (0-based) waits a random
 * time in [base/2, min(cap, base * 2^k)]. Keeping half the base as a floor
 * stops a rate-limited client from hammering the API with zero-length waits.
 *
 * retry_abort_all() is for shutdown (SIGTERM): from then on every backoff
 * sleep returns at once and every transfer (http.c) ends, so threads stuck
 * on a dead server finish within about a second. It is a single atomic
 * store, safe to call from a signal handler.
 *
 * Pure functions plus thread-safe sleepers; any thread may call everything.
 */
#ifndef UMONGOFS_RETRY_H
#define UMONGOFS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define RETRY_BASE_MS 200
#define RETRY_CAP_MS  10000

/* Delay in ms before retry number attempt (0 = first retry); rnd is any
 * random 32-bit value (tests pass fixed ones). */
unsigned retry_delay_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd);

/* The longest all of `retries` backoff waits can take together: the sum of
 * each one's ceiling. */
uint64_t retry_backoff_total_ms(unsigned retries, unsigned base_ms, unsigned cap_ms);

/* Sleeps retry_delay_ms(attempt, RETRY_BASE_MS, RETRY_CAP_MS, random).
 * 0, or -ECANCELED when retry_abort_all() was called (then at once). */
int retry_sleep(unsigned attempt);

/* The same with base_ms as the base (0 = RETRY_BASE_MS), never past
 * deadline_ms (retry_now_ms() time; 0 = none). 0, -ECANCELED, or -ETIMEDOUT
 * when the wait would end past the deadline (then without sleeping). */
int retry_sleep_until(unsigned attempt, unsigned base_ms, uint64_t deadline_ms);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t retry_now_ms(void);

/* Shutdown: async-signal-safe (one atomic store). Irreversible except by
 * retry_abort_clear(), which only tests use. */
void retry_abort_all(void);
bool retry_aborted(void);
void retry_abort_clear(void);

#endif
