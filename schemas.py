"""The API's wire format: what clients may send and what they get back, as marshmallow schemas.

Validation and conversion happen here and nowhere else: a request that passes these schemas
reaches `services.py` and `queries.py` as the plain types of domain.py (`AppointmentData`,
`BookQuery`). The codecs underneath (times, ids, cursors) are formats.py's. Never touches the
database, never reads the request itself (smorest hands the schemas what to load).
"""

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    missing,
    post_load,
    validate,
    validates_schema,
)

from domain import (
    ACTIVE,
    ALL,
    CALENDAR_NAME,
    FEED_START,
    HELD,
    STATUSES,
    AppointmentData,
    BookQuery,
    FeedPosition,
)
from formats import (
    CURSOR_PATTERN,
    DIGITS,
    ID_STRING_PATTERN,
    MAX_BIGINT,
    TIME_FORMATS,
    TIME_PATTERN,
    decode_cursor,
    encode_cursor,
    format_time,
    parse_client_id,
    parse_page_cursor,
    parse_time,
)

DEFAULT_CALENDAR = "default"


class ClientId(fields.Field):
    """The client's own appointment id; `"42"` is accepted and answered as `42`."""

    def __init__(self, **kwargs: Any) -> None:
        # The document states both forms exactly: a JSON integer, or the digits as a string
        # (for clients, such as JavaScript, whose numbers cannot hold every 64-bit id).
        forms = [
            {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
            {"type": "string", "pattern": ID_STRING_PATTERN, "maxLength": 19},
        ]
        super().__init__(metadata={"oneOf": forms, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_client_id(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class ClientTime(fields.Field):
    """A request time in any of the accepted formats, loaded as an aware UTC datetime."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": TIME_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        try:
            return parse_time(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class UtcTime(fields.Field):
    """A response time: always `YYYY-MM-DDTHH:MM:SS.sssZ`."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_time(value)


class HoldTime(UtcTime):
    """`expiresAt`: answered for holds (live or expired) only; left out otherwise."""

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        value = super().serialize(attr, obj, accessor, **kwargs)
        return missing if value is None else value


class QueryInteger(fields.Field):
    """A non-negative integer query parameter written in ASCII digits only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not DIGITS.fullmatch(value):
            raise ValidationError("Must be a non-negative integer.")
        return int(value)


def validate_calendar(value: str) -> None:
    if not CALENDAR_NAME.fullmatch(value):
        raise ValidationError("Must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'.")


def _calendar_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate_calendar,
        metadata={
            "description": "The calendar the appointment books: a room, a person, a chair. "
            "Overlaps are refused within one calendar only.",
            "pattern": f"^{CALENDAR_NAME.pattern}$",
            "example": "room-1",
        },
        **kwargs,
    )


_ID_DOC = {
    "description": "Client-chosen id, 1 to 2^63-1. A string of digits is accepted too.",
    "example": 42,
}


class AppointmentIn(Schema):
    """Body of `POST /appointments`: create the appointment or update it by id."""

    id = ClientId(required=True, metadata=_ID_DOC)
    calendar = _calendar_field(load_default=DEFAULT_CALENDAR)
    start = ClientTime(required=True, metadata={"example": "2026-12-01 09:00"})
    end = ClientTime(
        required=True,
        metadata={
            "description": "Exclusive: the next appointment may start here.",
            "example": "2026-12-01 09:30",
        },
    )
    created_at = ClientTime(
        required=True, data_key="createdAt", metadata={"example": "2026-11-26T08:00:00Z"}
    )
    updated_at = ClientTime(
        required=True,
        data_key="updatedAt",
        metadata={
            "description": "The client's own time of this change: the latest one wins.",
            "example": "2026-11-26T08:00:00Z",
        },
    )

    status = fields.String(
        load_default=ACTIVE,
        validate=validate.OneOf([ACTIVE, HELD]),
        metadata={
            "description": "`active` (default): a booking. `held`: a hold, which keeps the "
            "range for `holdFor` seconds, then expires by itself; confirm it by sending it "
            "again as `active`.",
            "example": ACTIVE,
        },
    )
    hold_for = fields.Integer(
        data_key="holdFor",
        strict=True,
        metadata={
            "description": "With `status: held`: seconds the hold lasts, from when the server "
            "records it (1 to HOLD_MAX_S, 900 by default; default HOLD_DEFAULT_S, 300).",
            "minimum": 1,
            "example": 300,
        },
    )

    @validates_schema
    def _starts_before_it_ends(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data and data["start"] >= data["end"]:
            raise ValidationError("Must be later than start.", "end")

    @validates_schema
    def _hold_for_a_hold(self, data: dict[str, Any], **kwargs: Any) -> None:
        hold_for = data.get("hold_for")
        if hold_for is None:
            return
        if data.get("status") != HELD:
            raise ValidationError("Only a hold (status held) lasts holdFor.", "holdFor")
        longest = current_app.config["HOLD_MAX_S"]
        if not 1 <= hold_for <= longest:
            raise ValidationError(f"Must be from 1 to {longest} seconds.", "holdFor")

    @post_load
    def _to_data(self, data: dict[str, Any], **kwargs: Any) -> AppointmentData:
        if data["status"] == HELD and data.get("hold_for") is None:
            data["hold_for"] = current_app.config["HOLD_DEFAULT_S"]
        return AppointmentData(**data)


class AppointmentOut(Schema):
    """An appointment as the service stores it."""

    id = fields.Integer(required=True, metadata={"example": 42})
    calendar = fields.String(required=True, metadata={"example": "room-1"})
    start = UtcTime(required=True, metadata={"example": "2026-12-01T09:00:00.000Z"})
    end = UtcTime(required=True, metadata={"example": "2026-12-01T09:30:00.000Z"})
    created_at = UtcTime(
        required=True, data_key="createdAt", metadata={"example": "2026-11-26T08:00:00.000Z"}
    )
    updated_at = UtcTime(
        required=True, data_key="updatedAt", metadata={"example": "2026-11-26T08:00:00.000Z"}
    )
    version = fields.Integer(
        required=True, metadata={"description": "1 on creation, +1 per change."}
    )
    status = fields.String(
        required=True,
        metadata={
            "description": "`active`; `cancelled` (the slot is free); `held` (kept until "
            "`expiresAt`); `expired` (a hold that ran out: the slot is free).",
            "enum": list(STATUSES),
            "example": ACTIVE,
        },
    )
    expires_at = HoldTime(
        data_key="expiresAt",
        metadata={
            "description": "Holds only: when the hold stops keeping its range (server time).",
            "example": "2026-11-26T08:05:00.000Z",
        },
    )


class AppointmentVersionOut(AppointmentOut):
    """One entry of an appointment's history."""

    recorded_at = UtcTime(
        required=True,
        data_key="recordedAt",
        metadata={
            "description": "Server time this version was written.",
            "example": "2026-11-26T08:00:01.234Z",
        },
    )
    recorded_by = fields.String(
        required=True,
        allow_none=True,
        data_key="recordedBy",
        metadata={
            "description": "The name of the API key that wrote this version; null when the "
            "API was open (no keys).",
            "example": "clinic-a",
        },
    )


def _cursor_doc(description: str, **more: Any) -> dict[str, Any]:
    """A cursor in the document: an opaque string of its alphabet and length."""
    refused = " One of this form that this service did not give out: 400 `validation_failed`."
    return {
        "type": "string",
        "pattern": CURSOR_PATTERN,
        "description": description + refused,
        **more,
    }


class FeedCursor(fields.Field):
    """The change feed's opaque position; clients hand back the `next` they were given."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return encode_cursor(value.txid, value.seq)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return FeedPosition(*decode_cursor(value))
        except ValueError as error:
            raise ValidationError(str(error)) from None


class PageCursor(fields.Field):
    """A list's keyset position, as given in the `Link: <...>; rel="next"` header."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_page_cursor(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class WindowQuery(Schema):
    """A time window `[from, to)`; each bound optional unless a subclass requires it."""

    start_doc = {
        "description": "Window start (inclusive). " + TIME_FORMATS,
        "example": "2026-12-01 00:00",
    }
    end_doc = {
        "description": "Window end (exclusive); must be after `from`.",
        "example": "2026-12-02 00:00",
    }
    start = ClientTime(data_key="from", metadata=start_doc)
    end = ClientTime(data_key="to", metadata=end_doc)

    @validates_schema
    def _window_is_not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ValidationError("Must be later than from.", "to")


class ListQuery(WindowQuery):
    """Query of `GET /appointments` and of the iCalendar feed."""

    limit = QueryInteger(
        load_default=100, validate=validate.Range(1, 1000), metadata={"example": 100}
    )
    offset = QueryInteger(load_default=0, validate=validate.Range(0, MAX_BIGINT))
    calendar = _calendar_field()
    status = fields.String(
        load_default=ACTIVE,
        validate=validate.OneOf([*STATUSES, ALL]),
        metadata={
            "description": "Which appointments: `active` (default), `cancelled`, `held` (live "
            "holds), `expired` (holds that ran out), `all`."
        },
    )
    at = ClientTime(
        metadata={
            "description": "The book as it was at this server time: any `recordedAt` works.",
            "example": "2026-11-26T08:00:01.234Z",
        }
    )

    cursor = PageCursor(
        data_key="cursor",
        attribute="after",
        metadata=_cursor_doc(
            'Keyset position from the `Link: <...>; rel="next"` header of '
            "the previous page: as fast at any depth, unlike `offset`."
        ),
    )

    @validates_schema
    def _one_way_to_page(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("after") and data.get("offset"):
            raise ValidationError("Use cursor or offset, not both.", "cursor")

    @post_load
    def _to_query(self, data: dict[str, Any], **kwargs: Any) -> BookQuery:
        return BookQuery(**data)


class AvailabilityQuery(WindowQuery):
    """Query of `GET /availability`."""

    MAX_WINDOW = timedelta(days=366)

    start = ClientTime(required=True, data_key="from", metadata=WindowQuery.start_doc)
    end = ClientTime(required=True, data_key="to", metadata=WindowQuery.end_doc)
    calendar = _calendar_field(load_default=DEFAULT_CALENDAR)
    min_duration = QueryInteger(
        data_key="minDuration",
        load_default=0,
        validate=validate.Range(0, 366 * 24 * 60),
        metadata={"description": "Leave out free gaps shorter than this many minutes."},
    )

    @validates_schema
    def _window_is_bounded(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end"] - data["start"] > self.MAX_WINDOW:
            raise ValidationError("The window may span at most 366 days.", "to")


class BusyOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 42})
    start = UtcTime(required=True, metadata={"example": "2026-12-01T09:00:00.000Z"})
    end = UtcTime(required=True, metadata={"example": "2026-12-01T09:30:00.000Z"})


class FreeOut(Schema):
    start = UtcTime(required=True, metadata={"example": "2026-12-01T09:30:00.000Z"})
    end = UtcTime(required=True, metadata={"example": "2026-12-02T00:00:00.000Z"})


class AvailabilityOut(Schema):
    """Busy, free and closed together tile `[from, to)` exactly, each in order, clipped to it:
    busy first, then closed (outside open time), the rest free."""

    calendar = fields.String(required=True, metadata={"example": "room-1"})
    start = UtcTime(
        required=True, data_key="from", metadata={"example": "2026-12-01T00:00:00.000Z"}
    )
    end = UtcTime(required=True, data_key="to", metadata={"example": "2026-12-02T00:00:00.000Z"})
    busy = fields.List(fields.Nested(BusyOut), required=True)
    free = fields.List(fields.Nested(FreeOut), required=True)
    closed = fields.List(
        fields.Nested(FreeOut),
        required=True,
        metadata={
            "description": "Outside the calendar's open time (and not busy); empty for a "
            "calendar without hours. Busy, free and closed tile the window."
        },
    )


class ChangesQuery(Schema):
    """Query of `GET /changes`."""

    since = FeedCursor(
        load_default=FEED_START,
        metadata=_cursor_doc(
            "The `next` of the previous page; leave out to start at the beginning."
        ),
    )
    limit = QueryInteger(load_default=100, validate=validate.Range(1, 1000))


class ChangesOut(Schema):
    changes = fields.List(
        fields.Nested(AppointmentVersionOut),
        required=True,
        metadata={"description": "Versions in commit-safe order; each exactly once."},
    )
    next = FeedCursor(
        required=True,
        metadata={
            "type": "string",
            "pattern": CURSOR_PATTERN,
            "description": "Pass as `since` to get what follows.",
            "example": "MTIzNC41Njc",
        },
    )


class ErrorOut(Schema):
    """Every error the API answers, whatever its status."""

    status_code = fields.Integer(required=True, data_key="statusCode", metadata={"example": 409})
    error = fields.String(
        required=True,
        metadata={"description": "Stable snake_case code.", "example": "time_range_unavailable"},
    )
    message = fields.String(
        required=True, metadata={"example": "The requested time range is not available."}
    )
    timestamp = UtcTime()
    errors = fields.Dict(metadata={"description": "Per-field messages, for validation_failed."})
    conflicts = fields.List(
        fields.Integer(),
        metadata={"description": "Ids in the way, for time_range_unavailable.", "example": [7]},
    )
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "What failed, for not_ready.", "example": {"database": "down"}},
    )


class ProblemOut(Schema):
    """RFC 9457 problem details, for clients that send Accept: application/problem+json."""

    type = fields.String(
        required=True, metadata={"example": "urn:sesame:problem:time_range_unavailable"}
    )
    title = fields.String(required=True, metadata={"example": "Time range unavailable"})
    status = fields.Integer(required=True, metadata={"example": 409})
    detail = fields.String(
        required=True, metadata={"example": "The requested time range is not available."}
    )
    instance = fields.String(required=True, metadata={"example": "/appointments"})
    error = fields.String(
        required=True,
        metadata={
            "description": "The same stable code as the JSON errors.",
            "example": "time_range_unavailable",
        },
    )
    errors = fields.Dict(metadata={"description": "Per-field messages, for validation_failed."})
    conflicts = fields.List(fields.Integer(), metadata={"example": [7]})
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadinessOut(HealthOut):
    database = fields.String(metadata={"example": "ok"})
    schema = fields.String(metadata={"description": "Migration revision.", "example": "0002"})
    replicas = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": "Each read replica (DATABASE_REPLICA_URL), if any: `ok`, `lagging` "
            "(further behind than REPLICA_MAX_LAG_S) or `down`. Reads skip all but `ok` ones.",
            "example": {"replica-1": "ok"},
        },
    )
