"""Reads of the book: one appointment, its history, lists (now or at a past moment), the change
feed and availability. Rows become the domain types of domain.py by column name (the columns
labelled with the field names: `APPOINTMENT`, `VERSION`). The SQL the book's readers and
writers share is here, written once: those column lists, the overlap condition, the feed's
horizon.
Knows nothing about Flask or HTTP and never writes.

Each read is kept to the calendars its `Access` opens (domain.py): an appointment outside them
is not found, exactly as a missing one; lists, the feed and availability show only them, in
SQL (`calendar LIKE ANY(...)`, no filter at all for a key that opens every calendar); naming a
calendar outside them is `Forbidden`.

Each function is one round trip on the engine it is given, by database.py's recipe.
Which server answers is the caller's choice: the by-id reads and the change feed must see the
primary (a client expects its own write); the rest may be a moment old.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy.engine import Engine

import database
import localtime
from domain import (
    ACTIVE,
    ALL,
    CANCELLED,
    EXPIRED,
    EXPIRY,
    FULL_ACCESS,
    HELD,
    LIVE,
    Access,
    Availability,
    BookQuery,
    Busy,
    CalendarSettings,
    ChangesPage,
    FeedPosition,
    Forbidden,
    NotFound,
    RecordedVersion,
    SlotQuery,
    Slots,
    StoredAppointment,
    tile_hours,
)
from models import TIME_RANGE, VALIDITY
from slots import offer

# The SQL every reader and writer of the book shares, written once (services.py, webhooks.py).
# An appointment's columns, labelled with the field names of domain.StoredAppointment: of the
# current book (`appointments`, or a page of it) and of its versions.
_FIELDS = (
    "calendar, starts_at AS start, ends_at AS end, created_at, updated_at, version, status,"
    " expires_at"
)
APPOINTMENT = f"id, {_FIELDS}"
VERSION = f"appointment_id AS id, {_FIELDS}"
# A hold whose expiry has passed, by PostgreSQL's clock (one instant per statement), whether or
# not the expiry is recorded yet: every read answers it as the version that will record it
# (status expired, version + 1, recorded at expires_at by `expiry`), so recording it changes
# nothing a client sees (services.py records it; the sweeper too).
LAPSED = f"(status = '{HELD}' AND expires_at <= statement_timestamp())"
# The current book's rows as every read answers them, lapsed holds as expired.
_CURRENT_ROWS = (
    "id, calendar, starts_at, ends_at, created_at, updated_at,"
    f" version + {LAPSED}::int AS version,"
    f" CASE WHEN {LAPSED} THEN '{EXPIRED}' ELSE status END AS status, expires_at"
)
# What keeps its range now: active appointments and holds not yet expired. (The first term
# lets the planner use the exclusion constraint's partial GiST index.)
BLOCKING_NOW = (
    f"status IN ('{ACTIVE}', '{HELD}')"
    f" AND (status = '{ACTIVE}' OR expires_at > statement_timestamp())"
)
# Rows whose [start, end) meets [%(start)s, %(end)s); an open bound is unbounded. The range is
# the exclusion constraint's expression (models.TIME_RANGE), so its GiST index serves it.
OVERLAPS = f"{TIME_RANGE} && tstzrange(%(start)s, %(end)s, '[)')"
# The same with the window widened by %(gap)s on each side: ranges that come closer than `gap`
# (both buffers of a calendar, services.py and slots.py).
OVERLAPS_WITHIN_GAP = f"{TIME_RANGE} && tstzrange(%(start)s - %(gap)s, %(end)s + %(gap)s, '[)')"
# The feed's commit-safe rule: serve a version only once its transaction id is below the
# horizon, the oldest transaction still running, so that no transaction that could yet commit
# a version ordered before it is still open. The webhook dispatcher reads by the same rule
# (webhooks.py).
FEED_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def read(engine: Engine, statement: str, params: dict[str, Any], row_type: Any = None) -> list[Any]:
    """One read in one round trip: its timeouts and the statement, one implicit transaction.
    Rows come as dicts, or as `row_type` built from the columns by name."""
    rows = database.execute(engine, {"rows": statement}, params)["rows"]
    return [row_type(**row) for row in rows] if row_type else rows


BY_ID = (
    f"SELECT {APPOINTMENT} FROM (SELECT {_CURRENT_ROWS} FROM appointments"
    " WHERE id = %(id)s) AS current"
)
# The versions, and the one that will record a lapsed hold's expiry, as recorded it will be.
_HISTORY = f"""
    SELECT {VERSION}, recorded_at, recorded_by FROM appointment_versions
     WHERE appointment_id = %(id)s
    UNION ALL
    SELECT id, calendar, starts_at AS start, ends_at AS end, created_at, updated_at,
           version + 1 AS version, '{EXPIRED}' AS status, expires_at,
           expires_at AS recorded_at, '{EXPIRY}' AS recorded_by
      FROM appointments WHERE id = %(id)s AND {LAPSED}
     ORDER BY version
    """


def get_appointment(
    engine: Engine, appointment_id: int, access: Access = FULL_ACCESS
) -> StoredAppointment:
    rows = read(engine, BY_ID, {"id": appointment_id}, StoredAppointment)
    if not rows or not access.opens(rows[0].calendar):
        raise NotFound()
    return rows[0]


def appointment_history(
    engine: Engine, appointment_id: int, access: Access = FULL_ACCESS
) -> list[RecordedVersion]:
    """Every version of one appointment, oldest first, the current one last; of an
    appointment `access` opens (by its current calendar), the versions in its calendars."""
    versions = read(engine, _HISTORY, {"id": appointment_id}, RecordedVersion)
    if not versions or not access.opens(versions[-1].calendar):
        raise NotFound()
    return versions if access.everything else [v for v in versions if access.opens(v.calendar)]


def list_appointments(
    engine: Engine, query: BookQuery, access: Access = FULL_ACCESS
) -> list[StoredAppointment]:
    """The book (or the book as it was at `query.at`) ordered by (start, id)."""
    page, params = _book(query, access)
    return read(engine, f"SELECT {APPOINTMENT} FROM ({page}) AS page", params, StoredAppointment)


@dataclass(frozen=True, slots=True)
class JsonPage:
    """A list page as the JSON array the API answers, built by PostgreSQL, with the number of
    appointments on it and the last one's (start, id): where the next page starts."""

    body: str
    count: int
    last: tuple[datetime, int] | None


def _utc(column: str) -> str:
    """A time as every response shows it, `YYYY-MM-DDTHH:MM:SS.sssZ` (formats.format_time)."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


def _json_object(expires_at: bool) -> str:
    """One appointment as AppointmentOut dumps it; `expiresAt` only for a hold."""
    expires = f" 'expiresAt', {_utc('expires_at')}," if expires_at else ""
    return (
        f"json_build_object('calendar', calendar, 'createdAt', {_utc('created_at')},"
        f" 'end', {_utc('ends_at')},{expires} 'id', id, 'start', {_utc('starts_at')},"
        f" 'status', status, 'updatedAt', {_utc('updated_at')}, 'version', version)"
    )


def _json_page(page: str) -> str:
    """The page's JSON, named and formatted as AppointmentOut dumps it (a test holds the two
    equal): for 100 rows, PostgreSQL builds it in a fraction of what formatting them in Python
    costs."""
    return (
        "SELECT coalesce(json_agg(CASE WHEN expires_at IS NULL"
        f" THEN {_json_object(False)} ELSE {_json_object(True)} END"
        " ORDER BY starts_at, id), '[]')::text AS body, count(*) AS count,"
        " (array_agg(starts_at ORDER BY starts_at DESC, id DESC))[1] AS last_start,"
        " (array_agg(id ORDER BY starts_at DESC, id DESC))[1] AS last_id"
        f" FROM ({page}) AS page"
    )


def list_appointments_json(
    engine: Engine, query: BookQuery, access: Access = FULL_ACCESS
) -> JsonPage:
    """The same page as `list_appointments`, as the API's JSON."""
    page, params = _book(query, access)
    (row,) = read(engine, _json_page(page), params)
    last = (row["last_start"], row["last_id"]) if row["count"] else None
    return JsonPage(row["body"], row["count"], last)


# The calendars a key opens, as LIKE patterns (database.like_patterns) in %(calendars)s.
_OPENED = "calendar LIKE ANY(%(calendars)s)"


def _book(query: BookQuery, access: Access) -> tuple[str, dict[str, Any]]:
    """The rows of one page, every column by its table name (and `id`), ordered by (start, id).

    From the current book, or from the versions that were current at `query.at` (one
    GiST-indexed range containment); only of the calendars `access` opens."""
    if query.calendar is not None and not access.opens(query.calendar):
        raise Forbidden()
    table = _AS_OF if query.at else f"SELECT {_CURRENT_ROWS} FROM appointments"
    where: list[str] = []
    params: dict[str, Any] = {"at": query.at, "limit": query.limit, "offset": query.offset}
    if query.calendar is not None:
        where.append("calendar = %(calendar)s")
        params["calendar"] = query.calendar
    elif not access.everything:
        where.append(_OPENED)
        params["calendars"] = database.like_patterns(access.calendars)
    if query.status != ALL:
        where.append((_AS_OF_STATUS if query.at else _NOW_STATUS).get(query.status, _STATUS))
        params["status"] = query.status
    if query.start is not None or query.end is not None:
        where.append(OVERLAPS)
        params.update({"start": query.start, "end": query.end})
    if query.after is not None:
        # Row comparison on the (start, id) index: a deep page costs what the first one does.
        where.append("(starts_at, id) > (%(after_start)s, %(after_id)s)")
        params.update({"after_start": query.after[0], "after_id": query.after[1]})
    condition = " WHERE " + " AND ".join(where) if where else ""
    order = " ORDER BY starts_at, id LIMIT %(limit)s OFFSET %(offset)s"
    return table + condition + order, params


# A status filter of the current book, on the stored columns (so the indexes serve it): an
# active or cancelled row is what it says; a hold is held until it lapses, expired after.
_NOW_STATUS = {
    ACTIVE: f"status = '{ACTIVE}'",
    CANCELLED: f"status = '{CANCELLED}'",
    HELD: f"status = '{HELD}' AND expires_at > statement_timestamp()",
    EXPIRED: f"(status = '{EXPIRED}' OR {LAPSED})",
    LIVE: BLOCKING_NOW,
}
_STATUS = "status = %(status)s"
_AS_OF_STATUS = {LIVE: f"status IN ('{ACTIVE}', '{HELD}')"}
# The book as it was at %(at)s: the versions current then (one GiST-indexed containment), and
# the expiry not yet recorded of each hold that had lapsed by then, as it will be recorded (a
# future %(at)s sees a live hold's expiry ahead, as it will be).
_AS_OF = f"""
    SELECT * FROM (
        SELECT appointment_id AS id, calendar, starts_at, ends_at, created_at, updated_at,
               version, status, expires_at
          FROM appointment_versions WHERE {VALIDITY} @> %(at)s
        UNION ALL
        SELECT id, calendar, starts_at, ends_at, created_at, updated_at, version + 1,
               '{EXPIRED}', expires_at
          FROM appointments WHERE status = '{HELD}' AND expires_at <= %(at)s
    ) AS book"""


def _changes(calendars: str = "") -> str:
    return f"""
    SELECT {VERSION}, recorded_at, recorded_by, txid, seq
      FROM appointment_versions
     WHERE (txid, seq) > (%(txid)s, %(seq)s)
       AND txid < {FEED_HORIZON}{calendars}
     ORDER BY txid, seq
     LIMIT %(limit)s
    """


_ALL_CHANGES = _changes()
# A key's view: the same commit-safe sequence with the other calendars' rows left out, so it
# is gap-free for that view, and the cursor stays a position in the one feed.
_KEY_CHANGES = _changes(f"\n       AND {_OPENED}")


def changes(
    engine: Engine, *, after: FeedPosition, limit: int, access: Access = FULL_ACCESS
) -> ChangesPage:
    """Every version committed after `after`, oldest first, at most `limit` of them; only
    those of the calendars `access` opens."""
    params: dict[str, Any] = {"txid": after.txid, "seq": after.seq, "limit": limit}
    if access.everything:
        rows: list[_FeedEntry] = read(engine, _ALL_CHANGES, params, _FeedEntry)
    else:
        params["calendars"] = database.like_patterns(access.calendars)
        rows = read(engine, _KEY_CHANGES, params, _FeedEntry)
    return ChangesPage(rows, FeedPosition(rows[-1].txid, rows[-1].seq) if rows else after)


@dataclass(frozen=True, slots=True)
class _FeedEntry(RecordedVersion):
    """A version with its place in the feed."""

    txid: int
    seq: int


_BOOKED = (
    "SELECT id, starts_at AS start, ends_at AS end FROM appointments"
    f" WHERE calendar = %(calendar)s AND {BLOCKING_NOW} AND {OVERLAPS}"
    " ORDER BY starts_at, id"
)


def availability(
    engine: Engine,
    *,
    calendar: str,
    start: datetime,
    end: datetime,
    min_duration: timedelta = timedelta(0),
    access: Access = FULL_ACCESS,
) -> Availability:
    """What is busy and what is free in one calendar within [start, end)."""
    if not access.opens(calendar):
        raise Forbidden()
    params = {"calendar": calendar, "start": start, "end": end}
    results = database.execute(engine, {"booked": _BOOKED, "settings": _SETTINGS}, params)
    booked, settings = results["booked"], results["settings"]
    hours = settings_or_defaults(settings, calendar)
    open_time = None if hours.always_open else localtime.open_time(hours, start, end)
    busy, free, closed = tile_hours(
        start, end, [Busy(**row) for row in booked], min_duration, open_time
    )
    return Availability(calendar, start, end, busy, free, closed)


# -- Calendars' settings and slots -------------------------------------------------------------

SETTINGS_COLUMNS = (
    "name AS calendar, time_zone, hours, overrides, buffer_before, buffer_after,"
    " minimum_notice, horizon, enforce, version, updated_at"
)
_SETTINGS = f"SELECT {SETTINGS_COLUMNS} FROM calendars WHERE name = %(calendar)s"
_ALL_SETTINGS = f"SELECT {SETTINGS_COLUMNS} FROM calendars ORDER BY name"
_KEY_SETTINGS = (
    f"SELECT {SETTINGS_COLUMNS} FROM calendars WHERE name LIKE ANY(%(calendars)s) ORDER BY name"
)


def settings_from_row(row: dict[str, Any]) -> CalendarSettings:
    """A `calendars` row (labelled by SETTINGS_COLUMNS) as the domain's settings."""
    hours = row["hours"]
    return CalendarSettings(
        **{
            **row,
            "hours": None
            if hours is None
            else {day: localtime.intervals_from_json(pairs) for day, pairs in hours.items()},
            "overrides": {
                date.fromisoformat(day): localtime.intervals_from_json(pairs)
                for day, pairs in row["overrides"].items()
            },
        }
    )


def settings_or_defaults(rows: list[dict[str, Any]], calendar: str) -> CalendarSettings:
    """The settings of `calendar`'s one row, or the defaults of a calendar never configured."""
    return settings_from_row(rows[0]) if rows else CalendarSettings(calendar)


def settings_to_row(settings: CalendarSettings) -> dict[str, Any]:
    """The parameters of a `calendars` row, `hours` and `overrides` as JSON."""
    hours = settings.hours
    return {
        "name": settings.calendar,
        "time_zone": settings.time_zone,
        "hours": None
        if hours is None
        else Jsonb({day: localtime.intervals_to_json(v) for day, v in hours.items()}),
        "overrides": Jsonb(
            {
                day.isoformat(): localtime.intervals_to_json(v)
                for day, v in sorted(settings.overrides.items())
            }
        ),
        "buffer_before": settings.buffer_before,
        "buffer_after": settings.buffer_after,
        "minimum_notice": settings.minimum_notice,
        "horizon": settings.horizon,
        "enforce": settings.enforce,
    }


def get_calendar(engine: Engine, calendar: str, access: Access = FULL_ACCESS) -> CalendarSettings:
    """A calendar's settings; the defaults (version 0) for one never configured."""
    if not access.opens(calendar):
        raise Forbidden()
    return settings_or_defaults(read(engine, _SETTINGS, {"calendar": calendar}), calendar)


def list_calendars(engine: Engine, access: Access = FULL_ACCESS) -> list[CalendarSettings]:
    """The calendars that have settings, by name; only those `access` opens."""
    if access.everything:
        rows = read(engine, _ALL_SETTINGS, {})
    else:
        rows = read(engine, _KEY_SETTINGS, {"calendars": database.like_patterns(access.calendars)})
    return [settings_from_row(row) for row in rows]


# Each calendar's blocked time near the window: what keeps its range now, widened by both of
# the calendar's buffers (its `gap`, the write path's OVERLAPS_WITHIN_GAP) and merged into one
# multirange by PostgreSQL, so a fully booked week is one row, not hundreds.
_BLOCKED = f"""
    SELECT n.name AS calendar,
           (SELECT range_agg(tstzrange(starts_at - g.gap, ends_at + g.gap, '[)'))
              FROM appointments
             WHERE calendar = n.name AND {BLOCKING_NOW}
               AND {TIME_RANGE} && tstzrange(%(start)s - g.gap, %(end)s + g.gap, '[)')) AS blocked
      FROM unnest(%(calendars)s::text[]) AS n(name)
     CROSS JOIN LATERAL (
        SELECT coalesce((SELECT make_interval(mins => buffer_before + buffer_after)
                           FROM calendars WHERE name = n.name), interval '0') AS gap) AS g
    """
_SETTINGS_OF_ALL = f"SELECT {SETTINGS_COLUMNS} FROM calendars WHERE name = ANY(%(calendars)s)"
# The instant the statements of one round trip share (the receipt of its message): the one
# clock of a slot answer, for notice, horizon and which holds still block.
_NOW = "SELECT statement_timestamp() AS now"


def slots(engine: Engine, query: SlotQuery, access: Access = FULL_ACCESS) -> Slots:
    """The starts of `query.duration` free on at least `query.required` of its calendars
    (slots.py), by the settings, the blocked time and the clock of one round trip."""
    if not all(access.opens(calendar) for calendar in query.calendars):
        raise Forbidden()
    params = {"calendars": list(query.calendars), "start": query.start, "end": query.end}
    results = database.execute(
        engine, {"settings": _SETTINGS_OF_ALL, "blocked": _BLOCKED, "clock": _NOW}, params
    )
    stored = {row["calendar"]: settings_from_row(row) for row in results["settings"]}
    settings = [stored.get(name) or CalendarSettings(name) for name in query.calendars]
    blocked = {
        row["calendar"]: [
            (span.lower.timestamp(), span.upper.timestamp()) for span in row["blocked"] or ()
        ]
        for row in results["blocked"]
    }
    return offer(query, settings, blocked, results["clock"][0]["now"])


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (for readiness), or None if it has none."""
    rows = read(engine, "SELECT version_num FROM alembic_version", {})
    return rows[0]["version_num"] if rows else None


_LAPSED_CALENDARS = (
    f"SELECT DISTINCT calendar FROM appointments WHERE {LAPSED} ORDER BY calendar LIMIT %(limit)s"
)


def calendars_with_lapsed_holds(engine: Engine, limit: int) -> list[str]:
    """Calendars with holds whose expiry has passed but is not recorded (the sweeper's)."""
    return [row["calendar"] for row in read(engine, _LAPSED_CALENDARS, {"limit": limit})]
