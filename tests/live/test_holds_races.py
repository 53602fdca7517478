"""Holds through the run's live 4-worker gunicorn: races for one slot, and expiry on the
server's clock with no sweeper (the shared live server runs none: HOLD_SWEEP_S plays no part).

Every race releases its requests at once with a barrier (tests/scenarios.race); every test
ends with the integrity audit. Holds last 2 seconds: each wait here is a few seconds at most.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import text

from tests.helpers import BODY
from tests.scenarios import race
from tools.integrity import find_violations

pytestmark = pytest.mark.live

LATER = "2026-11-26T09:00:00Z"
LATEST = "2026-11-26T10:00:00Z"


def held(**changes) -> dict:
    """BODY (room-1, 09:00-09:30) as a hold, with some fields changed."""
    return {**BODY, "status": "held", "holdFor": 2, **changes}


def write(base: str, body: dict) -> requests.Response:
    return requests.post(f"{base}/appointments", json=body, timeout=10)


def get(base: str, path: str, **params) -> object:
    response = requests.get(f"{base}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def listed(base: str, **params) -> list[tuple[int, str, int]]:
    return [(a["id"], a["status"], a["version"]) for a in get(base, "/appointments", **params)]


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def stamp(value: datetime) -> str:
    """A time as the API writes it, to the millisecond."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def sleep_until(moment: datetime) -> None:
    """PostgreSQL runs on this machine's clock."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def stored(connection, appointment_id: int) -> tuple[str, int]:
    """The row as stored, behind the service's back: what is recorded, not what reads answer."""
    row = connection.execute(
        text("SELECT status, version FROM appointments WHERE id = :id"), {"id": appointment_id}
    ).one()
    connection.commit()
    return tuple(row)


def test_hundred_racing_holds_of_one_slot_give_exactly_one_hold(live, connection):
    responses = race(live, [held(id=i, holdFor=60) for i in range(1, 101)])
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 99}
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    assert winner["status"] == "held"
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == "time_range_unavailable"
            assert response.json()["conflicts"] == [winner["id"]]
    assert listed(live, status="all") == [(winner["id"], "held", 1)]
    confirmed = write(live, {**BODY, "id": winner["id"], "updatedAt": LATER})
    assert confirmed.status_code == 200
    assert (confirmed.json()["status"], confirmed.json()["version"]) == ("active", 2)
    # None of the others can book it or hold it, racing again, half of each.
    losers = [i for i in range(1, 101) if i != winner["id"]]
    again = race(
        live,
        [{**BODY, "id": i} if i % 2 else held(id=i, holdFor=60) for i in losers],
    )
    assert {r.status_code for r in again} == {409}
    assert {tuple(r.json()["conflicts"]) for r in again} == {(winner["id"],)}
    assert listed(live, status="all") == [(winner["id"], "active", 2)]
    assert find_violations(connection) == {}


def test_the_holder_confirms_while_fifty_others_race_to_book_its_slot(live, connection):
    assert write(live, held(holdFor=60)).status_code == 201
    bodies = [{**BODY, "updatedAt": LATER}] + [{**BODY, "id": i} for i in range(100, 150)]
    responses = race(live, bodies)
    assert responses[0].status_code == 200 and responses[0].json()["status"] == "active"
    assert {r.status_code for r in responses[1:]} == {409}
    assert {tuple(r.json()["conflicts"]) for r in responses[1:]} == {(42,)}
    assert find_violations(connection) == {}


def test_a_lapsed_hold_is_expired_for_every_read_then_recorded_by_the_write_it_meets(
    live, connection
):
    created = write(live, held())
    assert created.status_code == 201
    hold = created.json()
    expires = instant(hold["expiresAt"])
    (first,) = get(live, "/appointments/42/history")
    recorded = instant(first["recordedAt"])
    assert expires - recorded == timedelta(seconds=2)
    sleep_until(recorded + timedelta(seconds=2.5))

    def reads() -> dict:
        """What a client can see of the hold, now and as of three moments."""
        mid, just_before = recorded + timedelta(seconds=1), expires - timedelta(milliseconds=1)
        return {
            "by id": get(live, "/appointments/42"),
            "history": get(live, "/appointments/42/history"),
            "held mid-hold": listed(live, at=stamp(mid), status="held"),
            "all mid-hold": listed(live, at=stamp(mid), status="all"),
            "active mid-hold": listed(live, at=stamp(mid)),
            "held just before": listed(live, at=stamp(just_before), status="held"),
            "held at expiry": listed(live, at=stamp(expires), status="held"),
            "expired at expiry": listed(live, at=stamp(expires), status="expired"),
            "all at expiry": listed(live, at=stamp(expires), status="all"),
            "expired now": listed(live, status="expired"),
            "held now": listed(live, status="held"),
        }

    # Lapsed, not recorded (no sweeper runs; no write has met it): reads answer the expiry.
    assert stored(connection, 42) == ("held", 1)
    before = reads()
    expiry = {**first, "status": "expired", "version": 2, "recordedAt": hold["expiresAt"]}
    assert before == {
        "by id": {**hold, "status": "expired", "version": 2},
        "history": [first, {**expiry, "recordedBy": "expiry"}],
        "held mid-hold": [(42, "held", 1)],
        "all mid-hold": [(42, "held", 1)],
        "active mid-hold": [],
        "held just before": [(42, "held", 1)],
        "held at expiry": [],
        "expired at expiry": [(42, "expired", 2)],
        "all at expiry": [(42, "expired", 2)],
        "expired now": [(42, "expired", 2)],
        "held now": [],
    }
    # Another id books the range: 201, and that write records the expiry.
    booked = write(live, {**BODY, "id": 43, "start": "2026-12-01 09:15", "end": "2026-12-01 09:45"})
    assert booked.status_code == 201, booked.text
    assert stored(connection, 42) == ("expired", 2)
    # Nothing a client sees changed when it was recorded; the feed has it now, once.
    assert reads() == before
    after_booking = stamp(instant(get(live, "/appointments/43/history")[0]["recordedAt"]))
    assert listed(live, at=after_booking) == [(43, "active", 1)]
    assert listed(live, at=after_booking, status="all") == [(42, "expired", 2), (43, "active", 1)]
    feed = [(c["id"], c["version"], c["status"]) for c in get(live, "/changes")["changes"]]
    assert feed == [(42, 1, "held"), (42, 2, "expired"), (43, 1, "active")]
    assert find_violations(connection) == {}


def test_the_holders_confirm_just_before_expires_at_keeps_it(live, connection):
    hold = write(live, held()).json()
    expires = instant(hold["expiresAt"])
    sleep_until(expires - timedelta(seconds=0.8))
    confirmed = write(live, {**BODY, "updatedAt": LATER})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["version"]) == ("active", 2)
    sleep_until(expires + timedelta(seconds=0.2))
    assert get(live, "/appointments/42") == confirmed.json()
    history = get(live, "/appointments/42/history")
    assert [v["status"] for v in history] == ["held", "active"]
    assert instant(history[1]["recordedAt"]) < expires
    assert write(live, {**BODY, "id": 43}).json()["conflicts"] == [42]


def test_the_holders_confirm_just_after_expires_at_succeeds_only_if_still_free(live, connection):
    """Two holds lapse together: one range stays free, the other is booked by someone else
    as soon as it lapses; then both holders confirm."""
    free = write(live, held()).json()
    taken = write(live, held(id=50, calendar="room-2")).json()
    lapsed = max(instant(free["expiresAt"]), instant(taken["expiresAt"]))
    sleep_until(lapsed + timedelta(seconds=0.1))
    other = write(live, {**BODY, "id": 51, "calendar": "room-2"})
    assert other.status_code == 201, other.text

    confirmed = write(live, {**BODY, "updatedAt": LATER})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["version"]) == ("active", 3)
    history = get(live, "/appointments/42/history")
    assert [(v["version"], v["status"], v["recordedBy"]) for v in history] == [
        (1, "held", None),
        (2, "expired", "expiry"),
        (3, "active", None),
    ]
    assert history[1]["recordedAt"] == free["expiresAt"]
    assert instant(history[2]["recordedAt"]) > instant(free["expiresAt"])

    refused = write(live, {**BODY, "id": 50, "calendar": "room-2", "updatedAt": LATER})
    assert refused.status_code == 409
    assert (refused.json()["error"], refused.json()["conflicts"]) == (
        "time_range_unavailable",
        [51],
    )
    late = get(live, "/appointments/50")
    assert (late["status"], late["version"]) == ("expired", 2)
    assert find_violations(connection) == {}


def test_writers_racing_at_the_instant_a_hold_lapses_leave_one_winner(live, connection):
    """The holder's confirm and 30 other bookings of the range, released together just after
    the hold lapses: the expiry is recorded once, and exactly one write gets the range."""
    hold = write(live, held()).json()
    expires = instant(hold["expiresAt"])
    bodies = [{**BODY, "updatedAt": LATER}] + [{**BODY, "id": i} for i in range(100, 130)]
    barrier = threading.Barrier(len(bodies))

    def send(body: dict) -> requests.Response:
        barrier.wait()
        return write(live, body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        sleep_until(expires + timedelta(milliseconds=20))
        responses = list(pool.map(send, bodies))
    statuses = Counter(r.status_code for r in responses)
    assert statuses[409] == len(bodies) - 1, statuses
    (winner,) = [r.json() for r in responses if r.status_code in (200, 201)]
    history = get(live, "/appointments/42/history")
    assert [(v["version"], v["status"]) for v in history][:2] == [(1, "held"), (2, "expired")]
    assert history[1]["recordedAt"] == hold["expiresAt"]
    if winner["id"] == 42:
        assert (winner["status"], winner["version"]) == ("active", 3)
    else:
        assert len(history) == 2
    assert listed(live) == [(winner["id"], "active", winner["version"])]
    feed = [(c["id"], c["version"]) for c in get(live, "/changes")["changes"]]
    assert feed.count((42, 2)) == 1
    assert find_violations(connection) == {}
