"""Tests of the provider emulator itself, over real HTTP on 127.0.0.1."""

import http.client
import json
import os
import socket
import time
import urllib.parse

import pytest

from emu_api import api_signature, param_to_str, signature_string
from emu_client import http_request
from emu_world import CLUSTER_PRIVATE_KEYS, OBJECT_PRIVATE_KEYS
import make_world

PK, SK = make_world.DEMO_PUBLIC_KEY, make_world.DEMO_PRIVATE_KEY
BJ, Z2, Z3 = "cn-bj2", "cn-bj2-02", "cn-bj2-03"
ORDERS = "udb-orders01"


def _read(path, start=0, end=None):
    with open(path, "rb") as f:
        f.seek(start)
        return f.read() if end is None else f.read(end - start + 1)


def _strip(obj, keys):
    return {k: v for k, v in obj.items() if k not in keys}


# -- signature -------------------------------------------------------------------------

def test_signature_vector_from_provider_docs():
    params = {"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": 10,
              "PublicKey": "ucloudsomeone@example.com1296235120854146120"}
    sk = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
    assert signature_string(params, sk) == (
        "ActionDescribeUHostInstanceLimit10PublicKeyucloudsomeone@example.com"
        "1296235120854146120Regioncn-bj246f09bb9fab4f12dfc160dae12273d5332b5debe")
    assert api_signature(params, sk) == "cba5cf5ec4d4233d206b1b54951e3787350a642f"
    assert api_signature(dict(params, Signature="ignored"), sk) == \
        "cba5cf5ec4d4233d206b1b54951e3787350a642f"


def test_param_values_in_signature():
    assert [param_to_str(v) for v in (True, False, 10, "x", 0)] == \
        ["true", "false", "10", "x", "0"]
    # byte order: upper case before lower case
    assert signature_string({"b": "1", "B": "2", "a": "3"}, "K") == "B2a3b1K"


@pytest.mark.parametrize("transport", ["get", "form", "json"])
def test_transports_sign_and_work(emu, transport):
    r = emu.signed_call("ListUMongoDBInstances", _transport=transport, Region=BJ, Zone=Z2)
    assert r["RetCode"] == 0, r
    assert r["Action"] == "ListUMongoDBInstancesResponse"
    assert {c["ClusterId"] for c in r["DataSet"]} == {ORDERS, "udb-analytics01", "udb-staging01"}


def test_json_typed_values_sign_as_decimal_and_bool(emu):
    params = {"Action": "DescribeUMongoDBBackupURL", "Region": BJ, "Zone": Z2, "ClusterId": ORDERS,
              "BackupId": "bk-orders-auto-25", "ValidTime": 600, "Verbose": True, "PublicKey": PK}
    params["Signature"] = api_signature(params, SK)
    status, _h, body = http_request("POST", emu.api_url, {"Content-Type": "application/json"},
                                    json.dumps(params).encode())
    r = json.loads(body)
    assert status == 200 and r["RetCode"] == 0, r
    exp = float(urllib.parse.parse_qs(urllib.parse.urlsplit(r["InternetAddress"]).query)["Expires"][0])
    assert 590 < exp - time.time() <= 601


# -- error codes -------------------------------------------------------------------------

def _call(emu, params, sign=True, keys=None):
    status, _h, body = emu.raw_call(params, "form", sign=sign, keys=keys)
    assert status == 200
    return json.loads(body)


def test_error_codes_in_order(emu):
    r = _call(emu, {"Region": BJ})
    assert r["RetCode"] == 160 and r["Message"]
    assert _call(emu, {}, sign=False)["RetCode"] == 160
    assert _call(emu, {"Action": "GetRegion", "PublicKey": PK}, sign=False)["RetCode"] == 170
    r = _call(emu, {"Action": "GetRegion", "PublicKey": "nobody", "Signature": "00"}, sign=False)
    assert r["RetCode"] == 172 and r["Action"] == "GetRegionResponse"
    r = _call(emu, {"Action": "GetRegion", "PublicKey": PK, "Signature": "0" * 40}, sign=False)
    assert r["RetCode"] == 171
    r = _call(emu, {"Action": "GetRegion"}, keys=(PK, "wrong-private-key"))
    assert r["RetCode"] == 171
    r = _call(emu, {"Action": "DescribeUHostInstance", "Region": BJ})
    assert r["RetCode"] == 161 and r["Action"] == "DescribeUHostInstanceResponse"
    r = _call(emu, {"Action": "ListUMongoDBInstances", "Region": BJ, "ProjectId": "org-nope"})
    assert r["RetCode"] == 292
    r = _call(emu, {"Action": "ListUMongoDBInstances"})
    assert r["RetCode"] == 230 and r["Message"] == "Params [Region] not available"
    r = _call(emu, {"Action": "ListUMongoDBBackup", "Region": BJ, "Zone": Z2})
    assert r["RetCode"] == 230 and r["Message"] == "Params [ClusterId] not available"
    r = _call(emu, {"Action": "ListUMongoDBInstances", "Region": "mars-1"})
    assert r["RetCode"] == 8038 and "mars-1" in r["Message"]
    r = _call(emu, {"Action": "ListUMongoDBBackup", "Region": BJ, "Zone": Z3, "ClusterId": ORDERS})
    assert r["RetCode"] == 18004 and r["Message"] == "cluster not found"


def test_sub_account_must_send_project(emu):
    sub = (make_world.SUB_PUBLIC_KEY, make_world.SUB_PRIVATE_KEY)
    r = _call(emu, {"Action": "ListUMongoDBInstances", "Region": BJ}, keys=sub)
    assert r["RetCode"] == 292
    r = _call(emu, {"Action": "ListUMongoDBInstances", "Region": BJ, "ProjectId": "org-other"},
              keys=sub)
    assert r["RetCode"] == 0 and [c["ClusterId"] for c in r["DataSet"]] == ["udb-other01"]
    # the main account does not see the other project at all
    r = emu.signed_call("ListUMongoDBInstances", Region=BJ)
    assert "udb-other01" not in {c["ClusterId"] for c in r["DataSet"]}


# -- the five actions ----------------------------------------------------------------------

def test_get_region_is_world_regions(emu):
    r = emu.signed_call("GetRegion")
    assert r["RetCode"] == 0 and "Message" not in r
    assert r["Regions"] == emu.world["regions"]
    assert [x["Zone"] for x in r["Regions"]] == [Z2, Z3, "hk-01", "cn-sh2-01"]


def test_list_instances_shape_and_filters(emu):
    r = emu.signed_call("ListUMongoDBInstances", Region=BJ)
    by_id = {c["ClusterId"]: c for c in r["DataSet"]}
    assert set(by_id) == {ORDERS, "udb-analytics01", "udb-inventory01", "udb-staging01",
                          "udb-staging02"}
    assert by_id[ORDERS] == _strip(emu.cluster(ORDERS), CLUSTER_PRIVATE_KEYS)
    assert "recover_time_range" not in by_id[ORDERS]
    assert by_id["udb-analytics01"]["ClusterType"] == "SharedCluster"
    assert [c["Name"] for c in r["DataSet"]].count("staging") == 2
    r = emu.signed_call("ListUMongoDBInstances", Region=BJ, Zone=Z3)
    assert {c["ClusterId"] for c in r["DataSet"]} == {"udb-inventory01", "udb-staging02"}
    r = emu.signed_call("ListUMongoDBInstances", Region=BJ, ClusterId="udb-staging02")
    assert [c["ClusterId"] for c in r["DataSet"]] == ["udb-staging02"]
    r = emu.signed_call("ListUMongoDBInstances", Region="hk", ProjectId="org-demo")
    assert [c["Name"] for c in r["DataSet"]] == ["ops/hk\x07tools"]


def test_list_backups_verbatim_minus_file(emu):
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["RetCode"] == 0
    want = [_strip(b, OBJECT_PRIVATE_KEYS) for b in emu.cluster(ORDERS)["backups"]]
    assert r["DataSet"] == want
    types = [b["BackupType"] for b in r["DataSet"]]
    assert types.count("auto") == 4 and types.count("manual") == 2 and types.count("oplog") == 2
    r = emu.signed_call("ListUMongoDBBackup", Region="hk", Zone="hk-01", ClusterId="udb-hkops01")
    assert ".." in [b["BackupName"] for b in r["DataSet"]]
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId="udb-analytics01")
    batches = {}
    for b in r["DataSet"]:
        batches.setdefault(b["BatchId"], []).append(b)
    assert sorted(batches) == ["batch-2026-11-26", "batch-2026-11-27", "batch-2026-11-28"]
    for members in batches.values():
        assert sorted(m["ReplicaType"] for m in members) == ["ConfigRepl", "DataRepl", "DataRepl"]
        assert len({m["VirtualClusterId"] for m in members}) == 3
        assert len({m["BackupName"] for m in members}) == 1


def test_demo_sizes_planted(emu):
    inv = {b["BackupId"]: b for b in emu.cluster("udb-inventory01")["backups"]}
    real = os.path.getsize(emu.object_path("udb-inventory01", "bk-inv-size-wrong"))
    assert inv["bk-inv-size-wrong"]["BackupSize"] == real - 1000
    assert inv["bk-inv-size-zero"]["BackupSize"] == 0
    assert os.path.getsize(emu.object_path("udb-inventory01", "bk-inv-size-zero")) > 0
    ok = emu.object_path(ORDERS, "bk-orders-auto-27")
    assert 200 * 1024 < os.path.getsize(ok) < 1024 * 1024


def test_raw_backup_response_is_sent_verbatim(emu):
    world = json.loads(json.dumps(emu.world))
    hostile = '{"Action":"ListUMongoDBBackupResponse","RetCode":0,"DataSet":[{"BackupId":'
    world["clusters"][0]["raw_backup_response"] = hostile
    emu.set_world(world)
    status, _h, body = emu.raw_call({"Action": "ListUMongoDBBackup", "Region": BJ, "Zone": Z2,
                                     "ClusterId": ORDERS})
    assert status == 200 and body == hostile.encode()
    r = emu.signed_call("ListUMongoDBInstances", Region=BJ, ClusterId=ORDERS)
    assert "raw_backup_response" not in r["DataSet"][0]


def test_hostile_world_entries_pass_through(emu):
    first_path = emu.object_path(ORDERS, "bk-orders-auto-25")
    world = json.loads(json.dumps(emu.world))
    c = world["clusters"][0]
    c["backups"] = [None, "junk", {"BackupId": 7, "BackupName": 5, "State": "Success",
                                   "file": c["backups"][0]["file"]}]
    c["log_packages"] = {"not": "a list"}
    world["clusters"].append("not a cluster")
    world["clusters"].append({"Region": 5, "ClusterId": ["x"]})
    emu.set_world(world)
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["DataSet"] == [None, "junk", {"BackupId": 7, "BackupName": 5, "State": "Success"}]
    r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["RetCode"] == 0 and r["DataSet"] == {"not": "a list"}
    assert len(emu.signed_call("ListUMongoDBInstances", Region=BJ)["DataSet"]) == 5
    url = emu.download_url(ORDERS, "7")
    assert http_request("GET", url)[2] == _read(first_path)
    status, _h, body = http_request("POST", emu.api_url, {"Content-Type": "application/json"},
                                    b"{not json")
    assert status == 200 and json.loads(body)["RetCode"] == 160


def test_list_log_packages(emu):
    r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["DataSet"] == [_strip(p, ("file",)) for p in emu.cluster(ORDERS)["log_packages"]]
    assert {p["PackageType"] for p in r["DataSet"]} == {"SlowLog", "ErrorLog"}
    r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS,
                        NodeId="no-such-node")
    assert r["RetCode"] == 0 and "DataSet" not in r  # empty after the filter
    url = emu.download_url(ORDERS, 101, package=True)
    status, _h, body = http_request("GET", url)
    assert status == 200 and body == _read(emu.object_path(ORDERS, 101))


def test_describe_url_rules(emu):
    def describe(**kw):
        return emu.signed_call("DescribeUMongoDBBackupURL", Region=BJ, Zone=Z2, ClusterId=ORDERS, **kw)
    r = describe(BackupId="bk-orders-auto-27")
    assert r["RetCode"] == 0
    for key, net in (("InternetAddress", "internet"), ("IntranetAddress", "intranet")):
        u = urllib.parse.urlsplit(r[key])
        q = urllib.parse.parse_qs(u.query)
        assert u.scheme == "http" and u.hostname == "127.0.0.1" and u.port == emu.port
        assert u.path == "/store/b/%s/bk-orders-auto-27" % ORDERS
        assert q["net"] == [net] and len(q["Signature"][0]) == 64
        assert 7190 < float(q["Expires"][0]) - time.time() <= 7201
    assert describe(BackupId="bk-orders-oplog-27-06")["RetCode"] == 18003
    r = describe(BackupId="bk-orders-oplog-27-06", Category="oplog")
    assert r["RetCode"] == 0 and "/b/%s/bk-orders-oplog-27-06" % ORDERS in r["InternetAddress"]
    r = describe(BackupId="bk-orders-auto-27", Category="oplog")
    assert r["RetCode"] == 18003 and r["Message"] == "backup not found"
    assert describe(BackupId="bk-nope")["RetCode"] == 18003
    r = describe(BackupId="bk-orders-auto-24")
    assert r["RetCode"] == 18005 and r["Message"] == "backup not ready"
    assert describe(BackupId="bk-orders-manual-2")["RetCode"] == 18005
    assert describe(PackageId="102")["RetCode"] == 0
    assert describe(PackageId="999")["RetCode"] == 18003
    assert describe()["RetCode"] == 230
    r = emu.signed_call("DescribeUMongoDBBackupURL", Region=BJ, Zone=Z2, ClusterId="udb-nope",
                        BackupId="x")
    assert r["RetCode"] == 18004


# -- the real service's quirks and the new knobs ----------------------------------------------

INV = "udb-inventory01"
ANALYTICS = "udb-analytics01"


def _list_calls(emu):
    """Empty list answers of the demo world: (name, call)."""
    return [
        ("instances of a region without clusters",
         lambda: emu.signed_call("ListUMongoDBInstances", Region="cn-sh2")),
        ("instances after a filter",
         lambda: emu.signed_call("ListUMongoDBInstances", Region=BJ, ClusterId="udb-nope")),
        ("log packages of a cluster without any",
         lambda: emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z3, ClusterId=INV)),
        ("log packages after the NodeId filter",
         lambda: emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS,
                                 NodeId="no-such-node")),
        ("backups of a cluster without any",
         lambda: emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z3, ClusterId=INV)),
    ]


def _without_inventory_backups(emu):
    world = json.loads(json.dumps(emu.world))
    next(c for c in world["clusters"] if c["ClusterId"] == INV)["backups"] = []
    emu.set_world(world)


@pytest.mark.parametrize("mode", [None, "omit", "null", "list"])
def test_empty_list_answers(emu, mode):
    _without_inventory_backups(emu)
    if mode is not None:
        emu.config(empty_dataset=mode)
    for name, call in _list_calls(emu):
        r = call()
        assert r["RetCode"] == 0 and r["TotalCount"] == 0, (name, r)
        if mode in (None, "omit"):  # the default is what the real service sends
            assert "DataSet" not in r, (name, r)
        else:
            assert r["DataSet"] == (None if mode == "null" else []), (name, r)
    # Non-empty lists are the same in every mode.
    r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert [p["Id"] for p in r["DataSet"]] == [101, 102] and r["TotalCount"] == 2


def test_empty_list_planted_non_list_passes_through(emu):
    world = json.loads(json.dumps(emu.world))
    world["clusters"][0]["log_packages"] = {"not": "a list"}
    emu.set_world(world)
    for mode in ("omit", "null", "list"):
        emu.config(empty_dataset=mode)
        r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS)
        assert r["DataSet"] == {"not": "a list"}, mode


def test_new_settings_are_validated(emu):
    for bad in ({"empty_dataset": "none"}, {"empty_dataset": None},
                {"numbers_as_strings": "yes"}, {"unknown_actions": "GetRegion"},
                {"unknown_actions": [1]}):
        status, _h, body = http_request("POST", emu.base_url + "/_emu/config",
                                        {"Content-Type": "application/json"},
                                        json.dumps(bad).encode())
        assert status == 400, bad
    cfg = emu.get_config()
    assert (cfg["empty_dataset"], cfg["numbers_as_strings"], cfg["unknown_actions"]) == \
        ("omit", False, [])


def test_numbers_as_strings(emu):
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z3, ClusterId=INV)
    assert r["RetCode"] == 0 and isinstance(r["DataSet"][0]["BackupSize"], int)  # default off
    emu.config(numbers_as_strings=True)
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z3, ClusterId=INV)
    assert r["RetCode"] == "0" and r["TotalCount"] == str(len(r["DataSet"]))
    ok = next(b for b in r["DataSet"] if b["BackupId"] == "bk-inv-ok")
    world_ok = next(b for b in emu.cluster(INV)["backups"] if b["BackupId"] == "bk-inv-ok")
    assert ok["BackupSize"] == "29535" == str(world_ok["BackupSize"])
    for field in ("StartTime", "EndTime", "DiskSize"):
        assert ok[field] == str(world_ok[field]), field
    assert ok["BackupName"] == "inventory-auto-2026-11-27.tar.gz" and ok["State"] == "Success"
    r = emu.signed_call("GetRegion")
    assert r["RetCode"] == "0" and r["Regions"][0]["RegionId"] == "666"
    assert r["Regions"][0]["IsDefault"] is True and r["Regions"][0]["BitMaps"] == "1111"
    r = emu.signed_call("ListUMongoDBLogPackage", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["DataSet"][0]["Id"] == "101" and r["DataSet"][0]["Size"].isdigit()
    r = emu.signed_call("GetUMongoDBRecoverTimeRange", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["EarliestTime"] == str(emu.cluster(ORDERS)["recover_time_range"]["EarliestTime"])
    # Error answers too.
    emu.config(rate_limit_first=1)
    r = emu.signed_call("GetRegion")
    assert r["RetCode"] == "153" and r["Message"]
    r = emu.signed_call("ListUMongoDBInstances")
    assert r["RetCode"] == "230"
    r = emu.signed_call("DescribeUMongoDBBackupURL", Region=BJ, Zone=Z3, ClusterId=INV,
                        BackupId="bk-inv-snapshot")
    assert r["RetCode"] == "18011"


def _describe(emu, cluster_id, **kw):
    c = emu.cluster(cluster_id)
    return emu.signed_call("DescribeUMongoDBBackupURL", Region=c["Region"], Zone=c["Zone"],
                           ClusterId=cluster_id, **kw)


def test_refused_downloads(emu):
    for bid in ("bk-an-28-cfg", "bk-an-28-shard0", "bk-an-28-shard1"):
        r = _describe(emu, ANALYTICS, BackupId=bid)
        assert r["RetCode"] == 18010, r
        assert r["Message"] == "sharded cluster backup does not support download yet"
        assert "InternetAddress" not in r
    r = _describe(emu, INV, BackupId="bk-inv-snapshot")
    assert r["RetCode"] == 18011 and r["Message"] == "snapshot backup does not support download"
    # Only those: the older batches of the same cluster download as before.
    assert _describe(emu, ANALYTICS, BackupId="bk-an-27-cfg")["RetCode"] == 0
    # The usual checks come first.
    r = emu.signed_call("DescribeUMongoDBBackupURL", Region=BJ, Zone=Z2, ClusterId=INV,
                        BackupId="bk-inv-snapshot")
    assert r["RetCode"] == 18004
    r = emu.signed_call("DescribeUMongoDBBackupURL", Region=BJ, Zone=Z3, ClusterId=INV,
                        BackupId="bk-inv-snapshot", ProjectId="org-nope")
    assert r["RetCode"] == 292
    r = _call(emu, {"Action": "DescribeUMongoDBBackupURL", "Region": BJ, "Zone": Z3,
                    "ClusterId": INV, "BackupId": "bk-inv-snapshot"}, keys=(PK, "wrong"))
    assert r["RetCode"] == 171
    # A planted refusal on a log package, and one without a usable RetCode.
    world = json.loads(json.dumps(emu.world))
    pkgs = world["clusters"][0]["log_packages"]
    pkgs[0]["refuse_download"] = {"RetCode": 18099, "Message": "log package expired"}
    pkgs[1]["refuse_download"] = {"Message": 5}
    emu.set_world(world)
    r = _describe(emu, ORDERS, PackageId="101")
    assert (r["RetCode"], r["Message"]) == (18099, "log package expired")
    assert _describe(emu, ORDERS, PackageId="102")["RetCode"] == 18010


def test_refused_download_not_in_listings(emu):
    for cid in (ANALYTICS, INV):
        c = emu.cluster(cid)
        r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=c["Zone"], ClusterId=cid)
        assert r["DataSet"] == [_strip(b, OBJECT_PRIVATE_KEYS) for b in c["backups"]]
        for b in r["DataSet"]:
            assert "refuse_download" not in b and "file" not in b
    refused = [b for b in r["DataSet"] if b["BackupId"] == "bk-inv-snapshot"]
    assert refused and refused[0]["State"] == "Success"


def test_recover_time_range(emu):
    def call(**kw):
        return emu.signed_call("GetUMongoDBRecoverTimeRange", **kw)
    for cid in (ORDERS, ANALYTICS):
        r = call(Region=BJ, Zone=Z2, ClusterId=cid)
        want = emu.cluster(cid)["recover_time_range"]
        assert r["RetCode"] == 0 and r["Action"] == "GetUMongoDBRecoverTimeRangeResponse"
        assert (r["EarliestTime"], r["LatestTime"]) == (want["EarliestTime"], want["LatestTime"])
        assert set(r) == {"Action", "RetCode", "EarliestTime", "LatestTime"}
    # orders-prod: from the end of its oldest full backup to its newest oplog backup.
    ends = {b["BackupId"]: b["EndTime"] for b in emu.cluster(ORDERS)["backups"]}
    r = call(Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert (r["EarliestTime"], r["LatestTime"]) == (ends["bk-orders-auto-25"],
                                                    ends["bk-orders-oplog-27-12"])
    r = call(Region=BJ, Zone=Z3, ClusterId=INV)
    assert r["RetCode"] == 18006 and r["Message"] == "no recover time range"
    # The same checks and errors as ListUMongoDBBackup.
    r = call(Region=BJ, Zone=Z2)
    assert r["RetCode"] == 230 and r["Message"] == "Params [ClusterId] not available"
    assert call(Region=BJ, Zone=Z3, ClusterId=ORDERS)["RetCode"] == 18004
    assert call(Region="mars-1", Zone=Z2, ClusterId=ORDERS)["RetCode"] == 8038
    sub = (make_world.SUB_PUBLIC_KEY, make_world.SUB_PRIVATE_KEY)
    assert emu.signed_call("GetUMongoDBRecoverTimeRange", _keys=sub, Region=BJ, Zone=Z2,
                           ClusterId=ORDERS)["RetCode"] == 292
    assert emu.stats()["api"]["GetUMongoDBRecoverTimeRange"] == 8


def test_unknown_actions(emu):
    emu.config(unknown_actions=["GetUMongoDBRecoverTimeRange", "ListUMongoDBLogPackage"])
    for action in ("GetUMongoDBRecoverTimeRange", "ListUMongoDBLogPackage"):
        r = emu.signed_call(action, Region=BJ, Zone=Z2, ClusterId=ORDERS)
        assert r["RetCode"] == 161 and r["Message"] == "Action [%s] not found" % action
        assert r["Action"] == action + "Response"
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["RetCode"] == 0
    # Still after the signature check, like any unknown action.
    r = _call(emu, {"Action": "ListUMongoDBLogPackage"}, keys=(PK, "wrong"))
    assert r["RetCode"] == 171
    assert emu.stats()["api"]["ListUMongoDBLogPackage"] == 2


@pytest.mark.parametrize("transport", ["get", "form", "json"])
def test_empty_parameter_is_230(emu, transport):
    def call(**params):
        return emu.signed_call("ListUMongoDBInstances", _transport=transport, **params)
    r = call(Region=BJ, Zone="")
    assert r["RetCode"] == 230 and r["Message"] == "Params [Zone] not valid", r
    r = call(Region=BJ, ProjectId="")
    assert r["RetCode"] == 230 and r["Message"] == "Params [ProjectId] not valid"
    r = call(Region=BJ, Unused="")
    assert r["RetCode"] == 230 and r["Message"] == "Params [Unused] not valid"
    r = call(Region="")
    assert r["RetCode"] == 230 and r["Message"] == "Params [Region] not valid"
    assert call(Region=BJ, Zone=Z2)["RetCode"] == 0


def test_empty_parameter_json_null_and_empty_signature(emu):
    params = {"Action": "GetRegion", "PublicKey": PK, "Zone": None}
    params["Signature"] = api_signature(params, SK)
    _status, _h, body = http_request("POST", emu.api_url, {"Content-Type": "application/json"},
                                     json.dumps(params).encode())
    assert json.loads(body)["RetCode"] == 230
    # An empty Signature is a missing one, an empty Action a missing one.
    assert _call(emu, {"Action": "GetRegion", "PublicKey": PK, "Signature": ""},
                 sign=False)["RetCode"] == 170
    assert _call(emu, {"Action": ""})["RetCode"] == 160


def test_demo_world_new_entries(emu):
    regions = emu.signed_call("GetRegion")["Regions"]
    sh2 = [r for r in regions if r["Region"] == "cn-sh2"]
    assert [r["Zone"] for r in sh2] == ["cn-sh2-01"]
    assert not [c for c in emu.world["clusters"] if c["Region"] == "cn-sh2"]
    clusters = emu.world["clusters"]
    # Log packages: orders-prod only.
    assert [c["Name"] for c in clusters if c["log_packages"]] == ["orders-prod"]
    # ConnectURL everywhere, one with credentials, IPv6 on one.
    for c in clusters:
        assert c["ConnectURL"].startswith("mongodb://"), c["ClusterId"]
    assert [c["ClusterId"] for c in clusters if "@" in c["ConnectURL"]] == ["udb-staging02"]
    assert emu.cluster("udb-staging02")["ConnectURL"] == \
        "mongodb://root:s3cret@10.9.1.20:27017/admin"
    assert [c["ClusterId"] for c in clusters if c.get("IPv6ConnectURL")] == [ORDERS]
    assert "replicaSet=%s" % ORDERS in emu.cluster(ORDERS)["ConnectURL"]
    assert [c["ClusterId"] for c in clusters if "recover_time_range" in c] == [ORDERS, ANALYTICS]
    # DiskSize on every backup (5:1), BackupMethod on some.
    methods = set()
    for c in clusters:
        for b in c["backups"]:
            real = os.path.getsize(emu.object_path(c["ClusterId"], b["BackupId"])) \
                if "file" in b else 0
            assert b["DiskSize"] == 5 * real, b["BackupId"]
            methods.add(b.get("BackupMethod"))
    assert methods == {None, "logical", "snapshot"}
    # The refused sharded batch: a normal, finished batch in the listing.
    batch = [b for b in emu.cluster(ANALYTICS)["backups"] if b["BatchId"] == "batch-2026-11-28"]
    assert len(batch) == 3 and {b["BackupName"] for b in batch} == {"analytics-auto-2026-11-28"}
    for b in batch:
        assert b["State"] == "Success" and b["refuse_download"]["RetCode"] == 18010
        assert os.path.getsize(emu.object_path(ANALYTICS, b["BackupId"])) == b["BackupSize"] > 0
    snap = next(b for b in emu.cluster(INV)["backups"] if b["BackupId"] == "bk-inv-snapshot")
    assert (snap["BackupName"], snap["BackupType"], snap["BackupMethod"], snap["State"]) == \
        ("inventory-snapshot-2026-11-28", "manual", "snapshot", "Success")
    assert snap["refuse_download"]["RetCode"] == 18011 and snap["BackupSize"] == 16384
    # Only the refused objects are refused.
    refused = sorted(b["BackupId"] for c in clusters for b in c["backups"]
                     if "refuse_download" in b)
    assert refused == ["bk-an-28-cfg", "bk-an-28-shard0", "bk-an-28-shard1", "bk-inv-snapshot"]


def test_demo_world_is_deterministic(tmp_path):
    a = make_world.write_demo(str(tmp_path / "a"))
    b = make_world.write_demo(str(tmp_path / "b"))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()
    w = json.load(open(a))
    for c in w["clusters"]:
        for o in c["backups"] + c["log_packages"]:
            if "file" in o:
                assert _read(os.path.join(str(tmp_path / "a"), o["file"])) == \
                    _read(os.path.join(str(tmp_path / "b"), o["file"]))


# -- object store --------------------------------------------------------------------------

def test_store_get_head_ranges_etag(emu):
    path = emu.object_path(ORDERS, "bk-orders-auto-26")
    total = os.path.getsize(path)
    url = emu.download_url(ORDERS, "bk-orders-auto-26")
    status, h, body = http_request("GET", url)
    assert status == 200 and body == _read(path)
    assert h["content-length"] == str(total) and h["accept-ranges"] == "bytes"
    assert h["content-type"] == "application/octet-stream" and "last-modified" in h
    etag = h["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    status, h2, body = http_request("HEAD", url)
    assert status == 200 and body == b"" and h2["content-length"] == str(total)
    assert h2["etag"] == etag
    status, h, body = http_request("GET", url, {"Range": "bytes=100-1123"})
    assert status == 206 and body == _read(path, 100, 1123)
    assert h["content-range"] == "bytes 100-1123/%d" % total and h["etag"] == etag
    status, h, body = http_request("GET", url, {"Range": "bytes=-500"})
    assert status == 206 and body == _read(path, total - 500)
    assert h["content-range"] == "bytes %d-%d/%d" % (total - 500, total - 1, total)
    status, h, body = http_request("GET", url, {"Range": "bytes=%d-" % (total - 10)})
    assert status == 206 and body == _read(path, total - 10)
    status, h, body = http_request("GET", url, {"Range": "bytes=%d-%d" % (total - 5, total + 999)})
    assert status == 206 and h["content-range"] == "bytes %d-%d/%d" % (total - 5, total - 1, total)
    status, h, body = http_request("GET", url, {"Range": "bytes=%d-" % total})
    assert status == 416 and h["content-range"] == "bytes */%d" % total
    assert h["content-length"] == str(len(body))
    for bad in ("bytes=0-10,20-30", "bytes=abc", "items=0-10", "bytes=9-3"):
        status, h, body = http_request("GET", url, {"Range": bad})
        assert status == 200 and len(body) == total, bad
    url2 = emu.download_url(ORDERS, "bk-orders-auto-26", net="intranet")
    assert http_request("HEAD", url2)[1]["etag"] == etag
    st = emu.stats()["store"]
    assert st["net"]["internet"] >= 10 and st["net"]["intranet"] == 1
    assert st["status"]["206"] == 4 and st["status"]["416"] == 1


def test_keep_alive_across_api_store_and_errors(emu):
    url = urllib.parse.urlsplit(emu.download_url(ORDERS, "bk-orders-auto-25"))
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        for target, want in ((url.path + "?" + url.query, 200), (url.path, 403),
                             ("/store/b/x/y?Expires=1&Signature=2&net=internet", 403),
                             ("/nowhere", 404), ("/_emu/stats", 200)):
            conn.request("GET", target, headers={"Range": "bytes=0-99"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (want, 206), target
        conn.request("POST", "/", body=urllib.parse.urlencode({"Action": "GetRegion"}),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        assert json.loads(resp.read())["RetCode"] == 170
        # all of it on one connection
        assert emu.stats()["store"]["connections"] == 1
    finally:
        conn.close()


def test_url_expiry_and_tampering(emu):
    emu.config(url_ttl_override=0.6)
    url = emu.download_url(ORDERS, "bk-orders-auto-25", ValidTime=7200)
    assert http_request("HEAD", url)[0] == 200
    tampered = url.replace("bk-orders-auto-25", "bk-orders-auto-26")
    status, h, body = http_request("GET", tampered)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    no_sig = url.split("?")[0] + "?net=internet"
    assert http_request("GET", no_sig)[0] == 403
    time.sleep(0.8)
    status, h, body = http_request("GET", url)
    assert status == 403 and b"<Message>Request has expired</Message>" in body
    assert h["content-length"] == str(len(body))


def test_missing_file_is_404(emu):
    world = json.loads(json.dumps(emu.world))
    world["clusters"][0]["backups"][0].pop("file")
    emu.set_world(world)
    url = emu.download_url(ORDERS, world["clusters"][0]["backups"][0]["BackupId"])
    assert http_request("GET", url)[0] == 404


def test_plain_objects_and_index(emu):
    status, h, body = http_request("GET", emu.base_url + "/index/")
    assert status == 200 and h["content-type"].startswith("text/html")
    assert b'<a href="/plain/udb-orders01/bk-orders-auto-25">' in body
    assert b'<a href="/plain/udb-orders01/101">' in body
    path = emu.object_path(ORDERS, "bk-orders-auto-25")
    status, h, body = http_request("GET", emu.base_url + "/plain/udb-orders01/bk-orders-auto-25",
                                   {"Range": "bytes=10-19"})
    assert status == 206 and body == _read(path, 10, 19)
    status, _h, body = http_request("GET", emu.base_url + "/plain/udb-orders01/")
    assert status == 200 and b'href="bk-orders-auto-25"' in body


# -- fault knobs -------------------------------------------------------------------------------

def test_rate_limit_first_n(emu):
    emu.config(rate_limit_first=2)
    codes = [emu.signed_call("GetRegion")["RetCode"] for _ in range(3)]
    assert codes == [153, 153, 0]
    assert emu.get_config()["rate_limit_first"] == 0


def test_api_retcode_and_http_status(emu):
    emu.config(api_retcode={"code": 150, "count": 1, "action": "ListUMongoDBBackup",
                            "message": "service unavailable"})
    assert emu.signed_call("GetRegion")["RetCode"] == 0
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert r["RetCode"] == 150 and r["Message"] == "service unavailable"
    assert emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)["RetCode"] == 0
    # injected RetCodes come only after the signature check
    emu.config(api_retcode={"code": 150, "count": 1})
    assert _call(emu, {"Action": "GetRegion"}, keys=(PK, "bad"))["RetCode"] == 171
    emu.config(api_http_status={"status": 502, "count": 1})
    status, h, body = emu.raw_call({"Action": "GetRegion"})
    assert status == 502 and h["content-type"] == "text/html" and b"<html>" in body
    assert emu.signed_call("GetRegion")["RetCode"] == 150
    assert emu.signed_call("GetRegion")["RetCode"] == 0


def test_config_rejects_unknown_settings(emu):
    status, _h, body = http_request("POST", emu.base_url + "/_emu/config",
                                    {"Content-Type": "application/json"}, b'{"store_dorp": 1}')
    assert status == 400 and b"store_dorp" in body


def test_store_status_and_ignore_range(emu):
    url = emu.download_url(ORDERS, "bk-orders-auto-25")
    path = emu.object_path(ORDERS, "bk-orders-auto-25")
    emu.config(store_status={"status": 503, "count": 2})
    assert http_request("HEAD", url)[0] == 503
    assert http_request("GET", url)[0] == 503
    assert http_request("GET", url, {"Range": "bytes=0-9"})[0] == 206
    emu.config(store_ignore_range=True)
    status, h, body = http_request("GET", url, {"Range": "bytes=0-9"})
    assert status == 200 and body == _read(path) and "content-range" not in h
    st = emu.stats()["store"]
    assert st["status"] == {"503": 2, "206": 1, "200": 1}
    assert st["range_lengths"] == [10, 10]


def test_store_drop_closes_mid_body(emu):
    url = urllib.parse.urlsplit(emu.download_url(ORDERS, "bk-orders-auto-25"))
    total = os.path.getsize(emu.object_path(ORDERS, "bk-orders-auto-25"))
    emu.config(store_drop={"after_bytes": 5000, "count": 1})
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        conn.request("GET", url.path + "?" + url.query)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Length") == str(total)
        with pytest.raises(http.client.IncompleteRead) as ei:
            resp.read()
        assert len(ei.value.partial) == 5000
    finally:
        conn.close()
    status, _h, body = http_request("GET", url.geturl())
    assert status == 200 and len(body) == total
    assert emu.stats()["store"]["bytes"] == 5000 + total


def test_store_drop_with_reset(emu):
    url = emu.download_url(ORDERS, "bk-orders-auto-25")
    emu.config(store_drop={"after_bytes": 1000, "count": 1, "rst": True})
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        http_request("GET", url)


def test_latency_bandwidth_and_stall(emu):
    url = emu.download_url(ORDERS, "bk-orders-auto-25")
    emu.config(api_latency_ms=200)
    t = time.monotonic()
    assert emu.signed_call("GetRegion")["RetCode"] == 0
    assert time.monotonic() - t >= 0.2
    emu.config(api_latency_ms=0, store_latency_ms=200)
    t = time.monotonic()
    assert http_request("GET", url, {"Range": "bytes=0-0"})[0] == 206
    assert time.monotonic() - t >= 0.2
    emu.config(store_latency_ms=0, store_bandwidth=400000)
    t = time.monotonic()
    status, _h, body = http_request("GET", url, {"Range": "bytes=0-199999"})
    took = time.monotonic() - t
    assert status == 206 and len(body) == 200000 and 0.4 <= took < 2.0
    emu.config(store_bandwidth=0, store_stall={"after_bytes": 1000, "count": 1, "seconds": 0.3})
    t = time.monotonic()
    status, _h, body = http_request("GET", url, {"Range": "bytes=0-4999"})
    assert status == 206 and body == _read(emu.object_path(ORDERS, "bk-orders-auto-25"), 0, 4999)
    assert time.monotonic() - t >= 0.3


def test_stats_counting(emu):
    emu.signed_call("GetRegion")
    emu.signed_call("GetRegion", _transport="get")
    _call(emu, {}, sign=False)
    _call(emu, {"Action": "Nope"})
    url = emu.download_url(ORDERS, "bk-orders-auto-25")
    total = os.path.getsize(emu.object_path(ORDERS, "bk-orders-auto-25"))
    http_request("GET", url)
    http_request("GET", url, {"Range": "bytes=0-99"})
    http_request("HEAD", url)
    s = emu.stats()
    assert s["api"] == {"GetRegion": 2, "<none>": 1, "Nope": 1, "DescribeUMongoDBBackupURL": 1}
    assert s["api_total"] == 5
    assert s["store"]["requests"] == 3 and s["store"]["bytes"] == total + 100
    assert s["store"]["status"] == {"200": 2, "206": 1}
    assert s["store"]["range_lengths"] == [total, 100]
    emu.reset()
    s = emu.stats()
    assert s["api_total"] == 0 and s["store"]["requests"] == 0 and s["store"]["range_lengths"] == []


# -- world replacement ----------------------------------------------------------------------------

def test_world_replace_and_reload(emu):
    world = json.loads(json.dumps(emu.world))
    b = world["clusters"][0]["backups"][0]
    b["BackupName"] = "renamed.tar.gz"
    world["clusters"][0]["backups"].append(dict(b, BackupId="bk-new", BackupName="new.tar.gz"))
    emu.set_world(world)
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    names = [x["BackupName"] for x in r["DataSet"]]
    assert names[0] == "renamed.tar.gz" and names[-1] == "new.tar.gz"
    url = emu.download_url(ORDERS, "bk-new")  # relative file resolved against the world dir
    assert http_request("GET", url)[2] == _read(emu.object_path(ORDERS, b["BackupId"]))
    emu.reload_world()
    r = emu.signed_call("ListUMongoDBBackup", Region=BJ, Zone=Z2, ClusterId=ORDERS)
    assert "renamed.tar.gz" not in [x["BackupName"] for x in r["DataSet"]]
    status, _h, _b = http_request("POST", emu.base_url + "/_emu/world",
                                  {"Content-Type": "application/json"}, b"[1]")
    assert status == 400


def test_second_emulator_cli_flags_and_object_change(emulator_factory, tmp_path):
    spec = {"clusters": [{"Region": "r1", "Zone": "r1-a", "ClusterId": "c1", "Name": "one",
                          "backups": [{"BackupId": "b1", "BackupName": "b1", "State": "Success",
                                       "BackupType": "auto", "BackupSize": "auto",
                                       "content": {"random": 300000, "seed": 3}}]}]}
    port_file = tmp_path / "port"
    emu = emulator_factory(spec, "--rate-limit-first", "1", "--url-ttl-override", "30",
                           "--port-file", str(port_file), "--store-bandwidth", "0")
    assert int(port_file.read_text()) == emu.port
    assert emu.signed_call("GetRegion")["RetCode"] == 153
    assert emu.signed_call("GetRegion")["Regions"][0]["Region"] == "r1"
    url = emu.download_url("c1", "b1", ValidTime=5000)
    exp = float(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["Expires"][0])
    assert 29 < exp - time.time() <= 31
    path = emu.object_path("c1", "b1")
    etag = http_request("HEAD", url)[1]["etag"]
    make_world.write_random_file(path, 300000, seed=4)
    os.utime(path, ns=(1, 1))
    status, h, body = http_request("GET", url)
    assert h["etag"] != etag and body == _read(path)
    with open(path, "rb") as f:
        assert make_world.write_random_file(str(tmp_path / "again"), 300000, 4) and \
            _read(str(tmp_path / "again")) == f.read()


def test_emulator_exits_cleanly_on_sigterm(emulator_factory):
    emu = emulator_factory({"clusters": []})
    sock = socket.create_connection(("127.0.0.1", emu.port))  # an idle keep-alive client
    try:
        assert emu.stop() == 0
    finally:
        sock.close()
