"""Mountpoints (issue 8, "Refuse bad mountpoints" and findmnt's source): a
FUSE mount or a file is refused with one line and exit 1, a non-empty
directory is mounted over with a warning, and /proc/self/mountinfo shows
the source as umongofs:PROFILE."""

import json
import os
import subprocess

import pytest

from mount import clean_env, fusermount_unmount, is_mounted, require_fuse, umongofs_bin


def _mountinfo(path):
    """(fstype, source) of every mount on path, oldest first."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if fields[4] == path:
                fstype, source = right.split()[:2]
                out.append((fstype, source))
    return out


def _try_mount(emu, path, tmp_path, *extra):
    """Runs umongofs in the foreground on path, for mounts that must fail: a
    daemon still running after a few seconds has mounted (a bug); it is then
    stopped, its mount detached, and the test fails."""
    require_fuse()
    before = len(_mountinfo(str(path)))
    proc = subprocess.Popen([umongofs_bin(), "-f", "-o", "api_url=" + emu.api_url] +
                            list(extra) + [str(path)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(home=tmp_path))
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        if len(_mountinfo(str(path))) > before:
            fusermount_unmount(str(path), lazy=True)  # the topmost: the one it made
        proc.kill()
        proc.communicate()
        pytest.fail("umongofs mounted on %s instead of refusing it" % path)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_refuses_a_fuse_mount(emu, mount_factory, tmp_path):
    m = mount_factory(emu)
    before = _mountinfo(m.path)
    assert before == [("fuse.umongofs", "umongofs:env")], before
    emu.reset()
    r = _try_mount(emu, m.path, tmp_path)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    assert lines[0] == ("umongofs: mountpoint %s is already a FUSE mount (fuse.umongofs, "
                        "umongofs:env); unmount it first: fusermount3 -u %s" % (m.path, m.path))
    assert _mountinfo(m.path) == before, "a second mount was stacked"
    assert emu.stats()["api_total"] == 0, "refused before any API call"
    assert "cn-bj2" in os.listdir(m.path)  # the first mount still works


def test_refuses_a_dead_fuse_mount(emu, mount_factory, tmp_path):
    m = mount_factory(emu)
    m.proc.kill()  # leaves its mount behind: "Transport endpoint is not connected"
    m.proc.wait()
    r = _try_mount(emu, m.path, tmp_path)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    assert "is already a FUSE mount (fuse.umongofs, umongofs:env)" in lines[0], lines
    assert _mountinfo(m.path) == [("fuse.umongofs", "umongofs:env")]
    assert fusermount_unmount(m.path).returncode == 0  # the fix the line gives
    m.stop(check=False)


def test_refuses_a_regular_file(emu, tmp_path):
    f = tmp_path / "a-file"
    f.write_text("not a directory\n")
    r = _try_mount(emu, f, tmp_path)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    assert lines[0] == ("umongofs: mountpoint %s is not a directory; mount on an (empty) "
                        "directory" % f), lines
    mounted = is_mounted(str(f))
    if mounted:
        fusermount_unmount(str(f), lazy=True)
    assert not mounted
    assert f.read_text() == "not a directory\n"


def test_non_empty_directory_is_mounted_with_a_warning(emu, mount_factory, tmp_path):
    m = mount_factory(emu, start=False)
    os.makedirs(m.path, exist_ok=True)
    with open(m.p("hidden.txt"), "w") as f:
        f.write("x")
    m.start()
    assert "hidden.txt" not in os.listdir(m.path)
    assert "cn-bj2" in os.listdir(m.path)
    m.stop()
    assert os.listdir(m.path) == ["hidden.txt"]
    warnings = [ln for ln in m.stderr().splitlines() if "not empty" in ln]
    assert warnings == ["umongofs: warning: mountpoint %s is not empty: its files are hidden "
                        "while umongofs is mounted there" % m.path], m.stderr()


def _profiles(home):
    d = home / ".dezai"
    d.mkdir(parents=True)
    with open(d / "credential.json", "w") as f:
        json.dump([{"profile": "main", "public_key": "demo-public-key",
                    "private_key": "demo-private-key"}], f)
    os.chmod(d / "credential.json", 0o600)
    with open(d / "config.json", "w") as f:
        json.dump([{"profile": "main", "active": True}], f)


def test_source_is_umongofs_colon_profile(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _profiles(home)
    # The active profile, found in ~/.dezai.
    m1 = mount_factory(emu, keys=None, home=str(home))
    # Named as mount(8) names it, the SOURCE field.
    m2 = mount_factory(emu, start=False, keys=None, home=str(home))
    m2.args = ["-f", "-o", "api_url=" + emu.api_url, "main", m2.path]
    m2.start()
    # Keys from the environment: named by profile=, or "env".
    m3 = mount_factory(emu, "profile=prod")
    m4 = mount_factory(emu)
    assert _mountinfo(m1.path) == [("fuse.umongofs", "umongofs:main")]
    assert _mountinfo(m2.path) == [("fuse.umongofs", "umongofs:main")]
    assert _mountinfo(m3.path) == [("fuse.umongofs", "umongofs:prod")]
    assert _mountinfo(m4.path) == [("fuse.umongofs", "umongofs:env")]
