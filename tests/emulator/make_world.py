#!/usr/bin/python3
"""Builds emulator worlds: the demo world, a benchmark world, or one from a spec.

    make_world.py --demo OUTDIR              the demo world (deterministic)
    make_world.py --bench OUTDIR [--size 1G] [--many 5000]
    make_world.py --spec SPEC.json OUTDIR    a spec as build_world() takes it

Importable helpers for tests: build_world(), demo_spec(), write_demo(),
write_random_file(), make_tar_gz_of_json(), make_tar_gz_of_text().
Each prints/returns the path of OUTDIR/world.json.
"""

import argparse
import calendar
import copy
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import tarfile

DEMO_PUBLIC_KEY = "demo-public-key"
DEMO_PRIVATE_KEY = "demo-private-key"
DEMO_PROJECT = "org-demo"
SUB_PUBLIC_KEY = "demo-sub-public-key"
SUB_PRIVATE_KEY = "demo-sub-private-key"
OTHER_PROJECT = "org-other"

DEMO_ACCOUNTS = [
    {"public_key": DEMO_PUBLIC_KEY, "private_key": DEMO_PRIVATE_KEY,
     "projects": [DEMO_PROJECT], "default_project": DEMO_PROJECT, "sub_account": False},
    {"public_key": SUB_PUBLIC_KEY, "private_key": SUB_PRIVATE_KEY,
     "projects": [DEMO_PROJECT, OTHER_PROJECT], "default_project": DEMO_PROJECT,
     "sub_account": True},
]

_BLOCK = 1 << 20
_FIXED_MTIME = 1796083200  # 2026-12-01T00:00:00Z, for tar members


# -- data files -----------------------------------------------------------------------

def write_random_file(path, size, seed=0):
    """`size` pseudo-random bytes, the same for the same seed, fast for GiBs.

    One random 1 MiB block (plus slack) is generated once; block i is that
    block rotated by an amount derived from i, with its first 32 bytes replaced
    by a hash of (seed, i), so no two blocks are equal and nothing repeats at
    small scale."""
    rng = random.Random(seed)
    base = rng.randbytes(_BLOCK)
    _mkparent(path)
    with open(path, "wb") as f:
        i = 0
        left = size
        while left > 0:
            rot = (i * 2654435761 + seed * 40503) % _BLOCK
            tag = hashlib.sha256(b"%d:%d" % (seed, i)).digest()
            block = tag + base[rot:] + base[:rot]
            n = min(left, _BLOCK)
            f.write(block[:n])
            left -= n
            i += 1
    return path


_FIRST = ["Ada", "Bo", "Chen", "Dara", "Eli", "Fei", "Gus", "Hana", "Ivo", "Jun", "Kai",
          "Lin", "Mo", "Nia", "Oz", "Pei", "Quinn", "Ren", "Sol", "Tao", "Uma", "Wen", "Xi", "Yu"]
_LAST = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Smith",
         "Garcia", "Muller", "Rossi", "Tanaka", "Kim", "Nguyen", "Silva", "Novak", "Haddad"]
_STATUS = ["new", "paid", "shipped", "delivered", "returned", "cancelled"]
_OPS = ["i", "u", "d"]


def _doc(rng, i, collection):
    oid = "%024x" % rng.getrandbits(96)
    ts = 1795000000 + i * 37 + rng.randrange(30)
    if collection == "oplog.rs":
        return {"ts": {"$timestamp": {"t": ts, "i": rng.randrange(1, 50)}},
                "op": rng.choice(_OPS), "ns": "shop.orders",
                "o": {"_id": {"$oid": oid}, "status": rng.choice(_STATUS),
                      "rev": rng.randrange(1, 9)}}
    items = [{"sku": "%08X" % rng.getrandbits(32), "qty": rng.randrange(1, 6),
              "price": rng.randrange(99, 99999) / 100.0} for _ in range(rng.randrange(1, 5))]
    return {"_id": {"$oid": oid}, "orderNo": 100000 + i,
            "customer": {"name": "%s %s" % (rng.choice(_FIRST), rng.choice(_LAST)),
                         "email": "c%d@example.%s" % (rng.getrandbits(24), rng.choice(["com", "cn", "net"]))},
            "items": items, "total": round(sum(x["qty"] * x["price"] for x in items), 2),
            "status": rng.choice(_STATUS), "createdAt": {"$date": {"$numberLong": str(ts * 1000)}}}


def _write_tar_gz(path, members):
    """members: [(name, bytes)]. Deterministic: fixed mtimes, owners, gzip header."""
    _mkparent(path)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, data in members:
                    ti = tarfile.TarInfo(name)
                    ti.size = len(data)
                    ti.mtime = _FIXED_MTIME
                    ti.mode = 0o644
                    ti.uid = ti.gid = 0
                    ti.uname = ti.gname = "mongodb"
                    tar.addfile(ti, io.BytesIO(data))
    return path


def make_tar_gz_of_json(path, n_docs, seed=0, db="shop", collection="orders"):
    """A mongoexport-style dump: one JSON document per line, in a tar.gz."""
    rng = random.Random(seed)
    lines = [json.dumps(_doc(rng, i, collection), separators=(",", ":")) for i in range(n_docs)]
    data = ("\n".join(lines) + "\n").encode()
    meta = json.dumps({"db": db, "collection": collection, "count": n_docs}).encode() + b"\n"
    return _write_tar_gz(path, [("dump/%s/%s.json" % (db, collection), data),
                                ("dump/%s/%s.metadata.json" % (db, collection), meta)])


def make_tar_gz_of_text(path, files):
    """files: {member name: str}."""
    return _write_tar_gz(path, [(n, t.encode("utf-8")) for n, t in sorted(files.items())])


def _log_text(kind, n_lines, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n_lines):
        ts = "2026-11-27T%02d:%02d:%02d.%03d+0000" % (i * 24 // n_lines, rng.randrange(60),
                                                      rng.randrange(60), rng.randrange(1000))
        if kind == "SlowLog":
            out.append('{"t":{"$date":"%s"},"s":"I","c":"COMMAND","msg":"Slow query",'
                       '"attr":{"ns":"shop.orders","planSummary":"COLLSCAN","docsExamined":%d,'
                       '"durationMillis":%d}}' % (ts, rng.randrange(10**3, 10**7),
                                                  rng.randrange(100, 30000)))
        else:
            out.append('{"t":{"$date":"%s"},"s":"E","c":"NETWORK","msg":"Error receiving request",'
                       '"attr":{"remote":"10.9.%d.%d:%d","error":"HostUnreachable"}}'
                       % (ts, rng.randrange(256), rng.randrange(256), rng.randrange(1024, 65535)))
    return "\n".join(out) + "\n"


# -- worlds ---------------------------------------------------------------------------

def _mkparent(path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)


def _safe(s):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", str(s)).strip(".")
    return s or "_"


def _make_content(path_noext, content):
    """Write one object's file from its content spec; returns the path written."""
    if not isinstance(content, dict):
        raise ValueError("content must be an object: %r" % (content,))
    seed = content.get("seed", 0)
    if "random" in content:
        return write_random_file(path_noext + ".bin", int(content["random"]), seed)
    if "tar_json" in content:
        return make_tar_gz_of_json(path_noext + ".tar.gz", int(content["tar_json"]), seed,
                                   db=content.get("db", "shop"),
                                   collection=content.get("collection", "orders"))
    if "tar_log" in content:
        kind = content.get("kind", "SlowLog")
        name = "mongod-%s.log" % ("slow" if kind == "SlowLog" else "error")
        return make_tar_gz_of_text(path_noext + ".tar.gz",
                                   {name: _log_text(kind, int(content["tar_log"]), seed)})
    if "tar_text" in content:
        return make_tar_gz_of_text(path_noext + ".tar.gz", content["tar_text"])
    if "bytes" in content:
        _mkparent(path_noext + ".bin")
        with open(path_noext + ".bin", "wb") as f:
            f.write(content["bytes"].encode("utf-8"))
        return path_noext + ".bin"
    raise ValueError("unknown content kind: %r" % (content,))


# Backups are logical dumps compressed about 5:1 (the provider's guide), so a
# restore needs about five times the backup's size on disk.
DISK_PER_BACKUP_BYTE = 5


def _file_size(obj, outdir):
    f = obj.get("file")
    if not isinstance(f, str):
        return 0
    return os.path.getsize(f if os.path.isabs(f) else os.path.join(outdir, f))


def _materialize(obj, outdir, cid, oid, size_key, made):
    """Replace a "content" spec by a written "file"; fill "auto" sizes."""
    content = obj.pop("content", None)
    delta = obj.pop("size_delta", 0)
    if content is not None:
        key = json.dumps(content, sort_keys=True)
        if key not in made:
            made[key] = _make_content(os.path.join(outdir, "data", _safe(cid), _safe(oid)),
                                      content)
        obj["file"] = os.path.relpath(made[key], outdir)
    if obj.get(size_key) == "auto":
        obj[size_key] = max(0, _file_size(obj, outdir) + delta)
    if obj.get("DiskSize") == "auto":
        obj["DiskSize"] = DISK_PER_BACKUP_BYTE * _file_size(obj, outdir)
    end = obj.get("EndTime", obj.get("FinishTime"))
    f = obj.get("file")
    if isinstance(end, int) and not isinstance(end, bool) and isinstance(f, str) and content:
        p = f if os.path.isabs(f) else os.path.join(outdir, f)
        os.utime(p, (end, end))


def _derive_regions(clusters):
    seen = []
    for c in clusters:
        rz = (c.get("Region"), c.get("Zone"))
        if isinstance(rz[0], str) and isinstance(rz[1], str) and rz not in seen:
            seen.append(rz)
    ids = {}
    out = []
    for r, z in seen:
        ids.setdefault(r, 1000 + len(ids))
        out.append({"Region": r, "Zone": z, "RegionId": ids[r], "RegionName": r,
                    "IsDefault": r == seen[0][0], "BitMaps": "1111"})
    return out


def build_world(dirpath, spec):
    """Write dirpath/world.json (and data files) from `spec`; returns its path.

    `spec` is a world (README.md) where a backup or log package may carry
    "content" instead of "file": {"random": SIZE, "seed": S},
    {"tar_json": N_DOCS, "seed": S, "collection"?}, {"tar_log": N_LINES,
    "kind": "SlowLog"|"ErrorLog", "seed": S}, {"tar_text": {name: text}} or
    {"bytes": "text"}. Identical specs share one file. "BackupSize"/"Size":
    "auto" is filled with the file's size (plus "size_delta", if given),
    "DiskSize": "auto" with five times the file's size.
    Missing "accounts" get the demo accounts, missing "regions" are derived
    from the clusters. Clusters without ProjectId get the demo project."""
    dirpath = os.path.abspath(dirpath)
    os.makedirs(dirpath, exist_ok=True)
    world = copy.deepcopy(spec)
    world.setdefault("accounts", copy.deepcopy(DEMO_ACCOUNTS))
    clusters = world.setdefault("clusters", [])
    world.setdefault("regions", _derive_regions(clusters))
    made = {}
    for c in clusters:
        if not isinstance(c, dict):
            continue
        c.setdefault("ProjectId", DEMO_PROJECT)
        cid = c.get("ClusterId", "cluster")
        for b in c.get("backups", []) or []:
            if isinstance(b, dict):
                _materialize(b, dirpath, cid, b.get("BackupId", "backup"), "BackupSize", made)
        for p in c.get("log_packages", []) or []:
            if isinstance(p, dict):
                _materialize(p, dirpath, cid, "log-%s" % p.get("Id", "x"), "Size", made)
    path = os.path.join(dirpath, "world.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(world, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


# -- the demo world -------------------------------------------------------------------

def _t(day, hour=0, minute=0):
    return calendar.timegm((2026, 11, day, hour, minute, 0))


def _connect_url(cid, sharded):
    """Two members (mongod of a replica set, or mongos of a sharded cluster) on
    the provider's private network, as its console shows them."""
    subnet, host = len(cid) % 7 + 1, sum(map(ord, cid)) % 200 + 10
    hosts = "10.9.%d.%d:27017,10.9.%d.%d:27017" % (subnet, host, subnet, host + 1)
    return "mongodb://%s/" % hosts if sharded else "mongodb://%s/?replicaSet=%s" % (hosts, cid)


def _cluster(cid, name, zone, region="cn-bj2", ctype="ReplicaSet", created=None, **extra):
    c = {"Region": region, "Zone": zone, "ProjectId": DEMO_PROJECT, "ClusterId": cid,
         "Name": name, "DBVersion": "MongoDB-4.2", "ClusterType": ctype, "State": "Running",
         "CreateTime": created or _t(1, 8),
         "ConnectURL": _connect_url(cid, ctype == "SharedCluster"),
         "backups": [], "log_packages": []}
    c.update(extra)
    return c


def _backup(cid, zone, bid, name, start, minutes=12, btype="auto", state="Success",
            content=None, size="auto", **extra):
    b = {"BackupId": bid, "BackupName": name, "ClusterId": cid, "Zone": zone, "State": state,
         "BackupSize": size if content else 0, "BackupType": btype, "StartTime": start,
         "EndTime": start + minutes * 60, "DiskSize": "auto"}
    if content:
        b["content"] = content
    b.update(extra)
    return b


# What DescribeUMongoDBBackupURL answers for backups the provider will not let
# anyone download. The provider documents that they are refused, not the codes:
# these are the emulator's choice (README.md).
REFUSE_SHARDED = {"RetCode": 18010,
                  "Message": "sharded cluster backup does not support download yet"}
REFUSE_SNAPSHOT = {"RetCode": 18011, "Message": "snapshot backup does not support download"}


def _end(backups, backup_id):
    return next(b["EndTime"] for b in backups if b["BackupId"] == backup_id)


def demo_spec():
    """The demo world as a build_world() spec."""
    z2, z3 = "cn-bj2-02", "cn-bj2-03"
    orders = _cluster("udb-orders01", "orders-prod", z2, created=_t(2, 9),
                      IPv6ConnectURL="mongodb://[fd00:9:1::12]:27017,[fd00:9:1::13]:27017/"
                                     "?replicaSet=udb-orders01")
    ob = orders["backups"]
    for n, day in enumerate((25, 26, 27)):
        # BackupMethod appears on some backups only (newer ones), as it may.
        method = {"BackupMethod": "logical"} if day >= 26 else {}
        ob.append(_backup("udb-orders01", z2, "bk-orders-auto-%d" % day,
                          "orders-prod-auto-2026-11-%02d.tar.gz" % day, _t(day, 2),
                          content={"tar_json": 4200, "seed": 100 + n}, **method))
    ob.append(_backup("udb-orders01", z2, "bk-orders-manual-1", "orders-prod-manual-pre-migration.tar.gz",
                      _t(26, 15, 30), btype="manual", content={"tar_json": 3400, "seed": 110}))
    for n, hour in enumerate((6, 12)):
        ob.append(_backup("udb-orders01", z2, "bk-orders-oplog-27-%02d" % hour,
                          "orders-prod-oplog-2026-11-27T%02d.tar.gz" % hour, _t(27, hour), minutes=3,
                          btype="oplog", content={"tar_json": 3000, "seed": 120 + n,
                                                  "db": "local", "collection": "oplog.rs"}))
    ob.append(_backup("udb-orders01", z2, "bk-orders-auto-24", "orders-prod-auto-2026-11-24.tar.gz",
                      _t(24, 2), minutes=4, state="Failed"))
    ob.append(_backup("udb-orders01", z2, "bk-orders-manual-2", "orders-prod-manual-running.tar.gz",
                      _t(27, 23, 50), minutes=0, btype="manual", state="Backuping"))
    for pid, kind, name, seed in ((101, "SlowLog", "slowlog-2026-11-27", 130),
                                  (102, "ErrorLog", "errorlog-2026-11-27", 131)):
        orders["log_packages"].append({
            "Id": pid, "Name": name, "State": "Package_Success", "Size": "auto",
            "PackageType": kind, "ClusterId": "udb-orders01", "NodeId": "udb-orders01-node1",
            "Role": "primary", "Begin": _t(27), "End": _t(28), "CreateTime": _t(28, 0, 5),
            "FinishTime": _t(28, 0, 6), "content": {"tar_log": 4000, "kind": kind, "seed": seed}})
    # Point-in-time restore: from the end of the oldest full backup to the end
    # of the newest oplog backup.
    orders["recover_time_range"] = {"EarliestTime": _end(ob, "bk-orders-auto-25"),
                                    "LatestTime": _end(ob, "bk-orders-oplog-27-12")}

    analytics = _cluster("udb-analytics01", "analytics", z2, ctype="SharedCluster",
                         DBVersion="MongoDB-4.4", created=_t(3, 10))
    for day in (26, 27, 28):
        # The provider does not let sharded backups be downloaded "yet": the
        # newest batch is listed like the others, but its download is refused.
        refused = {"refuse_download": REFUSE_SHARDED} if day == 28 else {}
        for n, (vc, rtype) in enumerate((("cfg", "ConfigRepl"), ("shard0", "DataRepl"),
                                         ("shard1", "DataRepl"))):
            analytics["backups"].append(_backup(
                "udb-analytics01", z2, "bk-an-%d-%s" % (day, vc),
                "analytics-auto-2026-11-%02d" % day, _t(day, 3), minutes=20 + n,
                content={"tar_json": 150 if rtype == "ConfigRepl" else 700,
                         "seed": 200 + day * 10 + n, "db": "analytics",
                         "collection": "events" if rtype == "DataRepl" else "settings"},
                VirtualClusterId="udb-analytics01-%s" % vc, ReplicaType=rtype,
                BatchId="batch-2026-11-%02d" % day, **refused))
    ab = analytics["backups"]
    analytics["recover_time_range"] = {"EarliestTime": _end(ab, "bk-an-26-shard1"),
                                       "LatestTime": _end(ab, "bk-an-28-shard1")}

    inventory = _cluster("udb-inventory01", "inventory", z3, created=_t(4, 11))
    inventory["backups"] = [
        _backup("udb-inventory01", z3, "bk-inv-ok", "inventory-auto-2026-11-27.tar.gz",
                _t(27, 4), content={"tar_json": 400, "seed": 300}, BackupMethod="logical"),
        _backup("udb-inventory01", z3, "bk-inv-size-wrong", "inventory-size-wrong.tar.gz",
                _t(27, 5), content={"tar_json": 500, "seed": 301}, size_delta=-1000),
        _backup("udb-inventory01", z3, "bk-inv-size-zero", "inventory-size-zero.tar.gz",
                _t(27, 6), content={"tar_json": 300, "seed": 302}, size=0),
        # A disk snapshot: listed, sized, never downloadable.
        _backup("udb-inventory01", z3, "bk-inv-snapshot", "inventory-snapshot-2026-11-28",
                _t(28, 1), minutes=2, btype="manual", content={"random": 16384, "seed": 303},
                BackupMethod="snapshot", refuse_download=REFUSE_SNAPSHOT),
    ]

    staging1 = _cluster("udb-staging01", "staging", z2, created=_t(5))
    # Its ConnectURL carries a user and password, as a user-set one can: a
    # client must strip them before showing it.
    staging2 = _cluster("udb-staging02", "staging", z3, created=_t(6),
                        ConnectURL="mongodb://root:s3cret@10.9.1.20:27017/admin")
    for n, st in enumerate((staging1, staging2)):
        cid, zone = st["ClusterId"], st["Zone"]
        st["backups"].append(_backup(cid, zone, "bk-stg%d-27" % (n + 1),
                                     "staging-auto-2026-11-27.tar.gz", _t(27, 1),
                                     content={"tar_json": 120, "seed": 400 + n}))

    hostile = _cluster("udb-hkops01", "ops/hk\x07tools", "hk-01", region="hk", created=_t(7))
    hostile["backups"] = [
        _backup("udb-hkops01", "hk-01", "bk-hk-dotdot", "..", _t(27, 2),
                content={"random": 65536, "seed": 500}),
        _backup("udb-hkops01", "hk-01", "bk-hk-empty", "", _t(27, 3),
                content={"random": 4096, "seed": 501}),
        _backup("udb-hkops01", "hk-01", "bk-hk-auto-27", "ops-auto-2026-11-27.tar.gz", _t(27, 4),
                content={"tar_json": 100, "seed": 502}),
    ]

    other = _cluster("udb-other01", "other-project-db", z2, created=_t(8))
    other["ProjectId"] = OTHER_PROJECT
    other["backups"].append(_backup("udb-other01", z2, "bk-other-27", "other-auto-2026-11-27.tar.gz",
                                    _t(27, 2), content={"tar_json": 50, "seed": 600}))

    regions = [
        {"Region": "cn-bj2", "Zone": z2, "RegionId": 666, "RegionName": "Beijing2",
         "IsDefault": True, "BitMaps": "1111"},
        {"Region": "cn-bj2", "Zone": z3, "RegionId": 666, "RegionName": "Beijing2",
         "IsDefault": True, "BitMaps": "1111"},
        {"Region": "hk", "Zone": "hk-01", "RegionId": 777, "RegionName": "HongKong",
         "IsDefault": False, "BitMaps": "1111"},
        # A region with no clusters at all: its listing has no DataSet.
        {"Region": "cn-sh2", "Zone": "cn-sh2-01", "RegionId": 888, "RegionName": "Shanghai2",
         "IsDefault": False, "BitMaps": "1111"},
    ]
    return {"accounts": copy.deepcopy(DEMO_ACCOUNTS), "regions": regions,
            "clusters": [orders, analytics, inventory, staging1, staging2, hostile, other]}


def write_demo(outdir):
    return build_world(outdir, demo_spec())


def bench_spec(size=1 << 30, many=5000):
    """One big random object and one cluster with `many` small backups."""
    z = "cn-bj2-02"
    big = _cluster("udb-bench01", "bench", z)
    big["backups"].append(_backup("udb-bench01", z, "bk-bench-big", "bench-big.bin", _t(27, 1),
                                  minutes=30, content={"random": size, "seed": 7}))
    listing = _cluster("udb-listing01", "listing", z)
    for i in range(many):
        listing["backups"].append(_backup("udb-listing01", z, "bk-list-%05d" % i,
                                          "listing-%05d.tar.gz" % i, _t(1) + i * 600,
                                          content={"tar_json": 10, "seed": 9}))
    return {"clusters": [big, listing]}


def parse_size(s):
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(i?[bB]?)\s*", s)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % s)
    return int(m.group(1)) * (1024 ** " KMGT".index(m.group(2).upper() or " "))


def main(argv=None):
    ap = argparse.ArgumentParser(description="build an emulator world")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--demo", metavar="OUTDIR")
    g.add_argument("--bench", metavar="OUTDIR")
    g.add_argument("--spec", nargs=2, metavar=("SPEC_JSON", "OUTDIR"))
    ap.add_argument("--size", type=parse_size, default=1 << 30, help="--bench object size")
    ap.add_argument("--many", type=int, default=5000, help="--bench backups in 'listing'")
    args = ap.parse_args(argv)
    if args.demo:
        path = write_demo(args.demo)
    elif args.bench:
        path = build_world(args.bench, bench_spec(args.size, args.many))
    else:
        with open(args.spec[0], encoding="utf-8") as f:
            path = build_world(args.spec[1], json.load(f))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
