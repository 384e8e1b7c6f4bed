#!/usr/bin/env bash
# Opens the demo mount in a real file manager (Debian's pcmanfm) on a virtual
# X display, browses into a sharded batch directory, saves a screenshot and
# reports what that session cost: API calls by action and object-store
# requests and bytes, as the emulator counted them and as umongofs did.
#
#   scripts/screenshot.sh [OUT.png]      default docs/file-manager.png
#
# Environment: BUILDDIR (default build), SETTLE (seconds without a new API
# call or store request before a view counts as settled, default 3).
# Installs xvfb, pcmanfm, x11-apps and imagemagick with apt-get if missing.
# Everything runs on 127.0.0.1 (the X server listens on no TCP port); every
# process started here is stopped by its PID and the mount is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
builddir="${BUILDDIR:-build}"
out="${1:-docs/file-manager.png}"
settle="${SETTLE:-3}"
# The daemon (libcurl) and curl below talk to 127.0.0.1 only: no proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

pkgs=(xvfb pcmanfm x11-apps imagemagick)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "screenshot: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/setup.sh "$builddir" >/dev/null
bin="$repo/$builddir/umongofs"

work=$(mktemp -d "${TMPDIR:-/tmp}/umongofs-shot.XXXXXX")
mnt="$work/mnt"
mkdir -p "$mnt"
emu_pid="" fs_pid="" x_pid="" fm_pid="" fm2_pid=""

stop_pid() {   # stop_pid PID: TERM, then KILL after 5 s, and reap it
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$fm2_pid"
    stop_pid "$fm_pid"
    stop_pid "$x_pid"
    if mountpoint -q "$mnt" 2>/dev/null; then
        fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
    fi
    stop_pid "$fs_pid"
    stop_pid "$emu_pid"
    rm -rf "$work"
}
trap cleanup EXIT

# The emulator with the demo world, as scripts/demo.sh starts it.
/usr/bin/python3 tests/emulator/make_world.py --demo "$work/world" >/dev/null
/usr/bin/python3 tests/emulator/emulator.py --world "$work/world/world.json" --port 0 \
    --port-file "$work/port" --quiet >"$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "screenshot: the emulator did not start:"; cat "$work/emulator.log"; exit 1; }
api="http://127.0.0.1:$(cat "$work/port")"
emu() {   # emu GET stats | emu POST reset
    if [ "$1" = POST ]; then
        curl -sS --fail --noproxy '*' -X POST -H 'Content-Type: application/json' -d '{}' "$api/_emu/$2"
    else
        curl -sS --fail --noproxy '*' "$api/_emu/$2"
    fi
}

umask 077
printf '{"public_key": "demo-public-key", "private_key": "demo-private-key"}\n' >"$work/credentials.json"
umask 022
"$bin" -f -o "api_url=$api/,credentials=$work/credentials.json" "$mnt" 2>"$work/umongofs.log" &
fs_pid=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "screenshot: mount failed:"; cat "$work/umongofs.log"; exit 1; }

# A sharded batch directory: the newest batch of the first SharedCluster
# cluster in the demo world (one file per shard), found from the world file so
# that nothing on the mount is listed before the measured session.
batch=$(/usr/bin/python3 - "$work/world/world.json" <<'PY'
import json, sys
world = json.load(open(sys.argv[1]))
for c in world["clusters"]:
    if c.get("ClusterType") == "SharedCluster":
        names = sorted({b["BackupName"] for b in c.get("backups", []) if b.get("BatchId")})
        if names:
            print("%s/%s/%s" % (c["Region"], c["Name"], names[-1]))
            sys.exit(0)
sys.exit("no sharded batch in the demo world")
PY
)

# The session starts here: zero the emulator's counters (the start-up check's
# GetRegion and ListUMongoDBInstances are not counted) and note the daemon's.
emu POST reset >/dev/null
getfattr --absolute-names -n user.umongofs.stats --only-values "$mnt" >"$work/fs-before.json"

settle() {   # wait until no API call or store request came for $settle seconds (60 s at most)
    local last="" now same=0
    for _ in $(seq 120); do
        now=$(emu GET stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["api_total"], s["store"]["requests"])')
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
        [ $((same * 5)) -ge $((settle * 10)) ] && return 0
        sleep 0.5
    done
    echo "screenshot: still busy after 60 s ($last); going on" >&2
}

# A virtual display, on the first free number from :99, no TCP listener.
disp=""
for n in $(seq 99 199); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
    x_pid=$!
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; kill -0 "$x_pid" 2>/dev/null || break; sleep 0.1; done
    if [ -e "/tmp/.X11-unix/X$n" ] && kill -0 "$x_pid" 2>/dev/null; then disp=":$n"; break; fi
    stop_pid "$x_pid"; x_pid=""
done
[ -n "$disp" ] || { echo "screenshot: no free X display"; cat "$work/xvfb.log"; exit 1; }

# pcmanfm as a new user: its own HOME and XDG directories, a window the size
# of the screen, the detailed list view (names, sizes, dates); thumbnails and
# everything else as Debian ships them.
home="$work/home"
mkdir -p "$home/.config/pcmanfm/default" "$home/.cache" "$home/.local/share" "$work/run"
chmod 700 "$work/run"
cat >"$home/.config/pcmanfm/default/pcmanfm.conf" <<'CONF'
[ui]
win_width=1280
win_height=800
view_mode=list
CONF
fm_env=(env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_CACHE_HOME="$home/.cache"
        XDG_DATA_HOME="$home/.local/share" XDG_RUNTIME_DIR="$work/run" DISPLAY="$disp"
        NO_AT_BRIDGE=1)

"${fm_env[@]}" pcmanfm "$mnt" >"$work/pcmanfm.log" 2>&1 &
fm_pid=$!
sleep 1
settle
kill -0 "$fm_pid" 2>/dev/null || { echo "screenshot: pcmanfm exited:"; cat "$work/pcmanfm.log"; exit 1; }
emu GET stats >"$work/emu-root.json"

# Browse into the batch: a second pcmanfm hands the folder to the running one.
"${fm_env[@]}" pcmanfm "$mnt/$batch" >>"$work/pcmanfm.log" 2>&1 &
fm2_pid=$!
for _ in $(seq 50); do kill -0 "$fm2_pid" 2>/dev/null || break; sleep 0.1; done
sleep 1
settle

mkdir -p "$(dirname "$out")"
xwd -root -silent -display "$disp" >"$work/screen.xwd"
convert "xwd:$work/screen.xwd" "png:$out"
file "$out" | grep -q "PNG image data" || { echo "screenshot: $out is not a PNG"; exit 1; }

emu GET stats >"$work/emu-stats.json"
getfattr --absolute-names -n user.umongofs.stats --only-values "$mnt" >"$work/fs-after.json"
thumbs=$(find "$home" -path '*thumbnails*' -type f | wc -l)

/usr/bin/python3 - "$work" "$batch" "$out" "$thumbs" <<'PY'
import json, os, sys
work, batch, out, thumbs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
load = lambda name: json.load(open(os.path.join(work, name)))
emu, root = load("emu-stats.json"), load("emu-root.json")
a, b = load("fs-before.json"), load("fs-after.json")
nonzero = lambda d: ", ".join("%s %d" % kv for kv in sorted(d.items()) if kv[1]) or "none"
minus = lambda x, y: {k: v - y.get(k, 0) for k, v in x.items()}

print("pcmanfm session: the mount root, then %s; screenshot %s" % (batch, out))
print("emulator: %d API calls (%s); object store: %d requests, %d bytes" % (
      emu["api_total"], nonzero(emu["api"]), emu["store"]["requests"], emu["store"]["bytes"]))
print("  root shown:   %d API calls (%s), %d store requests, %d bytes" % (
      root["api_total"], nonzero(root["api"]), root["store"]["requests"], root["store"]["bytes"]))
print("  batch shown:  %d API calls (%s), %d store requests, %d bytes" % (
      emu["api_total"] - root["api_total"], nonzero(minus(emu["api"], root["api"])),
      emu["store"]["requests"] - root["store"]["requests"],
      emu["store"]["bytes"] - root["store"]["bytes"]))
d = lambda k: b[k] - a[k]
print("umongofs counters (session only): api_calls %d (%s); range_requests %d, "
      "bytes_from_store %d, bytes_served %d, cache_hits %d, url_renewals %d; errors returned: %s" % (
      b["api_calls"]["total"] - a["api_calls"]["total"],
      nonzero(minus(b["api_calls"]["by_action"], a["api_calls"]["by_action"])),
      d("range_requests"), d("bytes_from_store"), d("bytes_served"), d("cache_hits"),
      d("url_renewals"), nonzero(minus(b["errors"], a["errors"]))))
print("thumbnails written by pcmanfm: %d" % thumbs)
PY
