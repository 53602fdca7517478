"""Webhook delivery for real: a 4-worker gunicorn, real dispatcher processes
(`flask --app sesame webhooks run`, under tools.loopback_only) and a receiver on 127.0.0.1 that
verifies every request with the `standardwebhooks` library.

Every dispatcher here runs behind an audit hook that refuses, and reports, any connection or
name lookup beyond loopback; each test fails if a report appears in a dispatcher's log.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tools.live import ROOT, appointment, gunicorn, stop, wait_until
from tools.loopback_only import GUARD_MARK

pytestmark = pytest.mark.live

LOCAL = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_TIMEOUT_S": "2",
    "WEBHOOK_LEASE_S": "10",
    "WEBHOOK_POLL_MS": "50",
    "WEBHOOK_BACKOFF_BASE_S": "1",
}


class Receiver:
    """An HTTP server on 127.0.0.1: each path is one subscription's endpoint. It verifies each
    request with the secret registered for its path and records what arrived, in order."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.secrets: dict[str, str] = {}
        self.connections = 0  # accepted so far
        self.received: dict[str, list[dict]] = {}
        self.invalid: list[str] = []
        self.behaviour: dict[str, str] = {}  # path -> "ok" | "fail" | "hang" | "slow"
        self.in_flight: dict[str, int] = {}
        self.overlaps: list[str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self) -> None:
                receiver.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        body = request.rfile.read(int(request.headers["Content-Length"])).decode()
        started = time.monotonic()
        with self.lock:
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            if self.in_flight[path] > 1:
                self.overlaps.append(path)
        try:
            try:
                Webhook(self.secrets[path]).verify(body, dict(request.headers))
            except (WebhookVerificationError, KeyError) as error:
                self.invalid.append(f"{path}: {error!r}")
            behaviour = self.behaviour.get(path, "ok")
            if behaviour == "hang":
                self.release.wait(30)
            elif behaviour == "slow":
                time.sleep(0.4)
            status = 500 if self.behaviour.get(path) == "fail" else 200
            with self.lock:
                self.received.setdefault(path, []).append(
                    {
                        "id": request.headers["webhook-id"],
                        "body": json.loads(body),
                        "status": status,
                        "started": started,
                        "ended": time.monotonic(),
                    }
                )
        finally:
            # No longer in flight once answered: the sender may send the next one as soon as
            # it reads the answer, before this thread gets past `write`.
            with self.lock:
                self.in_flight[path] -= 1
        request.send_response(status)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    def delivered(self, path: str) -> list[dict]:
        """Each event once (the first 2xx of each webhook-id), in the order they arrived."""
        seen, events = set(), []
        for entry in self.received.get(path, []):
            if entry["status"] == 200 and entry["id"] not in seen:
                seen.add(entry["id"])
                events.append(entry)
        return events

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def hooks_server(app, environment) -> Iterator[str]:
    """A 4-worker gunicorn that accepts http://127.0.0.1 subscriptions (local development)."""
    with gunicorn({**environment, **LOCAL}) as server:
        yield server.base


@pytest.fixture
def base(hooks_server, clean, no_webhooks) -> str:
    return hooks_server


class Dispatchers:
    """Start dispatcher processes; at the end, stop them and check none left loopback."""

    def __init__(self, environment: dict[str, str], workdir: Path) -> None:
        self.environment = environment
        self.workdir = workdir
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, **settings: str) -> subprocess.Popen:
        log = self.workdir / f"dispatcher-{len(self.processes)}.log"
        env = {**os.environ, **self.environment, **LOCAL, "LOG_FORMAT": "text", **settings}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "tools.loopback_only", "--app", "sesame", "webhooks", "run"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(log.read_text(errors="replace") for _, log in self.processes)

    def close(self) -> None:
        for process, _ in self.processes:
            stop(process, grace=15)
        assert GUARD_MARK not in self.logs(), self.logs()


@pytest.fixture
def dispatchers(environment, tmp_path) -> Iterator[Dispatchers]:
    started = Dispatchers(environment, tmp_path)
    yield started
    started.close()


def subscribe(base: str, receiver: Receiver, path: str, **body) -> int:
    response = requests.post(
        f"{base}/webhooks", json={"url": receiver.base + path, **body}, timeout=10
    )
    assert response.status_code == 201, response.text
    receiver.secrets[path] = response.json()["secret"]
    return response.json()["id"]


def feed(base: str) -> list[dict]:
    """The whole change feed, in its order."""
    changes, since = [], ""
    while True:
        page = requests.get(f"{base}/changes?limit=1000{since}", timeout=10).json()
        changes += page["changes"]
        if not page["changes"]:
            return changes
        since = f"&since={page['next']}"


def expected_type(change: dict, previous: dict | None) -> str:
    if change["version"] == 1:
        return "appointment.created"
    if previous["status"] == "active" and change["status"] == "cancelled":
        return "appointment.cancelled"
    if previous["status"] == "cancelled" and change["status"] == "active":
        return "appointment.revived"
    return "appointment.updated"


def assert_delivered_exactly(receiver: Receiver, path: str, changes: list[dict], webhook_id: int):
    """Every change once, in feed order, each with its type, data and stable webhook-id."""
    by_version = {(c["id"], c["version"]): c for c in changes}
    got = receiver.delivered(path)
    assert [e["body"]["data"] for e in got] == changes
    for entry in got:
        data = entry["body"]["data"]
        previous = by_version.get((data["id"], data["version"] - 1))
        assert entry["body"]["type"] == expected_type(data, previous)
        assert entry["id"] == f"msg_{webhook_id}_{data['id']}_{data['version']}"


def random_writes(base: str, count: int, calendars: list[str], threads: int = 8) -> None:
    """`count` creates, updates and cancellations racing from `threads` clients."""
    stamps: dict[int, datetime] = {}
    lock = threading.Lock()
    start = datetime(2031, 1, 1, tzinfo=UTC)

    def worker(seed: int, n: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as http:
            for _ in range(n):
                appointment_id = rng.randint(1, 60)
                with lock:
                    stamp = stamps.get(appointment_id, start) + timedelta(seconds=1)
                    stamps[appointment_id] = stamp
                if rng.random() < 0.2:
                    http.delete(f"{base}/appointments/{appointment_id}", timeout=10)
                    continue
                body = appointment(
                    appointment_id,
                    calendar=calendars[appointment_id % len(calendars)],
                    start=start + timedelta(hours=appointment_id, minutes=rng.randint(0, 20)),
                    updated_at=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
                http.post(f"{base}/appointments", json=body, timeout=10)

    pool = [
        threading.Thread(target=worker, args=(seed, count // threads)) for seed in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def wait_for(receiver: Receiver, path: str, count: int, timeout: float = 60) -> None:
    wait_until(lambda: len(receiver.delivered(path)) >= count, what=path, timeout=timeout)


def test_300_racing_writes_reach_every_matching_subscription_in_feed_order(
    base, receiver, dispatchers
):
    everything = subscribe(base, receiver, "/all")
    room = subscribe(base, receiver, "/room-1", calendars=["room-1"])
    clinic = subscribe(base, receiver, "/clinic", calendars=["clinic-a-*"])
    nothing = subscribe(base, receiver, "/nothing", calendars=["elsewhere"])
    dispatchers.start()
    random_writes(base, 300, ["room-1", "room-2", "clinic-a-1", "clinic-a-2", "clinic-b"])
    changes = feed(base)
    assert len(changes) > 200
    expected = {
        "/all": changes,
        "/room-1": [c for c in changes if c["calendar"] == "room-1"],
        "/clinic": [c for c in changes if c["calendar"].startswith("clinic-a-")],
    }
    for path, wanted in expected.items():
        wait_for(receiver, path, len(wanted))
    time.sleep(1)  # anything extra would have arrived by now
    assert_delivered_exactly(receiver, "/all", expected["/all"], everything)
    assert_delivered_exactly(receiver, "/room-1", expected["/room-1"], room)
    assert_delivered_exactly(receiver, "/clinic", expected["/clinic"], clinic)
    assert "/nothing" not in receiver.received and nothing
    assert receiver.invalid == []
    assert receiver.overlaps == []
    types = {e["body"]["type"] for e in receiver.delivered("/all")}
    assert types == {
        "appointment.created",
        "appointment.updated",
        "appointment.cancelled",
        "appointment.revived",
    }
    metrics = requests.get(f"{base}/metrics", timeout=10).text
    total = float(sum(len(wanted) for wanted in expected.values()))
    assert f'sesame_webhook_deliveries_total{{outcome="delivered"}} {total}' in metrics
    assert f'sesame_webhook_oldest_undelivered_seconds{{webhook="{everything}"}} 0.0' in metrics


def test_a_claims_events_share_the_connection_a_receiver_keeps_alive(base, dispatchers):
    receiver = Receiver(keep_alive=True)
    try:
        webhook_id = subscribe(base, receiver, "/kept")
        for n in range(1, 31):
            requests.post(f"{base}/appointments", json=appointment(n), timeout=10)
        dispatchers.start()  # after the writes: one claim sends them all
        wait_for(receiver, "/kept", 30)
        assert_delivered_exactly(receiver, "/kept", feed(base), webhook_id)
        assert receiver.invalid == []
        assert receiver.connections == 1
    finally:
        receiver.close()


def test_a_receiver_down_for_10_s_gets_everything_in_order_after_backoff(
    base, receiver, dispatchers
):
    webhook_id = subscribe(base, receiver, "/flaky")
    receiver.behaviour["/flaky"] = "fail"
    dispatchers.start()
    for n in range(1, 6):
        requests.post(f"{base}/appointments", json=appointment(n), timeout=10)
    time.sleep(10)
    receiver.behaviour["/flaky"] = "ok"
    wait_for(receiver, "/flaky", 5, timeout=60)
    assert_delivered_exactly(receiver, "/flaky", feed(base), webhook_id)
    assert receiver.invalid == []
    # Every failure was the first event, retried with the same webhook-id.
    failed = [e for e in receiver.received["/flaky"] if e["status"] == 500]
    assert len(failed) >= 3
    assert {e["id"] for e in failed} == {f"msg_{webhook_id}_1_1"}
    attempts = requests.get(f"{base}/webhooks/{webhook_id}/deliveries?limit=100", timeout=10).json()
    failures = [a for a in reversed(attempts) if a["error"]]
    assert [a["attempt"] for a in failures] == list(range(1, len(failures) + 1))
    for attempt in failures:
        assert attempt["status"] == 500 and attempt["error"] == "HTTP 500"
        waited = _seconds(attempt["nextAttemptAt"]) - _seconds(attempt["attemptedAt"])
        # Exponential backoff from 1 s, with jitter: between half and all of 2^(n-1) s.
        assert 2 ** (attempt["attempt"] - 1) / 2 - 0.01 <= waited <= 2 ** (attempt["attempt"] - 1)
    delivered = [a for a in attempts if a["error"] is None]
    assert len(delivered) == 5 and all(a["status"] == 200 for a in delivered)
    assert delivered[-1]["attempt"] == len(failures) + 1  # the first event, at last
    assert all(a["nextAttemptAt"] is None for a in delivered)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_kill_9_mid_batch_loses_nothing_and_a_repeat_keeps_its_webhook_id(
    base, receiver, dispatchers
):
    webhook_id = subscribe(base, receiver, "/slow")
    receiver.behaviour["/slow"] = "slow"
    for n in range(1, 31):
        requests.post(f"{base}/appointments", json=appointment(n), timeout=10)
    first = dispatchers.start()
    wait_until(
        lambda: len(receiver.received.get("/slow", [])) >= 5 and receiver.in_flight["/slow"] == 1,
        what="a delivery in flight",
    )
    first.send_signal(signal.SIGKILL)  # mid-request: its answer is never recorded
    first.wait()
    dispatchers.start()
    wait_for(receiver, "/slow", 30, timeout=60)
    assert_delivered_exactly(receiver, "/slow", feed(base), webhook_id)
    ids = [e["id"] for e in receiver.received["/slow"]]
    repeated = {i for i in ids if ids.count(i) > 1}
    assert repeated, "the request in flight at the kill is sent again"
    for repeat in repeated:
        bodies = [e["body"]["data"] for e in receiver.received["/slow"] if e["id"] == repeat]
        assert all(body == bodies[0] for body in bodies)
    assert receiver.invalid == []


def test_two_dispatchers_at_once_never_deliver_one_event_twice(base, receiver, dispatchers):
    paths = [f"/pair-{n}" for n in range(4)]
    ids = {path: subscribe(base, receiver, path) for path in paths}
    dispatchers.start(WEBHOOK_CONCURRENCY="2")
    dispatchers.start(WEBHOOK_CONCURRENCY="2")
    random_writes(base, 80, ["room-1", "room-2"], threads=4)
    changes = feed(base)
    for path in paths:
        wait_for(receiver, path, len(changes))
    time.sleep(1)
    for path in paths:
        assert_delivered_exactly(receiver, path, changes, ids[path])
        sent = [e["id"] for e in receiver.received[path]]
        assert len(sent) == len(set(sent)), "no event sent twice"
    assert receiver.overlaps == []  # never two requests of one subscription at the same time
    logs = dispatchers.logs()
    assert logs.count("webhook dispatcher") >= 2


def test_a_hanging_receiver_times_out_and_others_go_on_meanwhile(base, receiver, dispatchers):
    hanging = subscribe(base, receiver, "/hang")
    subscribe(base, receiver, "/fine")
    receiver.behaviour["/hang"] = "hang"
    dispatchers.start()
    started = time.monotonic()
    for n in range(1, 11):
        requests.post(f"{base}/appointments", json=appointment(n), timeout=10)
    wait_for(receiver, "/fine", 10, timeout=20)
    assert time.monotonic() - started < 10
    wait_until(
        lambda: len(requests.get(f"{base}/webhooks/{hanging}/deliveries", timeout=10).json()) >= 2,
        what="two timed-out attempts",
        timeout=30,
    )
    attempts = requests.get(f"{base}/webhooks/{hanging}/deliveries", timeout=10).json()
    assert all(a["error"] == "timed out after 2 s" and a["status"] is None for a in attempts)
    assert {a["eventId"] for a in attempts} == {f"msg_{hanging}_1_1"}
    receiver.behaviour["/hang"] = "ok"
    receiver.release.set()
    wait_for(receiver, "/hang", 10, timeout=60)
    assert_delivered_exactly(receiver, "/hang", feed(base), hanging)


def test_a_name_resolving_to_loopback_is_refused_at_delivery(base, receiver, dispatchers):
    # Accepted at creation (names are not resolved then), refused once resolved.
    port = receiver.base.rsplit(":", 1)[1]
    created = requests.post(
        f"{base}/webhooks", json={"url": f"https://localhost:{port}/sneaky"}, timeout=10
    )
    assert created.status_code == 201
    webhook_id = created.json()["id"]
    dispatchers.start(WEBHOOK_ALLOW_HTTP="0", WEBHOOK_ALLOW_PRIVATE="0")
    requests.post(f"{base}/appointments", json=appointment(1), timeout=10)
    wait_until(
        lambda: requests.get(f"{base}/webhooks/{webhook_id}/deliveries", timeout=10).json(),
        what="a refused attempt",
    )
    attempt = requests.get(f"{base}/webhooks/{webhook_id}/deliveries", timeout=10).json()[0]
    assert attempt["status"] is None
    assert attempt["error"].startswith("refused: Address ")
    assert "loopback" in attempt["error"]
    assert receiver.received == {}  # nothing reached the port
    metrics = requests.get(f"{base}/metrics", timeout=10).text
    assert 'sesame_webhook_deliveries_total{outcome="refused"}' in metrics
    age = f'sesame_webhook_oldest_undelivered_seconds{{webhook="{webhook_id}"}}'
    assert age in metrics and f"{age} 0.0" not in metrics


def test_a_subscription_failing_past_give_up_stops_until_enabled(base, receiver, dispatchers):
    webhook_id = subscribe(base, receiver, "/gone")
    receiver.behaviour["/gone"] = "fail"
    dispatchers.start(WEBHOOK_GIVE_UP_S="2")
    requests.post(f"{base}/appointments", json=appointment(1), timeout=10)
    requests.post(f"{base}/appointments", json=appointment(2), timeout=10)
    wait_until(
        lambda: (
            requests.get(f"{base}/webhooks/{webhook_id}", timeout=10).json()["status"] == "failing"
        ),
        what="failing",
        timeout=30,
    )
    tries = len(receiver.received["/gone"])
    time.sleep(2)
    assert len(receiver.received["/gone"]) == tries  # stopped
    receiver.behaviour["/gone"] = "ok"
    enabled = requests.post(f"{base}/webhooks/{webhook_id}/enable", timeout=10)
    assert enabled.json()["status"] == "active"
    wait_for(receiver, "/gone", 2)
    assert_delivered_exactly(receiver, "/gone", feed(base), webhook_id)


def test_delete_stops_deliveries_at_once(base, receiver, dispatchers):
    webhook_id = subscribe(base, receiver, "/brief")
    dispatchers.start()
    requests.post(f"{base}/appointments", json=appointment(1), timeout=10)
    wait_for(receiver, "/brief", 1)
    assert requests.delete(f"{base}/webhooks/{webhook_id}", timeout=10).status_code == 204
    requests.post(f"{base}/appointments", json=appointment(2), timeout=10)
    time.sleep(1.5)
    assert len(receiver.received["/brief"]) == 1


def test_the_loopback_guard_refuses_before_any_packet(tmp_path):
    """The guard the tests rely on: installed in a fresh process, it refuses a connection to a
    documentation address (192.0.2.1) when the audit event fires, before the socket is used."""
    program = (
        "import socket, sys, tools.loopback_only as g; g.install();"
        "s = socket.socket();"
        "sys.audit('socket.connect', s, ('192.0.2.1', 9))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert GUARD_MARK in result.stderr
