"""The wire format of booking hours: a calendar's settings and the slots query and answer.

Wall-clock times are `HH:MM` strings (localtime.py parses them), intervals `[from, to]` pairs,
half-open; zones are IANA names that the pinned tzdata package knows. A request that passes
these schemas reaches services.py and queries.py as domain.py's `CalendarSettings` and
`SlotQuery`. Never touches the database, never reads the request itself.
"""

import functools
import math
import re
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

import localtime
from domain import (
    CALENDAR_NAME,
    MINUTES_A_DAY,
    WEEKDAYS,
    CalendarSettings,
    ClockInterval,
    SlotQuery,
    Slots,
)
from formats import format_time
from schemas import ClientTime, QueryInteger, UtcTime, validate_calendar

_NAME_PATTERN = f"^{CALENDAR_NAME.pattern}$"
CLOCK_PATTERN = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE = re.compile(DATE_PATTERN[1:-1], re.ASCII)
_INTERVALS_DOC = {
    "type": "array",
    "items": {
        "type": "array",
        "items": {"type": "string", "pattern": CLOCK_PATTERN},
        "minItems": 2,
        "maxItems": 2,
        "description": "`[from, to)` local wall-clock times; `to` may be `24:00`; `to` before "
        '`from` ends the next day (`["22:00", "02:00"]`); `from` equal to `to` is refused.',
    },
    "maxItems": 48,
}


def _intervals(value: Any) -> tuple[ClockInterval, ...]:
    """One date's intervals, checked: well formed, none empty, none overlapping another."""
    if not isinstance(value, list) or len(value) > 48:
        raise ValidationError("Must be a list of at most 48 [from, to] pairs.")
    intervals = []
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(clock, str) for clock in pair)
        ):
            raise ValidationError('Each interval must be a pair ["HH:MM", "HH:MM"].')
        try:
            start, end = localtime.parse_clock(pair[0]), localtime.parse_clock(pair[1])
        except ValueError as error:
            raise ValidationError(f"{error} ({pair[0]!r}, {pair[1]!r})") from None
        if start == MINUTES_A_DAY:
            raise ValidationError("An interval cannot start at 24:00.")
        if start == end:
            raise ValidationError(f"An interval must not start where it ends ({pair[0]}).")
        intervals.append((start, end))
    # Overnight ones as [from, to + 24h): two of one date may not overlap on that line.
    spans = sorted((start, end if end > start else end + MINUTES_A_DAY) for start, end in intervals)
    for (_, first_end), (second_start, _) in zip(spans, spans[1:], strict=False):
        if second_start < first_end:
            raise ValidationError("Intervals of one day must not overlap.")
    return tuple(sorted(intervals))


class Hours(fields.Field):
    """Weekday (`mon`..`sun`) to its intervals; a weekday left out is closed."""

    def __init__(self, **kwargs: Any) -> None:
        doc = {
            "type": "object",
            "nullable": True,
            "properties": {day: _INTERVALS_DOC for day in WEEKDAYS},
            "additionalProperties": False,
            "description": "Weekly open hours, local to `timeZone`: weekday to intervals. "
            "A weekday left out is closed; null (the default) is open at all times.",
            "example": {
                "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
                "fri": [["22:00", "02:00"]],
            },
        }
        super().__init__(metadata=doc, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("Must be an object of weekdays, or null.")
        unknown = sorted(set(value) - set(WEEKDAYS))
        if unknown:
            raise ValidationError(f"Not a weekday: {', '.join(unknown)}; use mon..sun.")
        return {day: _intervals(intervals) for day, intervals in value.items()}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return {day: localtime.intervals_to_json(value[day]) for day in WEEKDAYS if day in value}


class Overrides(fields.Field):
    """A local date to the intervals that replace its weekly ones (`[]` closes the day)."""

    def __init__(self, **kwargs: Any) -> None:
        doc = {
            "type": "object",
            "additionalProperties": _INTERVALS_DOC,
            "description": "Local date `YYYY-MM-DD` to the intervals that replace that date's "
            "weekly ones; `[]` closes the day. At most 1000 dates.",
            "example": {"2027-12-24": [["09:00", "12:00"]], "2027-12-25": []},
        }
        super().__init__(metadata=doc, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict) or len(value) > 1000:
            raise ValidationError("Must be an object of at most 1000 dates.")
        overrides = {}
        for day, intervals in value.items():
            try:
                # fromisoformat alone takes week dates and other forms than YYYY-MM-DD.
                parsed = date.fromisoformat(day) if _DATE.fullmatch(day) else None
            except ValueError:
                parsed = None
            if parsed is None:
                raise ValidationError(f"Not a date YYYY-MM-DD: {day!r}.")
            overrides[parsed] = _intervals(intervals)
        return overrides

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return {day.isoformat(): localtime.intervals_to_json(value[day]) for day in sorted(value)}


class _JsonBoolean(fields.Boolean):
    """`true` or `false` only: marshmallow's own takes 0, 1, "yes" (and 0 == False)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class _ReadOnlyTime(ClientTime):
    """A response time that a PUT may send back as it got it (or null); checked, ignored."""

    _serialize = UtcTime._serialize


def validate_zone(value: str) -> None:
    try:
        localtime.zone(value)
    except localtime.UnknownZone as error:
        raise ValidationError(str(error)) from None


def _minutes(key: str, high: int, description: str) -> fields.Integer:
    return fields.Integer(
        data_key=key,
        strict=True,
        load_default=0,
        validate=validate.Range(0, high),
        metadata={"description": description, "example": 0},
    )


_ZONE_DOC = {"description": "An IANA time zone name.", "example": "America/New_York"}


class CalendarSettingsSchema(Schema):
    """A calendar's booking hours and rules. `PUT` replaces all of them: what it leaves out
    takes its default. `calendar`, `version` and `updatedAt` may be sent back as a GET gave
    them; a PUT ignores them (the path names the calendar)."""

    calendar = fields.String(
        validate=validate_calendar,
        metadata={
            "example": "dr-lee",
            "pattern": _NAME_PATTERN,
            "description": "The path's calendar. Ignored in a PUT.",
        },
    )
    time_zone = fields.String(
        data_key="timeZone", load_default="UTC", validate=validate_zone, metadata=_ZONE_DOC
    )
    hours = Hours(allow_none=True, load_default=None)
    overrides = Overrides(load_default=dict)
    buffer_before = _minutes(
        "bufferBefore", 1440, "Minutes kept free before each appointment (0-1440)."
    )
    buffer_after = _minutes(
        "bufferAfter", 1440, "Minutes kept free after each appointment (0-1440)."
    )
    minimum_notice = _minutes(
        "minimumNotice", 5_256_000, "Slots start at least this many minutes from now."
    )
    horizon = fields.Integer(
        strict=True,
        load_default=365,
        validate=validate.Range(1, 3650),
        metadata={"description": "Slots start less than this many days from now.", "example": 60},
    )
    enforce = _JsonBoolean(
        load_default=False,
        metadata={
            "description": "Refuse writes outside open time (409 `outside_hours`) or whose "
            "range with buffers meets another appointment's (409 `time_range_unavailable`).",
            "example": True,
        },
    )
    version = fields.Integer(
        strict=True,
        metadata={
            "description": "0 until the first PUT, +1 per PUT. Ignored in a PUT.",
            "example": 3,
        },
    )
    updated_at = _ReadOnlyTime(
        data_key="updatedAt",
        allow_none=True,
        metadata={
            "description": "When the last PUT was recorded (null before). Ignored in a PUT.",
            "example": "2027-01-04T10:00:00.000Z",
        },
    )

    @post_load
    def _to_settings(self, data: dict[str, Any], **kwargs: Any) -> CalendarSettings:
        data.pop("version", None)
        data.pop("updated_at", None)
        return CalendarSettings(calendar=data.pop("calendar", ""), **data)


CALENDAR_EXAMPLE = {
    "timeZone": "America/New_York",
    "hours": {
        "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
        "tue": [["09:00", "17:00"]],
        "fri": [["22:00", "02:00"]],
    },
    "overrides": {"2027-12-24": [["09:00", "12:00"]], "2027-12-25": []},
    "bufferBefore": 10,
    "bufferAfter": 5,
    "minimumNotice": 120,
    "horizon": 60,
    "enforce": True,
}


def _divides_a_day(minutes: int) -> None:
    if not 1 <= minutes <= MINUTES_A_DAY or MINUTES_A_DAY % minutes:
        raise ValidationError("Must be from 1 to 1440 and divide 1440 (a day) evenly.")


class SlotsQuery(Schema):
    """Query of `GET /slots`."""

    MAX_WINDOW = timedelta(days=31)

    calendars = fields.List(
        fields.String(validate=validate_calendar, metadata={"pattern": _NAME_PATTERN}),
        data_key="calendar",
        required=True,
        validate=validate.Length(1, 20),
        metadata={"description": "1 to 20 calendars; repeat the parameter.", "example": ["dr-lee"]},
    )
    start = ClientTime(
        required=True,
        data_key="from",
        metadata={"description": "Slots start at or after this.", "example": "2027-03-01 00:00"},
    )
    end = ClientTime(
        required=True,
        data_key="to",
        metadata={
            "description": "Slots end at or before this; at most 31 days after `from`.",
            "example": "2027-03-08 00:00",
        },
    )
    duration = QueryInteger(
        required=True,
        validate=validate.Range(1, 1440),
        metadata={"description": "Minutes, 1-1440.", "example": 30},
    )
    interval = QueryInteger(
        load_default=15,
        validate=_divides_a_day,
        metadata={
            "description": "Minutes between candidate starts on the local wall clock; divides "
            "1440.",
            "example": 15,
        },
    )
    time_zone = fields.String(
        data_key="timeZone",
        validate=validate_zone,
        metadata={
            "description": "The zone of the start grid; default: the first calendar's.",
            "example": "Europe/Berlin",
        },
    )
    required = QueryInteger(
        metadata={
            "description": "Offer a start free on at least this many of the calendars; "
            "default: all of them.",
            "example": 1,
        }
    )

    @validates_schema
    def _bounded(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data:
            if data["end"] <= data["start"]:
                raise ValidationError("Must be later than from.", "to")
            if data["end"] - data["start"] > self.MAX_WINDOW:
                raise ValidationError("The window may span at most 31 days.", "to")
        required = data.get("required")
        if required is not None and "calendars" in data:
            if not 1 <= required <= len(set(data["calendars"])):
                raise ValidationError("Must be from 1 to the number of calendars.", "required")

    @post_load
    def _to_query(self, data: dict[str, Any], **kwargs: Any) -> SlotQuery:
        calendars = tuple(dict.fromkeys(data.pop("calendars")))
        return SlotQuery(calendars=calendars, **data)


class SlotOut(Schema):
    start = UtcTime(required=True, metadata={"example": "2027-03-01T08:00:00.000Z"})
    end = UtcTime(required=True, metadata={"example": "2027-03-01T08:30:00.000Z"})
    calendars = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The calendars free for it, sorted.", "example": ["dr-lee"]},
    )


class SlotsOut(Schema):
    """The starts on the grid that at least `required` calendars can take, by start."""

    start = UtcTime(
        required=True, data_key="from", metadata={"example": "2027-03-01T00:00:00.000Z"}
    )
    end = UtcTime(required=True, data_key="to", metadata={"example": "2027-03-08T00:00:00.000Z"})
    duration = fields.Integer(required=True, metadata={"example": 30})
    interval = fields.Integer(required=True, metadata={"example": 15})
    time_zone = fields.String(required=True, data_key="timeZone", metadata=_ZONE_DOC)
    required = fields.Integer(required=True, metadata={"example": 1})
    slots = fields.List(fields.Nested(SlotOut), required=True)


def slots_json(answer: Slots) -> bytes:
    """`answer` as SlotsOut dumps it, built directly: a month of slots is thousands of times,
    and marshmallow's dump of them cost more than finding them (a test holds the two equal).
    Each instant is formatted once: a slot's end is mostly a later slot's start."""
    formatted: dict[datetime, str] = {}

    def utc(moment: datetime) -> str:
        text = formatted.get(moment)
        if text is None:
            text = formatted[moment] = _utc(moment)
        return text

    return orjson.dumps(
        {
            "duration": answer.duration,
            "from": format_time(answer.start),
            "interval": answer.interval,
            "required": answer.required,
            "slots": [
                {"calendars": slot.calendars, "end": utc(slot.end), "start": utc(slot.start)}
                for slot in answer.slots
            ],
            "timeZone": answer.time_zone,
            "to": format_time(answer.end),
        }
    )


def _utc(moment: datetime) -> str:
    """format_time for the instants slots.py makes, at a fifth of its cost: the date and the
    clock of a grid repeat, so each is formatted once (and kept, a few thousand at most)."""
    day, second = divmod(math.floor(moment.timestamp()), 86400)
    return _date_part(day) + _clock_part(second, moment.microsecond // 1000)


@functools.lru_cache(maxsize=4096)
def _date_part(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat() + "T"


@functools.lru_cache(maxsize=4096)
def _clock_part(second: int, millisecond: int) -> str:
    hours, rest = divmod(second, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{millisecond:03d}Z"


_EPOCH = date(1970, 1, 1)
