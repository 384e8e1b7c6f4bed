"""Faults: rate limits, flaky and dead object stores, hostile listings, objects
changing under a reader, signals (README.md, "Names, attributes, errors")."""

import errno
import os
import signal
import threading
import time

import pytest

from mount import check_log, errno_of, is_mounted, sanitizer_build, strip_libfuse_leaks
from treewalk import sha256_file, walk
from worldspec import spec_cluster as _cluster, spec_object as _obj

MiB = 1 << 20
FAST = ("timeout=2", "retries=2")  # tight, so failures are quick
# Longest a failing read may take: timeout x (retries+1), plus the backoff
# (200 ms doubling: < 1 s for 2 retries), plus slack for a slow (ASan) build.
EIO_BOUND = 2 * 3 + 1 + 3


def _world(size=5 * MiB + 4321, n=2):
    return {"clusters": [_cluster("udb-f01", "f", [_obj("udb-f01", i, size, 500 + i)
                                                   for i in range(n)])]}


def _src(emu, i=0, cid="udb-f01"):
    with open(emu.object_path(cid, "bk-%s-%d" % (cid, i)), "rb") as f:
        return f.read()


def _open_probed(path):
    """Open (the daemon learns the true size there) and turn off kernel readahead."""
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    return fd


# -- API rate limiting -------------------------------------------------------------------

def test_rate_limited_at_mount_time_still_mounts(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=1000, n=1), "--rate-limit-first", "3")
    m = mount_factory(emu)
    assert os.listdir(m.p("cn-bj2", "f")) == ["obj-0.bin"]


def test_rate_limited_once_at_mount_time(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=1000, n=1), "--rate-limit-first", "1")
    m = mount_factory(emu)
    assert os.listdir(m.p("cn-bj2", "f")) == ["obj-0.bin"]


def test_rate_limited_listing_and_urls_still_work(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=300000, n=2))
    m = mount_factory(emu)
    emu.config(rate_limit_first=4)
    t0 = time.monotonic()
    names = sorted(os.listdir(m.p("cn-bj2", "f")))
    assert names == ["obj-0.bin", "obj-1.bin"]
    emu.config(rate_limit_first=3)
    with open(m.p("cn-bj2", "f", "obj-1.bin"), "rb") as f:
        assert f.read() == _src(emu, 1)
    assert time.monotonic() - t0 < 20
    st = emu.stats()["api"]
    assert sum(st.values()) >= 7 + 2


# -- a flaky object store ------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    {"store_status": {"status": 503, "count": 3}},
    {"store_status": {"status": 500, "count": 2}},
    {"store_drop": {"after_bytes": 300000, "count": 3}},
    {"store_drop": {"after_bytes": 1000, "count": 2, "rst": True}},
], ids=["503x3", "500x2", "drop-fin", "drop-rst"])
def test_transient_store_faults_reads_still_correct(emulator_factory, mount_factory, fault):
    emu = emulator_factory(_world())
    m = mount_factory(emu, "timeout=2", "retries=3")
    data = _src(emu)
    path = m.p("cn-bj2", "f", "obj-0.bin")
    fd = os.open(path, os.O_RDONLY)
    try:
        emu.reset()
        emu.config(**fault)
        # Sequential read of the whole file (prefetch, several blocks in flight).
        got = bytearray()
        while True:
            b = os.read(fd, 128 * 1024)
            if not b:
                break
            got += b
        assert bytes(got) == data
    finally:
        os.close(fd)
    st = emu.stats()["store"]
    assert st["requests"] >= 2, st
    assert sha256_file(m.p("cn-bj2", "f", "obj-1.bin")) == sha256_file(
        emu.object_path("udb-f01", "bk-udb-f01-1"))


# -- a dead object store ---------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    {"store_status": {"status": 503, "count": 10000}},
    {"store_status": {"status": 404, "count": 10000}},
    {"store_drop": {"after_bytes": 0, "count": 10000}},
], ids=["503", "404", "drop"])
def test_permanent_store_failure_is_eio_in_bounded_time(emulator_factory, mount_factory, fault):
    emu = emulator_factory(_world())
    m = mount_factory(emu, *FAST, expect_errors=[r"giving up|no longer has the object"])
    data = _src(emu)
    fd = _open_probed(m.p("cn-bj2", "f", "obj-0.bin"))
    try:
        emu.config(**fault)
        t0 = time.monotonic()
        e = errno_of(os.pread, fd, 4096, 4 * MiB + 10)
        took = time.monotonic() - t0
        assert e == errno.EIO, "pread: %s, want EIO" % (errno.errorcode.get(e, e) if e else "ok")
        assert took < EIO_BOUND, "EIO after %.1fs (bound %ss)" % (took, EIO_BOUND)
        # The store comes back: the same fd reads again (a failure is not cached forever).
        emu.config(store_status=None, store_drop=None, store_stall=None)
        assert os.pread(fd, 4096, 4 * MiB + 10) == data[4 * MiB + 10:4 * MiB + 10 + 4096]
    finally:
        os.close(fd)


def _timed_pread(fd, n, off):
    t0 = time.monotonic()
    try:
        os.pread(fd, n, off)
        e = None
    except OSError as ex:
        e = ex.errno
    return e, time.monotonic() - t0


def test_permanent_store_stall_is_eio_in_bounded_time(emulator_factory, mount_factory):
    emu = emulator_factory(_world())
    m = mount_factory(emu, "timeout=2", "retries=1", expect_errors=[r"giving up"])
    fd = _open_probed(m.p("cn-bj2", "f", "obj-0.bin"))
    try:
        emu.reset()
        emu.config(store_stall={"after_bytes": 0, "count": 10000, "seconds": 5})
        e, took = _timed_pread(fd, 4096, 4 * MiB + 10)
        assert e == errno.EIO, errno.errorcode.get(e, e)
        # 2 attempts x 2 s + backoff (<= 0.2 s), + 1.5 s for curl's 1 s timer granularity
        assert took < 5.7, "EIO after %.1fs, %d store requests for one pread" % (
            took, emu.stats()["store"]["requests"])
    finally:
        emu.config(store_stall=None)
        os.close(fd)


def test_stalled_transfer_is_retried_after_timeout(emulator_factory, mount_factory):
    emu = emulator_factory(_world())
    m = mount_factory(emu, "timeout=2", "retries=2")
    data = _src(emu)
    fd = _open_probed(m.p("cn-bj2", "f", "obj-0.bin"))
    try:
        emu.config(store_stall={"after_bytes": 256 * 1024, "count": 1, "seconds": 7})
        t0 = time.monotonic()
        got = os.pread(fd, 4096, 4 * MiB + 10)
        took = time.monotonic() - t0
        assert got == data[4 * MiB + 10:4 * MiB + 10 + 4096]
        # timeout 2 s (+1 s timer granularity) + backoff + the retried request + slack
        assert took < 5.0, "a stalled transfer held the read for %.1fs (timeout=2)" % took
    finally:
        os.close(fd)


def test_dead_api_open_of_unlisted_object_is_eio_not_enoent(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=1000))
    m = mount_factory(emu, *FAST, expect_errors=[r"giving up"])
    walk(m.path)
    emu.config(api_http_status={"status": 503, "count": 10000})
    t0 = time.monotonic()
    # The URL cannot be had: open (or the first read) fails with EIO, never ENOENT.
    e = errno_of(lambda: open(m.p("cn-bj2", "f", "obj-0.bin"), "rb").read())
    assert e == errno.EIO, errno.errorcode.get(e, e)
    assert time.monotonic() - t0 < EIO_BOUND


def test_dead_api_listing_is_eio_not_enoent(emulator_factory, mount_factory):
    emu = emulator_factory({"clusters": [_cluster("udb-f01", "f", [_obj("udb-f01", 0, 100, 1)]),
                                         _cluster("udb-g01", "g", [_obj("udb-g01", 0, 100, 2)])]})
    m = mount_factory(emu, *FAST, expect_errors=[r"giving up"])
    os.listdir(m.p("cn-bj2", "f"))
    emu.config(api_retcode={"code": 150, "count": 10000, "action": "ListUMongoDBBackup"})
    t0 = time.monotonic()
    e = errno_of(os.listdir, m.p("cn-bj2", "g"))
    assert e == errno.EIO, errno.errorcode.get(e, e)
    assert time.monotonic() - t0 < EIO_BOUND
    e = errno_of(os.stat, m.p("cn-bj2", "g", "obj-0.bin"))
    assert e == errno.EIO, errno.errorcode.get(e, e)
    # What was listed before is still served.
    assert os.listdir(m.p("cn-bj2", "f")) == ["obj-0.bin"]


def test_permission_denied_listing_is_eacces_with_one_log_line(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=100, n=1))
    m = mount_factory(emu, *FAST, expect_errors=[r"RetCode 293"])
    emu.config(api_retcode={"code": 293, "count": 1, "action": "ListUMongoDBBackup",
                            "message": "no permission for this zone"})
    assert errno_of(os.listdir, m.p("cn-bj2", "f")) == errno.EACCES
    lines = [ln for ln in m.stderr().splitlines() if "293" in ln]
    assert len(lines) == 1 and "no permission for this zone" in lines[0], m.stderr()
    assert os.listdir(m.p("cn-bj2", "f")) == ["obj-0.bin"]  # the next try works


# -- hostile listings ------------------------------------------------------------------------

GOOD = "ListUMongoDBBackupResponse"


def _hostile_world():
    ok = _obj("udb-mixed01", 0, 2000, 7)
    raw_mixed = ('{"Action": "%s", "RetCode": 0, "DataSet": [5, null, "x", '
                 '{"BackupName": "no id", "State": "Success"}, '
                 '{"BackupId": "bk-udb-mixed01-0", "BackupName": "obj-0.bin", '
                 '"ClusterId": "udb-mixed01", "Zone": "cn-bj2-02", "State": "Success", '
                 '"BackupSize": "big", "BackupType": "manual", "StartTime": "soon", '
                 '"EndTime": 1795000100}]}' % GOOD)
    return {"clusters": [
        _cluster("udb-good01", "good", [_obj("udb-good01", 0, 3000, 1)]),
        _cluster("udb-notjson01", "notjson", [_obj("udb-notjson01", 0, 10, 2)],
                 raw_backup_response="<html>this is not JSON {"),
        _cluster("udb-notlist01", "notlist", [_obj("udb-notlist01", 0, 10, 3)],
                 raw_backup_response='{"Action": "%s", "RetCode": 0, "DataSet": {"a": 1}}'
                 % GOOD),
        _cluster("udb-noretcode01", "noretcode", [],
                 raw_backup_response='{"Action": "%s", "DataSet": []}' % GOOD),
        _cluster("udb-truncated01", "truncated", [],
                 raw_backup_response='{"Action": "%s", "RetCode": 0, "DataSet": [{"Back' % GOOD),
        _cluster("udb-deep01", "deep", [], raw_backup_response="[" * 100000 + "]" * 100000),
        _cluster("udb-mixed01", "mixed", [ok], raw_backup_response=raw_mixed),
        _cluster("udb-junk01", "junk", [5, "str", {"no": "id"}, None,
                                        _obj("udb-junk01", 0, 1500, 9)]),
        _cluster("udb-badlogs01", "badlogs", [_obj("udb-badlogs01", 0, 1200, 10)],
                 raw_log_response='{"RetCode": 0, "DataSet": "nope"}'),
    ]}


def test_hostile_listings_eio_or_good_entries_and_daemon_survives(emulator_factory,
                                                                  mount_factory):
    emu = emulator_factory(_hostile_world())
    m = mount_factory(emu, *FAST, expect_errors=[r"ListUMongoDB|malformed|RetCode|answer"])
    good_ids = {"udb-mixed01": {"bk-udb-mixed01-0"}, "udb-junk01": {"bk-udb-junk01-0"},
                "udb-badlogs01": {"bk-udb-badlogs01-0"}}
    results = {}
    for name in ("notjson", "notlist", "noretcode", "truncated", "deep", "mixed", "junk",
                 "badlogs"):
        d = m.p("cn-bj2", name)
        try:
            kids = os.listdir(d)
        except OSError as e:
            assert e.errno == errno.EIO, "%s: %s, want EIO or the good entries" % (
                name, errno.errorcode.get(e.errno))
            results[name] = "EIO"
            continue
        ids = set()
        for k in kids:
            p = os.path.join(d, k)
            if os.path.isdir(p):
                continue
            bid = os.getxattr(p, "user.umongofs.backup_id").decode()
            ids.add(bid)
            with open(p, "rb") as f:
                assert f.read() == open(emu.object_path(
                    "udb-%s01" % name, bid), "rb").read(), p
        cid = "udb-%s01" % name
        assert ids <= good_ids.get(cid, set()), "%s shows %r" % (name, ids)
        results[name] = sorted(ids)
        assert m.alive(), "daemon died listing %s:\n%s" % (name, m.stderr())
    # Entries that are fine in a junk-laden listing are shown.
    assert results["junk"] == ["bk-udb-junk01-0"], results
    # The daemon is alive and the good cluster still works.
    assert m.alive(), m.stderr()
    with open(m.p("cn-bj2", "good", "obj-0.bin"), "rb") as f:
        assert f.read() == _src(emu, 0, "udb-good01")
    assert len(os.listdir(m.p("cn-bj2"))) == 9


# -- an object changing under a reader -------------------------------------------------------

def _replace(path, data):
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@pytest.mark.parametrize("how", ["longer", "shorter", "same-length"])
def test_object_replaced_while_open_is_eio_never_mixed(emulator_factory, mount_factory, how):
    size = 12 * MiB + 100
    emu = emulator_factory(_world(size=size, n=1))
    m = mount_factory(emu, *FAST, expect_errors=[r"changed|giving up"])
    src = emu.object_path("udb-f01", "bk-udb-f01-0")
    old = _src(emu)
    fd = _open_probed(m.p("cn-bj2", "f", "obj-0.bin"))
    try:
        assert os.pread(fd, 4096, 4 * MiB) == old[4 * MiB:4 * MiB + 4096]
        new = bytes((b ^ 0x5a) for b in old[:MiB]) * 14
        new = {"longer": new[:size + MiB], "shorter": new[:size - 3 * MiB],
               "same-length": new[:size]}[how]
        time.sleep(0.01)  # a different mtime for the ETag
        _replace(src, new)
        # Blocks fetched before the change may still be served (old bytes); anything
        # else must be EIO. Never the new bytes, never a mix.
        for off in (5, 2 * MiB + 5, 4 * MiB + 1000, 10 * MiB + 5, 11 * MiB - 7, 12 * MiB):
            try:
                got = os.pread(fd, 8192, off)
            except OSError as e:
                assert e.errno == errno.EIO, errno.errorcode.get(e.errno)
                continue
            # The kernel may answer the part it has cached (old bytes) and stop
            # there when the rest fails: a short count of old bytes, never new.
            assert got and got == old[off:off + len(got)], \
                "read at %d after the object changed returned neither the old bytes nor EIO" % off
        # Far from anything read before the change: must fail.
        e = errno_of(os.pread, fd, 8192, 10 * MiB + 5)
        assert e == errno.EIO, "pread far from the old blocks: %s" % (
            errno.errorcode.get(e, e) if e else "returned data")
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["longer", "same-length"])
def test_reopen_after_object_changed_never_mixes(emulator_factory, mount_factory, how):
    size = 3 * MiB + 100
    emu = emulator_factory(_world(size=size, n=1))
    m = mount_factory(emu, *FAST, expect_errors=[r"changed|giving up"])
    src = emu.object_path("udb-f01", "bk-udb-f01-0")
    old = _src(emu)
    path = m.p("cn-bj2", "f", "obj-0.bin")
    with open(path, "rb") as f:
        assert f.read(8192) == old[:8192]  # some pages of the old object now cached
    new = bytes((b ^ 0x5a) for b in old)
    new = new + new[:MiB] if how == "longer" else new
    time.sleep(0.01)
    _replace(src, new)
    try:
        with open(path, "rb") as f:
            got = f.read()
    except OSError as e:
        assert e.errno == errno.EIO
        return
    assert got in (old, new), "reopen returned %d bytes: %d from the old object, then new" % (
        len(got), next(i for i in range(len(got)) if got[i] != old[i]))


# -- signals -------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_unmounts(emu, mount_factory, sig):
    m = mount_factory(emu)
    assert os.listdir(m.path)
    m.proc.send_signal(sig)
    m.wait_exit(15)
    assert not is_mounted(m.path), "still mounted after the signal"
    # Leaks at exit have their own test below; any other report fails here.
    assert check_log(m.stderr(), allow_leaks=True) is None, m.stderr()


def test_sigterm_exit_leaks_nothing(emu, mount_factory):
    if not sanitizer_build():
        pytest.skip("needs a sanitizer build (UMONGOFS_BIN=build-asan/umongofs)")
    reports = []
    for i in range(8):
        m = mount_factory(emu)
        assert os.listdir(m.path)
        m.proc.send_signal(signal.SIGTERM)
        m.wait_exit(15)
        if "LeakSanitizer" in strip_libfuse_leaks(m.stderr()):
            reports.append("run %d:\n%s" % (i, m.stderr()))
    assert not reports, reports[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_exit_status_is_0(emu, mount_factory, sig):
    m = mount_factory(emu)
    assert os.listdir(m.path)
    m.proc.send_signal(sig)
    rc = m.wait_exit(15)
    assert rc == 0, "exit status %r after %s" % (rc, signal.Signals(sig).name)


def test_sigterm_while_reading(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=8 * MiB, n=1))
    m = mount_factory(emu)
    emu.config(store_bandwidth=2 * MiB)
    done = []

    def reader():
        try:
            with open(m.p("cn-bj2", "f", "obj-0.bin"), "rb") as f:
                while f.read(MiB):
                    pass
            done.append("ok")
        except OSError as e:
            done.append(e.errno)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.7)
    m.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert not t.is_alive(), "reader hangs after SIGTERM"
    m.wait_exit(20)
    assert not is_mounted(m.path)
    assert check_log(m.stderr()) is None, m.stderr()


# -- findings of the code review ------------------------------------------------------------

def test_failure_in_second_block_is_an_error_not_a_short_read(emulator_factory, mount_factory):
    # One read request crossing a block edge, whose second block fails, must
    # fail whole: a short count is end-of-file to the kernel (it shrinks
    # st_size, and a running cp ends "successfully" with a truncated copy).
    # O_DIRECT makes the kernel pass the 1 MiB read through as one request.
    import mmap
    emu = emulator_factory(_world(size=9 * MiB, n=1))
    m = mount_factory(emu, *FAST, expect_errors=[r"giving up"])
    data = _src(emu)
    path = m.p("cn-bj2", "f", "obj-0.bin")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, MiB)
    try:
        assert os.preadv(fd, [memoryview(buf)[:4096]], 3 * MiB) == 4096  # block 1 cached
        emu.config(store_status={"status": 503, "count": 10000})
        e = errno_of(os.preadv, fd, [buf], 3 * MiB + MiB // 2)  # blocks 1 (cached) and 2
        assert e == errno.EIO, "a failed read returned data: %r" % (e,)
        emu.config(store_status=None)
        # A failed block repeats its error to one request within 2 s (that
        # is meant for the kernel's immediate retry of a failed page read).
        time.sleep(2.1)
        assert os.preadv(fd, [buf], 3 * MiB + MiB // 2) == MiB
        assert bytes(buf) == data[3 * MiB + MiB // 2:4 * MiB + MiB // 2]
        assert os.stat(path).st_size == len(data)
    finally:
        os.close(fd)
        buf.close()


def test_waiters_for_one_failing_url_share_its_error(emulator_factory, mount_factory):
    # Six readers open the same file while DescribeUMongoDBBackupURL keeps
    # failing: they wait for one fetch and all get its error, rather than each
    # running the whole retry schedule in turn.
    emu = emulator_factory(_world(size=1000, n=1))
    m = mount_factory(emu, *FAST, expect_errors=[r"giving up|RetCode 150"])
    walk(m.path)
    emu.reset()
    emu.config(api_retcode={"code": 150, "count": 10000, "action": "DescribeUMongoDBBackupURL"},
               api_latency_ms=300)
    results = []

    def opener():
        t0 = time.monotonic()
        e = errno_of(lambda: open(m.p("cn-bj2", "f", "obj-0.bin"), "rb").read())
        results.append((e, time.monotonic() - t0))

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    emu.config(api_retcode=None, api_latency_ms=0)
    assert [e for e, _ in results] == [errno.EIO] * 6, results
    calls = emu.stats()["api"].get("DescribeUMongoDBBackupURL", 0)
    # One schedule is 3 attempts; the kernel may open twice (a retry), so allow two.
    assert calls <= 6, "%d DescribeUMongoDBBackupURL calls for 6 readers of one file" % calls


def test_open_without_read_fetches_one_block(emulator_factory, mount_factory):
    emu = emulator_factory(_world(size=9 * MiB, n=1))
    m = mount_factory(emu)
    walk(m.path)
    emu.reset()
    fd = os.open(m.p("cn-bj2", "f", "obj-0.bin"), os.O_RDONLY)
    time.sleep(0.5)  # room for any background fetch to show up
    os.close(fd)
    assert emu.stats()["store"]["requests"] == 1, emu.stats()["store"]


def test_stale_listings_are_served_quickly_when_the_api_is_down(emulator_factory, mount_factory):
    # Every directory on the way is stale and the API answers 503: each level
    # tries once and falls back on what it had, instead of a retry schedule per
    # level before the user sees anything.
    emu = emulator_factory(_world(size=1000, n=1))
    m = mount_factory(emu, "dir_ttl=1", "timeout=2", "retries=5",
                      expect_errors=[r"HTTP 503|giving up"])
    walk(m.path)
    time.sleep(1.5)
    emu.reset()
    emu.config(api_http_status={"status": 503, "count": 10000})
    t0 = time.monotonic()
    st = os.stat(m.p("cn-bj2", "f", "obj-0.bin"))
    took = time.monotonic() - t0
    emu.config(api_http_status=None)
    assert st.st_size == 1000
    assert took < 2.0, "stat took %.1fs with stale listings and a dead API" % took
    assert emu.stats()["api_total"] <= 4, emu.stats()["api"]


def test_metadata_answers_while_many_opens_are_stuck(emulator_factory, mount_factory):
    # Opens are not background requests: the kernel does not cap them, and
    # each one waiting on the store (its probe) holds a worker. 150 of them
    # on a store that never sends a byte must still leave workers for
    # metadata.
    emu = emulator_factory(_world(size=MiB, n=2))
    m = mount_factory(emu, "timeout=30", "retries=0",
                      expect_errors=[r"giving up|deadline|cancel"])
    d = m.p("cn-bj2", "f")
    f0, f1 = os.path.join(d, "obj-0.bin"), os.path.join(d, "obj-1.bin")
    assert sorted(os.listdir(d)) == ["obj-0.bin", "obj-1.bin"]
    emu.reset()
    emu.config(store_stall={"after_bytes": 0, "count": 100000, "seconds": 120})
    results = []

    def opener():
        try:
            os.close(os.open(f0, os.O_RDONLY))
            results.append("opened")
        except OSError as e:
            results.append(e.errno)

    threads = [threading.Thread(target=opener) for _ in range(150)]
    try:
        for t in threads:
            t.start()
        def workers():
            with open("/proc/%d/status" % m.pid) as f:
                return int(next(ln for ln in f if ln.startswith("Threads:")).split()[1])

        deadline = time.monotonic() + 20
        while workers() < 150 and time.monotonic() < deadline:
            time.sleep(0.1)
        print("daemon threads: %d, store requests waiting: %d" % (
            workers(), emu.stats()["store"]["requests"]))
        t0 = time.monotonic()
        x = os.getxattr(f1, "user.umongofs.backup_id")
        took = time.monotonic() - t0
        print("getxattr with 150 opens stuck: %.2fs" % took)
        assert x and took < 3, "metadata waited %.1fs behind stuck opens" % took
    finally:
        m.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        m.wait_exit(30)
        emu.config(store_stall=None)
    assert not any(t.is_alive() for t in threads)
