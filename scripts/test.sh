#!/usr/bin/env bash
# The second command in the README and what CI runs: installs what is
# missing, builds, then runs every test: unit tests (plain and under
# ASan/UBSan, the read path's also under TSan), a short fuzz of the parsers
# (listings, API answers, config files, object-store headers), and the
# integration suite on real FUSE mounts against the emulator, with the
# daemon as built and then with the sanitized daemon.
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

# The read path is where the threads meet (readers, prefetch workers, the
# shared block budget, the disk cache under them): its unit tests also run
# under ThreadSanitizer.
echo "== the read path under ThreadSanitizer"
[ -f build-tsan/build.ninja ] || meson setup build-tsan -Db_sanitize=thread "${werror[@]}" >/dev/null
meson compile -C build-tsan tests/unit/test_reader tests/unit/test_reader_disk tests/unit/test_diskcache \
    tests/unit/test_http tests/unit/test_urls tests/unit/test_stats
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --no-rebuild --print-errorlogs test_reader \
    test_reader_disk test_diskcache test_http test_urls test_stats

# fuzz NAME SOURCE...: builds tests/unit/fuzz_NAME.c with the given sources
# instrumented (whatever else they call comes from the plain build's core
# library) and runs it from its seeds in tests/unit/corpus/NAME for
# FUZZ_SECONDS. New inputs go to build/fuzz-corpus, never into the seeds.
fuzz() {
    local name=$1 fz=build/fuzz_$1 work=build/fuzz-corpus/$1 log=build/fuzz_$1.log
    shift
    # shellcheck disable=SC2046
    clang -std=gnu11 -D_GNU_SOURCE -DUMONGOFS_VERSION='"fuzz"' -g -O1 \
        -Werror=implicit-function-declaration -fsanitize=fuzzer,address,undefined -Iinclude \
        "$@" "tests/unit/fuzz_$name.c" \
        build/libumongofs-core.a $(pkg-config --libs libcjson libcurl libcrypto) -lpthread -o "$fz"
    mkdir -p "$work"
    if ! "$fz" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=0 \
        -dict=tests/unit/corpus/json.dict "$work" "tests/unit/corpus/$name" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz_$name failed (reproducer in the log above; full log: $log)"
        return 1
    fi
    echo "fuzz_$name: $(grep -E 'DONE' "$log" | tail -n 1)"
}

echo "== fuzzing the parsers (${FUZZ_SECONDS:-10} s each)"
if command -v clang >/dev/null 2>&1; then
    fuzz listing src/listing.c src/names.c
    fuzz api src/api.c
    fuzz config src/config.c src/trust.c
    fuzz http src/http_parse.c
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
