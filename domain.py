"""The domain: appointments, the write rule, the outcomes, and the shapes of the reads.

Plain data and pure functions that every other module may import: the types a write takes and
gives back (`AppointmentData`, `StoredAppointment`, `SaveResult`), the latest-wins rule
(`decide`), the conditions a write can carry (`Precondition`), the outcomes that are not a
success (`DomainError` and its kinds), what a request may do (`Access`) and which calendar
names are valid (`CALENDAR_NAME`, `CALENDAR_PATTERN`), what a read is asked and answers
(`BookQuery`, `ChangesPage`, `Availability`, `SlotQuery`, `Slots`), the tiling of a window
into busy, free and closed time (`tile`, `tile_hours`), the statuses a hold passes through
(`HELD`, `EXPIRED`) and a calendar's booking hours (`CalendarSettings`; the local-time rules
that read them are localtime.py's). How a pattern becomes SQL (LIKE) is database.py's, not
the domain's.
Imports nothing of the app and nothing beyond the standard library: no Flask, no SQL, no HTTP.
"""

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

ACTIVE = "active"
CANCELLED = "cancelled"
HELD = "held"  # a hold: blocks its range until `expires_at`, then is `expired`
EXPIRED = "expired"
STATUSES = (ACTIVE, CANCELLED, HELD, EXPIRED)
BLOCKING = (ACTIVE, HELD)  # the statuses that keep a range (a hold only until it expires)
ALL = "all"  # a status filter: every status alike
LIVE = "live"  # a status filter: what keeps its range now, active or held (the iCalendar feed)
EXPIRY = "expiry"  # `recorded_by` of the version that records a hold's expiry


@dataclass(frozen=True, slots=True)
class AppointmentData:
    """An appointment as a client states it: what a write asks for."""

    id: int
    calendar: str
    start: datetime
    end: datetime
    created_at: datetime
    updated_at: datetime
    status: str = ACTIVE  # what the write makes it: ACTIVE, or HELD for a hold
    # A hold's length in seconds (the server's clock when recorded, plus this, is its
    # expiry); not part of what a retried request must repeat.
    hold_for: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StoredAppointment:
    """An appointment as stored, with the version and status the service gave it."""

    id: int
    calendar: str
    start: datetime
    end: datetime
    created_at: datetime
    updated_at: datetime
    version: int
    status: str
    # When a hold stops blocking (the server's clock when it was recorded plus its length);
    # None for what was never a hold.
    expires_at: datetime | None = field(default=None, kw_only=True)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def blocking(self) -> bool:
        """Keeps its range: active, or a hold not yet expired (reads answer an expired one
        as `expired` even before its expiry is recorded)."""
        return self.status in BLOCKING

    def as_data(self) -> AppointmentData:
        return AppointmentData(
            self.id,
            self.calendar,
            self.start,
            self.end,
            self.created_at,
            self.updated_at,
            self.status if self.status in BLOCKING else ACTIVE,
        )


@dataclass(frozen=True, slots=True)
class RecordedVersion(StoredAppointment):
    """One entry of an appointment's history, with the name of the API key that wrote it
    (None in open mode)."""

    recorded_at: datetime
    recorded_by: str | None


@dataclass(frozen=True, slots=True)
class SaveResult:
    appointment: StoredAppointment
    created: bool


class DomainError(Exception):
    """An outcome that is not a success, named in the domain, not in HTTP."""


class NotFound(DomainError):
    pass


class WebhookNotFound(NotFound):
    """No webhook subscription has this id."""


class Forbidden(DomainError):
    """The request's key does not open the calendar it names or writes (or cannot write)."""


class StaleUpdate(DomainError):
    """The stored version is newer, or as new with other content: the latest wins."""


class PreconditionFailed(DomainError):
    """The client's If-Match / If-None-Match does not hold for the stored appointment."""


class TimeRangeUnavailable(DomainError):
    def __init__(self, conflicts: list[int]) -> None:
        super().__init__(f"overlaps {conflicts}")
        self.conflicts = conflicts


class InvalidTransition(DomainError):
    """A booking (active) is not put back on hold."""


class OutsideHours(DomainError):
    """The calendar enforces its hours and the appointment does not lie inside its open time."""


class Versioned(Protocol):
    """What HTTP's conditional headers compare: an appointment, or a calendar's settings."""

    @property
    def version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Precondition:
    """HTTP's conditional request headers, in domain terms, checked under the id lock.

    `versions`: the write proceeds only if the stored version is one of these (If-Match);
    `any_version`: only if the appointment exists (If-Match: *);
    `create_only`: only if it does not exist yet (If-None-Match: *).
    """

    versions: frozenset[int] | None = None
    any_version: bool = False
    create_only: bool = False

    def check(self, current: "Versioned | None") -> None:
        if self.create_only and current is not None:
            raise PreconditionFailed()
        if self.any_version and current is None:
            raise PreconditionFailed()
        if self.versions is not None and (current is None or current.version not in self.versions):
            raise PreconditionFailed()


NO_PRECONDITION = Precondition()


class Decision(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLAY = "replay"
    STALE = "stale"
    INVALID = "invalid"  # a transition the rules refuse


def decide(current: StoredAppointment | None, new: AppointmentData) -> Decision:
    """What a write of `new` does to the stored `current`: pure, so the rule is testable alone.

    Latest wins by the client's `updatedAt`; the same `updatedAt` with the same content is a
    retried request and changes nothing; the same `updatedAt` with other content is refused,
    because two different writes claiming the same moment cannot both be the latest.
    A cancelled appointment (or an expired hold) is revived only by a strictly newer
    `updatedAt`; an active one is never made a hold again (`INVALID`).
    """
    if current is None:
        return Decision.CREATE
    if new.updated_at > current.updated_at:
        if current.active and new.status == HELD:
            return Decision.INVALID
        return Decision.UPDATE
    if current.blocking and new.updated_at == current.updated_at and new == current.as_data():
        return Decision.REPLAY
    return Decision.STALE


EVERY_CALENDAR = "*"
# A calendar's name, and a pattern of names where `*` stands for any run of characters: the one
# definition the API's schemas, the webhook subscriptions and the `flask keys` command check.
CALENDAR_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
CALENDAR_PATTERN = re.compile(r"[A-Za-z0-9._*-]{1,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Access:
    """What a request may do: the key it came with (`key`, its name; None in open mode),
    whether it may write, and the calendars it opens: exact names and `*` patterns, where `*`
    alone is every calendar. Built once per key (the key cache holds it), not per request."""

    key: str | None = None
    write: bool = True
    calendars: tuple[str, ...] = (EVERY_CALENDAR,)
    _match: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = "|".join(".*".join(map(re.escape, p.split("*"))) for p in self.calendars)
        object.__setattr__(self, "_match", re.compile(f"(?:{pattern})", re.ASCII | re.DOTALL))

    @property
    def everything(self) -> bool:
        """Opens every calendar: the queries need no filter."""
        return EVERY_CALENDAR in self.calendars

    def opens(self, calendar: str) -> bool:
        return self.everything or self._match.fullmatch(calendar) is not None


FULL_ACCESS = Access()


@dataclass(frozen=True, slots=True)
class BookQuery:
    """A page of the book: optionally one calendar, one status, a time window, a past moment."""

    calendar: str | None = None
    status: str = ACTIVE  # "active", "cancelled" or "all"
    start: datetime | None = None  # appointments that end after this...
    end: datetime | None = None  # ...and start before this: they intersect [start, end)
    at: datetime | None = None  # the book as it was at this server time
    limit: int = 100
    offset: int = 0
    after: tuple[datetime, int] | None = None  # keyset: the page starts after this (start, id)


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """Where a change-feed reader stands: after this (transaction id, sequence number)."""

    txid: int
    seq: int


FEED_START = FeedPosition(0, 0)


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: Sequence[RecordedVersion]
    next: FeedPosition


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Busy:
    id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Availability:
    calendar: str
    start: datetime
    end: datetime
    busy: list[Busy]
    free: list[Interval]
    closed: list[Interval] = field(default_factory=list)


def tile(
    start: datetime, end: datetime, booked: Iterable[Busy], min_duration: timedelta
) -> tuple[list[Busy], list[Interval]]:
    """Clip `booked` (sorted, non-overlapping) to [start, end) and list the gaps between.

    Busy and free together tile the window exactly, in order; free gaps shorter than
    `min_duration` are then left out.
    """
    busy, free, _ = tile_hours(start, end, booked, min_duration, None)
    return busy, free


def tile_hours(
    start: datetime,
    end: datetime,
    booked: Iterable[Busy],
    min_duration: timedelta,
    open_time: Sequence[Interval] | None,
) -> tuple[list[Busy], list[Interval], list[Interval]]:
    """Clip `booked` (sorted, non-overlapping) to [start, end) and split the gaps between into
    free time (inside `open_time`, sorted and disjoint; None: open at all times) and closed time.

    Busy, free and closed together tile the window exactly, each in order; free gaps shorter
    than `min_duration` are then left out (closed ones never are).
    """
    busy: list[Busy] = []
    gaps: list[Interval] = []
    cursor = start
    for slot in booked:
        clipped = Busy(slot.id, max(slot.start, start), min(slot.end, end))
        if clipped.start >= clipped.end:
            continue
        if clipped.start > cursor:
            gaps.append(Interval(cursor, clipped.start))
        busy.append(clipped)
        cursor = max(cursor, clipped.end)
    if cursor < end:
        gaps.append(Interval(cursor, end))
    if open_time is None:
        free, closed = gaps, []
    else:
        free = intersect(gaps, open_time)
        closed = intersect(gaps, complement(open_time, start, end))
    return busy, [gap for gap in free if gap.end - gap.start >= min_duration], closed


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The intersection of two sorted lists of disjoint intervals, sorted."""
    result: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        low = max(first[i].start, second[j].start)
        high = min(first[i].end, second[j].end)
        if low < high:
            result.append(Interval(low, high))
        if first[i].end < second[j].end:
            i += 1
        else:
            j += 1
    return result


def complement(intervals: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    """What of [start, end) the sorted, disjoint `intervals` leave uncovered."""
    result: list[Interval] = []
    cursor = start
    for interval in intervals:
        if interval.start > cursor:
            result.append(Interval(cursor, min(interval.start, end)))
        cursor = max(cursor, interval.end)
        if cursor >= end:
            break
    if cursor < end:
        result.append(Interval(cursor, end))
    return [gap for gap in result if gap.start < gap.end]


# -- Booking hours ----------------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # in date.weekday() order
MINUTES_A_DAY = 24 * 60
# A local wall-clock interval [from, to) of one date, in minutes after that date's midnight:
# 0 <= from < 1440, 0 <= to <= 1440, from != to; to < from means it ends on the next date.
ClockInterval = tuple[int, int]
WHOLE_DAY: tuple[ClockInterval, ...] = ((0, MINUTES_A_DAY),)


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """A calendar's booking hours and rules; the defaults are a calendar never configured:
    open at all times, no buffers, nothing enforced (version 0)."""

    calendar: str
    time_zone: str = "UTC"
    hours: dict[str, tuple[ClockInterval, ...]] | None = None  # weekday -> intervals
    overrides: dict[date, tuple[ClockInterval, ...]] = field(default_factory=dict)
    buffer_before: int = 0  # minutes
    buffer_after: int = 0  # minutes
    minimum_notice: int = 0  # minutes; bounds slots only
    horizon: int = 365  # days; bounds slots only
    enforce: bool = False
    version: int = 0
    updated_at: datetime | None = None

    @property
    def always_open(self) -> bool:
        return self.hours is None and not self.overrides

    @property
    def gap(self) -> timedelta:
        """How far apart two appointments' ranges must stand: both buffers, stacked."""
        return timedelta(minutes=self.buffer_before + self.buffer_after)

    def intervals_of(self, day: date) -> tuple[ClockInterval, ...]:
        """The intervals that start on local date `day`: its override, else its weekday's."""
        if day in self.overrides:
            return self.overrides[day]
        if self.hours is None:
            return WHOLE_DAY
        return self.hours.get(WEEKDAYS[day.weekday()], ())


@dataclass(frozen=True, slots=True)
class SlotQuery:
    calendars: tuple[str, ...]
    start: datetime
    end: datetime
    duration: int  # minutes
    interval: int  # minutes, divides 1440
    time_zone: str | None = None  # None: the first calendar's
    required: int | None = None  # None: all of them


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    calendars: list[str]


@dataclass(frozen=True, slots=True)
class Slots:
    start: datetime
    end: datetime
    duration: int
    interval: int
    time_zone: str
    required: int
    slots: list[Slot]
