#!/usr/bin/env bash
# Applies .clang-format to every C source and header; --check only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(src/*.c src/*.h include/*.h tests/unit/*.c tests/unit/*.h)
if [ "${1:-}" = "--check" ]; then
    clang-format --dry-run --Werror "${files[@]}"
else
    clang-format -i "${files[@]}"
fi
