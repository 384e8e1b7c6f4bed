"""Reading files: every byte equals the object store's, from any offset, by any
number of readers at once, and st_size is the exact number of bytes a read
returns (README.md, "Names, attributes, errors")."""

import hashlib
import os
import random
import subprocess
import threading

import pytest

from treewalk import expected_objects, object_key, refused_keys, sha256_file, walk

MiB = 1 << 20


def test_sha256_of_every_file_and_true_size(emu, mount_factory):
    m = mount_factory(emu)
    want = expected_objects(emu.world)
    entries = [e for e in walk(m.path) if not e.is_dir]
    assert len(entries) == len(want)
    for e in entries:
        key = object_key(e)
        if want[key]["refused"]:
            continue  # listed, but the provider refuses its download
        src = emu.object_path(want[key]["cluster"]["ClusterId"], key[1])
        real = os.path.getsize(src)
        with open(e.path, "rb") as f:
            assert os.fstat(f.fileno()).st_size == real, \
                "%s: st_size %d after open, object has %d bytes" % (
                    e.rel, os.fstat(f.fileno()).st_size, real)
            h = hashlib.sha256()
            n = 0
            while True:
                b = f.read(256 * 1024)
                if not b:
                    break
                h.update(b)
                n += len(b)
        assert n == real, "%s: read %d bytes, object has %d" % (e.rel, n, real)
        assert h.hexdigest() == sha256_file(src), e.rel
        assert os.stat(e.path).st_size == real, "%s: stat after reading" % e.rel
    # The listing lies about these two (so the checks above mean something).
    for b in emu.cluster("udb-inventory01")["backups"]:
        if b["BackupId"] in ("bk-inv-size-wrong", "bk-inv-size-zero"):
            real = os.path.getsize(emu.object_path("udb-inventory01", b["BackupId"]))
            assert b["BackupSize"] != real


def test_wrong_size_file_whole_read_via_cat(demo_mount, emu):
    """The lying-size files read back completely with an ordinary tool too."""
    d = demo_mount.p("cn-bj2", "inventory")
    refused = refused_keys(emu.world)
    for name in os.listdir(d):
        if ("b", os.getxattr(os.path.join(d, name), "user.umongofs.backup_id").decode()) \
                in refused:
            continue  # the snapshot: listed, but the provider refuses its download
        out = subprocess.run(["cat", os.path.join(d, name)], stdout=subprocess.PIPE,
                             check=True, timeout=30).stdout
        assert len(out) == os.stat(os.path.join(d, name)).st_size, name
        assert len(out) > 0, name


@pytest.mark.parametrize("opts", [(), ("-s",)], ids=["threads", "single-threaded"])
def test_wrong_size_file_read_twice_is_whole_both_times(emu, mount_factory, opts):
    """The first open learns the store's length; the next open, a moment
    later, must not be cut at the listing's length the kernel may still
    hold (with -s too, where the open cannot tell the kernel itself)."""
    m = mount_factory(emu, *opts)
    d = m.p("cn-bj2", "inventory")
    refused = refused_keys(emu.world)
    names = [n for n in sorted(os.listdir(d))
             if ("b", os.getxattr(os.path.join(d, n), "user.umongofs.backup_id").decode())
             not in refused]
    assert names
    for name in names:
        p = os.path.join(d, name)
        bid = os.getxattr(p, "user.umongofs.backup_id").decode()
        cluster = os.getxattr(d, "user.umongofs.cluster_id").decode()
        with open(emu.object_path(cluster, bid), "rb") as f:
            want = f.read()
        for attempt in (1, 2, 3):
            out = subprocess.run(["cat", p], stdout=subprocess.PIPE, check=True,
                                 timeout=30).stdout
            assert out == want, "%s, read %d: %d bytes of %d" % (name, attempt, len(out),
                                                                  len(want))


BIG = 20 * MiB + 12345


def _big_spec(size=BIG, n=1, seed=11):
    z = "cn-bj2-02"
    backups = [{"BackupId": "bk-big-%d" % i, "BackupName": "big-%d.bin" % i,
                "ClusterId": "udb-big01", "Zone": z, "State": "Success",
                "BackupSize": "auto", "BackupType": "manual", "StartTime": 1795000000 + i,
                "EndTime": 1795000100 + i, "content": {"random": size, "seed": seed + i}}
               for i in range(n)]
    return {"clusters": [{"Region": "cn-bj2", "Zone": z, "ClusterId": "udb-big01",
                          "Name": "big", "DBVersion": "MongoDB-4.2",
                          "ClusterType": "ReplicaSet", "State": "Running",
                          "CreateTime": 1795000000, "backups": backups}]}


def _offsets(rng, size, count):
    """Random (offset, length) pairs: anywhere, across 1/2 MiB boundaries, at/after EOF."""
    out = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            off = rng.randrange(size)
            n = rng.choice([1, 7, 4096, 65536, 131072, rng.randrange(1, 3 * MiB)])
        elif kind in (1, 2):
            unit = MiB if kind == 1 else 2 * MiB
            edge = unit * rng.randrange(1, size // unit + 1)
            off = max(0, edge - rng.randrange(1, 200000))
            n = rng.randrange(2, 400000) + (edge - off)
        elif kind == 3:
            off = size - rng.randrange(1, 300000)
            n = rng.randrange(1, 600000)
        else:
            off = size + rng.choice([0, 1, 4096, MiB, 10 * MiB])
            n = rng.choice([1, 4096, MiB])
        out.append((off, n))
    return out


def test_200_random_preads(emulator_factory, mount_factory):
    emu = emulator_factory(_big_spec())
    m = mount_factory(emu)
    src = emu.object_path("udb-big01", "bk-big-0")
    with open(src, "rb") as f:
        data = f.read()
    assert len(data) == BIG
    rng = random.Random(2024)
    path = m.p("cn-bj2", "big", "big-0.bin")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.fstat(fd).st_size == BIG
        for off, n in _offsets(rng, BIG, 200):
            got = os.pread(fd, n, off)
            assert got == data[off:off + n], "pread(%d, %d): %d bytes, first bad byte %r" % (
                n, off, len(got),
                next((i for i, (a, b) in enumerate(zip(got, data[off:off + n])) if a != b),
                     None))
    finally:
        os.close(fd)


def test_eight_threads_read_at_once(emulator_factory, mount_factory):
    size = 3 * MiB + 777
    emu = emulator_factory(_big_spec(size=size, n=3, seed=40))
    m = mount_factory(emu)
    srcs = {}
    for i in range(3):
        with open(emu.object_path("udb-big01", "bk-big-%d" % i), "rb") as f:
            srcs[i] = f.read()
    # Threads 0-4 read big-0 (same file, separate fds), 5-7 read the others.
    plan = [0, 0, 0, 0, 0, 1, 2, 1]
    errors = []
    barrier = threading.Barrier(len(plan))

    def reader(t, i):
        try:
            rng = random.Random(t)
            path = m.p("cn-bj2", "big", "big-%d.bin" % i)
            with open(path, "rb", buffering=0) as f:
                barrier.wait(10)
                if t % 2:
                    # Sequential, odd chunk sizes.
                    buf = bytearray()
                    while True:
                        b = f.read(rng.choice([4096, 65536, 100000, MiB + 3]))
                        if not b:
                            break
                        buf += b
                    if bytes(buf) != srcs[i]:
                        errors.append("thread %d: sequential read of big-%d differs" % (t, i))
                else:
                    for _ in range(40):
                        off = rng.randrange(size)
                        n = rng.randrange(1, 300000)
                        if os.pread(f.fileno(), n, off) != srcs[i][off:off + n]:
                            errors.append("thread %d: pread(%d, %d) of big-%d differs"
                                          % (t, n, off, i))
                            return
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("thread %d: %r" % (t, e))

    threads = [threading.Thread(target=reader, args=(t, i)) for t, i in enumerate(plan)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads), "a reader hangs"
    assert not errors, errors
