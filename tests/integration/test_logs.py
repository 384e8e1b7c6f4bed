"""Logs (issue 8, "Logs"): -o logfile=, the -d trace of what umongofs does
with nothing secret in it, the warning when a daemon's syslog lines would be
lost, and SIGUSR1 writing the counters as one log line."""

import json
import os
import re
import signal
import stat
import time

import pytest

from mount import clean_env, find_daemon_pids, fusermount_unmount, is_mounted, pid_alive, \
    require_fuse, run_oneshot, umongofs_bin, wait_until
from worldspec import spec_object

MiB = 1 << 20

TRACE_PUB = "pk-trace-public-0007"
TRACE_KEY = "SK-trace-private-91d3c07e"
DB_PASSWORD = "pw-in-connect-url-4412"
SIZE = 5 * MiB + 123


def _trace_world():
    return {"accounts": [{"public_key": TRACE_PUB, "private_key": TRACE_KEY,
                          "projects": ["org-demo"], "default_project": "org-demo",
                          "sub_account": False}],
            "clusters": [{"Region": "cn-bj2", "Zone": "cn-bj2-02", "ClusterId": "udb-trace01",
                          "Name": "trace", "DBVersion": "MongoDB-4.2",
                          "ClusterType": "ReplicaSet", "State": "Running",
                          "CreateTime": 1795000000,
                          "ConnectURL": "mongodb://root:%s@10.9.1.20:27017/admin" % DB_PASSWORD,
                          "backups": [spec_object("udb-trace01", 0, SIZE, 41)]}]}


def _read_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _syslog_socket():
    try:
        return stat.S_ISSOCK(os.stat("/dev/log").st_mode)
    except OSError:
        return False


# -- -d into logfile=: the trace, redacted ------------------------------------------------------

def test_debug_trace_goes_to_logfile_without_secrets(emulator_factory, mount_factory, tmp_path):
    emu = emulator_factory(_trace_world())
    log = tmp_path / "trace.log"
    m = mount_factory(emu, start=False, keys=(TRACE_PUB, TRACE_KEY))
    m.args = ["-d", "-o", "api_url=%s,logfile=%s,block_size=1M,readahead=1M" % (emu.api_url, log),
              m.path]
    m.start()
    path = m.p("cn-bj2", "trace", "obj-0.bin")
    src = open(emu.object_path("udb-trace01", "bk-udb-trace01-0"), "rb").read()
    assert os.getxattr(m.p("cn-bj2", "trace"), "user.umongofs.connect_url") == \
        b"mongodb://10.9.1.20:27017/admin"
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # one read, one block
        assert os.pread(fd, 4096, 0) == src[:4096]
        # The store refuses the next request once: the URL is renewed.
        emu.config(store_status={"status": 403, "count": 1})
        assert os.pread(fd, 4096, 3 * MiB) == src[3 * MiB:3 * MiB + 4096]
        # Another page of what the first read fetched: the kernel has not
        # cached it, umongofs has (a cache hit).
        assert os.pread(fd, 100, 8192) == src[8192:8292]
    finally:
        os.close(fd)
    m.stop()
    text = _read_log(log)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600

    # What umongofs did, one line each: API calls with their RetCode, the URL
    # obtained and renewed, range requests with range and status, cache hits.
    assert re.search(r"debug: API GetRegion: RetCode 0 \(\d+ ms", text), text
    assert re.search(r"debug: API DescribeUMongoDBBackupURL: RetCode 0 \(\d+ ms", text), text
    store = re.escape(emu.api_url.rstrip("/")) + r"/store/b/udb-trace01/bk-udb-trace01-0"
    assert re.search(r"download URL for backup bk-udb-trace01-0 obtained: %s\?<redacted>"
                     % store, text), text
    assert re.search(r"download URL for backup bk-udb-trace01-0 renewed: %s\?<redacted>"
                     % store, text), text
    # (How much each request asks for is the read path's business.)
    assert re.search(r"range %s\?<redacted> bytes 0-(\d+): 206, \d+ bytes in \d+ ms"
                     % store, text), text
    assert re.search(r"range %s\?<redacted> bytes 3145728-\d+: 403, 0 bytes in \d+ ms" % store,
                     text), text
    assert re.search(r"range %s\?<redacted> bytes 3145728-\d+: 206, \d+ bytes" % store, text), \
        text
    assert re.search(r"block 0: cache hit", text), text
    # libfuse's own trace comes along into the file, not to stderr.
    assert re.search(r"umongofs\[\d+\]: debug: unique: \d+, opcode: ", text), text[:2000]
    assert "debug:" not in m.stderr(), m.stderr()[:2000]
    # Every line is timestamped and names the daemon.
    for line in text.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} umongofs\[\d+\]: \w+: ", line), \
            line

    # Nothing secret: no key, no signature, no presigned URL query, no password.
    for secret in (TRACE_KEY, TRACE_PUB, DB_PASSWORD, "Signature", "Expires=", "PublicKey"):
        assert secret not in text, "%r in the trace" % secret
    assert not re.search(r"/store/\S*\?(?!<redacted>)", text), "a URL query in the trace"
    assert not re.search(r"\b[0-9a-f]{40}\b", text), "a SHA-1 (a signature) in the trace"


# -- logfile=: append, refuse what others control ------------------------------------------------

def test_logfile_appends(emu, mount_factory, tmp_path):
    log = tmp_path / "umongofs.log"
    log.write_text("an earlier line\n")
    os.chmod(log, 0o640)
    m = mount_factory(emu, "logfile=%s" % log)
    assert "cn-bj2" in os.listdir(m.path)
    m.stop()
    text = _read_log(log)
    assert text.startswith("an earlier line\n"), text
    assert re.search(r"umongofs\[%d\]: note: mounted http://127\.0\.0\.1:\d+/ on %s "
                     r"\(umongofs:env\)" % (m.pid, re.escape(m.path)), text), text
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o640, "the mode of an existing file is kept"
    # With logfile=, -f writes nothing to stderr.
    assert "note: mounted" not in m.stderr()


def _refused(tmp_path, logfile, env=None):
    mnt = tmp_path / "mnt-refused"
    mnt.mkdir(exist_ok=True)
    r, _ = run_oneshot([umongofs_bin(), "-f", "-o", "api_url=http://127.0.0.1:1/,logfile=%s"
                        % logfile, str(mnt)], env or clean_env(home=tmp_path))
    mounted = is_mounted(str(mnt))
    if mounted:
        fusermount_unmount(str(mnt), lazy=True)
    assert not mounted
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr.decode()
    return lines[0]


def test_logfile_symlink_refused(tmp_path):
    require_fuse()
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.chmod(target, 0o600)
    link = tmp_path / "link.log"
    link.symlink_to(target)
    line = _refused(tmp_path, link)
    assert "symbolic link" in line and str(link) in line, line
    assert target.read_text() == ""


def test_logfile_of_another_user_refused(tmp_path):
    require_fuse()
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    log = tmp_path / "theirs.log"
    log.write_text("")
    os.chmod(log, 0o600)
    os.chown(log, 65534, 65534)
    line = _refused(tmp_path, log)
    assert "owned by uid 65534" in line and str(log) in line, line
    assert log.read_text() == ""


def test_logfile_writable_by_others_refused(tmp_path):
    require_fuse()
    log = tmp_path / "open.log"
    log.write_text("")
    os.chmod(log, 0o622)
    line = _refused(tmp_path, log)
    assert "writable by group or others" in line and "chmod go-w" in line, line


# -- daemonized: logfile=, SIGUSR1, the warning without syslog ----------------------------------

def _daemon(emu, tmp_path, *opts):
    mnt = tmp_path / "mnt-daemon"
    mnt.mkdir()
    r, _ = run_oneshot([umongofs_bin(), "-o", ",".join(["api_url=" + emu.api_url] + list(opts)),
                        str(mnt)], clean_env(home=tmp_path))
    pids = find_daemon_pids(str(mnt))
    return str(mnt), r, pids


def _stop_daemon(mnt, pids):
    if is_mounted(mnt):
        assert fusermount_unmount(mnt).returncode == 0
    gone = wait_until(lambda: not any(pid_alive(p) for p in pids), 15)
    if not gone:
        for p in pids:
            os.kill(p, signal.SIGKILL)
    assert gone, "daemon %r still running after fusermount3 -u" % pids


def test_daemon_logs_to_logfile_and_sigusr1_logs_the_counters(emu, tmp_path):
    require_fuse()
    log = tmp_path / "daemon.log"
    mnt, r, pids = _daemon(emu, tmp_path, "logfile=%s" % log)
    try:
        assert r.returncode == 0, r.stderr.decode()
        assert r.stderr.decode().strip() == "", "no warning with logfile=: " + r.stderr.decode()
        assert len(pids) == 1, pids
        assert wait_until(lambda: "note: mounted" in _read_log(log), 5), _read_log(log)
        with open(os.path.join(mnt, "cn-bj2", "inventory", "inventory-auto-2026-11-27.tar.gz"),
                  "rb") as f:
            assert len(f.read()) == 29535
        os.kill(pids[0], signal.SIGUSR1)
        assert wait_until(lambda: "note: stats {" in _read_log(log), 5), _read_log(log)
        lines = [ln for ln in _read_log(log).splitlines() if "note: stats {" in ln]
        assert len(lines) == 1, lines
        stats = json.loads(lines[0].split("note: stats ", 1)[1])
        assert stats["bytes_served"] >= 29535, stats
        assert stats["api_calls"]["by_action"]["DescribeUMongoDBBackupURL"] == 1, stats
        assert pid_alive(pids[0]), "SIGUSR1 killed the daemon"
        os.kill(pids[0], signal.SIGUSR1)  # and again
        assert wait_until(lambda: _read_log(log).count("note: stats {") == 2, 5)
    finally:
        _stop_daemon(mnt, pids)


def test_daemon_without_syslog_socket_warns_once(emu, tmp_path):
    require_fuse()
    if _syslog_socket():
        pytest.skip("/dev/log is a syslog socket here: the warning cannot show")
    mnt, r, pids = _daemon(emu, tmp_path)
    try:
        assert r.returncode == 0, r.stderr.decode()
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("umongofs: warning: no syslog socket (/dev/log)"), lines
        assert "logfile=" in lines[0] and "-f" in lines[0], lines
        assert "cn-bj2" in os.listdir(mnt)
    finally:
        _stop_daemon(mnt, pids)


def test_foreground_does_not_warn_about_syslog(emu, mount_factory):
    m = mount_factory(emu)
    assert "cn-bj2" in os.listdir(m.path)
    m.stop()
    assert "syslog" not in m.stderr(), m.stderr()
