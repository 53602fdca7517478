"""Every setting the service reads from its environment, validated in one place.

`settings_from_env` turns the environment into Flask config keys or raises `ConfigError` with a
one-line message naming the variable, so a bad deployment fails at start-up, not on the first
request. `server_settings` is the part that needs no database: gunicorn.conf.py, `make run` and
boot.py read their settings (address, workers, threads, timeouts, logs) through it before
anything else starts, and `settings_from_env` includes it. Nothing else reads a setting of the
service from os.environ (PROMETHEUS_MULTIPROC_DIR is prometheus_client's own, see metrics.py;
DATA_DIR is `make run`'s). Never logs or returns a secret in a message.
"""

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any

from limits import parse_many
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_SWITCH = {"on": True, "1": True, "true": True, "yes": True}
_SWITCH |= {"off": False, "0": False, "false": False, "no": False}
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", re.ASCII)
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "memcached")


class ConfigError(ValueError):
    """A setting from the environment that cannot work; its message is one line."""


def _int_env(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, not {raw!r}")
    if maximum is not None and int(raw) > maximum:
        raise ConfigError(f"{name} must be an integer from {minimum} to {maximum}, not {raw!r}")
    return int(raw)


def database_url(env: Mapping[str, str]) -> str:
    """DATABASE_URL, or the seed's DB_HOST/DB_PORT/DB_USERNAME/DB_PASSWORD/DB_NAME."""
    raw = env.get("DATABASE_URL", "").strip()
    if not raw and env.get("DB_HOST"):
        return URL.create(
            "postgresql+psycopg",
            username=env.get("DB_USERNAME") or None,
            password=env.get("DB_PASSWORD") or None,
            host=env["DB_HOST"],
            port=_int_env(env, "DB_PORT", 5432, 1),
            database=env.get("DB_NAME") or "postgres",
        ).render_as_string(hide_password=False)
    if not raw:
        raise ConfigError("DATABASE_URL is not set (or DB_HOST for the seed's DB_* settings)")
    return _postgres_url(raw, "DATABASE_URL")


def _postgres_url(raw: str, name: str) -> str:
    """A postgresql:// URL as SQLAlchemy's psycopg 3 driver takes it; never echoes the value."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{name} is not a database URL") from None
    if url.drivername not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ConfigError(f"{name} must be a postgresql:// URL, not {url.drivername}://")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def settings_from_env(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Every setting the service reads from its environment, validated, in one place."""
    url = database_url(env)
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "MIGRATIONS_DATABASE_URL": database_url(
            {"DATABASE_URL": env.get("MIGRATIONS_DATABASE_URL") or url}
        ),
        # The pool of each worker and how long to wait for it or a new connection;
        # database.py turns these into the engine's options.
        "DB_POOL_SIZE": _int_env(env, "DB_POOL_SIZE", 8, 1),
        "DB_POOL_TIMEOUT_S": _int_env(env, "DB_POOL_TIMEOUT_S", 5, 1),
        "DB_CONNECT_TIMEOUT_S": _int_env(env, "DB_CONNECT_TIMEOUT_S", 5, 1),
        # Streaming replicas for the reads that may be a moment old (replicas.py).
        "REPLICA_URLS": [
            _postgres_url(raw, "DATABASE_REPLICA_URL")
            for raw in _list_env(env, "DATABASE_REPLICA_URL")
        ],
        "REPLICA_MAX_LAG_S": _int_env(env, "REPLICA_MAX_LAG_S", 5, 1),
        "DB_LOCK_TIMEOUT_MS": _int_env(env, "DB_LOCK_TIMEOUT_MS", 3000, 1),
        "DB_STATEMENT_TIMEOUT_MS": _int_env(env, "DB_STATEMENT_TIMEOUT_MS", 5000, 1),
        "MAX_CONTENT_LENGTH": _int_env(env, "MAX_BODY_BYTES", 64 * 1024, 1),
        "API_KEYS": _list_env(env, "API_KEYS"),
        # How old each worker's copy of the database's API keys may be (auth.py).
        "KEYS_REFRESH_S": _int_env(env, "KEYS_REFRESH_S", 5, 1),
        "RATE_LIMIT": _rate_limit(env),
        "RATE_LIMIT_STORAGE_URI": _rate_limit_storage(env),
        "TRUSTED_PROXIES": _trusted_proxies(env),
        "CORS_ORIGINS": _list_env(env, "CORS_ORIGINS"),
        # /metrics while API keys are in use (metrics.py): this bearer token, a secret of its
        # own; or open to anyone with METRICS_PUBLIC (a private network).
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip() or None,
        "METRICS_PUBLIC": _flag_env(env, "METRICS_PUBLIC"),
        **server_settings(env),
        **_webhook_settings(env),
        **_hold_settings(env),
    }


def _hold_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """How long holds last (services.py) and how often the sweeper records expiries."""
    longest = _int_env(env, "HOLD_MAX_S", 900, 1)
    default = _int_env(env, "HOLD_DEFAULT_S", 300, 1)
    if default > longest:
        raise ConfigError(f"HOLD_DEFAULT_S ({default}) must be at most HOLD_MAX_S ({longest})")
    return {
        "HOLD_MAX_S": longest,
        "HOLD_DEFAULT_S": default,
        # 0: no sweeper; expiry still happens on time, recorded by the next write it meets.
        "HOLD_SWEEP_S": _int_env(env, "HOLD_SWEEP_S", 5, 0),
    }


def server_settings(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """What gunicorn.conf.py and the start-up scripts need before any database: where to
    listen, how many workers and threads, their timeouts, and the logs."""
    return {
        "HOST": _host(env),
        "PORT": _int_env(env, "PORT", 3000, 0, 65535),
        "WEB_CONCURRENCY": _int_env(env, "WEB_CONCURRENCY", 4, 1),
        "GUNICORN_THREADS": _int_env(env, "GUNICORN_THREADS", 64, 1),
        # 0: no timeout, as gunicorn reads it.
        "GUNICORN_TIMEOUT": _int_env(env, "GUNICORN_TIMEOUT", 30, 0),
        "GUNICORN_GRACEFUL_TIMEOUT": _int_env(env, "GUNICORN_GRACEFUL_TIMEOUT", 30, 0),
        "LOG_FORMAT": _choice(env, "LOG_FORMAT", LOG_FORMATS, "json"),
        "LOG_LEVEL": _choice(env, "LOG_LEVEL", LOG_LEVELS, "info"),
        "ACCESS_LOG": _switch_env(env, "ACCESS_LOG", default=True),
    }


def _host(env: Mapping[str, str]) -> str:
    """HOST as gunicorn's `bind` takes it: an address (IPv6 in brackets) or a host name."""
    raw = env.get("HOST", "").strip() or "0.0.0.0"
    try:
        address = ipaddress.ip_address(raw.removeprefix("[").removesuffix("]"))
    except ValueError:
        if not _HOST_NAME.fullmatch(raw):
            raise ConfigError(f"HOST must be an address or a host name, not {raw!r}") from None
        return raw
    return f"[{address}]" if address.version == 6 else str(address)


def _webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The webhook dispatcher's settings (webhooks_delivery.py) and the URL policy
    (webhooks_urls.py)."""
    timeout = _int_env(env, "WEBHOOK_TIMEOUT_S", 5, 1)
    lease = _int_env(env, "WEBHOOK_LEASE_S", 60, 1)
    if lease < 2 * timeout + 5:
        # A claim must outlive any one attempt, or a second dispatcher could send the same
        # event while the first is still waiting for its answer.
        raise ConfigError(f"WEBHOOK_LEASE_S ({lease}) must be at least 2 x WEBHOOK_TIMEOUT_S + 5")
    return {
        "WEBHOOK_TIMEOUT_S": timeout,
        "WEBHOOK_LEASE_S": lease,
        "WEBHOOK_GIVE_UP_S": _int_env(env, "WEBHOOK_GIVE_UP_S", 3 * 24 * 3600, 0),
        "WEBHOOK_CONCURRENCY": _int_env(env, "WEBHOOK_CONCURRENCY", 8, 1),
        "WEBHOOK_BACKOFF_BASE_S": _int_env(env, "WEBHOOK_BACKOFF_BASE_S", 1, 1),
        "WEBHOOK_BACKOFF_MAX_S": _int_env(env, "WEBHOOK_BACKOFF_MAX_S", 3600, 1),
        "WEBHOOK_POLL_MS": _int_env(env, "WEBHOOK_POLL_MS", 250, 10),
        "WEBHOOK_ALLOW_HTTP": _flag_env(env, "WEBHOOK_ALLOW_HTTP"),
        "WEBHOOK_ALLOW_PRIVATE": _flag_env(env, "WEBHOOK_ALLOW_PRIVATE"),
    }


def _switch_env(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _SWITCH:
        raise ConfigError(f"{name} must be on or off, not {raw!r}")
    return _SWITCH[raw]


def _flag_env(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in ("", "0", "1", "true", "false"):
        raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")
    return raw in ("1", "true")


def _list_env(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


def _rate_limit(env: Mapping[str, str]) -> str | None:
    raw = env.get("RATE_LIMIT", "").strip()
    if not raw:
        return None
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"RATE_LIMIT must be the limits library's syntax, such as '100 per minute', not {raw!r}"
        ) from None
    return raw


def _rate_limit_storage(env: Mapping[str, str]) -> str:
    raw = env.get("RATE_LIMIT_STORAGE_URI", "").strip() or "memory://"
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in RATE_LIMIT_SCHEMES:
        raise ConfigError(
            "RATE_LIMIT_STORAGE_URI must start with one of "
            + ", ".join(f"{s}://" for s in RATE_LIMIT_SCHEMES)
        )
    return raw


def _trusted_proxies(env: Mapping[str, str]) -> list[Any]:
    networks = []
    for item in _list_env(env, "TRUSTED_PROXIES"):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES: {item!r} is not an address or network") from None
    return networks


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value
