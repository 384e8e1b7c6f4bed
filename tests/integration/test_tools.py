"""Ordinary tools on the mount: cp -r, rsync -a (twice), tar."""

import os
import re
import shutil
import subprocess

import pytest

from treewalk import expected_objects, object_key, refused_keys, sha256_file, walk


def _run(argv, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=kw.pop("timeout", 120), **kw)
    assert r.returncode == 0, "%s exited %d:\n%s\n%s" % (
        argv, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


def _tree_sha(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root)] = sha256_file(p)
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root) + "/"] = None
    return out


def _source_sha_by_rel(emu, m):
    """{rel path in the mount: sha256 of the source object} from the xattrs, for
    every directory and every file a tool can read (not the refused ones)."""
    want = expected_objects(emu.world)
    out = {}
    for e in walk(m.path):
        if e.is_dir:
            out[e.rel + "/"] = None
        else:
            key = object_key(e)
            if want[key]["refused"]:
                continue
            out[e.rel] = sha256_file(emu.object_path(want[key]["cluster"]["ClusterId"], key[1]))
    return out


def _refused_rels(emu, m):
    """Rel paths of the files the provider refuses to let anyone download."""
    refused = refused_keys(emu.world)
    return {e.rel for e in walk(m.path) if not e.is_dir and object_key(e) in refused}


def test_cp_r_cluster_directory(demo_mount, emu, tmp_path):
    src = demo_mount.p("cn-bj2", "orders-prod")
    dst = tmp_path / "copy"
    _run(["cp", "-r", src, str(dst)])
    got = _tree_sha(str(dst))
    want = {k[len("cn-bj2/orders-prod/"):]: v
            for k, v in _source_sha_by_rel(emu, demo_mount).items()
            if k.startswith("cn-bj2/orders-prod/") and k != "cn-bj2/orders-prod/"}
    assert got == want
    assert "oplog/" in got and "logs/" in got


def test_cp_r_sharded_cluster(demo_mount, emu, tmp_path):
    # The newest batch cannot be downloaded (the provider refuses it): cp copies
    # everything else and fails on just those files, naming each.
    refused = {r for r in _refused_rels(emu, demo_mount) if r.startswith("cn-bj2/analytics/")}
    assert len(refused) == 3
    demo_mount.expect_error(r"does not support download|RetCode 1801[01]")
    dst = tmp_path / "an"
    r = subprocess.run(["cp", "-r", demo_mount.p("cn-bj2", "analytics"), str(dst)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, "cp exited %d:\n%s" % (r.returncode, err)
    lines = err.splitlines()
    assert len(lines) == len(refused), err
    for rel in refused:
        assert sum(rel.split("/", 2)[2] in ln for ln in lines) == 1, (rel, err)
    want = {k[len("cn-bj2/analytics/"):]: v
            for k, v in _source_sha_by_rel(emu, demo_mount).items()
            if k.startswith("cn-bj2/analytics/") and k != "cn-bj2/analytics/"}
    assert _tree_sha(str(dst)) == want


def test_rsync_twice_second_transfers_nothing(demo_mount, emu, tmp_path):
    if not shutil.which("rsync"):
        pytest.skip("rsync is not installed")
    dst = tmp_path / "mirror"
    # Files the provider refuses to let anyone download are left out.
    excludes = ["--exclude=/" + rel for rel in sorted(_refused_rels(emu, demo_mount))]
    assert len(excludes) == 4
    out1 = _run(["rsync", "-a", "--stats"] + excludes + [demo_mount.path + "/", str(dst) + "/"])
    n1 = int(re.search(r"Number of regular files transferred: ([\d,]+)", out1).group(1)
             .replace(",", ""))
    want = _source_sha_by_rel(emu, demo_mount)
    assert n1 == sum(1 for v in want.values() if v is not None)
    assert _tree_sha(str(dst)) == want
    out2 = _run(["rsync", "-a", "--stats", "--itemize-changes"] + excludes +
                [demo_mount.path + "/", str(dst) + "/"])
    assert "Number of regular files transferred: 0" in out2, out2
    changed = [ln for ln in out2.splitlines() if re.match(r"^[<>ch.][fdLDS]\S{9} ", ln)
               and not ln.startswith(".d")]
    assert not changed, "second rsync changed: %r" % changed
    # rsync -a kept the mount's times: EndTime of each backup.
    st = os.stat(dst / "cn-bj2" / "orders-prod" / "orders-prod-auto-2026-11-27.tar.gz")
    assert st.st_mtime == emu.cluster("udb-orders01")["backups"][2]["EndTime"]


def test_tar_tzf_demo_backup(demo_mount):
    out = _run(["tar", "tzf", demo_mount.p("cn-bj2", "orders-prod",
                                           "orders-prod-auto-2026-11-27.tar.gz")])
    assert out.split() == ["dump/shop/orders.json", "dump/shop/orders.metadata.json"]
    out = _run(["tar", "xzOf", demo_mount.p("cn-bj2", "orders-prod", "oplog",
                                            "orders-prod-oplog-2026-11-27T06.tar.gz"),
                "dump/local/oplog.rs.json"])
    assert len(out.splitlines()) == 3000
    out = _run(["tar", "tzf", demo_mount.p("cn-bj2", "orders-prod", "logs",
                                           "slowlog-2026-11-27")])
    assert out.split() == ["mongod-slow.log"]
