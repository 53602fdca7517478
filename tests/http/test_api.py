"""Every status code of the contract, through Flask's test client and over HTTP to the live
gunicorn, on real PostgreSQL. The contract's core is written once in tests/scenarios.py, which
tests/infra also runs through PgBouncer."""

import pytest
from sqlalchemy import text

from tests import scenarios
from tests.helpers import STORED, assert_error, post


def test_create_answers_201_with_location_and_the_appointment(client):
    scenarios.create_answers_201_with_location_and_the_appointment(client)


def test_string_id_is_answered_as_an_integer(client):
    assert post(client, id="42").get_json()["id"] == 42
    assert client.get("/appointments/42").get_json() == STORED


def test_times_in_other_formats_and_offsets_are_answered_in_utc_milliseconds(client):
    response = post(client, start="2026-12-01T10:00:00.25+01:00", end="2026-12-01T09:30:00Z")
    assert response.get_json()["start"] == "2026-12-01T09:00:00.250Z"


def test_update_with_newer_updated_at_answers_200_and_next_version(client):
    scenarios.update_with_newer_updated_at_answers_200_and_next_version(client)


def test_retried_request_answers_200_and_changes_nothing(client):
    scenarios.retried_request_answers_200_and_changes_nothing(client)


@pytest.mark.parametrize(
    "late",
    [
        {"updatedAt": "2026-11-26T07:59:59Z"},
        {"updatedAt": "2026-11-26T07:00:00Z", "end": "2026-12-01 11:00"},
        {"end": "2026-12-01 11:00"},
    ],
)
def test_older_or_conflicting_update_is_stale_and_changes_nothing(client, late):
    post(client)
    assert_error(post(client, **late), 409, "stale_update")
    assert client.get("/appointments/42").get_json() == STORED


def test_overlap_answers_409_with_the_ids_in_the_way(client):
    scenarios.overlap_answers_409_with_the_ids_in_the_way(client)


def test_back_to_back_appointments_are_allowed(client):
    post(client)
    assert post(client, id=43, start="2026-12-01 09:30", end="2026-12-01 10:00").status_code == 201
    assert post(client, id=44, start="2026-12-01 08:30", end="2026-12-01 09:00").status_code == 201


def test_same_slot_in_another_calendar_is_allowed(client):
    post(client)
    assert post(client, id=43, calendar="room-2").status_code == 201


def test_moving_to_another_calendar_is_an_update(client):
    post(client)
    moved = post(client, calendar="room-2", updatedAt="2026-11-26T09:00:00Z")
    assert moved.status_code == 200
    assert moved.get_json()["calendar"] == "room-2"
    assert post(client, id=43).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": True}, "id"),
        ({"id": 4.5}, "id"),
        ({"id": "forty-two"}, "id"),
        ({"id": 0}, "id"),
        ({"id": -3}, "id"),
        ({"id": 2**63}, "id"),
        ({"start": "2024-02-30 10:00"}, "start"),
        ({"end": "2026-12-01 08:00"}, "end"),
        ({"calendar": "room 1"}, "calendar"),
        ({"updatedAt": None}, "updatedAt"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_input_answers_400_naming_the_field(client, changes, field):
    body = assert_error(post(client, **changes), 400, "validation_failed")
    assert field in body["errors"]
    assert client.get("/appointments").get_json() == []


def test_missing_fields_are_each_named(client):
    body = assert_error(client.post("/appointments", json={}), 400, "validation_failed")
    assert set(body["errors"]) == {"id", "start", "end", "createdAt", "updatedAt"}


@pytest.mark.parametrize("payload", ["{", '{"id": 1,}', "[" * 10_000, "\ufeff{}", "NaN}"])
def test_malformed_json_answers_400(client, payload):
    response = client.post("/appointments", data=payload, content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null", ""])
def test_json_that_is_not_an_object_answers_400(client, payload):
    response = client.post("/appointments", data=payload, content_type="application/json")
    assert_error(response, 400, "validation_failed")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_that_is_not_json_answers_415(client, content_type):
    response = client.post("/appointments", data="id=42", content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_oversized_body_answers_413(client):
    response = post(client, calendar="x" * 70_000)
    assert_error(response, 413, "payload_too_large")


def test_list_is_ordered_by_start_then_id_with_limit_offset_and_calendar(client):
    scenarios.list_is_ordered_by_start_then_id_with_limit_offset_and_calendar(client)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("offset=-1", "offset"),
        ("calendar=a%20b", "calendar"),
        ("colour=blue", "colour"),
    ],
)
def test_list_refuses_out_of_range_query_with_400(client, query, field):
    body = assert_error(client.get(f"/appointments?{query}"), 400, "validation_failed")
    assert field in body["errors"]


def test_get_unknown_appointment_answers_404(client):
    scenarios.get_unknown_appointment_answers_404(client)


@pytest.mark.parametrize(
    "path_id", ["abc", "1e3", "-1", "0", "12345678901234567890", "%00", "%D9%A4%D9%A2", "4.0"]
)
def test_odd_path_ids_answer_404_json(client, path_id):
    assert_error(client.get(f"/appointments/{path_id}"), 404, "not_found")


def test_history_lists_every_version_oldest_first_with_recorded_at(client):
    scenarios.history_lists_every_version_oldest_first_with_recorded_at(client)


def test_unknown_route_and_method_answer_json(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    response = client.delete("/health")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_lock_wait_past_lock_timeout_answers_503_with_retry_after(make_app, connection):
    client = make_app(DB_LOCK_TIMEOUT_MS="200").test_client()
    # Hold the id's advisory lock from another transaction, as a stuck writer would.
    connection.execute(text("SELECT pg_advisory_xact_lock(42)"))
    response = post(client)
    body = assert_error(response, 503, "database_timeout")
    assert response.headers["Retry-After"] == "1"
    assert "pg_" not in body["message"] and "advisory" not in body["message"]
    connection.rollback()
    assert post(client).status_code == 201


def test_health_answers_200(client):
    assert client.get("/health").get_json() == {"status": "ok"}


def test_api_responses_carry_nosniff_and_no_store(client):
    response = client.get("/appointments")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
