"""PgBouncer in transaction mode in front of the primary, as shipped in deploy/pgbouncer.ini.

The races and the contract's core (tests/scenarios.py) run unchanged through it with
`default_pool_size = 4` under 4 workers x 8 threads: 32 threads on 4 server connections.
"""

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests import scenarios
from tests.helpers import BODY, LiveClient, assert_error
from tests.infra.engines import app_host, pgbouncer
from tools import embedded_db
from tools.live import LiveServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def pooled(cluster, bouncer) -> Iterator[LiveServer]:
    with app_host(cluster[0], bouncer) as server:
        yield server


def test_hundred_requests_for_one_slot_give_one_booking_through_pgbouncer(pooled, book):
    scenarios.hundred_requests_for_one_slot_give_exactly_one_booking(pooled.base, book)


def test_random_mixed_writes_leave_no_overlap_through_pgbouncer(pooled, book):
    scenarios.random_mixed_writes_leave_no_overlap_and_contiguous_history(pooled.base, book)


def test_cancels_racing_creates_never_overlap_through_pgbouncer(pooled, book):
    scenarios.cancels_racing_creates_for_the_same_slots_never_overlap(pooled.base, book)


@pytest.mark.parametrize("api_test", scenarios.CORE, ids=lambda check: check.__name__)
def test_api_through_pgbouncer(pooled, book, api_test: Callable[[LiveClient], None]):
    api_test(LiveClient(pooled.base))


def test_waiting_past_pgbouncer_query_wait_timeout_answers_503(cluster, make_app):
    """One server connection, held by another client: the request queues in PgBouncer until its
    query_wait_timeout, and the answer is 503 with Retry-After, not a 500."""
    with pgbouncer(cluster[0], pool_size=1, query_wait_timeout=1) as tiny:
        client = make_app(DATABASE_URL=tiny).test_client()
        assert client.get("/appointments").status_code == 200
        with psycopg.connect(embedded_db.libpq_url(tiny)) as holder:
            holder.execute("SELECT 1")  # a transaction left open holds the one connection
            for request in [
                lambda: client.get("/appointments"),
                lambda: client.post("/appointments", json={**BODY, "id": 1}),
            ]:
                started = time.monotonic()
                response = request()
                assert time.monotonic() - started < 5
                body = assert_error(response, 503, "database_unavailable")
                assert int(response.headers["Retry-After"]) >= 1
                assert "query_wait_timeout" not in body["message"]
        assert client.get("/appointments").status_code == 200
