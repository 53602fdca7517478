"""API keys on every request: who is calling (`Authorization: Bearer`), may it write, which
calendars does it open. The answer is `g.access`, a domain `Access` the views hand to
services.py and queries.py, which keep each key to its calendars.

Keys come from two places: API_KEYS in the environment (full access, named `env:` and a
digest prefix) and the database's api_keys table (keys.py, per scope and calendars). With
neither, the API is open (gunicorn.conf.py warns once). Each worker keeps a copy of the
database's keys (`KeyRing`) no older than KEYS_REFRESH_S: a created or revoked key works or
stops on every worker of every host within that, without a restart, and a request costs a
SHA-256 and a dict lookup, no round trip. A key is found by its digest, never compared as a
secret. Open to everyone (and never rate limited, see ratelimit.py): /health, /health/ready,
/metrics and the docs under /api. Never logs or echoes a key; logs name it by its name.
"""

import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterable

import psycopg
from flask import Flask, Response, g, request
from sqlalchemy.engine import Engine

import errors
import keys
from database import db
from domain import FULL_ACCESS, Access

OPEN_PATHS = ("/health", "/metrics", "/api")
READ_METHODS = ("GET", "HEAD")
ENVIRON_KEY = "sesame.key"  # the key's name, for the access log (logs.AccessLog)
log = logging.getLogger("sesame")


def is_open(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPEN_PATHS)


def env_key_name(key: str) -> str:
    """The name of a key from API_KEYS, safe to log: no database key name has a colon."""
    return "env:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def access() -> Access:
    """What the current request may do (full access in open mode)."""
    return g.get("access", FULL_ACCESS)


class KeyRing:
    """This worker's keys, by digest, refreshed from the database at least every `refresh_s`.

    The refresh is lazy and never blocks more than it must: from 80% of `refresh_s` on, one
    request thread refreshes (a round trip) while the others keep answering from the map they
    have; only a map older than `refresh_s` (an idle worker) makes them wait for the refresh.
    So a map older than `refresh_s` is never used while the database answers. If it does not,
    the threads that waited use the map in hand (one try per wait, never one after another),
    retried a second later; before the first load, the request fails (503).
    """

    def __init__(self, env_keys: Iterable[str], refresh_s: float) -> None:
        self._env = {keys.digest(key): Access(key=env_key_name(key)) for key in env_keys}
        self._refresh_s = refresh_s
        self._keys: dict[bytes, Access] = dict(self._env)
        self._closed = bool(self._env)
        self._loaded_at = -math.inf  # time.monotonic() when the map's query was sent
        self._tried_at = -math.inf  # ...when the last refresh was tried, whatever came of it
        self._lock = threading.Lock()
        self._used: set[str] = set()

    def keys(self, engine: Engine) -> tuple[bool, dict[bytes, Access]]:
        """(whether a key is needed, the keys by digest), no older than `refresh_s`."""
        age = time.monotonic() - self._loaded_at
        if age >= self._refresh_s * 0.8:
            self._refresh(engine, wait=age >= self._refresh_s)
        return self._closed, self._keys

    def used(self, name: str) -> None:
        """Note a key as used; told to the database at the next refresh (coarse last use)."""
        self._used.add(name)

    def _refresh(self, engine: Engine, *, wait: bool) -> None:
        asked = time.monotonic()
        if not self._lock.acquire(blocking=wait):
            return  # another thread refreshes; the map in hand is young enough
        try:
            if self._tried_at >= asked and self._loaded_at != -math.inf:
                return  # another thread tried while this one waited: one try is enough
            used, self._used = self._used, set()
            sent = self._tried_at = time.monotonic()
            try:
                rows = keys.load(engine, used)
            except psycopg.Error as error:
                if self._loaded_at == -math.inf:
                    raise
                reason = type(error).__name__
                log.warning("API keys: refresh failed (%s); kept the ones loaded", reason)
                self._loaded_at = sent - self._refresh_s + 1
                self._used |= used
                return
            fresh = dict(self._env)
            for row in rows:
                if not row["revoked"]:
                    fresh[bytes(row["digest"])] = keys.access_of(
                        row["name"], row["scope"], row["calendars"]
                    )
            # Any key ever made closes the API, revoked ones too: revoking the last key must
            # not open it.
            self._keys, self._closed = fresh, bool(self._env) or bool(rows)
            self._loaded_at = sent
        finally:
            self._lock.release()


def unauthorized() -> Response:
    return errors.respond(errors.UNAUTHORIZED)


def init_app(app: Flask) -> None:
    """Know every request's caller and what it may do; open while there are no keys."""
    ring = KeyRing(app.config["API_KEYS"], app.config["KEYS_REFRESH_S"])
    app.extensions["sesame_keys"] = ring

    @app.before_request
    def _authenticate() -> Response | None:
        if is_open(request.path) or request.method == "OPTIONS":
            return None
        closed, by_digest = ring.keys(db.engine)
        if not closed:
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        found = by_digest.get(keys.digest(token.strip())) if scheme.lower() == "bearer" else None
        if found is None:
            return unauthorized()
        ring.used(found.key)  # type: ignore[arg-type]
        g.access = found
        request.environ[ENVIRON_KEY] = found.key
        if not found.write and request.method not in READ_METHODS:
            return errors.respond(errors.READ_ONLY_KEY)
        return None
