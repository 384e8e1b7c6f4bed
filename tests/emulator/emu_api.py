"""The provider API (docs/provider-api.md): signature check and the actions.

`handle()` takes the request parameters already decoded to strings and returns
(HTTP status, content type, body bytes); it never touches the socket, so the
HTTP layer stays in emulator.py. Where the provider documents nothing, the
emulator's choices are listed in README.md next to this file.
"""

import hashlib
import json
import time

from emu_world import CLUSTER_PRIVATE_KEYS, OBJECT_PRIVATE_KEYS, World, as_param_str, strip_keys

DEFAULT_VALID_TIME = 7200
# Longest an api_silent request is held: daemon handler threads, so a stopping
# emulator never waits for one, but none lives forever either.
SILENT_HOLD_MAX = 600

RET_RATE_LIMITED = 153
RET_NO_ACTION = 160
RET_BAD_ACTION = 161
RET_NO_SIGNATURE = 170
RET_BAD_SIGNATURE = 171
RET_NO_USER = 172
RET_MISSING_PARAM = 230
RET_NO_PROJECT = 292
RET_NO_REGION = 8038
RET_BACKUP_NOT_FOUND = 18003
RET_CLUSTER_NOT_FOUND = 18004
RET_NOT_READY = 18005
# Not documented by the provider; the emulator's own choices (README.md).
RET_NO_RECOVER_RANGE = 18006
RET_REFUSED = 18010  # a refuse_download entry without a usable RetCode


# -- signature ---------------------------------------------------------------

def param_to_str(value):
    """How a parameter value enters the signature (and the action)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def signature_string(params, private_key):
    """Sorted name+value pairs (Signature excluded) followed by the private key."""
    parts = []
    for name in sorted((n for n in params if n != "Signature"),
                       key=lambda n: n.encode("utf-8", "surrogateescape")):
        parts.append(name)
        parts.append(param_to_str(params[name]))
    parts.append(private_key)
    return "".join(parts)


def api_signature(params, private_key):
    """Lower-case hex SHA-1 signature of a parameter dict (docs/provider-api.md)."""
    s = signature_string(params, private_key)
    return hashlib.sha1(s.encode("utf-8", "surrogateescape")).hexdigest()


# -- replies -------------------------------------------------------------------

def json_bytes(obj):
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates planted by a test: escape them
        return json.dumps(obj, ensure_ascii=True).encode("ascii")


def _reply(action, retcode=0, message=None, **fields):
    """An answer body (a dict; handle() encodes it)."""
    body = {"Action": "%sResponse" % (action or ""), "RetCode": retcode}
    if retcode != 0:
        body["Message"] = message or "error %d" % retcode
    body.update(fields)
    return body


def _int_to_str(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def numbers_to_strings(body):
    """The answer with RetCode and every integer field, at the top level and in
    the entries of a list (DataSet, Regions), written as a decimal string. The
    provider's Go SDK rewrites string RetCodes on every answer, which says the
    service sends them; booleans, strings and anything deeper stay as they are."""
    out = {}
    for key, value in body.items():
        if isinstance(value, list):
            value = [{k: _int_to_str(v) for k, v in e.items()} if isinstance(e, dict) else e
                     for e in value]
        out[key] = _int_to_str(value)
    return out


class _Fail(Exception):
    def __init__(self, retcode, message):
        super().__init__(message)
        self.retcode = retcode
        self.message = message


def _empty_param(params):
    """The first parameter (by name) sent with an empty value, or None. The
    provider's SDK drops empty values before signing, so a client that sends
    one is doing something the real service was never tested with."""
    for name in sorted(params):
        if name != "Signature" and params[name] == "":
            return name
    return None


def _require(params, *names):
    for n in names:
        if not params.get(n):
            raise _Fail(RET_MISSING_PARAM, "Params [%s] not available" % n)
    return [params[n] for n in names]


def _check_region(world, region):
    if not world.has_region(region):
        raise _Fail(RET_NO_REGION, "Region [%s] not available" % region)


def _cluster(world, params, project):
    region, zone, cluster_id = _require(params, "Region", "Zone", "ClusterId")
    _check_region(world, region)
    c = world.find_cluster(region, zone, cluster_id, project)
    if c is None:
        raise _Fail(RET_CLUSTER_NOT_FOUND, "cluster not found")
    return c


# -- actions ---------------------------------------------------------------------

def _get_region(ctx):
    return {"Regions": ctx.world.regions}


def _list_instances(ctx):
    region, = _require(ctx.params, "Region")
    _check_region(ctx.world, region)
    found = ctx.world.clusters_in(region, ctx.project,
                                  zone=ctx.params.get("Zone") or None,
                                  cluster_id=ctx.params.get("ClusterId") or None)
    data = [strip_keys(c, CLUSTER_PRIVATE_KEYS) for c in found]
    return _list_answer(data, ctx.state.setting("empty_dataset"))


def _list_answer(data, empty_mode):
    """A list answer. The real service leaves DataSet out of an empty one (its
    CLI reads a missing or null DataSet as "no entries"); empty_mode "null"
    and "list" send null or [] instead."""
    if data:
        return {"DataSet": data, "TotalCount": len(data)}
    if empty_mode == "omit":
        return {"TotalCount": 0}
    return {"DataSet": None if empty_mode == "null" else [], "TotalCount": 0}


def _list_backups(ctx):
    c = _cluster(ctx.world, ctx.params, ctx.project)
    raw = c.get("raw_backup_response")
    if isinstance(raw, str):
        return raw
    return _dataset(ctx, c.get("backups", []), None)


def _dataset(ctx, items, keep):
    """The listing verbatim: entries that are not objects (or a DataSet that is
    not a list) are planted by hostile-JSON tests and passed through as-is."""
    if not isinstance(items, list):
        return {"DataSet": items, "TotalCount": 0}
    data = [strip_keys(x, OBJECT_PRIVATE_KEYS) for x in items if keep is None or keep(x)]
    return _list_answer(data, ctx.state.setting("empty_dataset"))


def _list_log_packages(ctx):
    c = _cluster(ctx.world, ctx.params, ctx.project)
    raw = c.get("raw_log_response")
    if isinstance(raw, str):
        return raw
    node = ctx.params.get("NodeId") or None
    keep = None
    if node is not None:
        def keep(p):
            return isinstance(p, dict) and as_param_str(p.get("NodeId")) == node
    return _dataset(ctx, c.get("log_packages", []), keep)


def _refusal(obj):
    """The _Fail a backup or package that cannot be downloaded answers (world
    key refuse_download: {"RetCode", "Message"}), or None. The provider says
    some backups (sharded, snapshot) cannot be downloaded but not with which
    code; the demo world's codes are the emulator's choice."""
    r = obj.get("refuse_download")
    if r is None:
        return None
    r = r if isinstance(r, dict) else {}
    code = r.get("RetCode")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        code = RET_REFUSED
    message = r.get("Message")
    return _Fail(code, message if isinstance(message, str) else "download not supported")


def _describe_url(ctx):
    params = ctx.params
    c = _cluster(ctx.world, params, ctx.project)
    cluster_id = params["ClusterId"]
    valid = params.get("ValidTime")
    if valid:
        try:
            valid = int(valid)
        except ValueError:
            raise _Fail(RET_MISSING_PARAM, "Params [ValidTime] not valid") from None
    else:
        valid = DEFAULT_VALID_TIME
    if params.get("BackupId"):
        oid = params["BackupId"]
        obj = World.find_backup(c, oid)
        oplog = params.get("Category") == "oplog"
        if obj is None or (obj.get("BackupType") == "oplog") != oplog:
            raise _Fail(RET_BACKUP_NOT_FOUND, "backup not found")
        if obj.get("State") != "Success":
            raise _Fail(RET_NOT_READY, "backup not ready")
        kind = "b"
    elif params.get("PackageId"):
        oid = params["PackageId"]
        obj = World.find_package(c, oid)
        if obj is None:
            raise _Fail(RET_BACKUP_NOT_FOUND, "backup not found")
        if obj.get("State") != "Package_Success":
            raise _Fail(RET_NOT_READY, "backup not ready")
        kind = "l"
    else:
        raise _Fail(RET_MISSING_PARAM, "Params [BackupId] not available")
    refused = _refusal(obj)
    if refused:
        raise refused
    ttl = ctx.state.setting("url_ttl_override")
    if ttl is None:
        ttl = valid
    internet, intranet = ctx.make_urls(kind, cluster_id, oid, ttl)
    return {"InternetAddress": internet, "IntranetAddress": intranet}


def _recover_time_range(ctx):
    """Earliest and latest point-in-time restore, from the cluster's private
    recover_time_range; a cluster without one answers 18006 (our choice)."""
    c = _cluster(ctx.world, ctx.params, ctx.project)
    r = c.get("recover_time_range")
    if not isinstance(r, dict):
        raise _Fail(RET_NO_RECOVER_RANGE, "no recover time range")
    return {"EarliestTime": r.get("EarliestTime"), "LatestTime": r.get("LatestTime")}


ACTIONS = {
    "GetRegion": _get_region,
    "ListUMongoDBInstances": _list_instances,
    "ListUMongoDBBackup": _list_backups,
    "ListUMongoDBLogPackage": _list_log_packages,
    "DescribeUMongoDBBackupURL": _describe_url,
    "GetUMongoDBRecoverTimeRange": _recover_time_range,
}


class _Ctx:
    def __init__(self, params, world, state, make_urls, project):
        self.params = params
        self.world = world
        self.state = state
        self.make_urls = make_urls
        self.project = project


def handle(params, world, state, make_urls):
    """Answer one API request. params: {name: str}. make_urls(kind, cluster id,
    object id, ttl seconds) -> (internet url, intranet url)."""
    action = params.get("Action") or None
    state.count_api(action)
    if state.take_silent():
        state.hold_silent(SILENT_HOLD_MAX)
    latency = state.setting("api_latency_ms")
    if latency:
        time.sleep(latency / 1000.0)

    fault = state.take_fault("api_http_status")
    if fault:
        status = fault["status"]
        html = ("<html><head><title>%d</title></head><body><h1>%d Bad Gateway</h1>"
                "<hr>emulated gateway</body></html>\n" % (status, status))
        return status, "text/html", html.encode("ascii")
    body = _answer(params, world, state, make_urls, action)
    if isinstance(body, str):  # a planted raw answer: verbatim, whatever the settings
        return 200, "application/json", body.encode("utf-8", "surrogateescape")
    if state.setting("numbers_as_strings"):
        body = numbers_to_strings(body)
    return 200, "application/json", json_bytes(body)


def _answer(params, world, state, make_urls, action):
    """The answer body (a dict), or a raw body (str) planted in the world."""
    if state.take_rate_limit():
        return _reply(action, RET_RATE_LIMITED, "request rate limited")
    if action is None:
        return _reply(action, RET_NO_ACTION, "Missing Action")
    signature = params.get("Signature")
    if not signature:
        return _reply(action, RET_NO_SIGNATURE, "Missing signature")
    account = world.account(params.get("PublicKey") or "")
    if account is None:
        return _reply(action, RET_NO_USER, "User not exist")
    private_key = account.get("private_key")
    if not isinstance(private_key, str) or api_signature(params, private_key) != signature:
        return _reply(action, RET_BAD_SIGNATURE, "Verify signature failed")
    if action not in ACTIONS or action in state.setting("unknown_actions"):
        return _reply(action, RET_BAD_ACTION, "Action [%s] not found" % action)
    fault = state.take_fault("api_retcode", action)
    if fault:
        return _reply(action, fault["code"], fault.get("message") or "injected error")
    empty = _empty_param(params)
    if empty is not None:
        return _reply(action, RET_MISSING_PARAM, "Params [%s] not valid" % empty)

    project = params.get("ProjectId") or None
    if project is not None:
        if project not in World.projects_of(account):
            return _reply(action, RET_NO_PROJECT, "Project [%s] not exist" % project)
    elif account.get("sub_account") is True:
        return _reply(action, RET_NO_PROJECT, "ProjectId is required for sub-accounts")
    else:
        project = World.default_project(account)

    raw = world.raw_responses.get(action)
    if isinstance(raw, str):
        return raw
    try:
        out = ACTIONS[action](_Ctx(params, world, state, make_urls, project))
    except _Fail as e:
        return _reply(action, e.retcode, e.message)
    if isinstance(out, str):
        return out
    return _reply(action, 0, **out)
