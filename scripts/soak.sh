#!/usr/bin/env bash
# The soak of tests/integration/test_soak.py, for longer than the suite's 40
# seconds: SOAK_SECONDS (default 600) of 16 readers and a listing loop under
# random store and API faults, every byte checked, RSS and hangs watched.
# Runs the daemon as built (build/umongofs); UMONGOFS_BIN picks another,
# e.g. build-asan/umongofs. SOAK_SEED repeats a run (the seed is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
export SOAK_SECONDS="${SOAK_SECONDS:-600}"
export UMONGOFS_BIN="${UMONGOFS_BIN:-$PWD/build/umongofs}"
# A sanitized daemon runs its own leak check before exiting (main.c).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:leak_check_at_exit=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
echo "== soak: ${SOAK_SECONDS} s against $UMONGOFS_BIN"
exec /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/integration/test_soak.py "$@"
