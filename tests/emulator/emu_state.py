"""Live fault settings and request statistics, shared by all handler threads.

Everything goes through one lock: the handlers only ever hold it for a few
dictionary operations, never across I/O.
"""

import collections
import copy
import threading

RANGE_HISTORY = 10000

DEFAULT_SETTINGS = {
    "url_ttl_override": None,   # seconds (float ok); None = honour ValidTime
    "rate_limit_first": 0,      # next N API calls answer RetCode 153
    "api_retcode": None,        # {"code", "count", "action"?, "message"?}
    "api_http_status": None,    # {"status", "count"}
    "api_silent": None,         # true or {"count"}: API requests accepted, never answered
    "api_latency_ms": 0,
    "store_latency_ms": 0,      # delay before the first byte of an object reply
    "store_bandwidth": 0,       # bytes/s per connection, 0 = unlimited
    "store_status": None,       # {"status", "count"}
    "store_drop": None,         # {"after_bytes", "count"}
    "store_stall": None,        # {"after_bytes", "count", "seconds"}
    "store_ignore_range": False,
    "store_no_etag": False,     # true: object replies carry no ETag header
    "store_416": None,          # {"count", "total"?}: next N GETs answer 416
    "store_bad_range": None,    # {"mode", "count", "after_bytes"?, "total"?}: broken answers
    "store_drip": None,         # {"bytes_per_second", "count"}: next N GET bodies trickle
    # How the real service answers, quirks included (README.md, "Settings"):
    "empty_dataset": "omit",    # empty list answers: "omit" | "null" | "list"
    "numbers_as_strings": False,  # RetCode and integer fields as decimal strings
    "unknown_actions": [],      # actions that answer 161 as if not offered
}

EMPTY_DATASET_MODES = ("omit", "null", "list")

# For each counted fault: the fields it needs beyond "count", and their types.
_FAULT_FIELDS = {
    "api_retcode": {"code": int},
    "api_http_status": {"status": int},
    "store_status": {"status": int},
    "store_drop": {"after_bytes": int},
    "store_stall": {"after_bytes": int, "seconds": (int, float)},
    "store_416": {},
    "store_bad_range": {"mode": str},
    "store_drip": {"bytes_per_second": (int, float)},
}
# Optional fields of counted faults, and their types.
_FAULT_OPTIONAL = {
    "store_416": {"total": int},
    "store_bad_range": {"after_bytes": int, "total": int},
}
BAD_RANGE_MODES = ("no_length_cut", "only_range_200", "wrong_total", "wrong_start")
_NUMBER_FIELDS = ("api_latency_ms", "store_latency_ms", "store_bandwidth")


class SettingsError(ValueError):
    pass


def _is_num(v, types=(int, float)):
    return isinstance(v, types) and not isinstance(v, bool)


def validate_update(update):
    """Check a /_emu/config body; returns a cleaned copy or raises SettingsError."""
    if not isinstance(update, dict):
        raise SettingsError("config must be a JSON object")
    out = {}
    for key, value in update.items():
        if key not in DEFAULT_SETTINGS:
            raise SettingsError("unknown setting %r" % key)
        if key == "url_ttl_override":
            if value is not None and not _is_num(value):
                raise SettingsError("url_ttl_override must be a number or null")
        elif key == "rate_limit_first":
            if not _is_num(value, int) or value < 0:
                raise SettingsError("rate_limit_first must be an integer >= 0")
        elif key in ("store_ignore_range", "numbers_as_strings", "store_no_etag"):
            if not isinstance(value, bool):
                raise SettingsError("%s must be true or false" % key)
        elif key == "empty_dataset":
            if value not in EMPTY_DATASET_MODES:
                raise SettingsError("empty_dataset must be one of %s"
                                    % ", ".join(EMPTY_DATASET_MODES))
        elif key == "unknown_actions":
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise SettingsError("unknown_actions must be a list of action names")
        elif key == "api_silent":
            value = _validate_silent(value)
        elif key in _NUMBER_FIELDS:
            if not _is_num(value) or value < 0:
                raise SettingsError("%s must be a number >= 0" % key)
        elif key in _FAULT_FIELDS:
            if value is not None:
                value = _validate_fault(key, value)
        out[key] = copy.deepcopy(value)
    return out


def _validate_fault(key, value):
    if not isinstance(value, dict):
        raise SettingsError("%s must be an object or null" % key)
    value = dict(value)
    value.setdefault("count", 1)
    if not _is_num(value["count"], int) or value["count"] < 0:
        raise SettingsError("%s.count must be an integer >= 0" % key)
    for field, types in _FAULT_FIELDS[key].items():
        if field not in value:
            if key == "store_stall" and field == "after_bytes":
                value[field] = 0
                continue
            raise SettingsError("%s needs %r" % (key, field))
        if types is str:
            if not isinstance(value[field], str):
                raise SettingsError("%s.%s must be a string" % (key, field))
        elif not _is_num(value[field], types):
            raise SettingsError("%s.%s must be a number" % (key, field))
    for field, types in _FAULT_OPTIONAL.get(key, {}).items():
        if field in value and (not _is_num(value[field], types) or value[field] < 0):
            raise SettingsError("%s.%s must be a number >= 0" % (key, field))
    if key == "store_bad_range" and value["mode"] not in BAD_RANGE_MODES:
        raise SettingsError("store_bad_range.mode must be one of %s" % ", ".join(BAD_RANGE_MODES))
    if key == "store_drip" and value["bytes_per_second"] <= 0:
        raise SettingsError("store_drip.bytes_per_second must be above 0")
    if "action" in value and value["action"] is not None and not isinstance(value["action"], str):
        raise SettingsError("%s.action must be a string" % key)
    if "message" in value and not isinstance(value["message"], str):
        raise SettingsError("%s.message must be a string" % key)
    return value


def _validate_silent(value):
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, dict) or set(value) - {"count"}:
        raise SettingsError('api_silent must be true, false, null or {"count": N}')
    value = dict(value)
    value.setdefault("count", 1)
    if not _is_num(value["count"], int) or value["count"] < 0:
        raise SettingsError("api_silent.count must be an integer >= 0")
    return value


class State:
    def __init__(self, initial_settings=None):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # settings changed (api_silent holds)
        self.startup_settings = copy.deepcopy(DEFAULT_SETTINGS)
        if initial_settings:
            self.startup_settings.update(validate_update(initial_settings))
        self.settings = copy.deepcopy(self.startup_settings)
        self._zero_stats()

    # -- settings ------------------------------------------------------------

    def get_settings(self):
        with self.lock:
            return copy.deepcopy(self.settings)

    def update_settings(self, update):
        clean = validate_update(update)
        with self.lock:
            self.settings.update(clean)
            self.changed.notify_all()
            return copy.deepcopy(self.settings)

    def reset_settings(self):
        with self.lock:
            self.settings = copy.deepcopy(self.startup_settings)
            self.changed.notify_all()

    def take_silent(self):
        """True if this API request must get no answer (consumes one of a count)."""
        with self.lock:
            s = self.settings.get("api_silent")
            if isinstance(s, dict) and s.get("count", 0) > 0:
                s["count"] -= 1
                return True
            return s is True

    def hold_silent(self, limit):
        """Block while api_silent is set (true or a dict), at most `limit` seconds:
        the request is then answered as usual, to a client that has long gone."""
        with self.lock:
            self.changed.wait_for(lambda: self.settings.get("api_silent") in (None, False), limit)

    def setting(self, key):
        with self.lock:
            return self.settings[key]

    def take_rate_limit(self):
        """True if this API call must be rate limited (consumes one)."""
        with self.lock:
            if self.settings["rate_limit_first"] > 0:
                self.settings["rate_limit_first"] -= 1
                return True
            return False

    def take_fault(self, key, action=None):
        """A copy of fault `key` if it applies to this request (consumes one)."""
        with self.lock:
            f = self.settings.get(key)
            if not f or f.get("count", 0) <= 0:
                return None
            want = f.get("action")
            if want is not None and action is not None and want != action:
                return None
            f["count"] -= 1
            return dict(f)

    # -- statistics ------------------------------------------------------------

    def _zero_stats(self):
        self.api = collections.Counter()
        self.api_total = 0
        self.store_requests = 0
        self.store_bytes = 0
        self.store_status = collections.Counter()
        self.store_net = collections.Counter()
        self.store_connections = 0
        self.store_tls_requests = 0
        self.range_lengths = collections.deque(maxlen=RANGE_HISTORY)

    def reset_stats(self):
        with self.lock:
            self._zero_stats()

    def count_api(self, action):
        with self.lock:
            self.api[action or "<none>"] += 1
            self.api_total += 1

    def count_store(self, status, net=None, new_connection=False, tls=False):
        with self.lock:
            self.store_requests += 1
            if tls:
                self.store_tls_requests += 1
            self.store_status[str(status)] += 1
            if net:
                self.store_net[net] += 1
            if new_connection:
                self.store_connections += 1

    def count_store_range(self, length):
        with self.lock:
            self.range_lengths.append(length)

    def count_store_bytes(self, n):
        if n:
            with self.lock:
                self.store_bytes += n

    def stats(self):
        with self.lock:
            return {
                "api": dict(self.api),
                "api_total": self.api_total,
                "store": {
                    "requests": self.store_requests,
                    "bytes": self.store_bytes,
                    "status": dict(self.store_status),
                    "net": dict(self.store_net),
                    "connections": self.store_connections,
                    "tls_requests": self.store_tls_requests,
                    "range_lengths": list(self.range_lengths),
                },
            }
