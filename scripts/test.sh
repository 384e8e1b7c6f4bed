#!/usr/bin/env bash
# The second command in the README and what CI runs: installs what is
# missing, builds, then runs every test: unit tests (plain and under
# ASan/UBSan), a short fuzz of the listing parsers, and the integration
# suite on real FUSE mounts against the emulator, with the daemon as built
# and then with the sanitized daemon.
# Ends with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

werror=()
[ "${CI:-}" = "true" ] && werror=(-Dwerror=true)

scripts/setup.sh build "${werror[@]}"
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false "${werror[@]}"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

echo "== unit tests"
meson test -C build --print-errorlogs --suite unit
echo "== unit tests under ASan/UBSan"
meson test -C build-asan --print-errorlogs --suite unit

echo "== fuzzing the listing parsers (${FUZZ_SECONDS:-20} s)"
if command -v clang >/dev/null 2>&1; then
    fz=build/fuzz_listing
    clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
        src/listing.c src/names.c src/log.c tests/unit/fuzz_listing.c -lcjson -o "$fz"
    "$fz" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=0 2>&1 | tail -n 2
else
    echo "clang not installed: fuzzing skipped"
fi

echo "== integration tests (real mounts, the daemon as shipped)"
UMONGOFS_BIN="$PWD/build/umongofs" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"

echo "== integration tests (real mounts, sanitized daemon)"
export UMONGOFS_BIN="$PWD/build-asan/umongofs"
# The daemon runs its own leak check before exiting (see the end of main.c).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:leak_check_at_exit=0
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
