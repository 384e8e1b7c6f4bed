"""Small build_world() specs for tests that need their own objects: one
backup of random bytes, one cluster holding such backups."""


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
