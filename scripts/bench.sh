#!/usr/bin/env bash
# The read-path benchmark (README, "Performance"): builds umongofs,
# installs the tools only the benchmark uses, then runs scripts/bench.py,
# which prints a markdown table and writes OUT/results.md, OUT/results.json
# and OUT/chart.png (OUT defaults to bench-results/). 127.0.0.1 only.
#
#   scripts/bench.sh [--quick] [--size 1G] [--runs 3] [--out DIR] [--keep]
#   BUILDDIR=build-bench scripts/bench.sh --quick      (default BUILDDIR: build)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir="${BUILDDIR:-build}"
scripts/setup.sh "$builddir" >/dev/null

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
updated=""
apt_install() {  # apt_install PKG...: install what is missing; false if apt fails
    local missing=()
    for p in "$@"; do installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bench: installing ${missing[*]}" >&2
    if [ -z "$updated" ]; then $sudo apt-get update -qq; updated=1; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Needed: fio (random reads), gnuplot (the chart), gio (the type sniff), curl.
apt_install fio gnuplot-nox libglib2.0-bin curl
# The peers, each optional: bench.py notes a missing one in its row. nginx
# must not start its default site (port 80, all addresses) when installed:
# policy-rc.d tells invoke-rc.d and deb-systemd-invoke not to start services.
policy=/usr/sbin/policy-rc.d
own_policy=""
if ! installed nginx && ! installed nginx-light && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    own_policy=1
fi
for p in rclone httpdirfs nginx; do
    if [ "$p" = nginx ] && installed nginx-light; then continue; fi
    apt_install "$p" || echo "bench: $p is unavailable; its row will say so" >&2
done
[ -z "$own_policy" ] || $sudo rm -f "$policy"

exec /usr/bin/python3 scripts/bench.py --bin "$builddir/umongofs" "$@"
