"""Sesame: the app factory. It reads the configuration, binds the extensions and wires the
parts together; what each part does lives in its own module:

config.py (settings) · views.py (HTTP operations) · schemas.py (wire format) · services.py
(write transactions) · queries.py (reads) · models.py (tables) · errors.py (JSON errors) ·
guards.py (request ids, keys, rate limits, CORS) · replicas.py (which server answers a read) ·
metrics.py · logs.py.
gunicorn serves `sesame:create_app()`; no connection is opened before a worker forks.
"""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask, Response, send_from_directory
from flask_migrate import Migrate
from sqlalchemy import event
from swagger_ui_bundle import swagger_ui_path

import guards
import logs
import metrics
import replicas
from config import settings_from_env
from errors import SesameApi, register_error_handlers
from models import db
from schemas import OPENAPI_TYPES
from views import AppointmentIdConverter, appointments

__version__ = "0.2.0"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("sesame")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Opens no database connection: gunicorn workers connect after the fork."""
    app = Flask(__name__)
    app.config.from_mapping(settings_from_env())
    app.config.from_mapping(config or {})
    app.config.update(
        API_TITLE="Sesame",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/",
        OPENAPI_SWAGGER_UI_URL="/api/assets/",
        API_SPEC_OPTIONS={"info": {"description": API_DESCRIPTION}},
    )
    app.config["SCHEMA_HEAD"] = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    logs.configure(app.config["LOG_FORMAT"])
    app.url_map.converters["appointment_id"] = AppointmentIdConverter
    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        _bound_every_transaction(db.engine, app.config)
        metrics.watch_engine(db.engine)
    replicas.init_app(app, configure_engine=lambda e: _bound_every_transaction(e, app.config))
    guards.init_app(app)
    metrics.init_app(app)
    api = SesameApi(app)
    for field, openapi_type in OPENAPI_TYPES.items():
        api.register_field(field, *openapi_type)
    api.register_converter(AppointmentIdConverter, lambda _: {"type": "integer", "format": "int64"})
    api.register_blueprint(appointments)
    register_error_handlers(app)
    app.add_url_rule("/api/assets/<path:filename>", "swagger_ui_assets", _swagger_ui_asset)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    return app


API_DESCRIPTION = (
    "No two active appointments of one calendar ever overlap, however many requests race: "
    "PostgreSQL itself refuses it, under advisory locks and an exclusion constraint. "
    "Writes create or update by client id and the latest `updatedAt` wins, with every "
    "previous version kept in the appointment's history."
)


def _bound_every_transaction(engine: Any, config: Mapping[str, Any]) -> None:
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


def _swagger_ui_asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package: the docs page needs no internet."""
    return send_from_directory(swagger_ui_path, filename)


def _favicon() -> Response:
    """Browsers ask for it on every page; without it the docs page logs a 404."""
    return send_from_directory(swagger_ui_path, "favicon-32x32.png", mimetype="image/png")
