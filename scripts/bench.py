#!/usr/bin/python3
"""The read-path benchmark (README, "Performance"): umongofs against
curl on the same URL of the same emulator, in one run, so ratios hold on a
shared machine; and, where installed, rclone mount and httpdirfs on the same
bytes served by a plain static HTTP server (nginx, else python's http.server).

    scripts/bench.sh [--quick] [--size 1G] [--runs 3] [--out bench-results]

Rows (each with its target and PASS/FAIL): sequential read on loopback
over HTTP and HTTPS (MB/s, daemon CPU seconds per GiB), the object-store
profile (50 MB/s per connection, 30 ms before the first byte), time to first
byte of a cold file, random 4 KiB reads with fio at 1 and 8 jobs, a type
sniff of 20 extension-less files with gio, a re-read of an unchanged file,
ls -l of 5,000 backups cold and warm, peak RSS with 16 files read at once,
the disk cache (cache_dir=: first read, read after a remount, against dd of
a local file), rclone mount and httpdirfs. Prints a markdown table and writes
OUT/results.md, OUT/results.json and OUT/chart.png (gnuplot, else
matplotlib). Only 127.0.0.1 is used; every process started here is stopped
by its PID and every mount made here is unmounted.
"""

import argparse
import contextlib
import datetime
import gzip
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "emulator"))
from emu_client import Emulator, make_tls_cert  # noqa: E402
import make_world  # noqa: E402
from make_world import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY  # noqa: E402

BIG = ("udb-bench01", "bk-bench-big")
BIG_PATH = ("cn-bj2", "bench", "bench-big.bin")
SNIFF_FILES = 20
MULTI_FILES = 16
MiB = 1 << 20
GiB = 1 << 30

# Row ids, in table order (tests/integration/test_bench.py checks them all).
ROW_IDS = ("seq_http", "seq_https", "profile", "ttfb", "rand1", "rand8", "sniff", "reread",
           "ls_cold", "ls_warm", "rss16", "cache_first", "cache_hit", "cache_vs_dd", "rclone",
           "httpdirfs")
STATS_XATTR = "user.umongofs.stats"


def log(msg):
    sys.stderr.write("bench %s: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.05)
    return False


def cpu_seconds(pid):
    """utime + stime of a live process (/proc/PID/stat), seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f if len(line.split()) > 4)


def stop_pid(proc, timeout=20):
    """Wait for a process we started; SIGTERM then SIGKILL it by its PID."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class FuseProc:
    """One FUSE daemon in the foreground (umongofs, rclone, httpdirfs) on its own
    mountpoint: start() waits for the mount, close() unmounts it and stops the
    daemon by its PID."""

    def __init__(self, name, argv, mnt, logpath, env=None):
        self.name, self.argv, self.mnt, self.env = name, argv, mnt, env
        self.logpath = logpath
        self.proc = None

    def start(self, timeout=30):
        os.makedirs(self.mnt, exist_ok=True)
        with open(self.logpath, "ab") as err:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while not mounted(self.mnt):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                with open(self.logpath, errors="replace") as f:
                    tail = f.read()[-600:]
                raise RuntimeError("%s did not mount (exit %s): %s"
                                   % (self.name, self.proc.returncode, tail))
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def peak_rss_kib(self):
        return vm_hwm_kib(self.proc.pid)

    def p(self, *parts):
        return os.path.join(self.mnt, *parts)

    def close(self):
        if mounted(self.mnt):
            for _ in range(50):
                r = subprocess.run(["fusermount3", "-u", self.mnt], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                if r.returncode == 0 or not mounted(self.mnt):
                    break
                time.sleep(0.1)
            else:
                subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
        stop_pid(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class Bench:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.n = 0
        self.rows = {}
        self.emu = None
        self.static_url = None
        self.static_kind = None

    # -- helpers ---------------------------------------------------------------------

    def mnt(self, name):
        self.n += 1
        return os.path.join(self.work, "mnt-%s-%d" % (name, self.n))

    def umongofs(self, https=False, opts=()):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEZAI_")}
        env.update(DEZAI_PUBLIC_KEY=DEMO_PUBLIC_KEY, DEZAI_PRIVATE_KEY=DEMO_PRIVATE_KEY,
                   HOME=os.path.join(self.work, "home"))
        o = ["api_url=" + (self.emu.https_api_url if https else self.emu.api_url)]
        if https:
            o.append("cafile=" + self.emu.cafile)
        mnt = self.mnt("umongofs")
        argv = [self.a.bin, "-f", "-o", ",".join(o + list(opts)), mnt]
        return FuseProc("umongofs", argv, mnt, os.path.join(self.work, "umongofs.log"), env)

    def curl(self, url, https=False, rng=None, extra=()):
        """One curl -o /dev/null: {size, total, ttfb, cpu} (seconds, curl's own timers)."""
        cmd = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w",
               "%{size_download} %{time_total} %{time_starttransfer}"]
        if https:
            cmd += ["--cacert", self.emu.cafile]
        if rng:
            cmd += ["-r", rng]
        c0 = children_cpu()
        out = run(cmd + list(extra) + [url]).stdout.split()
        return {"size": int(out[0]), "total": float(out[1]), "ttfb": float(out[2]),
                "cpu": children_cpu() - c0}

    @staticmethod
    def read_all(path, deadline_s=None, bufsize=MiB):
        """Read a file start to end in 1 MiB reads: (bytes, seconds)."""
        buf = bytearray(bufsize)
        got = 0
        t0 = time.monotonic()
        with open(path, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                got += n
                if deadline_s and time.monotonic() - t0 > deadline_s:
                    break
        return got, time.monotonic() - t0

    @staticmethod
    def dd(path):
        """dd if=PATH of=/dev/null bs=1M: (bytes, seconds), as dd itself reports them."""
        r = run(["dd", "if=" + path, "of=/dev/null", "bs=1M"], timeout=1800,
                env=dict(os.environ, LC_ALL="C"))
        m = re.search(r"^(\d+) bytes .*copied, ([0-9.e+-]+) s", r.stderr, re.M)
        if not m:
            raise RuntimeError("cannot parse dd's report: %r" % r.stderr[-300:])
        return int(m.group(1)), max(float(m.group(2)), 1e-6)

    @staticmethod
    def evict(paths):
        """Drop these files' pages from the page cache, and only theirs (the machine
        is shared: no global drop_caches). Dirty pages are written first, since
        POSIX_FADV_DONTNEED leaves them."""
        for p in paths:
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

    @staticmethod
    def resident(paths):
        """Bytes of these files in the page cache (fincore), or None without fincore."""
        if not shutil.which("fincore") or not paths:
            return None
        total = 0
        for i in range(0, len(paths), 500):
            r = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES"]
                               + paths[i:i + 500], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               timeout=60)
            total += sum(int(x) for x in r.stdout.split() if x.isdigit())
        return total

    @staticmethod
    def mount_stats(m):
        return json.loads(os.getxattr(m.mnt, STATS_XATTR))

    def add(self, rid, case, fs="", ref="", ratio_text="", cpu="", target="", result="info",
            notes="", **values):
        self.rows[rid] = {"id": rid, "case": case, "umongofs": fs, "reference": ref,
                          "ratio": ratio_text, "cpu": cpu, "target": target, "result": result,
                          "notes": notes, "values": values}
        log("%s: %s | %s | %s | %s | %s" % (rid, fs, ref, ratio_text, target, result))

    def skip(self, rid, case, target, why):
        self.add(rid, case, target=target, result="skipped", notes=why)

    @staticmethod
    def verdict(ok):
        return "PASS" if ok else "FAIL"

    # -- world ---------------------------------------------------------------------------

    def build_world(self):
        a = self.a
        wdir = os.path.join(self.work, "w")
        data = os.path.join(wdir, "data")
        os.makedirs(data)
        spec = make_world.bench_spec(a.size, 5000)
        z = "cn-bj2-02"
        # 20 extension-less gzip files (what a file manager must sniff), one file.
        raw = os.path.join(data, "sniff.raw")
        make_world.write_random_file(raw, 8 * MiB, 11)
        sniff = os.path.join(data, "sniff.gz")
        with open(raw, "rb") as f, gzip.open(sniff, "wb", compresslevel=1) as g:
            g.write(f.read())
        os.unlink(raw)
        c = make_world._cluster("udb-sniff01", "sniff", z)
        for i in range(SNIFF_FILES):
            b = make_world._backup("udb-sniff01", z, "bk-sniff-%02d" % i, "sniff-%02d" % i,
                                   make_world._t(2) + i * 600)
            b.update(file=sniff, BackupSize=os.path.getsize(sniff), DiskSize=0)
            c["backups"].append(b)
        spec["clusters"].append(c)
        # 16 objects read at once (one file on disk, 16 URLs).
        c = make_world._cluster("udb-multi01", "multi", z)
        for i in range(MULTI_FILES):
            c["backups"].append(make_world._backup(
                "udb-multi01", z, "bk-multi-%02d" % i, "multi-%02d.bin" % i,
                make_world._t(3) + i * 600, content={"random": a.multi_size, "seed": 5}))
        spec["clusters"].append(c)
        return make_world.build_world(wdir, spec)

    # -- static server for the peers -------------------------------------------------------

    @contextlib.contextmanager
    def static_server(self, root):
        port = free_port()
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx",
                                                                         os.X_OK) else None)
        proc = None
        try:
            if nginx:
                d = os.path.join(self.work, "nginx")
                os.makedirs(os.path.join(d, "tmp"))
                conf = os.path.join(d, "nginx.conf")
                tmp = os.path.join(d, "tmp")
                with open(conf, "w") as f:
                    f.write("""worker_processes 2;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 512; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  default_type application/octet-stream;
  client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s; fastcgi_temp_path %(tmp)s;
  uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
  server { listen 127.0.0.1:%(port)d; root %(root)s; autoindex on; }
}
""" % {"d": d, "tmp": tmp, "port": port, "root": root})
                proc = subprocess.Popen([nginx, "-e", os.path.join(d, "error.log"), "-p", d,
                                         "-c", conf], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.static_kind = "nginx"
            else:
                proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind",
                                         "127.0.0.1", "--directory", root, str(port)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                self.static_kind = "python http.server (no ranges)"
            if not wait_port(port, proc):
                raise RuntimeError("static server did not start")
            yield "http://127.0.0.1:%d" % port
        finally:
            if proc is not None and proc.poll() is None:
                # nginx: the master ends its workers on SIGQUIT/SIGTERM.
                proc.send_signal(signal.SIGTERM)
            stop_pid(proc, 10)

    # -- cases ---------------------------------------------------------------------------

    def seq_umongofs(self, https=False, opts=()):
        """Fresh mount, read the big object: MB/s, daemon CPU s/GiB, peak RSS KiB."""
        with self.umongofs(https, opts) as m:
            path = m.p(*BIG_PATH)
            size = os.path.getsize(path)
            c0, e0 = m.cpu(), cpu_seconds(self.emu.pid)
            got, took = self.read_all(path)
            cpu, ecpu = m.cpu() - c0, cpu_seconds(self.emu.pid) - e0
            if got != size:
                raise RuntimeError("short read: %d of %d" % (got, size))
            return {"mbps": got / took / 1e6, "cpu_gib": cpu / (got / GiB),
                    "emu_cpu_gib": ecpu / (got / GiB), "rss_kib": m.peak_rss_kib()}

    def seq_curl(self, https=False):
        url = self.emu.download_url(*BIG, https=https)
        e0 = cpu_seconds(self.emu.pid)
        r = self.curl(url, https)
        gib = r["size"] / GiB
        return {"mbps": r["size"] / r["total"] / 1e6, "cpu_gib": r["cpu"] / gib,
                "emu_cpu_gib": (cpu_seconds(self.emu.pid) - e0) / gib}

    def median_runs(self, fn, *args, runs=None):
        vals = [fn(*args) for _ in range(runs or self.a.runs)]
        return {k: statistics.median(v[k] for v in vals) for k in vals[0]}, vals

    def case_sequential(self):
        for https, rid in ((False, "seq_http"), (True, "seq_https")):
            name = "HTTPS" if https else "HTTP"
            log("sequential %s, %d run(s) of %s" % (name, self.a.runs, self.a.size_text))
            u, _ = self.median_runs(self.seq_umongofs, https)
            c, _ = self.median_runs(self.seq_curl, https)
            ratio = u["mbps"] / c["mbps"]
            self.add(rid, "sequential %s read, loopback, %s" % (name, self.a.size_text),
                     "%.0f MB/s" % u["mbps"], "curl %.0f MB/s" % c["mbps"], "%.2f" % ratio,
                     "%.2f (curl %.2f)" % (u["cpu_gib"], c["cpu_gib"]), "≥ 0.8 × curl",
                     self.verdict(ratio >= 0.8),
                     "median of %d; CPU s/GiB umongofs/curl %.1f; emulator CPU s/GiB "
                     "%.2f (umongofs) %.2f (curl)" % (self.a.runs, u["cpu_gib"] / c["cpu_gib"],
                                                      u["emu_cpu_gib"], c["emu_cpu_gib"]),
                     umongofs_mbps=u["mbps"], curl_mbps=c["mbps"], ratio=ratio,
                     cpu_s_per_gib=u["cpu_gib"], curl_cpu_s_per_gib=c["cpu_gib"],
                     peak_rss_kib=u["rss_kib"], score=ratio / 0.8)

    def case_profile(self):
        log("object-store profile")
        self.emu.config(store_bandwidth=50_000_000, store_latency_ms=30)
        try:
            u, _ = self.median_runs(self.seq_umongofs)
            c, _ = self.median_runs(self.seq_curl)
        finally:
            self.emu.config(store_bandwidth=0, store_latency_ms=0)
        ratio = u["mbps"] / c["mbps"]
        self.add("profile", "object store: 50 MB/s per connection, 30 ms first byte, "
                 "default options", "%.0f MB/s" % u["mbps"], "one curl %.0f MB/s" % c["mbps"],
                 "%.2f" % ratio, "%.2f" % u["cpu_gib"], "≥ 6 × one curl",
                 self.verdict(ratio >= 6), "median of %d" % self.a.runs,
                 umongofs_mbps=u["mbps"], curl_mbps=c["mbps"], ratio=ratio,
                 cpu_s_per_gib=u["cpu_gib"], score=ratio / 6)

    def case_ttfb(self):
        log("time to first byte")
        us, cs = [], []
        for _ in range(self.a.samples_ttfb):
            with self.umongofs() as m:
                path = m.p(*BIG_PATH)
                os.listdir(os.path.dirname(path))  # the listing is not the first byte
                t0 = time.monotonic()
                fd = os.open(path, os.O_RDONLY)
                try:
                    if len(os.pread(fd, 4096, 0)) != 4096:
                        raise RuntimeError("short first read")
                    us.append(time.monotonic() - t0)
                finally:
                    os.close(fd)
        for _ in range(self.a.samples_ttfb):
            t0 = time.monotonic()
            url = self.emu.download_url(*BIG)
            describe = time.monotonic() - t0
            cs.append(describe + self.curl(url, rng="0-65535")["total"])
        u, c = statistics.median(us) * 1e3, statistics.median(cs) * 1e3
        ratio = u / c
        self.add("ttfb", "time to first byte, cold file (open + read 4 KiB)", "%.1f ms" % u,
                 "%.1f ms (DescribeURL + curl 64 KiB range)" % c, "%.2f" % ratio, "",
                 "≤ 1.5 × reference", self.verdict(ratio <= 1.5),
                 "median of %d fresh mounts" % len(us), umongofs_ms=u, reference_ms=c,
                 ratio=ratio, score=1.5 / ratio)

    def curl_range_p50(self, n):
        """p50 (and p99) of single 4 KiB curl range requests on one warm connection."""
        url = self.emu.download_url(*BIG)
        size = self.a.size
        rnd = random.Random(1)
        cmd = ["curl"]
        for i in range(n):
            off = rnd.randrange(0, size // 4096) * 4096
            if i:
                cmd.append("--next")
            cmd += ["-sS", "--fail", "-o", "/dev/null", "-w", "%{time_total}\\n",
                    "-r", "%d-%d" % (off, off + 4095), url]
        times = sorted(float(x) for x in run(cmd).stdout.split())
        return times[len(times) // 2] * 1e3, times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3

    def case_random(self):
        if not shutil.which("fio"):
            for rid, j in (("rand1", 1), ("rand8", 8)):
                self.skip(rid, "random 4 KiB reads, fio, %d job%s" % (j, "s" if j > 1 else ""),
                          "p50 ≤ 2 × curl" if j == 1 else "—", "fio not installed")
            return
        c50, c99 = self.curl_range_p50(self.a.samples_range)
        for rid, jobs in (("rand1", 1), ("rand8", 8)):
            log("fio randread %d job(s), %d s" % (jobs, self.a.fio_runtime))
            with self.umongofs() as m:  # a fresh mount: nothing cached
                path = m.p(*BIG_PATH)
                out = run(["fio", "--name=rand", "--filename=" + path, "--readonly",
                           "--rw=randread", "--bs=4k", "--ioengine=psync", "--direct=0",
                           "--numjobs=%d" % jobs, "--group_reporting", "--time_based",
                           "--runtime=%d" % self.a.fio_runtime, "--size=%d" % self.a.size,
                           "--output-format=json"], timeout=self.a.fio_runtime + 120).stdout
            js = json.loads(out[out.index("{"):])
            rd = js["jobs"][0]["read"]
            pct = rd["clat_ns"]["percentile"]
            p50, p99 = pct["50.000000"] / 1e6, pct["99.000000"] / 1e6
            iops = rd["iops"]
            if jobs == 1:
                ratio = p50 / c50
                self.add(rid, "random 4 KiB reads, fio psync, 1 job",
                         "%.0f IOPS, p50 %.2f ms, p99 %.2f ms" % (iops, p50, p99),
                         "curl range p50 %.2f ms, p99 %.2f ms" % (c50, c99),
                         "%.2f (p50)" % ratio, "", "p50 ≤ 2 × curl", self.verdict(ratio <= 2),
                         "%d s, fresh mount; curl: %d requests on one connection"
                         % (self.a.fio_runtime, self.a.samples_range),
                         iops=iops, p50_ms=p50, p99_ms=p99, curl_p50_ms=c50, curl_p99_ms=c99,
                         ratio=ratio, score=2 / ratio)
            else:
                self.add(rid, "random 4 KiB reads, fio psync, 8 jobs",
                         "%.0f IOPS, p50 %.2f ms, p99 %.2f ms" % (iops, p50, p99),
                         "curl range p50 %.2f ms" % c50, "%.2f (p50)" % (p50 / c50), "",
                         "— (no target)", "info",
                         "%d s, fresh mount" % self.a.fio_runtime, iops=iops, p50_ms=p50,
                         p99_ms=p99, curl_p50_ms=c50, ratio=p50 / c50)

    def case_sniff(self):
        if not shutil.which("gio"):
            self.skip("sniff", "type sniff of 20 extension-less files (gio)", "≤ 256 KiB/file",
                      "gio not installed (libglib2.0-bin)")
            self.skip("reread", "re-read of an unchanged file", "≤ 1 request", "needs gio row")
            return
        log("type sniff")
        with self.umongofs() as m:
            d = m.p("cn-bj2", "sniff")
            names = sorted(os.listdir(d))
            for n in names:
                os.stat(os.path.join(d, n))
            self.emu.reset()
            types = set()
            t0 = time.monotonic()
            for n in names:
                out = run(["gio", "info", "-a", "standard::content-type",
                           os.path.join(d, n)]).stdout
                mt = re.search(r"standard::content-type:\s*(\S+)", out)
                types.add(mt.group(1) if mt else "?")
            took = time.monotonic() - t0
            st = self.emu.stats()["store"]
            per = st["bytes"] / len(names) / 1024
            self.add("sniff", "type sniff of %d extension-less files (gio info "
                     "standard::content-type)" % len(names), "%.0f KiB fetched per file" % per,
                     "", "", "", "≤ 256 KiB/file", self.verdict(per <= 256),
                     "%d GETs, %.0f ms in all, type %s" % (st["requests"], took * 1e3,
                                                         ", ".join(sorted(types))),
                     kib_per_file=per, requests=st["requests"], files=len(names),
                     score=256 / max(per, 1e-3))
            # Re-read of an unchanged file: whole file once, then again.
            path = os.path.join(d, names[0])
            self.read_all(path)
            self.emu.reset()
            got, _ = self.read_all(path)
            st = self.emu.stats()["store"]
            reqs = st["requests"]
            self.add("reread", "re-read of an unchanged %.1f MiB file (same mount)" % (got / MiB),
                     "%d store request%s, %.0f KiB" % (reqs, "" if reqs == 1 else "s",
                                                       st["bytes"] / 1024),
                     "", "", "", "≤ 1 validation request", self.verdict(reqs <= 1), "",
                     requests=reqs, bytes=st["bytes"], score=1 / max(reqs, 0.5))

    def case_listing(self):
        log("ls -l of 5,000 backups")
        colds, warms = [], []
        calls = warm_calls = 0
        for _ in range(self.a.runs):
            with self.umongofs() as m:
                os.listdir(m.mnt)
                os.listdir(m.p("cn-bj2"))
                d = m.p("cn-bj2", "listing")
                self.emu.reset()
                t0 = time.monotonic()
                out = run(["ls", "-l", d]).stdout
                colds.append(time.monotonic() - t0)
                calls = self.emu.stats()["api_total"]
                t0 = time.monotonic()
                run(["ls", "-l", d])
                warms.append(time.monotonic() - t0)
                warm_calls = self.emu.stats()["api_total"] - calls
                entries = len(out.splitlines()) - 1
        cold, warm = statistics.median(colds) * 1e3, statistics.median(warms) * 1e3
        self.add("ls_cold", "ls -l of 5,000 backups, cold", "%.0f ms" % cold, "", "", "",
                 "< 500 ms", self.verdict(cold < 500),
                 "%d entries, %d API calls; median of %d" % (entries, calls, len(colds)),
                 ms=cold, api_calls=calls, score=500 / cold)
        self.add("ls_warm", "ls -l of 5,000 backups, warm", "%.0f ms" % warm, "", "", "",
                 "< 100 ms", self.verdict(warm < 100),
                 "%d API calls; median of %d" % (warm_calls, len(warms)), ms=warm,
                 api_calls=warm_calls, score=100 / warm)

    def case_rss(self):
        log("peak RSS, %d files at once" % MULTI_FILES)
        cache = self.a.cache_size
        limit = 64 * MiB + cache
        with self.umongofs() as m:
            d = m.p("cn-bj2", "multi")
            paths = [os.path.join(d, n) for n in sorted(os.listdir(d))]
            errors = []
            got = [0] * len(paths)

            def reader(i):
                try:
                    got[i] = self.read_all(paths[i])[0]
                except OSError as e:
                    errors.append(e)

            ts = [threading.Thread(target=reader, args=(i,)) for i in range(len(paths))]
            t0 = time.monotonic()
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            took = time.monotonic() - t0
            if errors:
                raise errors[0]
            rss = m.peak_rss_kib() * 1024
        self.add("rss16", "peak RSS (VmHWM), %d files of %s read at once"
                 % (len(paths), human(self.a.multi_size)), "%.0f MiB" % (rss / MiB),
                 "64 MiB + cache_size %s = %.0f MiB" % (human(cache), limit / MiB),
                 "%.2f" % (rss / limit), "", "≤ 64 MiB + cache_size", self.verdict(rss <= limit),
                 "%.0f MB/s together" % (sum(got) / took / 1e6), rss_bytes=rss,
                 limit_bytes=limit, score=limit / rss)

    # -- the disk cache (cache_dir=) ----------------------------------------------------

    @staticmethod
    def cache_files(cdir):
        """The block files of a cache_dir (DIR/v1/XX/KEY-INDEX; not lock, not v1/tmp/)."""
        out = []
        v1 = os.path.join(cdir, "v1")
        for sub in sorted(os.listdir(v1)) if os.path.isdir(v1) else ():
            d = os.path.join(v1, sub)
            if sub == "tmp" or not os.path.isdir(d):
                continue
            out += [os.path.join(d, n) for n in sorted(os.listdir(d))
                    if re.fullmatch(r"[0-9a-f]{64}-[0-9a-f]{16}", n)]
        return out

    def dc_read(self, m, store_wait=0):
        """dd the big object through mount m: MB/s, daemon CPU s/GiB, the store's
        requests (the emulator's counters, zeroed just before the open) and the
        mount's disk_cache counters. With store_wait, then wait (at most that many
        seconds) until the blocks read are stored: seconds that took."""
        path = m.p(*BIG_PATH)
        size = os.path.getsize(path)
        self.emu.reset()
        c0 = m.cpu()
        got, took = self.dd(path)
        cpu = m.cpu() - c0
        if got != size:
            raise RuntimeError("short read: %d of %d" % (got, size))
        est = self.emu.stats()["store"]
        stats = self.mount_stats(m)
        if "disk_cache" not in stats:
            raise RuntimeError("%s has no disk_cache object" % STATS_XATTR)
        lag = 0.0
        if store_wait:
            t0 = time.monotonic()
            last, since = None, t0
            while time.monotonic() - t0 < store_wait:
                dc = self.mount_stats(m)["disk_cache"]
                if dc.get("bytes_stored", 0) >= got:
                    break
                if dc != last:
                    last, since = dc, time.monotonic()
                elif time.monotonic() - since > 3:  # nothing more is being stored
                    break
                time.sleep(0.05)
            lag = time.monotonic() - t0
            stats = self.mount_stats(m)
        lengths = est.get("range_lengths", [])
        small = sum(1 for n in lengths if n <= 64 * 1024)
        return {"mbps": got / took / 1e6, "cpu_gib": cpu / (got / GiB), "bytes": got,
                "requests": est["requests"], "store_bytes": est["bytes"],
                "beyond": est["requests"] - min(small, 1), "lengths": lengths,
                "dc": stats["disk_cache"], "store_lag": lag}

    def case_diskcache(self):
        a = self.a
        log("disk cache: %d run(s) of %s" % (a.runs, a.size_text))
        local = os.path.join(self.work, "dd-local.bin")
        cdirs = []
        try:
            # 1. First reads, each into an empty cache_dir (umongofs creates it),
            # against the same read through a mount without cache_dir.
            firsts, plains, modes = [], [], set()
            for i in range(a.runs):
                with self.umongofs() as m:
                    plains.append(self._plain_read(m))
                if cdirs:
                    shutil.rmtree(cdirs.pop())
                cdir = os.path.join(self.work, "cache-dir-%d" % i)
                cdirs.append(cdir)
                with self.umongofs(opts=("cache_dir=" + cdir,)) as m:
                    modes.add(os.stat(cdir).st_mode & 0o7777)
                    firsts.append(self.dc_read(m, store_wait=120 if a.size >= GiB else 30))
            cdir = cdirs[-1]
            files = self.cache_files(cdir)
            on_disk = sum(os.path.getsize(f) for f in files)
            missing = [n for n in ("lock", "v1/tmp") if not os.path.exists(os.path.join(cdir, n))]
            first = statistics.median(r["mbps"] for r in firsts)
            first_cpu = statistics.median(r["cpu_gib"] for r in firsts)
            plain = statistics.median(r["mbps"] for r in plains)
            lag = statistics.median(r["store_lag"] for r in firsts)
            fdc = firsts[-1]["dc"]
            self.add("cache_first", "disk cache: first read of %s through a mount with "
                     "cache_dir (blocks stored to disk)" % a.size_text,
                     "%.0f MB/s" % first, "no cache_dir %.0f MB/s" % plain,
                     "%.2f" % (first / plain), "%.2f" % first_cpu, "— (cost of storing)",
                     "info",
                     "median of %d; dd bs=1M through the mount, each run into an empty "
                     "cache_dir (created mode %s); %d blocks stored, %s in %d block files "
                     "on disk%s; all stored %.1f s after the read ended; store requests %d"
                     % (a.runs, "/".join("%04o" % x for x in sorted(modes)),
                        fdc.get("stored", -1), human_approx(on_disk), len(files),
                        " (no %s)" % ", ".join(missing) if missing else "", lag,
                        firsts[-1]["requests"]),
                     mbps=first, plain_mbps=plain, ratio=first / plain,
                     cpu_s_per_gib=first_cpu, store_lag_s=lag, block_files=len(files),
                     bytes_on_disk=on_disk, disk_cache=fdc)
            if not files:
                raise RuntimeError("no block files in %s after the first read" % cdir)

            # 2. The local file dd reads: the same bytes, on the cache_dir's filesystem.
            shutil.copyfile(self.emu.object_path(*BIG), local)
            self.evict([local])
            same_fs = os.stat(local).st_dev == os.stat(files[0]).st_dev

            # 3. Remounts on the same cache_dir: cold (the block files evicted from
            # the page cache), then warm; each next to a dd of the local file,
            # cold then warm. The disk's speed here drifts from one second to
            # the next (other tenants), so each cold read is paired with a dd
            # right beside it, which goes first alternates, and the figure is
            # the median of the pairs' ratios, over at least 5 pairs.
            pairs = a.runs if a.quick else max(a.runs, 5)
            cold, warm, dd_cold, dd_warm, left, ratios = [], [], [], [], [], []
            for i in range(pairs):
                files = self.cache_files(cdir)
                self.evict(files + [local])
                left.append(self.resident(files))
                left.append(self.resident([local]))
                for side in ("dd", "cache") if i % 2 else ("cache", "dd"):
                    if side == "cache":
                        with self.umongofs(opts=("cache_dir=" + cdir,)) as m:
                            cold.append(self.dc_read(m))
                    else:
                        got, took = self.dd(local)
                        dd_cold.append(got / took / 1e6)
                ratios.append(cold[-1]["mbps"] / dd_cold[-1])
                with self.umongofs(opts=("cache_dir=" + cdir,)) as m:
                    warm.append(self.dc_read(m))
                got, took = self.dd(local)
                dd_warm.append(got / took / 1e6)
            hit = statistics.median(r["mbps"] for r in cold)
            hit_warm = statistics.median(r["mbps"] for r in warm)
            hit_cpu = statistics.median(r["cpu_gib"] for r in cold)
            beyond = max(r["beyond"] for r in cold + warm)
            reqs = max(r["requests"] for r in cold + warm)
            lens = sorted(set(n for r in cold + warm for n in r["lengths"]))
            hdc = cold[-1]["dc"]
            self.add("cache_hit", "disk cache: read again after unmount and a fresh mount on "
                     "the same cache_dir", "%.0f MB/s, %d store request%s beyond the open's "
                     "validation" % (hit, beyond, "" if beyond == 1 else "s"),
                     "first read %.0f MB/s" % first, "%.2f" % (hit / first), "%.2f" % hit_cpu,
                     "≤ 1 store request beyond the validation", self.verdict(beyond <= 1),
                     "median of %d, block files evicted from the page cache before each "
                     "mount (fadvise DONTNEED); warm (block files in the page cache) %.0f "
                     "MB/s; store requests per read at most %d (range lengths %s), %s from "
                     "the store; disk_cache hits %s, bytes_read %s"
                     % (pairs, hit_warm, reqs, ", ".join(map(str, lens)) or "none",
                        human_approx(max(r["store_bytes"] for r in cold + warm)),
                        hdc.get("hits"), hdc.get("bytes_read")),
                     mbps=hit, warm_mbps=hit_warm, cpu_s_per_gib=hit_cpu, requests=reqs,
                     beyond_validation=beyond, range_lengths=lens, disk_cache=hdc,
                     score=1 / max(beyond, 0.5))
            dc, dw = statistics.median(dd_cold), statistics.median(dd_warm)
            rc, rw = statistics.median(ratios), hit_warm / dw
            res = [x for x in left if x is not None]
            self.add("cache_vs_dd", "disk cache hit against dd of a local %s file"
                     % a.size_text, "%.0f MB/s cold, %.0f warm" % (hit, hit_warm),
                     "dd bs=1M %.0f MB/s cold, %.0f warm" % (dc, dw),
                     "%.2f cold (%.2f warm)" % (rc, rw), "", "≥ 0.7 × dd (cold)",
                     self.verdict(rc >= 0.7),
                     "both read with dd if=FILE of=/dev/null bs=1M; cold: the median of %d "
                     "pairs' ratios (%s), each cached read next to a dd of the local file, "
                     "which went first alternating; the local file %s the cache_dir's "
                     "filesystem; before each pair the block files and the local file are "
                     "written back and evicted from the page cache one by one (fadvise "
                     "DONTNEED, no global drop_caches)%s; warm: read again at once (info)"
                     % (pairs, ", ".join("%.2f" % x for x in ratios),
                        "is on" if same_fs else "is NOT on",
                        "; %s left resident after eviction" % human_approx(max(res))
                        if res else ""),
                     mbps=hit, warm_mbps=hit_warm, dd_mbps=dc, dd_warm_mbps=dw, ratio=rc,
                     pair_ratios=ratios, warm_ratio=rw, same_fs=same_fs, score=rc / 0.7)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(local)
            for d in cdirs:
                shutil.rmtree(d, ignore_errors=True)

    def _plain_read(self, m):
        path = m.p(*BIG_PATH)
        c0 = m.cpu()
        got, took = self.dd(path)
        if got != os.path.getsize(path):
            raise RuntimeError("short read: %d" % got)
        return {"mbps": got / took / 1e6, "cpu_gib": (m.cpu() - c0) / (got / GiB)}

    def case_peers(self):
        world_dir = os.path.dirname(self.emu.world_path)
        obj = self.emu.object_path(*BIG)
        rel = os.path.relpath(os.path.dirname(obj), world_dir)
        name = os.path.basename(obj)
        seq_http = self.rows.get("seq_http", {}).get("values", {}).get("umongofs_mbps")
        peers = (("rclone", "rclone mount (http remote, defaults)"),
                 ("httpdirfs", "httpdirfs --cache"))
        missing = [p for p, _ in peers if not shutil.which(p)]
        for p, case in peers:
            if p in missing:
                self.skip(p, case + ", sequential", "umongofs ≥ 2 × rclone" if p == "rclone"
                          else "—", "%s not installed" % p)
        if len(missing) == len(peers):
            return
        with self.static_server(world_dir) as base:
            url_dir = "%s/%s/" % (base, rel)
            log("peers on %s (%s)" % (url_dir, self.static_kind))
            c, _ = self.median_runs(self._curl_static, url_dir + name)
            for p, case in peers:
                if p in missing:
                    continue
                try:
                    r = self._peer_runs(p, url_dir, name)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    self.skip(p, case + ", sequential", "umongofs ≥ 2 × rclone"
                              if p == "rclone" else "—", "failed: %s" % str(e)[:200])
                    continue
                ratio = r["mbps"] / c["mbps"]
                vs = seq_http / r["mbps"] if seq_http else float("nan")
                note = "same bytes from %s; umongofs HTTP is %.1f × this" % (self.static_kind,
                                                                             vs)
                if r["partial"]:
                    note += "; stopped after %.0f s (%s read)" % (r["secs"], human(r["bytes"]))
                if p == "rclone":
                    self.add(p, case + ", sequential", "%.0f MB/s" % r["mbps"],
                             "curl %.0f MB/s" % c["mbps"], "%.2f" % ratio,
                             "%.2f" % r["cpu_gib"], "umongofs ≥ 2 × rclone",
                             self.verdict(vs >= 2), note, mbps=r["mbps"], curl_mbps=c["mbps"],
                             ratio=ratio, cpu_s_per_gib=r["cpu_gib"], umongofs_over_peer=vs,
                             score=vs / 2)
                else:
                    self.add(p, case + ", sequential", "%.0f MB/s" % r["mbps"],
                             "curl %.0f MB/s" % c["mbps"], "%.2f" % ratio,
                             "%.2f" % r["cpu_gib"], "— (peer reference)", "info", note,
                             mbps=r["mbps"], curl_mbps=c["mbps"], ratio=ratio,
                             cpu_s_per_gib=r["cpu_gib"], umongofs_over_peer=vs)

    def _curl_static(self, url):
        r = self.curl(url)
        return {"mbps": r["size"] / r["total"] / 1e6}

    def _peer_runs(self, peer, url_dir, name):
        runs = self.a.runs if peer == "rclone" else 1  # httpdirfs is slow: one run
        vals = []
        for _ in range(runs):
            mnt = self.mnt(peer)
            logp = os.path.join(self.work, "%s.log" % peer)
            env = dict(os.environ, HOME=os.path.join(self.work, "home"))
            if peer == "rclone":
                argv = ["rclone", "mount", ":http:", mnt, "--http-url", url_dir, "--read-only",
                        "--config", os.path.join(self.work, "rclone.conf"),
                        "--cache-dir", os.path.join(self.work, "rclone-cache")]
            else:
                cache = os.path.join(self.work, "httpdirfs-cache-%d" % self.n)
                os.makedirs(cache)
                # nginx sends no Accept-Ranges with a 206, which httpdirfs
                # otherwise takes for "no range support" and exits.
                argv = ["httpdirfs", "-f", "--cache", "--cache-location", cache,
                        "--no-range-check", url_dir, mnt]
            with FuseProc(peer, argv, mnt, logp, env) as m:
                path = m.p(name)
                c0 = m.cpu()
                got, took = self.read_all(path, deadline_s=self.a.peer_deadline)
                cpu = m.cpu() - c0
            if peer == "httpdirfs":
                shutil.rmtree(cache, ignore_errors=True)
            if got == 0:
                raise RuntimeError("%s read nothing" % peer)
            vals.append({"mbps": got / took / 1e6, "cpu_gib": cpu / (got / GiB),
                         "partial": got < self.a.size, "secs": took, "bytes": got})
        vals.sort(key=lambda v: v["mbps"])
        return vals[len(vals) // 2]

    # -- all ---------------------------------------------------------------------------------

    def run_all(self):
        world = self.build_world()
        os.chmod(self.work, 0o755)  # the static server's workers read the world's files
        tls = make_tls_cert(os.path.join(self.work, "tls"))
        os.makedirs(os.path.join(self.work, "home"))
        self.emu = Emulator(world, tls_dir=tls, log_path=os.path.join(self.work, "emu.log"))
        self.emu.start()
        try:
            for case in (self.case_sequential, self.case_profile, self.case_ttfb,
                         self.case_random, self.case_sniff, self.case_listing, self.case_rss,
                         self.case_diskcache, self.case_peers):
                if self.a.only and case.__name__[len("case_"):] not in self.a.only:
                    continue
                try:
                    case()
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError,
                        KeyError) as e:
                    log("%s failed: %s" % (case.__name__, e))
                    self.failures.append("%s: %s" % (case.__name__, e))
        finally:
            self.emu.stop()


def human(n):
    for unit, f in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= f and n % f == 0:
            return "%d %s" % (n // f, unit)
    return "%d B" % n


def human_approx(n):
    for unit, f in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= f:
            return "%.1f %s" % (n / f, unit)
    return "%d B" % n


def default_cache_size(binary):
    """cache_size's default from umongofs --help ("(default 256M"), else 256 MiB."""
    try:
        out = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=10).stdout
        m = re.search(r"cache_size=SIZE.*?\(default (\d+)([KMG])", out, re.S)
        if m:
            return int(m.group(1)) * {"K": 1024, "M": MiB, "G": GiB}[m.group(2)]
    except (OSError, subprocess.SubprocessError):
        pass
    return 256 * MiB


def machine_info():
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = "%.0f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
    rev = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "host": "%s %s" % (platform.system(), platform.machine()),
            "git": rev.strip() or "?"}


def tool_versions():
    out = {}
    for tool, args in (("curl", ["--version"]), ("fio", ["--version"]),
                       ("rclone", ["version"]), ("httpdirfs", ["--version"]),
                       ("nginx", ["-v"]), ("gnuplot", ["--version"])):
        path = shutil.which(tool) or (("/usr/sbin/" + tool) if os.access("/usr/sbin/" + tool,
                                                                         os.X_OK) else None)
        if not path:
            out[tool] = None
            continue
        r = subprocess.run([path] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=10)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        out[tool] = lines[0].strip()[:80] if lines else "?"
    return out


HEAD = ("case", "umongofs", "reference", "ratio", "daemon CPU s/GiB", "target",
        "result", "notes")
KEYS = ("case", "umongofs", "reference", "ratio", "cpu", "target", "result", "notes")


def table(rows):
    def cell(s):
        return str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    for r in rows:
        lines.append("| " + " | ".join(cell(r[k]) for k in KEYS) + " |")
    return "\n".join(lines)


# -- the chart ---------------------------------------------------------------------------

CHART_LABELS = {"seq_http": "seq HTTP", "seq_https": "seq HTTPS", "profile": "object store",
                "ttfb": "first byte", "rand1": "rand 4K p50", "sniff": "sniff KiB",
                "reread": "re-read reqs", "ls_cold": "ls -l cold", "ls_warm": "ls -l warm",
                "rss16": "peak RSS", "cache_hit": "disk cache reqs",
                "cache_vs_dd": "disk cache/dd", "rclone": "vs rclone"}


def chart_data(rows):
    thr = []
    by = {r["id"]: r for r in rows}
    for rid, label in (("seq_http", "HTTP loopback"), ("seq_https", "HTTPS loopback"),
                       ("profile", "object store 50 MB/s/conn")):
        v = by.get(rid, {}).get("values", {})
        if "umongofs_mbps" in v:
            thr.append((label + " (umongofs)", v["umongofs_mbps"], v["curl_mbps"]))
    for rid, label in (("rclone", "rclone mount"), ("httpdirfs", "httpdirfs --cache")):
        v = by.get(rid, {}).get("values", {})
        if "mbps" in v:
            thr.append((label, v["mbps"], v["curl_mbps"]))
    scores = []
    for r in rows:
        s = r["values"].get("score")
        if s is not None and r["result"] in ("PASS", "FAIL"):
            scores.append((CHART_LABELS.get(r["id"], r["id"]), s, r["result"] == "PASS"))
    return thr, scores


def draw_chart(rows, out, title):
    thr, scores = chart_data(rows)
    png = os.path.join(out, "chart.png")
    if shutil.which("gnuplot"):
        return _gnuplot(thr, scores, out, png, title)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: neither gnuplot nor python3-matplotlib is installed"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6))
    xs = range(len(thr))
    ax1.bar([x - 0.2 for x in xs], [t[1] for t in thr], 0.4, label="FUSE filesystem")
    ax1.bar([x + 0.2 for x in xs], [t[2] for t in thr], 0.4, label="curl, same URL")
    ax1.set_xticks(list(xs), [t[0] for t in thr], rotation=30, ha="right")
    ax1.set_ylabel("MB/s")
    ax1.set_title("Sequential read throughput")
    ax1.legend()
    ax2.bar(range(len(scores)), [s[1] for s in scores],
            color=["#2ca02c" if s[2] else "#d62728" for s in scores])
    ax2.set_yscale("log")
    ax2.axhline(1, color="black", linestyle="--")
    ax2.set_xticks(range(len(scores)), [s[0] for s in scores], rotation=30, ha="right")
    ax2.set_title("Margin to the target (≥ 1 meets it)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return None


def _gnuplot(thr, scores, out, png, title):
    # --only without a throughput row: an empty panel rather than no chart
    thr = thr or [("(no throughput row run)", 0.0, 0.0)]
    scores = scores or [("(no target row run)", 1.0, True)]
    dat1 = os.path.join(out, "chart-throughput.dat")
    dat2 = os.path.join(out, "chart-targets.dat")
    with open(dat1, "w") as f:
        f.write("# label fs_MBps curl_MBps\n")
        for label, a, b in thr:
            f.write('"%s" %.1f %.1f\n' % (label, a, b))
    with open(dat2, "w") as f:
        f.write("# label margin colour (margin >= 1 meets the target)\n")
        for label, s, ok in scores:
            f.write('"%s" %.4f %d\n' % (label, s, 0x2ca02c if ok else 0xd62728))
    gp = os.path.join(out, "chart.gp")
    with open(gp, "w") as f:
        f.write("""set terminal pngcairo size 1500,620 font "sans,10"
set output '%(png)s'
set multiplot layout 1,2 title "%(title)s"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30 scale 0
set key top right
set ylabel "MB/s"
set yrange [0:*]
set title "Sequential read throughput (FUSE filesystem vs curl on the same URL)"
plot '%(dat1)s' using 2:xtic(1) title "FUSE filesystem" lc rgb "#1f77b4", \\
     '' using 3 title "curl, same URL" lc rgb "#aaaaaa"
unset style
set style fill solid 0.85 border -1
set boxwidth 0.7
set logscale y
set yrange [0.05:50]
set ylabel "margin to target (log; >= 1 meets it)"
set title "Targets: green PASS, red FAIL"
set xrange [-0.6:%(xmax)s]
plot '%(dat2)s' using 0:2:3:xtic(1) with boxes lc rgb variable notitle, \\
     1 with lines dt 2 lw 2 lc rgb "black" title "target"
unset multiplot
""" % {"png": png, "title": title.replace('"', "'"), "dat1": dat1, "dat2": dat2,
            "xmax": "%.1f" % (len(scores) - 0.4)})
    r = subprocess.run(["gnuplot", gp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(png):
        return "gnuplot failed: %s" % r.stdout[-300:]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, one run (under 2 minutes): the suite's smoke test")
    ap.add_argument("--size", type=make_world.parse_size, help="big object (default 1G, quick 64M)")
    ap.add_argument("--runs", type=int, help="runs per measurement (median; default 3, quick 1)")
    ap.add_argument("--out", default=os.path.join(REPO, "bench-results"))
    ap.add_argument("--bin", default=os.environ.get("UMONGOFS_BIN",
                                                    os.path.join(REPO, "build", "umongofs")))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="run only these cases (comma-separated: sequential, profile, ttfb, "
                         "random, sniff, listing, rss, diskcache, peers); the others' rows "
                         "say error")
    a = ap.parse_args()
    q = a.quick
    a.size = a.size or (64 * MiB if q else GiB)
    a.runs = a.runs or (1 if q else 3)
    a.size_text = human(a.size)
    a.multi_size = 8 * MiB if q else 64 * MiB
    a.fio_runtime = 3 if q else 10
    a.samples_ttfb = 3 if q else 7
    a.samples_range = 50 if q else 200
    a.peer_deadline = 20 if q else 120
    a.cache_size = default_cache_size(a.bin)
    if not os.access(a.bin, os.X_OK):
        sys.exit("bench: no umongofs binary at %s (build it, or --bin / UMONGOFS_BIN)" % a.bin)
    os.makedirs(a.out, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    work = tempfile.mkdtemp(prefix="umongofs-bench.")
    b = Bench(a, work)
    b.failures = []
    t0 = time.monotonic()
    try:
        b.run_all()
    finally:
        if a.keep:
            log("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for rid in ROW_IDS:  # a case that failed still gets its row
        if rid not in b.rows:
            b.add(rid, rid, result="error", notes="the case failed; see the log above")
    rows = [b.rows[rid] for rid in ROW_IDS]
    mi = machine_info()
    meta = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": mi,
            "mode": "quick" if q else "full", "size": a.size, "runs": a.runs,
            "cache_size": a.cache_size, "binary": a.bin, "seconds": round(time.monotonic() - t0),
            "tools": tool_versions(), "static_server": b.static_kind, "failures": b.failures}
    title = "umongofs bench %s, %s, %d cores, %s (%s)" % (meta["date"], mi["cpu"], mi["cores"],
                                                          mi["git"], meta["mode"])
    chart_note = draw_chart(rows, a.out, title)
    head = ("umongofs benchmark, %s: %s, %d cores, %s RAM, Linux %s, git %s; %s mode, "
            "%s object, median of %d run(s), %d s"
            % (meta["date"], mi["cpu"], mi["cores"], mi["memory"], mi["kernel"], mi["git"],
               meta["mode"], a.size_text, a.runs, meta["seconds"]))
    text = head + "\n\n" + table(rows) + "\n"
    if chart_note:
        text += "\n" + chart_note + "\n"
        meta["chart"] = chart_note
    if b.failures:
        text += "\nFailed cases: " + "; ".join(b.failures) + "\n"
    print(text)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return 1 if b.failures else 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
