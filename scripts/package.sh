#!/usr/bin/env bash
# Builds the Debian package of umongofs with Debian's own tooling and lints it.
#
#   scripts/package.sh [OUTDIR]       (default: build-deb/)
#
# The build runs `dpkg-buildpackage -us -uc -b` (debhelper, meson buildsystem,
# debian/) in a temporary copy of the tree, so the checkout gets no build
# files; OUTDIR receives umongofs_VERSION_ARCH.deb and its .buildinfo and
# .changes. Then lintian checks the result and its output is printed. The exit
# status is non-zero when the build fails or lintian reports an error or a
# warning (--fail-on error,warning).
#
# lintian 2.116 (Debian 12) reports nothing for this package, not even with
# --pedantic. Only --display-experimental adds one tag, left on purpose:
#   X: systemd-service-file-missing-hardening-features [umongofs@.service]
#      ProtectSystem=, PrivateTmp= and the like give the service a mount
#      namespace of its own, where its FUSE mount would be invisible to
#      everyone else; a filesystem daemon must mount in the host's namespace.
# The LICENSE that meson installs next to the README is dropped from the
# package (debian/rules): Debian wants the license in debian/copyright, and
# lintian notes the extra file otherwise (I: extra-license-file).
# The template unit is installed but never enabled or started by the package
# (dh_installsystemd leaves templates alone): an admin enables an instance.
#
# DEB_BUILD_OPTIONS is passed through (e.g. DEB_BUILD_OPTIONS=nocheck skips
# the unit tests that dh_auto_test runs). Needs: dpkg-dev, debhelper, fakeroot,
# lintian and the build dependencies in debian/control (scripts/setup.sh
# installs them all).
set -euo pipefail
cd "$(dirname "$0")/.."
outdir="${1:-build-deb}"
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null 2>&1 || { echo "package: $tool is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
meson_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
if [ "$version" != "$meson_version" ]; then
    echo "package: debian/changelog says $version but meson.build says $meson_version;" \
         "add a changelog entry (dch -v $meson_version)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/umongofs-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/umongofs-$version"
mkdir -p "$src"

# The files a commit would hold: tracked and new ones, minus what .gitignore
# excludes (build directories). Without git: everything but build*/.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude='./build*' --exclude='./.git' -cf - . | tar -xf - -C "$src"
fi

echo "package: building umongofs $version in $src"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -jauto >"$work/build.log" 2>&1); then
    tail -n 60 "$work/build.log" >&2
    echo "package: dpkg-buildpackage failed (full log above, last 60 lines)" >&2
    exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="umongofs_${version}_${arch}.deb"
for f in "$deb" "umongofs_${version}_${arch}.buildinfo" "umongofs_${version}_${arch}.changes"; do
    cp "$work/$f" "$outdir/"
done
echo "package: built $outdir/$deb in $(($(date +%s) - start)) s"

echo "package: lintian $deb"
# --fail-on error,warning: an unexplained warning fails the script. Overrides
# live in debian/umongofs.lintian-overrides (installed into the package).
status=0
lintian --info --display-info --fail-on error,warning "$work/umongofs_${version}_${arch}.changes" ||
    status=$?
if [ "$status" -eq 0 ]; then
    echo "package: lintian: no errors, no warnings"
else
    echo "package: lintian reported errors or warnings (exit $status)" >&2
fi
exit "$status"
