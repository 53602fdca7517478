"""The database connection: the Flask-SQLAlchemy extension, the engine options, the settings
every transaction gets (shared by the primary and the read replicas, replicas.py), and how the
request path borrows a connection.

`init_app` builds the primary's engine from the validated settings in config.py; `bound` gives
any engine the same per-transaction timeouts. Never opens a connection at import or in
`init_app`: gunicorn workers connect after the fork. Never runs a query of the book itself.

The request path (services.py, queries.py) talks to the psycopg connection under the engine's
pool directly: an ORM or Core round of statement compilation, events and result wrapping cost
more than the query itself. The statements of one step travel together (`round_trip`), so a
read is one round trip and a write two (docs/performance.md).
No pre-ping on checkout: a connection found dead on first use (a restarted server, a dropped
PgBouncer link) is thrown away with every other pooled one, and the work runs once more on a
fresh connection, provided nothing of it can have been committed: reads always, writes only
when the failure came before their COMMIT was sent. Otherwise the client gets the 503 it
would have got anyway.
"""

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from psycopg.rows import dict_row
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models import Base

T = TypeVar("T")

db = SQLAlchemy(model_class=Base)


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options for the primary and the replicas alike."""
    return {
        # A bounded pool per worker, shared by its threads (by default 64 threads share 8
        # connections), no overflow: a thread that finds none free waits DB_POOL_TIMEOUT_S,
        # then the request answers 503. The pool is the bound on the database's connections.
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": 0,
        "pool_timeout": config["DB_POOL_TIMEOUT_S"],
        # No ping per checkout (a round trip per request): `run` detects a dead connection.
        "pool_pre_ping": False,
        "isolation_level": "READ COMMITTED",
        "connect_args": {
            # No server-side prepared statements: they break behind PgBouncer in
            # transaction mode, where each transaction may get another server session.
            "prepare_threshold": None,
            "connect_timeout": config["DB_CONNECT_TIMEOUT_S"],
            "application_name": "sesame",
        },
    }


def init_app(app: Flask) -> None:
    """Bind `db` to the app: the primary, with its timeouts on every transaction."""
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))
    db.init_app(app)
    with app.app_context():
        bound(db.engine, app.config)


# The per-transaction bounds, set with set_config(..., is_local => true), which is SET LOCAL:
# they die with the (possibly implicit) transaction and need no connection startup option,
# which PgBouncer would refuse. The request path sends them in the same round trip as the
# statements they bound (`timeouts`).
SET_TIMEOUTS = (
    "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)"
)
_TIMEOUTS: dict[int, str] = {}


def bound(engine: Engine, config: Mapping[str, Any]) -> Engine:
    """Give every transaction on `engine` a lock and a statement timeout, so no request waits
    forever: those the request path opens (`timeouts`) and those SQLAlchemy opens
    (migrations, readiness), through its `begin` event."""
    lock_ms, statement_ms = (
        int(config["DB_LOCK_TIMEOUT_MS"]),
        int(config["DB_STATEMENT_TIMEOUT_MS"]),
    )
    params = (f"{lock_ms}ms", f"{statement_ms}ms")
    _TIMEOUTS[id(engine)] = SET_TIMEOUTS % tuple(f"'{value}'" for value in params)

    @event.listens_for(engine, "begin")
    def _set_timeouts(connection: Any) -> None:
        connection.exec_driver_sql(SET_TIMEOUTS, params)

    return engine


def timeouts(engine: Engine) -> str:
    """The statement that sets `engine`'s timeouts, to lead the statements of a round trip."""
    return _TIMEOUTS[id(engine)]


def round_trip(conn: psycopg.Connection, statements: Any, params: Any = None) -> list[list[Any]]:
    """Send `statements` (several, `;`-separated) in one round trip; answer each one's rows.

    Parameters are bound client-side (psycopg's ClientCursor quotes them) so that the whole
    string goes by the simple query protocol, which takes several statements at once. In
    autocommit they form one implicit transaction (so SET LOCAL holds for the lot), or the
    transaction their own BEGIN and COMMIT delimit; PostgreSQL still runs them one by one,
    each with a snapshot of its own under READ COMMITTED. One round trip costs about the CPU
    of one plain `execute`; psycopg's pipeline mode, tried first, cost twice that.
    """
    cursor = psycopg.ClientCursor(conn, row_factory=dict_row)
    cursor.execute(statements, params)
    # `nfields`, not `description`, to tell rows from a command: description builds objects.
    return [cursor.fetchall() if cursor.pgresult.nfields else [] for _ in cursor.results()]  # type: ignore[union-attr]


class Step:
    """Tells `run` whether the work has sent its COMMIT: after that, a retry could apply a
    write twice (harmless, since writes are idempotent by id and updatedAt, but the client
    would see 200 instead of 201), so a failure then is answered as an outage instead."""

    committing = False


def run(engine: Engine, work: Callable[[psycopg.Connection, Step], T]) -> T:
    """`work(conn, step)` on a pooled connection in autocommit (a write sends its own BEGIN
    and COMMIT); retried once on a fresh connection if the first one turns out dead before
    anything was committed."""
    for attempt in (1, 2):
        step = Step()
        fairy = engine.raw_connection()
        conn: psycopg.Connection = fairy.driver_connection  # type: ignore[assignment]
        try:
            conn.autocommit = True
            return work(conn, step)
        except psycopg.OperationalError as error:
            if not conn.broken:
                raise
            fairy.invalidate(error)
            if attempt == 2 or step.committing:
                raise
            # The server went away under this connection, so under its pooled siblings too.
            engine.dispose()
        finally:
            with contextlib.suppress(psycopg.Error):
                if not conn.broken:
                    conn.rollback()  # nothing to do unless the work failed mid-transaction
                    conn.autocommit = False  # as SQLAlchemy's other users expect it
            fairy.close()
    raise AssertionError("unreachable")
