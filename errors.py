"""Errors as JSON: the one error body, and the one table of answers to failures.

Every error leaves through `error_response` as `{statusCode, error, message, timestamp, ...}`
(or RFC 9457 problem details when the client asks for them) with a stable snake_case `error`:
domain outcomes from domain.py, the database's timeouts and outages, werkzeug's and smorest's
HTTP errors (`http_error_response`, which openapi.py's Api calls) and anything unexpected.
Every answer of the service's own is an `Answer` here: `ANSWERS` maps exceptions to theirs (to
map a new failure, add a row), and the two that auth.py gives before a view runs are named
(`UNAUTHORIZED`, `READ_ONLY_KEY`, sent with `respond`). Never lets an HTML page, a stack
trace, SQL or a connection string reach a client.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg.errors
from flask import Flask, Response, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

import metrics
from database import PoolTimeout
from domain import (
    Forbidden,
    InvalidTransition,
    NotFound,
    OutsideHours,
    PreconditionFailed,
    StaleUpdate,
    TimeRangeUnavailable,
    WebhookNotFound,
)
from formats import format_time

log = logging.getLogger("sesame")
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Answer:
    """What a failure answers. `conflict`: counted in sesame_conflicts_total under its code;
    `warning`: logged as a warning (with the driver's error type) instead of a stack trace."""

    status: int
    code: str
    message: str
    retry_after: int | None = None
    conflict: bool = False
    warning: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


INTERNAL = Answer(500, "internal_error", "Something went wrong on our side.")
DATABASE_TIMEOUT = Answer(
    503,
    "database_timeout",
    "The request waited too long; retry shortly.",
    retry_after=1,
    warning="database wait timed out",
)
DATABASE_DOWN = Answer(
    503,
    "database_unavailable",
    "The database is unavailable; retry shortly.",
    retry_after=5,
    warning="database unavailable",
)

# The answers auth.py gives without an exception, before a view runs.
UNAUTHORIZED = Answer(
    401,
    "unauthorized",
    "Send a valid API key as 'Authorization: Bearer <key>'.",
    headers=(("WWW-Authenticate", 'Bearer realm="sesame"'),),
)
READ_ONLY_KEY = Answer(403, "forbidden", "This API key may read only; writing needs a write key.")

# Each failure, by class; the most specific class of an exception that is listed here decides.
# Database failures are psycopg's: database.py's recipe raises no other (the pool's timeout
# included, as `database.PoolTimeout`).
ANSWERS: dict[type[BaseException], Answer] = {
    NotFound: Answer(404, "not_found", "No appointment has this id."),
    WebhookNotFound: Answer(404, "not_found", "No webhook has this id."),
    # Says nothing of what is outside the key's calendars: not which calendar, not whether
    # an appointment is there (an id of another calendar answers it, as ids are global).
    Forbidden: Answer(
        403, "forbidden", "This API key does not open that calendar or id; nothing changed."
    ),
    PreconditionFailed: Answer(
        412,
        "precondition_failed",
        "If-Match or If-None-Match does not hold for the stored appointment; nothing changed.",
        conflict=True,
    ),
    StaleUpdate: Answer(
        409,
        "stale_update",
        "A newer version of this appointment is stored (or one as new with other "
        "content); send a later updatedAt to change it.",
        conflict=True,
    ),
    TimeRangeUnavailable: Answer(
        409, "time_range_unavailable", "The requested time range is not available.", conflict=True
    ),
    InvalidTransition: Answer(
        409,
        "invalid_transition",
        "An active appointment cannot be put back on hold; nothing changed.",
        conflict=True,
    ),
    OutsideHours: Answer(
        409,
        "outside_hours",
        "The calendar enforces its hours and this time range is not inside its open time.",
        conflict=True,
    ),
    # No pooled connection came free within DB_POOL_TIMEOUT_S.
    PoolTimeout: Answer(
        503,
        "database_unavailable",
        "The database is busy; retry shortly.",
        retry_after=1,
        warning="no database connection free in time",
    ),
    # lock_timeout and statement_timeout (database.py).
    psycopg.errors.LockNotAvailable: DATABASE_TIMEOUT,
    psycopg.errors.QueryCanceled: DATABASE_TIMEOUT,
    # The server is gone or refuses; also PgBouncer's query_wait_timeout.
    psycopg.OperationalError: DATABASE_DOWN,
    Exception: INTERNAL,
}


def answer_for(error: BaseException) -> Answer:
    """The row of `ANSWERS` for `error`."""
    return next((ANSWERS[cls] for cls in type(error).__mro__ if cls in ANSWERS), INTERNAL)


def handle(error: Exception) -> Response:
    """The one handler of every exception a view lets out, but HTTP errors (openapi.py)."""
    answer = answer_for(error)
    if answer.conflict:
        metrics.CONFLICTS.labels(answer.code).inc()
    if answer.warning and isinstance(error, psycopg.Error):
        log.warning("%s: %s", answer.warning, type(error).__name__)
    elif answer.warning:
        log.warning(answer.warning)
    elif answer is INTERNAL:
        current_app.logger.exception("unhandled error")
    if isinstance(error, TimeRangeUnavailable):
        return respond(answer, conflicts=error.conflicts)
    return respond(answer)


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle)


# Refusals that are no exception of a view: the modules that refuse answer them with `respond`,
# adding what only they know (the limit and when to retry, which check failed).
RATE_LIMITED = Answer(429, "rate_limited", "Too many requests: the limit is {limit}.")
NOT_READY = Answer(503, "not_ready", "Not ready to serve.", retry_after=5)
METRICS_UNAUTHORIZED = Answer(
    401, "unauthorized", "Send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>'."
)


def respond(
    answer: Answer, *, message: str | None = None, retry_after: int | None = None, **extra: Any
) -> Response:
    """The error response of a row of the table (its body, Retry-After and headers), with the
    refusing module's `message`, `retry_after` and `extra` body fields where it gives them."""
    response = error_response(
        answer.status,
        answer.code,
        message or answer.message,
        retry_after=answer.retry_after if retry_after is None else retry_after,
        **extra,
    )
    for name, value in answer.headers:
        response.headers[name] = value
    return response


# Codes of werkzeug's HTTP errors where its own name would not do.
_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
}


def http_error_response(error: HTTPException) -> Response:
    """werkzeug's and smorest's HTTP errors (404, 405, 413, validation...) in our body."""
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    if status in (400, 422) and "messages" in data:
        errors: dict[str, Any] = {}
        for location_errors in data["messages"].values():
            errors.update(location_errors)
        return error_response(400, "validation_failed", "The request is not valid.", errors=errors)
    code = data.get("error") or _HTTP_CODES.get(status) or _snake(error.name)
    message = data.get("message") or error.description or error.name
    response = error_response(status, code, message)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _snake(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").replace("'", "").split())


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
