"""Live counters (issue 8, "Live counters"): `getfattr -n user.umongofs.stats
MNT` returns JSON counting what the mount did, checked against a known read
and against the emulator's own count of the requests it answered."""

import errno
import json
import os
import subprocess
import time

import pytest

from mount import errno_of, wait_until
from worldspec import spec_cluster, spec_object

MiB = 1 << 20
SIZE = 6 * MiB + 777
N = 3 * MiB + 5  # bytes read below

COUNTERS = ["uptime_s", "api_calls", "url_renewals", "range_requests", "bytes_from_store",
            "bytes_served", "retries", "cache_hits", "open_files", "block_memory", "disk_cache",
            "errors"]


def _stats(m):
    """As the README shows it: getfattr, the value only."""
    r = subprocess.run(["getfattr", "-n", "user.umongofs.stats", "--only-values", m.path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout.decode())


@pytest.fixture
def world(emulator_factory):
    return emulator_factory({"clusters": [
        spec_cluster("udb-stats01", "stats", [spec_object("udb-stats01", 0, SIZE, 77)])]})


def test_stats_count_a_known_read(world, mount_factory):
    emu = world
    emu.reset()
    m = mount_factory(emu, "block_size=1M", "readahead=2M")
    before = _stats(m)
    assert sorted(before) == sorted(COUNTERS), before
    assert before["bytes_served"] == 0 and before["range_requests"] == 0, before
    # The start-up check's calls count like any other.
    assert before["api_calls"]["by_action"]["GetRegion"] == 1, before

    path = m.p("cn-bj2", "stats", "obj-0.bin")
    src = open(emu.object_path("udb-stats01", "bk-udb-stats01-0"), "rb").read()
    with open(path, "rb", buffering=0) as f:
        got = b""
        while len(got) < N:
            got += f.read(min(128 * 1024, N - len(got)))
        assert got == src[:N]
        during = _stats(m)
        assert during["open_files"] == 1, during
        assert during["block_memory"] >= MiB, during
    assert os.stat(path).st_size == SIZE
    # Once the file is closed (the kernel sends the release asynchronously).
    assert wait_until(lambda: _stats(m)["open_files"] == 0, 5), _stats(m)
    s = _stats(m)

    assert s["bytes_served"] >= N, s
    assert s["bytes_from_store"] >= N, s
    assert s["range_requests"] >= 1, s
    assert s["api_calls"]["by_action"]["DescribeUMongoDBBackupURL"] == 1, s
    assert s["url_renewals"] == 0, s
    # Exactly what the emulator saw: every request it answered, every byte.
    e = emu.stats()
    assert s["range_requests"] == e["store"]["requests"], (s, e)
    assert s["bytes_from_store"] == e["store"]["bytes"], (s, e)
    assert s["api_calls"]["total"] == e["api_total"], (s, e)
    for action, n in e["api"].items():
        assert s["api_calls"]["by_action"][action] == n, (action, s, e)
    assert s["api_calls"]["by_retcode"] == {"0": e["api_total"]}, s
    assert s["retries"] == 0 and s["api_calls"]["no_answer"] == 0, s
    assert s["uptime_s"] >= 0


def test_stats_count_cache_hits_errors_and_renewals(world, mount_factory):
    emu = world
    m = mount_factory(emu, "block_size=1M", "readahead=1M")
    path = m.p("cn-bj2", "stats", "obj-0.bin")
    assert errno_of(os.stat, m.p("cn-bj2", "no-such-cluster")) == errno.ENOENT
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        os.pread(fd, 4096, 0)
        os.pread(fd, 4096, 8192)  # fetched with the first read: from memory
        emu.config(store_status={"status": 403, "count": 1})
        os.pread(fd, 4096, 4 * MiB)  # refused once: a new URL
    finally:
        os.close(fd)
    s = _stats(m)
    assert s["cache_hits"] >= 1, s
    assert s["errors"]["ENOENT"] >= 1, s
    assert s["url_renewals"] == 1, s
    assert s["api_calls"]["by_action"]["DescribeUMongoDBBackupURL"] == 2, s
    assert sorted(s["errors"]) == ["EACCES", "EIO", "ENOENT", "ENOMEM", "EPERM", "other",
                                   "timeout"], s


def test_stats_only_on_the_root(demo_mount):
    m = demo_mount
    assert "user.umongofs.stats" in os.listxattr(m.path)
    json.loads(os.getxattr(m.path, "user.umongofs.stats"))
    region = m.p("cn-bj2")
    assert "user.umongofs.stats" not in os.listxattr(region)
    assert errno_of(os.getxattr, region, "user.umongofs.stats") == errno.ENODATA
    # getfattr -d shows it with the root's other attributes.
    r = subprocess.run(["getfattr", "-d", m.path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0 and b"user.umongofs.stats=" in r.stdout, r.stdout + r.stderr
