"""Errors as JSON: the one error body, and the mapping of every failure to a status and code.

Every error leaves through `error_response` as `{statusCode, error, message, timestamp, ...}`
with a stable snake_case `error`: smorest's validation errors, werkzeug's HTTP errors, domain
outcomes from services.py, the database's timeouts and outages, and anything unexpected. No
HTML page, no stack trace, no SQL and no connection string ever reaches a client.
"""

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg.errors
from apispec import APISpec, BasePlugin
from flask import Flask, Response, current_app, has_request_context, jsonify, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

import metrics
import services
from schemas import ErrorOut, ProblemOut, format_time

log = logging.getLogger("sesame")


class SesameApi(Api):
    """smorest's Api with our error body, in the document and on the wire. Every operation
    documents its own error responses (no catch-all `default`), in both formats."""

    ERROR_SCHEMA = ErrorOut
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Flask) -> None:
        super().__init__(app, spec_kwargs={"extra_plugins": [ProblemDetailsDocs()]})

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


_ERROR_CODES = {
    401: "unauthorized",
    404: "not_found",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
}


def _snake(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").replace("'", "").split())


PROBLEM_JSON = "application/problem+json"


def wants_problem_details() -> bool:
    """True when the client lists application/problem+json in Accept, above plain JSON."""
    if not has_request_context():
        return False
    accept = request.accept_mimetypes
    listed = {value: quality for value, quality in accept}
    return listed.get(PROBLEM_JSON, 0) > 0 and listed[PROBLEM_JSON] >= listed.get(
        "application/json", 0
    )


def error_response(
    status: int,
    error: str,
    message: str,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> Response:
    """The one place an error body is built: `{statusCode, error, message, timestamp, ...}`,
    or RFC 9457 problem details for a client that asks for application/problem+json."""
    if wants_problem_details():
        response = jsonify(
            {
                "type": f"urn:sesame:problem:{error}",
                "title": error.replace("_", " ").capitalize(),
                "status": status,
                "detail": message,
                "instance": request.path,
                "error": error,
                **extra,
            }
        )
        response.mimetype = PROBLEM_JSON
    else:
        response = jsonify(
            {
                "statusCode": status,
                "error": error,
                "message": message,
                "timestamp": format_time(datetime.now(UTC)),
                **extra,
            }
        )
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class ProblemDetailsDocs(BasePlugin):
    """apispec plugin: every 4xx and 5xx response documented in both error formats."""

    def init_spec(self, spec: APISpec) -> None:
        spec.components.schema("ProblemOut", schema=ProblemOut)

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45" and "content" in response:
                    response["content"][PROBLEM_JSON] = {
                        "schema": {"$ref": "#/components/schemas/ProblemOut"}
                    }


def register_error_handlers(app: Flask) -> None:
    """Map domain outcomes and database failures to HTTP, each to one stable error code."""

    @app.errorhandler(services.NotFound)
    def _not_found(error: services.NotFound) -> Response:
        return error_response(404, "not_found", "No appointment has this id.")

    @app.errorhandler(services.PreconditionFailed)
    def _precondition_failed(error: services.PreconditionFailed) -> Response:
        metrics.CONFLICTS.labels("precondition_failed").inc()
        return error_response(
            412,
            "precondition_failed",
            "If-Match or If-None-Match does not hold for the stored appointment; nothing changed.",
        )

    @app.errorhandler(services.StaleUpdate)
    def _stale(error: services.StaleUpdate) -> Response:
        metrics.CONFLICTS.labels("stale_update").inc()
        return error_response(
            409,
            "stale_update",
            "A newer version of this appointment is stored (or one as new with other "
            "content); send a later updatedAt to change it.",
        )

    @app.errorhandler(services.TimeRangeUnavailable)
    def _unavailable(error: services.TimeRangeUnavailable) -> Response:
        metrics.CONFLICTS.labels("time_range_unavailable").inc()
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
        # Also PgBouncer's query_wait_timeout: an OperationalError, the connection then closed.
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
