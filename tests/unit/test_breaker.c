/* Unit tests for breaker.c: the circuit breaker in front of the API's
 * listings (README, "Names, attributes, errors": when the API does not answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "breaker.h"

/* Runs one admitted call with the given outcome; returns the event. */
static enum breaker_event call(struct breaker *b, int64_t now, enum breaker_outcome o)
{
    enum breaker_verdict v = breaker_admit(b, now);
    assert_int_not_equal(v, BREAKER_REFUSE);
    return breaker_done(b, v, o, now);
}

static void test_opens_after_threshold(void **state)
{
    (void)state;
    struct breaker b;
    breaker_init(&b, 3, 10);
    assert_false(breaker_suspect(&b));
    assert_int_equal(call(&b, 100, BREAKER_NO_ANSWER), BREAKER_SAME);
    assert_true(breaker_suspect(&b));
    assert_int_equal(call(&b, 100, BREAKER_NO_ANSWER), BREAKER_SAME);
    assert_int_equal(call(&b, 101, BREAKER_NO_ANSWER), BREAKER_OPENED);
    /* Open: everything refused until the cooldown is over. */
    assert_int_equal(breaker_admit(&b, 101), BREAKER_REFUSE);
    assert_int_equal(breaker_admit(&b, 110), BREAKER_REFUSE);
    assert_false(breaker_would_admit(&b, 110));
    assert_true(breaker_would_admit(&b, 111));
}

static void test_one_probe_per_cooldown(void **state)
{
    (void)state;
    struct breaker b;
    breaker_init(&b, 1, 10);
    assert_int_equal(call(&b, 0, BREAKER_NO_ANSWER), BREAKER_OPENED);
    assert_int_equal(breaker_admit(&b, 10), BREAKER_PROBE);
    /* While the probe is out, nobody else goes. */
    assert_int_equal(breaker_admit(&b, 10), BREAKER_REFUSE);
    assert_false(breaker_would_admit(&b, 15));
    /* It fails: another full cooldown from the failure, no new "opened". */
    assert_int_equal(breaker_done(&b, BREAKER_PROBE, BREAKER_NO_ANSWER, 15), BREAKER_SAME);
    assert_int_equal(breaker_admit(&b, 24), BREAKER_REFUSE);
    assert_int_equal(breaker_admit(&b, 25), BREAKER_PROBE);
    /* It succeeds: closed, counted from zero again. */
    assert_int_equal(breaker_done(&b, BREAKER_PROBE, BREAKER_ANSWERED, 26), BREAKER_CLOSED);
    assert_int_equal(breaker_admit(&b, 26), BREAKER_PASS);
    assert_false(breaker_suspect(&b));
}

static void test_answers_reset_the_count(void **state)
{
    (void)state;
    struct breaker b;
    breaker_init(&b, 3, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(call(&b, i, BREAKER_NO_ANSWER), BREAKER_SAME);
        assert_int_equal(call(&b, i, BREAKER_NO_ANSWER), BREAKER_SAME);
        /* An error answer is an answer: the API is up. */
        assert_int_equal(call(&b, i, BREAKER_ANSWERED), BREAKER_SAME);
    }
    /* Local failures (out of memory) say nothing either way. */
    assert_int_equal(call(&b, 20, BREAKER_NO_ANSWER), BREAKER_SAME);
    assert_int_equal(call(&b, 20, BREAKER_NEUTRAL), BREAKER_SAME);
    assert_int_equal(call(&b, 20, BREAKER_NO_ANSWER), BREAKER_SAME);
    assert_int_equal(call(&b, 20, BREAKER_NO_ANSWER), BREAKER_OPENED);
}

/* Calls already under way when the breaker opened finish later: their
 * failures neither log again nor push the probe back; an answer closes it. */
static void test_calls_in_flight(void **state)
{
    (void)state;
    struct breaker b;
    breaker_init(&b, 2, 10);
    enum breaker_verdict late1 = breaker_admit(&b, 0), late2 = breaker_admit(&b, 0);
    assert_int_equal(call(&b, 1, BREAKER_NO_ANSWER), BREAKER_SAME);
    assert_int_equal(call(&b, 1, BREAKER_NO_ANSWER), BREAKER_OPENED);
    assert_int_equal(breaker_done(&b, late1, BREAKER_NO_ANSWER, 9), BREAKER_SAME);
    assert_int_equal(breaker_admit(&b, 11), BREAKER_PROBE);
    assert_int_equal(breaker_done(&b, BREAKER_PROBE, BREAKER_NEUTRAL, 11), BREAKER_SAME);
    assert_int_equal(breaker_done(&b, late2, BREAKER_ANSWERED, 12), BREAKER_CLOSED);
    assert_int_equal(breaker_admit(&b, 12), BREAKER_PASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_threshold),
        cmocka_unit_test(test_one_probe_per_cooldown),
        cmocka_unit_test(test_answers_reset_the_count),
        cmocka_unit_test(test_calls_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
