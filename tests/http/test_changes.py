"""The change feed: every version exactly once, in order, even when commits arrive late.
(A reader following concurrent writers through gunicorn: tests/live/test_concurrency.py.)"""

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import assert_error, post

LATER = "2026-11-26T09:00:00Z"


def follow(client, since: str | None = None, limit: int = 1000) -> tuple[list[dict], str]:
    query = f"?limit={limit}" + (f"&since={since}" if since else "")
    response = client.get(f"/changes{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["changes"], body["next"]


def test_feed_lists_every_version_once_then_only_what_is_new(client):
    post(client)
    post(client, updatedAt=LATER)
    post(client, updatedAt=LATER)  # a retry: no version, no change
    client.delete("/appointments/42")
    changes, cursor = follow(client)
    assert [(c["id"], c["version"], c["status"]) for c in changes] == [
        (42, 1, "active"),
        (42, 2, "active"),
        (42, 3, "cancelled"),
    ]
    assert all("recordedAt" in c for c in changes)
    assert follow(client, cursor) == ([], cursor)
    post(client, id=43, start="2026-12-01 10:00", end="2026-12-01 11:00")
    post(client, updatedAt="2026-11-26T10:00:00Z")  # revives 42
    changes, _ = follow(client, cursor)
    assert [(c["id"], c["version"]) for c in changes] == [(43, 1), (42, 4)]


def test_feed_pages_with_limit(client):
    for id in range(1, 6):
        post(client, id=id, calendar=f"c{id}")
    seen, cursor = [], None
    for _ in range(3):
        page, cursor = follow(client, cursor, limit=2)
        seen += [c["id"] for c in page]
    assert seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("since", ["garbage", "MTIz", "LTEuMg", "%00", "MS4y%0A"])
def test_feed_refuses_a_cursor_it_did_not_give(client, since):
    body = assert_error(client.get(f"/changes?since={since}"), 400, "validation_failed")
    assert "since" in body["errors"]


def test_a_transaction_that_commits_late_is_not_skipped(app, client, database):
    """The classic hole: a writer takes its sequence number, a later writer commits first."""
    post(client, id=1, calendar="a")
    _, cursor = follow(client)
    engine = create_engine(database)
    try:
        with engine.connect() as slow:
            # A write that has taken its txid and seq but not committed yet.
            slow.execute(
                text(
                    "INSERT INTO appointments (id, calendar, starts_at, ends_at, created_at,"
                    " updated_at, version, status) VALUES (2, 'b', '2026-12-01 09:00Z',"
                    " '2026-12-01 10:00Z', now(), now(), 1, 'active');"
                    " INSERT INTO appointment_versions (appointment_id, version, calendar,"
                    " starts_at, ends_at, created_at, updated_at, status, recorded_at)"
                    " SELECT id, version, calendar, starts_at, ends_at, created_at, updated_at,"
                    " status, now() FROM appointments WHERE id = 2"
                )
            )
            post(client, id=3, calendar="c")  # commits while the slow one is open
            held, held_cursor = follow(client, cursor)
            assert held == [] and held_cursor == cursor
            slow.commit()
        changes, _ = follow(client, cursor)
        assert [c["id"] for c in changes] == [2, 3]
    finally:
        engine.dispose()
