"""Local time: every rule that turns a calendar's wall-clock hours into instants, in one place.

Zone rules come from the pinned `tzdata` package only, never from the host's zoneinfo files or
PostgreSQL's own copy, so two hosts (and the service and its database) never disagree about an
offset. A local time is read as RFC 5545 §3.3.5 reads it, which is Python's `fold=0`: a time in
a DST gap takes the offset in force before the gap (02:30 on a New York spring-forward day is
03:30 EDT), a repeated time means its first occurrence.

The open time of a calendar (`open_time`) is the union of its intervals, each read on the local
date it starts on (an override replaces that date's weekly intervals; an interval that ends
before it starts runs into the next date); an interval whose end, so read, is not after its
start is empty. The slot grid (`grid`) holds the instants whose local reading is a whole
multiple of the interval on the wall clock; a time in a gap does not exist, a repeated one
gives both instants. Pure functions on domain values: no SQL, no HTTP.
"""

import functools
import importlib.resources
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain import MINUTES_A_DAY, CalendarSettings, ClockInterval, Interval

ONE_DAY = timedelta(days=1)
_TZDATA = importlib.resources.files("tzdata")
ZONE_NAMES: frozenset[str] = frozenset(
    _TZDATA.joinpath("zones").read_text(encoding="utf-8").split()
)


# ASCII digits only: `str.isdigit` and `int` take other scripts' digits too.
_CLOCK = re.compile("[0-9]{2}:[0-9]{2}", re.ASCII)


class UnknownZone(ValueError):
    pass


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The zone named `name`, from the pinned tzdata package; `UnknownZone` if it has none."""
    if name not in ZONE_NAMES:
        raise UnknownZone(f"Not an IANA time zone: {name!r}.")
    with _TZDATA.joinpath("zoneinfo", *name.split("/")).open("rb") as rules:
        return ZoneInfo.from_file(rules, key=name)


def parse_clock(text: str) -> int:
    """`HH:MM` (00:00 to 24:00) as minutes after midnight; ValueError otherwise."""
    if not _CLOCK.fullmatch(text):
        raise ValueError("Not a wall-clock time HH:MM.")
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours * 60 + minutes > MINUTES_A_DAY:
        raise ValueError("Not a wall-clock time from 00:00 to 24:00.")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The instant of wall-clock `minutes` (0 to 1440) on local date `day`, by RFC 5545's rule."""
    if minutes == MINUTES_A_DAY:
        day, minutes = day + ONE_DAY, 0
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)  # fold=0
    return local.astimezone(UTC)


def interval_instants(day: date, interval: ClockInterval, tz: ZoneInfo) -> Interval | None:
    """One interval of local date `day` as instants, or None where it is empty that day."""
    start_minutes, end_minutes = interval
    end_day = day if end_minutes > start_minutes else day + ONE_DAY
    start, end = instant(day, start_minutes, tz), instant(end_day, end_minutes, tz)
    return Interval(start, end) if end > start else None


def _local_dates(start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[date]:
    """Every local date whose intervals can meet [start, end): from the day before the one
    `start` falls on (its overnight intervals run into `start`'s day) to the one of `end`."""
    day = start.astimezone(tz).date() - ONE_DAY
    last = end.astimezone(tz).date()
    while day <= last:
        yield day
        day += ONE_DAY


def open_time(settings: CalendarSettings, start: datetime, end: datetime) -> list[Interval]:
    """The calendar's open time within [start, end): sorted, disjoint, touching ones merged."""
    if settings.always_open:
        return [Interval(start, end)] if start < end else []
    tz = zone(settings.time_zone)
    pieces = []
    for day in _local_dates(start, end, tz):
        for clock_interval in settings.intervals_of(day):
            piece = interval_instants(day, clock_interval, tz)
            if piece is not None and piece.start < end and piece.end > start:
                pieces.append(Interval(max(piece.start, start), min(piece.end, end)))
    pieces.sort(key=lambda piece: piece.start)
    merged: list[Interval] = []
    for piece in pieces:
        if merged and piece.start <= merged[-1].end:
            if piece.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, piece.end)
        else:
            merged.append(piece)
    return merged


def is_open(settings: CalendarSettings, start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies wholly inside the calendar's open time."""
    return open_time(settings, start, end) == [Interval(start, end)]


def grid(start: datetime, end: datetime, interval: int, time_zone: str) -> list[datetime]:
    """The instants in [start, end) whose wall-clock reading in `time_zone` is HH:MM:00 with
    HH * 60 + MM a multiple of `interval` (which divides 1440), in order (`grid_seconds`)."""
    return [
        datetime.fromtimestamp(moment, UTC)
        for moment in grid_seconds(start, end, interval, time_zone)
    ]


def grid_seconds(start: datetime, end: datetime, interval: int, time_zone: str) -> list[float]:
    """`grid` as POSIX seconds, for the slot loop.

    On a local date whose offset is the same at its start, its middle and its end (nearly
    every date), the candidates are a plain progression from its midnight. On a date with a
    change, each reading is tried with both folds and kept where it reads back the same: a
    reading in a DST gap never does, a repeated one does twice (two instants)."""
    tz = zone(time_zone)
    step = interval * 60
    low, high = start.timestamp(), end.timestamp()
    found: list[float] = []
    changes = False  # a date with a change may repeat or reorder instants: then sort them
    for day in _local_dates(start, end + ONE_DAY, tz):
        midnight = datetime.combine(day, time())
        offset = midnight.replace(tzinfo=tz).utcoffset()
        if offset is None or any(
            (midnight + hours).replace(tzinfo=tz).utcoffset() != offset
            for hours in (_NOON, ONE_DAY)
        ):
            found.extend(moment.timestamp() for moment in _readings(day, interval, tz, start, end))
            changes = True
            continue
        first = (midnight - offset).replace(tzinfo=UTC).timestamp()
        # The readings of the day within [low, high): k from the first at or after `low` to
        # the last before `high`.
        lowest = max(0, math.ceil((low - first) / step))
        highest = min(MINUTES_A_DAY // interval, math.ceil((high - first) / step))
        found.extend(first + step * k for k in range(lowest, highest))
    return sorted(set(found)) if changes else found


_NOON = timedelta(hours=12)


def _readings(
    day: date, interval: int, tz: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """A date's candidates one reading at a time, both folds each (for a date with a change)."""
    found = []
    for minutes in range(0, MINUTES_A_DAY, interval):
        reading = datetime.combine(day, time(minutes // 60, minutes % 60))
        for fold in (0, 1):
            moment = reading.replace(tzinfo=tz, fold=fold).astimezone(UTC)
            if start <= moment < end and moment.astimezone(tz).replace(tzinfo=None) == reading:
                found.append(moment)
    return found


# The stored and the wire form of hours: weekday (or ISO date) -> [["HH:MM", "HH:MM"], ...].
def intervals_from_json(pairs: list[list[str]]) -> tuple[ClockInterval, ...]:
    return tuple((parse_clock(start), parse_clock(end)) for start, end in pairs)


def intervals_to_json(intervals: tuple[ClockInterval, ...]) -> list[list[str]]:
    return [[format_clock(start), format_clock(end)] for start, end in intervals]
