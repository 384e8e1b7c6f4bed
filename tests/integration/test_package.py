"""The Debian package (scripts/package.sh): built with dpkg-buildpackage,
lintian clean, installed on this machine with dpkg -i, used through
`mount -t fuse.umongofs` with the installed /usr/bin/umongofs, removed.

This test changes the machine: it installs the package and removes it again
(dpkg -r, then --purge), whatever happens in between. It skips, saying why,
where it cannot run or must not: not root, Debian's tools missing, or
umongofs already installed here (a package, or a file it would overwrite).
A lock serializes it between test runs sharing the machine. It runs once,
in the run of the suite with the plain daemon."""

import fcntl
import os
import re
import shutil
import subprocess
import time

import pytest

from mount import REPO, sanitizer_build
from test_mount_helper import PROFILE, MountScene, _need_root_tools

PACKAGE_FILES = ["/usr/bin/umongofs", "/usr/share/man/man1/umongofs.1.gz",
                 "/lib/systemd/system/umongofs@.service",
                 "/usr/lib/systemd/system/umongofs@.service",
                 "/usr/share/bash-completion/completions/umongofs",
                 "/usr/share/doc/umongofs"]
LOCK = "/run/lock/umongofs-test-package.lock"


def _skip(capsys, reason):
    """Skip with the reason on the terminal, also under pytest -q."""
    with capsys.disabled():
        print("\n%s: SKIPPED: %s" % (__name__, reason))
    pytest.skip(reason)


def _dpkg_status():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "umongofs"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode().strip() if r.returncode == 0 else ""


def _dpkg(*args):
    """dpkg, retried while another process holds the dpkg lock."""
    deadline = time.monotonic() + 120
    while True:
        r = subprocess.run(["dpkg"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=dict(os.environ,
                                                              DEBIAN_FRONTEND="noninteractive"),
                           timeout=300)
        out = r.stdout.decode(errors="replace")
        if r.returncode == 0 or "lock" not in out or time.monotonic() > deadline:
            return r.returncode, out
        time.sleep(2)


def test_deb_builds_installs_mounts_and_removes(capsys, emu, tmp_path):
    if sanitizer_build():
        pytest.skip("the package is built from the tree: checked in the plain run only")
    if os.geteuid() != 0:
        _skip(capsys, "installing a .deb needs root")
    missing = [t for t in ("dpkg-buildpackage", "dh", "lintian", "fakeroot", "dpkg")
               if not shutil.which(t)]
    if missing:
        _skip(capsys, "dpkg-buildpackage or its helpers are unavailable (missing: %s; "
              "scripts/setup.sh installs them)" % " ".join(missing))
    _need_root_tools()

    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        present = [p for p in PACKAGE_FILES if os.path.lexists(p)]
        status = _dpkg_status()
        if status or present:
            _skip(capsys, "umongofs is already on this machine (%s): the test would replace "
                  "and then remove it" % (status or ", ".join(present)))

        out_dir = tmp_path / "deb"
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(REPO, "scripts", "package.sh"), str(out_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900,
                           env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
        log = r.stdout.decode(errors="replace")
        assert r.returncode == 0, "scripts/package.sh failed (build or lintian):\n" + log
        assert "lintian: no errors, no warnings" in log, log
        debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        deb = str(out_dir / debs[0])
        build_s = time.monotonic() - t0

        installed = False
        scene = None
        try:
            rc, out = _dpkg("-i", deb)
            installed = True  # even a half-done install must be removed
            assert rc == 0, "dpkg -i failed:\n" + out
            for p in ("/usr/bin/umongofs", "/usr/share/man/man1/umongofs.1.gz",
                      "/usr/share/bash-completion/completions/umongofs",
                      "/usr/share/doc/umongofs/copyright",
                      "/usr/share/doc/umongofs/examples/mnt-backups.mount"):
                assert os.path.exists(p), "%s not installed" % p
            assert any(os.path.exists(d + "/umongofs@.service")
                       for d in ("/lib/systemd/system", "/usr/lib/systemd/system"))
            if shutil.which("man"):
                w = subprocess.run(["man", "-w", "umongofs"], stdout=subprocess.PIPE)
                assert w.stdout.decode().strip() == "/usr/share/man/man1/umongofs.1.gz", w
            v = subprocess.run(["/usr/bin/umongofs", "--version"], stdout=subprocess.PIPE)
            assert re.match(rb"umongofs \d+\.\d+", v.stdout), v

            # mount(8) as an admin would, with the installed binary: nothing
            # else named umongofs on the path (/usr/local/bin is emptied).
            empty = tmp_path / "empty"
            empty.mkdir()
            scene = MountScene(tmp_path, binary=None, extra_binds=[(empty, "/usr/local/sbin")])
            r = scene.run("mount", "-t", "fuse.umongofs", PROFILE, scene.mnt, "-o",
                          "api_url=%s,_netdev" % emu.api_url)
            assert r["rc"] == 0, r
            pids = scene.session.children()
            assert len(pids) == 1, pids
            assert os.readlink("/proc/%d/exe" % pids[0]) == "/usr/bin/umongofs"
            ls = scene.run("ls", scene.mnt)
            assert ls["rc"] == 0 and ls["out"].split() == ["cn-bj2", "cn-sh2", "hk"], ls
            r = scene.run("umount", scene.mnt)
            assert r["rc"] == 0, r
            reaped = scene.session.reap(15)
            assert [s for _, s in reaped["reaped"]] == ["exit 0"], reaped
        finally:
            if scene is not None:
                left = scene.close()
                assert not left, "umongofs processes outlived the test: %s" % left
            if installed:
                rc, out = _dpkg("-r", "umongofs")
                gone = not os.path.exists("/usr/bin/umongofs")
                _dpkg("--purge", "umongofs")
                assert rc == 0, "dpkg -r failed:\n" + out
                assert gone, "/usr/bin/umongofs is still there after dpkg -r"
                assert not _dpkg_status() or "not-installed" in _dpkg_status()
    with capsys.disabled():
        print("\n%s: .deb built in %.0f s" % (__name__, build_s))
