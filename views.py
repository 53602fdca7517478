"""The HTTP operations: one smorest blueprint, each view a few lines.

A view reads what smorest parsed through `schemas.py`, makes one call into `services.py`
(writes) or `queries.py` (reads) and returns; domain errors leave through the handlers that
`sesame.py` registers. Reads that may be a moment old go through `replicas.read` (a replica when
one is fit); every other read and every write uses `db.session()`, the primary.
Conditional headers (ETag, If-Match, If-None-Match) are translated here, because they are
HTTP's, and checked in the service, under the lock.
"""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy.exc import SQLAlchemyError
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.routing import BaseConverter, ValidationError

import ics
import queries
import replicas
import services
from errors import error_response
from models import db
from schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentVersionOut,
    AvailabilityOut,
    AvailabilityQuery,
    ChangesOut,
    ChangesQuery,
    ErrorOut,
    HealthOut,
    ListQuery,
    ReadinessOut,
    page_cursor,
    parse_client_id,
)


class AppointmentIdConverter(BaseConverter):
    """Path ids: ASCII digits only, 1 to 2^63-1; anything else is no such appointment (404)."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        try:
            return parse_client_id(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: Any) -> str:
        return str(value)


class SesameParser(FlaskParser):
    """webargs' parser with the service's rules: 400 not 422, unknown fields refused,
    and a JSON body required to be JSON (415) and well formed (400)."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "json": RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        if not req.mimetype or not webargs_core.is_json(req.mimetype):
            abort(
                415,
                error="unsupported_media_type",
                message="Send the body as JSON with Content-Type: application/json.",
            )
        try:
            return webargs_core.parse_json(req.get_data(cache=True))
        except RecursionError:
            self._handle_invalid_json_error(None, req)  # nesting too deep to parse

    def _handle_invalid_json_error(self, error: Any, req: Any, *args: Any, **kw: Any) -> Any:
        abort(400, error="malformed_json", message="The request body is not valid JSON.")


class SesameBlueprint(Blueprint):
    ARGUMENTS_PARSER = SesameParser()


appointments = SesameBlueprint(
    "appointments", __name__, description="Book, change and list appointments."
)

_ERRORS = {
    400: "Invalid input: `validation_failed` with per-field `errors`, or `malformed_json`.",
    401: "`unauthorized`: API_KEYS is set and no valid `Authorization: Bearer` key was sent.",
    404: "No appointment has this id.",
    412: "`precondition_failed`: If-Match or If-None-Match does not hold; nothing changed.",
    429: "`rate_limited`: over RATE_LIMIT (`Retry-After` says when to retry).",
    500: "`internal_error`: a fault of ours, logged; nothing half-written.",
    503: "The database is unavailable or busy (`Retry-After` says when to retry).",
}
# What any data operation can answer, whatever it does: keys, rate limits, our own faults.
_ALWAYS = (401, 429, 500)
_ETAG_HEADER = {"ETag": {"description": "The version, for If-Match.", "schema": {"type": "string"}}}
_CONDITIONS = [
    {
        "in": "header",
        "name": "If-Match",
        "required": False,
        "schema": {"type": "string"},
        "description": "Proceed only if the stored version's ETag is listed (or `*`: exists).",
    },
    {
        "in": "header",
        "name": "If-None-Match",
        "required": False,
        "schema": {"type": "string"},
        "description": "`*`: create only; 412 if the id exists. Other values are ignored.",
    },
]


def _errors(*statuses: int, more: dict[int, str] | None = None, open_route: bool = False) -> Any:
    """Document the error responses an operation can give, all with the error schema."""
    always = (500,) if open_route else _ALWAYS
    described = {**{s: _ERRORS[s] for s in (*statuses, *always)}, **(more or {})}

    def decorate(view: Any) -> Any:
        for status, description in described.items():
            view = appointments.alt_response(status, schema=ErrorOut, description=description)(view)
        return view

    return decorate


def etag(appointment: services.StoredAppointment) -> str:
    return f'"{appointment.version}"'


def _precondition() -> services.Precondition:
    """If-Match / If-None-Match: * of this request, as the service checks them."""
    if_match = request.if_match
    versions = None
    if request.headers.get("If-Match") and not if_match.star_tag:
        # If-Match compares strongly: weak tags (W/"3") never match.
        # werkzeug parses an empty tag ("") as None.
        tags = [tag for tag in if_match.as_set() if isinstance(tag, str)]
        versions = frozenset(int(tag) for tag in tags if tag.isascii() and tag.isdigit())
    return services.Precondition(
        versions=versions,
        any_version=if_match.star_tag,
        create_only=request.if_none_match.star_tag,
    )


def _with_etag(appointment: services.StoredAppointment, status: int = 200, **headers: str) -> Any:
    return appointment, status, {"ETag": etag(appointment), **headers}


@appointments.route("/appointments", methods=["POST"])
@appointments.doc(
    operationId="createOrUpdateAppointment",
    summary="Create or update by id",
    parameters=_CONDITIONS,
)
@appointments.arguments(
    AppointmentIn,
    example={
        "id": 42,
        "calendar": "room-1",
        "start": "2026-12-01 09:00",
        "end": "2026-12-01 09:30",
        "createdAt": "2026-11-26T08:00:00Z",
        "updatedAt": "2026-11-26T08:00:00Z",
    },
)
@appointments.response(
    200,
    AppointmentOut,
    description="Updated, revived, or an identical retry.",
    headers=_ETAG_HEADER,
)
@appointments.alt_response(201, schema=AppointmentOut, description="Created.")
@_errors(
    400,
    412,
    503,
    more={
        409: "`time_range_unavailable` (with `conflicts`) or `stale_update`.",
        413: "The body is larger than MAX_BODY_BYTES.",
        415: "The body is not JSON.",
    },
)
def save_appointment(new: services.AppointmentData) -> Any:
    """Create the appointment, or update it if `updatedAt` is newer than the stored one.

    A cancelled appointment is revived by a newer `updatedAt`, if its slot is free."""
    result = services.save_appointment(db.session(), new=new, precondition=_precondition())
    if result.created:
        return _with_etag(result.appointment, 201, Location=f"/appointments/{new.id}")
    return _with_etag(result.appointment)


@appointments.route("/appointments", methods=["GET"])
@appointments.doc(operationId="listAppointments", summary="List the book")
@appointments.arguments(ListQuery, location="query")
@appointments.response(
    200,
    AppointmentOut(many=True),
    headers={
        "Link": {
            "description": 'RFC 8288 `<...>; rel="next"` when the page is full: the same '
            "query with a keyset `cursor`.",
            "schema": {"type": "string"},
        }
    },
)
@_errors(400, 503)
def list_appointments(query: queries.BookQuery) -> Any:
    """Appointments ordered by start, then id: by default the active ones, now.

    A full page links the next one (RFC 8288 `Link: <...>; rel="next"`), by keyset cursor."""
    page = replicas.read(queries.list_appointments, query)
    if len(page) < query.limit:
        return page
    args = request.args.copy()
    args.pop("offset", None)
    args["cursor"] = page_cursor(page[-1].start, page[-1].id)
    query_string = urlencode(list(args.items(multi=True)))
    return page, 200, {"Link": f'<{request.path}?{query_string}>; rel="next"'}


@appointments.route("/appointments.ics", methods=["GET"])
@appointments.doc(
    operationId="getAppointmentsCalendar",
    summary="The book as an iCalendar feed",
    responses={
        "200": {
            "description": "RFC 5545 calendar, one VEVENT per appointment.",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    },
)
@appointments.arguments(ListQuery, location="query")
@_errors(400, 503)
def appointments_calendar(query: queries.BookQuery) -> Response:
    """Subscribe to this URL from Google Calendar, Outlook or Apple Calendar."""
    book = replicas.read(queries.list_appointments, query)
    body = ics.render(book, name=f"Sesame {query.calendar or 'appointments'}")
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-cache"})


# One rule for both methods: werkzeug answers 405 instead of 404 when a converter refuses the
# id on one of two rules that share a path, so odd ids (abc, -1, 20 digits) must meet one rule.
@appointments.route("/appointments/<appointment_id:appointment_id>")
class AppointmentById(MethodView):
    @appointments.doc(operationId="getAppointment", summary="Get one appointment")
    @appointments.response(200, AppointmentOut, headers=_ETAG_HEADER)
    @appointments.alt_response(304, description="Not modified: If-None-Match holds its ETag.")
    @_errors(404, 503)
    def get(self, appointment_id: int) -> Any:
        appointment = queries.get_appointment(db.session(), appointment_id)
        if request.if_none_match.contains_weak(str(appointment.version)):
            return Response(status=304, headers={"ETag": etag(appointment)})
        return _with_etag(appointment)

    @appointments.doc(
        operationId="cancelAppointment", summary="Cancel an appointment", parameters=_CONDITIONS[:1]
    )
    @appointments.response(200, AppointmentOut, description="Cancelled (or already was).")
    @_errors(404, 412, 503)
    def delete(self, appointment_id: int) -> Any:
        """The record and its history stay; the slot is free at once."""
        cancelled = services.cancel_appointment(
            db.session(), appointment_id=appointment_id, precondition=_precondition()
        )
        return _with_etag(cancelled)


@appointments.route("/appointments/<appointment_id:appointment_id>/history", methods=["GET"])
@appointments.doc(operationId="getAppointmentHistory", summary="Every version, oldest first")
@appointments.response(200, AppointmentVersionOut(many=True))
@_errors(404, 503)
def get_appointment_history(appointment_id: int) -> Any:
    return queries.appointment_history(db.session(), appointment_id)


@appointments.route("/changes", methods=["GET"])
@appointments.doc(operationId="listChanges", summary="Change feed: every version, once")
@appointments.arguments(ChangesQuery, location="query")
@appointments.response(200, ChangesOut)
@_errors(400, 503)
def list_changes(query: dict[str, Any]) -> Any:
    """Follow `next` to keep a copy in sync: each version appears exactly once, in order."""
    return queries.changes(db.session(), after=query["since"], limit=query["limit"])


@appointments.route("/availability", methods=["GET"])
@appointments.doc(operationId="getAvailability", summary="Busy and free time of a calendar")
@appointments.arguments(AvailabilityQuery, location="query")
@appointments.response(200, AvailabilityOut)
@_errors(400, 503)
def get_availability(query: dict[str, Any]) -> Any:
    return replicas.read(
        queries.availability,
        calendar=query["calendar"],
        start=query["start"],
        end=query["end"],
        min_duration=timedelta(minutes=query["min_duration"]),
    )


@appointments.route("/health", methods=["GET"])
@appointments.doc(operationId="getHealth", summary="Liveness: the process serves")
@appointments.response(200, HealthOut, description="The process serves requests.")
@_errors(open_route=True)
def health() -> Any:
    """Answers without touching the database: restart the process only if this fails."""
    return {"status": "ok"}


@appointments.route("/health/ready", methods=["GET"])
@appointments.doc(operationId="getReadiness", summary="Readiness: database up, schema current")
@appointments.response(200, ReadinessOut, description="Ready to serve.")
@_errors(
    open_route=True,
    more={503: "`not_ready`: the database does not answer or its schema is not current."},
)
def readiness() -> Any:
    """Send traffic here only while this answers 200."""
    expected = current_app.config["SCHEMA_HEAD"]
    try:
        revision = queries.schema_revision(db.session())
    except SQLAlchemyError:
        return error_response(
            503,
            "not_ready",
            "The database does not answer.",
            retry_after=5,
            checks={"database": "down"},
        )
    if revision != expected:
        return error_response(
            503,
            "not_ready",
            f"The database schema is at {revision}, not at the latest migration {expected}.",
            retry_after=5,
            checks={"database": "ok", "schema": revision},
        )
    ready = {"status": "ok", "database": "ok", "schema": revision}
    # Reported, never a reason to be unready: reads fall back to the primary.
    return {**ready, "replicas": replicas.states()} if current_app.config["REPLICA_URLS"] else ready
