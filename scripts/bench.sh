#!/usr/bin/env bash
# The read-path benchmark (see README, "Performance"): builds, then measures
# umongofs against curl on the same emulator and object, 127.0.0.1 only.
#   scripts/bench.sh [--size 1G] [--runs 3] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >/dev/null
exec /usr/bin/python3 scripts/bench.py "$@"
