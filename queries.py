"""Reads of the book: one appointment, its history, lists (now or at a past moment), the change
feed and availability. Rows become the domain types of domain.py by column name.
Knows nothing about Flask or HTTP and never writes.

Each function runs in a transaction of its own. Which server answers is the caller's choice:
the by-id reads and the change feed must see the primary (a client expects its own write);
the rest may be a moment old.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from domain import (
    ACTIVE,
    ALL,
    Availability,
    BookQuery,
    Busy,
    ChangesPage,
    FeedPosition,
    NotFound,
    RecordedVersion,
    StoredAppointment,
    tile,
)
from models import TIME_RANGE, VALIDITY, Appointment, AppointmentVersion, build, columns_for

# The columns that make each domain type, labelled with its field names.
_CURRENT = columns_for(StoredAppointment, Appointment)
_AS_OF = columns_for(StoredAppointment, AppointmentVersion)
_HISTORY = columns_for(RecordedVersion, AppointmentVersion)
_BUSY = columns_for(Busy, Appointment)


def get_appointment(session: Session, appointment_id: int) -> StoredAppointment:
    with session.begin():
        query = select(*_CURRENT).where(Appointment.id == appointment_id)
        row = session.execute(query).first()
    if row is None:
        raise NotFound()
    return build(StoredAppointment, row)


def appointment_history(session: Session, appointment_id: int) -> list[RecordedVersion]:
    """Every version of one appointment, oldest first, the current one last."""
    query = (
        select(*_HISTORY)
        .where(AppointmentVersion.appointment_id == appointment_id)
        .order_by(AppointmentVersion.version)
    )
    with session.begin():
        versions = [build(RecordedVersion, row) for row in session.execute(query)]
    if not versions:
        raise NotFound()
    return versions


def list_appointments(session: Session, query: BookQuery) -> list[StoredAppointment]:
    """The book (or the book as it was at `query.at`) ordered by (start, id)."""
    statement = _book_as_of(query.at) if query.at else select(*_CURRENT)
    table: Any = AppointmentVersion if query.at else Appointment
    if query.calendar is not None:
        statement = statement.where(table.calendar == query.calendar)
    if query.status != ALL:
        statement = statement.where(table.status == query.status)
    if query.start is not None or query.end is not None:
        statement = statement.where(_intersects(query.start, query.end))
    id_column = AppointmentVersion.appointment_id if query.at else Appointment.id
    if query.after is not None:
        # Row comparison on the (start, id) index: a deep page costs what the first one does.
        statement = statement.where(tuple_(table.starts_at, id_column) > tuple_(*query.after))
    statement = (
        statement.order_by(table.starts_at, id_column).limit(query.limit).offset(query.offset)
    )
    with session.begin():
        return [build(StoredAppointment, row) for row in session.execute(statement)]


def _intersects(start: datetime | None, end: datetime | None) -> Any:
    """Rows whose [start, end) meets the window; an open bound is unbounded."""
    return text(f"{TIME_RANGE} && tstzrange(:window_start, :window_end, '[)')").bindparams(
        window_start=start, window_end=end
    )


def _book_as_of(at: datetime) -> Select:
    """The versions that were current at `at`: one GiST-indexed range containment."""
    return select(*_AS_OF).where(text(f"{VALIDITY} @> :at").bindparams(at=at))


# The feed is ordered by the writing transaction's id, then by sequence number, and serves only
# rows of transactions older than the oldest one still running (the snapshot's xmin). Both
# numbers are taken before commit, so a plain `seq > :since` would skip a transaction that
# commits after a later one was already served. Below the xmin horizon every transaction has
# ended, so nothing can appear behind a position once it has been handed out; any transaction
# that commits later has a txid at or above the horizon, hence above every served row.
_CHANGES = text(
    """
    SELECT appointment_id AS id, calendar, starts_at AS start, ends_at AS "end", created_at,
           updated_at, version, status, recorded_at, txid, seq
      FROM appointment_versions
     WHERE (txid, seq) > (:txid, :seq)
       AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
     ORDER BY txid, seq
     LIMIT :limit
    """
)


def changes(session: Session, *, after: FeedPosition, limit: int) -> ChangesPage:
    """Every version committed after `after`, oldest first, at most `limit` of them."""
    with session.begin():
        rows = session.execute(
            _CHANGES, {"txid": after.txid, "seq": after.seq, "limit": limit}
        ).all()
    versions = [build(RecordedVersion, row) for row in rows]
    last = FeedPosition(rows[-1].txid, rows[-1].seq) if rows else after
    return ChangesPage(versions, last)


def availability(
    session: Session,
    *,
    calendar: str,
    start: datetime,
    end: datetime,
    min_duration: timedelta = timedelta(0),
) -> Availability:
    """What is busy and what is free in one calendar within [start, end)."""
    statement = (
        select(*_BUSY)
        .where(Appointment.calendar == calendar, Appointment.status == ACTIVE)
        .where(_intersects(start, end))
        .order_by(Appointment.starts_at, Appointment.id)
    )
    with session.begin():
        booked = [build(Busy, row) for row in session.execute(statement)]
    busy, free = tile(start, end, booked, min_duration)
    return Availability(calendar, start, end, busy, free)


def schema_revision(session: Session) -> str | None:
    """The migration the database is at (for readiness), or None if it has none."""
    with session.begin():
        return session.scalar(text("SELECT version_num FROM alembic_version"))
