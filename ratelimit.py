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
at once, so workers and hosts never both take the last one); a refused request takes a
second, to read when the window frees one. The moving window through flask-limiter it
replaces cost half of a by-id read's throughput (docs/performance.md); most of what is left is
the round trip itself.
"""

import ipaddress
import math
import time
from typing import Any

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


class Budget:
    """RATE_LIMIT's counters in the storage: every request counted as it comes, one round trip
    (a script that checks and counts at once, so workers and hosts never both take the last
    one); a refused request takes a second, to read when the window frees one."""

    def __init__(self, rate_limits: list[RateLimitItem], storage_uri: str) -> None:
        self._counter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._limits = rate_limits

    def refused(self, key: str) -> tuple[RateLimitItem, int] | None:
        """Count a request of `key`: None if admitted, else the limit it is over and the
        whole seconds until that limit admits one more."""
        for limit in self._limits:
            if not self._counter.hit(limit, KEY_PREFIX, key):
                reset_at = self._counter.get_window_stats(limit, KEY_PREFIX, key).reset_time
                return limit, max(1, math.ceil(reset_at - time.time()))
        return None


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
