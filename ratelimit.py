"""Rate limits: RATE_LIMIT per API key (when keys are in use) or per client address.

The client's address is the peer's, or, behind TRUSTED_PROXIES, the rightmost address in
X-Forwarded-For that is not a trusted proxy. Off unless RATE_LIMIT is set; the open paths
(auth.py) are never limited. Over the limit: errors.py's `rate_limited` answer, with
`Retry-After` when the window frees a request. Never trusts X-Forwarded-For from a peer that is
not a proxy.
"""

import ipaddress
import math
import time
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from auth import access, is_open
from errors import RATE_LIMITED, respond


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


def init_app(app: Flask) -> None:
    """Limit every client to RATE_LIMIT across all routes; off unless it is set."""
    if not app.config["RATE_LIMIT"]:
        return
    limiter = Limiter(
        _rate_key,
        app=app,
        application_limits=[app.config["RATE_LIMIT"]],
        application_limits_exempt_when=lambda: is_open(request.path),
        storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
        strategy="moving-window",
        key_prefix="sesame",
    )

    # errors.py's row, with what only the limiter knows: the limit and when it resets.
    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        wait = current.reset_at - time.time() if current else 1
        return respond(
            RATE_LIMITED,
            message=RATE_LIMITED.message.format(limit=error.description),
            retry_after=max(1, math.ceil(wait)),
        )
