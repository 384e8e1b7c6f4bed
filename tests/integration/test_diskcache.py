"""The persistent block cache (issue 9): `-o cache_dir=DIR` keeps whole
blocks on disk across mounts, bounded by `cache_max`.

What is checked, and why:
- a re-read after a remount comes from disk: byte-exact, and the store sees
  only the one small validation request per open;
- a file read from start to end stores all its blocks (any block_size, one
  reader or several at once), a sniff stores none;
- every block read from disk is verified: a block file with a flipped byte
  (data, header fields, header padding), a short length, a garbage header,
  another block's file under its name or no file at all is dropped,
  fetched again and stored again, with a warning, never served;
- the key covers the block size; a smaller cache_max trims at start;
- a replaced object (new ETag, or no ETag and a new Last-Modified) never
  uses the old object's blocks;
- eviction keeps the block files within cache_max, the least recently used
  going first;
- one cache_dir serves one mount: a second one is refused before mounting;
- a disk that is full, read-only or removed under the mount costs one
  warning line, never a failed read.

The block files are inspected directly (DIR/v1/<2 hex>/<64 hex>-<16 hex>: a
header of a multiple of 4 KiB, then the block's bytes), so a test knows
which blocks are stored without trusting the daemon's own counters, and the
counters (user.umongofs.stats, "disk_cache") are checked against the files.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time

import pytest

import make_world
from emu_client import Emulator
from mount import is_mounted, wait_until
from worldspec import rewrite_same_size, spec_cluster, spec_object

MiB = 1 << 20
KiB64 = 64 << 10
BS = MiB  # block_size=1M: many blocks from a small object, fast
CID, NAME = "udb-dc01", "dc"

# The shared world (never modified): two objects for the remount tests (a short
# last block each), three for eviction. Tests that replace an object build
# their own world.
SIZES = {0: 12 * MiB + 12345, 1: 5 * MiB + 77, 2: 22 * MiB + 999, 3: 22 * MiB + 1999,
         4: 22 * MiB + 2999}

BLOCK_NAME_RE = re.compile(r"^([0-9a-f]{64})-([0-9a-f]{16})$")
WARNING_RE = re.compile(r"^umongofs: warn(ing)?: ")
DISK_FIELDS = ["hits", "bytes_read", "stored", "bytes_stored", "evicted", "dropped", "size",
               "max"]


# -- the world, shared by the tests that only read it ------------------------------------------

@pytest.fixture(scope="module")
def world_emu(tmp_path_factory):
    d = tmp_path_factory.mktemp("diskcache-world")
    objs = [spec_object(CID, i, size, 900 + i) for i, size in SIZES.items()]
    world = make_world.build_world(str(d / "world"), {"clusters": [spec_cluster(CID, NAME, objs)]})
    emu = Emulator(world, log_path=str(d / "emulator.log")).start()
    yield emu
    rc = emu.stop()
    assert rc == 0, "emulator exited %r:\n%s" % (rc, emu.log_text())


@pytest.fixture
def wemu(world_emu):
    world_emu.restore()
    yield world_emu
    world_emu.restore()


_SRC = {}


def _src_path(emu, i):
    return emu.object_path(CID, "bk-%s-%d" % (CID, i))


def _src(emu, i):
    """The object's bytes as the store has them now."""
    path = _src_path(emu, i)
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _SRC:
        with open(path, "rb") as f:
            _SRC[key] = f.read()
    return _SRC[key]


def _sha(data):
    return hashlib.sha256(data).hexdigest()


# -- reading through the mount -----------------------------------------------------------------

def _fpath(m, i):
    return m.p("cn-bj2", NAME, "obj-%d.bin" % i)


def _read(m, i):
    """Read the whole file sequentially (1 MiB read(2)s, one open), then drop its
    pages from the kernel's cache, so that the next read asks the daemon again."""
    h = hashlib.sha256()
    fd = os.open(_fpath(m, i), os.O_RDONLY)
    try:
        while True:
            b = os.read(fd, MiB)
            if not b:
                break
            h.update(b)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return h.hexdigest()


def _assert_read_exact(m, emu, i, what=""):
    got = _read(m, i)
    assert got == _sha(_src(emu, i)), "obj-%d read %s is not byte-exact" % (i, what)


def _stats(m):
    return json.loads(os.getxattr(m.path, "user.umongofs.stats"))


def _dc(m):
    s = _stats(m)
    assert "disk_cache" in s, "stats without a disk_cache object: %r" % s
    dc = s["disk_cache"]
    for k in DISK_FIELDS:
        assert isinstance(dc.get(k), int) and not isinstance(dc.get(k), bool), \
            "disk_cache.%s is %r: %r" % (k, dc.get(k), dc)
    return dc


def _wait_stored(m, n, timeout=10, emu=None):
    """Block files are written as the blocks arrive, maybe in the background."""
    ok = wait_until(lambda: _dc(m)["stored"] >= n, timeout, 0.05)
    assert ok, "%d blocks stored, want %d: %r; store requests since the last reset: %r" % (
        _dc(m)["stored"], n, _dc(m), emu.stats()["store"]["range_lengths"] if emu else "?")


def _settle(m, timeout=5):
    """Wait until no block is being stored any more (the count stays 0.5 s);
    for tests about something else than storing every block."""
    last, since = None, time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        n = _dc(m)["stored"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            break
        time.sleep(0.05)
    return last


def _nblocks(size, bs=BS):
    return (size + bs - 1) // bs


def _opts(cache, *extra, bs="1M"):
    return ["cache_dir=%s" % cache, "block_size=%s" % bs] + list(extra)


def _warnings(m, about_cache=True):
    """The daemon's warning lines (those about its cache, with about_cache)."""
    out = []
    for line in m.stderr().splitlines():
        if WARNING_RE.search(line) and (not about_cache or "cache" in line.lower()):
            out.append(line)
    return out


# -- the cache directory, seen from outside ----------------------------------------------------

def _blocks(cache):
    """{path: (key, index, st_size)} of every block file, and a list of anything
    else found under DIR/v1 (tmp/ itself aside)."""
    blocks, other = {}, []
    v1 = os.path.join(str(cache), "v1")
    try:
        names = os.listdir(v1)
    except FileNotFoundError:
        return blocks, other
    for d in names:
        dp = os.path.join(v1, d)
        if d == "tmp":
            continue
        if not re.match(r"^[0-9a-f]{2}$", d) or not os.path.isdir(dp):
            other.append(dp)
            continue
        for f in os.listdir(dp):
            fp = os.path.join(dp, f)
            mo = BLOCK_NAME_RE.match(f)
            if not mo:
                other.append(fp)
                continue
            try:
                st = os.lstat(fp)
            except FileNotFoundError:
                continue  # evicted while we looked
            blocks[fp] = (mo.group(1), int(mo.group(2), 16), st.st_size)
    return blocks, other


def _tmp_files(cache):
    try:
        return os.listdir(os.path.join(str(cache), "v1", "tmp"))
    except FileNotFoundError:
        return []


def _du(cache):
    """Bytes of all regular files under DIR/v1 (block files and temporary files),
    the larger of apparent size and allocation."""
    total = 0
    for root, _dirs, files in os.walk(os.path.join(str(cache), "v1")):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            total += max(st.st_size, st.st_blocks * 512)
    return total


def _block_len(size, index, bs=BS):
    return min(bs, size - index * bs)


def _check_block_file(path, index, src, bs=BS):
    """A block file is a header of a multiple of 4 KiB, then the block's bytes."""
    with open(path, "rb") as f:
        data = f.read()
    n = _block_len(len(src), index, bs)
    assert n > 0, "%s: block %d is past the object's end (%d bytes)" % (path, index, len(src))
    hdr = len(data) - n
    assert hdr > 0 and hdr % 4096 == 0, \
        "%s: %d bytes for a %d-byte block: the header would be %d bytes" % (path, len(data), n, hdr)
    # Compared outside the assert: pytest would diff two MiB-long byte
    # strings with difflib (minutes) when they differ, which callers expect.
    same = data[hdr:] == src[index * bs:index * bs + n]
    assert same, "%s: not block %d's bytes" % (path, index)
    return hdr


def _header_len(size, index, file_size, bs=BS):
    return file_size - _block_len(size, index, bs)


def _check_objects(emu, blocks, files, bs=BS):
    """blocks hold every block of each of files (objects with different block
    counts), one key per object, each file right."""
    by_key = {}
    for path, (key, index, _size) in blocks.items():
        by_key.setdefault(key, []).append((index, path))
    assert len(by_key) == len(files), "want one key per object: %r" % sorted(by_key)
    for key, entries in by_key.items():
        idx = sorted(e[0] for e in entries)
        i = next((i for i in files if _nblocks(SIZES[i], bs) == len(idx)), None)
        assert i is not None and idx == list(range(_nblocks(SIZES[i], bs))), (key, idx)
        for index, path in entries:
            _check_block_file(path, index, _src(emu, i), bs)


# -- 1. a re-read after a remount comes from disk -----------------------------------------------

def test_reread_after_remount_is_served_from_disk(wemu, mount_factory, tmp_path):
    """Read two files whole, unmount, mount again on the same cache_dir and read
    them again: the same bytes, with only the one validation request (64 KiB)
    per open reaching the store, and the counters saying the disk served them.
    Also: DIR is created with mode 0700, the layout is as documented, each
    block file holds its block's bytes after a 4 KiB-multiple header, and
    cache_max defaults to 10G."""
    emu = wemu
    cache = tmp_path / "cache"  # does not exist yet
    files = [0, 1]
    want_blocks = sum(_nblocks(SIZES[i]) for i in files)

    m1 = mount_factory(emu, *_opts(cache))
    assert (os.stat(cache).st_mode & 0o7777) == 0o700, oct(os.stat(cache).st_mode)
    assert os.path.isfile(cache / "lock") and os.path.isdir(cache / "v1" / "tmp")
    for i in files:
        _assert_read_exact(m1, emu, i, "in the first mount")
    _wait_stored(m1, want_blocks, emu=emu)
    dc1 = _dc(m1)
    assert dc1["max"] == 10 << 30, dc1
    assert dc1["evicted"] == 0 and dc1["dropped"] == 0, dc1
    assert dc1["stored"] == want_blocks, dc1
    assert dc1["bytes_stored"] >= sum(SIZES[i] for i in files), dc1
    blocks, other = _blocks(cache)
    assert dc1["size"] == sum(b[2] for b in blocks.values()), (dc1, blocks)
    m1.stop()

    # The files on disk: one per block, each holding that block.
    assert not other, "unexpected files in the cache: %r" % other
    assert not _tmp_files(cache), "temporary files left after a clean unmount: %r" % (
        _tmp_files(cache))
    for path, (key, _index, _size) in blocks.items():
        assert os.path.basename(os.path.dirname(path)) == key[:2], path
    _check_objects(emu, blocks, files)

    emu.reset()
    m2 = mount_factory(emu, *_opts(cache))
    for i in files:
        _assert_read_exact(m2, emu, i, "after the remount")
    st = emu.stats()["store"]
    opens = len(files)
    assert st["requests"] <= opens, "%d store requests for %d opens of cached files: %r" % (
        st["requests"], opens, st)
    assert st["bytes"] <= opens * KiB64, "%d bytes from the store for cached files: %r" % (
        st["bytes"], st)
    dc2 = _dc(m2)
    assert dc2["hits"] > 0, dc2
    assert dc2["bytes_read"] >= sum(SIZES[i] for i in files) - opens * KiB64, dc2
    assert dc2["stored"] == 0 and dc2["dropped"] == 0, dc2
    assert dc2["size"] == dc1["size"], (dc1, dc2)


@pytest.mark.parametrize("bs", ["1M", "2M", "3M", "4M"])
def test_sequential_read_stores_every_block(wemu, mount_factory, tmp_path, bs):
    """A file read from start to end stores every one of its blocks, whatever
    block_size, and the store is asked no more often than without a cache
    (one request per block plus the open's growing windows, as in
    test_api_economy); the next mount reads it with one request."""
    emu = wemu
    cache = tmp_path / "cache"
    size, nbs = SIZES[0], int(bs[:-1]) * MiB
    nb = _nblocks(size, nbs)
    m1 = mount_factory(emu, *_opts(cache, bs=bs))
    emu.reset()
    _assert_read_exact(m1, emu, 0)
    st = emu.stats()["store"]
    wait_until(lambda: _dc(m1)["stored"] >= nb, 3, 0.05)
    m1.stop()
    stored = sorted(b[1] for b in _blocks(cache)[0].values())
    assert stored == list(range(nb)), "block_size=%s: blocks %r of %d stored (%r)" % (
        bs, stored, nb, st["range_lengths"])
    assert st["requests"] <= nb + 5, "block_size=%s: %d requests for %d blocks: %r" % (
        bs, st["requests"], nb, st["range_lengths"])
    emu.reset()
    m2 = mount_factory(emu, *_opts(cache, bs=bs))
    _assert_read_exact(m2, emu, 0, "after the remount")
    assert emu.stats()["store"]["requests"] <= 1, emu.stats()["store"]


def test_sniffs_and_random_reads_store_nothing(wemu, mount_factory, tmp_path):
    """Only whole blocks fetched from the store whole are stored: an open, a
    4 KiB sniff and scattered 4 KiB reads leave no block file, except the
    77-byte last block, which the 64 KiB window of a read at the end holds
    whole; a read to the end then stores every block."""
    emu = wemu
    cache = tmp_path / "cache"
    m = mount_factory(emu, *_opts(cache))
    src = _src(emu, 1)
    fd = os.open(_fpath(m, 1), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for off in (0, 3 * MiB + 100, SIZES[1] - 4096):
            assert os.pread(fd, 4096, off) == src[off:off + 4096]
    finally:
        os.close(fd)
    time.sleep(0.5)  # a background writer would have written by now
    last = _nblocks(SIZES[1]) - 1
    assert SIZES[1] - last * BS < 4096  # the read at the end covers that block whole
    stored = sorted(b[1] for b in _blocks(cache)[0].values())
    assert stored in ([], [last]), "sniffs stored blocks %r" % stored
    assert _dc(m)["stored"] == len(stored), _dc(m)
    _assert_read_exact(m, emu, 1)
    _wait_stored(m, _nblocks(SIZES[1]), emu=emu)
    assert sorted(b[1] for b in _blocks(cache)[0].values()) == list(range(_nblocks(SIZES[1])))


def test_parallel_readers_store_good_blocks(wemu, mount_factory, tmp_path):
    """Three readers at once (two on the same file): every block file written
    is whole and right, no temporary file is left, and the next mount serves
    both files from disk."""
    emu = wemu
    cache = tmp_path / "cache"
    m1 = mount_factory(emu, *_opts(cache))
    results = {}

    def reader(n, i):
        results[n] = _read(m1, i) == _sha(_src(emu, i))

    threads = [threading.Thread(target=reader, args=(n, i)) for n, i in enumerate((0, 0, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {0: True, 1: True, 2: True}, results
    _settle(m1)  # two readers of one file may each store a block: count files
    m1.stop()
    assert not _tmp_files(cache), _tmp_files(cache)
    blocks, other = _blocks(cache)
    assert not other, other
    _check_objects(emu, blocks, (0, 1))
    emu.reset()
    m2 = mount_factory(emu, *_opts(cache))
    for i in (0, 1):
        _assert_read_exact(m2, emu, i, "after the remount")
    assert emu.stats()["store"]["requests"] <= 2, emu.stats()["store"]


def test_other_block_size_does_not_use_old_blocks(wemu, mount_factory, tmp_path):
    """The key includes the block size: blocks stored with block_size=1M are
    not used by a mount with block_size=4M (whose block i is other bytes),
    which reads byte-exact from the store and stores its own; the 1M blocks
    stay for a 1M mount."""
    emu = wemu
    cache = tmp_path / "cache"
    m1 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m1, emu, 1)
    _wait_stored(m1, _nblocks(SIZES[1]), emu=emu)
    m1.stop()
    emu.reset()
    m2 = mount_factory(emu, *_opts(cache, bs="4M"))
    _assert_read_exact(m2, emu, 1, "with another block_size")
    assert emu.stats()["store"]["bytes"] >= SIZES[1] - KiB64, emu.stats()["store"]
    assert _settle(m2) >= 1, _dc(m2)
    m2.stop()
    keys = {}
    for path, (key, index, _fsize) in _blocks(cache)[0].items():
        keys.setdefault(key, []).append((index, path))
    assert len(keys) == 2, sorted(keys)
    for entries in keys.values():
        bs = MiB if len(entries) == _nblocks(SIZES[1]) else 4 * MiB
        for index, path in entries:
            _check_block_file(path, index, _src(emu, 1), bs)
    emu.reset()
    m3 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m3, emu, 1, "with block_size=1M again")
    assert emu.stats()["store"]["requests"] <= 1, emu.stats()["store"]


def test_smaller_cache_max_at_the_next_mount_trims_at_start(wemu, mount_factory, tmp_path):
    """22 MiB stored with the default cache_max, then a mount with
    cache_max=8M: it starts within 8 MiB (before any read), keeping blocks
    it can still serve."""
    emu = wemu
    cache = tmp_path / "cache"
    m1 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m1, emu, 2)
    _wait_stored(m1, _nblocks(SIZES[2]), emu=emu)
    m1.stop()
    assert _du(cache) > 8 * MiB
    m2 = mount_factory(emu, *_opts(cache, "cache_max=8M"))
    assert wait_until(lambda: _du(cache) <= 8 * MiB, 5), _du(cache)
    dc = _dc(m2)
    assert dc["max"] == 8 * MiB and dc["size"] <= 8 * MiB, dc
    assert dc["evicted"] >= 1, dc
    blocks = _blocks(cache)[0]
    assert blocks and dc["size"] == sum(b[2] for b in blocks.values()), (dc, blocks)
    for path, (_key, index, _fsize) in blocks.items():
        _check_block_file(path, index, _src(emu, 2))


# -- 2. every block read from disk is verified ---------------------------------------------------

def _file_sha(path):
    with open(path, "rb") as f:
        return _sha(f.read())


def _flip(path, pos):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))


def _corrupt(kind, blocks, size):
    """Damage every block file; each one differently where there is a choice."""
    for n, (path, (_key, index, fsize)) in enumerate(sorted(blocks.items())):
        hdr = _header_len(size, index, fsize)
        blen = fsize - hdr
        if kind == "data-byte":
            # A different 64 KiB chunk of each block; the very last byte of one.
            pos = fsize - 1 if n == 0 else hdr + (n * 5 * KiB64 + n * 4099) % blen
            _flip(path, pos)
        elif kind == "header-byte":
            # Spread over the header's fields (magic, key, index, length, the
            # chunk CRCs, the header CRC): its bytes up to the zero padding.
            with open(path, "rb") as f:
                used = len(f.read(hdr).rstrip(b"\0"))
            _flip(path, (n * 11) % used)
        elif kind == "header-padding":
            _flip(path, hdr - 1 - n * 64)  # "flipped bytes anywhere"
        elif kind == "truncate":
            os.truncate(path, [0, 100, hdr, hdr + blen // 2, fsize - 1][n % 5])
        elif kind == "delete":
            os.unlink(path)
        elif kind == "swapped":
            pass  # below: every file gets the next one's (valid) contents
        elif kind == "garbage-header":
            with open(path, "r+b") as f:
                f.write(random.Random(n).randbytes(hdr))
        else:
            raise AssertionError(kind)
    if kind == "swapped":
        # Whole, self-consistent block files under another block's name: only
        # the key and index inside tie a file to its name.
        paths = sorted(blocks)
        contents = []
        for path in paths:
            with open(path, "rb") as f:
                contents.append(f.read())
        for path, data in zip(paths, contents[1:] + contents[:1]):
            with open(path, "wb") as f:
                f.write(data)


@pytest.mark.parametrize("when", ["between-mounts", "while-mounted"])
@pytest.mark.parametrize("kind", ["data-byte", "header-byte", "header-padding", "truncate",
                                  "delete", "garbage-header", "swapped"])
def test_corrupt_block_files_are_dropped_and_fetched_again(wemu, mount_factory, tmp_path,
                                                           kind, when):
    """Every block file of a cached object damaged (between the mounts, or
    after the second mount started and before the file is opened, so only a
    check at read time can see it): the read is byte-exact, the blocks come
    from the store again, each bad file is dropped and replaced by a good
    one, and the daemon says so in a warning (never an error line)."""
    emu = wemu
    cache = tmp_path / "cache"
    size, nb = SIZES[0], _nblocks(SIZES[0])
    m1 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m1, emu, 0, "in the first mount")
    _wait_stored(m1, nb, emu=emu)
    m1.stop()
    blocks, _ = _blocks(cache)
    assert len(blocks) == nb, blocks

    if when == "between-mounts":
        _corrupt(kind, blocks, size)
        m2 = mount_factory(emu, *_opts(cache))
    else:
        m2 = mount_factory(emu, *_opts(cache))
        os.listdir(m2.p("cn-bj2", NAME))
        _corrupt(kind, blocks, size)
    damaged = {p: _file_sha(p) for p in blocks if os.path.exists(p)}
    emu.reset()
    _assert_read_exact(m2, emu, 0, "of damaged block files")
    st = emu.stats()["store"]
    assert st["requests"] > 1, "damaged blocks were not fetched again: %r" % st
    if kind != "data-byte":  # there, what precedes the bad chunk may be served
        assert st["bytes"] >= size - KiB64, "only %d of %d bytes fetched again: %r" % (
            st["bytes"], size, st)
    if kind == "data-byte":
        # The chunks before the bad one may have been served from disk, so
        # that block was not fetched whole and is not stored again now.
        wait_until(lambda: _dc(m2)["stored"] >= nb, 2, 0.05)
        assert _dc(m2)["stored"] >= 1, _dc(m2)
    else:
        _wait_stored(m2, nb, emu=emu)
    dc = _dc(m2)
    silent_ok = kind == "delete" and when == "between-mounts"  # nothing to notice
    if not silent_ok:
        assert dc["dropped"] >= nb, "%d damaged block files, dropped %r" % (nb, dc)
        warns = _warnings(m2)
        assert warns, "no warning about the damaged cache:\n" + m2.stderr()
        assert len(_warnings(m2, about_cache=False)) <= 2 * nb, \
            "a flood of warnings:\n" + m2.stderr()
    m2.stop()

    # Every damaged file was dropped, and (but for data-byte: most) replaced
    # by a good one under the same name (the same key).
    after, other = _blocks(cache)
    assert not other, other
    assert set(after) <= set(blocks), (sorted(after), sorted(blocks))
    if kind != "data-byte":
        assert sorted(after) == sorted(blocks), (sorted(after), sorted(blocks))
    src = _src(emu, 0)
    for path, (_key, index, _fsize) in after.items():
        _check_block_file(path, index, src)
        if path in damaged:
            assert _file_sha(path) != damaged[path], "%s: the damaged file is still there" % path


# -- 3. a replaced object never uses the old blocks ----------------------------------------------



@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_object_replaced_between_mounts_reads_new_bytes(emulator_factory, mount_factory,
                                                        tmp_path, validator):
    """The object is rewritten (same length) between two mounts: the second
    reads the new bytes, all of them from the store, and stores them under a
    new key; the old blocks are never served. Without an ETag (a store
    without validators) the Last-Modified is all that tells the versions
    apart: the old blocks must not be served then either."""
    size = 12 * MiB + 5
    emu = emulator_factory({"clusters": [spec_cluster(CID, NAME, [
        spec_object(CID, 0, size, 4242)])]})
    if validator == "last-modified":
        emu.config(store_no_etag=True)
    cache = tmp_path / "cache"
    m1 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m1, emu, 0, "in the first mount")
    nstored = _dc(m1)["stored"]
    if validator == "etag":
        _wait_stored(m1, _nblocks(size), emu=emu)
    m1.stop()
    old_keys = {b[0] for b in _blocks(cache)[0].values()}

    new = rewrite_same_size(_src_path(emu, 0), 0.02 if validator == "etag" else 1.1)
    emu.reset()
    m2 = mount_factory(emu, *_opts(cache))
    got = _read(m2, 0)
    assert got == _sha(new), "the second mount did not read the replaced object's bytes"
    st = emu.stats()["store"]
    assert st["bytes"] >= size - KiB64, "old blocks served for a new object: %r" % st
    if validator == "etag":
        _wait_stored(m2, _nblocks(size), emu=emu)
        blocks, _ = _blocks(cache)
        fresh = {p: b for p, b in blocks.items() if b[0] not in old_keys}
        assert sorted(b[1] for b in fresh.values()) == list(range(_nblocks(size))), \
            "the new object's blocks are not stored under a new key: %r" % blocks
        for path, (_key, index, _fsize) in fresh.items():
            _check_block_file(path, index, new)
    else:
        print("without an ETag: %d blocks stored in the first mount" % nstored)
    # And a third mount still reads the new bytes (from disk or not).
    m2.stop()
    m3 = mount_factory(emu, *_opts(cache))
    assert _read(m3, 0) == _sha(new)


# -- 4. eviction -------------------------------------------------------------------------------

def test_eviction_keeps_block_files_within_cache_max(wemu, mount_factory, tmp_path):
    """cache_max=16M, block_size=4M, three files of 22 MiB read one after the
    other: the block files never hold more than cache_max plus one block
    being written, end within cache_max, and what is left is the most recently
    read file's blocks (its last block among them): the least recently used
    went first. The counters agree with the files."""
    emu = wemu
    cache = tmp_path / "cache"
    cap, bs = 16 * MiB, 4 * MiB
    m = mount_factory(emu, *_opts(cache, "cache_max=16M", bs="4M"))
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _du(cache))
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    keys_seen = set()
    try:
        for i in (2, 3, 4):
            _assert_read_exact(m, emu, i)
            _settle(m)
            before = set(keys_seen)
            keys_seen |= {b[0] for b in _blocks(cache)[0].values()}
            last_key = keys_seen - before
    finally:
        stop.set()
        t.join(5)
    blocks, other = _blocks(cache)
    assert not other, other
    du = _du(cache)
    dc = _dc(m)
    print("peak %d bytes, end %d bytes, cache_max %d: %r" % (peak[0], du, cap, dc))
    assert dc["max"] == cap, dc
    assert du <= cap, "%d bytes of block files with cache_max=16M" % du
    assert peak[0] <= cap + bs + KiB64, "%d bytes of files at a peak with cache_max=16M" % peak[0]
    assert dc["size"] == sum(b[2] for b in blocks.values()) and dc["size"] <= cap, dc
    assert dc["stored"] > len(blocks), dc
    assert dc["evicted"] == dc["stored"] - len(blocks), (dc, len(blocks))
    # LRU: only the last file's blocks are left, its last block among them.
    assert len(last_key) == 1, last_key
    (k,) = last_key
    assert {b[0] for b in blocks.values()} == {k}, "blocks of older files survived: %r" % blocks
    assert _nblocks(SIZES[4], bs) - 1 in {b[1] for b in blocks.values()}, blocks
    src = _src(emu, 4)
    for path, (_key, index, _fsize) in blocks.items():
        _check_block_file(path, index, src, bs)


def test_eviction_takes_the_least_recently_used_block(wemu, mount_factory, tmp_path):
    """Least recently *used*, not first stored: after a 22 MiB file fills the
    cache (cache_max=16M, block_size=4M), its lowest surviving block (stored
    and read first) is read again from disk (cache_size=8M keeps it out of
    memory); then other files need room. That block must outlive every other
    surviving block of the file: a cache that evicts in the order it stored,
    or that does not count a read from disk as a use, drops it first."""
    emu = wemu
    cache = tmp_path / "cache"
    bs = 4 * MiB
    m = mount_factory(emu, *_opts(cache, "cache_max=16M", "cache_size=8M", bs="4M"))
    _assert_read_exact(m, emu, 2)
    _settle(m)
    first = _blocks(cache)[0].values()
    (k,) = {b[0] for b in first}
    survivors = sorted(b[1] for b in first)
    assert len(survivors) >= 2 and _dc(m)["evicted"] >= 1, (survivors, _dc(m))
    touched, others = survivors[0], set(survivors[1:])

    hits = _dc(m)["hits"]
    src = _src(emu, 2)
    fd = os.open(_fpath(m, 2), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        off = touched * bs + 100
        assert os.pread(fd, 4096, off) == src[off:off + 4096]
    finally:
        os.close(fd)
    assert _dc(m)["hits"] > hits, "block %d was not read from disk: %r" % (touched, _dc(m))

    # New files, a little at a time, until the file's blocks are all gone.
    judged = False
    for i in (1, 0, 3):
        _assert_read_exact(m, emu, i)
        _settle(m)
        left = {b[1] for b in _blocks(cache)[0].values() if b[0] == k}
        assert touched in left or not (left & others), \
            "block %d, just read, was evicted before blocks %r" % (touched, sorted(left & others))
        judged = judged or (touched in left and others - left)
        if touched not in left:
            break
    print("survivors %r, block %d read again; a step evicted some but not it: %s" % (
        survivors, touched, bool(judged)))
    assert _du(cache) <= 16 * MiB


# -- 5. one mount per cache_dir ----------------------------------------------------------------

def test_second_mount_on_same_cache_dir_is_refused(wemu, mount_factory, tmp_path):
    """A second daemon on a cache_dir in use exits non-zero before mounting and
    says why (cache_dir, in use); the first one goes on reading from and
    storing to its cache. DIR/lock is flock'ed for the mount's lifetime:
    after the first unmounts, the lock is free and a new mount gets the
    blocks from disk."""
    emu = wemu
    cache = tmp_path / "cache"
    m1 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m1, emu, 1)
    nb = _nblocks(SIZES[1])
    _wait_stored(m1, nb, emu=emu)

    with open(cache / "lock", "rb") as f:
        with pytest.raises(BlockingIOError):
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    m2 = mount_factory(emu, *_opts(cache), start=False)
    m2.spawn()
    wait_until(lambda: not m2.alive() or is_mounted(m2.path), 15)
    mounted = is_mounted(m2.path)
    rc = m2.wait_exit(10) if not mounted else None
    err = m2.stderr()
    assert not mounted, "a second mount on a cache_dir in use was made:\n" + err
    assert rc not in (0, None), "exit status %r:\n%s" % (rc, err)
    assert any("cache_dir" in ln and "in use" in ln for ln in err.splitlines()), \
        "the refusal does not say why:\n" + err

    # The first mount is unharmed: its cache is intact and still used.
    blocks = _blocks(cache)[0]
    assert len(blocks) == nb, blocks
    _assert_read_exact(m1, emu, 0, "in the first mount after the refusal")
    assert _settle(m1) > nb, _dc(m1)
    m1.stop()

    with open(cache / "lock", "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free now
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    emu.reset()
    m3 = mount_factory(emu, *_opts(cache))
    _assert_read_exact(m3, emu, 1, "in a later mount")
    assert emu.stats()["store"]["requests"] <= 1, emu.stats()["store"]
    assert _dc(m3)["hits"] > 0


def test_empty_cache_dir_is_refused(wemu, mount_factory):
    """cache_dir= with no directory is a mistake, not a request to run
    without the cache: the daemon exits 1 before mounting and says so."""
    m = mount_factory(wemu, "cache_dir=", start=False)
    m.spawn()
    wait_until(lambda: not m.alive() or is_mounted(m.path), 15)
    mounted = is_mounted(m.path)
    rc = m.wait_exit(10) if not mounted else None
    err = m.stderr()
    assert not mounted and rc == 1, "cache_dir= was accepted (exit %r):\n%s" % (rc, err)
    assert "cache_dir= needs a directory" in err, err


# -- 6-8. a bad disk costs one warning, never a read ---------------------------------------------

@contextlib.contextmanager
def _tmpfs(path, size, fstype="tmpfs"):
    """A tmpfs of size at path (or a ramfs: no size, no O_DIRECT)."""
    os.makedirs(path)
    opts = "mode=0700" if fstype == "ramfs" else "size=%s,mode=0700" % size
    r = subprocess.run(["mount", "-t", fstype, "-o", opts, fstype, str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        pytest.skip("cannot mount a %s here: %s" % (fstype, r.stdout.decode(errors="replace")))
    try:
        yield path
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(path)])
            raise AssertionError("the test tmpfs %s was busy: detached it" % path)


def _fill(path):
    """Fill the file system holding path to the last byte."""
    with open(os.path.join(str(path), "filler"), "wb", buffering=0) as f:
        chunk = b"\0" * 4096
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass


def _one_cache_warning(m):
    warns = _warnings(m)
    print("\n".join(warns))
    assert len(warns) == 1, "want one warning about the cache, got %d:\n%s" % (
        len(warns), m.stderr())


@pytest.mark.parametrize("how", ["full", "fills-up"])
def test_full_disk_degrades_with_one_warning(wemu, mount_factory, tmp_path, how):
    """cache_dir on a small tmpfs: filled to the last byte before the mount
    ("full"), or 4 MiB that the first blocks fill ("fills-up", cache_max
    far above it). The mount works, every read is byte-exact, one warning
    line about the cache and no error line; no temporary file is left."""
    emu = wemu
    with _tmpfs(tmp_path / "small", "1m" if how == "full" else "4m") as cache:
        if how == "full":
            _fill(cache)
        m = mount_factory(emu, *_opts(cache))
        for i in (0, 1):
            _assert_read_exact(m, emu, i, "with a full cache_dir")
        _assert_read_exact(m, emu, 0, "again with a full cache_dir")
        dc = _dc(m)
        blocks = _blocks(cache)[0]
        assert dc["size"] == sum(b[2] for b in blocks.values()), (dc, blocks)
        if how == "full":
            assert dc["stored"] == 0 and not blocks, (dc, blocks)
        m.stop()  # before the tmpfs goes: the daemon holds DIR/lock
        _one_cache_warning(m)
        assert not _tmp_files(cache), "temporary files left: %r" % _tmp_files(cache)
        # What did fit is whole and right: a block of obj-0 or of obj-1.
        for path, (_key, index, fsize) in blocks.items():
            ok = []
            for i in (0, 1):
                try:
                    _check_block_file(path, index, _src(emu, i))
                    ok.append(i)
                except AssertionError:
                    pass
            assert ok, "%s (%d bytes) holds no block %d of either object" % (path, fsize, index)


def test_cache_dir_without_o_direct_stores_every_block(wemu, mount_factory, tmp_path):
    """Blocks are written with O_DIRECT where the file system takes it; a
    ramfs does not (it creates the file, then refuses): blocks are written
    the ordinary way instead, every one, with no warning and no temporary
    file left, and the next mount reads them with one request."""
    emu = wemu
    with _tmpfs(tmp_path / "ram", None, fstype="ramfs") as cache:
        nb = _nblocks(SIZES[0])
        m = mount_factory(emu, *_opts(cache))
        try:
            _assert_read_exact(m, emu, 0, "with cache_dir on a ramfs")
            _wait_stored(m, nb, emu=emu)
        finally:
            m.stop()  # before the ramfs goes: the daemon holds DIR/lock
        assert not _warnings(m), m.stderr()
        assert not _tmp_files(cache), "temporary files left: %r" % _tmp_files(cache)
        assert len(_blocks(cache)[0]) == nb, _blocks(cache)
        emu.reset()
        m2 = mount_factory(emu, *_opts(cache))
        _assert_read_exact(m2, emu, 0, "after the remount, from the ramfs")
        assert emu.stats()["store"]["requests"] <= 1, emu.stats()["store"]
        m2.stop()


@pytest.mark.parametrize("where", ["ro-root", "ro-missing-subdir"])
def test_read_only_cache_dir_mounts_uncached_with_one_warning(wemu, mount_factory, tmp_path,
                                                              where):
    """cache_dir on a read-only file system (root ignores mode bits, so a
    read-only tmpfs): the tmpfs itself, or a directory to be created on it.
    The mount works without a disk cache, reads are byte-exact, one warning
    line, no error line."""
    emu = wemu
    with _tmpfs(tmp_path / "ro", "1m") as ro:
        r = subprocess.run(["mount", "-o", "remount,ro", str(ro)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            pytest.skip("cannot remount read-only: %s" % r.stdout.decode(errors="replace"))
        cache = ro if where == "ro-root" else ro / "cache"
        m = mount_factory(emu, *_opts(cache))
        _assert_read_exact(m, emu, 1, "with a read-only cache_dir")
        _assert_read_exact(m, emu, 1, "again with a read-only cache_dir")
        s = _stats(m)
        if "disk_cache" in s:
            assert s["disk_cache"]["stored"] == 0 and s["disk_cache"]["hits"] == 0, s
        m.stop()
        _one_cache_warning(m)


def test_cache_dir_removed_while_mounted_keeps_reads_exact(wemu, mount_factory, tmp_path):
    """cache_size=4M holds a few blocks in memory, so a second read of a file
    in the same mount comes from disk (one validation request); then the
    whole cache_dir is removed (rm -rf): reads of a cached file and of a new
    one stay byte-exact, the vanished blocks count as dropped, one warning
    line and no error line; the mount unmounts cleanly."""
    emu = wemu
    cache = tmp_path / "cache"
    m = mount_factory(emu, *_opts(cache, "cache_size=4M"))
    _assert_read_exact(m, emu, 0)
    _wait_stored(m, _nblocks(SIZES[0]), emu=emu)
    emu.reset()
    _assert_read_exact(m, emu, 0, "from disk in the same mount")
    st = emu.stats()["store"]
    assert st["requests"] <= 1, "a re-read in the same mount did not use the disk: %r" % st
    hits = _dc(m)["hits"]
    assert hits > 0, _dc(m)

    shutil.rmtree(cache)
    emu.reset()
    _assert_read_exact(m, emu, 0, "after rm -rf cache_dir")
    assert emu.stats()["store"]["bytes"] >= SIZES[0] - 4 * MiB - KiB64, emu.stats()["store"]
    _assert_read_exact(m, emu, 1, "of a new file after rm -rf cache_dir")
    _assert_read_exact(m, emu, 0, "once more after rm -rf cache_dir")
    dc = _dc(m)
    assert dc["dropped"] >= 1, dc
    m.stop()
    _one_cache_warning(m)
