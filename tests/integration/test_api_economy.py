"""What the mount costs the provider: API calls, download URLs, store requests."""

import hashlib
import os
import subprocess
import time

from treewalk import sha256_file, walk

MiB = 1 << 20


def _spec(sizes, seed=70):
    z = "cn-bj2-02"
    backups = [{"BackupId": "bk-obj-%d" % i, "BackupName": "obj-%d.bin" % i,
                "ClusterId": "udb-eco01", "Zone": z, "State": "Success", "BackupSize": "auto",
                "BackupType": "manual", "StartTime": 1795000000 + i, "EndTime": 1795000100 + i,
                "content": {"random": n, "seed": seed + i}} for i, n in enumerate(sizes)]
    return {"clusters": [{"Region": "cn-bj2", "Zone": z, "ClusterId": "udb-eco01", "Name": "eco",
                          "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet",
                          "State": "Running", "CreateTime": 1795000000, "backups": backups}]}


def _ls_lR(path):
    return subprocess.run(["ls", "-lR", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=True, timeout=60).stdout


def test_second_ls_lR_inside_dir_ttl_costs_no_api_call(emu, mount_factory):
    m = mount_factory(emu)
    _ls_lR(m.path)
    walk(m.path)  # the first read of a restore-window xattr asks the API, once
    assert emu.stats()["api_total"] > 0
    time.sleep(1.1)  # past the kernel's entry/attr cache: the daemon itself answers
    emu.reset()
    _ls_lR(m.path)
    walk(m.path)  # getattr + listxattr + getxattr everywhere: still no call
    st = emu.stats()
    assert st["api_total"] == 0, "second ls -lR cost API calls: %r" % st["api"]


def test_listing_is_refreshed_after_dir_ttl(emu, mount_factory):
    m = mount_factory(emu, "dir_ttl=1")
    _ls_lR(m.path)
    time.sleep(1.2)
    emu.reset()
    _ls_lR(m.path)
    api = emu.stats()["api"]
    assert api.get("ListUMongoDBBackup", 0) >= 1 and api.get("GetRegion", 0) >= 1, api


KiB64 = 64 << 10


def _check_ranges(lengths, sizes):
    """Every range at least 64 KiB, except the final tail of an object."""
    for n in lengths:
        assert n >= KiB64 or any(n <= s for s in sizes), \
            "a %d-byte range: %r" % (n, lengths)


def test_small_sequential_reads_grow_their_requests(emulator_factory, mount_factory):
    # 4 KiB reads from the start: the first request is small (an open, a
    # sniff), the next grow fourfold to whole blocks; never one per read.
    sizes = [9 * MiB + 12345, 300000]
    emu = emulator_factory(_spec(sizes))
    m = mount_factory(emu)
    walk(m.path)
    emu.reset()
    for i, size in enumerate(sizes):
        h = hashlib.sha256()
        with open(m.p("cn-bj2", "eco", "obj-%d.bin" % i), "rb", buffering=0) as f:
            while True:
                b = f.read(4096)
                if not b:
                    break
                h.update(b)
        assert h.hexdigest() == sha256_file(emu.object_path("udb-eco01", "bk-obj-%d" % i))
    st = emu.stats()["store"]
    lengths = st["range_lengths"]
    assert lengths, st
    _check_ranges(lengths, sizes)
    assert lengths[0] == KiB64, lengths  # the open's probe
    # 2 MiB blocks, plus the growth steps of the first one (64K, 256K, 1M).
    blocks = sum((s + 2 * MiB - 1) // (2 * MiB) for s in sizes)
    assert st["requests"] <= blocks + 3 * len(sizes) + 2, "%d store requests for %d blocks: %r" % (
        st["requests"], blocks, lengths)
    assert st["bytes"] <= sum(sizes) + 2 * MiB, "downloaded %d bytes for %d" % (
        st["bytes"], sum(sizes))


def test_random_small_preads_fetch_small_windows(emulator_factory, mount_factory):
    # Random 4 KiB reads: one 64 KiB request each, not a block each.
    sizes = [6 * MiB + 3]
    emu = emulator_factory(_spec(sizes, seed=90))
    m = mount_factory(emu)
    with open(emu.object_path("udb-eco01", "bk-obj-0"), "rb") as f:
        data = f.read()
    fd = os.open(m.p("cn-bj2", "eco", "obj-0.bin"), os.O_RDONLY)
    emu.reset()
    offsets = list(range(256 * 1024 + 4096, len(data), 256 * 1024 + 4096))
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for off in reversed(offsets):
            assert os.pread(fd, 4096, off) == data[off:off + 4096]
    finally:
        os.close(fd)
    lengths = emu.stats()["store"]["range_lengths"]
    _check_ranges(lengths, sizes)
    assert len(lengths) <= len(offsets), lengths
    assert sum(lengths) <= KiB64 * len(offsets), lengths


def test_url_reused_across_opens_within_its_lifetime(emulator_factory, mount_factory):
    sizes = [5 * MiB]
    emu = emulator_factory(_spec(sizes, seed=80))
    m = mount_factory(emu)
    path = m.p("cn-bj2", "eco", "obj-0.bin")
    with open(emu.object_path("udb-eco01", "bk-obj-0"), "rb") as f:
        data = f.read()
    walk(m.path)
    emu.reset()
    for off in (0, 4 * MiB + 100):  # a different block each time: the store is asked twice
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            assert os.pread(fd, 4096, off) == data[off:off + 4096]
        finally:
            os.close(fd)
    st = emu.stats()
    assert st["store"]["requests"] >= 2, st
    assert st["api"].get("DescribeUMongoDBBackupURL", 0) == 1, st["api"]


def test_url_expiry_mid_read(emulator_factory, mount_factory):
    """url_ttl=2, and the store lets URLs expire even sooner (0.5 s) while the
    read is throttled to 1 MiB/s per connection, so it takes several seconds:
    the daemon gets 403s, asks for new URLs and still returns every byte."""
    sizes = [6 * MiB + 999]
    emu = emulator_factory(_spec(sizes, seed=60))
    m = mount_factory(emu, "url_ttl=2", "block_size=1M", "max_conns=2")
    walk(m.path)
    emu.reset()
    emu.config(store_bandwidth=MiB, url_ttl_override=0.5)
    t0 = time.monotonic()
    got = sha256_file(m.p("cn-bj2", "eco", "obj-0.bin"))
    took = time.monotonic() - t0
    assert got == sha256_file(emu.object_path("udb-eco01", "bk-obj-0"))
    st = emu.stats()
    assert took > 3.0, "the read was not throttled (%.1fs); the test proves nothing" % took
    assert st["store"]["status"].get("403", 0) >= 1, st["store"]
    assert st["api"].get("DescribeUMongoDBBackupURL", 0) >= 3, st["api"]


def test_url_refreshed_after_url_ttl_without_a_403(emulator_factory, mount_factory):
    """url_ttl=2 (the store honours ValidTime): after 2 s the daemon asks for a new
    URL before using the old one, instead of running into the store's 403."""
    sizes = [5 * MiB]
    emu = emulator_factory(_spec(sizes, seed=81))
    m = mount_factory(emu, "url_ttl=2")
    path = m.p("cn-bj2", "eco", "obj-0.bin")
    with open(emu.object_path("udb-eco01", "bk-obj-0"), "rb") as f:
        data = f.read()
    walk(m.path)
    emu.reset()
    for i, off in enumerate((0, 4 * MiB + 100)):
        if i:
            time.sleep(2.1)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            assert os.pread(fd, 4096, off) == data[off:off + 4096]
        finally:
            os.close(fd)
    st = emu.stats()
    assert st["api"].get("DescribeUMongoDBBackupURL", 0) == 2, st["api"]
    assert st["store"]["status"].get("403", 0) == 0, st["store"]["status"]


def _sniff_world(n, size):
    return _spec([size] * n, seed=300)


def test_type_sniff_fetches_at_most_256KiB_per_file(emulator_factory, mount_factory):
    # What a file manager does to a folder of extension-less files: ask gio
    # for each one's content type (it reads the first bytes, the kernel reads
    # ahead of it). Then the same by hand: open, read 4 KiB, close.
    import shutil
    n, size = 12, 40 * MiB
    emu = emulator_factory(_sniff_world(n, size))
    m = mount_factory(emu)
    d = m.p("cn-bj2", "eco")
    names = sorted(os.listdir(d))
    assert len(names) == n
    sniffs = []
    if shutil.which("gio"):
        sniffs.append(("gio", lambda p: subprocess.run(
            ["gio", "info", "-a", "standard::content-type", p], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, check=True, timeout=60)))
    else:
        print("gio is missing (package libglib2.0-bin): sniffing by hand only")

    def by_hand(p):
        # read(2) of 4 KiB, as libmagic-style sniffers do (not Python's
        # buffered open, which reads st_blksize = 1 MiB at once).
        fd = os.open(p, os.O_RDONLY)
        try:
            assert len(os.read(fd, 4096)) == 4096
        finally:
            os.close(fd)

    sniffs.append(("open + read(2) of 4 KiB", by_hand))
    for i, (what, sniff) in enumerate(sniffs):
        time.sleep(1.1)  # past the kernel's caches of an earlier round
        emu.reset()
        for name in names:
            sniff(os.path.join(d, name))
        st = emu.stats()["store"]
        print("%s of %d files: %d requests, %d bytes" % (what, n, st["requests"], st["bytes"]))
        assert st["bytes"] <= n * 256 * 1024, (what, st)
        if i == 0:
            assert st["requests"] >= n, (what, st)  # every file was asked for: not a no-op


def test_reads_jumping_in_and_out_of_windows_are_byte_exact(emulator_factory, mount_factory):
    # Reads of every size at random places, with the kernel's readahead on,
    # then backwards: windows grow up, grow down, restart, straddle blocks.
    import random
    sizes = [9 * MiB + 4321]
    emu = emulator_factory(_spec(sizes, seed=400))
    m = mount_factory(emu)
    with open(emu.object_path("udb-eco01", "bk-obj-0"), "rb") as f:
        data = f.read()
    rnd = random.Random(7)
    path = m.p("cn-bj2", "eco", "obj-0.bin")
    for advice in (os.POSIX_FADV_NORMAL, os.POSIX_FADV_RANDOM):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, advice)
            for _ in range(150):
                off = rnd.randrange(0, len(data) + 1000)
                n = rnd.choice([1, 4096, 65535, 65537, 300000, 2 * MiB + 1])
                assert os.pread(fd, n, off) == data[off:off + n], (advice, off, n)
            for off in range(len(data) - 5000, -1, -777777):
                assert os.pread(fd, 5000, off) == data[off:off + 5000], (advice, off)
        finally:
            os.close(fd)
        time.sleep(1.1)


def test_ls_l_of_a_big_directory_costs_no_request_per_entry(emulator_factory, mount_factory):
    # ls -l: the listing carries every entry's attributes (READDIRPLUS with
    # nodes), and extended attributes ls asks for (security labels, ACLs)
    # are refused as unsupported, so ls stops asking after the first file.
    n = 2000
    z = "cn-bj2-02"
    backups = [{"BackupId": "bk-ls-%05d" % i, "BackupName": "ls-%05d.tar.gz" % i,
                "ClusterId": "udb-ls01", "Zone": z, "State": "Success", "BackupSize": 100,
                "BackupType": "auto", "StartTime": 1795000000 + i, "EndTime": 1795000100 + i}
               for i in range(n)]
    world = {"clusters": [{"Region": "cn-bj2", "Zone": z, "ClusterId": "udb-ls01",
                           "Name": "ls", "DBVersion": "MongoDB-4.2",
                           "ClusterType": "ReplicaSet", "State": "Running",
                           "CreateTime": 1795000000, "backups": backups}]}
    emu = emulator_factory(world)
    m = mount_factory(emu, "-d")
    d = m.p("cn-bj2", "ls")
    os.listdir(m.p("cn-bj2"))
    for what in ("cold", "warm"):
        before = m.stderr()
        out = subprocess.run(["ls", "-l", d], stdout=subprocess.PIPE, check=True).stdout
        assert len(out.splitlines()) == n + 1
        trace = m.stderr()[len(before):]
        ops = {op: trace.count("opcode: %s " % op) for op in ("LOOKUP", "GETATTR", "GETXATTR",
                                                                "READDIRPLUS", "READDIR")}
        print("%s ls -l of %d entries: %r" % (what, n, ops))
        assert ops["READDIRPLUS"] >= 1, ops
        assert ops["LOOKUP"] + ops["GETATTR"] + ops["GETXATTR"] <= 10, (what, ops)
