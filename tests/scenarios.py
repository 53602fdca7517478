"""Checks that run on more than one deployment, written once.

The contract's core (`CORE`) runs through Flask's client and the live gunicorn
(tests/http/test_api.py) and through PgBouncer in transaction mode (tests/infra); the races
run through the live gunicorn (tests/live/test_concurrency.py) and through PgBouncer. Each
check takes what it talks to (a client with Flask's test-client interface, or a base URL and a
connection to the same database for the integrity audit) and asserts what a user would see.

Not a test file: test files call these, they never import each other.
"""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.helpers import BODY, STORED, assert_error, post
from tools.integrity import find_violations

# -- The contract's core, through any client ---------------------------------------------------


def create_answers_201_with_location_and_the_appointment(client):
    response = post(client)
    assert response.status_code == 201
    assert response.headers["Location"] == "/appointments/42"
    assert response.get_json() == STORED


def update_with_newer_updated_at_answers_200_and_next_version(client):
    post(client)
    response = post(client, end="2026-12-01 10:00", updatedAt="2026-11-26T09:00:00Z")
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert response.get_json() == {
        **STORED,
        "end": "2026-12-01T10:00:00.000Z",
        "updatedAt": "2026-11-26T09:00:00.000Z",
        "version": 2,
    }


def retried_request_answers_200_and_changes_nothing(client):
    post(client)
    response = post(client)
    assert response.status_code == 200
    assert response.get_json() == STORED
    assert len(client.get("/appointments/42/history").get_json()) == 1


def overlap_answers_409_with_the_ids_in_the_way(client):
    post(client)
    body = assert_error(
        post(client, id=43, start="2026-12-01 09:29"), 409, "time_range_unavailable"
    )
    assert body["message"] == "The requested time range is not available."
    assert body["conflicts"] == [42]
    assert client.get("/appointments/43").status_code == 404


def list_is_ordered_by_start_then_id_with_limit_offset_and_calendar(client):
    for id, start, calendar in [(5, "10:00", "a"), (3, "09:00", "b"), (4, "09:00", "c")]:
        post(
            client,
            id=id,
            start=f"2026-12-01 {start}",
            end=f"2026-12-01 {start[:2]}:30",
            calendar=calendar,
        )
    assert [a["id"] for a in client.get("/appointments").get_json()] == [3, 4, 5]
    assert [a["id"] for a in client.get("/appointments?limit=1&offset=1").get_json()] == [4]
    assert [a["id"] for a in client.get("/appointments?calendar=a").get_json()] == [5]
    assert client.get("/appointments?offset=10").get_json() == []


def history_lists_every_version_oldest_first_with_recorded_at(client):
    post(client)
    post(client, end="2026-12-01 10:00", updatedAt="2026-11-26T09:00:00Z")
    post(client, end="2026-12-01 10:00", updatedAt="2026-11-26T09:00:00Z")  # a retry
    history = client.get("/appointments/42/history").get_json()
    assert [v["version"] for v in history] == [1, 2]
    assert [v["end"] for v in history] == ["2026-12-01T09:30:00.000Z", "2026-12-01T10:00:00.000Z"]
    assert history[0]["recordedAt"] <= history[1]["recordedAt"]
    # A version is the appointment as it was, with when and by which key (none: open) it was
    # written.
    version = {"recordedAt": None, "recordedBy": None}
    assert history[-1] | version == client.get("/appointments/42").get_json() | version


def get_unknown_appointment_answers_404(client):
    assert_error(client.get("/appointments/99"), 404, "not_found")
    assert_error(client.get("/appointments/99/history"), 404, "not_found")


CORE = [
    create_answers_201_with_location_and_the_appointment,
    update_with_newer_updated_at_answers_200_and_next_version,
    retried_request_answers_200_and_changes_nothing,
    overlap_answers_409_with_the_ids_in_the_way,
    list_is_ordered_by_start_then_id_with_limit_offset_and_calendar,
    history_lists_every_version_oldest_first_with_recorded_at,
    get_unknown_appointment_answers_404,
]


# -- Races, through a live server --------------------------------------------------------------


def race(base: str, bodies: list[dict]) -> list[requests.Response]:
    """POST every body at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict) -> requests.Response:
        barrier.wait()
        return requests.post(f"{base}/appointments", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def hundred_requests_for_one_slot_give_exactly_one_booking(base: str, connection) -> None:
    responses = race(base, [{**BODY, "id": i, "calendar": "room-1"} for i in range(1, 101)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 99}
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == "time_range_unavailable"
            assert response.json()["conflicts"] == [winner]
    assert [a["id"] for a in requests.get(f"{base}/appointments").json()] == [winner]
    assert find_violations(connection) == {}


def random_mixed_writes_leave_no_overlap_and_contiguous_history(base: str, connection) -> None:
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
    responses = race(base, bodies[:150]) + race(base, bodies[150:])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses[201] >= 1 and statuses[409] >= 1
    assert find_violations(connection) == {}
    for appointment in requests.get(f"{base}/appointments?limit=1000").json():
        history = requests.get(f"{base}/appointments/{appointment['id']}/history").json()
        assert [v["version"] for v in history] == list(range(1, appointment["version"] + 1))


def _minutes_after_nine(minutes: int) -> str:
    hour, minute = divmod(9 * 60 + minutes, 60)
    return f"2026-12-01 {hour:02d}:{minute:02d}"


def cancels_racing_creates_for_the_same_slots_never_overlap(base: str, connection) -> None:
    slots = [f"room-{n}" for n in range(10)]
    for n, calendar in enumerate(slots, start=1):
        assert (
            requests.post(
                f"{base}/appointments", json={**BODY, "id": n, "calendar": calendar}, timeout=10
            ).status_code
            == 201
        )
    barrier = threading.Barrier(30)

    def cancel(n: int) -> int:
        barrier.wait()
        return requests.delete(f"{base}/appointments/{n}", timeout=30).status_code

    def create(n: int, calendar: str) -> int:
        barrier.wait()
        body = {**BODY, "id": n, "calendar": calendar}
        return requests.post(f"{base}/appointments", json=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        cancels = [pool.submit(cancel, n) for n in range(1, 11)]
        creates = [pool.submit(create, 100 + n, slots[n % 10]) for n in range(20)]
    assert {f.result() for f in cancels} == {200}
    assert {f.result() for f in creates} <= {201, 409}
    assert find_violations(connection) == {}
    active = requests.get(f"{base}/appointments?limit=1000").json()
    assert len(active) <= 10 and {a["id"] for a in active} <= set(range(100, 120))
