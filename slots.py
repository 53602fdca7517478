"""Which starts a calendar can take: the rule `GET /slots` answers and the write path keeps.

A start `s` of `duration` is free on a calendar when [s, s + duration) lies inside its open time
(localtime.py), `now + minimumNotice <= s < now + horizon`, and its blocked range
[s - bufferBefore, s + duration + bufferAfter) meets no other blocking appointment's blocked
range. Both ranges carry the calendar's own buffers, so that last test is the same as
[s, s + duration) meeting no appointment widened by both buffers on each side (`blocked`),
which is also how the write path asks PostgreSQL (services.py): one rule, two places that
must agree, and the tests hold them to it. Pure functions: no SQL, no HTTP.
"""

import bisect
from collections.abc import Sequence
from datetime import datetime, timedelta

import localtime
from domain import CalendarSettings, Interval, Slot, SlotQuery, Slots


def blocked(settings: CalendarSettings, booked: Sequence[Interval]) -> list[Interval]:
    """The appointments `booked` (sorted by start) widened by both buffers on each side and
    merged: a start is clear of them when [s, s + duration) meets none of these."""
    gap = settings.gap
    merged: list[Interval] = []
    for appointment in booked:
        start, end = appointment.start - gap, appointment.end + gap
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, end)
        else:
            merged.append(Interval(start, end))
    return merged


def free_starts(
    settings: CalendarSettings,
    candidates: Sequence[datetime],
    duration: timedelta,
    booked: Sequence[Interval],
    now: datetime,
) -> list[bool]:
    """For each candidate start, whether it is free on this calendar."""
    if not candidates:
        return []
    first = max(candidates[0], now + timedelta(minutes=settings.minimum_notice))
    last = min(candidates[-1], now + timedelta(days=settings.horizon) - timedelta.resolution)
    if first > last:
        return [False] * len(candidates)
    opened = localtime.open_time(settings, first, last + duration)
    open_starts = [interval.start for interval in opened]
    busy = blocked(settings, booked)
    busy_ends = [interval.end for interval in busy]
    answers = []
    for start in candidates:
        end = start + duration
        if not first <= start <= last:
            answers.append(False)
            continue
        at = bisect.bisect_right(open_starts, start) - 1
        inside = at >= 0 and opened[at].end >= end
        after = bisect.bisect_right(busy_ends, start)  # the first widened range ending after s
        clear = after == len(busy) or busy[after].start >= end
        answers.append(inside and clear)
    return answers


def offer(
    query: SlotQuery,
    settings: Sequence[CalendarSettings],
    booked: dict[str, list[Interval]],
    now: datetime,
) -> Slots:
    """The slots of `query`: each grid start free on at least `required` of its calendars,
    with the free ones named. `settings` come in the order of `query.calendars`."""
    time_zone = query.time_zone or settings[0].time_zone
    required = query.required or len(query.calendars)
    duration = timedelta(minutes=query.duration)
    candidates = localtime.grid(
        query.start, query.end - duration + _EPSILON, query.interval, time_zone
    )
    free = {
        one.calendar: free_starts(one, candidates, duration, booked.get(one.calendar, []), now)
        for one in settings
    }
    names = sorted(free)
    slots = []
    for index, start in enumerate(candidates):
        open_on = [name for name in names if free[name][index]]
        if len(open_on) >= required:
            slots.append(Slot(start, start + duration, open_on))
    return Slots(query.start, query.end, query.duration, query.interval, time_zone, required, slots)


# `grid` takes a half-open window of starts; a start may be exactly `to - duration`.
_EPSILON = timedelta.resolution
