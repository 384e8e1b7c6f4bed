"""A helper process for tests of mounts that go to the background.

    python3 session_helper.py [--bind SRC:DST ...]

Run it under `unshare --mount --propagation private` to get a mount namespace
of its own: the --bind mounts (e.g. a directory over /usr/local/bin, a test
home over /root) and every mount made there are invisible to the rest of the
machine and vanish with the namespace. It is a child subreaper
(PR_SET_CHILD_SUBREAPER), so a daemon that forks away from a command it runs
(umongofs without -f, started by mount.fuse3) becomes its child, and its exit
status can be checked: a daemon that crashes after the unmount is a failure
the test must see.

Requests, one JSON object per line on stdin; one JSON answer per line:
    {"run": [argv...], "env": {...} or null, "timeout": SEC}
        -> {"rc": N, "out": "...", "err": "..."}
    {"children": true}      -> {"pids": [...]}   (adopted daemons, running)
    {"reap": SEC}           -> {"reaped": [[pid, "exit N" | "signal N"], ...],
                                "left": [pids still running after SEC]}
End of stdin: every adopted process still running gets SIGTERM, then SIGKILL.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children():
    me = str(os.getpid())
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            pids.append(int(d))
    return pids


def describe(status):
    if os.WIFEXITED(status):
        return "exit %d" % os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return "signal %d" % os.WTERMSIG(status)
    return "status %d" % status


def reap(timeout):
    reaped = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            reaped.append([pid, describe(status)])
            continue
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return {"reaped": reaped, "left": children()}


def cleanup():
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = children()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        reap(5)


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("session_helper: prctl(PR_SET_CHILD_SUBREAPER) failed")
    args = sys.argv[1:]
    while args:
        if args[0] != "--bind" or len(args) < 2:
            sys.exit("usage: session_helper.py [--bind SRC:DST ...]")
        src, dst = args[1].split(":", 1)
        subprocess.run(["mount", "--bind", src, dst], check=True)
        args = args[2:]
    print(json.dumps({"ready": os.getpid()}), flush=True)
    try:
        for line in sys.stdin:
            req = json.loads(line)
            if "run" in req:
                try:
                    r = subprocess.run(req["run"], env=req.get("env"), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       timeout=req.get("timeout", 30))
                    ans = {"rc": r.returncode, "out": r.stdout.decode(errors="replace"),
                           "err": r.stderr.decode(errors="replace")}
                except subprocess.TimeoutExpired:
                    ans = {"rc": None, "out": "", "err": "timed out"}
            elif "children" in req:
                ans = {"pids": children()}
            elif "reap" in req:
                ans = reap(req["reap"])
            else:
                ans = {"error": "unknown request"}
            print(json.dumps(ans), flush=True)
    finally:
        cleanup()


class Session:
    """The test side: start the helper (in a mount namespace of its own when
    namespace=True), send requests, close. Use as a context manager; close()
    also ends whatever the helper adopted."""

    def __init__(self, binds=(), namespace=False):
        argv = ["/usr/bin/python3", os.path.abspath(__file__)]
        for src, dst in binds:
            argv += ["--bind", "%s:%s" % (src, dst)]
        if namespace:
            argv = ["unshare", "--mount", "--propagation", "private", "--"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = self._read(30)
        if not first or "ready" not in first:
            err = self.close()
            raise RuntimeError("session helper did not start: %r %s" % (first, err))
        self.pid = first["ready"]

    def _read(self, timeout):
        import select
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def request(self, req, timeout):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        ans = self._read(timeout + 10)
        if ans is None:
            raise RuntimeError("session helper gave no answer to %r" % (req,))
        return ans

    def run(self, argv, env=None, timeout=30):
        return self.request({"run": list(argv), "env": env, "timeout": timeout}, timeout)

    def children(self):
        return self.request({"children": True}, 5)["pids"]

    def reap(self, timeout):
        return self.request({"reap": timeout}, timeout)

    def close(self):
        """End the helper (it stops what it adopted); returns its stderr."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


if __name__ == "__main__":
    main()
