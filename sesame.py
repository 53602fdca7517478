"""Sesame: the app factory. It reads the configuration, binds the extensions and wires the
parts together, and never holds a rule, a query or a request handler of its own. What each part
does lives in its own module, and imports flow one way, from HTTP down to the domain:

  HTTP      views.py (routes) · protocol.py (parsing, ids, ETags, conditional headers, JSON) ·
            openapi.py (the document, docs page) · errors.py (one table of failures -> errors) ·
            auth.py (API keys; keys.py, the `flask keys` command) · ratelimit.py (limits,
            client address) · headers.py (request ids, security headers, CORS)
  wire      schemas.py (marshmallow schemas) · formats.py (time, id and cursor codecs)
  work      services.py (write transactions) · queries.py (reads) · replicas.py (which server
            answers a read) · ics.py (iCalendar feed)
  bottom    domain.py (types, rules, outcomes) · models.py (tables) · database.py (engine,
            per-transaction timeouts)
  beside    config.py (settings) · logs.py · metrics.py (and who may scrape them) · boot.py
            (container entry, gunicorn's start) · gunicorn.conf.py; dev and ops tooling lives
            in tools/, never shipped.
  webhooks  webhooks_views.py (routes) · webhooks_schemas.py (wire) · webhooks.py (their SQL) ·
            webhooks_urls.py (where we may send) · webhooks_delivery.py (the dispatcher and
            its command, `flask --app sesame webhooks run`)
  calendars calendars_views.py (routes) · calendars_schemas.py (wire) · localtime.py (every
            local-time rule, zones from the pinned tzdata) · slots.py (which starts are free)

gunicorn serves `sesame:create_app()`; the factory opens no connection, so none crosses a
worker's fork.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import Migrate

import auth
import database
import errors
import headers
import holds
import keys
import logs
import metrics
import openapi
import protocol
import ratelimit
import replicas
import webhooks
import webhooks_delivery
from calendars_views import calendars
from config import settings_from_env
from database import db
from views import appointments
from webhooks_views import blp as webhook_operations

__version__ = "0.2.0"  # the one place; pyproject.toml reads it from here
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Opens no database connection: gunicorn workers connect after the fork."""
    app = Flask(__name__)
    app.config.from_mapping(settings_from_env())
    app.config.from_mapping(config or {})
    app.config["SCHEMA_HEAD"] = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    protocol.init_app(app)
    database.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        metrics.watch_engine(db.engine)
    replicas.init_app(app)
    headers.init_app(app)
    auth.init_app(app)
    ratelimit.init_app(app)
    metrics.init_app(app, database_metrics=_webhook_metrics, keys_in_use=_keys_in_use)
    api = openapi.init_app(app, version=__version__)
    api.register_blueprint(appointments)
    api.register_blueprint(webhook_operations)
    api.register_blueprint(calendars)
    app.cli.add_command(webhooks_delivery.cli)
    errors.init_app(app)
    app.cli.add_command(keys.cli)
    app.cli.add_command(holds.cli)
    return app


def _webhook_metrics() -> tuple[dict[str, int], dict[int, float]]:
    """What /metrics reports of webhooks, read from the database at each scrape: every
    dispatcher, on any host, counts there."""
    return webhooks.outcome_counts(db.engine), webhooks.backlog_ages(db.engine)


def _keys_in_use() -> bool:
    """Whether API keys close the API (auth.py's ring: API_KEYS, or keys in the database)."""
    closed, _ = current_app.extensions["sesame_keys"].keys(db.engine)
    return bool(closed)
