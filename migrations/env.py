"""Alembic environment for Flask-Migrate.

Migrations run on a connection of their own, to MIGRATIONS_DATABASE_URL (DATABASE_URL unless
set): behind a transaction pooler they may need a direct connection to the server, and they
must not inherit the request path's short statement timeout. A lock timeout still applies, so
a migration waiting behind live traffic fails fast instead of queueing every request behind it.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, pool, text

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = current_app.extensions["migrate"].db.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=current_app.config["MIGRATIONS_DATABASE_URL"],
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(
        current_app.config["MIGRATIONS_DATABASE_URL"],
        poolclass=pool.NullPool,
        connect_args={"prepare_threshold": None, "connect_timeout": 10},
    )
    conf_args = current_app.extensions["migrate"].configure_args
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
        with context.begin_transaction():
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
