/* breaker: a circuit breaker in front of the provider API's listings.
 *
 * It counts API calls in a row that got no answer at all (a timeout, a
 * refused connection, a gateway's error page). After `threshold` of them it
 * opens: for `cooldown` seconds callers are told to fail at once instead of
 * each waiting out another timeout. Then one call, the probe, is let
 * through; its outcome closes the breaker or opens it for another cooldown.
 * Any answer from the API, an error answer included, closes it and resets
 * the count: the API is up, whatever it thinks of one request.
 *
 * Not thread-safe: the caller serialises (the catalog holds its lock). Times
 * are seconds of a monotonic clock, passed in so that tests drive them.
 */
#ifndef UMONGOFS_BREAKER_H
#define UMONGOFS_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum breaker_verdict {
    BREAKER_PASS,   /* closed: go ahead */
    BREAKER_PROBE,  /* open, cooldown over: go ahead, as the one probe */
    BREAKER_REFUSE, /* open: fail at once */
};

enum breaker_outcome {
    BREAKER_ANSWERED,  /* the API answered (success or an error answer) */
    BREAKER_NO_ANSWER, /* transport failure or timeout */
    BREAKER_NEUTRAL,   /* says nothing about the API (a local failure) */
};

enum breaker_event {
    BREAKER_SAME,   /* no change of state */
    BREAKER_OPENED, /* log it: from now on callers fail fast */
    BREAKER_CLOSED, /* log it: the API answers again */
};

struct breaker {
    unsigned threshold; /* failures in a row that open it (>= 1) */
    unsigned cooldown;  /* seconds between probes while open */
    unsigned failures;  /* calls in a row without an answer */
    bool open;
    bool probing;     /* the probe is under way */
    int64_t retry_at; /* open: when the next probe may go */
};

void breaker_init(struct breaker *b, unsigned threshold, unsigned cooldown);

/* What breaker_admit would say, without taking the probe. */
bool breaker_would_admit(const struct breaker *b, int64_t now);

/* Whether a call may go now. A PROBE verdict must be followed by
 * breaker_done (until then no other call is let through). */
enum breaker_verdict breaker_admit(struct breaker *b, int64_t now);

/* Records the outcome of a call admitted with verdict v. */
enum breaker_event breaker_done(struct breaker *b, enum breaker_verdict v,
                                enum breaker_outcome outcome, int64_t now);

/* True after a call went unanswered: retrying within one call is unlikely to
 * help then, a single attempt says as much. */
bool breaker_suspect(const struct breaker *b);

#endif
