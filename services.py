"""The write transactions: create-or-update (bookings and holds), cancel, a calendar's
settings, and recording lapsed holds' expiries. Knows nothing about Flask or HTTP.

Every write is one READ COMMITTED transaction that first takes transaction-scoped advisory
locks (see the lock helpers), then reads, decides and writes. Outcomes that are not a success
are domain exceptions (`TimeRangeUnavailable`, `OutsideHours`, `StaleUpdate`,
`InvalidTransition`, `PreconditionFailed`, `NotFound`, `Forbidden`, from domain.py) that
errors.py maps to status codes. Reads live in
`queries.py`, with the SQL both share (the appointment's columns, the overlap condition).
The exclusion constraint in `models.py` is the backstop: if any code path ever tried to store an
overlap, PostgreSQL would refuse it and we answer the same conflict. The time spent waiting for
the locks is measured by the server, in the lock statements themselves (`metrics.LOCK_WAIT`).
Never imports Flask, never speaks HTTP, never commits outside the transaction it opened.
"""

from datetime import timedelta

import psycopg
import psycopg.errors
from sqlalchemy.engine import Engine

import database
import localtime
import queries
from domain import (
    ACTIVE,
    CANCELLED,
    EXPIRED,
    EXPIRY,
    FULL_ACCESS,
    HELD,
    NO_PRECONDITION,
    Access,
    AppointmentData,
    CalendarSettings,
    Decision,
    Forbidden,
    InvalidTransition,
    NotFound,
    OutsideHours,
    Precondition,
    SaveResult,
    StaleUpdate,
    StoredAppointment,
    TimeRangeUnavailable,
    decide,
)
from metrics import LOCK_WAIT
from queries import OVERLAPS_WITHIN_GAP

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
_READ = queries.BY_ID
# The settings of the calendar written to, read with the row (before the calendar lock) and
# checked again under it by version (`_WRITE_UNLESS_OVERLAP`): a PUT in between makes the write
# do nothing and run again (`save_appointment`).
_READ_SETTINGS = f"SELECT {queries.SETTINGS_COLUMNS} FROM calendars WHERE name = %(calendar)s"
# The active appointments of the calendar that the new range meets, itself excepted. `gap` is
# both of the calendar's buffers when it enforces them, else zero: blocked ranges
# [start - before, end + after) meet exactly when the plain ranges come closer than `gap`.
_OVERLAPPING = (
    f"calendar = %(calendar)s AND status IN ('{ACTIVE}', '{HELD}') AND {OVERLAPS_WITHIN_GAP}"
    " AND id <> %(id)s"
)
# The instant a write decides by: PostgreSQL's clock once the calendar locks are granted,
# shared by the statements after it (a transaction-local setting), so the holds it records as
# expired and the holds it counts as blocking are judged at one instant, which is also when
# the write is recorded (at least 1 ms after the version before it).
_NOW = (
    "SELECT set_config('sesame.now', date_trunc('milliseconds', clock_timestamp())::text, true)"
    " AS now"
)
NOW = "current_setting('sesame.now')::timestamptz"


def _expire(which: str) -> str:
    """Record the expiry of the lapsed holds `which` selects: each becomes `expired`, version
    + 1, recorded at its expires_at by `expiry`, exactly as every read already answered it.
    Run under the calendar locks, by a write (`_EXPIRE_IN_THE_WAY`) or the sweeper
    (`EXPIRE_ON_CALENDAR`), without those holds' id locks: every write re-checks, under the
    calendar lock, that the version it read is still the stored one (`_WRITE_UNLESS_OVERLAP`),
    and starts over if an expiry was recorded in between."""
    return f"""
    WITH expired AS (
        UPDATE appointments SET status = '{EXPIRED}', version = version + 1
         WHERE status = '{HELD}' AND expires_at <= {NOW} AND ({which})
        RETURNING *
    ), superseded AS (
        UPDATE appointment_versions AS v SET superseded_at = e.expires_at FROM expired AS e
         WHERE v.appointment_id = e.id AND v.version = e.version - 1
    ), recorded AS (
        INSERT INTO appointment_versions
            (appointment_id, version, calendar, starts_at, ends_at, created_at, updated_at,
             status, expires_at, recorded_at, recorded_by)
        SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at, status,
               expires_at, expires_at, '{EXPIRY}'
          FROM expired ORDER BY expires_at, id
    )
    SELECT count(*) AS expired FROM expired
    """


# The write's own row, if it lapsed, and the lapsed holds whose blocked ranges it meets.
_EXPIRE_IN_THE_WAY = _expire(f"id = %(id)s OR (calendar = %(calendar)s AND {OVERLAPS_WITHIN_GAP})")
EXPIRE_ON_CALENDAR = _expire("calendar = %(calendar)s")
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
    WITH settings AS (
        SELECT %(settings_version)s::int IS NOT NULL AND %(settings_version)s::int <> coalesce(
            (SELECT version FROM calendars WHERE name = %(calendar)s), 0) AS changed
    ), conflicts AS (
        SELECT id FROM appointments
         WHERE %(status)s IN ('{ACTIVE}', '{HELD}') AND {_OVERLAPPING}
           AND NOT (SELECT changed FROM settings)
         ORDER BY id LIMIT {MAX_CONFLICTS_REPORTED}
    ), stamp AS (
        SELECT greatest(
            {NOW},
            (SELECT recorded_at + interval '1 millisecond' FROM appointment_versions
              WHERE appointment_id = %(id)s AND version = %(version)s - 1)) AS at
    ), current AS (
        INSERT INTO appointments AS a
            (id, calendar, starts_at, ends_at, created_at, updated_at, version, status,
             expires_at)
        SELECT %(id)s, %(calendar)s, %(start)s, %(end)s, %(created_at)s, %(updated_at)s,
               %(version)s, %(status)s,
               CASE WHEN %(status)s = '{HELD}'
                    THEN stamp.at + make_interval(secs => %(hold_for)s) END
          FROM stamp
         WHERE NOT EXISTS (SELECT FROM conflicts) AND NOT (SELECT changed FROM settings)
        ON CONFLICT (id) DO UPDATE SET
            calendar = excluded.calendar, starts_at = excluded.starts_at,
            ends_at = excluded.ends_at, created_at = excluded.created_at,
            updated_at = excluded.updated_at, version = excluded.version,
            status = excluded.status, expires_at = excluded.expires_at
         -- The version this write read is still the stored one (an expiry recorded since,
         -- by another write or the sweeper, makes it write nothing and start over).
         WHERE a.version = %(version)s - 1
        RETURNING a.*
    ), superseded AS (
        UPDATE appointment_versions SET superseded_at = stamp.at FROM stamp, current
         WHERE appointment_id = %(id)s AND appointment_versions.version = %(version)s - 1
    ), recorded AS (
        INSERT INTO appointment_versions
            (appointment_id, version, calendar, starts_at, ends_at, created_at, updated_at,
             status, expires_at, recorded_at, recorded_by)
        SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at, status,
               expires_at, stamp.at, %(recorded_by)s
          FROM current, stamp
    )
    SELECT array(SELECT id FROM conflicts) AS conflicts,
           EXISTS (SELECT FROM current) AS written, (SELECT expires_at FROM current) AS expires_at
    """


def save_appointment(
    engine: Engine,
    *,
    new: AppointmentData,
    precondition: Precondition = NO_PRECONDITION,
    access: Access = FULL_ACCESS,
) -> SaveResult:
    """Create or update by client id; the latest `updatedAt` wins. One transaction, two round
    trips: BEGIN, the id lock, the read and the calendar's settings; then the calendar locks,
    the write and COMMIT.

    `access` must open the new calendar and, for an update, the stored one: a create in, a
    move to or a move from a calendar outside it is `Forbidden` before anything else is
    decided, so the refusal tells nothing of the stored appointment. A calendar that enforces
    its hours refuses a range outside its open time (`OutsideHours`) and one whose blocked
    range meets another's (`TimeRangeUnavailable`), checked against the settings in force
    when the calendar lock is granted: if a PUT changed them since they were read, the write
    does nothing and runs again with the settings read under the lock."""
    if not access.write or not access.opens(new.calendar):
        raise Forbidden()

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> SaveResult:
        settings_locked = False
        while True:
            current, settings = _lock_and_read(conn, engine, new.id, new.calendar)
            if current is not None and not access.opens(current.calendar):
                raise Forbidden()
            precondition.check(current)
            decision = decide(current, new)
            if decision is Decision.STALE:
                raise StaleUpdate()
            if decision is Decision.INVALID:
                raise InvalidTransition()
            if decision is Decision.REPLAY:
                assert current is not None
                return SaveResult(current, created=False)
            calendars = {new.calendar} | ({current.calendar} if current else set())
            if settings_locked:
                settings = _lock_calendars_and_read_settings(conn, calendars, new.calendar)
            if settings.enforce and not localtime.is_open(settings, new.start, new.end):
                raise OutsideHours()
            version = current.version + 1 if current else 1
            stored = _write_and_commit(
                conn,
                attempt,
                calendars,
                new,
                version=version,
                status=new.status,
                hold_for=new.hold_for,
                recorded_by=access.key,
                settings=settings,
            )
            if stored is not None:
                return SaveResult(stored, created=current is None)
            # The settings or the stored version changed since they were read (a PUT, a
            # recorded expiry): once more, reading the settings under the lock this time.
            settings_locked = True

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
    An appointment outside `access`'s calendars is not found, exactly as a missing one.
    Always allowed, whatever the calendar's hours: it only frees time."""
    if not access.write:
        raise Forbidden()

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> StoredAppointment:
        while True:
            current, _ = _lock_and_read(conn, engine, appointment_id)
            if current is None or not access.opens(current.calendar):
                raise NotFound()
            precondition.check(current)
            if not current.blocking:
                return current
            stored = _write_and_commit(
                conn,
                attempt,
                {current.calendar},
                current.as_data(),
                version=current.version + 1,
                status=CANCELLED,
                recorded_by=access.key,
            )
            if stored is not None:
                return stored
            # A hold that lapsed since it was read: its expiry is recorded now; read again.

    return database.run(engine, work)


def save_calendar(
    engine: Engine,
    *,
    settings: CalendarSettings,
    precondition: Precondition = NO_PRECONDITION,
    access: Access = FULL_ACCESS,
) -> CalendarSettings:
    """Replace a calendar's settings: the next version, under the calendar's lock, so every
    write to the calendar is checked against exactly one version and sees every write before
    it. Stored appointments are never rewritten."""
    if not access.write or not access.opens(settings.calendar):
        raise Forbidden()

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> CalendarSettings:
        current = _lock_calendars_and_read_settings(
            conn,
            {settings.calendar},
            settings.calendar,
            before=(database.BEGIN, database.timeouts(engine)),
        )
        precondition.check(current)
        attempt.committing = True
        results = database.round_trip(
            conn,
            {"saved": _SAVE_SETTINGS},
            {**queries.settings_to_row(settings), "version": current.version + 1},
            after=(database.COMMIT,),
        )
        return queries.settings_from_row(results["saved"][0])

    return database.run(engine, work)


_SAVE_SETTINGS = f"""
    INSERT INTO calendars AS c
        (name, time_zone, hours, overrides, buffer_before, buffer_after, minimum_notice,
         horizon, enforce, version, updated_at)
    VALUES (%(name)s, %(time_zone)s, %(hours)s, %(overrides)s, %(buffer_before)s,
            %(buffer_after)s, %(minimum_notice)s, %(horizon)s, %(enforce)s, %(version)s,
            date_trunc('milliseconds', clock_timestamp()))
    ON CONFLICT (name) DO UPDATE SET
        time_zone = excluded.time_zone, hours = excluded.hours, overrides = excluded.overrides,
        buffer_before = excluded.buffer_before, buffer_after = excluded.buffer_after,
        minimum_notice = excluded.minimum_notice, horizon = excluded.horizon,
        enforce = excluded.enforce, version = excluded.version, updated_at = excluded.updated_at
    RETURNING {queries.SETTINGS_COLUMNS.replace("name AS", "c.name AS")}
    """


def record_expiries(engine: Engine, calendar: str) -> int:
    """Record the expiry of `calendar`'s lapsed holds, under its lock, as a write would
    (the sweeper, holds.py); the number recorded."""

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> int:
        attempt.committing = True
        results = database.round_trip(
            conn,
            {"locks": _LOCK_CALENDARS, "now": _NOW, "expired": EXPIRE_ON_CALENDAR},
            {"space": _CALENDAR_LOCK_SPACE, "names": [calendar], "calendar": calendar},
            before=(database.BEGIN, database.timeouts(engine)),
            after=(database.COMMIT,),
        )
        return int(results["expired"][0]["expired"])

    return database.run(engine, work)


def _lock_and_read(
    conn: psycopg.Connection, engine: Engine, appointment_id: int, calendar: str | None = None
) -> tuple[StoredAppointment | None, CalendarSettings]:
    """Open the transaction, take the id lock, then read the row (and `calendar`'s settings),
    in one round trip: the reads are statements of their own, so they have a snapshot taken
    after the lock was granted."""
    statements = {"lock": _LOCK_ID, "row": _READ}
    if calendar is not None:
        statements["settings"] = _READ_SETTINGS
    results = database.round_trip(
        conn,
        statements,
        {"id": appointment_id, "calendar": calendar},
        before=(database.BEGIN, database.timeouts(engine)),
    )
    LOCK_WAIT.observe(results["lock"][0]["waited"])
    row = results["row"]
    current = StoredAppointment(**row[0]) if row else None
    return current, queries.settings_or_defaults(results.get("settings", []), calendar or "")


def _lock_calendars_and_read_settings(
    conn: psycopg.Connection, calendars: set[str], calendar: str, before: tuple[str, ...] = ()
) -> CalendarSettings:
    """Take the calendar locks (in the open transaction, or the one `before` opens), then
    read `calendar`'s settings, which no PUT can change until the transaction ends."""
    results = database.round_trip(
        conn,
        {"locks": _LOCK_CALENDARS, "settings": _READ_SETTINGS},
        {"space": _CALENDAR_LOCK_SPACE, "names": sorted(calendars), "calendar": calendar},
        before=before,
    )
    LOCK_WAIT.observe(results["locks"][0]["waited"])
    return queries.settings_or_defaults(results["settings"], calendar)


def _write_and_commit(
    conn: psycopg.Connection,
    attempt: database.Attempt,
    calendars: set[str],
    data: AppointmentData,
    *,
    version: int,
    status: str = ACTIVE,
    hold_for: int | None = None,
    recorded_by: str | None = None,
    settings: CalendarSettings | None = None,
) -> StoredAppointment | None:
    """Lock the calendars, write the version unless it overlaps an active appointment of its
    calendar (widened by the buffers of a calendar that enforces them), and commit, in one
    round trip. Lapsed holds in the way (and the write's own row, if it lapsed) have their
    expiry recorded first, at one instant with the write. A refused write wrote nothing (but
    those expiries, which every read already showed), so the COMMIT that travels with it is
    harmless; a failing one stops the rest (`run` rolls back). None: `settings` are no longer
    the calendar's, or the stored version is no longer `version - 1`; nothing was written."""
    gap = settings.gap if settings is not None and settings.enforce else timedelta(0)
    params = {**_columns(data), "version": version, "status": status, "recorded_by": recorded_by}
    params["hold_for"] = hold_for
    params.update(
        space=_CALENDAR_LOCK_SPACE,
        names=sorted(calendars),
        gap=gap,
        settings_version=settings.version if settings is not None else None,
    )
    attempt.committing = True
    results = database.round_trip(
        conn,
        {
            "locks": _LOCK_CALENDARS,
            "now": _NOW,
            "expired": _EXPIRE_IN_THE_WAY,
            "write": _WRITE_UNLESS_OVERLAP,
        },
        params,
        after=(database.COMMIT,),
    )
    LOCK_WAIT.observe(results["locks"][0]["waited"])
    (write,) = results["write"]
    if write["conflicts"]:
        raise TimeRangeUnavailable(list(write["conflicts"]))
    if not write["written"]:
        return None
    return StoredAppointment(
        **_columns(data), version=version, status=status, expires_at=write["expires_at"]
    )


def _overlapping_ids(engine: Engine, new: AppointmentData) -> list[int]:
    params = {
        "calendar": new.calendar,
        "start": new.start,
        "end": new.end,
        "id": new.id,
        "gap": timedelta(0),
    }
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
