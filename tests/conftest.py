"""Fixtures on a real PostgreSQL: never a mock, never SQLite.

Without TEST_DATABASE_URL the suite starts a throwaway embedded PostgreSQL; with it, it makes
a database of its own on that server and drops it at the end. The schema comes from running the
migrations once; tables are emptied before each test that touches the database. `live_server`
is a real gunicorn with 4 workers on the same database.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import flask_migrate
import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import database_url
from database import db
from sesame import create_app
from tools import embedded_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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


@pytest.fixture
def clean(app) -> None:
    """An empty book before the test."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("TRUNCATE appointments, appointment_versions"))


@pytest.fixture(params=["flask", "gunicorn"])
def client(request, app, clean):
    """Flask's test client, and the same interface over real HTTP to the 4-worker gunicorn:
    every API test runs through both."""
    if request.param == "flask":
        return app.test_client()
    return LiveClient(request.getfixturevalue("live_server"))


class LiveResponse:
    """The parts of Flask's test response that the tests read, from a real HTTP response."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0]
        self._response = response

    def get_json(self):
        return self._response.json()

    def get_data(self, as_text: bool = False):
        return self._response.text if as_text else self._response.content

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._response.close()


class LiveClient:
    """Flask's test-client interface (get, post, delete) over HTTP to a live server."""

    def __init__(self, base: str) -> None:
        self.base = base

    def open(self, method, path, *, json=None, data=None, content_type=None, headers=None):
        headers = dict(headers or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = requests.request(
            method,
            self.base + path,
            json=json,
            data=data.encode() if isinstance(data, str) else data,
            headers=headers,
            timeout=10,
            allow_redirects=False,
        )
        return LiveResponse(response)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def session(app, clean):
    """A SQLAlchemy session for calling services directly, outside any request."""
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def connection(app, clean):
    """A plain connection, for what a test checks or writes behind the service's back."""
    with app.app_context(), db.engine.connect() as connection:
        yield connection


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(environment: dict[str, str], **settings: str) -> Iterator["LiveServer"]:
    """A real gunicorn (4 gthread workers, as configured by default) on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        **environment,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "4",
        "LOG_LEVEL": "warning",
        **settings,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn makes its own
    with tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "sesame:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = LiveServer(f"http://127.0.0.1:{port}", process, Path(log.name))
        try:
            _wait_until_serving(server.base, process, server.log)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=40)


class LiveServer(NamedTuple):
    base: str
    process: subprocess.Popen
    log: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@pytest.fixture(scope="session")
def live_server(app, environment: dict[str, str]) -> Iterator[str]:
    """Base URL of the session's shared gunicorn on the test database."""
    with gunicorn(environment) as server:
        yield server.base


def _wait_until_serving(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text(errors='replace')}")
        try:
            if requests.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not serve within 30 s")


@pytest.fixture
def live(live_server: str, clean) -> str:
    """The live server's base URL, with an empty book."""
    return live_server


def pytest_unconfigure(config: pytest.Config) -> None:
    # prometheus_client keeps its multiprocess files open for the life of the process; closed
    # by the garbage collector at exit instead, each would warn.
    from prometheus_client.values import close_all_multiprocess_files

    close_all_multiprocess_files()
