#!/usr/bin/python3
"""The read-path benchmark (README, "Performance"): umongofs against curl on the same
URL of the same emulator, in one run, so ratios hold on a shared machine.

    scripts/bench.sh [--size 1G] [--runs 3] [--out bench-results]

Cases: sequential reads on loopback and under an object-store profile (each
connection capped, latency before the first byte), time to first byte, and
listing a cluster of 5,000 backups. Prints a table (also written to
OUT/results.md and OUT/results.json). Only 127.0.0.1 is used.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "emulator"))
from emu_client import Emulator  # noqa: E402
from make_world import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY  # noqa: E402

BIN = os.environ.get("UMONGOFS_BIN", os.path.join(REPO, "build", "umongofs"))
BIG = ("udb-bench01", "bk-bench-big")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


class Mount:
    def __init__(self, emu, mnt, opts=()):
        self.mnt = mnt
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEZAI_")}
        env.update(DEZAI_PUBLIC_KEY=DEMO_PUBLIC_KEY, DEZAI_PRIVATE_KEY=DEMO_PRIVATE_KEY)
        o = ",".join(["api_url=" + emu.api_url] + list(opts))
        self.err = open(os.path.join(os.path.dirname(mnt), "umongofs.log"), "ab")
        self.proc = subprocess.Popen([BIN, "-f", "-o", o, mnt], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        for _ in range(200):
            if os.path.ismount(mnt):
                return
            if self.proc.poll() is not None:
                raise RuntimeError("umongofs exited %s" % self.proc.returncode)
            time.sleep(0.05)
        raise RuntimeError("mount did not come up")

    def peak_rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def close(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def big_path(mnt):
    return os.path.join(mnt, "cn-bj2", "bench", "bench-big.bin")


def seq_umongofs(emu, mnt, opts=()):
    """Fresh mount, dd the big object: (MB/s, peak RSS KiB)."""
    m = Mount(emu, mnt, opts)
    try:
        t0 = time.monotonic()
        run(["dd", "if=" + big_path(mnt), "of=/dev/null", "bs=1M"])
        took = time.monotonic() - t0
        size = os.path.getsize(big_path(mnt))
        return size / took / 1e6, m.peak_rss_kib()
    finally:
        m.close()


def seq_curl(emu):
    url = emu.download_url(*BIG)
    out = run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url])
    size, took = out.stdout.split()
    return int(size) / float(took) / 1e6


def ttfb_umongofs(emu, mnt):
    m = Mount(emu, mnt)
    try:
        os.listdir(os.path.dirname(big_path(mnt)))  # listing is not part of the first byte
        t0 = time.monotonic()
        fd = os.open(big_path(mnt), os.O_RDONLY)
        os.pread(fd, 4096, 0)
        took = time.monotonic() - t0
        os.close(fd)
        return took * 1e3
    finally:
        m.close()


def ttfb_curl(emu):
    """One DescribeURL call (as umongofs makes at open) plus curl's own time
    for a 4 KiB range request (not counting the curl process's start)."""
    t0 = time.monotonic()
    url = emu.download_url(*BIG)
    describe = time.monotonic() - t0
    out = run(["curl", "-s", "-o", "/dev/null", "-r", "0-4095", "-w", "%{time_total}", url])
    return (describe + float(out.stdout)) * 1e3


def listing(emu, mnt):
    m = Mount(emu, mnt)
    try:
        os.listdir(mnt)
        os.listdir(os.path.join(mnt, "cn-bj2"))
        emu.reset()
        t0 = time.monotonic()
        run(["ls", "-l", os.path.join(mnt, "cn-bj2", "listing")])
        cold = time.monotonic() - t0
        calls = emu.stats()["api_total"]
        t0 = time.monotonic()
        run(["ls", "-l", os.path.join(mnt, "cn-bj2", "listing")])
        warm = time.monotonic() - t0
        return cold * 1e3, warm * 1e3, calls, emu.stats()["api_total"] - calls
    finally:
        m.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(REPO, "bench-results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="umongofs-bench.")
    run([sys.executable, os.path.join(REPO, "tests", "emulator", "make_world.py"), "--bench",
         os.path.join(work, "w"), "--size", a.size, "--many", "5000"])
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    rows = []
    emu = Emulator(os.path.join(work, "w", "world.json"), args=("--quiet",)).start()
    try:
        def med(f, *args):
            vals = [f(*args) for _ in range(a.runs)]
            return statistics.median(v[0] if isinstance(v, tuple) else v for v in vals), vals

        for profile, cfg in (("loopback", {}),
                             ("object store: 50 MB/s per connection, 30 ms first byte",
                              {"store_bandwidth": 50_000_000, "store_latency_ms": 30})):
            emu.config(**cfg)
            u, uvals = med(seq_umongofs, emu, mnt)
            c, _ = med(seq_curl, emu)
            rss = max(v[1] for v in uvals)
            rows.append(("sequential, " + profile, "%.0f MB/s" % u, "%.0f MB/s" % c,
                         "%.2f" % (u / c), "peak RSS %.0f MiB" % (rss / 1024)))
            emu.config(store_bandwidth=0, store_latency_ms=0)
        u, _ = med(ttfb_umongofs, emu, mnt)
        c, _ = med(ttfb_curl, emu)
        rows.append(("time to first byte (open + 4 KiB)", "%.1f ms" % u, "%.1f ms" % c,
                     "%.2f" % (c / u), "curl: DescribeURL call + 4 KiB range GET"))
        cold, warm, calls, warm_calls = listing(emu, mnt)
        rows.append(("ls -l of 5,000 backups", "%.0f ms cold, %.0f ms warm" % (cold, warm), "",
                     "", "%d API calls cold, %d warm" % (calls, warm_calls)))
    finally:
        emu.stop()
        run(["rm", "-rf", work])
    head = ("case", "umongofs", "curl", "ratio", "notes")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump([dict(zip(head, r)) for r in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
