"""The migrations build exactly the schema the models describe, and run both ways."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from models import Base
from tools.integrity import find_violations
from tools.live import ROOT

MIGRATIONS = str(ROOT / "migrations")


def test_models_and_migrations_agree(app):
    from database import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_downgrade_upgrade_on_an_empty_database(make_app, empty_database):
    app = make_app(DATABASE_URL=empty_database)
    engine = create_engine(empty_database)
    try:
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS)
            assert {"appointments", "appointment_versions"} <= set(
                inspect(engine).get_table_names()
            )
            flask_migrate.downgrade(directory=MIGRATIONS, revision="base")
            assert "appointments" not in inspect(engine).get_table_names()
            flask_migrate.upgrade(directory=MIGRATIONS)
        with engine.connect() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert head == "0006"
    finally:
        engine.dispose()


def test_data_written_before_0002_is_carried_forward(make_app, empty_database):
    app = make_app(DATABASE_URL=empty_database)
    engine = create_engine(empty_database)
    try:
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS, revision="0001")
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO appointments VALUES"
                        " (1, 'a', '2026-12-01 09:00Z', '2026-12-01 10:00Z', now(), now(), 2),"
                        " (2, 'a', '2026-12-01 10:00Z', '2026-12-01 11:00Z', now(), now(), 1);"
                        "INSERT INTO appointment_versions VALUES"
                        " (1, 1, 'a', '2026-12-01 08:00Z', '2026-12-01 09:00Z', now(), now(),"
                        "  '2026-11-26 08:00:00Z'),"
                        " (1, 2, 'a', '2026-12-01 09:00Z', '2026-12-01 10:00Z', now(), now(),"
                        "  '2026-11-26 08:00:05Z'),"
                        " (2, 1, 'a', '2026-12-01 10:00Z', '2026-12-01 11:00Z', now(), now(),"
                        "  '2026-11-26 08:00:01Z')"
                    )
                )
            flask_migrate.upgrade(directory=MIGRATIONS)
        client = app.test_client()
        assert [(a["id"], a["status"]) for a in client.get("/appointments").get_json()] == [
            (1, "active"),
            (2, "active"),
        ]
        changes = client.get("/changes").get_json()["changes"]
        assert [(c["id"], c["version"]) for c in changes] == [(1, 1), (2, 1), (1, 2)]
        old = client.get("/appointments?at=2026-11-26T08:00:02Z").get_json()
        assert [(a["id"], a["version"]) for a in old] == [(1, 1), (2, 1)]
        with engine.connect() as connection:
            assert find_violations(connection) == {}
        assert client.delete("/appointments/1").get_json()["version"] == 3
    finally:
        engine.dispose()
