#!/usr/bin/python3
"""Test emulator for umongofs: the provider API, its object store, fault knobs.

One port serves everything (HTTP, and HTTPS on the same port when given a
certificate: a connection whose first byte is a TLS handshake is wrapped):
    /            the API (docs/provider-api.md), GET / form POST / JSON POST
    /store/...   presigned, expiring object downloads (GET, HEAD, ranges)
    /plain/...   the same objects unsigned, /index/ an HTML list (bench peers)
    /_emu/...    control: stats, reset, fault config, world replacement

Standard library only. See README.md in this directory.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import emu_api  # noqa: E402
import emu_store  # noqa: E402
from emu_state import SettingsError, State  # noqa: E402
from emu_world import World, WorldError  # noqa: E402

MAX_BODY = 64 << 20


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "umongofs-emulator/1.0"
    timeout = 300  # idle keep-alive connections go away eventually

    # -- plumbing --------------------------------------------------------------

    def setup(self):
        self.tls = False
        ctx = self.server.ssl_context
        if ctx is not None:
            # HTTP and HTTPS share the port: a TLS ClientHello starts with a
            # handshake record (0x16), an HTTP request with a method name.
            self.request.settimeout(self.timeout)
            try:
                first = self.request.recv(1, socket.MSG_PEEK)
            except OSError:
                first = b""
            if first == b"\x16":
                self.request = ctx.wrap_socket(self.request, server_side=True)
                self.tls = True
        super().setup()
        # Headers and body leave in separate writes; with Nagle on, the body
        # would wait for the client's delayed ACK (40 ms a response), which
        # no production server adds and which would distort every timing.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        super().finish()
        if self.tls:  # the server closes the raw socket, which the wrap detached
            try:
                self.request.close()
            except OSError:
                pass

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("emulator: %s %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body, ctype="application/json", headers=(), head=False):
        emu_store.send_simple(self, status, body, ctype, headers, head)

    def _send_json(self, status, obj):
        self._send(status, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8") + b"\n")

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if n < 0 or n > MAX_BODY:
            raise BadRequest("body too large")
        return self.rfile.read(n) if n else b""

    def _read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise BadRequest("body too large")
            out += self.rfile.read(size)
            self.rfile.readline(8)

    def _split(self):
        u = urllib.parse.urlsplit(self.path)
        return u.path or "/", u.query

    # -- methods ---------------------------------------------------------------------

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def _not_allowed(self):
        try:
            self._read_body()
        except BadRequest:
            self.close_connection = True
        self._send(405, b"method not allowed\n", "text/plain", (("Allow", "GET, HEAD, POST"),))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _route(self, method):
        path, query = self._split()
        head = method == "HEAD"
        try:
            if path == "/":
                if head:
                    return self._send(405, b"", "text/plain", head=True)
                return self._api(method, query)
            if path.startswith("/_emu/"):
                return self._control(method, path, query)
            if method == "POST":
                self._read_body()
                return self._send(405, b"method not allowed\n", "text/plain")
            if path.startswith("/store/"):
                return emu_store.serve_signed(self, path, query, head)
            if path.startswith("/plain/"):
                return emu_store.serve_plain(self, path, head)
            if path in ("/index", "/index/", "/plain"):
                return emu_store.serve_index(self, head)
            self._send(404, b"not found\n", "text/plain", head=head)
        except BadRequest as e:
            self.close_connection = True
            self._send(400, ("%s\n" % e).encode(), "text/plain", head=head)

    # -- API -------------------------------------------------------------------------------

    def _api(self, method, query):
        params = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params.setdefault(k, v)
        if method == "POST":
            body = self._read_body()
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "application/json" or ctype.endswith("+json"):
                try:
                    obj = json.loads(body.decode("utf-8")) if body.strip() else {}
                except ValueError:
                    obj = {}
                if isinstance(obj, dict):
                    for k, v in obj.items():
                        params[str(k)] = emu_api.param_to_str(v)
            else:
                text = body.decode("utf-8", "replace")
                for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
                    params[k] = v
        srv = self.server

        def make_urls(kind, cluster_id, object_id, ttl):
            # Presigned URLs use the scheme the API was reached with.
            return srv.make_urls(kind, cluster_id, object_id, ttl, tls=self.tls)

        status, ctype, out = emu_api.handle(params, srv.world, srv.state, make_urls)
        self._send(status, out, ctype)

    # -- control ------------------------------------------------------------------------------

    def _control(self, method, path, query):
        srv = self.server
        body = self._read_body() if method == "POST" else b""
        try:
            obj = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError:
            return self._send_json(400, {"error": "body is not JSON"})
        name = path[len("/_emu/"):].rstrip("/")
        if name == "stats" and method == "GET":
            return self._send_json(200, srv.state.stats())
        if name == "reset" and method == "POST":
            if not isinstance(obj, dict):
                return self._send_json(400, {"error": "body must be an object"})
            srv.state.reset_stats()
            if obj.get("config"):
                srv.state.reset_settings()
            if obj.get("world"):
                try:
                    srv.world = World.load(srv.world_path)
                except WorldError as e:
                    return self._send_json(400, {"error": str(e)})
            return self._send_json(200, {"ok": True})
        if name == "config" and method == "GET":
            return self._send_json(200, srv.state.get_settings())
        if name == "config" and method == "POST":
            try:
                return self._send_json(200, srv.state.update_settings(obj))
            except SettingsError as e:
                return self._send_json(400, {"error": str(e)})
        if name == "world" and method == "GET":
            return self._send_json(200, srv.world.data)
        if name == "world" and method == "POST":
            try:
                if isinstance(obj, dict) and obj.get("reload") is True and len(obj) == 1:
                    srv.world = World.load(srv.world_path)
                else:
                    srv.world = World(obj, os.path.dirname(srv.world_path), srv.world_path)
            except WorldError as e:
                return self._send_json(400, {"error": str(e)})
            return self._send_json(200, {"ok": True})
        return self._send_json(404, {"error": "no such control endpoint %s %s" % (method, path)})


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, addr, world_path, state, quiet, ssl_context=None):
        super().__init__(addr, Handler)
        self.ssl_context = ssl_context
        self.world_path = os.path.abspath(world_path)
        self.world = World.load(self.world_path)
        self.state = state
        self.quiet = quiet
        self.signer = emu_store.UrlSigner()
        host = self.server_address[0]
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif ":" in host:
            host = "[%s]" % host
        self.base_url = "http://%s:%d" % (host, self.server_address[1])
        self.tls_base_url = "https://%s:%d" % (host, self.server_address[1])

    def make_urls(self, kind, cluster_id, object_id, ttl, tls=False):
        parts = (kind, cluster_id, object_id)
        base = self.tls_base_url if tls else self.base_url
        return tuple(self.signer.make_url(base, parts, ttl, net)
                     for net in emu_store.NETS)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        if isinstance(exc, ssl.SSLError):
            # A client that does not trust the certificate ends the handshake
            # with an alert: expected in tests, one line is enough.
            if not self.quiet:
                sys.stderr.write("emulator: TLS from %s: %s\n" % (client_address, exc))
            return
        sys.stderr.write("emulator: error serving %s\n" % (client_address,))
        traceback.print_exc()


def _write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def make_ssl_context(cert, key):
    """Server context for --tls-cert/--tls-key (TLS 1.2 and 1.3, session
    tickets on, as a store behind a CDN would offer)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description="umongofs test emulator")
    ap.add_argument("--world", required=True, help="world JSON file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the port here (atomically)")
    ap.add_argument("--url-ttl-override", type=float, metavar="SEC")
    ap.add_argument("--api-latency-ms", type=float, default=0)
    ap.add_argument("--store-latency-ms", type=float, default=0)
    ap.add_argument("--store-bandwidth", type=int, default=0, metavar="BYTES_PER_SEC")
    ap.add_argument("--rate-limit-first", type=int, default=0, metavar="N")
    ap.add_argument("--quiet", action="store_true", help="no access log on stderr")
    ap.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: also serve HTTPS")
    ap.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    ap.add_argument("--tls-dir", metavar="DIR", help="cert.pem and key.pem in DIR")
    args = ap.parse_args(argv)
    if args.tls_dir:
        if args.tls_cert or args.tls_key:
            ap.error("--tls-dir excludes --tls-cert/--tls-key")
        args.tls_cert = os.path.join(args.tls_dir, "cert.pem")
        args.tls_key = os.path.join(args.tls_dir, "key.pem")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    settings = {"api_latency_ms": args.api_latency_ms,
                "store_latency_ms": args.store_latency_ms,
                "store_bandwidth": args.store_bandwidth,
                "rate_limit_first": args.rate_limit_first}
    if args.url_ttl_override is not None:
        ttl = args.url_ttl_override
        settings["url_ttl_override"] = int(ttl) if ttl.is_integer() else ttl
    try:
        state = State(settings)
        ctx = make_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        server = EmulatorServer((args.host, args.port), args.world, state, args.quiet, ctx)
    except (SettingsError, WorldError, OSError) as e:
        sys.stderr.write("emulator: %s\n" % e)
        return 2

    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="serve", daemon=True)
    thread.start()
    port = server.server_address[1]
    if args.port_file:
        _write_port_file(args.port_file, port)
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    thread.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
