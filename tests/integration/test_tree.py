"""The mounted tree against the emulator's world: shape, names, xattrs, modes,
times and inode numbers (README.md, "What it is" and "Names, attributes, errors")."""

import errno
import os
import stat
import time

import pytest

from mount import errno_of, wait_until
from treewalk import XP, expected_objects, name_is_safe, object_key, visible_clusters, \
    visible_regions, walk


def _by_rel(entries):
    return {e.rel: e for e in entries}


def _check_tree(world, entries, project="org-demo", regions=None, show_all=False):
    """Every visible object exactly once, in its place; nothing else."""
    rel = _by_rel(entries)
    want_regions = visible_regions(world, regions)
    top = [e for e in entries if len(e.parts) == 1]
    assert sorted(e.xattrs.get(XP + "region") for e in top) == sorted(want_regions), \
        "one directory per region (deduplicated, filtered): %r" % [e.rel for e in top]
    for e in top:
        assert e.is_dir and e.name == e.xattrs[XP + "region"]

    clusters = {c["ClusterId"]: c for c in visible_clusters(world, project, regions)}
    cdirs = [e for e in entries if len(e.parts) == 2]
    seen = {}
    for e in cdirs:
        assert e.is_dir, e.rel
        cid = e.xattrs.get(XP + "cluster_id")
        assert cid in clusters, "unexpected cluster dir %r (%r)" % (e.rel, cid)
        assert cid not in seen, "cluster %s twice: %s and %s" % (cid, seen[cid], e.rel)
        seen[cid] = e.rel
        assert rel[e.parts[0]].xattrs[XP + "region"] == clusters[cid]["Region"], e.rel
    assert set(seen) == set(clusters), "missing clusters: %r" % (set(clusters) - set(seen))

    want = expected_objects(world, project, regions, show_all)
    found = {}
    for e in entries:
        if e.is_dir:
            continue
        key = object_key(e)
        assert key is not None, "file without backup_id/package_id xattr: %r" % e.rel
        assert key in want, "file %r is %r, which should not be shown" % (e.rel, key)
        assert key not in found, "%r shown twice: %s and %s" % (key, found[key], e.rel)
        found[key] = e.rel
        info = want[key]
        cdir = rel["/".join(e.parts[:2])]
        assert cdir.xattrs[XP + "cluster_id"] == info["cluster"]["ClusterId"], e.rel
        assert rel[e.parts[0]].xattrs[XP + "region"] == info["region"], e.rel
        if info["kind"] == "backup" and info["batch"] is None:
            assert len(e.parts) == 3, "%r belongs directly in its cluster dir" % e.rel
        else:
            assert len(e.parts) == 4, "%r should be one level below its cluster" % e.rel
            parent = rel["/".join(e.parts[:3])]
            if info["kind"] == "oplog":
                assert e.parts[2] == "oplog", e.rel
            elif info["kind"] == "log":
                assert e.parts[2] == "logs", e.rel
            else:
                assert parent.xattrs.get(XP + "batch_id") == info["batch"], e.rel
    missing = set(want) - set(found)
    assert not missing, "objects not shown: %r" % sorted(missing)

    # Directories inside a cluster: batches, oplog/ and logs/ only when needed.
    for cid, crel in seen.items():
        kids = [e for e in entries if len(e.parts) == 3 and "/".join(e.parts[:2]) == crel
                and e.is_dir]
        mine = [v for v in want.values() if v["cluster"]["ClusterId"] == cid]
        want_dirs = {("batch", v["batch"]) for v in mine if v["batch"]}
        if any(v["kind"] == "oplog" for v in mine):
            want_dirs.add(("oplog", None))
        if any(v["kind"] == "log" for v in mine):
            want_dirs.add(("logs", None))
        got = set()
        for k in kids:
            if XP + "batch_id" in k.xattrs and k.name not in ("oplog", "logs"):
                got.add(("batch", k.xattrs[XP + "batch_id"]))
            else:
                assert k.name in ("oplog", "logs"), "unexpected directory %r" % k.rel
                got.add((k.name, None))
        assert got == want_dirs, "directories of %s: %r, want %r" % (crel, got, want_dirs)
    return want, found


def test_tree_matches_world_by_xattr(emu, mount_factory):
    m = mount_factory(emu)
    entries = walk(m.path)
    want, found = _check_tree(emu.world, entries)
    # The demo world's hard cases really are in there.
    assert ("b", "bk-inv-size-zero") in found and ("l", "101") in found
    assert ("b", "bk-orders-auto-24") not in want  # Failed: hidden
    assert ("b", "bk-other-27") not in want  # another project


def test_regions_filter(emu, mount_factory):
    m = mount_factory(emu, "regions=hk")
    entries = walk(m.path)
    assert sorted(os.listdir(m.path)) == ["hk"]
    _check_tree(emu.world, entries, regions=["hk"])
    assert errno_of(os.stat, m.p("cn-bj2")) == errno.ENOENT


def test_regions_filter_names_an_unknown_region(emu, mount_factory):
    m = mount_factory(emu, "regions=hk:cn-nowhere")
    assert sorted(os.listdir(m.path)) == ["hk"]
    err = m.stderr()
    assert "no region 'cn-nowhere'" in err and "cn-bj2" in err, err


def test_regions_filter_two(emu, mount_factory):
    m = mount_factory(emu, "regions=cn-bj2:hk")
    _check_tree(emu.world, walk(m.path), regions=["cn-bj2", "hk"])


def test_show_all_unfinished_visible_but_unreadable(emu, mount_factory):
    m = mount_factory(emu, "show_all")
    entries = walk(m.path)
    want, found = _check_tree(emu.world, entries, show_all=True)
    unfinished = [k for k, v in want.items() if not v["finished"]]
    assert ("b", "bk-orders-auto-24") in unfinished and ("b", "bk-orders-manual-2") in unfinished
    by_key = {object_key(e): e for e in entries if not e.is_dir}
    for k in unfinished:
        e = by_key[k]
        assert stat.S_IMODE(e.st.st_mode) == 0, "%s: mode %o" % (e.rel, e.st.st_mode)
        assert e.st.st_size == 0, e.rel
        assert errno_of(open, e.path, "rb") == errno.EACCES, e.rel
    for k, v in want.items():
        if v["finished"]:
            assert stat.S_IMODE(by_key[k].st.st_mode) == 0o444


def test_hidden_unfinished_not_found(demo_mount):
    # Not shown without show_all, and a lookup by the name it would have fails cleanly.
    d = demo_mount.p("cn-bj2", "orders-prod")
    names = os.listdir(d)
    assert "orders-prod-auto-2026-11-24.tar.gz" not in names
    assert "orders-prod-manual-running.tar.gz" not in names
    assert errno_of(os.stat, os.path.join(d, "orders-prod-manual-running.tar.gz")) == errno.ENOENT
    assert errno_of(os.stat, demo_mount.p("nowhere")) == errno.ENOENT
    assert errno_of(os.stat, demo_mount.p("cn-bj2", "no-such-cluster")) == errno.ENOENT


def _want_xattrs(kind, obj, cluster):
    if kind == "region":
        return {XP + "region": obj}
    if kind == "cluster":
        return {XP + "cluster_id": obj["ClusterId"], XP + "name": obj["Name"],
                XP + "zone": obj["Zone"], XP + "db_version": obj["DBVersion"],
                XP + "cluster_type": obj["ClusterType"], XP + "state": obj["State"]}
    if kind == "log":
        return {XP + "package_id": str(obj["Id"]), XP + "package_type": obj["PackageType"],
                XP + "node_id": obj["NodeId"]}
    w = {XP + "backup_id": obj["BackupId"], XP + "cluster_id": obj["ClusterId"],
         XP + "name": obj["BackupName"], XP + "zone": obj["Zone"],
         XP + "type": obj["BackupType"], XP + "state": obj["State"],
         XP + "start_time": str(obj["StartTime"]), XP + "end_time": str(obj["EndTime"])}
    if obj.get("BatchId"):
        w[XP + "batch_id"] = obj["BatchId"]
    return w


def test_xattrs_match_listing(emu, mount_factory):
    m = mount_factory(emu, "show_all")
    entries = walk(m.path)
    want = expected_objects(emu.world, show_all=True)
    clusters = {c["ClusterId"]: c for c in emu.world["clusters"]}
    checked = set()
    for e in entries:
        if len(e.parts) == 1:
            w = _want_xattrs("region", e.name, None)
        elif len(e.parts) == 2:
            w = _want_xattrs("cluster", clusters[e.xattrs[XP + "cluster_id"]], None)
        elif e.is_dir:
            continue
        else:
            info = want[object_key(e)]
            w = _want_xattrs("log" if info["kind"] == "log" else "backup", info["obj"],
                             info["cluster"])
            if info["kind"] != "log":
                assert (XP + "batch_id" in e.xattrs) == bool(info["obj"].get("BatchId")), e.rel
        for k, v in w.items():
            assert e.xattrs.get(k) == v, "%s: %s = %r, listing says %r" % (
                e.rel, k, e.xattrs.get(k), v)
            # getxattr answers the same as listxattr announced, and sizes are honest.
            assert os.getxattr(e.path, k) == v.encode()
        checked.add(e.rel)
    assert len(checked) > 20
    any_file = next(e for e in entries if not e.is_dir)
    assert errno_of(os.getxattr, any_file.path, XP + "no_such_attr") == errno.ENODATA
    assert errno_of(os.getxattr, any_file.path, "user.other") == errno.ENODATA


def test_names_safe_in_demo(demo_mount):
    entries = walk(demo_mount.path)
    for e in entries:
        assert name_is_safe(e.name), repr(e.rel)
    names = {e.rel for e in entries}
    # The two clusters named "staging" each carry their id; no plain "staging".
    assert "cn-bj2/staging~udb-staging01" in names and "cn-bj2/staging~udb-staging02" in names
    assert "cn-bj2/staging" not in names
    hk = [e for e in entries if len(e.parts) == 2 and e.parts[0] == "hk"]
    assert len(hk) == 1 and "/" not in hk[0].name and "\x07" not in hk[0].name


NAMES_WORLD_CLUSTER = "udb-names01"


def _names_spec():
    z = "cn-bj2-02"
    t0 = 1795000000

    def b(bid, name, i, **kw):
        d = {"BackupId": bid, "BackupName": name, "ClusterId": NAMES_WORLD_CLUSTER, "Zone": z,
             "State": "Success", "BackupSize": "auto", "BackupType": "auto",
             "StartTime": t0 + i * 60, "EndTime": t0 + i * 60 + 30,
             "content": {"bytes": "backup %s\n" % bid}}
        d.update(kw)
        return d

    long_ascii = "L" * 300
    long_utf8 = "\u00e9" * 200 + ".tar.gz"  # 407 bytes
    backups = [
        b("bk-dup-1", "dup.tar.gz", 1), b("bk-dup-2", "dup.tar.gz", 2),
        b("bk-dup-3", "dup.tar.gz", 3),
        b("bk-slash", "a/b", 4), b("bk-under", "a_b", 5),
        b("bk-dot", ".", 6), b("bk-dotdot", "..", 7), b("bk-empty", "", 8),
        b("bk-ctl", "tab\there\nnew\x7fdel", 9),
        b("bk-long", long_ascii, 10), b("bk-long-utf8", long_utf8, 11),
        b("bk-long-dup-1", long_ascii + "x", 12), b("bk-long-dup-2", long_ascii + "y", 13),
        b("bk-plain", "plain-unique.tar.gz", 14),
        b("bk-named-oplog", "oplog", 15), b("bk-named-logs", "logs", 16),
        b("bk-op-1", "op-1", 17, BackupType="oplog"),
        b("bk-utf8", "\u5907\u4efd-\u2603.tar.gz", 18),
    ]
    cl = {"Region": "cn-bj2", "Zone": z, "ClusterId": NAMES_WORLD_CLUSTER, "Name": "names",
          "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet", "State": "Running",
          "CreateTime": t0, "backups": backups, "log_packages": []}
    twins = [{"Region": "cn-bj2", "Zone": z, "ClusterId": "udb-twin%02d" % i, "Name": "twin/x",
              "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet", "State": "Running",
              "CreateTime": t0, "backups": []} for i in (1, 2)]
    return {"clusters": [cl] + twins}


def test_names_hostile_and_collisions(emulator_factory, mount_factory):
    emu = emulator_factory(_names_spec())
    m = mount_factory(emu)
    entries = walk(m.path)
    _check_tree(emu.world, entries)
    files = {object_key(e)[1]: e for e in entries if not e.is_dir}
    for e in entries:
        assert name_is_safe(e.name), repr(e.rel)
    # Unique in the directory: unchanged.
    assert files["bk-plain"].name == "plain-unique.tar.gz"
    assert files["bk-utf8"].name == "\u5907\u4efd-\u2603.tar.gz"
    # Collisions: every colliding entry gets ~ID, none keeps the bare name.
    for i in (1, 2, 3):
        assert files["bk-dup-%d" % i].name == "dup.tar.gz~bk-dup-%d" % i
    # "a/b" is made safe, and then it collides with "a_b": both get their id.
    assert files["bk-slash"].name.endswith("~bk-slash")
    assert files["bk-under"].name.endswith("~bk-under")
    assert files["bk-slash"].name != files["bk-under"].name
    for k in ("bk-dot", "bk-dotdot", "bk-empty", "bk-ctl"):
        assert name_is_safe(files[k].name)
    assert "tab" in files["bk-ctl"].name and "del" in files["bk-ctl"].name
    # Long names are cut to 255 bytes on a character boundary, even with ~ID.
    for k in ("bk-long", "bk-long-utf8", "bk-long-dup-1", "bk-long-dup-2"):
        raw = os.fsencode(files[k].name)
        assert len(raw) <= 255, k
        raw.decode("utf-8")  # still valid UTF-8
    assert files["bk-long"].name.startswith("L" * 200)
    assert files["bk-long-utf8"].name.startswith("\u00e9" * 100)
    # "...x" and "...y" cut to the same 255 bytes collide: each keeps its id.
    assert files["bk-long-dup-1"].name != files["bk-long-dup-2"].name
    assert files["bk-long-dup-1"].name.endswith("~bk-long-dup-1")
    # A backup called "oplog"/"logs" does not take the place of the oplog/ directory.
    cdir = m.p("cn-bj2", "names")
    assert os.path.isdir(os.path.join(cdir, "oplog"))
    assert files["bk-named-oplog"].name != "oplog"
    assert files["bk-op-1"].parts[2] == "oplog"
    assert files["bk-named-logs"].name != "logs" or not os.path.isdir(os.path.join(cdir, "logs"))
    # Every name is unique in its directory (the kernel would not show it otherwise).
    assert len(set(os.listdir(cdir))) == len(os.listdir(cdir))
    twins = sorted(e.name for e in entries if len(e.parts) == 2 and "twin" in e.name)
    assert twins == ["twin_x~udb-twin01", "twin_x~udb-twin02"]
    # Every file reads back its own bytes (the names lead to the right objects).
    for k, e in files.items():
        with open(e.path, "rb") as f:
            assert f.read() == ("backup %s\n" % k).encode(), e.rel


def test_names_stable_across_relisting(emulator_factory, mount_factory):
    emu = emulator_factory(_names_spec())
    m = mount_factory(emu, "dir_ttl=1")
    before = {object_key(e): e.rel for e in walk(m.path) if not e.is_dir}
    world = emu.world
    for c in world["clusters"]:
        c["backups"] = list(reversed(c["backups"]))
    world["clusters"] = list(reversed(world["clusters"]))
    emu.set_world(world)
    time.sleep(1.1)  # dir_ttl=1: time() has moved on by >= 1 s
    after = {object_key(e): e.rel for e in walk(m.path) if not e.is_dir}
    assert after == before, "names moved when the provider answered in another order"


def test_modes_and_owner_default(demo_mount):
    for e in walk(demo_mount.path, xattrs=False):
        want = 0o555 if e.is_dir else 0o444
        assert stat.S_IMODE(e.st.st_mode) == want, "%s: %o" % (e.rel, e.st.st_mode)
        assert (e.st.st_uid, e.st.st_gid) == (os.getuid(), os.getgid()), e.rel
    st = os.stat(demo_mount.path)
    assert stat.S_IMODE(st.st_mode) == 0o555 and stat.S_ISDIR(st.st_mode)


def test_uid_gid_options(emu, mount_factory):
    m = mount_factory(emu, "uid=1234,gid=4321")
    entries = walk(m.path, xattrs=False)
    assert entries
    for e in entries:
        assert (e.st.st_uid, e.st.st_gid) == (1234, 4321), e.rel
        want = 0o555 if e.is_dir else 0o444
        assert stat.S_IMODE(e.st.st_mode) == want, e.rel


def test_umask_option(emu, mount_factory):
    m = mount_factory(emu, "uid=1234,gid=4321,umask=027")
    entries = walk(m.path, xattrs=False)
    assert entries
    for e in entries:
        assert (e.st.st_uid, e.st.st_gid) == (1234, 4321), e.rel
        want = (0o555 if e.is_dir else 0o444) & ~0o027
        assert stat.S_IMODE(e.st.st_mode) == want, "%s: mode %o, want %o" % (
            e.rel, stat.S_IMODE(e.st.st_mode), want)


def _obj_mtime(info):
    o = info["obj"]
    if info["kind"] == "log":
        return None
    return o.get("EndTime") or o.get("StartTime")


def test_mtimes_file_endtime_dir_newest_child(emu, mount_factory):
    m = mount_factory(emu)
    walk(m.path)  # list everything once
    time.sleep(1.2)  # the first walk listed everything: the kernel was told what changed
    entries = walk(m.path)
    want = expected_objects(emu.world)
    for e in entries:
        if not e.is_dir:
            info = want[object_key(e)]
            t = _obj_mtime(info)
            if t is not None:
                assert e.st.st_mtime == t, "%s: mtime %d, EndTime %d" % (e.rel, e.st.st_mtime, t)
            else:
                o = info["obj"]
                assert e.st.st_mtime in (o.get("FinishTime"), o.get("End"), o.get("CreateTime"))
    # Directories below the root: their newest child's time.
    _check_dir_mtimes(entries, [e for e in entries if e.is_dir])


def _check_dir_mtimes(entries, dirs):
    for d in dirs:
        kids = [e for e in entries if len(e.parts) == len(d.parts) + 1 and
                e.parts[:len(d.parts)] == d.parts]
        if kids:
            newest = max(k.st.st_mtime for k in kids)
            assert d.st.st_mtime == newest, "%r: mtime %d, newest child %d" % (
                d.rel or "/", d.st.st_mtime, newest)


def test_root_mtime_is_newest_region(emu, mount_factory):
    m = mount_factory(emu)
    walk(m.path)
    time.sleep(1.2)
    entries = walk(m.path, xattrs=False)
    root = type(entries[0])(m.path, "", (), "", True, os.stat(m.path), {})
    _check_dir_mtimes(entries, [root])


def test_inodes_stable_after_dir_ttl(emu, mount_factory):
    m = mount_factory(emu, "dir_ttl=1")
    first = {e.rel: e.st.st_ino for e in walk(m.path, xattrs=False)}
    assert len(set(first.values())) == len(first), "inode numbers are not unique"
    assert os.stat(m.path).st_ino not in first.values()
    time.sleep(1.1)  # dir_ttl=1: time() has moved on by >= 1 s
    emu.reset()
    second = {e.rel: e.st.st_ino for e in walk(m.path, xattrs=False)}
    assert emu.stats()["api"].get("ListUMongoDBBackup", 0) > 0, "dir_ttl=1 did not re-list"
    assert second == first


def _one_backup_world(listed_size, end_time):
    z = "cn-bj2-02"
    b = {"BackupId": "bk-k1", "BackupName": "k1.tar.gz", "ClusterId": "udb-k01", "Zone": z,
         "State": "Success", "BackupSize": listed_size, "BackupType": "manual",
         "StartTime": 1795000000, "EndTime": end_time, "content": {"random": 5000, "seed": 3}}
    return {"clusters": [{"Region": "cn-bj2", "Zone": z, "ClusterId": "udb-k01", "Name": "k",
                          "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet",
                          "State": "Running", "CreateTime": 1795000000, "backups": [b]}]}


def test_a_refresh_that_changes_attributes_reaches_the_kernel_at_once(emulator_factory,
                                                                      mount_factory):
    # The kernel keeps attributes as long as a listing is trusted (dir_ttl).
    # When a refresh changes them (a size, a time), umongofs tells the kernel
    # to forget the old ones: stat shows the new values right after the
    # refresh, not a dir_ttl later (an old, smaller st_size would cut reads).
    emu = emulator_factory(_one_backup_world(1000, 1795000100))
    m = mount_factory(emu, "dir_ttl=4")
    f = m.p("cn-bj2", "k", "k1.tar.gz")
    d = m.p("cn-bj2", "k")
    assert os.stat(f).st_size == 1000
    # Listed just now: the directory's time becomes its newest child's, and
    # the kernel is told within a moment.
    assert wait_until(lambda: os.stat(d).st_mtime == 1795000100, 2, 0.05)
    world = emu.world
    world["clusters"][0]["backups"][0].update(BackupSize=5000, EndTime=1795000200)
    emu.set_world(world)
    time.sleep(4.2)  # the listing is stale; the kernel's attributes are not yet
    emu.reset()
    assert os.listdir(d) == ["k1.tar.gz"]  # served stale, refreshed behind
    t0 = time.monotonic()

    def fresh():
        return os.stat(f).st_size == 5000 and os.stat(d).st_mtime == 1795000200

    while not fresh() and time.monotonic() - t0 < 2:
        time.sleep(0.05)
    took = time.monotonic() - t0
    print("new attributes visible %.2fs after the stale listing was served" % took)
    assert emu.stats()["api"].get("ListUMongoDBBackup", 0) >= 1
    assert fresh(), "stat still shows the old attributes %.1fs after the refresh" % took
    with open(f, "rb") as fh:
        assert len(fh.read()) == 5000
