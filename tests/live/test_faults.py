"""Faults, through a real multi-worker gunicorn on real PostgreSQL: the database goes away and
comes back, a worker is killed mid-write, the server is stopped under load, clients hold
connections open half-sent. Each test ends with the integrity audit.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers import BODY, pg_ctl
from tools import embedded_db
from tools.integrity import find_violations
from tools.live import ROOT, free_port, gunicorn, wait_until

pytestmark = pytest.mark.live


def booking(n: int, updated_minute: int = 0) -> dict:
    """Appointment n in a calendar of its own, so writes never conflict with each other."""
    return {
        **BODY,
        "id": n,
        "calendar": f"c{n}",
        "updatedAt": f"2026-11-26T08:{updated_minute:02d}:00Z",
    }


def assert_book_is_sound(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert find_violations(connection) == {}
    finally:
        engine.dispose()


class Writer:
    """Threads that keep creating appointments and remember every acknowledged one."""

    def __init__(self, base: str, threads: int = 8) -> None:
        self.base, self.threads = base, threads
        self.acknowledged: dict[int, int] = {}  # id -> version the service confirmed
        self.failures: list[str] = []
        self.stop = threading.Event()
        self._next = iter(range(1, 10**6))
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads)

    def __enter__(self) -> "Writer":
        for _ in range(self.threads):
            self._pool.submit(self._run)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                n = next(self._next)
            try:
                # A new connection each time: no keep-alive connection closed under us.
                response = requests.post(f"{self.base}/appointments", json=booking(n), timeout=10)
            except requests.RequestException as error:
                self.failures.append(type(error).__name__)
                continue
            if response.status_code == 201:
                with self._lock:
                    self.acknowledged[n] = response.json()["version"]
            else:
                self.failures.append(str(response.status_code))


def stored_versions(url: str) -> dict[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT id, version FROM appointments")).all())
    finally:
        engine.dispose()


def assert_acknowledged_writes_are_stored(url: str, acknowledged: dict[int, int]) -> None:
    stored = stored_versions(url)
    lost = {n for n, version in acknowledged.items() if stored.get(n) != version}
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"


def test_a_worker_killed_mid_write_loses_no_acknowledged_write(environment, database, clean):
    with gunicorn(environment) as server:
        with Writer(server.base) as writer:
            time.sleep(1.0)
            victim = server.workers()[0]
            os.kill(victim, signal.SIGKILL)
            time.sleep(1.5)
        assert len(writer.acknowledged) > 20
        # gunicorn replaces the worker and the service goes on.
        wait_until(lambda: len(server.workers()) == 4, what="a fourth worker again", timeout=15)
        assert victim not in server.workers()
        after = requests.post(f"{server.base}/appointments", json=booking(10**6 + 1), timeout=10)
        assert after.status_code == 201
        assert_acknowledged_writes_are_stored(database, writer.acknowledged)
        print(
            f"kill -9: {len(writer.acknowledged)} writes acknowledged, none lost; "
            f"failed requests: {len(writer.failures)}"
        )
    assert_book_is_sound(database)


def test_sigterm_under_load_finishes_accepted_requests_and_exits_in_time(
    environment, database, clean
):
    with gunicorn({**environment, "GUNICORN_GRACEFUL_TIMEOUT": "10"}) as server:
        with Writer(server.base) as writer:
            time.sleep(1.0)
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=20)
            took = time.monotonic() - started
        assert server.process.returncode == 0
        assert took < 10
        # Refused connections are fine after the stop; a response cut in the middle is not.
        assert set(writer.failures) <= {"ConnectionError"}, set(writer.failures)
        assert len(writer.acknowledged) > 10
    assert_acknowledged_writes_are_stored(database, writer.acknowledged)
    assert_book_is_sound(database)


def half_sent_requests(base: str, count: int) -> list[socket.socket]:
    host, port = base.removeprefix("http://").split(":")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b"POST /appointments HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
        sockets.append(sock)
    return sockets


def test_fifty_half_sent_requests_do_not_starve_a_normal_one(live, clean):
    sockets = half_sent_requests(live, 50)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        response = requests.post(f"{live}/appointments", json=booking(1), timeout=10)
        took = time.monotonic() - started
        assert response.status_code == 201
        assert took < 2.0, f"a normal request waited {took:.2f} s"
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def own_postgres() -> Iterator[tuple[object, str]]:
    """A throwaway PostgreSQL of this test's own, so it can be stopped without harm."""
    with tempfile.TemporaryDirectory(prefix="sesame-outage-") as tmp:
        server = embedded_db.start(Path(tmp) / "pg", throwaway=True)
        try:
            url = embedded_db.create_database(embedded_db.server_url(server), "outage")
            yield server, url
        finally:
            server.cleanup()


def test_database_outage_answers_503_then_recovers_without_a_restart(own_postgres):
    server, url = own_postgres
    env = {"DATABASE_URL": url, "DB_CONNECT_TIMEOUT_S": "2", "DB_POOL_TIMEOUT_S": "2"}
    subprocess.run(
        [sys.executable, "boot.py", "migrate"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    with gunicorn(env) as app:
        acknowledged = [
            requests.post(f"{app.base}/appointments", json=booking(n), timeout=10)
            for n in range(1, 11)
        ]
        assert {r.status_code for r in acknowledged} == {201}

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        for request in [
            ("POST", "/appointments", booking(99)),
            ("GET", "/appointments", None),
            ("GET", "/appointments/1", None),
            ("GET", "/changes", None),
        ]:
            started = time.monotonic()
            response = requests.request(
                request[0], app.base + request[1], json=request[2], timeout=15
            )
            assert time.monotonic() - started < 5
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "database_unavailable"
            assert int(response.headers["Retry-After"]) >= 1
            assert "postgres" not in response.text.lower()
        assert requests.get(f"{app.base}/health", timeout=5).status_code == 200
        assert requests.get(f"{app.base}/health/ready", timeout=10).status_code == 503

        back_at = time.monotonic()
        server.ensure_postgres_running()
        wait_until(
            lambda: requests.get(f"{app.base}/appointments", timeout=10).status_code == 200,
            what="the service recovering by itself",
            timeout=20,
            interval=0.2,
        )
        recovered = time.monotonic() - back_at
        # Every worker recovers, not only the one that answered first.
        assert all(
            requests.get(f"{app.base}/appointments/1", timeout=10).status_code == 200
            for _ in range(12)
        )
        assert requests.get(f"{app.base}/health/ready", timeout=10).status_code == 200
        stored = requests.get(f"{app.base}/appointments", timeout=10).json()
        assert {a["id"] for a in stored} == set(range(1, 11))
        print(f"outage: recovered {recovered:.2f} s after PostgreSQL came back")
    assert_book_is_sound(url)


def test_make_run_stops_its_embedded_postgres_cleanly_and_reuses_it():
    with tempfile.TemporaryDirectory(prefix="sesame-run-") as data_dir:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DB_HOST", "PROMETHEUS_MULTIPROC_DIR")
        }

        def run_once(check) -> None:
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "tools.devserver"],
                cwd=ROOT,
                env={
                    **env,
                    "DATA_DIR": data_dir,
                    "PORT": str(port),
                    "HOST": "127.0.0.1",
                    "WEB_CONCURRENCY": "2",
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                wait_until(
                    lambda: requests.get(f"{base}/health", timeout=1).status_code == 200,
                    what="make run",
                    process=process,
                )
                check(base)
            finally:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=40) == 0
            assert not (Path(data_dir) / "postgres" / "postmaster.pid").exists()

        run_once(lambda base: requests.post(f"{base}/appointments", json=booking(7), timeout=10))
        run_once(lambda base: assert_has(requests.get(f"{base}/appointments/7", timeout=10)))


def assert_has(response: requests.Response) -> None:
    assert response.status_code == 200 and response.json()["id"] == 7
