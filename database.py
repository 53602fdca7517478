"""The database connection: the Flask-SQLAlchemy extension, the engine options and the settings
every transaction gets, shared by the primary and the read replicas (replicas.py).

`init_app` builds the primary's engine from the validated settings in config.py; `bound` gives
any engine the same per-transaction timeouts. Never opens a connection at import or in
`init_app`: gunicorn workers connect after the fork. Never runs a query of the book itself.
"""

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from models import Base

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
        "pool_pre_ping": True,
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


def bound(engine: Engine, config: Mapping[str, Any]) -> Engine:
    """Give every transaction a lock and a statement timeout, so no request waits forever.

    Set with `set_config(..., is_local => true)`, which is `SET LOCAL`: it dies with the
    transaction and needs no connection startup option, which PgBouncer would refuse.
    """
    params = {
        "lock": f"{config['DB_LOCK_TIMEOUT_MS']}ms",
        "statement": f"{config['DB_STATEMENT_TIMEOUT_MS']}ms",
    }

    @event.listens_for(engine, "begin")
    def _set_timeouts(connection: Any) -> None:
        connection.exec_driver_sql(
            "SELECT set_config('lock_timeout', %(lock)s, true),"
            " set_config('statement_timeout', %(statement)s, true)",
            params,
        )

    return engine
