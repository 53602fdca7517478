"""A fixed corpus of hostile inputs that fuzzers rarely find, through both clients.

Each refused request gets a 4xx JSON error (valid ones succeed), and no refused request
changes the book: the current rows and the change feed are compared before and after.
"""

import pytest

from tests.helpers import BODY, post

BIG = "x" * 200_000
SQL = "'; DROP TABLE appointments; --"


def book_state(client) -> tuple:
    everything = client.get("/appointments?status=all&limit=1000").get_json()
    changes = client.get("/changes?limit=1000").get_json()["changes"]
    return everything, changes


def raw_post(client, payload: bytes | str, content_type: str | None = "application/json"):
    return client.post("/appointments", data=payload, content_type=content_type)


def field(name: str, value) -> str:
    """BODY with one field replaced, as JSON text (so NaN and friends can be written)."""
    import json

    fields = {k: json.dumps(v) for k, v in BODY.items()}
    fields[name] = value
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


HOSTILE_BODIES = {
    "id 2^63": field("id", str(2**63)),
    "id 10^30": field("id", "1" + "0" * 30),
    "id NaN": field("id", "NaN"),
    "id Infinity": field("id", "Infinity"),
    "id -Infinity": field("id", "-Infinity"),
    "id float": field("id", "42.0"),
    "id exponent": field("id", "4.2e1"),
    "id true": field("id", "true"),
    "id string 2^63": field("id", f'"{2**63}"'),
    "start NaN": field("start", "NaN"),
    "deep nesting": "[" * 10_000 + "]" * 10_000,
    "deep object nesting": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "200 KB string": field("calendar", f'"{BIG}"'),
    "NUL in calendar": field("calendar", '"room\\u0000"'),
    "raw NUL byte": b'{"id": 1\x00}',
    "invalid UTF-8": b'{"id": 42, "calendar": "\xff\xfe"}',
    "BOM": "\ufeff" + field("id", "42"),
    "top-level array": "[1, 2, 3]",
    "top-level string": '"appointment"',
    "top-level null": "null",
    "impossible day": field("start", '"2024-02-30 10:00"'),
    "hour 24": field("start", '"2026-12-01 24:00"'),
    "second 60": field("start", '"2026-12-01 09:00:60"'),
    "year 0": field("start", '"0000-12-01 09:00"'),
    "year 10000": field("end", '"10000-12-01 09:00"'),
    "SQL in calendar": field("calendar", f'"{SQL}"'),
    "SQL in time": field("start", f'"{SQL}"'),
    "SQL as id": field("id", f'"{SQL}"'),
    "unknown field": field("colour", '"red"'),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_get_a_4xx_json_error_and_change_nothing(client, name):
    post(client, id=1, calendar="before")
    before = book_state(client)
    response = raw_post(client, HOSTILE_BODIES[name])
    assert 400 <= response.status_code < 500, (name, response.status_code)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]
    assert book_state(client) == before


def test_duplicate_keys_take_the_last_value_like_every_json_parser_here(client):
    response = raw_post(client, field("id", "1").replace('"id": 1', '"id": 1, "id": 7'))
    assert response.status_code == 201
    assert response.get_json()["id"] == 7


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_wrong_or_missing_content_type_gets_415(client, content_type):
    before = book_state(client)
    response = raw_post(client, field("id", "42"), content_type=content_type)
    assert response.status_code == 415
    assert book_state(client) == before


@pytest.mark.parametrize(
    ("offset", "stored_start"),
    [("+14:00", "2026-11-30T19:00:00.000Z"), ("-12:00", "2026-12-01T21:00:00.000Z")],
)
def test_extreme_real_offsets_are_accepted(client, offset, stored_start):
    response = post(client, start=f"2026-12-01T09:00:00{offset}", end="2026-12-02T23:00:00Z")
    assert response.status_code == 201
    assert response.get_json()["start"] == stored_start


@pytest.mark.parametrize(
    "query",
    [
        f"calendar={SQL}",
        f"status={SQL}",
        f"from={SQL}",
        f"to={SQL}",
        f"at={SQL}",
        f"limit={SQL}",
        f"offset={SQL}",
        "limit=1e3",
        "offset=NaN",
        "limit=%00",
    ],
)
def test_sql_and_junk_in_list_parameters_get_400(client, query):
    post(client, id=1)
    before = book_state(client)
    response = client.get(f"/appointments?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "validation_failed"
    assert book_state(client) == before


@pytest.mark.parametrize(
    "path",
    [
        f"/changes?since={SQL}",
        f"/availability?from={SQL}&to=2026-12-02 00:00",
        f"/availability?calendar={SQL}&from=2026-12-01 00:00&to=2026-12-02 00:00",
        f"/appointments.ics?calendar={SQL}",
    ],
)
def test_sql_in_other_parameters_gets_400(client, path):
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "path_id",
    ["1e3", "%00", "-1", "12345678901234567890", "%D9%A4%D9%A2", "1;DROP", "1%27", "%F0%9F%98%80"],
)
def test_odd_path_ids_get_404_json_for_every_method(client, path_id):
    for method in ("get", "delete"):
        response = getattr(client, method)(f"/appointments/{path_id}")
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert client.get(f"/appointments/{path_id}/history").status_code == 404
