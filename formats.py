"""The wire codecs: how times, ids and cursors are written in requests and responses.

Pure functions on strings and numbers, raising `ValueError` with a message fit for a client;
schemas.py wraps them in marshmallow fields, protocol.py and errors.py use them directly.
Never imports marshmallow, Flask or anything of the app.
"""

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone

MAX_BIGINT = 2**63 - 1

# re.ASCII and fullmatch throughout: Python's `\d` and `int()` accept non-ASCII digits, and
# `re.match` would let a trailing "\n" through.
DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def _at_most(bound: str) -> str:
    """A regex of the strings of len(bound) digits, without leading zero, up to `bound`."""
    below = [
        bound[:i]
        + f"[{'1' if i == 0 else '0'}-{int(digit) - 1}]"
        + f"[0-9]{{{len(bound) - i - 1}}}"
        for i, digit in enumerate(bound)
        if int(digit) > (1 if i == 0 else 0)
    ]
    return "|".join([*below, bound])


# The ids `parse_client_id` takes as strings (up to 19 ASCII digits, 1 to 2^63-1), as a regex
# for the OpenAPI document; with `maxLength: 19`, as leading zeros count.
ID_STRING_PATTERN = rf"^(0*[1-9][0-9]{{0,17}}|{_at_most(str(MAX_BIGINT))})$"
# Cursors: unpadded URL-safe base64 of two numbers of up to 19 digits (at most 52 characters),
# as the OpenAPI document states them.
CURSOR_PATTERN = "^[A-Za-z0-9_-]{4,52}$"
_CURSOR = re.compile(CURSOR_PATTERN, re.ASCII)
_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)


def _dates(year: str) -> str:
    """Every real calendar date in the years `year` matches, as a regex."""
    leap_year = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
    month_day = (
        r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
        r"|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
        r"|02-(0[1-9]|1[0-9]|2[0-8]))"
    )
    return rf"({year}-{month_day}|{leap_year}-02-29)"


_CLOCK = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
_ANY_YEAR = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_INNER_YEAR = (
    r"(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
# Exactly the request times `parse_time` accepts, as a regex that means the same in Python and
# ECMA (the OpenAPI document's dialect): real dates of years 0001-9999, real times of day, and
# UTC offsets up to ±23:59. An offset other than UTC is taken in years 0002-9998 only, so that
# every accepted time is a time of years 1-9999 in UTC too (0001-01-01T00:00+01:00 is not).
TIME_PATTERN = (
    rf"^({_dates(_ANY_YEAR)}{_CLOCK}(Z|[+-]00:00)?"
    rf"|{_dates(_INNER_YEAR)}{_CLOCK}[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_EXACT_TIME = re.compile(TIME_PATTERN, re.ASCII)
TIME_FORMATS = (
    "`YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS`, or ISO 8601 (`T`, optional fraction, "
    "optional `Z`/`±HH:MM`). A time without an offset is UTC; it is kept to the millisecond. "
    "Years 0001 to 9999; with an offset other than UTC, years 0002 to 9998."
)
NOT_A_CURSOR = "Not a cursor this service gave out."


def parse_time(text: str) -> datetime:
    """Parse one of the accepted request time formats into an aware UTC datetime.

    Fractions are truncated to milliseconds, the precision every response shows, so that a
    time read from the API and sent back compares equal to the stored one.
    """
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError("Not a valid time. Use " + TIME_FORMATS)
    if not _EXACT_TIME.fullmatch(text):
        raise ValueError("Not a valid time: no such date, time of day or UTC offset.")
    year, month, day = (int(part) for part in match["date"].split("-"))
    fraction = (match["fraction"] or "").ljust(3, "0")[:3]
    offset = match["offset"] or "Z"
    if offset == "Z":
        tz = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
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
    except (ValueError, OverflowError):  # never, if TIME_PATTERN is right: a 400, not a 500
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
        if not DIGITS.fullmatch(value):
            raise ValueError("Must be a positive integer (up to 19 ASCII digits).")
        value = int(value)
    if not 1 <= value <= MAX_BIGINT:
        raise ValueError(f"Must be between 1 and {MAX_BIGINT}.")
    return value


def encode_cursor(first: int, second: int) -> str:
    """Two non-negative integers as an opaque, URL-safe token."""
    return base64.urlsafe_b64encode(f"{first}.{second}".encode()).decode().rstrip("=")


def decode_cursor(value: object) -> tuple[int, int]:
    """The two integers of a token `encode_cursor` made; ValueError for anything else."""
    try:
        if not isinstance(value, str) or not _CURSOR.fullmatch(value):
            raise ValueError
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        first, second = raw.split(".")
        if not (DIGITS.fullmatch(first) and DIGITS.fullmatch(second)):
            raise ValueError
        return int(first), int(second)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise ValueError(NOT_A_CURSOR) from None


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def page_cursor(start: datetime, appointment_id: int) -> str:
    """Where the next page of a list starts: after this (start, id)."""
    return encode_cursor((start - _EPOCH) // timedelta(microseconds=1), appointment_id)


def parse_page_cursor(value: object) -> tuple[datetime, int]:
    """The (start, id) of a token `page_cursor` made; ValueError for anything else."""
    micros, appointment_id = decode_cursor(value)
    try:
        return _EPOCH + timedelta(microseconds=micros), appointment_id
    except OverflowError:
        raise ValueError(NOT_A_CURSOR) from None
