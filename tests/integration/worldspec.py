"""Small build_world() specs for tests that need their own objects: one
backup of random bytes, one cluster holding such backups; and replacing an
object's bytes on the emulator's disk."""

import os
import time


def spec_object(cid, i, size, seed, **kw):
    d = {"BackupId": "bk-%s-%d" % (cid, i), "BackupName": "obj-%d.bin" % i, "ClusterId": cid,
         "Zone": "cn-bj2-02", "State": "Success", "BackupSize": "auto", "BackupType": "manual",
         "StartTime": 1795000000 + i, "EndTime": 1795000100 + i,
         "content": {"random": size, "seed": seed}}
    d.update(kw)
    return d


def spec_cluster(cid, name, backups, **kw):
    c = {"Region": "cn-bj2", "Zone": "cn-bj2-02", "ClusterId": cid, "Name": name,
         "DBVersion": "MongoDB-4.2", "ClusterType": "ReplicaSet", "State": "Running",
         "CreateTime": 1795000000, "backups": backups}
    c.update(kw)
    return c


_FLIP = bytes((b ^ 0x5A) for b in range(256))


def rewrite_same_size(path, pause=0.02):
    """New bytes, same length, new mtime (so a new ETag; a new Last-Modified
    after a pause of a second); returns them."""
    with open(path, "rb") as f:
        new = f.read().translate(_FLIP)
    time.sleep(pause)
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(new)
    os.replace(tmp, path)
    return new
