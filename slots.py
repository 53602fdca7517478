"""Which starts a calendar can take: the rule `GET /slots` answers and the write path keeps.

A start `s` of `duration` is free on a calendar when [s, s + duration) lies inside its open time
(localtime.py), `now + minimumNotice <= s < now + horizon`, and its blocked range
[s - bufferBefore, s + duration + bufferAfter) meets no other blocking appointment's blocked
range. Both ranges carry the calendar's own buffers, so that last test is the same as
[s, s + duration) meeting no appointment widened by both buffers on each side, which is how
both paths ask PostgreSQL: the write path for the ranges in its way (services.py), the slots
for the widened ranges merged (`tstzmultirange`, queries.py). One rule, and the tests hold the
two to it. Pure functions: no SQL, no HTTP. Instants are compared as POSIX seconds (floats),
which are exact for the millisecond times the service keeps and several times faster than
datetimes in the loop over a month of candidates.
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import localtime
from domain import CalendarSettings, Slot, SlotQuery, Slots

Span = tuple[float, float]  # [start, end) in POSIX seconds


def free_starts(
    settings: CalendarSettings,
    candidates: Sequence[float],
    duration: float,
    blocked: Sequence[Span],
    now: datetime,
) -> list[bool]:
    """For each candidate start (sorted), whether it is free on this calendar; `blocked` are
    the calendar's appointments widened by both its buffers, merged and sorted. One pass over
    the candidates, the open spans and the blocked spans together, all sorted."""
    if not candidates:
        return []
    first = max(candidates[0], (now + timedelta(minutes=settings.minimum_notice)).timestamp())
    horizon = (now + timedelta(days=settings.horizon)).timestamp()
    last = candidates[-1]
    if first > last or first >= horizon:
        return [False] * len(candidates)
    opened = [
        (interval.start.timestamp(), interval.end.timestamp())
        for interval in localtime.open_time(
            settings, _instant(first), _instant(min(last, horizon) + duration)
        )
    ]
    answers = []
    at = busy = 0  # the first open span, and the first blocked span, that end after `start`
    # Past the last span, a sentinel that ends never and starts never: no bounds checks.
    opened.append((math.inf, math.inf))
    blocked = [*blocked, (math.inf, math.inf)]
    for start in candidates:
        if not first <= start < horizon:
            answers.append(False)
            continue
        end = start + duration
        while opened[at][1] <= start:
            at += 1
        while blocked[busy][1] <= start:
            busy += 1
        answers.append(opened[at][0] <= start and end <= opened[at][1] and blocked[busy][0] >= end)
    return answers


def offer(
    query: SlotQuery,
    settings: Sequence[CalendarSettings],
    blocked: dict[str, list[Span]],
    now: datetime,
) -> Slots:
    """The slots of `query`: each grid start free on at least `required` of its calendars,
    with the free ones named. `settings` come in the order of `query.calendars`."""
    time_zone = query.time_zone or settings[0].time_zone
    required = query.required or len(query.calendars)
    duration = timedelta(minutes=query.duration)
    seconds = duration.total_seconds()
    candidates = localtime.grid_seconds(
        query.start, query.end - duration + _EPSILON, query.interval, time_zone
    )
    free = {
        one.calendar: free_starts(one, candidates, seconds, blocked.get(one.calendar, []), now)
        for one in settings
    }
    names = sorted(free)
    if len(names) == 1:  # one calendar: its free starts, each naming it (one list for all)
        (only,) = free.values()
        starts = [start for start, is_free in zip(candidates, only, strict=True) if is_free]
        slots = [Slot(_instant(start), _instant(start + seconds), names) for start in starts]
    else:
        slots = []
        for index, start in enumerate(candidates):
            open_on = [name for name in names if free[name][index]]
            if len(open_on) >= required:
                slots.append(Slot(_instant(start), _instant(start + seconds), open_on))
    return Slots(query.start, query.end, query.duration, query.interval, time_zone, required, slots)


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# `grid` takes a half-open window of starts; a start may be exactly `to - duration`.
_EPSILON = timedelta.resolution
