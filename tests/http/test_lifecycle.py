"""Cancellation, revival and conditional writes, through HTTP on real PostgreSQL."""

import pytest

from tests.helpers import BODY, STORED, assert_error, post

LATER = "2026-11-26T09:00:00Z"


def history(client, id=42) -> list[dict]:
    return client.get(f"/appointments/{id}/history").get_json()


def test_cancel_answers_the_cancelled_appointment_as_a_new_version(client):
    post(client)
    response = client.delete("/appointments/42")
    assert response.status_code == 200
    assert response.get_json() == {**STORED, "status": "cancelled", "version": 2}
    assert [(v["version"], v["status"]) for v in history(client)] == [
        (1, "active"),
        (2, "cancelled"),
    ]
    assert client.get("/appointments/42").get_json()["status"] == "cancelled"


def test_cancel_frees_the_slot_at_once(client):
    post(client)
    client.delete("/appointments/42")
    assert post(client, id=43).status_code == 201


def test_cancelling_twice_changes_nothing(client):
    post(client)
    client.delete("/appointments/42")
    again = client.delete("/appointments/42")
    assert again.status_code == 200
    assert again.get_json()["version"] == 2
    assert len(history(client)) == 2


def test_cancel_unknown_id_answers_404(client):
    assert_error(client.delete("/appointments/99"), 404, "not_found")


def test_newer_post_revives_a_cancelled_appointment(client):
    post(client)
    client.delete("/appointments/42")
    revived = post(client, updatedAt=LATER)
    assert revived.status_code == 200
    assert revived.get_json() == {**STORED, "updatedAt": "2026-11-26T09:00:00.000Z", "version": 3}
    assert [v["status"] for v in history(client)] == ["active", "cancelled", "active"]


def test_revival_is_refused_when_the_slot_was_taken(client):
    post(client)
    client.delete("/appointments/42")
    post(client, id=43)
    body = assert_error(post(client, updatedAt=LATER), 409, "time_range_unavailable")
    assert body["conflicts"] == [43]
    assert client.get("/appointments/42").get_json()["status"] == "cancelled"


@pytest.mark.parametrize("updated_at", ["2026-11-26T08:00:00Z", "2026-11-26T07:00:00Z"])
def test_post_with_equal_or_older_updated_at_does_not_revive(client, updated_at):
    post(client)
    client.delete("/appointments/42")
    assert_error(post(client, updatedAt=updated_at), 409, "stale_update")
    assert len(history(client)) == 2


def test_list_shows_active_by_default_and_filters_by_status(client):
    post(client)
    post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 11:00")
    client.delete("/appointments/42")

    def ids(query=""):
        return [a["id"] for a in client.get(f"/appointments{query}").get_json()]

    assert ids() == [43]
    assert ids("?status=active") == [43]
    assert ids("?status=cancelled") == [42]
    assert ids("?status=all") == [42, 43]
    assert_error(client.get("/appointments?status=deleted"), 400, "validation_failed")


def test_get_sends_an_etag_and_honours_if_none_match(client):
    post(client)
    response = client.get("/appointments/42")
    assert response.headers["ETag"] == '"1"'
    cached = client.get("/appointments/42", headers={"If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert client.get("/appointments/42", headers={"If-None-Match": '"0"'}).status_code == 200


def test_writes_answer_the_new_etag(client):
    assert post(client).headers["ETag"] == '"1"'
    assert post(client, updatedAt=LATER).headers["ETag"] == '"2"'
    assert client.delete("/appointments/42").headers["ETag"] == '"3"'


@pytest.mark.parametrize("if_match", ['"2"', '"7", "0"', 'W/"1"', "garbage"])
def test_post_with_if_match_that_does_not_hold_answers_412_and_changes_nothing(client, if_match):
    post(client)
    response = client.post(
        "/appointments", json={**BODY, "updatedAt": LATER}, headers={"If-Match": if_match}
    )
    assert_error(response, 412, "precondition_failed")
    assert client.get("/appointments/42").get_json() == STORED


@pytest.mark.parametrize("if_match", ['"1"', '"0", "1"', "*"])
def test_post_with_if_match_that_holds_proceeds(client, if_match):
    post(client)
    response = client.post(
        "/appointments", json={**BODY, "updatedAt": LATER}, headers={"If-Match": if_match}
    )
    assert response.status_code == 200
    assert response.get_json()["version"] == 2


def test_if_match_on_an_unknown_id_answers_412(client):
    response = client.post("/appointments", json=BODY, headers={"If-Match": "*"})
    assert_error(response, 412, "precondition_failed")
    assert client.get("/appointments/42").status_code == 404


def test_if_none_match_star_creates_only(client):
    created = client.post("/appointments", json=BODY, headers={"If-None-Match": "*"})
    assert created.status_code == 201
    again = client.post("/appointments", json=BODY, headers={"If-None-Match": "*"})
    assert_error(again, 412, "precondition_failed")
    assert len(history(client)) == 1


def test_cancel_with_stale_if_match_answers_412(client):
    post(client)
    post(client, updatedAt=LATER)
    assert_error(
        client.delete("/appointments/42", headers={"If-Match": '"1"'}), 412, "precondition_failed"
    )
    assert client.delete("/appointments/42", headers={"If-Match": '"2"'}).status_code == 200


@pytest.mark.parametrize("if_match", ['""', '"", "1"', "W/", ",,,"])
def test_odd_if_match_values_are_read_as_no_match_not_as_errors(client, if_match):
    post(client)
    response = client.delete("/appointments/42", headers={"If-Match": if_match})
    expected = 200 if if_match == '"", "1"' else 412
    assert response.status_code == expected
    assert client.delete("/appointments/5000", headers={"If-Match": if_match}).status_code == 404
