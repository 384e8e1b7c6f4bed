"""Run umongofs on a real FUSE mount for the integration tests.

    m = Mount(mountpoint, api_url, options=["dir_ttl=1"], log_dir=tmp).start()
    ... use m.path ...
    m.stop()          # fusermount3 -u, wait, assert exit 0, check stderr

The binary comes from $UMONGOFS_BIN (default <repo>/build/umongofs). The
daemon runs with -f, stderr to a file. Credentials are passed through
DEZAI_PUBLIC_KEY/DEZAI_PRIVATE_KEY in a clean environment (the caller's DEZAI_*
variables are never inherited, HOME points to an empty directory unless the
test gives one). stop() fails the test when stderr holds a sanitizer report or
an error-level line the test did not declare in `expect_errors` (regexes).

Fixtures using this live in conftest.py: `mount_factory`, `demo_mount`.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_BIN = os.path.join(REPO, "build", "umongofs")

DEMO_KEYS = ("demo-public-key", "demo-private-key")

SANITIZER_RE = re.compile(r"ERROR: \w*Sanitizer|LeakSanitizer|runtime error:|"
                          r"SUMMARY: \w*Sanitizer")
# A line the daemon logs at level error or worse, and libfuse's own complaints.
ERROR_LINE_RE = re.compile(r"^(umongofs: (emerg|alert|crit|error): |fuse: )")


def umongofs_bin():
    return os.environ.get("UMONGOFS_BIN") or DEFAULT_BIN


def sanitizer_build():
    """True when the daemon binary was built with ASan/UBSan."""
    try:
        with open(umongofs_bin(), "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__ubsan_handle" in data


def require_fuse():
    """Skip (never pass) when a real mount is impossible here."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    if not shutil.which("fusermount3"):
        pytest.skip("fusermount3 is missing")
    binary = umongofs_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail("umongofs binary %s not found (build it: meson compile -C build, "
                    "or set UMONGOFS_BIN)" % binary)


def clean_env(keys=DEMO_KEYS, home=None, extra=None):
    """The environment a test daemon gets: the caller's minus DEZAI_*, plus keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEZAI_")}
    if home is not None:
        env["HOME"] = str(home)
    if keys:
        env["DEZAI_PUBLIC_KEY"], env["DEZAI_PRIVATE_KEY"] = keys
    # Sanitizer builds: make UBSan fatal and keep reports on stderr.
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    env.update(extra or {})
    return env


def wait_until(pred, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _unescape_mountinfo(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mounted(path):
    """True when something is mounted on path, even a dead FUSE mount whose
    daemon is gone (os.path.ismount says False then: stat fails with ENOTCONN)."""
    path = os.path.realpath(path) if os.path.exists(os.path.dirname(path)) else path
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and _unescape_mountinfo(fields[4]) == path:
                    return True
    except OSError:
        return os.path.ismount(path)
    return False


def fusermount_unmount(path, lazy=False):
    args = ["fusermount3", "-uz" if lazy else "-u", path]
    return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=20)


LEAK_REPORT_RE = re.compile(r"^=+\d+=+ERROR: LeakSanitizer:.*?^SUMMARY: AddressSanitizer: "
                            r"\d+ byte\(s\) leaked[^\n]*\n?", re.S | re.M)


LEAK_ENTRY_RE = re.compile(r"^(?:Direct|Indirect) leak of .*?(?=^(?:Direct|Indirect) leak|^SUMMARY|\Z)",
                           re.S | re.M)


def _libfuse_only(report):
    """True when every allocation in a LeakSanitizer report was made by libfuse
    itself (frame #1 in libfuse3.so): libfuse 3.14's multi-threaded loop leaves
    a worker behind now and then when a signal ends it. Leaks with a frame of
    ours on top still count."""
    entries = LEAK_ENTRY_RE.findall(report)
    if not entries:
        return False
    for e in entries:
        m = re.search(r"^\s*#1 [^\n]*", e, re.M)
        if not m or "libfuse3.so" not in m.group(0):
            return False
    return True


def strip_libfuse_leaks(text):
    return LEAK_REPORT_RE.sub(lambda m: "" if _libfuse_only(m.group(0)) else m.group(0), text)


def check_log(text, expect_errors=(), what="umongofs stderr", allow_leaks=False):
    """Problems in a daemon's stderr: sanitizer reports, unexpected error lines.
    allow_leaks: ignore LeakSanitizer reports (other sanitizer reports still count)."""
    problems = []
    text = strip_libfuse_leaks(text)
    if allow_leaks:
        text = LEAK_REPORT_RE.sub("", text)
    if SANITIZER_RE.search(text):
        problems.append("sanitizer report")
    pats = [re.compile(p) for p in expect_errors]
    for line in text.splitlines():
        if ERROR_LINE_RE.search(line) and not any(p.search(line) for p in pats):
            problems.append("unexpected error line: %r" % line)
    if problems:
        return "%s: %s\n--- stderr ---\n%s" % (what, "; ".join(problems), text)
    return None


class MountError(AssertionError):
    pass


class Mount:
    """One umongofs process mounted on `path` (an existing empty directory)."""

    def __init__(self, path, api_url=None, options=(), keys=DEMO_KEYS, home=None,
                 env=None, log_path=None, expect_errors=(), args=None, extra_env=None):
        self.path = str(path)
        self.api_url = api_url
        self.options = list(options)
        self.keys = keys
        self.home = home
        self.env = env
        self.extra_env = extra_env
        self.log_path = log_path or (self.path.rstrip("/") + ".stderr")
        self.expect_errors = list(expect_errors)
        self.args = args  # full argv after the binary, overrides the default form
        self.proc = None
        self.rc = None
        self._stopped = False

    # -- process ---------------------------------------------------------------------

    def argv(self):
        if self.args is not None:
            return [umongofs_bin()] + list(self.args)
        opts = list(self.options)
        if self.api_url:
            opts.insert(0, "api_url=" + self.api_url)
        argv = [umongofs_bin(), "-f"]
        if opts:
            argv += ["-o", ",".join(opts)]
        return argv + [self.path]

    def environment(self):
        if self.env is not None:
            return self.env
        home = self.home
        if home is None:
            home = self.path.rstrip("/") + ".home"
            os.makedirs(home, exist_ok=True)
        return clean_env(self.keys, home=home, extra=self.extra_env)

    def spawn(self):
        """Start the process without waiting for the mount."""
        require_fuse()
        os.makedirs(self.path, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log,
                                     env=self.environment())
        return self

    def start(self, timeout=15):
        self.spawn()
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.path):
            rc = self.proc.poll()
            if rc is not None:
                self._cleanup_failed()
                raise MountError("umongofs exited with %r before mounting:\n%s"
                                 % (rc, self.stderr()))
            if time.monotonic() > deadline:
                self._cleanup_failed()
                raise MountError("%s not mounted after %ss:\n%s"
                                 % (self.path, timeout, self.stderr()))
            time.sleep(0.02)
        return self

    def _cleanup_failed(self):
        self._kill()
        self._stopped = True
        if is_mounted(self.path):
            # A daemon that died after mounting leaves a dead mount: say so.
            fusermount_unmount(self.path, lazy=True)
            with open(self.log_path, "a") as f:
                f.write("\n[test harness: %s was left mounted; detached it]\n" % self.path)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc:
            self.rc = self.proc.returncode
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_exit(self, timeout=20):
        """Wait for the process to end on its own; returns the exit status. The
        caller checks it (and the log): the mount counts as stopped afterwards."""
        self._stopped = True
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise MountError("umongofs pid %d did not exit within %ss:\n%s"
                             % (self.proc.pid, timeout, self.stderr()))
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        return self.rc

    def unmount(self, timeout=20):
        """fusermount3 -u (retrying while busy, -uz as a last resort), then wait.
        Returns the exit status; does not check it."""
        if self._stopped:
            return self.rc
        self._stopped = True
        problems = []
        if is_mounted(self.path):
            deadline = time.monotonic() + 5
            while True:
                r = fusermount_unmount(self.path)
                if r.returncode == 0 or not is_mounted(self.path):
                    break
                if time.monotonic() > deadline:
                    problems.append("fusermount3 -u failed: %s" % r.stdout.decode(errors="replace"))
                    fusermount_unmount(self.path, lazy=True)
                    break
                time.sleep(0.1)
        if self.proc is None:
            return None
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append("umongofs pid %d still running %ss after the unmount"
                            % (self.proc.pid, timeout))
            self._kill()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        if problems:
            raise MountError("; ".join(problems) + "\n" + self.stderr())
        return self.rc

    def stop(self, check=True):
        """Unmount, wait, and (check) assert exit status 0 and a clean stderr."""
        already = self._stopped
        rc = self.unmount()
        if not check or already:
            return rc
        if rc != 0:
            raise MountError("umongofs exited %r after the unmount:\n%s" % (rc, self.stderr()))
        problem = check_log(self.stderr(), self.expect_errors)
        if problem:
            raise MountError(problem)
        return rc

    def expect_error(self, *patterns):
        self.expect_errors.extend(patterns)

    # -- helpers for tests -------------------------------------------------------------

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)
        return False


def run_oneshot(argv, env, timeout=30):
    """Run umongofs to completion (a failing mount, --help, daemon mode)."""
    t0 = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=timeout)
    return r, time.monotonic() - t0


def find_daemon_pids(mountpoint):
    """PIDs of umongofs processes whose argv names this (unique) mountpoint."""
    pids = []
    binary = os.path.basename(umongofs_bin())
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).decode(errors="replace") == binary and \
                os.fsencode(mountpoint) in argv:
            pids.append(int(d))
    return pids


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def errno_of(fn, *args, **kw):
    """Call fn; return the errno of the OSError it raises, or None."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return None


__all__ = ["Mount", "MountError", "DEMO_KEYS", "clean_env", "check_log", "require_fuse",
           "sanitizer_build", "is_mounted", "strip_libfuse_leaks",
           "umongofs_bin", "run_oneshot", "find_daemon_pids", "pid_alive", "wait_until",
           "fusermount_unmount", "errno_of", "errno"]
