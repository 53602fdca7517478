"""The hold sweeper and webhooks for real, and kill -9 mid-hold: a 4-worker gunicorn that takes
http://127.0.0.1 subscriptions, the sweeper (`flask --app sesame holds sweep`, HOLD_SWEEP_S=1)
and the webhook dispatcher as processes of their own, and a receiver on loopback.

Expiry itself needs no sweeper (tests/live/test_holds_races.py proves it without one); what
the sweeper adds is the record: the expiry reaches /changes and the webhooks with no write.
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from tests.helpers import BODY
from tools.integrity import find_violations
from tools.live import DISPATCHER, ROOT, SWEEPER, Receiver, gunicorn, stop, wait_until

pytestmark = pytest.mark.live

SWEEP_S = 1
LOCAL_WEBHOOKS = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_POLL_MS": "50",
    "WEBHOOK_BACKOFF_BASE_S": "1",
}


@pytest.fixture(scope="module")
def server(app, environment):
    """A 4-worker gunicorn that accepts subscriptions on loopback (local development)."""
    with gunicorn({**environment, **LOCAL_WEBHOOKS}) as started:
        yield started


@pytest.fixture
def base(server, clean, no_webhooks) -> str:
    return server.base


class Processes:
    """The sweeper and the dispatcher as `make run` starts them; stopped with SIGTERM after
    the test, which fails if one of them exited on its own before that."""

    def __init__(self, environment: dict[str, str], workdir: Path) -> None:
        self.environment = environment
        self.workdir = workdir
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, command: list[str], **settings: str) -> subprocess.Popen:
        log = self.workdir / f"process-{len(self.started)}.log"
        env = {**os.environ, **self.environment, "LOG_FORMAT": "text", **settings}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(log, "wb") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        self.started.append((process, log))
        return process

    def sweepers(self, count: int = 1) -> None:
        """Start `count` sweepers and wait until each has started sweeping."""
        for _ in range(count):
            self.start(SWEEPER, HOLD_SWEEP_S=str(SWEEP_S), LOG_LEVEL="info")
        for process, log in self.started[-count:]:
            wait_until(
                lambda log=log: "recording hold expiries every" in log.read_text(errors="replace"),
                what="the sweeper",
                process=process,
                log=log,
            )

    def dispatcher(self) -> subprocess.Popen:
        return self.start(DISPATCHER, **LOCAL_WEBHOOKS)

    def close(self) -> None:
        running = [process.poll() is None for process, _ in self.started]
        for process, _ in self.started:
            stop(process, grace=15)
        logs = "\n".join(log.read_text(errors="replace") for _, log in self.started)
        assert all(running), logs
        assert "Traceback" not in logs, logs


@pytest.fixture
def processes(environment, tmp_path) -> Iterator[Processes]:
    started = Processes(environment, tmp_path)
    yield started
    started.close()


@pytest.fixture(scope="module")
def sweepers(environment, tmp_path_factory) -> Iterator[None]:
    """Two sweepers, HOLD_SWEEP_S=1, for the tests after the first (several may run: the
    calendar lock serializes them)."""
    started = Processes(environment, tmp_path_factory.mktemp("sweepers"))
    started.sweepers(2)
    yield
    started.close()


def write(base: str, body: dict) -> requests.Response:
    response = requests.post(f"{base}/appointments", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response


def hold(base: str, hold_for: int, **changes) -> dict:
    return write(base, {**BODY, "status": "held", "holdFor": hold_for, **changes}).json()


def feed_after(base: str, since: str | None = None) -> tuple[list[dict], str]:
    """The change feed after `since` (from the start: None), all of it, and where it ends."""
    changes: list[dict] = []
    while True:
        params = {"limit": 1000, **({"since": since} if since else {})}
        page = requests.get(f"{base}/changes", params=params, timeout=10).json()
        changes += page["changes"]
        since = page["next"]
        if not page["changes"]:
            return changes, since


def stored(connection) -> dict[int, tuple[str, int]]:
    """The rows as stored, behind the service's back."""
    rows = connection.execute(text("SELECT id, status, version FROM appointments")).all()
    connection.commit()
    return {id: (status, version) for id, status, version in rows}


def seconds_until(moment: str) -> float:
    return (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()


def test_a_worker_killed_mid_hold_loses_no_hold_and_each_expires_on_time(server, clean, connection):
    """Holds go on being created while a worker is killed with SIGKILL: every acknowledged
    hold is stored as answered, reads held until its expiresAt, and expired from then on,
    with no sweeper (first in this file: the module's sweepers start after it)."""
    acknowledged: dict[int, dict] = {}
    failures: list[str] = []
    ids = iter(range(1, 10**6))
    lock = threading.Lock()
    stopping = threading.Event()

    def create() -> dict | None:
        with lock:
            n = next(ids)
        body = {**BODY, "id": n, "calendar": f"c{n}", "status": "held", "holdFor": 5}
        try:
            response = requests.post(f"{server.base}/appointments", json=body, timeout=10)
        except requests.RequestException as error:
            failures.append(type(error).__name__)
            return None
        if response.status_code != 201:
            failures.append(str(response.status_code))
            return None
        with lock:
            acknowledged[n] = response.json()
        return acknowledged[n]

    def keep_creating() -> None:
        while not stopping.is_set():
            create()

    before_the_kill = [create() for _ in range(8)]
    assert None not in before_the_kill, failures
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(4):
            pool.submit(keep_creating)
        time.sleep(0.5)
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)
        stopping.set()

    def listing(status: str) -> dict[int, dict]:
        query = {"status": status, "limit": 1000}
        page = requests.get(f"{server.base}/appointments", params=query, timeout=10).json()
        return {a["id"]: a for a in page}

    first_expiry = min(seconds_until(a["expiresAt"]) for a in acknowledged.values())
    assert first_expiry > 0.3, "the check below came too late to see the holds live"
    held = listing("held")
    assert {n: held.get(n) for n in acknowledged} == acknowledged
    # gunicorn replaces the worker; the holds do not depend on which worker answered them.
    wait_until(lambda: len(server.workers()) == 4, what="a fourth worker again", timeout=30)
    assert victim not in server.workers()
    time.sleep(max(seconds_until(a["expiresAt"]) for a in acknowledged.values()) + 0.1)
    expired = listing("expired")
    assert {n: expired.get(n) for n in acknowledged} == {
        n: {**a, "status": "expired", "version": 2} for n, a in acknowledged.items()
    }
    sample = min(acknowledged)
    history = requests.get(f"{server.base}/appointments/{sample}/history", timeout=10).json()
    assert (history[-1]["recordedAt"], history[-1]["recordedBy"]) == (
        acknowledged[sample]["expiresAt"],
        "expiry",
    )
    # No sweeper ran and nothing wrote since: the expiries are the reads' own.
    rows = stored(connection)
    assert {rows[n] for n in acknowledged} == {("held", 1)}
    assert find_violations(connection) == {}
    print(f"kill -9 mid-hold: {len(acknowledged)} holds, none lost; {len(failures)} failed")


def test_the_sweeper_puts_a_lapsed_holds_expiry_on_the_feed_with_no_write(
    sweepers, base, connection
):
    lapsing = hold(base, 1)
    lasting = hold(base, 600, id=43, calendar="room-2")
    write(base, {**BODY, "id": 44, "calendar": "room-3"})
    _, cursor = feed_after(base)
    deadline = datetime.fromisoformat(lapsing["expiresAt"]) + timedelta(seconds=SWEEP_S + 5)
    found: list[dict] = []

    def recorded() -> bool:
        found[:] = feed_after(base, cursor)[0]
        return bool(found)

    wait_until(
        recorded,
        what="the expiry on /changes",
        timeout=seconds_until(lapsing["expiresAt"]) + SWEEP_S + 5,
    )
    assert datetime.now(UTC) <= deadline + timedelta(seconds=0.5)
    (change,) = found
    assert change == {
        **lapsing,
        "status": "expired",
        "version": 2,
        "recordedAt": lapsing["expiresAt"],
        "recordedBy": "expiry",
    }
    # Only the lapsed hold was recorded; what a client reads of it is what it read before.
    assert stored(connection) == {42: ("expired", 2), 43: ("held", 1), 44: ("active", 1)}
    current = requests.get(f"{base}/appointments/42", timeout=10).json()
    assert current == {**lapsing, "status": "expired", "version": 2}
    assert requests.get(f"{base}/appointments/43", timeout=10).json() == lasting
    time.sleep(SWEEP_S + 0.5)  # another sweep records nothing more
    assert feed_after(base, cursor)[0] == found
    assert find_violations(connection) == {}


def test_a_subscriber_gets_held_then_expired_once_and_a_confirmed_hold_never_expires(
    sweepers, base, processes
):
    with Receiver() as receiver:
        created = requests.post(
            f"{base}/webhooks", json={"url": f"{receiver.base}/hook"}, timeout=10
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        processes.dispatcher()
        lapsing = hold(base, 1)
        hold(base, 60, id=43, calendar="room-2")
        write(base, {**BODY, "id": 43, "calendar": "room-2", "updatedAt": "2026-11-26T09:00:00Z"})
        wait_until(lambda: len(receiver.received) >= 4, what="four events", timeout=30)
        time.sleep(SWEEP_S + 0.5)  # another sweep and many polls: nothing more arrives
        events = [Webhook(secret).verify(body, headers) for body, headers in receiver.received]
    sent = [(e["type"], e["data"]["id"], e["data"]["version"]) for e in events]
    assert sorted(sent, key=lambda e: (e[1], e[2])) == [
        ("appointment.held", 42, 1),
        ("appointment.expired", 42, 2),
        ("appointment.held", 43, 1),
        ("appointment.confirmed", 43, 2),
    ]
    assert [e for e in sent if e[1] == 42] == [
        ("appointment.held", 42, 1),
        ("appointment.expired", 42, 2),
    ]
    expired = next(e["data"] for e in events if e["type"] == "appointment.expired")
    assert expired["recordedAt"] == expired["expiresAt"] == lapsing["expiresAt"]
    assert expired["recordedBy"] == "expiry"
    ids = [headers["webhook-id"] for _, headers in receiver.received]
    assert len(ids) == len(set(ids))


def test_two_sweepers_and_racing_bookings_record_each_expiry_once(sweepers, base, connection):
    """Ten holds in ten calendars lapse together while two sweepers run and five clients per
    calendar race to book each lapsed range: one booking each, and each expiry recorded once,
    at its expiresAt, whoever recorded it."""
    holds = {n: hold(base, 1, id=n, calendar=f"s{n}") for n in range(1, 11)}
    bookings = [
        {**BODY, "id": 100 + 10 * n + k, "calendar": f"s{n}"} for n in holds for k in range(5)
    ]
    barrier = threading.Barrier(len(bookings))

    def book(body: dict) -> requests.Response:
        barrier.wait()
        return requests.post(f"{base}/appointments", json=body, timeout=10)

    with ThreadPoolExecutor(max_workers=len(bookings)) as pool:
        time.sleep(max(seconds_until(h["expiresAt"]) for h in holds.values()) + 0.02)
        responses = list(pool.map(book, bookings))
    winners = [r.json() for r in responses if r.status_code == 201]
    assert sorted(w["calendar"] for w in winners) == sorted(f"s{n}" for n in holds)
    assert {r.status_code for r in responses} == {201, 409}
    time.sleep(SWEEP_S + 0.5)  # a sweep after the race: nothing is left to record
    feed = [(c["id"], c["version"], c["status"]) for c in feed_after(base)[0]]
    assert sorted(c for c in feed if c[0] in holds) == sorted(
        [(n, 1, "held") for n in holds] + [(n, 2, "expired") for n in holds]
    )
    for n, held in holds.items():
        history = requests.get(f"{base}/appointments/{n}/history", timeout=10).json()
        assert [(v["status"], v["recordedAt"], v["recordedBy"]) for v in history][1:] == [
            ("expired", held["expiresAt"], "expiry")
        ]
    assert find_violations(connection) == {}
