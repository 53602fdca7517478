"""Booking hours under concurrency, through the run's 4-worker gunicorn on real PostgreSQL.

Racing writes on an enforced calendar must leave the book as a serial run would: no two
blocked ranges meeting, nothing outside open time, every refusal justified. A PUT of settings
racing writes must check each write against exactly one version of the settings.
"""

import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.scenarios import race
from tests.slot_reference import WEEKDAYS, fmt, local, minute, open_minutes, zone
from tools.live import appointment

pytestmark = pytest.mark.live

NOW = datetime.now(UTC)


def put_settings(base: str, calendar: str, body: dict) -> dict:
    response = requests.put(f"{base}/calendars/{calendar}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def body_for(id: int, calendar: str, start: datetime, end: datetime) -> dict:
    body = appointment(id, calendar=calendar, start=start)
    return {**body, "end": fmt(end)}


def span(item: dict) -> tuple[int, int]:
    return minute(datetime.fromisoformat(item["start"])), minute(
        datetime.fromisoformat(item["end"])
    )


def test_sixty_racing_bookings_leave_no_blocked_ranges_meeting_and_nothing_outside_hours(live):
    rng = random.Random(6022)
    calendar = f"race-{uuid.uuid4().hex[:10]}"
    tz_name = "Europe/London"
    settings = {
        "timeZone": tz_name,
        "hours": {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS},
        "bufferBefore": 10,
        "bufferAfter": 5,
        "horizon": 3650,
        "enforce": True,
    }
    put_settings(live, calendar, settings)
    day = NOW.date() + timedelta(weeks=6)
    start_of_day = local(day, "08:00", zone(tz_name))
    bodies = []
    for n in range(1, 61):
        # Mostly inside the day's hours, some across the lunch break or the close.
        begins = start_of_day + timedelta(minutes=rng.randrange(45, 9 * 60, 5))
        bodies.append(
            body_for(
                n, calendar, begins, begins + timedelta(minutes=rng.choice([15, 20, 30, 45, 60]))
            )
        )
    responses = race(live, bodies)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    listed = requests.get(
        f"{live}/appointments", params={"calendar": calendar, "limit": 1000}, timeout=30
    ).json()
    active = {a["id"]: a for a in listed if a["status"] == "active"}
    assert sorted(active) == sorted(
        b["id"] for b, s in zip(bodies, statuses, strict=True) if s == 201
    )
    assert len(active) >= 3  # the race did book something

    opened = open_minutes(
        settings, start_of_day - timedelta(days=1), start_of_day + timedelta(days=1)
    )
    blocked = {}
    for id, item in active.items():
        a, b = span(item)
        assert set(range(a, b)) <= opened, f"{item} lies outside open time"
        blocked[id] = (a - settings["bufferBefore"], b + settings["bufferAfter"])
    ordered = sorted(blocked.items(), key=lambda kv: kv[1])
    for (id1, (_, end1)), (id2, (start2, _)) in zip(ordered, ordered[1:], strict=False):
        assert end1 <= start2, f"the blocked ranges of {id1} and {id2} meet"

    # Every refusal is justified: outside open time, or meeting an appointment that was booked.
    for body, response in zip(bodies, responses, strict=True):
        if response.status_code != 409:
            continue
        a, b = span(body)
        error = response.json()
        if error["error"] == "outside_hours":
            assert not set(range(a, b)) <= opened, body
            continue
        assert error["error"] == "time_range_unavailable", error
        assert set(range(a, b)) <= opened, body
        assert error["conflicts"], error
        for other in error["conflicts"]:
            assert other in active, (body, error)
            c, d = blocked[other]
            assert a - settings["bufferBefore"] < d and c < b + settings["bufferAfter"], (
                body,
                error,
            )


def test_writes_racing_settings_changes_are_each_checked_against_one_version(live):
    """Version A opens 09:00-12:00, version B 13:00-17:00, PUT alternately while writers book
    10:00 (A only), 14:00 (B only), and 12:15 or 11:45-13:15 (neither), each on a date of its
    own. Nothing that neither version allows is accepted. Each accepted write was allowed by
    the version in force when it was recorded, told two ways: by real time as this client sees
    it (a write sent after PUT n answered and answered before PUT n+1 was sent was checked
    against version n exactly), and by the server's own order (the write's recordedAt against
    the versions' updatedAt, both taken under the calendar's lock, equal milliseconds
    allowing either side)."""
    calendar = f"swap-{uuid.uuid4().hex[:10]}"
    tz_name = "America/New_York"
    tz = zone(tz_name)
    base = {"timeZone": tz_name, "horizon": 3650, "enforce": True}
    versions = {
        "A": {**base, "hours": {d: [["09:00", "12:00"]] for d in WEEKDAYS}},
        "B": {**base, "hours": {d: [["13:00", "17:00"]] for d in WEEKDAYS}},
    }
    kinds = {
        "A": ("10:00", "10:30"),
        "B": ("14:00", "14:30"),
        "neither": ("12:15", "12:45"),
        "across": ("11:45", "13:15"),
    }
    first = put_settings(live, calendar, versions["A"])
    clock = time.monotonic
    # version number -> (which, when its PUT was sent, when it answered)
    puts: dict[int, tuple[str, float, float]] = {first["version"]: ("A", 0.0, 0.0)}
    updated = {first["version"]: first["updatedAt"]}
    done = threading.Event()
    lock = threading.Lock()
    writes: list[tuple[int, str, float, float, int, dict]] = []
    ids = iter(range(1, 100_000))

    def putter() -> None:
        try:
            for n in range(30):
                which = "B" if n % 2 == 0 else "A"
                sent = clock()
                answer = put_settings(live, calendar, versions[which])
                with lock:
                    puts[answer["version"]] = (which, sent, clock())
                    updated[answer["version"]] = answer["updatedAt"]
                time.sleep(0.01)
        finally:
            done.set()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        while not done.is_set():
            with lock:
                id = next(ids)
            kind = rng.choice(["A", "B", "A", "B", "neither", "across"])
            day = NOW.date() + timedelta(days=30 + id)
            start, end = (local(day, t, tz) for t in kinds[kind])
            sent = clock()
            response = session.post(
                f"{live}/appointments", json=body_for(id, calendar, start, end), timeout=30
            )
            with lock:
                writes.append((id, kind, sent, clock(), response.status_code, response.json()))

    threads = [threading.Thread(target=putter)] + [
        threading.Thread(target=writer, args=(seed,)) for seed in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(puts) == list(range(first["version"], first["version"] + 31))

    accepted = {"A": 0, "B": 0}
    for id, kind, sent, answered, status, body in writes:
        assert status in (201, 409), body
        if status == 409:
            assert body["error"] == "outside_hours", body
            continue
        assert kind in ("A", "B"), f"write {id} ({kind}) was accepted: neither version allows it"
        accepted[kind] += 1
        # The versions possibly current while the write was in flight: from the last PUT that
        # answered before it was sent to the last PUT sent before it answered.
        lowest = max(v for v, (_, _, put_answered) in puts.items() if put_answered <= sent)
        highest = max(v for v, (_, put_sent, _) in puts.items() if put_sent <= answered)
        possible = {puts[v][0] for v in range(lowest, highest + 1)}
        assert kind in possible, (
            f"write {id} ({kind}) accepted while only versions {lowest}-{highest} "
            f"({sorted(possible)}) could be current"
        )
        history = requests.get(f"{live}/appointments/{id}/history", timeout=10).json()
        recorded = history[0]["recordedAt"]
        in_force = max(v for v, at in updated.items() if at < recorded)
        tied = {v for v, at in updated.items() if at == recorded}
        possible = {puts[v][0] for v in {in_force} | tied}
        assert kind in possible, (
            f"write {id} ({kind}) recorded at {recorded} when version {in_force} "
            f"({puts[in_force][0]}, updated {updated[in_force]}) was in force"
        )
    assert accepted["A"] and accepted["B"], accepted
    assert len(writes) >= 30
    assert sorted(updated) == sorted(puts)
    assert [updated[v] for v in sorted(updated)] == sorted(updated.values())
