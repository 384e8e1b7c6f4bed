"""The daemon as a process: metadata answers while reads are stuck, the keys
stay out of core dumps and swap, hostile text cannot forge log lines or hide
in names, and size options cannot wrap around (issue 6, findings 7, 10, 12
and 13)."""

import errno
import os
import subprocess
import sys
import threading
import time

import pytest

from mount import Mount, clean_env, find_daemon_pids, fusermount_unmount, is_mounted, pid_alive, \
    require_fuse, run_oneshot, sanitizer_build, umongofs_bin, wait_until
from treewalk import walk
from worldspec import spec_cluster as _cluster, spec_object as _obj

MiB = 1 << 20


# -- finding 7: stuck reads must not hold up metadata -----------------------------------------

N_STUCK = 24        # more than libfuse's default of 10 workers, well below max_background
STALL_S = 15        # how long the store sits on each request; far above METADATA_BOUND
METADATA_BOUND = 2  # seconds a stat or ls may take while the reads are stuck


def test_metadata_answers_while_reads_are_stuck(emulator_factory, mount_factory):
    size = 5 * MiB + 777
    emu = emulator_factory({"clusters": [
        _cluster("udb-stuck01", "stuck", [_obj("udb-stuck01", i, size, 900 + i)
                                          for i in range(N_STUCK)]),
        _cluster("udb-calm01", "calm", [_obj("udb-calm01", 0, 1000, 7)])]})
    # 1 MiB blocks and readahead: the open fetches block 0 and at most block 1
    # ahead, so the reads at 4 MiB below must go to the store.
    m = mount_factory(emu, "block_size=1M", "readahead=1M", "timeout=60",
                      expect_errors=[r"giving up"])
    walk(m.path)  # everything listed: metadata needs no API call below
    stuck_dir = m.p("cn-bj2", "stuck")
    fds = []
    for i in range(N_STUCK):
        fd = os.open(os.path.join(stuck_dir, "obj-%d.bin" % i), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # one read, one request
        fds.append(fd)
    src = []
    for i in range(N_STUCK):
        with open(emu.object_path("udb-stuck01", "bk-udb-stuck01-%d" % i), "rb") as f:
            src.append(f.read())

    off = 4 * MiB + 10
    results = [None] * N_STUCK
    done = [threading.Event() for _ in range(N_STUCK)]

    def reader(i):
        try:
            results[i] = os.pread(fds[i], 4096, off)
        except OSError as e:
            results[i] = e
        finally:
            done[i].set()

    emu.reset()
    emu.config(store_stall={"after_bytes": 0, "count": 100000, "seconds": STALL_S})
    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(N_STUCK)]
    try:
        for t in threads:
            t.start()
        # The reads reach the store (some wait for a connection inside the
        # daemon, which holds their FUSE worker just the same)...
        assert wait_until(lambda: emu.stats()["store"]["requests"] >= 8, 10), emu.stats()
        # ... and the kernel's attribute cache (1 s) runs out, so every stat
        # below is a request the daemon has to answer.
        time.sleep(1.5)
        pending = sum(not d.is_set() for d in done)
        assert pending >= 16, "only %d reads stuck; the store stall did not hold" % pending

        timings = {}

        def timed(what, fn, *args):
            t0 = time.monotonic()
            fn(*args)
            timings[what] = time.monotonic() - t0

        timed("stat dir", os.stat, stuck_dir)
        timed("ls dir", os.listdir, stuck_dir)
        timed("stat file", os.stat, os.path.join(stuck_dir, "obj-0.bin"))
        timed("ls -l other dir",
              lambda d: [os.stat(os.path.join(d, n)) for n in os.listdir(d)],
              m.p("cn-bj2", "calm"))
        timed("ls root", os.listdir, m.path)
        still = sum(not d.is_set() for d in done)
        print("\nmetadata while %d reads were stuck: %s" % (
            still, ", ".join("%s %.3fs" % kv for kv in timings.items())))
        slow = {k: round(v, 2) for k, v in timings.items() if v >= METADATA_BOUND}
        assert not slow, "metadata waited for stuck reads (%d of them): %r" % (still, slow)
        # The reads really were stuck all along (the store holds them STALL_S).
        assert still >= 16, "the reads finished before the metadata calls: %d left" % still
    finally:
        emu.config(store_stall=None)
        for t in threads:
            t.join(STALL_S + 120)
        for fd in fds:
            os.close(fd)
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, "reads %r never finished" % hung
    for i, r in enumerate(results):
        if isinstance(r, OSError):
            assert r.errno == errno.EIO, "read %d: %r" % (i, r)
        else:
            assert r == src[i][off:off + 4096], "read %d returned wrong bytes" % i


# -- finding 10: keys out of core dumps and swap --------------------------------------------

# The observer and the daemon run as root with the same capabilities, minus
# CAP_SYS_PTRACE: for such a pair only dumpability decides whether the
# observer passes ptrace_may_access, which guards /proc/PID/exe, cwd and
# mem. (/proc/PID/environ is no witness: this kernel lets it open.)
NO_PTRACE = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"]


def _need_setpriv():
    if os.geteuid() != 0:
        pytest.skip("the dumpability check runs as root")
    if subprocess.run(["sh", "-c", "command -v setpriv"], stdout=subprocess.DEVNULL).returncode:
        pytest.skip("setpriv (util-linux) is missing")


_PROBE = """
import errno, os, sys
try:
    os.readlink("/proc/%s/exe" % sys.argv[1])
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def _peer_can_inspect(pid):
    """True when a same-user, same-capability process may look inside pid."""
    r = subprocess.run(NO_PTRACE + [sys.executable, "-c", _PROBE, str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    verdict = r.stdout.decode().strip()
    assert verdict in ("ok", "EACCES"), verdict
    return verdict == "ok"


def _vm_locked_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return 0


def _check_protected(pid):
    # The control: a dumpable process with the daemon's credentials is
    # readable, so the observer can tell the difference.
    control = subprocess.Popen(NO_PTRACE + ["sleep", "60"])
    try:
        assert wait_until(lambda: _peer_can_inspect(control.pid), 5), \
            "the observer cannot read a dumpable peer: the check proves nothing here"
    finally:
        control.kill()
        control.wait()
    assert not _peer_can_inspect(pid), \
        "daemon %d is dumpable: a same-user process may read its memory" % pid
    # The private key's page is locked (root: RLIMIT_MEMLOCK does not apply).
    # ASan's mlock() does nothing, so the sanitized build cannot show it.
    if not sanitizer_build():
        assert _vm_locked_kb(pid) >= 4, "no memory locked for the private key"


class _NoPtraceMount(Mount):
    def argv(self):
        return NO_PTRACE + super().argv()


def test_daemon_is_not_dumpable_and_locks_its_key(emu, tmp_path):
    _need_setpriv()
    require_fuse()
    m = _NoPtraceMount(str(tmp_path / "mnt-np"), emu.api_url,
                       log_path=str(tmp_path / "np.stderr"))
    m.start()
    try:
        assert "cn-bj2" in os.listdir(m.path)
        _check_protected(m.pid)
    finally:
        m.stop()


def test_daemonized_process_is_not_dumpable_and_locks_its_key(emu, tmp_path):
    """fuse_daemonize forks: the child must keep both protections (the memory
    lock is not inherited across fork and has to be taken again)."""
    _need_setpriv()
    require_fuse()
    mnt = tmp_path / "mnt-daemon"
    mnt.mkdir()
    r, _ = run_oneshot(NO_PTRACE + [umongofs_bin(), "-o", "api_url=" + emu.api_url, str(mnt)],
                       clean_env(home=tmp_path))
    pids = find_daemon_pids(str(mnt))
    try:
        assert r.returncode == 0, r.stderr.decode()
        assert len(pids) == 1, pids
        assert "cn-bj2" in os.listdir(str(mnt))
        _check_protected(pids[0])
    finally:
        if is_mounted(str(mnt)):
            assert fusermount_unmount(str(mnt)).returncode == 0
        gone = wait_until(lambda: not any(pid_alive(p) for p in pids), 15)
        if not gone:
            for p in pids:
                os.kill(p, 9)
    assert gone


# -- finding 12: hostile text in names and log lines ----------------------------------------

RLO, LRI, PDI, CSI = "\u202e", "\u2066", "\u2069", "\u009b"
FORGED = "umongofs: error: FORGED"


def test_direction_overrides_in_names_are_shown_escaped(emulator_factory, mount_factory):
    emu = emulator_factory({"clusters": [
        _cluster("udb-bidi01", "invoice" + RLO + "fdp.exe", [
            _obj("udb-bidi01", 0, 1000, 1, BackupName="a" + LRI + "b" + PDI + "c"),
            _obj("udb-bidi01", 1, 1000, 2, BackupName=CSI + "31mred"),
        ])]})
    m = mount_factory(emu)
    assert os.listdir(m.p("cn-bj2")) == ["invoice_fdp.exe"]
    assert sorted(os.listdir(m.p("cn-bj2", "invoice_fdp.exe"))) == ["_31mred", "a_b_c"]
    # The display name stays available, as the provider sent it.
    assert os.getxattr(m.p("cn-bj2", "invoice_fdp.exe"), "user.umongofs.name").decode() == \
        "invoice" + RLO + "fdp.exe"


def _hostile_world():
    evil = "x\n" + FORGED + " \x1b[2K\x1b]0;title\x07" + RLO + CSI + "y"
    return {"clusters": [
        _cluster("udb-log01", "logs" + RLO + "x", [
            # Its listed size is wrong, so the open logs its (escaped) name.
            _obj("udb-log01", 0, 5000, 3, BackupName="n" + RLO + "\x1b[31m", size_delta=17),
            _obj("udb-log01", 1, 1000, 4, BackupName="refused",
                 refuse_download={"RetCode": 18099, "Message": evil}),
        ])]}


def _assert_clean_log(text):
    for line in text.splitlines():
        if not line.startswith("umongofs:"):
            continue  # libfuse's own -d output prints paths as they are
        assert not line.startswith(FORGED), "forged log line: %r" % line
        bad = [c for c in line if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or
               0x2028 <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]
        assert not bad, "raw control or direction character in log line %r" % line


def test_hostile_text_cannot_forge_log_lines(emulator_factory, mount_factory):
    emu = emulator_factory(_hostile_world())
    m = mount_factory(emu, start=False, expect_errors=[r"will not hand out"])
    # -d: the chattiest log; a region the account lacks, named with a newline.
    m.args = ["-d", "-o", "api_url=%s,regions=cn-bj2:ev\nil%s" % (emu.api_url, RLO), m.path]
    m.start()
    cdir = os.listdir(m.p("cn-bj2"))
    assert cdir == ["logs_x"], cdir
    names = sorted(os.listdir(m.p("cn-bj2", "logs_x")))
    assert names == ["n__[31m", "refused"], names
    with open(m.p("cn-bj2", "logs_x", "n__[31m"), "rb") as f:
        assert len(f.read()) == 5000
    e = None
    try:
        open(m.p("cn-bj2", "logs_x", "refused"), "rb").close()
    except OSError as ex:
        e = ex.errno
    assert e == errno.EPERM
    m.stop()
    text = open(m.log_path, encoding="utf-8", errors="surrogateescape").read()
    _assert_clean_log(text)
    refusal = [ln for ln in text.splitlines() if "will not hand out" in ln]
    assert len(refusal) == 1, text
    # The Message is there, escaped, on the one line.
    assert "x\\x0A" + FORGED + " \\x1B[2K\\x1B]0;title\\x07\\u{202E}\\u{009B}y" in refusal[0]
    assert any("ev\\x0Ail\\u{202E}" in ln for ln in text.splitlines() if "regions=" in ln), text


# -- finding 13: size options that would wrap around ----------------------------------------

@pytest.mark.parametrize("opt", [
    "cache_size=17179869185G",      # (2^34 + 1) << 30 wraps to 1G
    "cache_size=18446744073709551617",
    "cache_size=17G",
    "cache_size=-1",
    "block_size=17592186044417M",   # (2^44 + 1) << 20 wraps to 1M
    "block_size=65M",
    "readahead=17179869185G",
    "readahead=2G",
    "cache_size=1M",                # below block_size
    "max_threads=0",
    "timeout=4294968",              # x 1000 ms wrapped to 704 ms
    "timeout=86401",
    "timeout=0",
    "retries=101",
    "cache_max=7M",                 # below 2 x block_size (4M)
    "cache_max=2048T",              # above 1P
    "cache_max=1099511627777M",     # (2^40 + 1) << 20 wraps to 1M
])
def test_size_options_out_of_range_are_refused(emu, tmp_path, opt):
    require_fuse()
    mnt = tmp_path / "mnt-opt"
    mnt.mkdir()
    argv = [umongofs_bin(), "-f", "-o", "api_url=%s,%s" % (emu.api_url, opt), str(mnt)]
    with open(str(tmp_path / "stderr"), "w+b") as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, env=clean_env(home=tmp_path))
        wait_until(lambda: p.poll() is not None or is_mounted(str(mnt)), 30)
        accepted = is_mounted(str(mnt))
        if accepted:
            fusermount_unmount(str(mnt))
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        err.seek(0)
        text = err.read().decode(errors="replace")
    assert not accepted, "%s was accepted: the daemon mounted" % opt
    assert p.returncode != 0
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bad option value" in lines[0], lines
    assert opt.split("=")[0] in lines[0], lines


def test_largest_sizes_are_accepted(emu, mount_factory):
    m = mount_factory(emu, "cache_size=16G", "block_size=64M", "readahead=1G")
    assert "cn-bj2" in os.listdir(m.path)
