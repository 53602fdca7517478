"""The domain: appointments, the write rule, the outcomes, and the shapes of the reads.

Plain data and pure functions that every other module may import: the types a write takes and
gives back (`AppointmentData`, `StoredAppointment`, `SaveResult`), the latest-wins rule
(`decide`), the conditions a write can carry (`Precondition`), the outcomes that are not a
success (`DomainError` and its kinds), what a request may do (`Access`) and which calendar
names are valid (`CALENDAR_NAME`, `CALENDAR_PATTERN`), what a read is asked and answers
(`BookQuery`, `ChangesPage`, `Availability`) and the tiling of a window into busy and free
time (`tile`). How a pattern becomes SQL (LIKE) is database.py's, not the domain's.
Imports nothing of the app and nothing beyond the standard library: no Flask, no SQL, no HTTP.
"""

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACTIVE = "active"
CANCELLED = "cancelled"
ALL = "all"  # a status filter: active and cancelled alike


@dataclass(frozen=True, slots=True)
class AppointmentData:
    """An appointment as a client states it: what a write asks for."""

    id: int
    calendar: str
    start: datetime
    end: datetime
    created_at: datetime
    updated_at: datetime


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

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def as_data(self) -> AppointmentData:
        return AppointmentData(
            self.id, self.calendar, self.start, self.end, self.created_at, self.updated_at
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

    def check(self, current: StoredAppointment | None) -> None:
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


def decide(current: StoredAppointment | None, new: AppointmentData) -> Decision:
    """What a write of `new` does to the stored `current`: pure, so the rule is testable alone.

    Latest wins by the client's `updatedAt`; the same `updatedAt` with the same content is a
    retried request and changes nothing; the same `updatedAt` with other content is refused,
    because two different writes claiming the same moment cannot both be the latest.
    A cancelled appointment is revived only by a strictly newer `updatedAt`.
    """
    if current is None:
        return Decision.CREATE
    if new.updated_at > current.updated_at:
        return Decision.UPDATE
    if current.active and new.updated_at == current.updated_at and new == current.as_data():
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


def tile(
    start: datetime, end: datetime, booked: Iterable[Busy], min_duration: timedelta
) -> tuple[list[Busy], list[Interval]]:
    """Clip `booked` (sorted, non-overlapping) to [start, end) and list the gaps between.

    Busy and free together tile the window exactly, in order; free gaps shorter than
    `min_duration` are then left out.
    """
    busy: list[Busy] = []
    free: list[Interval] = []
    cursor = start
    for slot in booked:
        clipped = Busy(slot.id, max(slot.start, start), min(slot.end, end))
        if clipped.start >= clipped.end:
            continue
        if clipped.start > cursor:
            free.append(Interval(cursor, clipped.start))
        busy.append(clipped)
        cursor = max(cursor, clipped.end)
    if cursor < end:
        free.append(Interval(cursor, end))
    return busy, [gap for gap in free if gap.end - gap.start >= min_duration]
