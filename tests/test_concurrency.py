"""Races through a real gunicorn (4 gthread workers) on real PostgreSQL.

Every request of a race is released at once by a barrier, so they truly arrive together at
different workers; the book is then checked with the same invariants `integrity.py` audits.
"""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tools.integrity import find_violations

pytestmark = pytest.mark.live

BODY = {
    "start": "2026-12-01 09:00",
    "end": "2026-12-01 09:30",
    "createdAt": "2026-11-26T08:00:00Z",
    "updatedAt": "2026-11-26T08:00:00Z",
}


def race(base: str, bodies: list[dict]) -> list[requests.Response]:
    """POST every body at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict) -> requests.Response:
        barrier.wait()
        return requests.post(f"{base}/appointments", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_hundred_requests_for_one_slot_give_exactly_one_booking(live, connection):
    responses = race(live, [{**BODY, "id": i, "calendar": "room-1"} for i in range(1, 101)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 99}
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == "time_range_unavailable"
            assert response.json()["conflicts"] == [winner]
    assert [a["id"] for a in requests.get(f"{live}/appointments").json()] == [winner]
    assert find_violations(connection) == {}


def test_fifty_identical_first_writes_give_one_201_and_49_replays(live, connection):
    responses = race(live, [{**BODY, "id": 7}] * 50)
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 49}
    assert all(r.json()["version"] == 1 for r in responses)
    assert len(requests.get(f"{live}/appointments/7/history").json()) == 1


def test_first_writes_of_one_id_to_different_calendars_create_it_once(live, connection):
    bodies = [{**BODY, "id": 9, "calendar": f"room-{i % 2}"} for i in range(20)]
    responses = race(live, bodies)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1
    assert statuses[200] + statuses[409] == 19
    assert {r.json()["error"] for r in responses if r.status_code == 409} <= {"stale_update"}
    assert len(requests.get(f"{live}/appointments/9/history").json()) == 1
    assert find_violations(connection) == {}


def test_random_mixed_writes_leave_no_overlap_and_contiguous_history(live, connection):
    rng = random.Random(20261126)
    bodies = []
    for _ in range(300):
        start = rng.randrange(0, 20) * 15
        length = rng.choice([15, 30, 45, 60])
        bodies.append(
            {
                "id": rng.randrange(1, 40),
                "calendar": rng.choice(["a", "b", "c"]),
                "start": _minutes_after_nine(start),
                "end": _minutes_after_nine(start + length),
                "createdAt": "2026-11-26T08:00:00Z",
                "updatedAt": f"2026-11-26T08:{rng.randrange(0, 60):02d}:00Z",
            }
        )
    responses = race(live, bodies[:150]) + race(live, bodies[150:])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[201] >= 1 and statuses[409] >= 1
    assert find_violations(connection) == {}
    for appointment in requests.get(f"{live}/appointments?limit=1000").json():
        history = requests.get(f"{live}/appointments/{appointment['id']}/history").json()
        assert [v["version"] for v in history] == list(range(1, appointment["version"] + 1))


def _minutes_after_nine(minutes: int) -> str:
    hour, minute = divmod(9 * 60 + minutes, 60)
    return f"2026-12-01 {hour:02d}:{minute:02d}"


def test_cancels_racing_creates_for_the_same_slots_never_overlap(live, connection):
    slots = [f"room-{n}" for n in range(10)]
    for n, calendar in enumerate(slots, start=1):
        assert (
            requests.post(
                f"{live}/appointments", json={**BODY, "id": n, "calendar": calendar}, timeout=10
            ).status_code
            == 201
        )
    barrier = threading.Barrier(30)

    def cancel(n: int) -> int:
        barrier.wait()
        return requests.delete(f"{live}/appointments/{n}", timeout=30).status_code

    def create(n: int, calendar: str) -> int:
        barrier.wait()
        body = {**BODY, "id": n, "calendar": calendar}
        return requests.post(f"{live}/appointments", json=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        cancels = [pool.submit(cancel, n) for n in range(1, 11)]
        creates = [pool.submit(create, 100 + n, slots[n % 10]) for n in range(20)]
    assert {f.result() for f in cancels} == {200}
    assert {f.result() for f in creates} <= {201, 409}
    assert find_violations(connection) == {}
    active = requests.get(f"{live}/appointments?limit=1000").json()
    assert len(active) <= 10 and {a["id"] for a in active} <= set(range(100, 120))
