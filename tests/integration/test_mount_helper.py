"""mount(8), /etc/fstab and mount.fuse3 (README "fstab and systemd",
umongofs(1) FSTAB).

`mount -t fuse.umongofs SOURCE MNT -o ...` runs /sbin/mount.fuse3, which
runs `umongofs SOURCE MNT -o ...` through /bin/sh. mount(8) drops PATH, HOME
and SHELL from the helper's environment and mount.fuse3 sets HOME=/root, so
umongofs must be on the shell's default path (/usr/local/bin, /usr/bin, ...)
and a root mount reads /root/.dezai. Each test runs in a mount namespace of
its own (session_helper.py) with the daemon under test bound over
/usr/local/bin and a test home over /root: nothing of it is visible to the
rest of the machine, and nothing is installed."""

import json
import os
import shutil

import pytest

from mount import DEMO_KEYS, find_daemon_pids, fusermount_unmount, is_mounted, pid_alive, \
    require_fuse, umongofs_bin
from session_helper import Session

PROFILE = "fstab-prof"


def _need_root_tools():
    require_fuse()
    if os.geteuid() != 0:
        pytest.skip("mount(8) of a fuse.umongofs filesystem needs root")
    for tool in ("unshare", "mount", "umount", "findmnt"):
        if not shutil.which(tool):
            pytest.skip("%s is missing (util-linux)" % tool)
    if not os.path.exists("/sbin/mount.fuse3") and not shutil.which("mount.fuse3"):
        pytest.skip("mount.fuse3 is missing (Debian package fuse3)")


def make_root_home(base, profile=PROFILE):
    """What /root looks like to the mount: ~/.dezai/credential.json with the
    demo keys under `profile` only (no "default": SOURCE must choose it)."""
    home = base / "roothome"
    (home / ".dezai").mkdir(parents=True)
    os.chmod(home, 0o700)
    os.chmod(home / ".dezai", 0o700)
    cred = home / ".dezai" / "credential.json"
    cred.write_text(json.dumps([{"profile": profile, "public_key": DEMO_KEYS[0],
                                 "private_key": DEMO_KEYS[1]}]))
    os.chmod(cred, 0o600)
    return home


class MountScene:
    """A mount namespace where /usr/local/bin holds `umongofs` (or nothing)
    and /root is a test home; every mount made in it dies with it."""

    def __init__(self, tmp_path, binary=None, extra_binds=()):
        self.mnt = tmp_path / "mnt"
        self.mnt.mkdir()
        bindir = tmp_path / "usr-local-bin"
        bindir.mkdir()
        if binary:
            os.symlink(binary, bindir / "umongofs")
        binds = [(bindir, "/usr/local/bin"), (make_root_home(tmp_path), "/root")]
        self.session = Session(binds=list(binds) + list(extra_binds), namespace=True)

    def run(self, *argv, timeout=60):
        return self.session.run([str(a) for a in argv], timeout=timeout)

    def mounted(self):
        r = self.run("findmnt", "-n", "-o", "FSTYPE,OPTIONS", "-M", self.mnt)
        return r["out"].split() if r["rc"] == 0 else None

    def daemon_argv(self, pid):
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]

    def close(self):
        self.session.close()
        # The helper ends what it adopted; anything that escaped it is ended here.
        left = [p for p in find_daemon_pids(str(self.mnt)) if pid_alive(p)]
        for p in left:
            os.kill(p, 9)
        if is_mounted(str(self.mnt)):  # never: the mount lives in the namespace
            fusermount_unmount(str(self.mnt), lazy=True)
        return left


@pytest.fixture
def scene(tmp_path):
    _need_root_tools()
    scenes = []

    def make(**kw):
        s = MountScene(tmp_path, **kw)
        scenes.append(s)
        return s

    yield make
    escaped = []
    for s in scenes:
        escaped += s.close()
    assert not escaped, "umongofs processes outlived their test: %s" % escaped


def _check_mounted_and_stop(sc, unmount_argv):
    fs = sc.mounted()
    assert fs and fs[0] == "fuse.umongofs", fs
    assert "ro" in fs[1].split(","), fs
    r = sc.run("ls", sc.mnt)
    assert r["rc"] == 0 and r["out"].split() == ["cn-bj2", "cn-sh2", "hk"], r
    r = sc.run("ls", sc.mnt / "cn-bj2" / "orders-prod")
    assert r["rc"] == 0 and "orders-prod-auto-2026-11-27.tar.gz" in r["out"].split(), r
    pids = sc.session.children()
    assert len(pids) == 1, pids
    argv = sc.daemon_argv(pids[0])
    r = sc.run(*unmount_argv)
    assert r["rc"] == 0, r
    reaped = sc.session.reap(15)
    assert [s for _, s in reaped["reaped"]] == ["exit 0"], \
        "umongofs did not exit 0 after %s: %s" % (unmount_argv[0], reaped)
    assert sc.mounted() is None
    return argv


def test_fstab_line(scene, emu, tmp_path):
    """An fstab line with the options admins use, mounted by `mount MNT`
    (here `mount --fstab FILE MNT`), unmounted by `umount MNT`. SOURCE is
    the profile; _netdev, noauto and x-systemd.* never reach umongofs."""
    sc = scene(binary=umongofs_bin())
    fstab = tmp_path / "fstab"
    fstab.write_text("# as /etc/fstab\n%s  %s  fuse.umongofs  "
                     "noauto,_netdev,nofail,x-systemd.automount,x-systemd.idle-timeout=600,"
                     "allow_other,api_url=%s,dir_ttl=5  0 0\n" % (PROFILE, sc.mnt, emu.api_url))
    r = sc.run("mount", "--fstab", fstab, sc.mnt)
    assert r["rc"] == 0, r
    argv = _check_mounted_and_stop(sc, ["umount", sc.mnt])
    assert argv[:3] == ["umongofs", PROFILE, str(sc.mnt)], argv
    passed = argv[argv.index("-o") + 1].split(",")
    for opt in ("noauto", "_netdev", "nofail", "x-systemd.automount",
                "x-systemd.idle-timeout=600"):
        assert opt not in passed, "%s reached umongofs: %s" % (opt, argv)
    assert "allow_other" in passed and "dir_ttl=5" in passed, argv


def test_mount_t_fuse_umongofs(scene, emu):
    """mount -t fuse.umongofs PROFILE MNT -o ..., unmounted with fusermount3 -u."""
    sc = scene(binary=umongofs_bin())
    r = sc.run("mount", "-t", "fuse.umongofs", PROFILE, sc.mnt, "-o",
               "api_url=%s,_netdev,x-systemd.automount" % emu.api_url)
    assert r["rc"] == 0, r
    _check_mounted_and_stop(sc, ["fusermount3", "-u", sc.mnt])


def test_source_selects_the_profile(scene, emu):
    """A SOURCE that is no profile of /root/.dezai fails the mount with one
    line naming it, and leaves nothing mounted or running."""
    sc = scene(binary=umongofs_bin())
    r = sc.run("mount", "-t", "fuse.umongofs", "no-such-profile", sc.mnt, "-o",
               "api_url=%s" % emu.api_url)
    assert r["rc"] != 0, r
    assert "no-such-profile" in r["err"], r
    assert sc.mounted() is None and not sc.session.children()


def test_umongofs_must_be_on_the_default_path(scene, emu):
    """With umongofs in no directory of the shell's default path, mount(8)
    fails however the caller's PATH is set (mount(8) drops it): the reason the
    README says to install it in /usr/bin or /usr/local/bin."""
    for d in ("/usr/local/sbin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.path.exists(os.path.join(d, "umongofs")):
            pytest.skip("%s/umongofs exists on this machine" % d)
    sc = scene(binary=None)
    env = dict(os.environ, PATH=os.path.dirname(umongofs_bin()) + ":" + os.environ["PATH"])
    r = sc.session.run(["mount", "-t", "fuse.umongofs", PROFILE, str(sc.mnt), "-o",
                        "api_url=%s" % emu.api_url], env=env, timeout=60)
    assert r["rc"] != 0 and "umongofs: not found" in r["err"], r
    assert sc.mounted() is None
