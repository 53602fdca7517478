"""Keys that open only their own calendars, through a 4-worker gunicorn: two write keys on
disjoint calendars and a read key on the first one's. Every operation is tried with the other
key's ids, calendars, cursors and times; no answer tells anything of the other's appointments
(an id of the other's answers exactly as an unknown id, headers included), and the book is
unchanged by every refusal."""

import json
import secrets
from collections.abc import Iterator
from typing import Any, NamedTuple

import psycopg
import pytest
import requests

from tests.helpers import new_key
from tools import embedded_db
from tools.live import LiveServer, appointment, gunicorn, wait_until

pytestmark = pytest.mark.live
A_CALENDARS, B_CALENDARS = "clinic-a-*", "clinic-b-*,clinic_b"
UNKNOWN = 999
# Headers that differ between any two requests, whatever they ask.
PER_REQUEST = {"date", "x-request-id"}


class Keyed(NamedTuple):
    server: LiveServer
    url: str
    keys: dict[str, str]  # a, b (write), r (read on a's calendars)


@pytest.fixture(scope="module")
def keyed(keys_database, environment) -> Iterator[Keyed]:
    url = keys_database
    keys = {
        "a": new_key(url, "clinic-a", "write", A_CALENDARS),
        "b": new_key(url, "clinic-b", "write", B_CALENDARS),
        "r": new_key(url, "clinic-a-desk", "read", A_CALENDARS),
    }
    # LOG_LEVEL info: the access line, which names the key, is an INFO line.
    settings = {"DATABASE_URL": url, "KEYS_REFRESH_S": "1", "LOG_LEVEL": "info"}
    with gunicorn({**environment, **settings}) as server:
        yield Keyed(server, url, keys)


class Book(NamedTuple):
    keyed: Keyed

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.keyed.keys[who]}", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.keyed.server.base + path, headers=headers, timeout=10, **kwargs
        )

    def rows(self) -> tuple[list, list]:
        """Everything stored, to compare before and after."""
        with psycopg.connect(embedded_db.libpq_url(self.keyed.url)) as conn:
            current = conn.execute("SELECT * FROM appointments ORDER BY id").fetchall()
            versions = conn.execute(
                "SELECT * FROM appointment_versions ORDER BY appointment_id, version"
            ).fetchall()
        return current, versions


@pytest.fixture
def book(keyed) -> Book:
    """A's appointments 1 and 2 (2 updated once) and B's 11 and 12 at the same times."""
    with psycopg.connect(embedded_db.libpq_url(keyed.url)) as conn:
        conn.execute("TRUNCATE appointments, appointment_versions, calendars")
    book = Book(keyed)
    for who, ids, calendar in (("a", (1, 2), "clinic-a-1"), ("b", (11, 12), "clinic-b-1")):
        for number, id in enumerate(ids, start=1):
            body = appointment(number, calendar=calendar) | {"id": id}
            assert book.call(who, "POST", "/appointments", json=body).status_code == 201
    moved = appointment(5, calendar="clinic-a-2", updated_at="2026-01-02T00:00:00Z") | {"id": 2}
    assert book.call("a", "POST", "/appointments", json=moved).status_code == 200
    return book


def shown(response: requests.Response, id: int | None = None) -> tuple:
    """What a client sees, minus what differs between any two requests (and the id it asked
    for, where problem details repeat the path)."""
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("timestamp", None)
        if id is not None and "instance" in body:
            body["instance"] = body["instance"].replace(str(id), "{id}")
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_REQUEST}
    return response.status_code, body, headers


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/appointments/{id}", {}),
        ("GET", "/appointments/{id}", {"If-None-Match": '"1"'}),
        ("GET", "/appointments/{id}/history", {}),
        ("DELETE", "/appointments/{id}", {}),
        ("DELETE", "/appointments/{id}", {"If-Match": '"1"'}),
        ("DELETE", "/appointments/{id}", {"If-Match": "*"}),
        ("GET", "/appointments/{id}", {"Accept": "application/problem+json"}),
    ],
)
def test_another_keys_id_answers_exactly_as_an_unknown_id(book, method, path, headers):
    before = book.rows()
    for who, other in (("b", 1), ("a", 11), ("r", 11)):
        if who == "r" and method == "DELETE":
            continue  # a read key's DELETE is refused before any id is looked at
        unknown = int("9" * len(str(other)))  # as long, so Content-Length can match too
        theirs = book.call(who, method, path.format(id=other), headers=headers)
        missing = book.call(who, method, path.format(id=unknown), headers=headers)
        assert theirs.status_code == 404
        assert shown(theirs, other) == shown(missing, unknown)
    assert book.rows() == before


def test_writes_to_or_from_another_keys_calendar_are_forbidden_and_change_nothing(book):
    before = book.rows()
    attempts = [
        # b creates in a's calendar, with a new id and with a's id
        appointment(30, calendar="clinic-a-1") | {"id": 30},
        appointment(1, calendar="clinic-a-1", updated_at="2026-02-01T00:00:00Z") | {"id": 1},
        # b moves a's appointment into its own calendar
        appointment(1, calendar="clinic-b-1", updated_at="2026-02-01T00:00:00Z") | {"id": 1},
        # b moves its own appointment into a's calendar
        appointment(40, calendar="clinic-a-1", updated_at="2026-02-01T00:00:00Z") | {"id": 11},
        # b replays a's stored body exactly (a retry would answer 200 with a's data)
        appointment(1, calendar="clinic-a-1") | {"id": 1},
    ]
    answers = []
    for body in attempts:
        for headers in ({}, {"If-None-Match": "*"}, {"If-Match": '"1"'}):
            response = book.call("b", "POST", "/appointments", json=body, headers=headers)
            assert response.status_code == 403, response.text
            answers.append(shown(response))
    # One answer for every refusal: nothing tells which one, or what is stored.
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][1]["error"] == "forbidden"
    assert book.rows() == before


def test_a_read_key_cannot_write_at_all(book):
    before = book.rows()
    body = appointment(30, calendar="clinic-a-1") | {"id": 30}
    for method, path, kwargs in (
        ("POST", "/appointments", {"json": body}),
        ("DELETE", "/appointments/1", {}),
        ("DELETE", f"/appointments/{UNKNOWN}", {}),
    ):
        response = book.call("r", method, path, **kwargs)
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert book.call("r", "GET", "/appointments/1").status_code == 200
    assert book.rows() == before


@pytest.mark.parametrize(
    "path",
    [
        "/appointments?calendar=clinic-a-1",
        "/appointments?calendar=clinic-a-1&status=all",
        "/appointments.ics?calendar=clinic-a-1",
        "/availability?calendar=clinic-a-1&from=2030-01-01T00:00:00Z&to=2030-01-03T00:00:00Z",
    ],
)
def test_naming_another_keys_calendar_is_forbidden(book, path):
    refused = book.call("b", "GET", path)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    # The same answer whether or not that calendar has appointments.
    empty = book.call("b", "GET", path.replace("clinic-a-1", "clinic-a-none"))
    assert shown(refused) == shown(empty)
    assert book.call("a", "GET", path).status_code == 200


def test_lists_and_the_calendar_feed_show_only_the_keys_calendars(book):
    for who, mine in (("a", {1, 2}), ("b", {11, 12}), ("r", {1, 2})):
        for query in ("", "?status=all", "?from=2030-01-01T00:00:00Z&to=2030-01-09T00:00:00Z"):
            listed = book.call(who, "GET", "/appointments" + query)
            assert {a["id"] for a in listed.json()} == mine, (who, query)
        # The book as it was, at a moment when every appointment existed.
        history = book.call("a", "GET", "/appointments/2/history").json()
        past = book.call(who, "GET", f"/appointments?at={history[-1]['recordedAt']}")
        assert {a["id"] for a in past.json()} == mine
        ics = book.call(who, "GET", "/appointments.ics").text
        uids = {
            line.split(":", 1)[1].split("@")[0]
            for line in ics.splitlines()
            if line.startswith("UID:")
        }
        assert {int(uid.removeprefix("appointment-")) for uid in uids} == mine, ics


def test_a_keyed_page_cursor_walks_only_its_calendars(book):
    first = book.call("b", "GET", "/appointments?limit=1")
    assert [a["id"] for a in first.json()] == [11]
    link = first.links["next"]["url"]
    following = book.call("b", "GET", link[link.index("/appointments") :])
    assert [a["id"] for a in following.json()] == [12]


def test_availability_at_the_others_times_shows_only_the_keys_own_busy_time(book):
    window = "from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z"
    mine = book.call("b", "GET", f"/availability?calendar=clinic-b-1&{window}").json()
    assert {busy["id"] for busy in mine["busy"]} == {11, 12}
    elsewhere = book.call("b", "GET", f"/availability?calendar=clinic-b-2&{window}").json()
    assert elsewhere["busy"] == []
    assert elsewhere["free"] == [
        {"start": "2030-01-01T00:00:00.000Z", "end": "2030-01-02T00:00:00.000Z"}
    ]


def feed(book: Book, who: str, since: str | None = None, limit: int = 100) -> tuple[list, str]:
    query = f"?limit={limit}" + (f"&since={since}" if since else "")
    page = book.call(who, "GET", "/changes" + query).json()
    return page["changes"], page["next"]


def test_the_change_feed_shows_each_key_its_calendars_gap_free(book):
    everything = {"a": {(1, 1), (2, 1), (2, 2)}, "b": {(11, 1), (12, 1)}}
    everything["r"] = everything["a"]
    for who, expected in everything.items():
        changes, _ = feed(book, who)
        assert {(c["id"], c["version"]) for c in changes} == expected
        # Paged one by one, the same versions in the same order: no gaps, no repeats.
        paged, since = [], None
        while True:
            page, since = feed(book, who, since, limit=1)
            if not page:
                break
            paged += page
        assert paged == changes
    written = feed(book, "a")[0]
    assert {c["recordedBy"] for c in written} == {"clinic-a"}


def test_another_keys_cursor_shows_only_the_keys_own_changes(book):
    _, a_next = feed(book, "a")
    # b, from a's position: nothing of a's; then b writes and sees exactly that.
    assert feed(book, "b", a_next)[0] == []
    body = appointment(20, calendar="clinic-b-2") | {"id": 13}
    assert book.call("b", "POST", "/appointments", json=body).status_code == 201
    after, _ = feed(book, "b", a_next)
    assert [(c["id"], c["calendar"]) for c in after] == [(13, "clinic-b-2")]
    # a, from its own position, sees nothing new (b's write is not a's).
    assert feed(book, "a", a_next)[0] == []


def test_history_shows_who_wrote_each_version(book):
    history = book.call("a", "GET", "/appointments/2/history").json()
    assert [(v["version"], v["recordedBy"]) for v in history] == [(1, "clinic-a"), (2, "clinic-a")]
    assert book.call("r", "GET", "/appointments/2/history").json() == history


def test_the_keys_name_reaches_the_logs_and_the_key_never(book):
    marker = "isolation-" + secrets.token_hex(4)
    book.call("a", "GET", "/appointments/1", headers={"X-Request-ID": marker})
    server = book.keyed.server
    wait_until(lambda: any(marker in line for line in server.log_lines()), what="the access line")
    line = json.loads(next(line for line in server.log_lines() if marker in line))
    assert line["key"] == "clinic-a"
    assert not any(key in server.log.read_text() for key in book.keyed.keys.values())


def test_the_generated_client_takes_the_key(book):
    from sesame_client import AuthenticatedClient
    from sesame_client.api.appointments import get_appointment, get_appointment_history
    from sesame_client.models import AppointmentOut

    base, key = book.keyed.server.base, book.keyed.keys["a"]
    with AuthenticatedClient(base_url=base, token=key) as client:
        mine = get_appointment.sync_detailed(client=client, appointment_id=1)
        assert mine.status_code == 200 and isinstance(mine.parsed, AppointmentOut)
        history = get_appointment_history.sync(client=client, appointment_id=2)
        assert [v.recorded_by for v in history] == ["clinic-a", "clinic-a"]  # type: ignore[union-attr]
        assert get_appointment.sync_detailed(client=client, appointment_id=11).status_code == 404
    with AuthenticatedClient(base_url=base, token="ses_wrong") as client:
        assert get_appointment.sync_detailed(client=client, appointment_id=1).status_code == 401


def test_webhooks_are_managed_only_by_write_keys_within_their_calendars(book):
    with psycopg.connect(embedded_db.libpq_url(book.keyed.url)) as conn:
        conn.execute("TRUNCATE webhooks CASCADE")
    url = "https://crm.example.com/hooks"
    # A read key manages nothing; a write key nothing beyond its calendars.
    assert book.call("r", "GET", "/webhooks").status_code == 403
    assert book.call("r", "POST", "/webhooks", json={"url": url}).status_code == 403
    for calendars in (["*"], ["clinic-*"], ["clinic-b-1"], ["clinic-a-1", "clinic-b-1"]):
        refused = book.call("a", "POST", "/webhooks", json={"url": url, "calendars": calendars})
        assert refused.status_code == 403, calendars
        assert refused.json()["error"] == "forbidden"
    # Within them, it may: its own calendars, by name or by a narrower pattern.
    mine = book.call("a", "POST", "/webhooks", json={"url": url, "calendars": ["clinic-a-x*"]})
    assert mine.status_code == 201
    theirs = book.call("b", "POST", "/webhooks", json={"url": url, "calendars": ["clinic_b"]})
    assert theirs.status_code == 201
    # Another key's subscription is neither listed nor found: 404 as an unknown id.
    assert [w["id"] for w in book.call("a", "GET", "/webhooks").json()] == [mine.json()["id"]]
    other = theirs.json()["id"]
    for method, path in (
        ("GET", f"/webhooks/{other}"),
        ("DELETE", f"/webhooks/{other}"),
        ("POST", f"/webhooks/{other}/enable"),
        ("GET", f"/webhooks/{other}/deliveries"),
    ):
        hidden = book.call("a", method, path)
        unknown = book.call("a", method, path.replace(f"/{other}", f"/{UNKNOWN}"))
        assert (hidden.status_code, hidden.json()["error"]) == (404, "not_found"), path
        assert hidden.json()["message"] == unknown.json()["message"], path
    assert book.call("b", "GET", f"/webhooks/{other}").status_code == 200


def test_calendar_settings_and_slots_follow_the_keys_calendars(book):
    # A read key reads the calendars it opens; a write key also PUTs them; anything else is
    # 403 forbidden, as for appointments, and the calendar list shows only the key's own.
    hours = {"timeZone": "Europe/Paris", "hours": {"mon": [["09:00", "12:00"]]}}
    assert book.call("a", "PUT", "/calendars/clinic-a-1", json=hours).status_code == 200
    assert book.call("b", "PUT", "/calendars/clinic-b-1", json=hours).status_code == 200
    for who, method, path in (
        ("a", "PUT", "/calendars/clinic-b-1"),
        ("r", "PUT", "/calendars/clinic-a-1"),
        ("a", "GET", "/calendars/clinic-b-1"),
        ("r", "GET", "/calendars/clinic-b-1"),
    ):
        refused = book.call(who, method, path, json={} if method == "PUT" else None)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden"), (who, path)
    assert book.call("r", "GET", "/calendars/clinic-a-1").json()["version"] == 1
    assert book.call("b", "GET", "/calendars/clinic-b-1").json()["version"] == 1  # unchanged
    listed = book.call("r", "GET", "/calendars").json()
    assert [one["calendar"] for one in listed] == ["clinic-a-1"]
    window = "from=2030-03-04T00:00:00Z&to=2030-03-05T00:00:00Z&duration=30"
    assert book.call("r", "GET", f"/slots?calendar=clinic-a-1&{window}").status_code == 200
    for calendars in ("calendar=clinic-b-1", "calendar=clinic-a-1&calendar=clinic-b-1"):
        refused = book.call("r", "GET", f"/slots?{calendars}&{window}")
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
