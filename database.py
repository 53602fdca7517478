"""How Sesame talks to PostgreSQL: one recipe for every runtime path, and the engine it uses.

The recipe. Every query at runtime runs as `database.run(engine, work)`: `work(conn, attempt)`
gets a psycopg connection of the engine's pool in autocommit and sends its statements with
`round_trip(conn, {"name": SQL, ...}, params, before=..., after=...)`, which answers each named
statement's rows (dicts) by its name; `before` and `after` carry the plumbing (`BEGIN`,
`timeouts(engine)`, `COMMIT`), whose results are dropped. A transaction of one round trip is
`execute(engine, {"name": SQL}, params, writes=...)`, which is most callers' whole need. A
write that sends COMMIT sets `attempt.committing` first. Callers catch one exception family,
psycopg's (`psycopg.Error`; `PoolTimeout` when no pooled connection came free in time).

SQL is written one way: plain strings, put together at import time from named constant
fragments with f-strings, every value a `%(name)s` parameter bound by psycopg. No identifier
or value ever comes from input, so psycopg.sql's composition would have nothing to quote, and
a plain string costs nothing per request. `like_patterns` is the one translation of calendar
patterns to LIKE.

Why not an ORM or Core session: a round of statement compilation, events and result wrapping
costs more than the query itself; the statements of one step travel together, so a read is one
round trip and a write two (docs/performance.md). No pre-ping on checkout: a connection found
dead on first use (a restarted server, a dropped PgBouncer link) is thrown away with every
other pooled one, and the work runs once more on a fresh connection, provided nothing of it can
have been committed: reads always, writes only when the failure came before their COMMIT was
sent. Otherwise the client gets the 503 it would have got anyway.

The engine: `init_app` builds the primary's from the validated settings in config.py (the pool
stays SQLAlchemy's; Alembic and the models use it too); `bind_timeouts` gives any engine its
per-transaction timeouts. Never opens a connection at import or in `init_app`: gunicorn workers
connect after the fork. Never runs a query of the book itself.
"""

import contextlib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
import sqlalchemy.exc
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from psycopg.rows import dict_row
from sqlalchemy.engine import Engine

from models import Base

T = TypeVar("T")
Rows = list[dict[str, Any]]

db = SQLAlchemy(model_class=Base)

BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
COMMIT = "COMMIT"


class PoolTimeout(psycopg.OperationalError):
    """No pooled connection came free within DB_POOL_TIMEOUT_S (as psycopg_pool's own)."""


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
        bind_timeouts(db.engine, app.config)


# The per-transaction bounds, set with set_config(..., is_local => true), which is SET LOCAL:
# they die with the (possibly implicit) transaction and need no connection startup option,
# which PgBouncer would refuse. They lead the statements of a round trip (`timeouts`).
_TIMEOUTS: "weakref.WeakKeyDictionary[Engine, str]" = weakref.WeakKeyDictionary()


def bind_timeouts(engine: Engine, config: Mapping[str, Any]) -> Engine:
    """Give `engine` a lock and a statement timeout for every transaction of the recipe, so
    no request waits forever; `timeouts(engine)` is then the statement that sets them."""
    lock_ms = int(config["DB_LOCK_TIMEOUT_MS"])
    statement_ms = int(config["DB_STATEMENT_TIMEOUT_MS"])
    _TIMEOUTS[engine] = (
        f"SELECT set_config('lock_timeout', '{lock_ms}ms', true),"
        f" set_config('statement_timeout', '{statement_ms}ms', true)"
    )
    return engine


def timeouts(engine: Engine) -> str:
    """The statement that sets `engine`'s timeouts, to lead the statements of a transaction."""
    try:
        return _TIMEOUTS[engine]
    except KeyError:
        raise LookupError(
            f"{engine!r} has no timeouts: bind them first (database.bind_timeouts)"
        ) from None


def round_trip(
    conn: psycopg.Connection,
    statements: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
    *,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
) -> dict[str, Rows]:
    """Send `before`, then `statements` (one statement each, in order), then `after` in one
    round trip; answer each of `statements`' rows by its name (`[]` for a command, or for a
    SELECT of no columns: select a column to test for a row).

    Parameters are bound client-side (psycopg's ClientCursor quotes them) so that the whole
    string goes by the simple query protocol, which takes several statements at once. In
    autocommit they form one implicit transaction (so SET LOCAL holds for the lot), or the
    transaction their own BEGIN and COMMIT delimit; PostgreSQL still runs them one by one,
    each with a snapshot of its own under READ COMMITTED. One round trip costs about the CPU
    of one plain `execute`; psycopg's pipeline mode, tried first, cost twice that.
    """
    sent = [*before, *statements.values(), *after]
    cursor = psycopg.ClientCursor(conn, row_factory=dict_row)
    cursor.execute("; ".join(sent), params)
    # `nfields`, not `description`, to tell rows from a command: description builds objects.
    results = [cursor.fetchall() if cursor.pgresult.nfields else [] for _ in cursor.results()]  # type: ignore[union-attr]
    if len(results) != len(sent):
        raise ValueError(f"{len(sent)} statements gave {len(results)} results: one per entry")
    return dict(zip(statements, results[len(before) :], strict=False))


class Attempt:
    """One try of a `run`'s work. `committing`: the work has sent its COMMIT, after which a
    retry could apply a write twice (harmless, since writes are idempotent by id and
    updatedAt, but the client would see 200 instead of 201), so a failure then is answered
    as an outage instead."""

    committing = False


def run(engine: Engine, work: Callable[[psycopg.Connection, Attempt], T]) -> T:
    """`work(conn, attempt)` on a pooled connection in autocommit (a write sends its own BEGIN
    and COMMIT); retried once on a fresh connection if the first one turns out dead before
    anything was committed. Raises psycopg's errors only."""
    for number in (1, 2):
        attempt = Attempt()
        pooled = _checkout(engine)
        conn: psycopg.Connection = pooled.driver_connection  # type: ignore[assignment]
        try:
            conn.autocommit = True
            return work(conn, attempt)
        except psycopg.OperationalError as error:
            if not conn.broken:
                raise
            pooled.invalidate(error)
            if number == 2 or attempt.committing:
                raise
            # The server went away under this connection, so under its pooled siblings too.
            engine.dispose()
        finally:
            with contextlib.suppress(psycopg.Error):
                if not conn.broken:
                    conn.rollback()  # nothing to do unless the work failed mid-transaction
                    conn.autocommit = False  # as SQLAlchemy's other users expect it
            pooled.close()
    raise AssertionError("unreachable")


def _checkout(engine: Engine) -> Any:
    """A connection of `engine`'s pool, the pool's failures as psycopg's."""
    try:
        return engine.raw_connection()
    except sqlalchemy.exc.TimeoutError as error:
        raise PoolTimeout(str(error)) from error
    except sqlalchemy.exc.DBAPIError as error:
        if isinstance(error.orig, psycopg.Error):
            raise error.orig from error
        raise


def execute(
    engine: Engine,
    statements: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
    *,
    writes: bool = False,
) -> dict[str, Rows]:
    """The recipe's common case: `statements` in one round trip on `engine`, one implicit
    transaction under its timeouts. `writes`: they change data, so a connection lost on the
    way is not retried (the change may have been committed)."""

    lead = (timeouts(engine),)  # an unbound engine fails here, before it connects

    def work(conn: psycopg.Connection, attempt: Attempt) -> dict[str, Rows]:
        attempt.committing = writes
        return round_trip(conn, statements, params, before=lead)

    return run(engine, work)


def like_patterns(calendars: Iterable[str]) -> list[str]:
    """Calendar patterns (`*` any run of characters) as SQL LIKE patterns, for
    `calendar LIKE ANY(...)`: `*` is `%`; LIKE's own `%`, `_` and its escape character `\\`
    are escaped, so they match only themselves."""
    return [
        p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
        for p in calendars
    ]
