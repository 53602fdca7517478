"""What stands before the views: request ids, API keys, rate limits, the client's address,
security headers and CORS. Each is configured from `config.py` and is off unless configured,
except request ids and security headers, which are always on.

Open to everyone, keys or not, and never rate limited: /health, /health/ready, /metrics and the
docs under /api. Never logs or echoes a key.
"""

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from errors import error_response
from logs import REQUEST_ID_HEADER, request_id_from

log = logging.getLogger("sesame")
OPEN_PATHS = ("/health", "/metrics", "/api")


def is_open(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPEN_PATHS)


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_answer_request_id)
    app.after_request(_security_headers)
    if app.config["API_KEYS"]:
        _require_api_keys(app)
    if app.config["RATE_LIMIT"]:
        _limit_rate(app)
    if app.config["CORS_ORIGINS"]:
        CORS(
            app,
            origins=app.config["CORS_ORIGINS"],
            expose_headers=["ETag", "Location", "Retry-After", REQUEST_ID_HEADER],
        )


def _assign_request_id() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


def _answer_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not response.headers.get("Cache-Control"):
        response.headers["Cache-Control"] = "no-store"
    return response


def key_id(key: str) -> str:
    """A name for an API key that is safe to log and to use as a rate-limit bucket."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _require_api_keys(app: Flask) -> None:
    keys = [key.encode() for key in app.config["API_KEYS"]]

    @app.before_request
    def _authenticate() -> Response | None:
        if is_open(request.path) or request.method == "OPTIONS":
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        presented = token.strip().encode()
        # Compare with every key, in constant time each, so timing tells nothing.
        matched = [key for key in keys if hmac.compare_digest(presented, key)]
        if scheme.lower() != "bearer" or not matched:
            response = error_response(
                401, "unauthorized", "Send a valid API key as 'Authorization: Bearer <key>'."
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="sesame"'
            return response
        g.api_key_id = key_id(matched[0].decode())
        return None


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
    """Per API key when keys are in use, else per client address."""
    return g.get("api_key_id") or f"addr:{client_address()}"


def _limit_rate(app: Flask) -> None:
    limiter = Limiter(
        _rate_key,
        app=app,
        application_limits=[app.config["RATE_LIMIT"]],
        application_limits_exempt_when=lambda: is_open(request.path),
        storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
        strategy="moving-window",
        key_prefix="sesame",
    )

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        wait = current.reset_at - time.time() if current else 1
        response = error_response(
            429, "rate_limited", f"Too many requests: the limit is {error.description}."
        )
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
