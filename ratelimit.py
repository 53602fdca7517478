"""Rate limits: RATE_LIMIT per API key (when keys are in use) or per client address.

The client's address is the peer's, or, behind TRUSTED_PROXIES, the rightmost address in
X-Forwarded-For that is not a trusted proxy. Off unless RATE_LIMIT is set; the open paths
(auth.py) are never limited. Over the limit: errors.py's `rate_limited` answer, with
`Retry-After` when the window frees a request. Never trusts X-Forwarded-For from a peer that is
not a proxy.

Counted with the `limits` library's sliding-window counter in RATE_LIMIT_STORAGE_URI: per
limit, a count for the current window and one for the previous, the previous weighted by how
much of it still overlaps the last window's length (docs/operations.md says what that means
for bursts). One round trip to the storage counts a request (a script that checks and counts
at once, so workers and hosts never both take the last one), or a lease of many for large
limits (`Budget`); a refused request takes a second, to read when the window frees one. The
moving window through flask-limiter it replaces cost half of a by-id read's throughput
(docs/performance.md).
"""

import ipaddress
import math
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from auth import access, is_open
from errors import RATE_LIMITED, respond

KEY_PREFIX = "sesame"  # every counter's key starts with it, whatever the storage
LEASE_SHARE = 1000  # a lease is this share of a limit (Budget says why)
SWEEP_AT = 10_000  # leases held before ended ones are forgotten


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


class Budget:
    """RATE_LIMIT's counters in the storage, with this process's leases on them.

    A limit of at least 2 × LEASE_SHARE requests per window is taken from the storage in
    leases of 1/LEASE_SHARE of it: one round trip counts a whole lease, and this process
    admits that many requests of the same client without another. A lease lasts one window
    of its limit; what is left of it then is dropped, never given back. So across every
    process of every host, a client gets at most its limit plus one lease per process in any
    window, and at worst is refused with one lease per process unused: each 0.1% of the
    limit. A lease the storage refuses (the client has less than a lease left) refuses its
    request, and the client's next requests in this process are counted one by one for a
    window. Smaller limits, and the in-memory storage, count every request as it comes.
    """

    def __init__(self, rate_limits: list[RateLimitItem], storage_uri: str) -> None:
        self._counter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        leased = not storage_uri.startswith("memory")
        self._limits = [
            (limit, limit.amount // LEASE_SHARE if leased else 1) for limit in rate_limits
        ]
        self._leases: dict[tuple[int, str], tuple[int, float, int]] = {}  # left, until, size
        self._lock = threading.Lock()
        self._sweep_at = SWEEP_AT

    def refused(self, key: str) -> tuple[RateLimitItem, int] | None:
        """Count a request of `key`: None if admitted, else the limit it is over and the
        whole seconds until that limit admits one more (a second round trip)."""
        for n, (limit, size) in enumerate(self._limits):
            if not (self._take(n, limit, size, key) if size > 1 else self._hit(limit, key)):
                reset_at = self._counter.get_window_stats(limit, KEY_PREFIX, key).reset_time
                return limit, max(1, math.ceil(reset_at - time.time()))
        return None

    def _hit(self, limit: RateLimitItem, key: str, cost: int = 1) -> bool:
        return self._counter.hit(limit, KEY_PREFIX, key, cost=cost)

    def _take(self, n: int, limit: RateLimitItem, size: int, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            left, until, lease = self._leases.get((n, key), (0, now, size))
            if until <= now:
                left, lease = 0, size
            if left:
                self._leases[(n, key)] = (left - 1, until, lease)
                return True
        if lease == 1:
            return self._hit(limit, key)
        granted = self._hit(limit, key, lease)
        with self._lock:
            if granted:
                # Another thread's lease may have come meanwhile: keep both, the earlier end.
                left, until, _ = self._leases.get((n, key), (0, now, size))
                if until <= now:
                    left, until = 0, now + limit.get_expiry()
                self._leases[(n, key)] = (left + lease - 1, until, lease)
            else:
                self._leases[(n, key)] = (0, now + limit.get_expiry(), 1)
            self._sweep(now)
        return granted

    def _sweep(self, now: float) -> None:
        """Forget ended leases once there are many: one entry per client and limit at most."""
        if len(self._leases) < self._sweep_at:
            return
        self._leases = {k: v for k, v in self._leases.items() if v[1] > now}
        self._sweep_at = max(SWEEP_AT, 2 * len(self._leases))


def init_app(app: Flask) -> None:
    """Limit every client to RATE_LIMIT across all routes; off unless it is set."""
    if not app.config["RATE_LIMIT"]:
        return
    budget = Budget(parse_many(app.config["RATE_LIMIT"]), app.config["RATE_LIMIT_STORAGE_URI"])

    # After auth.py's hook (registered first), which names the key the budget belongs to.
    @app.before_request
    def _limit() -> Response | None:
        if is_open(request.path):
            return None
        refused = budget.refused(_rate_key())
        if refused is None:
            return None
        limit, retry_after = refused
        return respond(
            RATE_LIMITED,
            message=RATE_LIMITED.message.format(limit=limit),
            retry_after=retry_after,
        )
