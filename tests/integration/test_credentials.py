"""Credential sources on real mounts: upstream's ~/.ucloud profile files, the
upstream SDK's UCLOUD_* variables, the profile's request defaults, and the
refusals (files others can write, sign-in profiles). README, "Credentials".

Every daemon here runs with HOME pointed at a temporary directory and with no
DEZAI_* or UCLOUD_* variable but the ones a test sets.
"""

import json
import os
import re

import pytest

from mount import clean_env, fusermount_unmount, is_mounted, require_fuse, run_oneshot, \
    umongofs_bin
from treewalk import visible_clusters, visible_regions, walk

PUB, PRIV = "demo-public-key", "demo-private-key"
SUB_PUB, SUB_PRIV = "demo-sub-public-key", "demo-sub-private-key"
TOKEN = "tok-SIGNIN-0a9b8c7d6e5f"
REFRESH = "ref-SIGNIN-1f2e3d4c5b6a"


def _env(home, extra=None):
    """clean_env() drops the caller's DEZAI_*; drop its UCLOUD_* too."""
    env = {k: v for k, v in clean_env(keys=None, home=home).items()
           if not k.startswith("UCLOUD_")}
    env.update(extra or {})
    return env


def _write(path, obj, mode=0o600):
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=4)
    os.chmod(path, mode)
    return path


def _ucloud_files(home, api_url, conf_extra=None, cred=None):
    """~/.ucloud as upstream's CLI writes it: every field, empty ones too; the
    sub-account profile is active and needs its project_id to see anything."""
    d = home / ".ucloud"
    cred_path = _write(d / "credential.json", cred or [
        {"public_key": PUB, "private_key": PRIV, "cookie": "", "csrf_token": "",
         "profile": "default"},
        {"public_key": SUB_PUB, "private_key": SUB_PRIV, "cookie": "", "csrf_token": "",
         "profile": "sub"},
    ])
    conf = [
        {"project_id": "org-demo", "region": "cn-bj2", "zone": "cn-bj2-02",
         "base_url": api_url, "timeout_sec": 15, "profile": "default", "active": False,
         "max_retry_times": 3, "agree_upload_log": False},
        {"project_id": "org-other", "region": "hk", "zone": "hk-02", "base_url": api_url,
         "timeout_sec": 15, "profile": "sub", "active": True, "max_retry_times": 3,
         "agree_upload_log": False},
    ]
    for c in conf:
        c.update(conf_extra or {})
    conf_path = _write(d / "config.json", conf)
    return cred_path, conf_path


def _cluster_ids(m):
    return sorted(e.xattrs["user.umongofs.cluster_id"] for e in walk(m.path)
                  if len(e.parts) == 2)


def _regions(emu):
    return sorted(visible_regions(emu.world))


def _clusters(emu, project):
    """What a mount sending this ProjectId must show."""
    return sorted(c["ClusterId"] for c in visible_clusters(emu.world, project))


def _lines(b):
    return [ln for ln in b.decode("utf-8", "replace").splitlines() if ln.strip()]


def _failing_mount(tmp_path, env, options=()):
    """Runs a mount that must fail: returns (result, seconds, stderr lines)."""
    require_fuse()
    mnt = tmp_path / "mnt-fail"
    mnt.mkdir(exist_ok=True)
    argv = [umongofs_bin(), "-f"] + (["-o", ",".join(options)] if options else []) + [str(mnt)]
    r, took = run_oneshot(argv, env, timeout=60)
    still = is_mounted(str(mnt))
    if still:
        fusermount_unmount(str(mnt), lazy=True)
    assert not still, "a failed mount left %s mounted" % mnt
    return r, took, _lines(r.stderr)


# -- mounts that work ---------------------------------------------------------------------

def test_ucloud_profile_files_are_the_only_source(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _ucloud_files(home, emu.api_url)
    # No api_url option and no key in the environment: config.json's base_url
    # and the active profile's keys and project_id are all there is.
    m = mount_factory(None, keys=None, env=_env(home))
    assert sorted(os.listdir(m.path)) == _regions(emu)
    assert _cluster_ids(m) == _clusters(emu, "org-other")
    assert _clusters(emu, "org-other") != _clusters(emu, "org-demo")
    assert SUB_PRIV not in m.stderr()


def test_ucloud_profile_selected_by_environment(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _ucloud_files(home, emu.api_url)
    m = mount_factory(None, keys=None, env=_env(home, {"UCLOUD_PROFILE": "default"}))
    assert _cluster_ids(m) == _clusters(emu, "org-demo")


def test_ucloud_env_keys_only(emu, mount_factory, tmp_path):
    m = mount_factory(emu, keys=None, env=_env(tmp_path, {"UCLOUD_PUBLIC_KEY": PUB,
                                                          "UCLOUD_PRIVATE_KEY": PRIV}))
    assert sorted(os.listdir(m.path)) == _regions(emu)
    assert _cluster_ids(m) == _clusters(emu, "org-demo")
    with open("/proc/%d/environ" % m.pid, "rb") as f:
        environ = f.read()
    assert PRIV.encode() not in environ, "UCLOUD_PRIVATE_KEY left in the daemon's environment"
    assert PUB.encode() not in environ, "UCLOUD_PUBLIC_KEY left in the daemon's environment"


def test_ucloud_env_project_and_url(emu, mount_factory, tmp_path):
    # The sub-account sees only what UCLOUD_PROJECT_ID picks; the endpoint
    # comes from UCLOUD_API_BASE_URL alone.
    m = mount_factory(None, keys=None, env=_env(tmp_path, {
        "UCLOUD_PUBLIC_KEY": SUB_PUB, "UCLOUD_PRIVATE_KEY": SUB_PRIV,
        "UCLOUD_PROJECT_ID": "org-other", "UCLOUD_API_BASE_URL": emu.api_url}))
    assert _cluster_ids(m) == _clusters(emu, "org-other")


def test_profile_max_retry_times_is_the_default(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _ucloud_files(home, emu.api_url, {"max_retry_times": 0})
    # With no retry allowed, one "rate limited" answer fails the start-up check.
    emu.config(rate_limit_first=1)
    r, _, lines = _failing_mount(tmp_path, _env(home))
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    assert "153" in lines[0] or re.search(r"rate|busy|limit", lines[0], re.I), lines[0]
    # An explicit -o retries= wins over the profile.
    emu.config(rate_limit_first=1)
    m = mount_factory(None, "retries=2", keys=None, env=_env(home))
    assert _cluster_ids(m) == _clusters(emu, "org-other")


def test_profile_timeout_sec_is_the_default(emu, mount_factory, tmp_path):
    home = tmp_path / "home"
    _ucloud_files(home, emu.api_url, {"timeout_sec": 1})
    emu.config(api_latency_ms=1500)
    r, took, lines = _failing_mount(tmp_path, _env(home))
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    assert took < 8, "took %.1fs" % took
    # An explicit -o timeout= wins over the profile.
    m = mount_factory(None, "timeout=6", keys=None, env=_env(home))
    emu.config(api_latency_ms=0)
    assert _cluster_ids(m) == _clusters(emu, "org-other")


# -- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["config.json", "directory"])
def test_config_writable_by_others_refused(emu, tmp_path, what):
    home = tmp_path / "home"
    _, conf_path = _ucloud_files(home, emu.api_url)
    if what == "config.json":
        os.chmod(conf_path, 0o666)
        named, fix = str(conf_path), "chmod 600"
    else:
        os.chmod(conf_path.parent, 0o777)
        named, fix = str(conf_path.parent), "chmod go-w"
    emu.reset()
    r, took, lines = _failing_mount(tmp_path, _env(home))
    assert r.returncode == 1
    assert took < 5, "took %.1fs" % took
    assert len(lines) == 1, "want one clear line, got:\n%s" % r.stderr.decode()
    assert named in lines[0] and fix in lines[0], lines[0]
    assert "writable" in lines[0], lines[0]
    assert emu.stats()["api_total"] == 0, "a refused config.json still led to API calls"


def test_oauth_profile_refused_with_sign_in_message(emu, tmp_path):
    home = tmp_path / "home"
    cred_path, _ = _ucloud_files(home, emu.api_url, cred=[
        {"public_key": "", "private_key": "", "cookie": "", "csrf_token": "",
         "profile": "sub", "auth_mode": "oauth", "access_token": TOKEN,
         "refresh_token": REFRESH, "expires_at": 1795000000},
    ])
    r, _, lines = _failing_mount(tmp_path, _env(home))
    assert r.returncode == 1
    assert len(lines) == 1, r.stderr.decode()
    line = lines[0]
    assert "sign-in (OAuth)" in line and "'sub'" in line and str(cred_path) in line, line
    assert "public_key/private_key" in line and "DEZAI_PUBLIC_KEY" in line, line
    assert "empty" not in line, line
    err = r.stderr.decode()
    assert TOKEN not in err and REFRESH not in err
