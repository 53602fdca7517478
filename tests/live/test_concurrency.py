"""Races through a real gunicorn (4 gthread workers) on real PostgreSQL.

Every request of a race is released at once by a barrier, so they truly arrive together at
different workers; the book is then checked with the same invariants `integrity.py` audits.
Last, a reader of the change feed follows concurrent writers and sees each version once.
The races that tests/infra runs through PgBouncer too are written once in tests/scenarios.py.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests import scenarios
from tests.helpers import BODY
from tests.scenarios import race
from tools.integrity import find_violations

pytestmark = pytest.mark.live


def test_hundred_requests_for_one_slot_give_exactly_one_booking(live, connection):
    scenarios.hundred_requests_for_one_slot_give_exactly_one_booking(live, connection)


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
    scenarios.random_mixed_writes_leave_no_overlap_and_contiguous_history(live, connection)


def test_cancels_racing_creates_for_the_same_slots_never_overlap(live, connection):
    scenarios.cancels_racing_creates_for_the_same_slots_never_overlap(live, connection)


def test_a_reader_following_concurrent_writers_sees_each_version_exactly_once(live):
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def reader() -> None:
        cursor = None
        while True:
            done = stop.is_set()
            params = {"limit": 50, **({"since": cursor} if cursor else {})}
            body = requests.get(f"{live}/changes", params=params, timeout=10).json()
            seen.extend((c["id"], c["version"]) for c in body["changes"])
            cursor = body["next"]
            if done and not body["changes"]:
                return

    def write(n: int) -> int:
        body = {
            "id": n % 25 + 1,
            "calendar": f"c{n % 7}",
            "start": "2026-12-01 09:00",
            "end": "2026-12-01 09:30",
            "createdAt": "2026-11-26T08:00:00Z",
            "updatedAt": f"2026-11-26T08:{n // 25:02d}:00Z",
        }
        return requests.post(f"{live}/appointments", json=body, timeout=30).status_code

    watcher = threading.Thread(target=reader)
    watcher.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(write, range(200)))
    stop.set()
    watcher.join(timeout=60)
    assert set(statuses) <= {200, 201, 409}
    assert len(seen) == len(set(seen)), "a version was served twice"
    expected = set()
    for id in range(1, 26):
        response = requests.get(f"{live}/appointments/{id}/history", timeout=10)
        if response.status_code == 200:
            expected |= {(id, v["version"]) for v in response.json()}
    assert set(seen) == expected
    for id in range(1, 26):
        versions = [v for i, v in seen if i == id]
        assert versions == sorted(versions)
