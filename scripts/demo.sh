#!/usr/bin/env bash
# The first command in the README: builds umongofs, starts the provider
# emulator with sample backups on 127.0.0.1, mounts them and shows the tree.
#
#   scripts/demo.sh          show everything, then unmount and stop
#   scripts/demo.sh --keep   leave the mount up to explore; prints how to stop
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

scripts/setup.sh build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/umongofs-demo.XXXXXX")
mnt="$work/mnt"
mkdir -p "$mnt"
emu_pid=""
fs_pid=""

cleanup() {
    if mountpoint -q "$mnt" 2>/dev/null; then
        fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
    fi
    [ -n "$fs_pid" ] && kill "$fs_pid" 2>/dev/null || true
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null || true
    rm -rf "$work"
}
if [ "$keep" -eq 0 ]; then
    trap cleanup EXIT
else
    trap 'echo "demo failed; cleaning up"; cleanup' ERR
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

/usr/bin/python3 tests/emulator/make_world.py --demo "$work/world" >/dev/null
/usr/bin/python3 tests/emulator/emulator.py --world "$work/world/world.json" --port 0 \
    --port-file "$work/port" --quiet >"$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "demo: the emulator did not start:"; cat "$work/emulator.log"; exit 1; }
api="http://127.0.0.1:$(cat "$work/port")/"

# Keys in a private file, as a user would keep them (never on the command line).
umask 077
printf '{"public_key": "demo-public-key", "private_key": "demo-private-key"}\n' >"$work/credentials.json"
umask 022

echo "umongofs demo: emulated provider at $api (127.0.0.1 only), sample backups in $work/world"
step "umongofs -o api_url=$api,credentials=$work/credentials.json $mnt"
"$repo/build/umongofs" -f -o "api_url=$api,credentials=$work/credentials.json" "$mnt" \
    2>"$work/umongofs.log" &
fs_pid=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "demo: mount failed:"; cat "$work/umongofs.log"; exit 1; }

step "find $mnt   (region / cluster / backup, with sizes)"
(cd "$mnt" && find . -mindepth 1 | sort | while IFS= read -r p; do
    if [ -d "$p" ]; then printf '%-78s %s\n' "${p#./}/" ""; else
        printf '%-78s %10s\n' "${p#./}" "$(stat -c %s "$p")"; fi
done)

zero="$mnt/cn-bj2/inventory/inventory-size-zero.tar.gz"
step "wc -c $zero; stat -c %s $zero   (the listing said 0; the object store is the truth)"
wc -c <"$zero"
stat -c %s "$zero"

backup="$mnt/cn-bj2/orders-prod/orders-prod-auto-2026-11-27.tar.gz"
step "getfattr -d $backup"
getfattr -d "$backup" 2>/dev/null | sed 1d

cluster="$mnt/cn-bj2/orders-prod"
step "getfattr -d $cluster   (the cluster: address without credentials, restore window)"
getfattr -d "$cluster" 2>/dev/null | sed 1d

refused="$mnt/cn-bj2/inventory/inventory-snapshot-2026-11-28"
step "cp $refused $work/   (a snapshot backup: listed, but the provider will not hand it out)"
cp "$refused" "$work/" || echo "(cp exited $?; umongofs logged why:)"
grep -F "will not hand out" "$work/umongofs.log" | sed 's/^/    /' || true
step "ls $mnt/cn-sh2/   (a region without clusters: the provider's answer has no DataSet)"
ls -la "$mnt/cn-sh2/"

step "tar tzf $backup | head -5"
tar tzf "$backup" | head -5

step "cp $backup $work/ && sha256sum"
cp "$backup" "$work/"
sha256sum "$work/$(basename "$backup")"

if [ "$keep" -eq 1 ]; then
    cat <<MSG

The mount stays up at $mnt (umongofs pid $fs_pid, emulator pid $emu_pid).
Explore it, then stop everything with:
    fusermount3 -u $mnt; kill $emu_pid; rm -rf $work
MSG
    trap - ERR
    disown -a
    exit 0
fi

step "fusermount3 -u $mnt"
fusermount3 -u "$mnt"
wait "$fs_pid" && echo "umongofs exited 0"
fs_pid=""
