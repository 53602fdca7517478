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
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,60}", re.ASCII)
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
NOT_A_CURSOR = "Not a cursor this service gave out."


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
