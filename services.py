"""The transactions: create-or-update, reads, history. Knows nothing about Flask or HTTP.

Every write is one READ COMMITTED transaction that first takes transaction-scoped advisory
locks (see `_lock`), then reads, decides and writes. Outcomes that are not a success are
domain exceptions (`TimeRangeUnavailable`, `StaleUpdate`, `NotFound`) that the web layer maps
to status codes. The exclusion constraint in `models.py` is the backstop: if any code path
ever tried to store an overlap, PostgreSQL would refuse it and we answer the same conflict.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

import psycopg.errors
from sqlalchemy import Row, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import TIME_RANGE, Appointment, AppointmentVersion

MAX_CONFLICTS_REPORTED = 20
# Namespace of the calendar locks in PostgreSQL's two-int advisory key space, which does not
# overlap the single-bigint key space that the id locks use.
_CALENDAR_LOCK_SPACE = 0x5E5A


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
    """An appointment as stored, with the version the service gave it."""

    id: int
    calendar: str
    start: datetime
    end: datetime
    created_at: datetime
    updated_at: datetime
    version: int

    def as_data(self) -> AppointmentData:
        return AppointmentData(
            self.id, self.calendar, self.start, self.end, self.created_at, self.updated_at
        )


@dataclass(frozen=True, slots=True)
class RecordedVersion(StoredAppointment):
    """One entry of an appointment's history."""

    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class SaveResult:
    appointment: StoredAppointment
    created: bool


class DomainError(Exception):
    """An outcome that is not a success, named in the domain, not in HTTP."""


class NotFound(DomainError):
    pass


class StaleUpdate(DomainError):
    """The stored version is newer, or as new with other content: the latest wins."""


class TimeRangeUnavailable(DomainError):
    def __init__(self, conflicts: list[int]) -> None:
        super().__init__(f"overlaps {conflicts}")
        self.conflicts = conflicts


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
    """
    if current is None:
        return Decision.CREATE
    if new.updated_at > current.updated_at:
        return Decision.UPDATE
    if new.updated_at == current.updated_at and new == current.as_data():
        return Decision.REPLAY
    return Decision.STALE


_APPOINTMENT_COLUMNS = (
    Appointment.id,
    Appointment.calendar,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.created_at,
    Appointment.updated_at,
    Appointment.version,
)


def _stored(row: Row) -> StoredAppointment:
    return StoredAppointment(*row)


# The lock helpers. Advisory locks are transaction-scoped (`pg_advisory_xact_lock`): they are
# released by COMMIT or ROLLBACK whatever happens to the client, and they never outlive the
# transaction, so the service also works through a transaction-mode pooler such as PgBouncer.
# The isolation level is READ COMMITTED on purpose: each statement takes a new snapshot, so the
# reads that follow a lock wait see what the previous lock holder committed. (REPEATABLE READ
# would keep the snapshot taken before the wait and miss the winner's row.) Lock order is fixed,
# id first, then calendars by key, so two writers can never wait for each other in a cycle.
_LOCK_ID = text("SELECT pg_advisory_xact_lock(:id)")
_LOCK_CALENDARS = text(
    "SELECT pg_advisory_xact_lock(:space, key) FROM"
    " (SELECT DISTINCT hashtext(name) AS key FROM unnest(CAST(:names AS text[])) AS name"
    "  ORDER BY key) AS keys"
)
_OVERLAPS = text(
    f"SELECT id FROM appointments WHERE calendar = :calendar"
    f" AND {TIME_RANGE} && tstzrange(:start, :end, '[)') AND id <> :id"
    f" ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}"
)
# One round trip writes the current row and its history entry. recorded_at is taken after the
# locks (clock_timestamp, not now(), which is the transaction's start), so the versions of one
# appointment are recorded in the order they were written.
_WRITE = text(
    """
    WITH current AS (
        INSERT INTO appointments AS a
            (id, calendar, starts_at, ends_at, created_at, updated_at, version)
        VALUES (:id, :calendar, :start, :end, :created_at, :updated_at, :version)
        ON CONFLICT (id) DO UPDATE SET
            calendar = excluded.calendar, starts_at = excluded.starts_at,
            ends_at = excluded.ends_at, created_at = excluded.created_at,
            updated_at = excluded.updated_at, version = excluded.version
        RETURNING a.*
    )
    INSERT INTO appointment_versions
        (appointment_id, version, calendar, starts_at, ends_at, created_at, updated_at,
         recorded_at)
    SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at,
           date_trunc('milliseconds', clock_timestamp())
    FROM current
    """
)


def save_appointment(session: Session, *, new: AppointmentData) -> SaveResult:
    """Create or update by client id; the latest `updatedAt` wins. One transaction."""
    try:
        with session.begin():
            session.execute(_LOCK_ID, {"id": new.id})
            current = _read_current(session, new.id)
            decision = decide(current, new)
            if decision is Decision.STALE:
                raise StaleUpdate()
            if decision is Decision.REPLAY:
                assert current is not None
                return SaveResult(current, created=False)
            calendars = {new.calendar} | ({current.calendar} if current else set())
            session.execute(
                _LOCK_CALENDARS, {"space": _CALENDAR_LOCK_SPACE, "names": sorted(calendars)}
            )
            conflicts = _overlapping_ids(session, new)
            if conflicts:
                raise TimeRangeUnavailable(conflicts)
            version = current.version + 1 if current else 1
            session.execute(
                _WRITE,
                {
                    "id": new.id,
                    "calendar": new.calendar,
                    "start": new.start,
                    "end": new.end,
                    "created_at": new.created_at,
                    "updated_at": new.updated_at,
                    "version": version,
                },
            )
    except IntegrityError as error:
        if isinstance(error.orig, psycopg.errors.ExclusionViolation):
            # Unreachable through this function while the locks hold; kept as the answer
            # for the day some other writer bypasses them.
            with session.begin():
                raise TimeRangeUnavailable(_overlapping_ids(session, new)) from error
        raise
    stored = StoredAppointment(
        new.id, new.calendar, new.start, new.end, new.created_at, new.updated_at, version
    )
    return SaveResult(stored, created=current is None)


def _read_current(session: Session, appointment_id: int) -> StoredAppointment | None:
    row = session.execute(
        select(*_APPOINTMENT_COLUMNS).where(Appointment.id == appointment_id)
    ).first()
    return _stored(row) if row else None


def _overlapping_ids(session: Session, new: AppointmentData) -> list[int]:
    params = {"calendar": new.calendar, "start": new.start, "end": new.end, "id": new.id}
    return list(session.scalars(_OVERLAPS, params))


def get_appointment(session: Session, appointment_id: int) -> StoredAppointment:
    with session.begin():
        current = _read_current(session, appointment_id)
    if current is None:
        raise NotFound()
    return current


def list_appointments(
    session: Session, *, calendar: str | None, limit: int, offset: int
) -> list[StoredAppointment]:
    """The current book ordered by (start, id), optionally one calendar's."""
    query = select(*_APPOINTMENT_COLUMNS)
    if calendar is not None:
        query = query.where(Appointment.calendar == calendar)
    query = query.order_by(Appointment.starts_at, Appointment.id).limit(limit).offset(offset)
    with session.begin():
        return [_stored(row) for row in session.execute(query)]


def appointment_history(session: Session, appointment_id: int) -> list[RecordedVersion]:
    """Every version of one appointment, oldest first, the current one last."""
    query = (
        select(
            AppointmentVersion.appointment_id,
            AppointmentVersion.calendar,
            AppointmentVersion.starts_at,
            AppointmentVersion.ends_at,
            AppointmentVersion.created_at,
            AppointmentVersion.updated_at,
            AppointmentVersion.version,
            AppointmentVersion.recorded_at,
        )
        .where(AppointmentVersion.appointment_id == appointment_id)
        .order_by(AppointmentVersion.version)
    )
    with session.begin():
        versions = [RecordedVersion(*row) for row in session.execute(query)]
    if not versions:
        raise NotFound()
    return versions
