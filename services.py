"""The write transactions: create-or-update and cancel. Knows nothing about Flask or HTTP.

Every write is one READ COMMITTED transaction that first takes transaction-scoped advisory
locks (see the lock helpers), then reads, decides and writes. Outcomes that are not a success
are domain exceptions (`TimeRangeUnavailable`, `StaleUpdate`, `PreconditionFailed`,
`NotFound`, `Forbidden`, from domain.py) that errors.py maps to status codes. Reads live in
`queries.py`, with the SQL both share (the appointment's columns, the overlap condition).
The exclusion constraint in `models.py` is the backstop: if any code path ever tried to store an
overlap, PostgreSQL would refuse it and we answer the same conflict. The time spent waiting for
the locks is measured by the server, in the lock statements themselves (`metrics.LOCK_WAIT`).
Never imports Flask, never speaks HTTP, never commits outside the transaction it opened.
"""

import psycopg
import psycopg.errors
from sqlalchemy.engine import Engine

import database
from domain import (
    ACTIVE,
    CANCELLED,
    FULL_ACCESS,
    NO_PRECONDITION,
    Access,
    AppointmentData,
    Decision,
    Forbidden,
    NotFound,
    Precondition,
    SaveResult,
    StaleUpdate,
    StoredAppointment,
    TimeRangeUnavailable,
    decide,
)
from metrics import LOCK_WAIT
from queries import APPOINTMENT, OVERLAPS

MAX_CONFLICTS_REPORTED = 20
# Namespace of the calendar locks in PostgreSQL's two-int advisory key space, which does not
# overlap the single-bigint key space that the id locks use.
_CALENDAR_LOCK_SPACE = 0x5E5A


# The locks. Advisory locks are transaction-scoped (`pg_advisory_xact_lock`): they are released
# by COMMIT or ROLLBACK whatever happens to the client, and they never outlive the transaction,
# so the service also works through a transaction-mode pooler such as PgBouncer.
# The isolation level is READ COMMITTED on purpose: each statement takes a new snapshot, so the
# statements that follow a lock wait see what the previous lock holder committed. (REPEATABLE
# READ would keep the snapshot taken before the wait and miss the winner's row.) That is also
# why a lock and the reads it protects are never in one statement (they travel in one round
# trip, but PostgreSQL runs them one after the other, each with a snapshot of its own).
# Lock order is fixed, the id first, then calendars by key, so two writers can never wait for
# each other in a cycle. The calendars are locked after the read, when a move's old calendar is
# known, and held only for the write and the commit: the shortest time a busy calendar can be
# held, which is what bounds the writes to one calendar.
# Each lock statement also answers how long it waited, measured by the server
# (clock_timestamp() after the lock, statement_timestamp() when the statement arrived).
_WAITED = "extract(epoch FROM clock_timestamp() - statement_timestamp())::float8 AS waited"
_LOCK_ID = f"SELECT pg_advisory_xact_lock(%(id)s), {_WAITED}"
_LOCK_CALENDARS = (
    f"SELECT max(waited) AS waited FROM (SELECT pg_advisory_xact_lock(%(space)s, key), {_WAITED}"
    "  FROM (SELECT DISTINCT hashtext(name) AS key FROM unnest(%(names)s::text[]) AS name"
    "         ORDER BY key) AS keys) AS locked"
)
_READ = f"SELECT {APPOINTMENT} FROM appointments WHERE id = %(id)s"
# The active appointments of the calendar that the new range meets, itself excepted.
_OVERLAPPING = f"calendar = %(calendar)s AND status = '{ACTIVE}' AND {OVERLAPS} AND id <> %(id)s"
_OVERLAPS = (
    f"SELECT id FROM appointments WHERE {_OVERLAPPING} ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}"
)
# One statement checks the overlap (with the exclusion constraint's GiST index) and, only if
# there is none, writes the current row, closes the previous version and records the new one;
# it answers the ids in the way. A cancellation frees time, so it checks nothing.
# recorded_at is taken after the locks (clock_timestamp, not now(), the transaction's start) and
# kept at least 1 ms after the previous version's, so every version of an appointment has a
# non-empty [recorded_at, superseded_at) at the millisecond precision the API reports.
_WRITE_UNLESS_OVERLAP = f"""
    WITH conflicts AS (
        SELECT id FROM appointments WHERE %(status)s = '{ACTIVE}' AND {_OVERLAPPING}
         ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}
    ), stamp AS (
        SELECT greatest(
            date_trunc('milliseconds', clock_timestamp()),
            (SELECT recorded_at + interval '1 millisecond' FROM appointment_versions
              WHERE appointment_id = %(id)s AND version = %(version)s - 1)) AS at
    ), current AS (
        INSERT INTO appointments AS a
            (id, calendar, starts_at, ends_at, created_at, updated_at, version, status)
        SELECT %(id)s, %(calendar)s, %(start)s, %(end)s, %(created_at)s, %(updated_at)s,
               %(version)s, %(status)s
         WHERE NOT EXISTS (SELECT FROM conflicts)
        ON CONFLICT (id) DO UPDATE SET
            calendar = excluded.calendar, starts_at = excluded.starts_at,
            ends_at = excluded.ends_at, created_at = excluded.created_at,
            updated_at = excluded.updated_at, version = excluded.version,
            status = excluded.status
        RETURNING a.*
    ), superseded AS (
        UPDATE appointment_versions SET superseded_at = stamp.at FROM stamp, current
         WHERE appointment_id = %(id)s AND appointment_versions.version = %(version)s - 1
    ), recorded AS (
        INSERT INTO appointment_versions
            (appointment_id, version, calendar, starts_at, ends_at, created_at, updated_at,
             status, recorded_at, recorded_by)
        SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at, status, stamp.at,
               %(recorded_by)s
          FROM current, stamp
    )
    SELECT array(SELECT id FROM conflicts) AS conflicts
    """


def save_appointment(
    engine: Engine,
    *,
    new: AppointmentData,
    precondition: Precondition = NO_PRECONDITION,
    access: Access = FULL_ACCESS,
) -> SaveResult:
    """Create or update by client id; the latest `updatedAt` wins. One transaction, two round
    trips: BEGIN, the id lock and the read; then the calendar locks, the write and COMMIT.

    `access` must open the new calendar and, for an update, the stored one: a create in, a
    move to or a move from a calendar outside it is `Forbidden` before anything else is
    decided, so the refusal tells nothing of the stored appointment."""
    if not access.write or not access.opens(new.calendar):
        raise Forbidden()

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> SaveResult:
        current = _lock_and_read(conn, engine, new.id)
        if current is not None and not access.opens(current.calendar):
            raise Forbidden()
        precondition.check(current)
        decision = decide(current, new)
        if decision is Decision.STALE:
            raise StaleUpdate()
        if decision is Decision.REPLAY:
            assert current is not None
            return SaveResult(current, created=False)
        calendars = {new.calendar} | ({current.calendar} if current else set())
        version = current.version + 1 if current else 1
        stored = _write_and_commit(
            conn, attempt, calendars, new, version=version, recorded_by=access.key
        )
        return SaveResult(stored, created=current is None)

    try:
        return database.run(engine, work)
    except psycopg.errors.ExclusionViolation as error:
        # Unreachable through this function while the locks hold; kept as the answer for the
        # day some other writer bypasses them.
        raise TimeRangeUnavailable(_overlapping_ids(engine, new)) from error


def cancel_appointment(
    engine: Engine,
    *,
    appointment_id: int,
    precondition: Precondition = NO_PRECONDITION,
    access: Access = FULL_ACCESS,
) -> StoredAppointment:
    """Cancel: a new version that frees the slot at once. Cancelling twice changes nothing.
    An appointment outside `access`'s calendars is not found, exactly as a missing one."""
    if not access.write:
        raise Forbidden()

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> StoredAppointment:
        current = _lock_and_read(conn, engine, appointment_id)
        if current is None or not access.opens(current.calendar):
            raise NotFound()
        precondition.check(current)
        if not current.active:
            return current
        return _write_and_commit(
            conn,
            attempt,
            {current.calendar},
            current.as_data(),
            version=current.version + 1,
            status=CANCELLED,
            recorded_by=access.key,
        )

    return database.run(engine, work)


def _lock_and_read(
    conn: psycopg.Connection, engine: Engine, appointment_id: int
) -> StoredAppointment | None:
    """Open the transaction, take the id lock, then read the row, in one round trip: the read
    is a statement of its own, so it has a snapshot taken after the lock was granted."""
    results = database.round_trip(
        conn,
        {"lock": _LOCK_ID, "row": _READ},
        {"id": appointment_id},
        before=(database.BEGIN, database.timeouts(engine)),
    )
    LOCK_WAIT.observe(results["lock"][0]["waited"])
    row = results["row"]
    return StoredAppointment(**row[0]) if row else None


def _write_and_commit(
    conn: psycopg.Connection,
    attempt: database.Attempt,
    calendars: set[str],
    data: AppointmentData,
    *,
    version: int,
    status: str = ACTIVE,
    recorded_by: str | None = None,
) -> StoredAppointment:
    """Lock the calendars, write the version unless it overlaps an active appointment of its
    calendar, and commit, in one round trip. A refused write wrote nothing, so the COMMIT
    that travels with it is harmless; a failing one stops the rest (`run` rolls back)."""
    params = {**_columns(data), "version": version, "status": status, "recorded_by": recorded_by}
    params.update(space=_CALENDAR_LOCK_SPACE, names=sorted(calendars))
    attempt.committing = True
    results = database.round_trip(
        conn,
        {"locks": _LOCK_CALENDARS, "write": _WRITE_UNLESS_OVERLAP},
        params,
        after=(database.COMMIT,),
    )
    LOCK_WAIT.observe(results["locks"][0]["waited"])
    conflicts = results["write"][0]["conflicts"]
    if conflicts:
        raise TimeRangeUnavailable(list(conflicts))
    return StoredAppointment(**_columns(data), version=version, status=status)


def _overlapping_ids(engine: Engine, new: AppointmentData) -> list[int]:
    params = {"calendar": new.calendar, "start": new.start, "end": new.end, "id": new.id}
    rows = database.execute(engine, {"overlapping": _OVERLAPS}, params)["overlapping"]
    return [row["id"] for row in rows]


def _columns(data: AppointmentData) -> dict:
    return {
        "id": data.id,
        "calendar": data.calendar,
        "start": data.start,
        "end": data.end,
        "created_at": data.created_at,
        "updated_at": data.updated_at,
    }
