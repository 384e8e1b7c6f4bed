"""Start, drive and stop an emulator process from Python (tests, scripts).

    from emu_client import Emulator
    emu = Emulator(world_path).start()
    emu.signed_call("GetRegion")["Regions"]
    emu.config(store_drop={"after_bytes": 1000, "count": 1})
    emu.stop()

    tls = make_tls_cert(tmpdir)             # openssl req -x509: cert.pem, key.pem
    emu = Emulator(world_path, tls_dir=tls).start()
    emu.https_api_url                       # https://127.0.0.1:PORT/ (same port)
    emu.download_url(cid, bid, https=True)  # an https:// presigned URL

Standard library only (plus the openssl command for certificates); talks to
the emulator over 127.0.0.1.
"""

import http.client
import json
import os
import selectors
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

sys.path.insert(0, HERE)
from emu_api import api_signature  # noqa: E402
from make_world import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY  # noqa: E402


def _entries(cluster, key):
    items = cluster.get(key)
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


class EmulatorError(RuntimeError):
    pass


def make_tls_cert(dirpath, name="127.0.0.1", days=2):
    """A self-signed certificate for 127.0.0.1 (IP SAN) made now with openssl:
    returns dirpath, holding cert.pem (also the CA a client trusts) and
    key.pem, as the emulator's --tls-dir wants them."""
    os.makedirs(dirpath, exist_ok=True)
    cert, key = os.path.join(dirpath, "cert.pem"), os.path.join(dirpath, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", str(days), "-subj", "/CN=%s" % name,
                    "-addext", "subjectAltName=IP:%s" % name,
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", key, "-out", cert],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return dirpath


def http_request(method, url, headers=None, body=None, timeout=30, cafile=None):
    """One request on a fresh connection: (status, {lower-case header: value}, body).
    An https URL is checked against cafile (default: the system store)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        target = u.path or "/"
        if u.query:
            target += "?" + u.query
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


class Emulator:
    """One emulator process. Attributes once started: port, base_url, api_url,
    world_path, world (the parsed world, updated by set_world), pid, log_path.
    With tls_dir (see make_tls_cert) the port also speaks HTTPS: https_base_url,
    https_api_url, cafile."""

    def __init__(self, world_path, args=(), public_key=DEMO_PUBLIC_KEY,
                 private_key=DEMO_PRIVATE_KEY, log_path=None, quiet=True, tls_dir=None):
        self.world_path = os.path.abspath(world_path)
        with open(self.world_path, encoding="utf-8") as f:
            self.world = json.load(f)
        self.args = list(args)
        if tls_dir is None and "--tls-dir" in self.args[:-1]:  # given as a flag
            tls_dir = self.args[self.args.index("--tls-dir") + 1]
            del self.args[self.args.index("--tls-dir"):self.args.index("--tls-dir") + 2]
        self.tls_dir = os.path.abspath(tls_dir) if tls_dir else None
        self.public_key = public_key
        self.private_key = private_key
        self.quiet = quiet
        self.log_path = log_path
        self.proc = None
        self.port = None
        self._log = None
        self._own_log = log_path is None

    # -- process ---------------------------------------------------------------------

    def start(self, timeout=15):
        if self.log_path is None:
            fd, self.log_path = tempfile.mkstemp(prefix="emulator-", suffix=".log")
            os.close(fd)
        self._log = open(self.log_path, "ab")
        cmd = [PYTHON, EMULATOR, "--world", self.world_path, "--port", "0"] + self.args
        if self.tls_dir:
            cmd += ["--tls-dir", self.tls_dir]
        if self.quiet and "--quiet" not in cmd:
            cmd.append("--quiet")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise EmulatorError("emulator did not print PORT within %ss" % timeout)
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    raise EmulatorError("emulator exited (rc=%s): %s"
                                        % (self.proc.wait(5), self.log_text()))
                line += chunk
        except BaseException:
            self.stop()
            raise
        finally:
            sel.close()
        if not line.startswith(b"PORT "):
            self.stop()
            raise EmulatorError("unexpected first line %r" % line)
        self.port = int(line.split()[1])
        return self

    def stop(self, timeout=10):
        """SIGTERM by PID, wait; SIGKILL if it hangs. Returns the exit status."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
            rc = self.proc.returncode
            if self.proc.stdout:
                self.proc.stdout.close()
        if self._log:
            self._log.close()
            self._log = None
            if self._own_log and os.path.exists(self.log_path) and \
                    os.path.getsize(self.log_path) == 0:
                os.unlink(self.log_path)  # our own empty temp log: leave no litter
        return rc

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def api_url(self):
        return self.base_url + "/"

    @property
    def cafile(self):
        """The certificate a client must trust for HTTPS (None without TLS)."""
        return os.path.join(self.tls_dir, "cert.pem") if self.tls_dir else None

    @property
    def https_base_url(self):
        if not self.tls_dir:
            raise EmulatorError("emulator started without tls_dir")
        return "https://127.0.0.1:%d" % self.port

    @property
    def https_api_url(self):
        return self.https_base_url + "/"

    # -- control endpoint --------------------------------------------------------------

    def _control(self, method, name, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _h, data = http_request(method, "%s/_emu/%s" % (self.base_url, name),
                                        headers, body)
        out = json.loads(data.decode("utf-8"))
        if status != 200:
            raise EmulatorError("/_emu/%s: %s" % (name, out.get("error", status)))
        return out

    def stats(self):
        return self._control("GET", "stats")

    def reset(self, config=False, world=False):
        """Zero the stats; optionally restore startup settings / reload the world file."""
        self._control("POST", "reset", {"config": config, "world": world})
        if world:
            with open(self.world_path, encoding="utf-8") as f:
                self.world = json.load(f)

    def restore(self):
        """Back to the state right after start: stats, settings and world."""
        self.reset(config=True, world=True)

    def config(self, **settings):
        """Merge settings into the live fault config; returns the whole config."""
        return self._control("POST", "config", settings)

    def get_config(self):
        return self._control("GET", "config")

    def set_world(self, world):
        """Replace the world (files resolve against the world file's directory)."""
        self._control("POST", "world", world)
        self.world = json.loads(json.dumps(world))

    def reload_world(self):
        self._control("POST", "world", {"reload": True})
        with open(self.world_path, encoding="utf-8") as f:
            self.world = json.load(f)

    # -- API -----------------------------------------------------------------------------

    def sign(self, params, private_key=None):
        return api_signature(params, private_key or self.private_key)

    def raw_call(self, params, transport="form", sign=True, keys=None, https=False):
        """Send params as given (adding PublicKey/Signature if sign): (status, headers, body).
        https: over TLS (the answer's download URLs are then https:// too)."""
        params = dict(params)
        if sign:
            pk, sk = keys or (self.public_key, self.private_key)
            params.setdefault("PublicKey", pk)
            params["Signature"] = api_signature(params, sk)
        url = self.https_api_url if https else self.api_url
        ca = self.cafile if https else None
        if transport == "get":
            return http_request("GET", url + "?" + urllib.parse.urlencode(params), cafile=ca)
        if transport == "json":
            return http_request("POST", url, {"Content-Type": "application/json"},
                                json.dumps(params).encode("utf-8"), cafile=ca)
        if transport == "form":
            return http_request("POST", url,
                                {"Content-Type": "application/x-www-form-urlencoded"},
                                urllib.parse.urlencode(params).encode("ascii"), cafile=ca)
        raise ValueError("transport must be get, form or json")

    def signed_call(self, action, _transport="form", _keys=None, _https=False, **params):
        """Signed API call; returns the parsed JSON answer (raises if not JSON)."""
        params["Action"] = action
        status, _h, body = self.raw_call(params, _transport, keys=_keys, https=_https)
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError:
            raise EmulatorError("HTTP %d, not JSON: %r" % (status, body[:200])) from None

    # -- world helpers ----------------------------------------------------------------------

    def cluster(self, key):
        """The world's cluster dict whose ClusterId (or else Name) is key."""
        clusters = [c for c in self.world.get("clusters", []) if isinstance(c, dict)]
        for field in ("ClusterId", "Name"):
            for c in clusters:
                if c.get(field) == key:
                    return c
        raise KeyError(key)

    def object_path(self, cluster_id, object_id):
        """Absolute path of a backup's (or log package's) file."""
        c = self.cluster(cluster_id)
        for o in _entries(c, "backups") + _entries(c, "log_packages"):
            if str(o.get("BackupId", o.get("Id"))) == str(object_id):
                f = o["file"]
                return f if os.path.isabs(f) else os.path.join(os.path.dirname(self.world_path), f)
        raise KeyError(object_id)

    def download_url(self, cluster_id, object_id, net="internet", https=False, **extra):
        """DescribeUMongoDBBackupURL for a backup (or, with package=True, a log package);
        https=True asks over TLS and so gets an https:// URL."""
        c = self.cluster(cluster_id)
        params = {"Region": c["Region"], "Zone": c["Zone"], "ClusterId": c["ClusterId"]}
        if extra.pop("package", False):
            params["PackageId"] = str(object_id)
        else:
            params["BackupId"] = object_id
            for b in _entries(c, "backups"):
                if str(b.get("BackupId")) == str(object_id) and b.get("BackupType") == "oplog":
                    params["Category"] = "oplog"
        if c.get("ProjectId"):
            params["ProjectId"] = c["ProjectId"]
        params.update(extra)
        r = self.signed_call("DescribeUMongoDBBackupURL", _https=https, **params)
        if r.get("RetCode") != 0:
            raise EmulatorError("DescribeUMongoDBBackupURL: %r" % r)
        return r["IntranetAddress" if net == "intranet" else "InternetAddress"]
