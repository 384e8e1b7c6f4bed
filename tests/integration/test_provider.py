"""The provider as it really answers (docs/provider-api.md): empty lists without
DataSet, numbers as strings, backups it will not hand out, configuration
errors, and what the service knows shown as xattrs."""

import errno
import hashlib
import os
import re
import subprocess
import time

import pytest

from mount import errno_of, require_fuse, run_oneshot, clean_env, umongofs_bin, is_mounted, \
    fusermount_unmount
from treewalk import XP, expected_objects, object_key, sha256_file, walk

SHARDED_REFUSED = "cn-bj2/analytics/analytics-auto-2026-11-28/udb-analytics01-shard0"
SNAPSHOT = "cn-bj2/inventory/inventory-snapshot-2026-11-28"
REFUSAL_LOG = r"backup bk-inv-snapshot of cluster udb-inventory01: the provider will not hand out"


def _names(path):
    return sorted(os.listdir(path))


@pytest.mark.parametrize("mode", ["omit", "null", "list"])
def test_empty_lists_are_empty_directories(emu, mount_factory, mode):
    """However the provider spells "none", a region without clusters is an
    empty directory and a cluster without log packages has no logs/."""
    emu.config(empty_dataset=mode)
    m = mount_factory(emu)
    assert "cn-sh2" in _names(m.path)
    assert _names(m.p("cn-sh2")) == []
    inv = _names(m.p("cn-bj2", "inventory"))
    assert "logs" not in inv and "inventory-auto-2026-11-27.tar.gz" in inv
    assert "logs" in _names(m.p("cn-bj2", "orders-prod"))
    assert emu.stats()["api"].get("ListUMongoDBLogPackage", 0) >= 2


def test_numbers_as_strings_whole_tree_byte_exact(emu, mount_factory):
    """RetCode and every number as decimal text: the same tree, sizes, times
    and bytes as with numbers."""
    emu.config(numbers_as_strings=True)
    m = mount_factory(emu)
    want = expected_objects(emu.world)
    files = [e for e in walk(m.path) if not e.is_dir]
    assert len(files) == len(want)
    checked = 0
    for e in files:
        info = want[object_key(e)]
        if info["refused"]:
            continue
        src = emu.object_path(info["cluster"]["ClusterId"], object_key(e)[1])
        if not object_key(e)[1].startswith("bk-inv-size"):  # listed wrong on purpose
            assert e.st.st_size == os.path.getsize(src), e.rel
        end = info["obj"].get("EndTime")
        if isinstance(end, int) and end > 0:
            assert int(e.st.st_mtime) == end, e.rel
        with open(e.path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha256_file(src), e.rel
        checked += 1
    assert checked >= 15
    api = emu.stats()["api"]
    assert api.get("ListUMongoDBBackup", 0) >= 5, api


def _open_errno(path):
    return errno_of(lambda: open(path, "rb").close())


def test_refused_backups_fail_open_with_eperm_once(emu, mount_factory):
    m = mount_factory(emu, expect_errors=[r"the provider will not hand out"])
    # Listed like any backup, with a size and the usual attributes.
    st = os.stat(m.p(SNAPSHOT))
    assert st.st_size > 0 and st.st_mode & 0o444
    t0 = time.monotonic()
    assert _open_errno(m.p(SNAPSHOT)) == errno.EPERM
    assert time.monotonic() - t0 < 2, "a refusal is not retried"
    before = emu.stats()["api"].get("DescribeUMongoDBBackupURL", 0)
    for _ in range(5):
        assert _open_errno(m.p(SNAPSHOT)) == errno.EPERM
    assert emu.stats()["api"].get("DescribeUMongoDBBackupURL", 0) == before, \
        "repeated opens of a refused backup called the API again"

    # cp shows the user what happened.
    r = subprocess.run(["cp", m.p(SNAPSHOT), os.devnull], capture_output=True, text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r.stderr

    # The sharded batch the provider refuses: each of its files, the same way.
    batch = os.path.dirname(m.p(SHARDED_REFUSED))
    for name in _names(batch):
        assert _open_errno(os.path.join(batch, name)) == errno.EPERM, name

    # Neighbours are unaffected: same cluster, same directory, other batches.
    with open(m.p("cn-bj2", "inventory", "inventory-auto-2026-11-27.tar.gz"), "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    with open(m.p("cn-bj2", "analytics", "analytics-auto-2026-11-27",
                  "udb-analytics01-shard0"), "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    assert "inventory-snapshot-2026-11-28" in _names(m.p("cn-bj2", "inventory"))

    # One log line per refused object, quoting the provider with the ids.
    m.unmount()
    log = m.stderr()
    lines = [ln for ln in log.splitlines() if "will not hand out" in ln]
    snap = [ln for ln in lines if "bk-inv-snapshot" in ln]
    assert len(snap) == 1, log
    assert "snapshot backup does not support download" in snap[0] and "18011" in snap[0]
    assert re.search(REFUSAL_LOG, snap[0]), snap[0]
    shard = [ln for ln in lines if "bk-an-28-shard0" in ln]
    assert len(shard) == 1 and "sharded cluster backup does not support download yet" in shard[0]


def _failing_mount(tmp_path, emu, options=(), keys=("demo-public-key", "demo-private-key")):
    require_fuse()
    mnt = tmp_path / "mnt-fail"
    mnt.mkdir(exist_ok=True)
    argv = [umongofs_bin(), "-f", "-o", ",".join(["api_url=" + emu.api_url] + list(options)),
            str(mnt)]
    try:
        r, took = run_oneshot(argv, clean_env(keys, home=str(tmp_path)), timeout=60)
    finally:  # even when it timed out: never leave a mount behind
        left = is_mounted(str(mnt))
        if left:
            fusermount_unmount(str(mnt), lazy=True)
    if left:
        pytest.fail("a failed mount left %s mounted" % mnt)
    lines = [ln for ln in r.stderr.decode(errors="replace").splitlines() if ln.strip()]
    return r.returncode, took, lines


def test_wrong_project_fails_mount_with_one_line(emu, tmp_path):
    rc, took, lines = _failing_mount(tmp_path, emu, ["project_id=org-typo"])
    assert rc != 0 and took < 5
    assert len(lines) == 1, lines
    assert "292" in lines[0] and "org-typo" in lines[0] and "project_id" in lines[0], lines


def test_project_known_to_getregion_only_fails_mount(emu, tmp_path):
    """Where GetRegion does not look at ProjectId, the first listing does:
    the mount still fails at start, not later as missing files."""
    emu.config(api_retcode={"code": 292, "count": 100, "action": "ListUMongoDBInstances",
                            "message": "Project [org-demo] not exist"})
    rc, took, lines = _failing_mount(tmp_path, emu)
    assert rc != 0 and took < 5
    assert len(lines) == 1 and "292" in lines[0], lines


def test_iam_denial_on_backup_service_fails_mount(emu, tmp_path):
    emu.config(api_retcode={"code": 299, "count": 100, "action": "ListUMongoDBInstances",
                            "message": "IAM permission check failed"})
    rc, took, lines = _failing_mount(tmp_path, emu)
    assert rc != 0 and took < 5
    assert len(lines) == 1 and "299" in lines[0] and "denies" in lines[0], lines


def test_config_errors_after_start_are_never_enoent(emu, mount_factory):
    """292 or a permission code after the mount is up: listed directories keep
    their listing, unlisted ones say EACCES (never 'no such file')."""
    m = mount_factory(emu, "dir_ttl=0", expect_errors=[r"permission denied", r"RetCode 29[29]",
                                                       r"listing refresh failed"])
    orders = _names(m.p("cn-bj2", "orders-prod"))
    for code in (292, 299):
        emu.config(api_retcode={"code": code, "count": 1000, "message": "injected"})
        assert _names(m.p("cn-bj2", "orders-prod")) == orders
        assert os.path.isdir(m.p("cn-bj2", "orders-prod"))
        assert errno_of(os.listdir, m.p("cn-bj2", "inventory")) == errno.EACCES
        assert errno_of(os.listdir, m.p("hk", "ops_hk_tools")) == errno.EACCES
        emu.config(api_retcode=None)


def _xattr(path, name):
    try:
        return os.getxattr(path, XP + name).decode()
    except OSError as e:
        return e.errno


def test_service_xattrs(emu, mount_factory):
    m = mount_factory(emu)
    world = {c["ClusterId"]: c for c in emu.world["clusters"]}
    # The address, without the user:password the listing carries.
    stg = m.p("cn-bj2", "staging~udb-staging02")
    assert _xattr(stg, "connect_url") == "mongodb://10.9.1.20:27017/admin"
    assert "s3cret" not in subprocess.run(["getfattr", "-d", stg], capture_output=True,
                                          text=True).stdout
    orders = m.p("cn-bj2", "orders-prod")
    assert _xattr(orders, "connect_url") == world["udb-orders01"]["ConnectURL"]
    assert _xattr(orders, "ipv6_connect_url") == world["udb-orders01"]["IPv6ConnectURL"]
    assert _xattr(orders, "state") == "Running"
    # The restore space and the method, where the listing has them.
    f = os.path.join(orders, "orders-prod-auto-2026-11-26.tar.gz")
    b = next(x for x in world["udb-orders01"]["backups"]
             if x["BackupId"] == "bk-orders-auto-26")
    assert _xattr(f, "disk_size") == str(b["DiskSize"])
    assert _xattr(f, "backup_method") == "logical"
    assert _xattr(os.path.join(orders, "orders-prod-auto-2026-11-25.tar.gz"),
                  "backup_method") == errno.ENODATA
    assert _xattr(m.p(SNAPSHOT), "backup_method") == "snapshot"

    # The restore window: asked once, when the cluster's xattrs are first
    # listed or read; ls does neither.
    before = emu.stats()["api"].get("GetUMongoDBRecoverTimeRange", 0)
    subprocess.run(["ls", "-la", m.p("cn-bj2")], check=True, capture_output=True)
    assert emu.stats()["api"].get("GetUMongoDBRecoverTimeRange", 0) == before
    names = os.listxattr(orders)
    assert XP + "recover_earliest" in names and XP + "recover_latest" in names
    rng = world["udb-orders01"]["recover_time_range"]
    assert _xattr(orders, "recover_earliest") == str(rng["EarliestTime"])
    assert _xattr(orders, "recover_latest") == str(rng["LatestTime"])
    assert emu.stats()["api"].get("GetUMongoDBRecoverTimeRange", 0) == before + 1
    # A cluster without a window: no xattr, and no longer listed.
    inv = m.p("cn-bj2", "inventory")
    assert _xattr(inv, "recover_earliest") == errno.ENODATA
    assert XP + "recover_earliest" not in os.listxattr(inv)
    # Files and regions have none.
    assert _xattr(f, "recover_earliest") == errno.ENODATA
    assert _xattr(m.p("cn-bj2"), "recover_latest") == errno.ENODATA


def test_recover_window_left_out_when_action_unknown(emu, mount_factory):
    emu.config(unknown_actions=["GetUMongoDBRecoverTimeRange"])
    m = mount_factory(emu)
    orders = m.p("cn-bj2", "orders-prod")
    assert _xattr(orders, "recover_earliest") == errno.ENODATA
    for c in ("orders-prod", "analytics", "inventory"):
        names = os.listxattr(m.p("cn-bj2", c))
        assert XP + "recover_earliest" not in names and XP + "cluster_id" in names
        assert _xattr(m.p("cn-bj2", c), "recover_latest") == errno.ENODATA
    r = subprocess.run(["getfattr", "-d", orders], capture_output=True, text=True)
    assert r.returncode == 0 and XP + "cluster_id" in r.stdout and XP + "recover" not in r.stdout
    assert emu.stats()["api"].get("GetUMongoDBRecoverTimeRange", 0) == 1
