"""Sesame: the app factory, its configuration, the HTTP API and the mapping of errors to HTTP.

Views stay thin: smorest parses the request through `schemas.py`, one call into `services.py`
does the work, and every failure, from a malformed body to a lost database, leaves through
`error_response` as JSON. No view commits or builds SQL; no error is an HTML page.
"""

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg.errors
from flask import Flask, Response, current_app, jsonify, send_from_directory
from flask_migrate import Migrate
from flask_smorest import Api
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException

import services
from models import db
from schemas import ErrorOut, format_time
from views import AppointmentIdConverter, appointments

__version__ = "0.1.0"
log = logging.getLogger("sesame")


class ConfigError(ValueError):
    """A setting from the environment that cannot work; its message is one line."""


def _int_env(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, not {raw!r}")
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
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL") from None
    if url.drivername not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, not {url.drivername}://")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def settings_from_env(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Every setting the service reads from its environment, validated, in one place."""
    url = database_url(env)
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "MIGRATIONS_DATABASE_URL": database_url(
            {"DATABASE_URL": env.get("MIGRATIONS_DATABASE_URL") or url}
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # One connection per gunicorn thread, no overflow: the pool is the bound.
            "pool_size": _int_env(env, "DB_POOL_SIZE", 8, 1),
            "max_overflow": 0,
            "pool_timeout": _int_env(env, "DB_POOL_TIMEOUT_S", 5, 1),
            "pool_pre_ping": True,
            "isolation_level": "READ COMMITTED",
            "connect_args": {
                # No server-side prepared statements: they break behind PgBouncer in
                # transaction mode, where each transaction may get another server session.
                "prepare_threshold": None,
                "connect_timeout": _int_env(env, "DB_CONNECT_TIMEOUT_S", 5, 1),
                "application_name": "sesame",
            },
        },
        "DB_LOCK_TIMEOUT_MS": _int_env(env, "DB_LOCK_TIMEOUT_MS", 3000, 1),
        "DB_STATEMENT_TIMEOUT_MS": _int_env(env, "DB_STATEMENT_TIMEOUT_MS", 5000, 1),
        "MAX_CONTENT_LENGTH": _int_env(env, "MAX_BODY_BYTES", 64 * 1024, 1),
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Opens no database connection: gunicorn workers connect after the fork."""
    app = Flask(__name__)
    app.config.from_mapping(settings_from_env())
    app.config.from_mapping(config or {})
    app.config.update(
        API_TITLE="Sesame",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/",
        OPENAPI_SWAGGER_UI_URL="/api/assets/",
        API_SPEC_OPTIONS={"info": {"description": API_DESCRIPTION}},
    )
    app.url_map.converters["appointment_id"] = AppointmentIdConverter
    db.init_app(app)
    Migrate(app, db)
    with app.app_context():
        _bound_every_transaction(db.engine, app.config)
    api = SesameApi(app)
    api.register_converter(AppointmentIdConverter, lambda _: {"type": "integer", "format": "int64"})
    api.register_blueprint(appointments)
    register_error_handlers(app)
    app.add_url_rule("/api/assets/<path:filename>", "swagger_ui_assets", _swagger_ui_asset)
    app.after_request(_security_headers)
    return app


API_DESCRIPTION = (
    "Appointments booked by client id. No two active appointments of one calendar ever "
    "overlap, however many requests race: PostgreSQL refuses it under advisory locks and an "
    "exclusion constraint. Writes are create-or-update by id and the latest `updatedAt` "
    "wins; every previous version is kept in the appointment's history."
)


def _bound_every_transaction(engine: Any, config: Mapping[str, Any]) -> None:
    """Give every transaction a lock and a statement timeout, so no request waits forever.

    Set with `set_config(..., is_local => true)`, which is `SET LOCAL`: it dies with the
    transaction and needs no connection startup option, which PgBouncer would refuse.
    """
    params = {
        "lock": f"{config['DB_LOCK_TIMEOUT_MS']}ms",
        "statement": f"{config['DB_STATEMENT_TIMEOUT_MS']}ms",
    }

    @event.listens_for(engine, "begin")
    def _set_timeouts(connection: Any) -> None:
        connection.exec_driver_sql(
            "SELECT set_config('lock_timeout', %(lock)s, true),"
            " set_config('statement_timeout', %(statement)s, true)",
            params,
        )


def _swagger_ui_asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package: the docs page needs no internet."""
    return send_from_directory(swagger_ui_path, filename)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not response.headers.get("Cache-Control"):
        response.headers["Cache-Control"] = "no-store"
    return response


class SesameApi(Api):
    """smorest's Api with our error body, in the document and on the wire."""

    ERROR_SCHEMA = ErrorOut

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        if status in (400, 422) and "messages" in data:
            errors: dict[str, Any] = {}
            for location_errors in data["messages"].values():
                errors.update(location_errors)
            return error_response(
                400, "validation_failed", "The request is not valid.", errors=errors
            )
        code = data.get("error") or _ERROR_CODES.get(status) or _snake(error.name)
        message = data.get("message") or error.description or error.name
        response = error_response(status, code, message)
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response


_ERROR_CODES = {404: "not_found", 413: "payload_too_large", 500: "internal_error"}


def _snake(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").replace("'", "").split())


def error_response(
    status: int,
    error: str,
    message: str,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> Response:
    """The one place an error body is built: `{statusCode, error, message, timestamp, ...}`."""
    body = {
        "statusCode": status,
        "error": error,
        "message": message,
        "timestamp": format_time(datetime.now(UTC)),
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    """Map domain outcomes and database failures to HTTP, each to one stable error code."""

    @app.errorhandler(services.NotFound)
    def _not_found(error: services.NotFound) -> Response:
        return error_response(404, "not_found", "No appointment has this id.")

    @app.errorhandler(services.PreconditionFailed)
    def _precondition_failed(error: services.PreconditionFailed) -> Response:
        return error_response(
            412,
            "precondition_failed",
            "If-Match or If-None-Match does not hold for the stored appointment; nothing changed.",
        )

    @app.errorhandler(services.StaleUpdate)
    def _stale(error: services.StaleUpdate) -> Response:
        return error_response(
            409,
            "stale_update",
            "A newer version of this appointment is stored (or one as new with other "
            "content); send a later updatedAt to change it.",
        )

    @app.errorhandler(services.TimeRangeUnavailable)
    def _unavailable(error: services.TimeRangeUnavailable) -> Response:
        return error_response(
            409,
            "time_range_unavailable",
            "The requested time range is not available.",
            conflicts=error.conflicts,
        )

    @app.errorhandler(PoolTimeout)
    def _pool_exhausted(error: PoolTimeout) -> Response:
        log.warning("no database connection free in time")
        return error_response(
            503, "database_unavailable", "The database is busy; retry shortly.", retry_after=1
        )

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError) -> Response:
        if isinstance(error.orig, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
            log.warning("database wait timed out: %s", type(error.orig).__name__)
            return error_response(
                503,
                "database_timeout",
                "The request waited too long; retry shortly.",
                retry_after=1,
            )
        if error.connection_invalidated or isinstance(error.orig, psycopg.OperationalError):
            log.warning("database unavailable: %s", type(error.orig).__name__)
            return error_response(
                503,
                "database_unavailable",
                "The database is unavailable; retry shortly.",
                retry_after=5,
            )
        return _internal_error(error)

    @app.errorhandler(SQLAlchemyError)
    @app.errorhandler(Exception)
    def _internal_error(error: Exception) -> Response:
        current_app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
