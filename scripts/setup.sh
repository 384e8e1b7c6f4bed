#!/usr/bin/env bash
# Installs what umongofs needs from Debian and builds it. Idempotent: every
# other script calls it first, and a second run installs nothing.
#
#   scripts/setup.sh [BUILDDIR] [extra meson setup args...]
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential meson ninja-build pkg-config
      libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libcjson-dev libcmocka-dev
      python3 python3-pytest curl rsync attr ca-certificates clang libclang-rt-14-dev
      scdoc systemd dpkg-dev debhelper fakeroot lintian libglib2.0-bin file)
# scdoc builds the man page (a hard build dependency: -Dman=disabled to go
# without); systemd gives systemd.pc (where units go) and systemd-analyze;
# dpkg-dev, debhelper, fakeroot and lintian build and check the .deb
# (scripts/package.sh); gio (libglib2.0-bin) and file sniff types as file
# managers do, in the tests of what a sniff costs.

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

builddir="${1:-build}"
shift || true
if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$@"
fi
meson compile -C "$builddir"
