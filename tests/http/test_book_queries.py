"""Time windows, the book at a past moment, availability and the iCalendar feed, over HTTP."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from tests.helpers import assert_error, post

LATER = "2026-11-26T09:00:00Z"


def book(client, **slots) -> None:
    """Book `id=(start, end)` pairs on 2026-12-01 in calendar room-1."""
    for key, (start, end) in slots.items():
        response = post(
            client, id=int(key[1:]), start=f"2026-12-01 {start}", end=f"2026-12-01 {end}"
        )
        assert response.status_code == 201, response.get_json()


def ids(client, query: str) -> list[int]:
    response = client.get(f"/appointments?{query}")
    assert response.status_code == 200, response.get_json()
    return [a["id"] for a in response.get_json()]


def test_window_lists_what_intersects_it_half_open(client):
    book(client, a1=("08:00", "09:00"), a2=("09:00", "10:00"), a3=("10:00", "11:00"))
    assert ids(client, "from=2026-12-01 09:00&to=2026-12-01 10:00") == [2]
    assert ids(client, "from=2026-12-01 08:59&to=2026-12-01 10:01") == [1, 2, 3]
    assert ids(client, "from=2026-12-01 09:30") == [2, 3]
    assert ids(client, "to=2026-12-01 09:00") == [1]
    assert ids(client, "from=2026-12-01 11:00&to=2026-12-02 00:00") == []


def test_window_combines_with_calendar_status_limit_offset(client):
    book(client, a1=("08:00", "09:00"), a2=("09:00", "10:00"), a3=("10:00", "11:00"))
    post(client, id=4, calendar="room-2", start="2026-12-01 09:00", end="2026-12-01 09:30")
    client.delete("/appointments/2")
    window = "from=2026-12-01 00:00&to=2026-12-02 00:00"
    assert ids(client, f"{window}&calendar=room-1") == [1, 3]
    assert ids(client, f"{window}&calendar=room-1&status=all") == [1, 2, 3]
    assert ids(client, f"{window}&status=all&limit=2&offset=1") == [2, 4]


@pytest.mark.parametrize(
    "query",
    ["from=2026-12-01 10:00&to=2026-12-01 10:00", "from=2026-12-01 10:00&to=2026-12-01 09:00"],
)
def test_empty_or_inverted_window_answers_400(client, query):
    body = assert_error(client.get(f"/appointments?{query}"), 400, "validation_failed")
    assert "to" in body["errors"]


def test_every_recorded_at_shows_that_version_as_at(client):
    post(client)
    post(client, end="2026-12-01 10:00", updatedAt=LATER)  # in the same millisecond, often
    client.delete("/appointments/42")
    versions = client.get("/appointments/42/history").get_json()
    assert len({v["recordedAt"] for v in versions}) == 3
    for version in versions:
        shown = client.get(f"/appointments?status=all&at={version['recordedAt']}").get_json()
        assert [(a["id"], a["version"], a["status"]) for a in shown] == [
            (42, version["version"], version["status"])
        ]
        expected = {k: v for k, v in version.items() if k not in ("recordedAt", "recordedBy")}
        assert shown[0] == expected


def test_at_shows_the_book_as_it_was(client):
    post(client)
    created = client.get("/appointments/42/history").get_json()[0]["recordedAt"]
    time.sleep(0.01)
    post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 11:00")
    client.delete("/appointments/42")
    just_before = datetime.fromisoformat(created) - timedelta(milliseconds=1)
    assert ids(client, f"at={just_before.isoformat().replace('+00:00', 'Z')}") == []
    assert ids(client, f"at={created}") == [42]
    assert ids(client, "at=2100-01-01 00:00") == [43]
    assert ids(client, "at=2100-01-01 00:00&status=all") == [42, 43]
    assert ids(client, f"at={created}&calendar=room-2") == []
    assert ids(client, "at=2100-01-01 00:00&from=2026-12-01 10:30") == [43]


def availability(client, query: str) -> dict:
    response = client.get(f"/availability?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_availability_tiles_the_window_with_busy_and_free(client):
    book(client, a1=("08:00", "09:00"), a2=("09:00", "10:00"), a3=("11:00", "12:30"))
    post(client, id=9, calendar="room-2", start="2026-12-01 10:00", end="2026-12-01 11:00")
    post(client, id=8, start="2026-12-01 10:15", end="2026-12-01 10:30")
    client.delete("/appointments/8")
    answer = availability(client, "calendar=room-1&from=2026-12-01 08:30&to=2026-12-01 12:00")
    assert answer == {
        "calendar": "room-1",
        "from": "2026-12-01T08:30:00.000Z",
        "to": "2026-12-01T12:00:00.000Z",
        "busy": [
            {"id": 1, "start": "2026-12-01T08:30:00.000Z", "end": "2026-12-01T09:00:00.000Z"},
            {"id": 2, "start": "2026-12-01T09:00:00.000Z", "end": "2026-12-01T10:00:00.000Z"},
            {"id": 3, "start": "2026-12-01T11:00:00.000Z", "end": "2026-12-01T12:00:00.000Z"},
        ],
        "free": [{"start": "2026-12-01T10:00:00.000Z", "end": "2026-12-01T11:00:00.000Z"}],
        "closed": [],
    }


def test_availability_min_duration_drops_short_gaps(client):
    book(client, a1=("09:00", "10:00"), a2=("10:20", "11:00"))
    window = "calendar=room-1&from=2026-12-01 08:00&to=2026-12-01 12:00"
    free = availability(client, window)["free"]
    assert [(f["start"][11:16], f["end"][11:16]) for f in free] == [
        ("08:00", "09:00"),
        ("10:00", "10:20"),
        ("11:00", "12:00"),
    ]
    free = availability(client, f"{window}&minDuration=30")["free"]
    assert [(f["start"][11:16], f["end"][11:16]) for f in free] == [
        ("08:00", "09:00"),
        ("11:00", "12:00"),
    ]


def test_availability_of_an_empty_calendar_is_all_free(client):
    answer = availability(client, "from=2026-12-01 00:00&to=2026-12-02 00:00")
    assert answer["calendar"] == "default"
    assert answer["busy"] == []
    assert answer["free"] == [
        {"start": "2026-12-01T00:00:00.000Z", "end": "2026-12-02T00:00:00.000Z"}
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=2026-12-02 00:00", "from"),
        ("from=2026-12-01 00:00", "to"),
        ("from=2026-12-02 00:00&to=2026-12-01 00:00", "to"),
        ("from=2026-01-01 00:00&to=2027-06-01 00:00", "to"),
        ("from=2026-12-01 00:00&to=2026-12-02 00:00&minDuration=-5", "minDuration"),
        ("from=2026-12-01 00:00&to=2026-12-02 00:00&calendar=a b", "calendar"),
    ],
)
def test_availability_refuses_bad_windows(client, query, field):
    body = assert_error(client.get(f"/availability?{query}"), 400, "validation_failed")
    assert field in body["errors"]


def test_ics_feed_parses_and_carries_one_event_per_appointment(client):
    book(client, a1=("08:00", "09:00"), a2=("09:00", "10:00"))
    post(client, id=2, start="2026-12-01 09:00", end="2026-12-01 10:00", updatedAt=LATER)
    response = client.get("/appointments.ics?calendar=room-1")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.get_data())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"appointment-1@sesame", "appointment-2@sesame"}
    second = events["appointment-2@sesame"]
    assert second.decoded("DTSTART") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert second.decoded("DTEND") == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert int(second["SEQUENCE"]) == 2
    assert "DTSTAMP" in second
    assert b"DTSTART:20261201T090000Z" in response.get_data()


def test_ics_feed_takes_the_list_filters(client):
    book(client, a1=("08:00", "09:00"), a2=("09:00", "10:00"))
    client.delete("/appointments/1")
    active = Calendar.from_ical(client.get("/appointments.ics").get_data())
    assert [str(e["UID"]) for e in active.walk("VEVENT")] == ["appointment-2@sesame"]
    everything = Calendar.from_ical(client.get("/appointments.ics?status=all").get_data())
    assert [str(e["STATUS"]) for e in everything.walk("VEVENT")] == ["CANCELLED", "CONFIRMED"]
    assert_error(client.get("/appointments.ics?limit=0"), 400, "validation_failed")


def next_link(response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def test_full_pages_link_the_next_by_keyset_cursor_until_the_end(client):
    for n in range(1, 8):
        post(client, id=n, calendar=f"c{n}", start="2026-12-01 09:00", end="2026-12-01 10:00")
    post(client, id=20, start="2026-12-01 08:00", end="2026-12-01 08:30")
    seen, url = [], "/appointments?limit=3&status=active"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += [a["id"] for a in response.get_json()]
        url = next_link(response)
        if url:
            assert "limit=3" in url and "status=active" in url and "cursor=" in url
    assert seen == [20, 1, 2, 3, 4, 5, 6, 7]


def test_cursor_pages_combine_with_filters_and_at(client):
    for n in range(1, 6):
        post(
            client, id=n, calendar="room-1", start=f"2026-12-01 0{n}:00", end=f"2026-12-01 0{n}:30"
        )
    first = client.get("/appointments?calendar=room-1&from=2026-12-01 02:00&limit=2")
    assert [a["id"] for a in first.get_json()] == [2, 3]
    rest = client.get(next_link(first))
    assert [a["id"] for a in rest.get_json()] == [4, 5]
    at = "at=2100-01-01 00:00"
    first = client.get(f"/appointments?{at}&limit=4")
    assert [a["id"] for a in client.get(next_link(first)).get_json()] == [5]


@pytest.mark.parametrize("query", ["cursor=abc", "cursor=MS4y&offset=3", "cursor=" + "A" * 70])
def test_bad_or_mixed_cursors_get_400(client, query):
    assert_error(client.get(f"/appointments?{query}"), 400, "validation_failed")


def test_a_short_page_has_no_next_link(client):
    post(client)
    assert "Link" not in client.get("/appointments?limit=2").headers
