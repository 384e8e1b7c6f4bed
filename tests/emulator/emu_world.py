"""The emulator's world: accounts, regions, clusters, backups, log packages.

A world is a JSON document (see README.md). This module loads it robustly
(tests plant wrong types and missing fields on purpose, so nothing here may
assume a field has the documented type) and answers the lookups the API and
the object store need. A World is immutable once built; replacing the world
swaps the whole object, so a request in flight keeps a consistent view.
"""

import json
import os

# Keys of a cluster object that belong to the emulator, not to the listing.
# recover_time_range is what GetUMongoDBRecoverTimeRange answers for it.
CLUSTER_PRIVATE_KEYS = ("backups", "log_packages", "ProjectId",
                        "raw_backup_response", "raw_log_response", "recover_time_range")
# Keys of a backup/log package object that belong to the emulator: its data
# file, and the error DescribeUMongoDBBackupURL answers if it is not downloadable.
OBJECT_PRIVATE_KEYS = ("file", "refuse_download")


class WorldError(Exception):
    """The world file cannot be used at all (not JSON, not an object)."""


def _as_list(value):
    return value if isinstance(value, list) else []


def _as_str(value):
    """A field as the string a client would send back (ids may be ints)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def strip_keys(obj, keys):
    """A shallow copy of obj without keys; non-dicts are returned as-is."""
    if not isinstance(obj, dict):
        return obj
    return {k: v for k, v in obj.items() if k not in keys}


class World:
    """One loaded world. `data` is the parsed JSON, `base_dir` resolves files."""

    def __init__(self, data, base_dir, path=None):
        if not isinstance(data, dict):
            raise WorldError("world must be a JSON object")
        self.data = data
        self.base_dir = os.path.abspath(base_dir)
        self.path = path
        self.accounts = {}
        for acc in _as_list(data.get("accounts")):
            if isinstance(acc, dict) and isinstance(acc.get("public_key"), str):
                self.accounts.setdefault(acc["public_key"], acc)
        self.clusters = [c for c in _as_list(data.get("clusters")) if isinstance(c, dict)]
        if "regions" in data:
            self.regions = _as_list(data.get("regions"))
        else:
            self.regions = self._regions_from_clusters()
        self.region_names = set()
        for r in self.regions:
            if isinstance(r, dict) and isinstance(r.get("Region"), str):
                self.region_names.add(r["Region"])
        raw = data.get("raw_responses")
        self.raw_responses = raw if isinstance(raw, dict) else {}
        self._index = self._build_index()

    # -- loading -----------------------------------------------------------

    @classmethod
    def load(cls, path):
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            raise WorldError("cannot read world %s: %s" % (path, e)) from e
        return cls(data, os.path.dirname(os.path.abspath(path)), path=path)

    def _regions_from_clusters(self):
        seen = []
        for c in self.clusters:
            r, z = c.get("Region"), c.get("Zone")
            if isinstance(r, str) and isinstance(z, str) and (r, z) not in seen:
                seen.append((r, z))
        return [{"Region": r, "Zone": z, "RegionId": i + 1, "RegionName": r,
                 "IsDefault": i == 0, "BitMaps": "1111"} for i, (r, z) in enumerate(seen)]

    def _build_index(self):
        """(kind, cluster id, object id) -> (cluster, object), first one wins."""
        index = {}
        for c in self.clusters:
            cid = _as_str(c.get("ClusterId"))
            if cid is None:
                continue
            for b in _as_list(c.get("backups")):
                if isinstance(b, dict):
                    bid = _as_str(b.get("BackupId"))
                    if bid is not None:
                        index.setdefault(("b", cid, bid), (c, b))
            for p in _as_list(c.get("log_packages")):
                if isinstance(p, dict):
                    pid = _as_str(p.get("Id"))
                    if pid is not None:
                        index.setdefault(("l", cid, pid), (c, p))
        return index

    # -- accounts and projects ---------------------------------------------

    def account(self, public_key):
        return self.accounts.get(public_key)

    @staticmethod
    def projects_of(account):
        return [p for p in _as_list(account.get("projects")) if isinstance(p, str)]

    @classmethod
    def default_project(cls, account):
        dp = account.get("default_project")
        if isinstance(dp, str) and dp:
            return dp
        projects = cls.projects_of(account)
        return projects[0] if projects else None

    # -- lookups -----------------------------------------------------------

    def has_region(self, region):
        return region in self.region_names

    def clusters_in(self, region, project, zone=None, cluster_id=None):
        out = []
        for c in self.clusters:
            if c.get("Region") != region:
                continue
            cp = _cluster_project(c)
            if cp is not None and cp != project:  # no ProjectId: in every project
                continue
            if zone is not None and c.get("Zone") != zone:
                continue
            if cluster_id is not None and _as_str(c.get("ClusterId")) != cluster_id:
                continue
            out.append(c)
        return out

    def find_cluster(self, region, zone, cluster_id, project):
        found = self.clusters_in(region, project, zone=zone, cluster_id=cluster_id)
        return found[0] if found else None

    @staticmethod
    def backups_of(cluster):
        return [b for b in _as_list(cluster.get("backups")) if isinstance(b, dict)]

    @staticmethod
    def packages_of(cluster):
        return [p for p in _as_list(cluster.get("log_packages")) if isinstance(p, dict)]

    @classmethod
    def find_backup(cls, cluster, backup_id):
        for b in cls.backups_of(cluster):
            if _as_str(b.get("BackupId")) == backup_id:
                return b
        return None

    @classmethod
    def find_package(cls, cluster, package_id):
        for p in cls.packages_of(cluster):
            if _as_str(p.get("Id")) == package_id:
                return p
        return None

    def object_entry(self, kind, cluster_id, object_id):
        """(cluster, object) for a store key, or None."""
        return self._index.get((kind, cluster_id, object_id))

    def file_path(self, obj):
        """Absolute path of an object's file, or None if it has none."""
        f = obj.get("file") if isinstance(obj, dict) else None
        if not isinstance(f, str) or not f:
            return None
        return f if os.path.isabs(f) else os.path.join(self.base_dir, f)

    def all_objects(self):
        """[(kind, cluster id, object id, path)] for every object with a file."""
        out = []
        for (kind, cid, oid), (_c, obj) in self._index.items():
            path = self.file_path(obj)
            if path is not None:
                out.append((kind, cid, oid, path))
        return out


def _cluster_project(cluster):
    p = cluster.get("ProjectId")
    return p if isinstance(p, str) else None


def as_param_str(value):
    return _as_str(value)
