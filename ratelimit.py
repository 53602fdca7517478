"""Rate limits: RATE_LIMIT per API key (when keys are in use) or per client address.

The client's address is the peer's, or, behind TRUSTED_PROXIES, the rightmost address in
X-Forwarded-For that is not a trusted proxy. Off unless RATE_LIMIT is set; the open paths
(auth.py) are never limited. Over the limit: errors.py's `rate_limited` answer, with
`Retry-After` when the window frees a request. Never trusts X-Forwarded-For from a peer that is
not a proxy.

Counted with a sliding-window counter in RATE_LIMIT_STORAGE_URI: per limit, a count for the
current window and one for the previous, the previous weighted by how much of it still
overlaps the last window's length (docs/operations.md says what that means for bursts). The
`limits` library's algorithm, in two implementations of one `refused`:

- on redis:// and rediss://, `RedisWindows`: the same Lua script's logic, run by EVALSHA on a
  connection of the request thread's own. One round trip, refused or not (a refused request
  gets the window's counts back, to say when it frees one). It skips redis-py's client and
  pool and `limits`' wrappers: 25 µs of CPU per request instead of 100 (docs/performance.md);
  redis-py parses its answers with hiredis (requirements.txt), which it uses when installed;
- on every other storage (memory, sentinel, cluster, memcached), `limits`' own
  SlidingWindowCounterRateLimiter: one round trip admits, a refused request takes a second.

Either way a script checks and counts at once, so workers and hosts never both take the last
request of a window.
"""

import hashlib
import ipaddress
import math
import threading
import time
from typing import Any, Protocol

import redis
from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from auth import access, is_open
from errors import RATE_LIMITED, respond

KEY_PREFIX = "sesame"  # every counter's key starts with it, whatever the storage


def client_address() -> str:
    """The client's address: the peer, or, behind TRUSTED_PROXIES, from X-Forwarded-For.

    Only a peer that is a trusted proxy is believed, and only up to the rightmost address that
    is not itself a trusted proxy: a client cannot choose its own address with the header.
    """
    trusted = current_app.config["TRUSTED_PROXIES"]
    peer = request.remote_addr or "-"
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _in(hop, trusted):
            return hop
    return peer


def _in(address: str, networks: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _rate_key() -> str:
    """Per API key name when keys are in use (auth.py), else per client address."""
    name = access().key
    return f"key:{name}" if name else f"addr:{client_address()}"


Refusal = tuple[RateLimitItem, int]  # the limit a request is over, whole seconds to wait


class Budget(Protocol):
    def refused(self, key: str) -> Refusal | None:
        """Count a request of `key`: None if admitted, else the limit it is over and the
        whole seconds until that limit admits one more."""


def retry_after(
    limit: RateLimitItem, previous: int, previous_s: float, current: int, current_s: float
) -> int:
    """Whole seconds until a full window frees a request: `limits`' reset time for the
    sliding-window counter (get_window_stats), from the two windows' counts and seconds
    left to live, rounded up."""
    expiry = limit.get_expiry()
    previous_in = previous_s % (expiry / previous) if previous else math.inf
    current_in = current_s % expiry if current else math.inf
    reset_in = min(previous_in, current_in)
    return max(1, math.ceil(reset_in)) if reset_in != math.inf else 1


class LimitsBudget:
    """`limits`' sliding-window counter on any storage it knows."""

    def __init__(self, rate_limits: list[RateLimitItem], storage_uri: str) -> None:
        self._counter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._limits = rate_limits

    def refused(self, key: str) -> Refusal | None:
        for limit in self._limits:
            if not self._counter.hit(limit, KEY_PREFIX, key):
                reset_at = self._counter.get_window_stats(limit, KEY_PREFIX, key).reset_time
                return limit, max(1, math.ceil(reset_at - time.time()))
        return None


# `limits`' acquire_sliding_window.lua, answering the counts when it refuses. Milliseconds.
# The current window's key lives two windows; once it has less than one left, it becomes the
# previous window's and a new current one starts at 0.
ACQUIRE = """
local limit, expiry = tonumber(ARGV[1]), tonumber(ARGV[2])
local current_ttl = redis.call('pttl', KEYS[2])
if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', KEYS[2], KEYS[1])
    redis.call('set', KEYS[2], 0, 'PX', current_ttl + expiry)
end
local previous = tonumber(redis.call('get', KEYS[1])) or 0
local previous_ttl = math.max(0, redis.call('pttl', KEYS[1]))
local current = tonumber(redis.call('get', KEYS[2])) or 0
current_ttl = math.max(0, redis.call('pttl', KEYS[2]))
if math.floor(previous * previous_ttl / expiry) + current + 1 > limit then
    return {0, previous, previous_ttl, current, current_ttl}
end
if redis.call('exists', KEYS[2]) == 1 then
    redis.call('incr', KEYS[2])
else
    redis.call('set', KEYS[2], 1, 'PX', expiry * 2)
end
return {1}
"""
ACQUIRE_SHA = hashlib.sha1(ACQUIRE.encode()).hexdigest()
TIMEOUT_S = 1.0  # connecting and each answer, unless the URI says otherwise: never a hang


class RedisWindows:
    """The sliding-window counter in Redis, one EVALSHA per request on a connection each
    request thread keeps (a worker's threads never share one, so no pool is needed)."""

    def __init__(self, rate_limits: list[RateLimitItem], storage_uri: str) -> None:
        self._limits = rate_limits
        self._pool = redis.ConnectionPool.from_url(
            storage_uri, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self._local = threading.local()

    def refused(self, key: str) -> Refusal | None:
        for limit in self._limits:
            counted = f"{KEY_PREFIX}:{{{limit.key_for(key)}}}"  # one cluster slot for both
            answer = self._acquire(f"{counted}/-1", counted, limit.amount, limit.get_expiry())
            if not answer[0]:
                _, previous, previous_ms, current, current_ms = answer
                wait = retry_after(limit, previous, previous_ms / 1000, current, current_ms / 1000)
                return limit, wait
        return None

    def _acquire(self, previous: str, current: str, amount: int, expiry_s: int) -> list[int]:
        args = (2, previous, current, amount, expiry_s * 1000)
        connection = self._connection()
        try:
            connection.send_command("EVALSHA", ACQUIRE_SHA, *args)
            try:
                return connection.read_response()
            except redis.exceptions.NoScriptError:  # a restarted or flushed Redis: load it
                connection.send_command("EVAL", ACQUIRE, *args)
                return connection.read_response()
        except BaseException:
            self._local.connection = None  # in an unknown state: the next request reconnects
            connection.disconnect()
            raise

    def _connection(self) -> redis.connection.ConnectionInterface:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._pool.make_connection()
        return connection


def budget(rate_limits: list[RateLimitItem], storage_uri: str) -> Budget:
    """RATE_LIMIT's counters in RATE_LIMIT_STORAGE_URI."""
    if storage_uri.split("://", 1)[0] in ("redis", "rediss"):
        return RedisWindows(rate_limits, storage_uri)
    return LimitsBudget(rate_limits, storage_uri)


def init_app(app: Flask) -> None:
    """Limit every client to RATE_LIMIT across all routes; off unless it is set."""
    if not app.config["RATE_LIMIT"]:
        return
    counters = budget(parse_many(app.config["RATE_LIMIT"]), app.config["RATE_LIMIT_STORAGE_URI"])

    # After auth.py's hook (registered first), which names the key the budget belongs to.
    @app.before_request
    def _limit() -> Response | None:
        if is_open(request.path):
            return None
        refused = counters.refused(_rate_key())
        if refused is None:
            return None
        limit, retry_after = refused
        return respond(
            RATE_LIMITED,
            message=RATE_LIMITED.message.format(limit=limit),
            retry_after=retry_after,
        )
