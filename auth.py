"""API keys: with API_KEYS set, every request but the open paths needs `Authorization: Bearer`.

Open to everyone, keys or not (and never rate limited, see ratelimit.py): /health,
/health/ready, /metrics and the docs under /api. Keys are compared in constant time. Never
logs or echoes a key; `key_id` names one safely for logs and rate-limit buckets.
"""

import hashlib
import hmac

from flask import Flask, Response, g, request

from errors import error_response

OPEN_PATHS = ("/health", "/metrics", "/api")


def is_open(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPEN_PATHS)


def key_id(key: str) -> str:
    """A name for an API key that is safe to log and to use as a rate-limit bucket."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def init_app(app: Flask) -> None:
    """Require a key when API_KEYS is set; off otherwise."""
    if not app.config["API_KEYS"]:
        return
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
