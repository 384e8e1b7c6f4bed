"""The object store: presigned expiring URLs, byte ranges, sendfile, faults.

Serves /store/<kind>/<cluster>/<object> (signed, as handed out by
DescribeUMongoDBBackupURL), /plain/<cluster>/<object> (the same bytes,
unsigned, for benchmarking peers) and HTML indexes of the plain objects.
Bodies go out with os.sendfile so the emulator is never the bottleneck; a
bandwidth cap sends timed slices, still with sendfile. Over TLS (no
sendfile on an SSL socket) they go out from a 1 MiB buffer, same faults,
same caps.
"""

import email.utils
import hashlib
import hmac
import html
import math
import os
import re
import select
import socket
import ssl
import stat
import struct
import time
import urllib.parse

NETS = ("internet", "intranet")
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_SEND_TIMEOUT = 120.0
_TLS_CHUNK = 1 << 20  # bytes per read + SSL write (a TLS socket cannot sendfile)


# -- presigned URLs ------------------------------------------------------------------

class UrlSigner:
    """HMAC-SHA256 over (key, Expires, net) with a random per-process secret."""

    def __init__(self):
        self.secret = os.urandom(32)

    def _mac(self, parts, expires, net):
        msg = "\0".join(list(parts) + [expires, net]).encode("utf-8", "surrogateescape")
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def make_url(self, base, parts, ttl, net):
        exp = time.time() + ttl
        if float(ttl).is_integer():
            expires = str(int(math.ceil(exp)))
        else:
            expires = "%.3f" % exp
        path = "/".join(urllib.parse.quote(p, safe="") for p in parts)
        query = urllib.parse.urlencode({"Expires": expires,
                                        "Signature": self._mac(parts, expires, net),
                                        "net": net})
        return "%s/store/%s?%s" % (base, path, query)

    def check(self, parts, query):
        """None if the URL is valid now, else the reason for a 403."""
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        expires, sig, net = q.get("Expires"), q.get("Signature"), q.get("net", "")
        if not expires or not sig:
            return "Query-string authentication requires the Signature and Expires parameters"
        if not hmac.compare_digest(self._mac(parts, expires, net), sig):
            return "The request signature we calculated does not match the signature you provided"
        try:
            if time.time() > float(expires):
                return "Request has expired"
        except ValueError:
            return "Invalid Expires"
        return None


def split_key(path, prefix):
    """'/store/b/c%2F1/x' -> ['b', 'c/1', 'x'] (components unquoted after split)."""
    rest = path[len(prefix):]
    return [urllib.parse.unquote(p, errors="surrogateescape") for p in rest.split("/")]


# -- ranges ----------------------------------------------------------------------------------

def parse_range(header, total):
    """None: ignore (send 200 whole); "416": unsatisfiable; (start, end) inclusive."""
    if header is None:
        return None
    m = _RANGE_RE.match(header)
    if not m:
        return None  # malformed, multi-range, other unit: ignore it
    a, b = m.group(1), m.group(2)
    if a == "" and b == "":
        return None
    if a == "":  # suffix: last n bytes
        n = int(b)
        if n == 0 or total == 0:
            return "416"
        return (max(0, total - n), total - 1)
    start = int(a)
    end = int(b) if b != "" else total - 1
    if b != "" and end < start:
        return None  # syntactically invalid: ignore
    if start >= total:
        return "416"
    return (start, min(end, total - 1))


def etag_for(path, st):
    """Cheap and stable: derived from size, mtime and path, never the content."""
    h = hashlib.sha1(("%d-%d-%s" % (st.st_size, st.st_mtime_ns, path))
                     .encode("utf-8", "surrogateescape")).hexdigest()
    return '"%s"' % h[:32]


# -- replies ---------------------------------------------------------------------------------

def _xml_error(code, message):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message></Error>\n" % (code, html.escape(message))).encode("utf-8")


_STATUS_CODES = {403: "AccessDenied", 404: "NoSuchKey", 416: "InvalidRange",
                 500: "InternalError", 503: "ServiceUnavailable", 429: "SlowDown"}


def send_simple(h, status, body, ctype="application/xml", headers=(), head=False):
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    if not head:
        h.wfile.write(body)


def _count(h, status, net=None):
    first = not getattr(h, "_emu_store_seen", False)
    h._emu_store_seen = True
    h.server.state.count_store(status, net, new_connection=first,
                               tls=getattr(h, "tls", False))


def _error(h, status, message, head, net=None, headers=()):
    _count(h, status, net)
    send_simple(h, status, _xml_error(_STATUS_CODES.get(status, "Error"), message),
                 headers=headers, head=head)


# -- serving ---------------------------------------------------------------------------------

def serve_signed(h, path, query, head):
    """/store/<kind>/<cluster id>/<object id>?Expires=&Signature=&net="""
    state = h.server.state
    q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    net = q.get("net") if q.get("net") in NETS else None
    if not _prelude(h, head, net):
        return
    parts = split_key(path, "/store/")
    why = h.server.signer.check(parts, query)
    if why is not None:
        return _error(h, 403, why, head, net)
    if len(parts) != 3 or parts[0] not in ("b", "l"):
        return _error(h, 404, "The specified key does not exist.", head, net)
    world = h.server.world
    entry = world.object_entry(parts[0], parts[1], parts[2])
    fpath = world.file_path(entry[1]) if entry else None
    _serve_file(h, fpath, head, net, state)


def serve_plain(h, path, head):
    """/plain/<cluster id>/<object id>: same bytes, no signature."""
    state = h.server.state
    parts = split_key(path, "/plain/")
    if len(parts) == 2 and parts[1] == "":
        return _send_index(h, plain_dir_html(h.server.world, parts[0]), head)
    if parts == [""]:
        return _send_index(h, plain_dir_html(h.server.world, None), head)
    if not _prelude(h, head, None):
        return
    world = h.server.world
    entry = None
    if len(parts) == 2:
        entry = world.object_entry("b", parts[0], parts[1]) or \
            world.object_entry("l", parts[0], parts[1])
    fpath = world.file_path(entry[1]) if entry else None
    _serve_file(h, fpath, head, None, state)


def _prelude(h, head, net):
    """Latency and the store_status fault; False if the reply was already sent."""
    state = h.server.state
    latency = state.setting("store_latency_ms")
    if latency:
        time.sleep(latency / 1000.0)
    fault = state.take_fault("store_status")
    if fault:
        status = fault["status"]
        _error(h, status, "injected failure", head, net,
               headers=(("Retry-After", "1"),) if status in (429, 503) else ())
        return False
    return True


def _serve_file(h, fpath, head, net, state):
    if fpath is None:
        return _error(h, 404, "The specified key does not exist.", head, net)
    try:
        fd = os.open(fpath, os.O_RDONLY)
    except OSError:
        return _error(h, 404, "The specified key does not exist.", head, net)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return _error(h, 404, "The specified key does not exist.", head, net)
        total = st.st_size
        rng = None if head else parse_range(h.headers.get("Range"), total)
        fake416 = None if head else state.take_fault("store_416")
        if rng == "416" or fake416:
            cr = "bytes */%d" % total
            if fake416:  # a spurious 416: with the given total, or without Content-Range
                cr = "bytes */%d" % fake416["total"] if "total" in fake416 else None
            return _error(h, 416, "The requested range is not satisfiable", head, net,
                          headers=(("Content-Range", cr),) if cr else ())
        if rng is not None:
            requested = rng[1] - rng[0] + 1
            if state.setting("store_ignore_range"):
                rng = None
        else:
            requested = total
        reply = _plan_reply(rng, total, None if head else state.take_fault("store_bad_range"))
        _count(h, reply["status"], net)
        h.send_response(reply["status"])
        h.send_header("Content-Type", "application/octet-stream")
        if reply["length_header"]:
            h.send_header("Content-Length", str(reply["length"]))
        else:
            h.send_header("Connection", "close")
        h.send_header("Accept-Ranges", "bytes")
        if not state.setting("store_no_etag"):
            h.send_header("ETag", etag_for(fpath, st))
        h.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        if reply["content_range"]:
            h.send_header("Content-Range", reply["content_range"])
        h.end_headers()
        if head:
            return
        state.count_store_range(requested)
        drop = state.take_fault("store_drop")
        stall = state.take_fault("store_stall")
        drip = state.take_fault("store_drip")
        if reply["cut"] is not None:  # no_length_cut: the body ends early, with a FIN
            drop = {"after_bytes": reply["cut"]}
        sent = 0
        try:
            sent = _send_body(h, fd, reply["start"], reply["length"], drop, stall,
                              state.setting("store_bandwidth"), drip)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            h.close_connection = True
            sent = getattr(h, "_emu_partial", 0)
        state.count_store_bytes(sent)
        if sent < reply["length"] or not reply["length_header"]:
            h.close_connection = True
    finally:
        os.close(fd)


def _plan_reply(rng, total, bad):
    """Status, headers and body extent of an object reply; `bad` is a
    store_bad_range fault (or None), which answers inconsistently on purpose."""
    start, end = rng if rng is not None else (0, total - 1)
    reply = {"status": 206 if rng is not None else 200, "start": start,
             "length": end - start + 1, "length_header": True, "cut": None,
             "content_range": "bytes %d-%d/%d" % (start, end, total) if rng is not None else None}
    mode = bad["mode"] if bad else None
    if mode == "no_length_cut":
        # The whole object, no Content-Length, the connection closed after N bytes.
        reply.update(status=200, start=0, length=total, length_header=False,
                     content_range=None, cut=min(total, bad.get("after_bytes", 0)))
    elif mode == "only_range_200" and rng is not None:
        reply.update(status=200, content_range=None)  # the range's bytes, as if the whole
    elif mode == "wrong_total" and rng is not None:
        reply["content_range"] = "bytes %d-%d/%d" % (start, end, bad.get("total", 123))
    elif mode == "wrong_start" and rng is not None:
        # Honest about which bytes it sends, but they are not the ones asked for.
        other = start - 4096 if start >= 4096 else start + 4096
        other_end = min(other + (end - start), total - 1)
        if other < total:
            reply.update(start=other, length=other_end - other + 1,
                         content_range="bytes %d-%d/%d" % (other, other_end, total))
    return reply


def _send_body(h, fd, offset, length, drop, stall, bandwidth, drip=None):
    """sendfile `length` bytes, honouring faults and the bandwidth cap."""
    sock = h.connection
    h.wfile.flush()
    sent = 0
    h._emu_partial = 0
    tls = isinstance(sock, ssl.SSLSocket)
    buf = memoryview(bytearray(_TLS_CHUNK)) if tls else None
    t0 = time.monotonic()
    slice_size = max(int(bandwidth) // 50, 16384) if bandwidth else 1 << 30
    if drip:
        # A few bytes at a time, ten times a second at most: a store that
        # never stalls outright but delivers next to nothing.
        bandwidth = float(drip["bytes_per_second"])
        slice_size = max(1, int(bandwidth // 10))
    stall_at = stall["after_bytes"] if stall else None
    drop_at = drop["after_bytes"] if drop else None
    while sent < length:
        if stall_at is not None and sent >= stall_at:
            time.sleep(float(stall["seconds"]))
            stall_at = None
            t0 = time.monotonic() - (sent / bandwidth if bandwidth else 0)
        if drop_at is not None and sent >= drop_at:
            _abort(h, bool(drop.get("rst")))
            return sent
        want = min(length - sent, slice_size)
        for limit in (stall_at, drop_at):
            if limit is not None and limit > sent:
                want = min(want, limit - sent)
        if tls:
            n = _send_buffered(sock, fd, offset + sent, min(want, _TLS_CHUNK), buf)
        else:
            n = _sendfile(sock, fd, offset + sent, want)
        if n == 0:  # file shrank under us: cannot keep the Content-Length promise
            _abort(h)
            return sent
        sent += n
        h._emu_partial = sent
        if bandwidth:
            ahead = t0 + sent / float(bandwidth) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    if drop is not None:  # body shorter than after_bytes: close right after it
        _abort(h, bool(drop.get("rst")))
    return sent


def _sendfile(sock, fd, offset, count):
    """One successful os.sendfile, waiting for the socket if it is non-blocking."""
    while True:
        try:
            return os.sendfile(sock.fileno(), fd, offset, count)
        except BlockingIOError:
            _r, w, _x = select.select([], [sock], [], _SEND_TIMEOUT)
            if not w:
                raise TimeoutError("client stopped reading") from None


def _send_buffered(sock, fd, offset, count, buf):
    """pread up to count bytes into buf and write them all (TLS sockets)."""
    n = os.preadv(fd, [buf[:count]], offset)
    if n > 0:
        sock.sendall(buf[:n])
    return n


def _abort(h, rst=False):
    """End the connection mid-body: a FIN right after the bytes sent so far (the
    client gets exactly those), or with rst a RST as a crashed proxy would send
    (the kernel may then discard bytes not yet delivered)."""
    sock = h.connection
    try:
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    h.close_connection = True


# -- indexes for peers --------------------------------------------------------------------------

def _page(title, links):
    rows = "".join('<a href="%s">%s</a><br>\n' % (html.escape(href, quote=True), html.escape(text))
                   for href, text in links)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
            "<body><h1>%s</h1>\n%s</body></html>\n" % (html.escape(title), html.escape(title), rows)
            ).encode("utf-8", "surrogateescape")


def _q(s):
    return urllib.parse.quote(s, safe="")


def index_html(world):
    """/index/: one link per object, absolute /plain/ paths."""
    links = []
    for _kind, cid, oid, _path in sorted(world.all_objects()):
        href = "/plain/%s/%s" % (_q(cid), _q(oid))
        links.append((href, "%s/%s" % (cid, oid)))
    return _page("Index of objects", links)


def plain_dir_html(world, cluster_id):
    """/plain/ lists clusters, /plain/<cluster>/ its objects (relative links)."""
    objs = sorted(world.all_objects())
    if cluster_id is None:
        cids = sorted({cid for _k, cid, _o, _p in objs})
        return _page("Index of /plain/", [(_q(c) + "/", c + "/") for c in cids])
    names = [oid for _k, cid, oid, _p in objs if cid == cluster_id]
    return _page("Index of /plain/%s/" % cluster_id, [(_q(o), o) for o in names])


def _send_index(h, body, head):
    send_simple(h, 200, body, ctype="text/html; charset=utf-8", head=head)


def serve_index(h, head):
    _send_index(h, index_html(h.server.world), head)
