"""The HTTP operations of booking hours: a calendar's settings and the slots it offers.

Routes only, as views.py: each view gets what calendars_schemas.py parsed, makes one call into
services.py (the PUT) or queries.py (reads) and returns; domain errors leave through errors.py.
"""

from dataclasses import replace
from typing import Any

from flask import Response

import queries
import replicas
import services
from auth import access
from calendars_schemas import (
    CALENDAR_EXAMPLE,
    CalendarSettingsSchema,
    SlotsOut,
    SlotsQuery,
    slots_json,
)
from database import db
from domain import CalendarSettings, SlotQuery
from openapi import ETAG_HEADER, IF_MATCH, WRITE, SesameBlueprint
from protocol import precondition, with_etag

NOT_A_CALENDAR = "`not_found`: the path's calendar name is not 1 to 64 of A-Z, a-z, 0-9, . _ -."
calendars = SesameBlueprint(
    "calendars",
    __name__,
    description="Booking hours: a calendar's time zone, weekly hours, overrides and buffers, "
    "and the slots it offers.",
)


@calendars.route("/calendars", methods=["GET"])
@calendars.operation("listCalendars", "Calendars with settings", errors=(503,))
@calendars.response(200, CalendarSettingsSchema(many=True))
def list_calendars() -> Any:
    """The calendars that have been configured (PUT), by name; with a key, those it opens."""
    return queries.list_calendars(db.engine, access())


@calendars.route("/calendars/<calendar:calendar>", methods=["GET"])
@calendars.operation(
    "getCalendar", "A calendar's settings", errors=(403, 503), more={404: NOT_A_CALENDAR}
)
@calendars.response(200, CalendarSettingsSchema, headers=ETAG_HEADER)
def get_calendar(calendar: str) -> Any:
    """Every calendar has settings: one never configured answers the defaults, version 0
    (open at all times, no buffers, nothing enforced)."""
    return with_etag(queries.get_calendar(db.engine, calendar, access()))


@calendars.route("/calendars/<calendar:calendar>", methods=["PUT"])
@calendars.operation(
    "putCalendar",
    "Replace a calendar's settings",
    errors=(400, 403, 412, 503),
    scope=WRITE,
    parameters=[IF_MATCH],
    more={
        404: NOT_A_CALENDAR,
        413: "`payload_too_large`: the body is larger than MAX_BODY_BYTES.",
        415: "`unsupported_media_type`: the body is not JSON.",
    },
)
@calendars.arguments(CalendarSettingsSchema(), example=CALENDAR_EXAMPLE)
@calendars.response(200, CalendarSettingsSchema, headers=ETAG_HEADER)
def put_calendar(settings: CalendarSettings, calendar: str) -> Any:
    """What the body leaves out takes its default. Stored appointments are never rewritten;
    every later write to the calendar is checked against the new settings."""
    saved = services.save_calendar(
        db.engine,
        settings=replace(settings, calendar=calendar),
        precondition=precondition(),
        access=access(),
    )
    return with_etag(saved)


@calendars.route("/slots", methods=["GET"])
@calendars.operation("getSlots", "Bookable starts", errors=(400, 403, 503))
@calendars.arguments(SlotsQuery(), location="query")
@calendars.response(200, SlotsOut)
def get_slots(query: SlotQuery) -> Any:
    """The starts on the local wall-clock grid of `timeZone` that fit the calendars' hours,
    notice, horizon and buffers and meet no appointment. On a calendar that enforces its
    hours, booking an offered slot succeeds unless something was booked in between."""
    answer = replicas.read(queries.slots, query, access())
    return Response(slots_json(answer), mimetype="application/json")
