"""The HTTP operations: routes only, each view a few lines.

A view gets what smorest parsed through `schemas.py`, makes one call into `services.py`
(writes) or `queries.py` (reads) and returns; domain errors leave through errors.py's table.
Reads that may be a moment old go through `replicas.read` (a replica when one is fit); every
other read and every write uses `db.engine`, the primary. HTTP's own headers are translated
by protocol.py, the documentation of each operation is openapi.py's. Never holds a rule of the
book, never builds SQL, never builds an error body by hand (errors.py does).
"""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
from flask import Response, current_app
from flask.views import MethodView

import ics
import queries
import replicas
import services
from auth import access
from database import db
from domain import ACTIVE, LIVE, AppointmentData, BookQuery
from errors import NOT_READY, respond
from openapi import (
    APPOINTMENT_EXAMPLE,
    ETAG_HEADER,
    IF_MATCH,
    IF_NONE_MATCH,
    LINK_HEADER,
    LOCATION_HEADER,
    OPEN_ROUTE,
    WRITE,
    SesameBlueprint,
)
from protocol import etag, next_page_link, not_modified, precondition, with_etag
from schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentVersionOut,
    AvailabilityOut,
    AvailabilityQuery,
    ChangesOut,
    ChangesQuery,
    HealthOut,
    ListQuery,
    ReadinessOut,
)

appointments = SesameBlueprint(
    "appointments", __name__, description="Book, change and list appointments."
)
# The error responses only a create or update gives, beside the ones listed in openapi.ERRORS:
# 409 for the book's refusals, 413 and 415 for the body itself.
SAVE_ERRORS = {
    409: "`time_range_unavailable` (with `conflicts`), `stale_update`, `outside_hours` (the "
    "calendar enforces its hours) or `invalid_transition` (an active appointment sent as "
    "`held`).",
    413: "The body is larger than MAX_BODY_BYTES.",
    415: "The body is not JSON.",
}


@appointments.route("/appointments", methods=["POST"])
@appointments.operation(
    "createOrUpdateAppointment",
    "Create or update by id",
    errors=(400, 403, 412, 503),
    scope=WRITE,
    more=SAVE_ERRORS,
    parameters=[IF_MATCH, IF_NONE_MATCH],
)
# Schema instances, not classes: webargs would build a new schema per request from a class,
# which cost a tenth of a create's CPU.
@appointments.arguments(AppointmentIn(), example=APPOINTMENT_EXAMPLE)
@appointments.response(
    200, AppointmentOut, description="Updated, revived, or an identical retry.", headers=ETAG_HEADER
)
@appointments.alt_response(
    201,
    schema=AppointmentOut,
    description="Created.",
    headers={**LOCATION_HEADER, **ETAG_HEADER},
)
def save_appointment(new: AppointmentData) -> Any:
    """Create the appointment, or update it if `updatedAt` is newer than the stored one.

    A cancelled appointment is revived by a newer `updatedAt`, if its slot is free."""
    result = services.save_appointment(
        db.engine, new=new, precondition=precondition(), access=access()
    )
    if result.created:
        return with_etag(result.appointment, 201, Location=f"/appointments/{new.id}")
    return with_etag(result.appointment)


@appointments.route("/appointments", methods=["GET"])
@appointments.operation("listAppointments", "List the book", errors=(400, 403, 503))
@appointments.arguments(ListQuery(), location="query")
@appointments.response(200, AppointmentOut(many=True), headers=LINK_HEADER)
def list_appointments(query: BookQuery) -> Any:
    """Appointments ordered by start, then id: by default the active ones, now.

    A full page links the next one (RFC 8288 `Link: <...>; rel="next"`), by keyset cursor."""
    page = replicas.read(queries.list_appointments_json, query, access())
    response = Response(page.body + "\n", mimetype="application/json")
    if page.count == query.limit and page.last is not None:
        response.headers["Link"] = next_page_link(*page.last)
    return response


@appointments.route("/appointments.ics", methods=["GET"])
@appointments.operation(
    "getAppointmentsCalendar",
    "The book as an iCalendar feed",
    errors=(400, 403, 503),
    responses={
        "200": {
            "description": "RFC 5545 calendar, one VEVENT per appointment.",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    },
)
@appointments.arguments(ListQuery(), location="query")
def appointments_calendar(query: BookQuery) -> Response:
    """Subscribe to this URL from Google Calendar, Outlook or Apple Calendar. By default the
    active appointments and the live holds (STATUS:TENTATIVE); expired holds never show."""
    if query.status == ACTIVE:
        query = replace(query, status=LIVE)
    book = replicas.read(queries.list_appointments, query, access())
    body = ics.render(book, name=f"Sesame {query.calendar or 'appointments'}")
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-cache"})


# One rule for both methods: werkzeug answers 405 instead of 404 when a converter refuses the
# id on one of two rules that share a path, so odd ids (abc, -1, 20 digits) must meet one rule.
@appointments.route("/appointments/<id:appointment_id>")
class AppointmentById(MethodView):
    @appointments.operation("getAppointment", "Get one appointment", errors=(404, 503))
    @appointments.response(200, AppointmentOut, headers=ETAG_HEADER)
    @appointments.alt_response(304, description="Not modified: If-None-Match holds its ETag.")
    def get(self, appointment_id: int) -> Any:
        appointment = queries.get_appointment(db.engine, appointment_id, access())
        if not_modified(appointment):
            return Response(status=304, headers={"ETag": etag(appointment)})
        return with_etag(appointment)

    @appointments.operation(
        "cancelAppointment",
        "Cancel an appointment",
        errors=(403, 404, 412, 503),
        parameters=[IF_MATCH],
        scope=WRITE,
    )
    @appointments.response(200, AppointmentOut, description="Cancelled (or already was).")
    def delete(self, appointment_id: int) -> Any:
        """The record and its history stay; the slot is free at once."""
        cancelled = services.cancel_appointment(
            db.engine, appointment_id=appointment_id, precondition=precondition(), access=access()
        )
        return with_etag(cancelled)


@appointments.route("/appointments/<id:appointment_id>/history", methods=["GET"])
@appointments.operation("getAppointmentHistory", "Every version, oldest first", errors=(404, 503))
@appointments.response(200, AppointmentVersionOut(many=True))
def get_appointment_history(appointment_id: int) -> Any:
    return queries.appointment_history(db.engine, appointment_id, access())


@appointments.route("/changes", methods=["GET"])
@appointments.operation("listChanges", "Change feed: every version, once", errors=(400, 503))
@appointments.arguments(ChangesQuery(), location="query")
@appointments.response(200, ChangesOut)
def list_changes(query: dict[str, Any]) -> Any:
    """Follow `next` to keep a copy in sync: each version appears exactly once, in order."""
    return queries.changes(db.engine, after=query["since"], limit=query["limit"], access=access())


@appointments.route("/availability", methods=["GET"])
@appointments.operation(
    "getAvailability", "Busy and free time of a calendar", errors=(400, 403, 503)
)
@appointments.arguments(AvailabilityQuery(), location="query")
@appointments.response(200, AvailabilityOut)
def get_availability(query: dict[str, Any]) -> Any:
    return replicas.read(
        queries.availability,
        calendar=query["calendar"],
        start=query["start"],
        end=query["end"],
        min_duration=timedelta(minutes=query["min_duration"]),
        access=access(),
    )


@appointments.route("/health", methods=["GET"])
@appointments.operation("getHealth", "Liveness: the process serves", always=OPEN_ROUTE, scope=None)
@appointments.response(200, HealthOut, description="The process serves requests.")
def health() -> Any:
    """Answers without touching the database: restart the process only if this fails."""
    return {"status": "ok"}


@appointments.route("/health/ready", methods=["GET"])
@appointments.operation(
    "getReadiness",
    "Readiness: database up, schema current",
    always=OPEN_ROUTE,
    scope=None,
    more={503: "`not_ready`: the database does not answer or its schema is not current."},
)
@appointments.response(200, ReadinessOut, description="Ready to serve.")
def readiness() -> Any:
    """Send traffic here only while this answers 200."""
    expected = current_app.config["SCHEMA_HEAD"]
    try:
        revision = queries.schema_revision(db.engine)
    except psycopg.Error:
        return not_ready("The database does not answer.", database="down")
    if revision != expected:
        message = f"The database schema is at {revision}, not at the latest migration {expected}."
        return not_ready(message, database="ok", schema=revision)
    ready = {"status": "ok", "database": "ok", "schema": revision}
    # Reported, never a reason to be unready: reads fall back to the primary.
    return {**ready, "replicas": replicas.states()} if current_app.config["REPLICA_URLS"] else ready


def not_ready(message: str, **checks: str | None) -> Response:
    return respond(NOT_READY, message=message, checks=checks)
