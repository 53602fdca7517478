"""Holds through HTTP: a slot kept for `holdFor` seconds, then let go by itself.

Each transition of the contract in turn (create, renew, confirm, release, revive, the refused
ones), `holdFor`'s bounds, what a live hold blocks and where it shows (lists, availability,
slots, iCalendar), and expiry with no process at all: the run's live gunicorn has no sweeper,
so every expiry seen here is the reads' own. Races, the sweeper and kill -9 are in tests/live.
Expiry cases use 1-second holds and sleep just past `expiresAt`: this file runs twice.
"""

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from icalendar import Calendar

from tests.helpers import BODY, assert_error, post, put

LATER = "2026-11-26T09:00:00Z"
LATEST = "2026-11-26T10:00:00Z"
LAST = "2026-11-26T11:00:00Z"


def hold(client, hold_for: int | None = None, **changes):
    """POST BODY (id 42, room-1, 09:00-09:30) as a hold, with some fields changed."""
    lasting = {} if hold_for is None else {"holdFor": hold_for}
    return post(client, status="held", **lasting, **changes)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def answer(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def history(client, appointment_id: int = 42) -> list[dict]:
    return answer(client.get(f"/appointments/{appointment_id}/history"), 200)


def listed(client, **params) -> list[tuple[int, str]]:
    return [
        (a["id"], a["status"])
        for a in answer(client.get(f"/appointments?{urlencode(params)}"), 200)
    ]


def wait_past(expires_at: str) -> None:
    """Sleep until just after `expires_at` (PostgreSQL runs on this machine's clock)."""
    time.sleep(max(0.0, (instant(expires_at) - datetime.now(UTC)).total_seconds()) + 0.15)


def ics_statuses(client, query: str = "") -> dict[str, str]:
    response = client.get(f"/appointments.ics{query}")
    assert response.status_code == 200
    events = Calendar.from_ical(response.get_data()).walk("VEVENT")
    return {str(e["UID"]): str(e["STATUS"]) for e in events}


# -- Creating a hold ----------------------------------------------------------------------------


def test_a_new_hold_is_201_held_until_the_servers_clock_plus_hold_for(client):
    before = datetime.now(UTC)
    response = hold(client, 120)
    after = datetime.now(UTC)
    body = answer(response, 201)
    assert response.headers["Location"] == "/appointments/42"
    assert body["status"] == "held" and body["version"] == 1
    # The server's clock when recorded, never the client's updatedAt (2026-11-26).
    expires = instant(body["expiresAt"])
    slack = timedelta(seconds=1)
    assert before - slack <= expires - timedelta(seconds=120) <= after + slack
    (recorded,) = history(client)
    assert recorded["expiresAt"] == body["expiresAt"]
    assert expires - instant(recorded["recordedAt"]) == timedelta(seconds=120)
    assert answer(client.get("/appointments/42"), 200) == body


def test_a_hold_without_hold_for_lasts_hold_default_s(client):
    body = answer(hold(client), 201)
    (recorded,) = history(client)
    assert instant(body["expiresAt"]) - instant(recorded["recordedAt"]) == timedelta(seconds=300)


def test_an_appointment_that_never_was_a_hold_has_no_expires_at_anywhere(client):
    assert "expiresAt" not in answer(post(client), 201)
    assert "expiresAt" not in answer(post(client, status="active", updatedAt=LATER), 200)
    assert "expiresAt" not in answer(client.get("/appointments/42"), 200)
    assert all("expiresAt" not in a for a in answer(client.get("/appointments?status=all"), 200))
    assert all("expiresAt" not in v for v in history(client))
    assert all("expiresAt" not in c for c in answer(client.get("/changes"), 200)["changes"])


def test_a_retried_hold_request_is_200_and_does_not_extend_the_hold(client):
    first = answer(hold(client, 60), 201)
    again = hold(client, 600)  # same updatedAt, same content: a retry; holdFor is not content
    assert answer(again, 200) == first
    assert len(history(client)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"status": "held", "holdFor": 0}, id="holdFor-0"),
        pytest.param({"status": "held", "holdFor": 901}, id="holdFor-901"),
        pytest.param({"status": "held", "holdFor": -5}, id="holdFor-negative"),
        pytest.param({"status": "held", "holdFor": "60"}, id="holdFor-string"),
        pytest.param({"status": "held", "holdFor": 60.5}, id="holdFor-fraction"),
        pytest.param({"status": "held", "holdFor": 60.0}, id="holdFor-float"),
        pytest.param({"status": "held", "holdFor": True}, id="holdFor-true"),
        pytest.param({"status": "held", "holdFor": None}, id="holdFor-null"),
        pytest.param({"status": "held", "holdFor": 2**31}, id="holdFor-2**31"),
        pytest.param({"status": "held", "holdFor": 10**18}, id="holdFor-10**18"),
        pytest.param({"holdFor": 60}, id="holdFor-without-status"),
        pytest.param({"status": "active", "holdFor": 60}, id="holdFor-with-active"),
    ],
)
def test_hold_for_outside_1_to_hold_max_s_or_not_an_integer_is_400(client, fields):
    body = assert_error(post(client, **fields), 400, "validation_failed")
    assert "holdFor" in body["errors"]
    assert client.get("/appointments/42").status_code == 404


@pytest.mark.parametrize("status", ["cancelled", "expired", "HELD", "all", "", None, 1])
def test_a_status_other_than_active_or_held_is_400(client, status):
    body = assert_error(post(client, status=status), 400, "validation_failed")
    assert "status" in body["errors"]
    assert client.get("/appointments/42").status_code == 404


@pytest.mark.parametrize("hold_for", [1, 900])
def test_hold_for_bounds_1_and_hold_max_s_are_accepted(client, hold_for):
    body = answer(hold(client, hold_for), 201)
    (recorded,) = history(client)
    assert instant(body["expiresAt"]) - instant(recorded["recordedAt"]) == timedelta(
        seconds=hold_for
    )


# -- Transitions of a live hold ---------------------------------------------------------------


def test_holding_a_live_hold_again_renews_it_with_a_new_expires_at(client):
    first = answer(hold(client, 60), 201)
    renewed = answer(hold(client, 600, updatedAt=LATER), 200)
    assert renewed["status"] == "held" and renewed["version"] == 2
    assert instant(renewed["expiresAt"]) > instant(first["expiresAt"])
    old, new = history(client)
    assert instant(renewed["expiresAt"]) - instant(new["recordedAt"]) == timedelta(seconds=600)
    assert old["expiresAt"] == first["expiresAt"]
    # A renewal may also shorten it: the clock starts again at the renewal.
    shorter = answer(hold(client, 30, updatedAt=LATEST), 200)
    assert instant(shorter["expiresAt"]) < instant(renewed["expiresAt"])


def test_a_renewal_may_move_the_hold_and_is_checked_like_any_move(client):
    answer(hold(client, 60), 201)
    answer(post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    moved = answer(
        hold(client, 60, start="2026-12-01 09:15", end="2026-12-01 09:45", updatedAt=LATER), 200
    )
    assert (moved["start"], moved["version"]) == ("2026-12-01T09:15:00.000Z", 2)
    refused = hold(client, 60, start="2026-12-01 09:45", end="2026-12-01 10:15", updatedAt=LATEST)
    assert assert_error(refused, 409, "time_range_unavailable")["conflicts"] == [43]
    assert answer(client.get("/appointments/42"), 200) == moved
    # Its old range is free: the move let it go.
    answer(post(client, id=44, start="2026-12-01 09:00", end="2026-12-01 09:15"), 201)


def test_confirming_a_live_hold_is_200_active_with_no_expires_at(client):
    held = answer(hold(client, 60), 201)
    confirmed = answer(post(client, updatedAt=LATER), 200)  # status active is the default
    assert confirmed["status"] == "active" and confirmed["version"] == 2
    assert "expiresAt" not in confirmed
    assert answer(client.get("/appointments/42"), 200) == confirmed
    first, second = history(client)
    assert (first["status"], first["expiresAt"]) == ("held", held["expiresAt"])
    assert second["status"] == "active" and "expiresAt" not in second
    assert second["recordedBy"] is None
    # Confirmed, it stays: it never expires.
    assert listed(client) == [(42, "active")]
    assert listed(client, status="held") == []


def test_the_holder_confirms_and_moves_over_its_own_held_range(client):
    answer(hold(client, 60), 201)
    moved = post(client, start="2026-12-01 09:10", end="2026-12-01 09:40", updatedAt=LATER)
    assert answer(moved, 200)["status"] == "active"


def test_a_confirm_that_moves_onto_another_booking_is_409_and_the_hold_stays(client):
    held = answer(hold(client, 600), 201)
    answer(post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    moved = post(client, start="2026-12-01 10:15", end="2026-12-01 10:45", updatedAt=LATER)
    assert assert_error(moved, 409, "time_range_unavailable")["conflicts"] == [43]
    assert answer(client.get("/appointments/42"), 200) == held


def test_an_active_appointment_sent_as_held_is_409_invalid_transition(client):
    booked = answer(post(client), 201)
    body = assert_error(hold(client, 60, updatedAt=LATER), 409, "invalid_transition")
    assert "conflicts" not in body
    assert answer(client.get("/appointments/42"), 200) == booked
    assert len(history(client)) == 1
    # The same for a confirmed hold: a booking is not put back on hold.
    answer(hold(client, 60, id=43, calendar="room-2"), 201)
    answer(post(client, id=43, calendar="room-2", updatedAt=LATER), 200)
    assert_error(
        hold(client, 60, id=43, calendar="room-2", updatedAt=LATEST), 409, "invalid_transition"
    )


def test_a_transition_with_the_same_updated_at_is_a_stale_update(client):
    answer(hold(client, 60), 201)
    assert_error(post(client), 409, "stale_update")  # confirm needs a newer updatedAt
    assert answer(client.get("/appointments/42"), 200)["status"] == "held"


def test_releasing_a_hold_cancels_it_and_frees_its_range_at_once(client):
    answer(hold(client, 600), 201)
    released = answer(client.delete("/appointments/42"), 200)
    assert released["status"] == "cancelled" and released["version"] == 2
    assert "expiresAt" not in released
    answer(post(client, id=43), 201)
    # Releasing twice changes nothing.
    assert answer(client.delete("/appointments/42"), 200) == released
    assert [v["status"] for v in history(client)] == ["held", "cancelled"]


def test_a_released_hold_is_revived_as_held_or_active_only_if_its_range_is_free(client):
    answer(hold(client, 60), 201)
    answer(client.delete("/appointments/42"), 200)
    revived = answer(hold(client, 120, updatedAt=LATER), 200)
    assert revived["status"] == "held" and revived["version"] == 3
    assert instant(revived["expiresAt"]) - instant(history(client)[-1]["recordedAt"]) == timedelta(
        seconds=120
    )
    answer(client.delete("/appointments/42"), 200)
    answer(post(client, id=43, start="2026-12-01 09:15", end="2026-12-01 09:45"), 201)
    for status in ("held", "active"):
        refused = post(client, status=status, updatedAt=LATEST)
        assert assert_error(refused, 409, "time_range_unavailable")["conflicts"] == [43]
    assert answer(client.get("/appointments/42"), 200)["status"] == "cancelled"
    assert (
        answer(post(client, start="2026-12-01 10:00", end="2026-12-01 10:30", updatedAt=LAST), 200)[
            "status"
        ]
        == "active"
    )


# -- What a live hold blocks --------------------------------------------------------------------


def test_a_live_hold_blocks_other_ids_creates_moves_and_holds(client):
    answer(hold(client, 60), 201)
    overlapping = {"start": "2026-12-01 09:29", "end": "2026-12-01 10:00"}
    assert assert_error(post(client, id=43, **overlapping), 409, "time_range_unavailable")[
        "conflicts"
    ] == [42]
    assert assert_error(hold(client, 60, id=44, **overlapping), 409, "time_range_unavailable")[
        "conflicts"
    ] == [42]
    answer(post(client, id=45, start="2026-12-01 09:30", end="2026-12-01 10:00"), 201)  # touches
    moved = post(client, id=45, start="2026-12-01 08:45", end="2026-12-01 09:15", updatedAt=LATER)
    assert assert_error(moved, 409, "time_range_unavailable")["conflicts"] == [42]
    answer(post(client, id=46, calendar="room-2"), 201)  # another calendar
    for absent in (43, 44):
        assert client.get(f"/appointments/{absent}").status_code == 404


def test_a_live_hold_blocks_with_the_buffers_of_a_calendar_that_enforces_them(client):
    calendar = "holds-buffers"
    every_day = {
        day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    settings = {
        "hours": every_day,
        "bufferBefore": 10,
        "bufferAfter": 5,
        "horizon": 3650,
        "enforce": True,
    }
    assert put(client, f"/calendars/{calendar}", json=settings).status_code == 200
    day = (datetime.now(UTC) + timedelta(days=21)).date().isoformat()
    answer(hold(client, 60, calendar=calendar, start=f"{day} 10:00", end=f"{day} 10:30"), 201)
    # Blocked [09:50, 10:35) against [s - 10, e + 5): 10:44 is too close, 10:45 is not.
    near = post(client, id=43, calendar=calendar, start=f"{day} 10:44", end=f"{day} 11:00")
    assert assert_error(near, 409, "time_range_unavailable")["conflicts"] == [42]
    answer(post(client, id=44, calendar=calendar, start=f"{day} 10:45", end=f"{day} 11:00"), 201)


def test_a_live_hold_is_busy_in_availability_and_slots_and_free_once_released_or_lapsed(
    client,
):
    day = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    lapsing = hold(
        client, 1, id=43, calendar="holds-slots", start=f"{day} 11:00", end=f"{day} 11:30"
    )
    wait_past(answer(lapsing, 201)["expiresAt"])
    answer(hold(client, 600, calendar="holds-slots", start=f"{day} 10:00", end=f"{day} 10:30"), 201)
    window = {"calendar": "holds-slots", "from": f"{day} 09:00", "to": f"{day} 12:00"}
    slots = {**window, "duration": 30, "interval": 30}

    def busy() -> list[dict]:
        return answer(client.get(f"/availability?{urlencode(window)}"), 200)["busy"]

    def starts() -> list[str]:
        found = answer(client.get(f"/slots?{urlencode(slots)}"), 200)["slots"]
        return [s["start"][11:16] for s in found]

    assert busy() == [{"id": 42, "start": f"{day}T10:00:00.000Z", "end": f"{day}T10:30:00.000Z"}]
    assert starts() == ["09:00", "09:30", "10:30", "11:00", "11:30"]
    answer(client.delete("/appointments/42"), 200)
    assert busy() == []
    assert starts() == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]


def test_lists_filter_live_holds_with_held_and_keep_active_as_the_default(client):
    answer(hold(client, 600), 201)
    answer(post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    answer(hold(client, 600, id=44, start="2026-12-01 11:00", end="2026-12-01 11:30"), 201)
    answer(client.delete("/appointments/44"), 200)
    assert listed(client) == [(43, "active")]
    assert listed(client, status="held") == [(42, "held")]
    assert listed(client, status="cancelled") == [(44, "cancelled")]
    assert listed(client, status="expired") == []
    assert listed(client, status="all") == [(42, "held"), (43, "active"), (44, "cancelled")]


def test_the_icalendar_feed_shows_a_live_hold_as_tentative(client):
    answer(hold(client, 600), 201)
    answer(post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    answer(hold(client, 600, id=44, start="2026-12-01 11:00", end="2026-12-01 11:30"), 201)
    answer(client.delete("/appointments/44"), 200)
    assert ics_statuses(client) == {
        "appointment-42@sesame": "TENTATIVE",
        "appointment-43@sesame": "CONFIRMED",
    }
    assert ics_statuses(client, "?status=held") == {"appointment-42@sesame": "TENTATIVE"}
    assert ics_statuses(client, "?status=all")["appointment-44@sesame"] == "CANCELLED"


# -- Expiry, with no process to record it ---------------------------------------------------------


def test_a_lapsed_hold_reads_expired_everywhere_before_anything_records_it(client):
    held = answer(hold(client, 1), 201)
    answer(post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    wait_past(held["expiresAt"])
    response = client.get("/appointments/42")
    expired = answer(response, 200)
    assert expired == {**held, "status": "expired", "version": 2}
    assert response.headers["ETag"] == '"2"'
    assert client.get("/appointments/42", headers={"If-None-Match": '"1"'}).status_code == 200
    first, second = history(client)
    assert first == {**first, "status": "held", "version": 1, "expiresAt": held["expiresAt"]}
    assert second == {
        **expired,
        "recordedAt": held["expiresAt"],
        "recordedBy": "expiry",
    }
    assert listed(client, status="held") == []
    assert listed(client, status="expired") == [(42, "expired")]
    assert listed(client, status="all") == [(42, "expired"), (43, "active")]
    assert listed(client) == [(43, "active")]
    assert ics_statuses(client, "?status=all") == {"appointment-43@sesame": "CONFIRMED"}
    assert ics_statuses(client, "?status=expired") == {}
    window = urlencode({"calendar": "room-1", "from": "2026-12-01 09:00", "to": "2026-12-01 10:00"})
    assert answer(client.get(f"/availability?{window}"), 200)["busy"] == []
    # Not recorded yet: the feed has only what was written. The next write in its way records
    # it, and nothing any read answered changes.
    feed = answer(client.get("/changes"), 200)["changes"]
    assert [(c["id"], c["version"]) for c in feed] == [(42, 1), (43, 1)]
    answer(post(client, id=44, start="2026-12-01 09:10", end="2026-12-01 09:20"), 201)
    response = client.get("/appointments/42", headers={"If-None-Match": '"2"'})
    assert response.status_code == 304
    assert answer(client.get("/appointments/42"), 200) == expired
    assert history(client) == [first, second]
    feed = answer(client.get("/changes"), 200)["changes"]
    assert [(c["id"], c["version"], c["status"]) for c in feed][2:] == [
        (42, 2, "expired"),
        (44, 1, "active"),
    ]
    assert {k: v for k, v in feed[2].items() if k in second} == second


def test_an_expired_hold_is_revived_only_if_its_range_is_still_free(client):
    free = answer(hold(client, 1), 201)
    taken = answer(hold(client, 1, id=50, start="2026-12-01 10:00", end="2026-12-01 10:30"), 201)
    wait_past(max(free["expiresAt"], taken["expiresAt"]))
    # 42's range is free: the holder's own late confirm records the expiry and revives it;
    # a copy from before the expiry no longer matches.
    stale_copy = {"If-Match": '"1"'}
    body = {**BODY, "updatedAt": LATER}
    refused = client.post("/appointments", json=body, headers=stale_copy)
    assert_error(refused, 412, "precondition_failed")
    confirmed = answer(client.post("/appointments", json=body, headers={"If-Match": '"2"'}), 200)
    assert (confirmed["status"], confirmed["version"]) == ("active", 3)
    assert "expiresAt" not in confirmed
    assert [(v["version"], v["status"], v["recordedBy"]) for v in history(client)] == [
        (1, "held", None),
        (2, "expired", "expiry"),
        (3, "active", None),
    ]
    # 50's range was taken by another id meanwhile: neither confirm nor hold gets it back.
    answer(post(client, id=51, start="2026-12-01 10:15", end="2026-12-01 10:45"), 201)
    late = {"id": 50, "start": "2026-12-01 10:00", "end": "2026-12-01 10:30", "updatedAt": LATER}
    assert assert_error(post(client, **late), 409, "time_range_unavailable")["conflicts"] == [51]
    assert assert_error(hold(client, 60, **late), 409, "time_range_unavailable")["conflicts"] == [
        51
    ]
    assert answer(client.get("/appointments/50"), 200)["status"] == "expired"
    # Held again where it is free: a new hold, with a new expiresAt.
    moved = {**late, "start": "2026-12-01 11:00", "end": "2026-12-01 11:30"}
    again = answer(hold(client, 60, **moved), 200)
    assert (again["status"], again["version"]) == ("held", 3)
    assert instant(again["expiresAt"]) > instant(taken["expiresAt"])


def test_releasing_an_expired_hold_changes_nothing(client):
    held = answer(hold(client, 1), 201)
    wait_past(held["expiresAt"])
    expired = answer(client.get("/appointments/42"), 200)
    assert answer(client.delete("/appointments/42"), 200) == expired
    assert [v["status"] for v in history(client)] == ["held", "expired"]
