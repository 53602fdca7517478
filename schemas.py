"""The API's wire format: what clients may send, what they get back, and the OpenAPI shapes.

Validation and conversion happen here and nowhere else: a request that passes these schemas
reaches `services.py` as plain typed data (`AppointmentData`). Never touches the database.
"""

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from models import ACTIVE, CANCELLED
from queries import ALL, FEED_START, BookQuery, FeedPosition
from services import AppointmentData

MAX_BIGINT = 2**63 - 1
DEFAULT_CALENDAR = "default"

# re.ASCII and fullmatch throughout: Python's `\d` and `int()` accept non-ASCII digits, and
# `re.match` would let a trailing "\n" through.
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,60}", re.ASCII)
_CALENDAR = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)

# The accepted request times, as an ECMA regex for the OpenAPI document.
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
    r"(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
TIME_FORMATS = (
    "`YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS`, or ISO 8601 (`T`, optional fraction, "
    "optional `Z`/`±HH:MM`). A time without an offset is UTC; it is kept to the millisecond."
)


def parse_time(text: str) -> datetime:
    """Parse one of the accepted request time formats into an aware UTC datetime.

    Fractions are truncated to milliseconds, the precision every response shows, so that a
    time read from the API and sent back compares equal to the stored one.
    """
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError("Not a valid time. Use " + TIME_FORMATS)
    year, month, day = (int(part) for part in match["date"].split("-"))
    fraction = (match["fraction"] or "").ljust(3, "0")[:3]
    offset = match["offset"] or "Z"
    if offset == "Z":
        tz = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("Not a valid UTC offset.")
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        local = datetime(
            year,
            month,
            day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int(fraction) * 1000,
            tzinfo=tz,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("Not a valid time: no such date or time of day.") from None


def format_time(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.sssZ`, UTC, milliseconds: the one format of every response."""
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


def parse_client_id(value: object) -> int:
    """A positive integer up to 2^63-1, as a JSON number or a string of ASCII digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Must be a positive integer.")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("Must be a positive integer (up to 19 ASCII digits).")
        value = int(value)
    if not 1 <= value <= MAX_BIGINT:
        raise ValueError(f"Must be between 1 and {MAX_BIGINT}.")
    return value


class ClientId(fields.Field):
    """The client's own appointment id; `"42"` is accepted and answered as `42`."""

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


class QueryInteger(fields.Field):
    """A non-negative integer query parameter written in ASCII digits only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise ValidationError("Must be a non-negative integer.")
        return int(value)


def validate_calendar(value: str) -> None:
    if not _CALENDAR.fullmatch(value):
        raise ValidationError("Must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'.")


def _calendar_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate_calendar,
        metadata={
            "description": "The calendar the appointment books: a room, a person, a chair. "
            "Overlaps are refused within one calendar only.",
            "pattern": "^[A-Za-z0-9._-]{1,64}$",
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

    @validates_schema
    def _starts_before_it_ends(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data and data["start"] >= data["end"]:
            raise ValidationError("Must be later than start.", "end")

    @post_load
    def _to_data(self, data: dict[str, Any], **kwargs: Any) -> AppointmentData:
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
            "description": "`active`, or `cancelled` (the slot is free).",
            "enum": [ACTIVE, CANCELLED],
            "example": ACTIVE,
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


def _encode_pair(first: int, second: int) -> str:
    """Two non-negative integers as an opaque, URL-safe token."""
    return base64.urlsafe_b64encode(f"{first}.{second}".encode()).decode().rstrip("=")


def _decode_pair(value: Any) -> tuple[int, int]:
    try:
        if not isinstance(value, str) or not _CURSOR.fullmatch(value):
            raise ValueError
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        first, second = raw.split(".")
        if not (_DIGITS.fullmatch(first) and _DIGITS.fullmatch(second)):
            raise ValueError
        return int(first), int(second)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise ValidationError("Not a cursor this service gave out.") from None


class FeedCursor(fields.Field):
    """The change feed's opaque position; clients hand back the `next` they were given."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return _encode_pair(value.txid, value.seq)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return FeedPosition(*_decode_pair(value))


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def page_cursor(start: datetime, appointment_id: int) -> str:
    """Where the next page of a list starts: after this (start, id)."""
    return _encode_pair((start - _EPOCH) // timedelta(microseconds=1), appointment_id)


class PageCursor(fields.Field):
    """A list's keyset position, as given in the `Link: <...>; rel="next"` header."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        micros, appointment_id = _decode_pair(value)
        try:
            return _EPOCH + timedelta(microseconds=micros), appointment_id
        except OverflowError:
            raise ValidationError("Not a cursor this service gave out.") from None


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
        validate=validate.OneOf([ACTIVE, CANCELLED, ALL]),
        metadata={"description": "Which appointments: `active` (default), `cancelled`, `all`."},
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
        metadata={
            "description": 'Keyset position from the `Link: <...>; rel="next"` header of '
            "the previous page: as fast at any depth, unlike `offset`.",
        },
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
    """Busy and free together tile `[from, to)` exactly, in order, clipped to it."""

    calendar = fields.String(required=True, metadata={"example": "room-1"})
    start = UtcTime(
        required=True, data_key="from", metadata={"example": "2026-12-01T00:00:00.000Z"}
    )
    end = UtcTime(required=True, data_key="to", metadata={"example": "2026-12-02T00:00:00.000Z"})
    busy = fields.List(fields.Nested(BusyOut), required=True)
    free = fields.List(fields.Nested(FreeOut), required=True)


class ChangesQuery(Schema):
    """Query of `GET /changes`."""

    since = FeedCursor(
        load_default=FEED_START,
        metadata={
            "type": "string",
            "description": "The `next` of the previous page; leave out to start at the beginning.",
        },
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


# How the custom fields above appear in the OpenAPI document (type, format).
OPENAPI_TYPES = {
    ClientId: ("integer", "int64"),
    ClientTime: ("string", None),
    UtcTime: ("string", "date-time"),
    QueryInteger: ("integer", None),
    FeedCursor: ("string", None),
    PageCursor: ("string", None),
}
