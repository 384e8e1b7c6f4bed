"""HTTPS: the emulator's API and store over TLS with a certificate made at test
time (emu_client.make_tls_cert: openssl req -x509, IP SAN 127.0.0.1), umongofs
trusting it through -o cafile=, and refusing it without."""

import hashlib
import http.client
import os
import re
import socket
import ssl
import urllib.parse

import pytest

from emu_client import http_request, make_tls_cert
from mount import clean_env, is_mounted, require_fuse, run_oneshot, umongofs_bin
from worldspec import spec_cluster, spec_object

CID = "udb-tls01"
# Three and a bit 2 MiB blocks: several ranges, some in parallel, an odd tail.
SIZE = (6 << 20) + 12345


@pytest.fixture
def tls_dir(tmp_path):
    return make_tls_cert(str(tmp_path / "tls"))


@pytest.fixture
def tls_emu(emulator_factory, tls_dir):
    spec = {"clusters": [spec_cluster(CID, "tls", [spec_object(CID, 0, SIZE, 41),
                                                   spec_object(CID, 1, 3000, 42)])]}
    return emulator_factory(spec, "--tls-dir", tls_dir)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _expected(emu, i):
    with open(emu.object_path(CID, "bk-%s-%d" % (CID, i)), "rb") as f:
        return f.read()


def test_https_mount_reads_byte_exact(tls_emu, mount_factory):
    emu = tls_emu
    want = _expected(emu, 0)
    m = mount_factory(emu.https_api_url, "cafile=" + emu.cafile)
    path = m.p("cn-bj2", "tls", "obj-0.bin")
    assert os.path.getsize(path) == SIZE
    with open(path, "rb") as f:
        got = f.read()
    assert len(got) == SIZE and _sha(got) == _sha(want)
    # Jumps across block edges, on the same connections.
    fd = os.open(path, os.O_RDONLY)
    try:
        for off in (SIZE - 100, (2 << 20) - 7, 1, (4 << 20) + 4095, 0):
            assert os.pread(fd, 8192, off) == want[off:off + 8192], off
    finally:
        os.close(fd)
    with open(m.p("cn-bj2", "tls", "obj-1.bin"), "rb") as f:
        assert f.read() == _expected(emu, 1)
    st = emu.stats()["store"]
    # Every object request came over TLS: the API reached over HTTPS handed
    # out https:// URLs, and umongofs verified the store's certificate too.
    assert st["requests"] > 0 and st["tls_requests"] == st["requests"], st
    assert st["bytes"] >= SIZE


def test_plain_http_unchanged_on_a_tls_emulator(tls_emu, mount_factory):
    emu = tls_emu
    assert emu.download_url(CID, "bk-%s-0" % CID).startswith("http://127.0.0.1:")
    assert emu.download_url(CID, "bk-%s-0" % CID, https=True).startswith("https://127.0.0.1:")
    emu.reset()
    m = mount_factory(emu)  # http:// api_url, the same port
    with open(m.p("cn-bj2", "tls", "obj-1.bin"), "rb") as f:
        assert f.read() == _expected(emu, 1)
    st = emu.stats()["store"]
    assert st["requests"] > 0 and st["tls_requests"] == 0, st


@pytest.mark.parametrize("trust", ["system store", "another CA"])
def test_https_mount_refuses_an_untrusted_certificate(tls_emu, tmp_path, trust):
    """No cafile= (the system store does not know the emulator's certificate)
    or a cafile= of another self-signed CA: the mount fails at once, naming
    the API and the certificate problem, and leaves nothing mounted."""
    require_fuse()
    emu = tls_emu
    opts = "api_url=" + emu.https_api_url
    if trust == "another CA":
        opts += ",cafile=" + os.path.join(make_tls_cert(str(tmp_path / "other")), "cert.pem")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    r, took = run_oneshot([umongofs_bin(), "-f", "-o", opts, str(mnt)], clean_env(home=home))
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0, err
    assert not is_mounted(str(mnt))
    assert re.search(r"cannot use the API at %s: SSL certificate problem: self-signed certificate"
                     % re.escape(emu.https_api_url), err), err
    assert took < 10  # a certificate error is not retried
    assert emu.stats()["store"]["requests"] == 0


def test_https_store_keeps_ranges_etag_and_faults(tls_emu):
    emu = tls_emu
    want = _expected(emu, 0)
    url = emu.download_url(CID, "bk-%s-0" % CID, https=True)
    plain = emu.download_url(CID, "bk-%s-0" % CID)
    ca = emu.cafile

    status, h, body = http_request("GET", url, {"Range": "bytes=100-199"}, cafile=ca)
    assert status == 206 and body == want[100:200]
    assert h["content-range"] == "bytes 100-199/%d" % SIZE
    assert h["etag"] == http_request("HEAD", plain)[1]["etag"]
    status, h, body = http_request("GET", url, {"Range": "bytes=%d-" % SIZE}, cafile=ca)
    assert status == 416 and h["content-range"] == "bytes */%d" % SIZE
    status, h, body = http_request("GET", url, cafile=ca)
    assert status == 200 and _sha(body) == _sha(want)

    # Without the CA, the client refuses the store as umongofs does.
    with pytest.raises(ssl.SSLCertVerificationError):
        http_request("GET", url)

    emu.config(store_status={"status": 503, "count": 1})
    assert http_request("GET", url, cafile=ca)[0] == 503

    # A cut after N body bytes over TLS delivers exactly those N, then EOF.
    emu.config(store_drop={"after_bytes": 3 << 20, "count": 1})
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection("127.0.0.1", u.port, timeout=30,
                                       context=ssl.create_default_context(cafile=ca))
    try:
        conn.request("GET", u.path + "?" + u.query, headers={"Range": "bytes=5-"})
        resp = conn.getresponse()
        assert resp.status == 206
        with pytest.raises(http.client.IncompleteRead) as e:
            resp.read()
        assert e.value.partial == want[5:5 + (3 << 20)]
    finally:
        conn.close()

    st = emu.stats()["store"]
    assert st["tls_requests"] == st["requests"] - 1  # the HEAD on plain HTTP
    assert st["status"]["206"] == 2 and st["status"]["416"] == 1 and st["status"]["503"] == 1


def test_https_and_http_share_the_port(tls_emu):
    """A client that sends garbage, or nothing, does not stop TLS on the port."""
    emu = tls_emu
    s = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05hello")  # a broken handshake
    s.close()
    idle = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
    try:
        r = emu.signed_call("GetRegion", _https=True)
        assert r["RetCode"] == 0
        assert emu.signed_call("GetRegion")["RetCode"] == 0
    finally:
        idle.close()
