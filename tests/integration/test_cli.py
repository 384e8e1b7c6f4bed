"""Command line, daemon mode and credentials (README.md, "Command line" and the
credential sources under "Mounting a real account")."""

import json
import os
import re

import pytest

from mount import clean_env, find_daemon_pids, fusermount_unmount, is_mounted, pid_alive, \
    require_fuse, run_oneshot, umongofs_bin, wait_until
from treewalk import walk

OPTIONS = ["api_url", "profile", "credentials", "project_id", "regions", "intranet", "url_ttl",
           "dir_ttl", "show_all", "timeout", "retries", "cafile", "uid", "gid", "umask",
           "allow_other", "auto_unmount", "max_conns", "readahead"]

NO_SYSLOG_RE = re.compile(r"^umongofs: warning: no syslog socket")

SECRET_PUB = "pk-cli-test-0001"
SECRET_KEY = "SK-cli-secret-5f1c2e9a7b3d"


def _lines(b):
    return [ln for ln in b.decode("utf-8", "replace").splitlines() if ln.strip()]


# -- --help / -V --------------------------------------------------------------------------

def test_help_lists_every_option():
    require_fuse()
    r, _ = run_oneshot([umongofs_bin(), "--help"], clean_env(keys=None))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = out.splitlines()
    missing = []
    for opt in OPTIONS:
        pat = re.compile(r"(-o\s*|,)%s(=|\b)" % re.escape(opt))
        hits = [ln for ln in lines if pat.search(ln)]
        if not hits:
            missing.append(opt)
    assert not missing, "--help does not list %r:\n%s" % (missing, out)
    for flag in ("-f", "-d", "-s", "-V", "--version", "-h", "--help"):
        assert re.search(r"(^|\s|,)%s\b" % re.escape(flag), out), flag
    r2, _ = run_oneshot([umongofs_bin(), "-h"], clean_env(keys=None))
    assert r2.returncode == 0 and r2.stdout == r.stdout


def test_version():
    require_fuse()
    r, _ = run_oneshot([umongofs_bin(), "-V"], clean_env(keys=None))
    assert r.returncode == 0, r.stderr
    assert re.search(r"umongofs \d+\.\d+", r.stdout.decode()), r.stdout
    r2, _ = run_oneshot([umongofs_bin(), "--version"], clean_env(keys=None))
    assert r2.returncode == 0 and r2.stdout == r.stdout


# -- failing mounts -------------------------------------------------------------------------

def _failing_mount(tmp_path, api_url, keys, extra_args=(), foreground=True, home=None,
                   options=()):
    mnt = tmp_path / "mnt-fail"
    mnt.mkdir(exist_ok=True)
    opts = ["api_url=" + api_url] + list(options) if api_url else list(options)
    argv = [umongofs_bin()] + (["-f"] if foreground else []) + ["-o", ",".join(opts)] + \
        list(extra_args) + [str(mnt)]
    env = clean_env(keys, home=home or tmp_path)
    r, took = run_oneshot(argv, env, timeout=60)
    still = is_mounted(str(mnt))
    if still:
        fusermount_unmount(str(mnt), lazy=True)
    assert not still, "a failed mount left %s mounted" % mnt
    return r, took


@pytest.mark.parametrize("foreground", [True, False], ids=["fg", "daemon"])
@pytest.mark.parametrize("keys,code", [
    (("demo-public-key", "wrong-private-key"), "171"),
    (("no-such-public-key", "demo-private-key"), "172"),
], ids=["wrong-secret", "unknown-key"])
def test_wrong_keys_fail_fast_with_one_line(emu, tmp_path, keys, code, foreground):
    require_fuse()
    emu.reset()
    r, took = _failing_mount(tmp_path, emu.api_url, keys, foreground=foreground)
    assert r.returncode != 0
    assert took < 5, "took %.1fs" % took
    lines = _lines(r.stderr)
    assert len(lines) == 1, "want one clear line, got:\n%s" % r.stderr.decode()
    assert code in lines[0] and re.search(r"permission|denied|refused", lines[0], re.I), lines
    assert keys[1] not in r.stderr.decode()
    assert emu.stats()["api"].get("GetRegion", 0) <= 2


@pytest.mark.parametrize("foreground", [True, False], ids=["fg", "daemon"])
def test_unreachable_api_fails_fast(tmp_path, foreground):
    require_fuse()
    r, took = _failing_mount(tmp_path, "http://127.0.0.1:1/", ("demo-public-key",
                                                               "demo-private-key"),
                             foreground=foreground, options=["timeout=2", "retries=2"])
    assert r.returncode != 0
    assert took < 8, "took %.1fs" % took
    lines = _lines(r.stderr)
    assert len(lines) == 1, r.stderr.decode()
    assert "127.0.0.1:1" in lines[0]


def test_no_credentials_at_all_fails(tmp_path):
    require_fuse()
    r, took = _failing_mount(tmp_path, "http://127.0.0.1:1/", None)
    assert r.returncode != 0 and took < 5
    assert len(_lines(r.stderr)) == 1, r.stderr.decode()


def test_keys_on_command_line_are_not_accepted(emu, tmp_path):
    require_fuse()
    r, _ = _failing_mount(tmp_path, emu.api_url, None,
                          options=["public_key=demo-public-key", "private_key=demo-private-key"])
    assert r.returncode != 0


# -- daemon mode -----------------------------------------------------------------------------

def test_daemon_mode_mounts_then_unmounts(emu, tmp_path):
    require_fuse()
    mnt = tmp_path / "mnt-daemon"
    mnt.mkdir()
    env = clean_env(home=tmp_path)
    r, took = run_oneshot([umongofs_bin(), "-o", "api_url=" + emu.api_url, str(mnt)], env)
    pids = find_daemon_pids(str(mnt))
    try:
        assert r.returncode == 0, r.stderr.decode()
        assert os.path.ismount(str(mnt)), "returned 0 but nothing is mounted"
        # Nothing, apart from the warning that logs will be lost where there
        # is no syslog socket (tests/integration/test_logs.py checks it).
        assert [ln for ln in _lines(r.stderr) if not NO_SYSLOG_RE.match(ln)] == [], \
            r.stderr.decode()
        assert len(pids) == 1, "daemon pids: %r" % pids
        assert "cn-bj2" in os.listdir(str(mnt))
        with open(os.path.join(str(mnt), "cn-bj2", "inventory",
                               "inventory-auto-2026-11-27.tar.gz"), "rb") as f:
            assert len(f.read()) == 29535
    finally:
        if is_mounted(str(mnt)):
            assert fusermount_unmount(str(mnt)).returncode == 0
        gone = wait_until(lambda: not any(pid_alive(p) for p in pids), 15)
        if not gone:
            for p in pids:
                os.kill(p, 9)
    assert gone, "daemon %r still running after fusermount3 -u" % pids
    assert not is_mounted(str(mnt))


# -- credentials sources ---------------------------------------------------------------------

def _write(path, obj, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)
    os.chmod(path, mode)
    return path


def test_credentials_file_readable_by_others_refused(emu, tmp_path):
    require_fuse()
    cred = _write(tmp_path / "cred.json", {"public_key": "demo-public-key",
                                           "private_key": "demo-private-key"}, 0o644)
    r, took = _failing_mount(tmp_path, emu.api_url, None, options=["credentials=%s" % cred])
    assert r.returncode != 0 and took < 5
    lines = _lines(r.stderr)
    assert len(lines) == 1, r.stderr.decode()
    assert str(cred) in lines[0] and "chmod 600" in lines[0], lines[0]


def test_profile_credential_json_readable_by_others_refused(emu, tmp_path):
    require_fuse()
    home = tmp_path / "home"
    cred = _write(home / ".dezai" / "credential.json",
                  [{"profile": "default", "public_key": "demo-public-key",
                    "private_key": "demo-private-key"}], 0o640)
    r, _ = _failing_mount(tmp_path, emu.api_url, None, home=home)
    assert r.returncode != 0
    lines = _lines(r.stderr)
    assert len(lines) == 1 and str(cred) in lines[0] and "chmod 600" in lines[0], lines


def test_credentials_file_option(emu, mount_factory, tmp_path):
    cred = _write(tmp_path / "cred.json", {"public_key": "demo-public-key",
                                           "private_key": "demo-private-key"}, 0o600)
    m = mount_factory(emu, "credentials=%s" % cred, keys=None)
    assert sorted(os.listdir(m.path)) == ["cn-bj2", "cn-sh2", "hk"]


def _profiles(home, active="main"):
    d = home / ".dezai"
    _write(d / "credential.json", [
        {"profile": "main", "public_key": "demo-public-key", "private_key": "demo-private-key"},
        {"profile": "other", "public_key": "demo-sub-public-key",
         "private_key": "demo-sub-private-key"},
    ], 0o600)
    _write(d / "config.json", [
        {"profile": "main", "active": active == "main", "project_id": "org-demo"},
        {"profile": "other", "active": active == "other", "project_id": "org-other"},
    ], 0o644)


def _cluster_ids(m):
    return sorted(e.xattrs["user.umongofs.cluster_id"] for e in walk(m.path)
                  if len(e.parts) == 2)


def test_profile_files_active_profile_and_project(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _profiles(home, active="other")
    # The sub-account must send ProjectId: the profile's project_id is what lets it in.
    m = mount_factory(emu, keys=None, home=str(home))
    assert _cluster_ids(m) == ["udb-other01"]


def test_source_mountpoint_form_selects_profile(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _profiles(home, active="main")
    m1 = mount_factory(emu, start=False, keys=None, home=str(home))
    m1.args = ["-f", "-o", "api_url=" + emu.api_url, "other", m1.path]
    m1.start()
    assert _cluster_ids(m1) == ["udb-other01"]
    m2 = mount_factory(emu, start=False, keys=None, home=str(home))
    m2.args = ["-f", "-o", "api_url=" + emu.api_url, "umongofs", m2.path]
    m2.start()
    assert "udb-orders01" in _cluster_ids(m2)


def test_env_keys_win_over_profile_files(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _profiles(home, active="other")
    m = mount_factory(emu, home=str(home))  # demo keys in the environment
    assert "udb-orders01" in _cluster_ids(m)


def _secret_world():
    spec = {"accounts": [{"public_key": SECRET_PUB, "private_key": SECRET_KEY,
                          "projects": ["org-demo"], "default_project": "org-demo",
                          "sub_account": False}],
            "clusters": [{"Region": "cn-bj2", "Zone": "cn-bj2-02", "ClusterId": "udb-s01",
                          "Name": "s", "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet",
                          "State": "Running", "CreateTime": 1795000000,
                          "backups": [{"BackupId": "bk-s-1", "BackupName": "s.bin",
                                       "ClusterId": "udb-s01", "Zone": "cn-bj2-02",
                                       "State": "Success", "BackupSize": "auto",
                                       "BackupType": "manual", "StartTime": 1795000000,
                                       "EndTime": 1795000060,
                                       "content": {"random": 100000, "seed": 3}}]}]}
    return spec


def _assert_no_secret(m, secret):
    with open("/proc/%d/cmdline" % m.pid, "rb") as f:
        assert secret.encode() not in f.read(), "private key in argv"
    with open("/proc/%d/environ" % m.pid, "rb") as f:
        env = f.read()
    return env


def test_private_key_not_in_argv_or_stderr(emulator_factory, mount_factory):
    emu = emulator_factory(_secret_world())
    m = mount_factory(emu, keys=(SECRET_PUB, SECRET_KEY), start=False)
    m.args = ["-d", "-o", "api_url=" + emu.api_url, m.path]  # debug: the chattiest stderr
    m.start()
    _assert_no_secret(m, SECRET_KEY)
    with open(m.p("cn-bj2", "s", "s.bin"), "rb") as f:
        assert len(f.read()) == 100000
    walk(m.path)
    m.stop()
    err = m.stderr()
    assert SECRET_KEY not in err, "private key in stderr"
    assert "Signature=" not in err and "Expires=" not in err, "presigned URL query in stderr"


def test_private_key_not_in_daemon_environ(emulator_factory, mount_factory):
    emu = emulator_factory(_secret_world())
    m = mount_factory(emu, keys=(SECRET_PUB, SECRET_KEY))
    env = _assert_no_secret(m, SECRET_KEY)
    assert SECRET_KEY.encode() not in env, "private key in /proc/%d/environ" % m.pid


def test_private_key_from_file_not_in_environ_or_stderr(emulator_factory, mount_factory,
                                                        tmp_path):
    emu = emulator_factory(_secret_world())
    cred = _write(tmp_path / "c.json", {"public_key": SECRET_PUB, "private_key": SECRET_KEY},
                  0o600)
    m = mount_factory(emu, "credentials=%s" % cred, keys=None)
    env = _assert_no_secret(m, SECRET_KEY)
    assert SECRET_KEY.encode() not in env
    assert os.listdir(m.p("cn-bj2", "s")) == ["s.bin"]


def test_project_id_option(emu, mount_factory):
    # A sub-account must send ProjectId; -o project_id= picks the project.
    m = mount_factory(emu, "project_id=org-other", keys=("demo-sub-public-key",
                                                         "demo-sub-private-key"))
    assert _cluster_ids(m) == ["udb-other01"]


def test_api_url_from_environment(emu, mount_factory):
    m = mount_factory(None, extra_env={"DEZAI_API_URL": emu.api_url})
    assert sorted(os.listdir(m.path)) == ["cn-bj2", "cn-sh2", "hk"]
    notes = [ln for ln in m.stderr().splitlines() if "mounted" in ln]
    assert notes and emu.api_url in notes[0], "mount note: %r" % notes


def test_intranet_option_downloads_through_intranet_address(emu, mount_factory):
    m = mount_factory(emu, "intranet")
    emu.reset()
    with open(m.p("cn-bj2", "inventory", "inventory-auto-2026-11-27.tar.gz"), "rb") as f:
        assert len(f.read()) == 29535
    net = emu.stats()["store"]["net"]
    assert net.get("intranet", 0) >= 1 and net.get("internet", 0) == 0, net
