"""The write transactions: create-or-update and cancel. Knows nothing about Flask or HTTP.

Every write is one READ COMMITTED transaction that first takes transaction-scoped advisory
locks (see the lock helpers), then reads, decides and writes. Outcomes that are not a success
are domain exceptions (`TimeRangeUnavailable`, `StaleUpdate`, `PreconditionFailed`,
`NotFound`, from domain.py) that errors.py maps to status codes. Reads live in `queries.py`.
The exclusion constraint in `models.py` is the backstop: if any code path ever tried to store an
overlap, PostgreSQL would refuse it and we answer the same conflict. The time spent waiting for
the locks is measured here, where the locks are taken (`metrics.LOCK_WAIT`).
Never imports Flask, never speaks HTTP, never commits outside the transaction it opened.
"""

import psycopg.errors
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import (
    ACTIVE,
    CANCELLED,
    NO_PRECONDITION,
    AppointmentData,
    Decision,
    NotFound,
    Precondition,
    SaveResult,
    StaleUpdate,
    StoredAppointment,
    TimeRangeUnavailable,
    decide,
)
from metrics import LOCK_WAIT
from models import TIME_RANGE, Appointment, build, columns_for

MAX_CONFLICTS_REPORTED = 20
# Namespace of the calendar locks in PostgreSQL's two-int advisory key space, which does not
# overlap the single-bigint key space that the id locks use.
_CALENDAR_LOCK_SPACE = 0x5E5A
_CURRENT = columns_for(StoredAppointment, Appointment)


# The locks. Advisory locks are transaction-scoped (`pg_advisory_xact_lock`): they are released
# by COMMIT or ROLLBACK whatever happens to the client, and they never outlive the transaction,
# so the service also works through a transaction-mode pooler such as PgBouncer.
# The isolation level is READ COMMITTED on purpose: each statement takes a new snapshot, so the
# statements that follow a lock wait see what the previous lock holder committed. (REPEATABLE
# READ would keep the snapshot taken before the wait and miss the winner's row.) That is also
# why a lock and the reads it protects are never in one statement.
# Lock order is fixed, the id first, then calendars by key, so two writers can never wait for
# each other in a cycle. The calendars are locked after the read, when a move's old calendar is
# known, and held only for the write and the commit: the shortest time a busy calendar can be
# held, which is what bounds the writes to one calendar.
_LOCK_ID = text("SELECT pg_advisory_xact_lock(:id)")
_LOCK_CALENDARS = text(
    "SELECT pg_advisory_xact_lock(:space, key) FROM"
    " (SELECT DISTINCT hashtext(name) AS key FROM unnest(CAST(:names AS text[])) AS name"
    "  ORDER BY key) AS keys"
)
# The active appointments of the calendar that the new range meets, itself excepted.
_OVERLAPPING = (
    f"calendar = :calendar AND status = '{ACTIVE}'"
    f" AND {TIME_RANGE} && tstzrange(:start, :end, '[)') AND id <> :id"
)
_OVERLAPS = text(
    f"SELECT id FROM appointments WHERE {_OVERLAPPING} ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}"
)
# One round trip checks the overlap (with the exclusion constraint's GiST index) and, only if
# there is none, writes the current row, closes the previous version and records the new one;
# it answers the ids in the way. A cancellation frees time, so it checks nothing.
# recorded_at is taken after the locks (clock_timestamp, not now(), the transaction's start) and
# kept at least 1 ms after the previous version's, so every version of an appointment has a
# non-empty [recorded_at, superseded_at) at the millisecond precision the API reports.
_WRITE_UNLESS_OVERLAP = text(
    f"""
    WITH conflicts AS (
        SELECT id FROM appointments WHERE :status = '{ACTIVE}' AND {_OVERLAPPING}
         ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}
    ), stamp AS (
        SELECT greatest(
            date_trunc('milliseconds', clock_timestamp()),
            (SELECT recorded_at + interval '1 millisecond' FROM appointment_versions
              WHERE appointment_id = :id AND version = :version - 1)) AS at
    ), current AS (
        INSERT INTO appointments AS a
            (id, calendar, starts_at, ends_at, created_at, updated_at, version, status)
        SELECT :id, :calendar, :start, :end, :created_at, :updated_at, :version, :status
         WHERE NOT EXISTS (SELECT FROM conflicts)
        ON CONFLICT (id) DO UPDATE SET
            calendar = excluded.calendar, starts_at = excluded.starts_at,
            ends_at = excluded.ends_at, created_at = excluded.created_at,
            updated_at = excluded.updated_at, version = excluded.version,
            status = excluded.status
        RETURNING a.*
    ), superseded AS (
        UPDATE appointment_versions SET superseded_at = stamp.at FROM stamp, current
         WHERE appointment_id = :id AND appointment_versions.version = :version - 1
    ), recorded AS (
        INSERT INTO appointment_versions
            (appointment_id, version, calendar, starts_at, ends_at, created_at, updated_at,
             status, recorded_at)
        SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at, status, stamp.at
          FROM current, stamp
    )
    SELECT array(SELECT id FROM conflicts)
    """
)


def save_appointment(
    session: Session, *, new: AppointmentData, precondition: Precondition = NO_PRECONDITION
) -> SaveResult:
    """Create or update by client id; the latest `updatedAt` wins. One transaction."""
    try:
        with session.begin():
            current = _lock_and_read(session, new.id)
            precondition.check(current)
            decision = decide(current, new)
            if decision is Decision.STALE:
                raise StaleUpdate()
            if decision is Decision.REPLAY:
                assert current is not None
                return SaveResult(current, created=False)
            _lock_calendars(session, {new.calendar} | ({current.calendar} if current else set()))
            stored = _write(session, new, version=current.version + 1 if current else 1)
    except IntegrityError as error:
        if isinstance(error.orig, psycopg.errors.ExclusionViolation):
            # Unreachable through this function while the locks hold; kept as the answer
            # for the day some other writer bypasses them.
            with session.begin():
                raise TimeRangeUnavailable(_overlapping_ids(session, new)) from error
        raise
    return SaveResult(stored, created=current is None)


def cancel_appointment(
    session: Session, *, appointment_id: int, precondition: Precondition = NO_PRECONDITION
) -> StoredAppointment:
    """Cancel: a new version that frees the slot at once. Cancelling twice changes nothing."""
    with session.begin():
        current = _lock_and_read(session, appointment_id)
        if current is None:
            raise NotFound()
        precondition.check(current)
        if not current.active:
            return current
        _lock_calendars(session, {current.calendar})
        return _write(session, current.as_data(), version=current.version + 1, status=CANCELLED)


def _lock_and_read(session: Session, appointment_id: int) -> StoredAppointment | None:
    """Take the id lock, then read the row: a fresh statement, so a fresh snapshot."""
    with LOCK_WAIT.time():
        session.execute(_LOCK_ID, {"id": appointment_id})
    row = session.execute(select(*_CURRENT).where(Appointment.id == appointment_id)).first()
    return build(StoredAppointment, row) if row else None


def _lock_calendars(session: Session, calendars: set[str]) -> None:
    with LOCK_WAIT.time():
        params = {"space": _CALENDAR_LOCK_SPACE, "names": sorted(calendars)}
        session.execute(_LOCK_CALENDARS, params)


def _overlapping_ids(session: Session, new: AppointmentData) -> list[int]:
    params = {"calendar": new.calendar, "start": new.start, "end": new.end, "id": new.id}
    return list(session.scalars(_OVERLAPS, params))


def _write(
    session: Session, data: AppointmentData, *, version: int, status: str = ACTIVE
) -> StoredAppointment:
    """Write the version unless it overlaps an active appointment of its calendar."""
    params = {**_columns(data), "version": version, "status": status}
    conflicts = session.scalar(_WRITE_UNLESS_OVERLAP, params)
    if conflicts:
        raise TimeRangeUnavailable(list(conflicts))
    return StoredAppointment(**_columns(data), version=version, status=status)


def _columns(data: AppointmentData) -> dict:
    return {
        "id": data.id,
        "calendar": data.calendar,
        "start": data.start,
        "end": data.end,
        "created_at": data.created_at,
        "updated_at": data.updated_at,
    }
