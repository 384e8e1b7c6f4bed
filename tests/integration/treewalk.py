"""What the mount should show for an emulator world, and what it does show.

expected_objects(world, ...) computes, from the world file alone, every object
(backup, oplog backup, log package) a mount must show and where; walk(root)
reads the mounted tree with its xattrs. Tests compare the two by id (xattrs),
never by guessing names.
"""

import collections
import hashlib
import os
import stat

XP = "user.umongofs."

Entry = collections.namedtuple("Entry", "path rel parts name is_dir st xattrs")


def _dicts(items):
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def account(world, public_key):
    for a in _dicts(world.get("accounts")):
        if a.get("public_key") == public_key:
            return a
    raise KeyError(public_key)


def visible_regions(world, regions=None):
    """Region names GetRegion lists (once each, in first-seen order), filtered."""
    out = []
    for r in _dicts(world.get("regions")):
        name = r.get("Region")
        if isinstance(name, str) and name not in out and (regions is None or name in regions):
            out.append(name)
    return out


def visible_clusters(world, project, regions=None):
    """Clusters of `project` in the visible regions."""
    regs = visible_regions(world, regions)
    return [c for c in _dicts(world.get("clusters"))
            if c.get("Region") in regs and c.get("ProjectId") in (None, project)]


def expected_objects(world, project="org-demo", regions=None, show_all=False):
    """{key: info}; key is ("b", BackupId) or ("l", str(Id)); info has
    kind ("backup" | "oplog" | "log"), cluster (dict), region, batch (BatchId
    in a sharded cluster, else None), obj (the world entry), finished (bool),
    refused (bool: the provider refuses its download, so it is listed but
    cannot be read)."""
    out = {}
    for c in visible_clusters(world, project, regions):
        sharded = c.get("ClusterType") == "SharedCluster"
        for b in _dicts(c.get("backups")):
            finished = b.get("State") == "Success"
            if not finished and not show_all:
                continue
            kind = "oplog" if b.get("BackupType") == "oplog" else "backup"
            batch = b.get("BatchId") if (sharded and kind == "backup" and b.get("BatchId")) \
                else None
            key = ("b", b["BackupId"])
            assert key not in out, "world lists %r twice" % (key,)
            out[key] = dict(kind=kind, cluster=c, region=c["Region"], batch=batch, obj=b,
                            finished=finished, refused=is_refused(b))
        for p in _dicts(c.get("log_packages")):
            finished = p.get("State") == "Package_Success"
            if not finished and not show_all:
                continue
            key = ("l", str(p["Id"]))
            out[key] = dict(kind="log", cluster=c, region=c["Region"], batch=None, obj=p,
                            finished=finished, refused=is_refused(p))
    return out


def is_refused(obj):
    """True for a world entry whose download the emulator refuses
    (refuse_download, tests/emulator/README.md): a test that reads every file
    must leave it out."""
    return obj.get("refuse_download") is not None


def refused_keys(world):
    """Object keys (as object_key() gives them) of every refused download."""
    out = set()
    for c in _dicts(world.get("clusters")):
        out |= {("b", b.get("BackupId")) for b in _dicts(c.get("backups")) if is_refused(b)}
        out |= {("l", str(p.get("Id"))) for p in _dicts(c.get("log_packages"))
                if is_refused(p)}
    return out


def read_xattrs(path):
    out = {}
    for name in os.listxattr(path, follow_symlinks=False):
        out[name] = os.getxattr(path, name, follow_symlinks=False).decode("utf-8", "surrogateescape")
    return out


def walk(root, xattrs=True):
    """Every entry below root (root excluded), parents before children."""
    entries = []

    def visit(d, parts):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            st = os.lstat(p)
            e = Entry(p, "/".join(parts + [name]), tuple(parts + [name]), name,
                      stat.S_ISDIR(st.st_mode), st, read_xattrs(p) if xattrs else {})
            entries.append(e)
            if e.is_dir:
                visit(p, parts + [name])

    visit(root, [])
    return entries


def object_key(e):
    x = e.xattrs
    if XP + "backup_id" in x:
        return ("b", x[XP + "backup_id"])
    if XP + "package_id" in x:
        return ("l", x[XP + "package_id"])
    return None


def sha256_file(path, bufsize=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def name_is_safe(name):
    b = os.fsencode(name)
    return (name not in ("", ".", "..") and "/" not in name and len(b) <= 255 and
            not any(c < 0x20 or c == 0x7f for c in b))


def source_path(emu, key, info):
    return emu.object_path(info["cluster"]["ClusterId"], key[1])
