"""A reference for booking hours, written apart from the service: open time, `/slots` and
`/availability`'s `closed`, worked out minute by minute with `zoneinfo` on the pinned `tzdata`.

It follows the words of issue 22, not the service's code: an instant is an integer count of
UTC minutes since the epoch, open time and blocked ranges are plain sets of such minutes, and
every check is a set operation anyone can read against the issue. Slow on purpose but fast
enough (a 7-day window with a few calendars takes well under a second).

Settings are the API's own settings objects (the JSON of `GET /calendars/{calendar}`), so a
test sends one dict and hands the same dict here. Not a test file: tests import from here.
"""

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

DEFAULTS: dict[str, Any] = {
    "timeZone": "UTC",
    "hours": None,
    "overrides": {},
    "bufferBefore": 0,
    "bufferAfter": 0,
    "minimumNotice": 0,
    "horizon": 365,
    "enforce": False,
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The zone from the pinned `tzdata` package, never from the host's /usr/share/zoneinfo."""
    source = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with source.open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


# -- Minutes ------------------------------------------------------------------------------------


def minute(instant: datetime) -> int:
    """An aware instant on a whole UTC minute, as minutes since the epoch."""
    seconds = instant.timestamp()
    assert seconds % 60 == 0, f"{instant} is not on a whole minute"
    return int(seconds) // 60


def instant(minutes: int) -> datetime:
    return datetime.fromtimestamp(minutes * 60, UTC)


def fmt(value: datetime) -> str:
    """The API's one time format: `YYYY-MM-DDTHH:MM:SS.sssZ`."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def local(day: date, clock: str, tz: ZoneInfo) -> datetime:
    """`HH:MM` on `day` in `tz` as an instant: RFC 5545's rule, i.e. zoneinfo with fold=0 (a
    time in a gap takes the offset before it; a repeated time is its first occurrence).
    `24:00` is the next day's 00:00."""
    if clock == "24:00":
        day, clock = day + timedelta(days=1), "00:00"
    hour, mins = int(clock[:2]), int(clock[3:])
    return datetime.combine(day, time(hour, mins), tzinfo=tz).replace(fold=0).astimezone(UTC)


# -- Open time ----------------------------------------------------------------------------------


def settings_of(given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A settings object with the defaults filled in (None: a calendar never PUT)."""
    return {**DEFAULTS, **(given or {})}


def intervals_of_date(settings: Mapping[str, Any], day: date) -> list[list[str]]:
    """The intervals that start on `day`: its override if it has one, else its weekday's,
    else (hours null) the whole day."""
    if day.isoformat() in settings["overrides"]:
        return settings["overrides"][day.isoformat()]
    if settings["hours"] is None:
        return [["00:00", "24:00"]]
    return settings["hours"].get(WEEKDAYS[day.weekday()], [])


def open_minutes(settings: Mapping[str, Any], start: datetime, end: datetime) -> set[int]:
    """Every open UTC minute of the calendar around [start, end): the union of the intervals
    of every local date from two days before to two days after the window."""
    settings = settings_of(settings)
    tz = zone(settings["timeZone"])
    first = start.astimezone(tz).date() - timedelta(days=2)
    last = end.astimezone(tz).date() + timedelta(days=2)
    opened: set[int] = set()
    day = first
    while day <= last:
        for begins, ends in intervals_of_date(settings, day):
            # An interval belongs to the date it starts on; `to <= from` ends the next day.
            end_day = day + timedelta(days=1) if ends <= begins and ends != "24:00" else day
            a, b = minute(local(day, begins, tz)), minute(local(end_day, ends, tz))
            opened.update(range(a, b))  # empty when the end, so read, is not after the start
        day += timedelta(days=1)
    return opened


# -- Appointments and buffers -------------------------------------------------------------------


class Booked(NamedTuple):
    """An active appointment, as the reference sees it."""

    calendar: str
    start: datetime
    end: datetime
    id: int = 0


def blocked_minutes(settings: Mapping[str, Any], booked: Iterable[Booked]) -> set[int]:
    """The minutes the given appointments block: [start - bufferBefore, end + bufferAfter)."""
    settings = settings_of(settings)
    blocked: set[int] = set()
    for b in booked:
        blocked.update(
            range(
                minute(b.start) - settings["bufferBefore"], minute(b.end) + settings["bufferAfter"]
            )
        )
    return blocked


def write_allowed(
    settings: Mapping[str, Any], booked: Iterable[Booked], start: datetime, end: datetime
) -> str | None:
    """What an enforced calendar's write path answers for [start, end) given the other active
    appointments: None (accepted), "outside_hours" or "time_range_unavailable"."""
    settings = settings_of(settings)
    wanted = set(range(minute(start), minute(end)))
    if not wanted <= open_minutes(settings, start, end):
        return "outside_hours"
    mine = set(
        range(minute(start) - settings["bufferBefore"], minute(end) + settings["bufferAfter"])
    )
    if not mine.isdisjoint(blocked_minutes(settings, booked)):
        return "time_range_unavailable"
    return None


# -- Slots --------------------------------------------------------------------------------------


def candidates(start: datetime, end: datetime, duration: int, interval: int, tz_name: str):
    """Every instant s with start <= s and s + duration <= end whose local clock reading in
    `tz_name` is HH:MM:00 with HH*60+MM divisible by `interval` (the reading, not the time
    since midnight), as UTC minutes. Both instants of a repeated hour, none in a gap."""
    tz = zone(tz_name)
    first = -(-int(start.timestamp()) // 60)  # the first whole minute at or after start
    last = int(end.timestamp()) // 60 - duration
    for m in range(first, last + 1):
        reading = instant(m).astimezone(tz)
        if reading.second == 0 and (reading.hour * 60 + reading.minute) % interval == 0:
            yield m


def slots(
    calendars: Mapping[str, Mapping[str, Any] | None],
    booked: Iterable[Booked],
    *,
    start: datetime,
    end: datetime,
    duration: int,
    interval: int | None = None,
    time_zone: str | None = None,
    required: int | None = None,
    now: datetime,
) -> list[dict[str, Any]]:
    """`GET /slots`'s `slots` for `calendars` (name -> settings, None for a calendar never PUT;
    in the request's order) with `booked` the active appointments, as the API formats it.
    `interval`, `time_zone` and `required` None: the API's defaults (15, the first calendar's
    zone, all the calendars)."""
    names = list(calendars)
    settings = {name: settings_of(calendars[name]) for name in names}
    interval = interval or 15
    time_zone = time_zone or settings[names[0]]["timeZone"]
    required = len(names) if required is None else required
    booked = list(booked)
    opened = {name: open_minutes(settings[name], start, end) for name in names}
    blocked = {
        name: blocked_minutes(settings[name], [b for b in booked if b.calendar == name])
        for name in names
    }
    answer = []
    for s in candidates(start, end, duration, interval, time_zone):
        free = []
        for name in names:
            rules = settings[name]
            at = instant(s)
            inside = set(range(s, s + duration)) <= opened[name]
            bounded = (
                now + timedelta(minutes=rules["minimumNotice"])
                <= at
                < now + timedelta(days=rules["horizon"])
            )
            mine = range(s - rules["bufferBefore"], s + duration + rules["bufferAfter"])
            if inside and bounded and blocked[name].isdisjoint(mine):
                free.append(name)
        if len(free) >= required:
            answer.append(
                {
                    "start": fmt(instant(s)),
                    "end": fmt(instant(s + duration)),
                    "calendars": sorted(free),
                }
            )
    return answer


# -- Availability's `closed` --------------------------------------------------------------------


def ranges(minutes: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted minutes as maximal half-open [a, b) runs."""
    runs: list[tuple[int, int]] = []
    for m in sorted(minutes):
        if runs and runs[-1][1] == m:
            runs[-1] = (runs[-1][0], m + 1)
        else:
            runs.append((m, m + 1))
    return runs


def closed(
    settings: Mapping[str, Any] | None, booked: Iterable[Booked], start: datetime, end: datetime
) -> list[dict[str, str]]:
    """`GET /availability`'s `closed`: the window's minutes outside open time and not busy."""
    window = set(range(minute(start), minute(end)))
    busy = set().union(*(range(minute(b.start), minute(b.end)) for b in booked))
    shut = window - busy - open_minutes(settings_of(settings), start, end)
    return [{"start": fmt(instant(a)), "end": fmt(instant(b))} for a, b in ranges(shut)]


# -- Zone transitions ---------------------------------------------------------------------------


def transitions(tz_name: str, after: datetime, count: int = 2) -> list[datetime]:
    """The next `count` instants after `after` where `tz_name`'s UTC offset changes, to the
    minute (an hourly scan, then a minute scan inside the hour), for up to 3 years ahead."""
    tz = zone(tz_name)
    found: list[datetime] = []
    t = after.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    limit = t + timedelta(days=3 * 366)
    while len(found) < count and t < limit:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += timedelta(minutes=1)
            found.append(m)
        t = nxt
    return found
