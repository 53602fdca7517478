"""The database connection: the Flask-SQLAlchemy extension, the engine options, the settings
every transaction gets (shared by the primary and the read replicas, replicas.py), and how the
request path borrows a connection.

`init_app` builds the primary's engine from the validated settings in config.py; `bound` gives
any engine the same per-transaction timeouts. Never opens a connection at import or in
`init_app`: gunicorn workers connect after the fork. Never runs a query of the book itself.

The request path (services.py, queries.py) talks to the psycopg connection under the engine's
pool directly, in pipeline mode: an ORM or Core round of statement compilation, events and
result wrapping cost more than the query itself, and pipelining sends the statements of one
step together, so a read is one round trip and a write two (docs/performance.md).
No pre-ping on checkout: a connection found dead on first use (a restarted server, a dropped
PgBouncer link) is thrown away with every other pooled one, and the work runs once more on a
fresh connection, provided nothing of it can have been committed: reads always, writes only
when the failure came before their COMMIT was sent. Otherwise the client gets the 503 it
would have got anyway.
"""

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import psycopg
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
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
# which PgBouncer would refuse. The request path sends them in the pipeline of its statements.
SET_TIMEOUTS = (
    "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)"
)
_TIMEOUTS: dict[int, tuple[str, str]] = {}


def bound(engine: Engine, config: Mapping[str, Any]) -> Engine:
    """Give every transaction on `engine` a lock and a statement timeout, so no request waits
    forever: those the request path opens (`set_timeouts`) and those SQLAlchemy opens
    (migrations, readiness), through its `begin` event."""
    params = (f"{config['DB_LOCK_TIMEOUT_MS']}ms", f"{config['DB_STATEMENT_TIMEOUT_MS']}ms")
    _TIMEOUTS[id(engine)] = params

    @event.listens_for(engine, "begin")
    def _set_timeouts(connection: Any) -> None:
        connection.exec_driver_sql(SET_TIMEOUTS, params)

    return engine


def set_timeouts(engine: Engine, conn: psycopg.Connection) -> None:
    """Queue the engine's timeouts on `conn`, for the transaction its next statements form."""
    conn.execute(SET_TIMEOUTS, _TIMEOUTS[id(engine)])


class Step:
    """Tells `run` whether the work has sent its commit: after that, a retry could apply a
    write twice (harmless, since writes are idempotent by id and updatedAt, but the client
    would see 200 instead of 201), so a failure then is answered as an outage instead."""

    committing = False


def run(engine: Engine, work: Callable[[psycopg.Connection, Step], T]) -> T:
    """`work(conn, step)` on a pooled connection, in a transaction (READ COMMITTED) or in
    autocommit as the work chooses; retried once on a fresh connection if the first one turns
    out dead before anything was committed."""
    for attempt in (1, 2):
        step = Step()
        fairy = engine.raw_connection()
        conn: psycopg.Connection = fairy.driver_connection  # type: ignore[assignment]
        try:
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
                    conn.autocommit = False
            fairy.close()
    raise AssertionError("unreachable")


@contextlib.contextmanager
def autocommit(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """For one read: statements sent together before a Sync form one implicit transaction,
    so a read is its timeouts and its query in a single round trip, with no BEGIN/COMMIT."""
    conn.autocommit = True
    try:
        with conn.pipeline():
            yield conn
    finally:
        if not conn.broken:
            conn.autocommit = False
