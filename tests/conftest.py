"""Fixtures on a real PostgreSQL: never a mock, never SQLite.

Without TEST_DATABASE_URL the suite starts a throwaway embedded PostgreSQL; with it, it makes
a database of its own on that server and drops it at the end. The schema comes from running the
migrations once; tables are emptied before each test that touches the database. `live_server`
is one real gunicorn with 4 workers on the same database, shared by the whole run.

The tests are sorted by layer: unit/ (pure functions), database/ (services and queries),
http/ (Flask's client, and the same tests over HTTP to the live gunicorn), live/ (races,
faults and operations through gunicorn), infra/ (PgBouncer, replicas, HAProxy, containers),
browser/ (the docs page). Shared helpers are in tests/helpers.py and tools/live.py.
"""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import database_url
from database import db
from sesame import create_app
from tools import embedded_db
from tools.live import ROOT, gunicorn


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """The SQLAlchemy URL of an empty database that only this test run uses."""
    admin = os.environ.get("TEST_DATABASE_URL")
    if admin:
        admin = database_url({"DATABASE_URL": admin})
        name = f"sesame_test_{os.getpid()}"
        yield embedded_db.create_database(admin, name, exist_ok=False)
        embedded_db.drop_database(admin, name)
        return
    # A short path: the server's Unix socket lives in its data directory.
    with tempfile.TemporaryDirectory(prefix="sesame-") as tmp:
        server = embedded_db.start(Path(tmp) / "pg", throwaway=True)
        try:
            yield embedded_db.create_database(embedded_db.server_url(server), "sesame_test")
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def environment(database: str) -> Iterator[dict[str, str]]:
    """The environment the app (and gunicorn) is configured from in this run."""
    env = {"DATABASE_URL": database, "DB_LOCK_TIMEOUT_MS": "3000"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def app(environment: dict[str, str]):
    app = create_app({"TESTING": True})
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(environment, monkeypatch):
    """A factory of apps configured otherwise: `make_app(DB_LOCK_TIMEOUT_MS="200")` sets those
    environment variables for the test and builds an app; its pool is closed afterwards."""
    made = []

    def make(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        made.append(create_app())
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def empty_database(database):
    """A second, empty database on the test server, dropped afterwards."""
    admin = make_url(database).set(database="postgres").render_as_string(hide_password=False)
    name = f"{make_url(database).database}_migrations"
    url = embedded_db.create_database(admin, name, exist_ok=False)
    yield url
    embedded_db.drop_database(admin, name)


@pytest.fixture(scope="session")
def keys_database(database) -> Iterator[str]:
    """A migrated database of its own for the tests of database API keys: a key in the run's
    database would close the shared (open) live server within KEYS_REFRESH_S."""
    admin = make_url(database).set(database="postgres").render_as_string(hide_password=False)
    name = f"{make_url(database).database}_keys"
    url = embedded_db.create_database(admin, name, exist_ok=False)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "boot.py", "migrate"], cwd=ROOT, env=env, check=True)
    yield url
    embedded_db.drop_database(admin, name)


@pytest.fixture
def clean(app) -> None:
    """An empty book before the test."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("TRUNCATE appointments, appointment_versions, calendars"))


@pytest.fixture
def no_webhooks(app) -> None:
    """No webhook subscription, attempt or outcome count before the test."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("TRUNCATE webhooks, webhook_attempts, webhook_outcomes"))


@pytest.fixture
def client(app, clean):
    """Flask's test client on an empty book (tests/http runs its tests over HTTP too)."""
    return app.test_client()


@pytest.fixture
def engine(app, clean):
    """The app's engine, for calling services and queries directly, outside any request."""
    with app.app_context():
        yield db.engine


@pytest.fixture
def connection(app, clean):
    """A plain connection, for what a test checks or writes behind the service's back."""
    with app.app_context(), db.engine.connect() as connection:
        yield connection


@pytest.fixture(scope="session")
def live_server(app, environment: dict[str, str]) -> Iterator[str]:
    """Base URL of the run's shared 4-worker gunicorn on the test database."""
    with gunicorn(environment) as server:
        yield server.base


@pytest.fixture
def live(live_server: str, clean) -> str:
    """The live server's base URL, with an empty book."""
    return live_server


def pytest_unconfigure(config: pytest.Config) -> None:
    # prometheus_client keeps its multiprocess files open for the life of the process; closed
    # by the garbage collector at exit instead, each would warn.
    from prometheus_client.values import close_all_multiprocess_files

    close_all_multiprocess_files()
