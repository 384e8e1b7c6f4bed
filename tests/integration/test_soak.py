"""Soak: 16 readers and a listing loop under random store and API faults
(issue 6, "Tests that cannot fail": a bounded soak in the suite).

For SOAK_SECONDS (default 40; scripts/soak.sh runs it for longer), 16
threads read random ranges of random files, each one checked byte for byte
against the object files, while another walks and stats the whole tree, and
a third injects a random fault every FAULT_EVERY seconds: dropped and
stalled transfers, 503s from the store, rate limits and 502s from the API,
with download URLs that expire every few seconds. Errors are allowed only
as EIO (never ENOENT, never wrong bytes); no operation may take longer than
HANG_BOUND; the daemon's peak RSS stays below RSS_BOUND_MIB; after the
faults stop every file reads back exactly, and the daemon unmounts with exit
status 0. The figures are printed (pytest -s shows them).
"""

import errno
import os
import random
import threading
import time

from mount import sanitizer_build

MiB = 1 << 20

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "40"))
SEED = int(os.environ.get("SOAK_SEED", "0")) or int(time.time())
READERS = 16
FAULT_EVERY = 1.0
# Longest one operation may take. A failing read gives up after about
# timeout x (retries + 1) plus backoff (3 x 4 + 2 s here); twice that, and
# then some, for a slow shared machine.
HANG_BOUND = 60
# Peak RSS: cache_size=32M of blocks, 16 readers' buffers, the libraries
# and up to FS_WORKERS threads' stacks and buffers (fs.h), with room to
# spare; ASan's shadow memory and 256 MiB quarantine come on top in the
# sanitized build.
RSS_BOUND_MIB = 1536 if sanitizer_build() else 256

SIZES = [1000, 70000, MiB - 1, MiB + 1, 2 * MiB + 333, 3 * MiB, 5 * MiB + 4321, 7 * MiB + 5,
         4 * MiB, 1, 6 * MiB + 99, 8 * MiB]


def _obj(cid, i, size, seed):
    return {"BackupId": "bk-%s-%d" % (cid, i), "BackupName": "obj-%d.bin" % i,
            "ClusterId": cid, "Zone": "cn-bj2-02", "State": "Success", "BackupSize": "auto",
            "BackupType": "manual", "StartTime": 1795000000 + i, "EndTime": 1795000100 + i,
            "content": {"random": size, "seed": seed}}


def _world():
    def cluster(cid, name, region, zone, sizes, seed0):
        return {"Region": region, "Zone": zone, "ClusterId": cid, "Name": name,
                "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet", "State": "Running",
                "CreateTime": 1795000000,
                "backups": [dict(_obj(cid, i, s, seed0 + i), Zone=zone)
                            for i, s in enumerate(sizes)]}
    return {"clusters": [
        cluster("udb-soak01", "soak", "cn-bj2", "cn-bj2-02", SIZES[:8], 100),
        cluster("udb-soak02", "soak-b", "hk", "hk-01", SIZES[8:], 200),
    ]}


def _random_fault(rng):
    kind = rng.choice(["store_drop", "store_status", "store_stall", "rate_limit_first",
                       "api_http_status", "store_outage", "none"])
    if kind == "store_outage":  # long enough that some reads run out of retries: EIO
        return {"store_status": {"status": 503, "count": rng.randint(30, 80)}}
    if kind == "store_drop":
        return {"store_drop": {"after_bytes": rng.randrange(0, 600000),
                               "count": rng.randint(1, 8), "rst": rng.random() < 0.3}}
    if kind == "store_status":
        return {"store_status": {"status": 503, "count": rng.randint(1, 8)}}
    if kind == "store_stall":
        return {"store_stall": {"after_bytes": rng.randrange(0, 300000),
                                "count": rng.randint(1, 4), "seconds": rng.uniform(0.5, 4)}}
    if kind == "rate_limit_first":
        return {"rate_limit_first": rng.randint(1, 6)}
    if kind == "api_http_status":
        return {"api_http_status": {"status": 502, "count": rng.randint(1, 6)}}
    return {}


def _vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class _Soak:
    def __init__(self, m, files, rng):
        self.m = m
        self.files = files  # [(path, bytes)]
        self.seed_rng = rng
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.inflight = {}  # thread name -> (start, what)
        self.problems = []
        self.n = {"reads": 0, "read_bytes": 0, "read_eio": 0, "short": 0, "opens": 0,
                  "open_eio": 0,
                  "walks": 0, "stats": 0, "list_eio": 0, "faults": 0}

    def count(self, key, k=1):
        with self.lock:
            self.n[key] += k

    def problem(self, text):
        with self.lock:
            self.problems.append(text)
        self.stop.set()

    def timed(self, what, fn, *args):
        name = threading.current_thread().name
        with self.lock:
            self.inflight[name] = (time.monotonic(), what)
        try:
            return fn(*args)
        finally:
            with self.lock:
                self.inflight.pop(name, None)

    def reader(self, k):
        rng = random.Random(self.seed_rng.random() + k)
        while not self.stop.is_set():
            path, data = rng.choice(self.files)
            try:
                fd = self.timed("open " + path, os.open, path, os.O_RDONLY)
            except OSError as e:
                if e.errno != errno.EIO:
                    return self.problem("open %s: %s" % (path, errno.errorcode.get(e.errno)))
                self.count("open_eio")
                continue
            self.count("opens")
            try:
                # Mostly past the kernel's page cache, so the reads reach the
                # daemon and the store (and the faults).
                if rng.random() < 0.8:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                if rng.random() < 0.5:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
                for _ in range(rng.randint(1, 6)):
                    if self.stop.is_set():
                        break
                    off = rng.randrange(0, len(data) + 2)
                    n = rng.choice([1, 4096, 65536, 128 * 1024, MiB, 3 * MiB])
                    if not self.read_range(fd, path, data, off, n):
                        return
            finally:
                self.timed("close " + path, os.close, fd)

    def read_range(self, fd, path, data, off, n):
        """Reads n bytes at off as a careful program would: a short read (the
        kernel returns what it has before an error) is followed by another
        at the next offset. Every byte returned must be right, and only the
        end of the file may end the range early. False on a problem."""
        want = data[off:off + n]
        pos, got = off, 0
        while got < len(want):
            try:
                chunk = self.timed("pread %s @%d+%d" % (path, pos, n - got), os.pread, fd,
                                   n - got, pos)
            except OSError as e:
                if e.errno != errno.EIO:
                    self.problem("pread %s @%d: %s" % (path, pos, errno.errorcode.get(e.errno)))
                    return False
                self.count("read_eio")
                return True
            if not chunk:
                self.problem("WRONG BYTES: pread %s @%d: end of file after %d of %d bytes "
                             "(the file has %d)" % (path, pos, got, len(want), len(data)))
                return False
            if chunk != data[pos:pos + len(chunk)]:
                self.problem("WRONG BYTES: pread %s @%d+%d: %d bytes returned, not the file's"
                             % (path, pos, n - got, len(chunk)))
                return False
            if got == 0 and len(chunk) < len(want):
                self.count("short")
            got += len(chunk)
            pos += len(chunk)
        self.count("reads")
        self.count("read_bytes", got)
        return True

    def lister(self):
        def onerror(e):
            if e.errno != errno.EIO:
                self.problem("walk %s: %s" % (e.filename, errno.errorcode.get(e.errno)))
            else:
                self.count("list_eio")

        while not self.stop.is_set():
            for top, dirs, names in self.timed("walk", lambda: list(os.walk(self.m.path,
                                                                           onerror=onerror))):
                for n in dirs + names:
                    p = os.path.join(top, n)
                    try:
                        self.timed("stat " + p, os.stat, p)
                        self.count("stats")
                    except OSError as e:
                        if e.errno != errno.EIO:
                            return self.problem("stat %s: %s" % (p, errno.errorcode.get(e.errno)))
                        self.count("list_eio")
            self.count("walks")

    def injector(self, emu, rng):
        while not self.stop.wait(FAULT_EVERY):
            fault = _random_fault(rng)
            if fault:
                emu.config(**fault)
                self.count("faults")

    def watchdog_check(self):
        now = time.monotonic()
        with self.lock:
            late = [(now - t0, what) for t0, what in self.inflight.values()
                    if now - t0 > HANG_BOUND]
        if late:
            self.problem("HANG: %s still running after %.0f s" % (late[0][1], late[0][0]))


def test_soak_readers_and_listings_under_random_faults(emulator_factory, mount_factory):
    rng = random.Random(SEED)
    emu = emulator_factory(_world())
    m = mount_factory(emu, "timeout=3", "retries=3", "dir_ttl=2", "block_size=1M",
                      "readahead=4M", "cache_size=32M",
                      # A read or call that runs out of retries says so: that
                      # is the EIO the faults are allowed to cause.
                      expect_errors=[r"giving up", r"HTTP 5\d\d", r"no JSON answer",
                                     r"refuses fresh download URLs", r": read at \d+: ",
                                     r": block at \d+: "])
    files = []
    for region, cname, cid, sizes in (("cn-bj2", "soak", "udb-soak01", SIZES[:8]),
                                      ("hk", "soak-b", "udb-soak02", SIZES[8:])):
        for i in range(len(sizes)):
            with open(emu.object_path(cid, "bk-%s-%d" % (cid, i)), "rb") as f:
                files.append((m.p(region, cname, "obj-%d.bin" % i), f.read()))
    # Download URLs expire every few seconds: renewals happen under the faults.
    emu.config(url_ttl_override=4)

    s = _Soak(m, files, rng)
    threads = [threading.Thread(target=s.reader, args=(k,), name="reader-%d" % k, daemon=True)
               for k in range(READERS)]
    threads.append(threading.Thread(target=s.lister, name="lister", daemon=True))
    injector = threading.Thread(target=s.injector, args=(emu, random.Random(SEED + 1)),
                                name="injector", daemon=True)
    t0 = time.monotonic()
    for t in threads + [injector]:
        t.start()
    while not s.stop.wait(0.5):
        s.watchdog_check()
        if time.monotonic() - t0 >= SOAK_SECONDS:
            s.stop.set()
    injector.join(10)
    end = time.monotonic() + HANG_BOUND  # one bound for all, not one each
    for t in threads:
        t.join(max(0.1, end - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    if hung:
        # The fixture's unmount ends the daemon, which frees these threads.
        s.problem("HANG: %s did not finish within %d s of the end" % (hung, HANG_BOUND))
    emu.config(store_drop=None, store_status=None, store_stall=None, rate_limit_first=0,
               api_http_status=None, url_ttl_override=None)
    elapsed = time.monotonic() - t0
    st = emu.stats()

    summary = ("soak seed=%d %.0fs: %d reads (%.1f MiB) byte-exact, %d read EIO, %d short "
               "reads (resumed), %d opens, "
               "%d open EIO, %d walks, %d stats, %d listing EIO, %d faults injected; "
               "store: %d requests %r, API: %d calls"
               % (SEED, elapsed, s.n["reads"], s.n["read_bytes"] / MiB, s.n["read_eio"],
                  s.n["short"], s.n["opens"], s.n["open_eio"], s.n["walks"], s.n["stats"], s.n["list_eio"],
                  s.n["faults"], st["store"]["requests"], st["store"].get("status"),
                  st["api_total"]))
    assert not s.problems, "%s\n%s\n--- daemon stderr (tail) ---\n%s" % (
        "\n".join(s.problems[:10]), summary, m.stderr()[-4000:])

    # The storm is over: everything reads back exactly.
    for path, data in files:
        with open(path, "rb") as f:
            assert f.read() == data, "%s differs after the faults stopped" % path
    hwm = _vm_kib(m.pid, "VmHWM") // 1024
    threads_now = _vm_kib(m.pid, "Threads")
    print("\n%s; daemon peak RSS %d MiB (bound %d), %d threads" % (summary, hwm, RSS_BOUND_MIB,
                                                                    threads_now))
    assert s.n["reads"] > 0 and s.n["walks"] > 0, summary
    assert hwm < RSS_BOUND_MIB, "daemon peak RSS %d MiB >= %d MiB\n%s" % (hwm, RSS_BOUND_MIB,
                                                                          summary)
    assert m.stop() == 0
