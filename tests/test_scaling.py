"""Past one machine, on real engines (tests/infra.py): PgBouncer in transaction mode in front of
the primary, a streaming replica for the reads that may be a moment old, and two app hosts
behind HAProxy, each as shipped in deploy/. The primary is an embedded PostgreSQL of this
module's own, whatever TEST_DATABASE_URL says: a replica is made from its data directory.

The concurrency suite and a handful of API tests run unchanged through PgBouncer with
`default_pool_size = 4` under 4 workers x 8 threads: 32 threads on 4 server connections.
"""

import ipaddress
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
import test_api
import test_concurrency
from conftest import LiveClient, LiveServer, gunicorn
from infra import Primary, Replica, haproxy, pgbouncer, primary, replica
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from test_operations import metric

from config import ConfigError, settings_from_env
from replicas import CHECK_INTERVAL_S
from tools import embedded_db
from tools.integrity import find_violations

pytestmark = pytest.mark.live
BODY = test_concurrency.BODY
LAG_S = 1  # REPLICA_MAX_LAG_S for these tests


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Primary, Replica]]:
    with primary() as server, replica(server) as standby:
        yield server, standby


@pytest.fixture(scope="module")
def bouncer(cluster) -> Iterator[str]:
    with pgbouncer(cluster[0], pool_size=4) as url:
        yield url


def app_host(cluster, bouncer: str, **settings: str):
    """An app host as deployed past one machine: DATABASE_URL is PgBouncer, migrations go to
    the primary itself; 4 workers x 8 threads sharing PgBouncer's 4 server connections."""
    return gunicorn(
        {"DATABASE_URL": bouncer, "MIGRATIONS_DATABASE_URL": cluster[0].url},
        **{"WEB_CONCURRENCY": "4", "GUNICORN_THREADS": "8", **settings},
    )


@pytest.fixture(scope="module")
def pooled(cluster, bouncer) -> Iterator[LiveServer]:
    with app_host(cluster, bouncer) as server:
        yield server


@pytest.fixture
def book(cluster) -> Iterator[Connection]:
    """An empty book on the primary, and a direct connection to it for the integrity audit."""
    engine = create_engine(cluster[0].url)
    try:
        with engine.connect() as connection:
            connection.execute(text("TRUNCATE appointments, appointment_versions"))
            connection.commit()
            yield connection
    finally:
        engine.dispose()


# -- Transaction pooling -------------------------------------------------------------------


def test_hundred_requests_for_one_slot_give_one_booking_through_pgbouncer(pooled, book):
    test_concurrency.test_hundred_requests_for_one_slot_give_exactly_one_booking(pooled.base, book)


def test_random_mixed_writes_leave_no_overlap_through_pgbouncer(pooled, book):
    test_concurrency.test_random_mixed_writes_leave_no_overlap_and_contiguous_history(
        pooled.base, book
    )


def test_cancels_racing_creates_never_overlap_through_pgbouncer(pooled, book):
    test_concurrency.test_cancels_racing_creates_for_the_same_slots_never_overlap(pooled.base, book)


@pytest.mark.parametrize(
    "api_test",
    [
        test_api.test_create_answers_201_with_location_and_the_appointment,
        test_api.test_update_with_newer_updated_at_answers_200_and_next_version,
        test_api.test_retried_request_answers_200_and_changes_nothing,
        test_api.test_overlap_answers_409_with_the_ids_in_the_way,
        test_api.test_list_is_ordered_by_start_then_id_with_limit_offset_and_calendar,
        test_api.test_history_lists_every_version_oldest_first_with_recorded_at,
        test_api.test_get_unknown_appointment_answers_404,
    ],
    ids=lambda test: test.__name__.removeprefix("test_"),
)
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
                body = test_api.assert_error(response, 503, "database_unavailable")
                assert int(response.headers["Retry-After"]) >= 1
                assert "query_wait_timeout" not in body["message"]
        assert client.get("/appointments").status_code == 200


# -- Read replicas -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicated(cluster, bouncer) -> Iterator[LiveServer]:
    """An app host that reads from the replica, lagging allowed up to LAG_S seconds."""
    with app_host(
        cluster, bouncer, DATABASE_REPLICA_URL=cluster[1].url, REPLICA_MAX_LAG_S=str(LAG_S)
    ) as server:
        eventually(lambda: replica_state(server) == "ok")
        yield server


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def replica_state(server: LiveServer) -> str:
    ready = requests.get(f"{server.base}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    return ready.json()["replicas"]["replica-1"]


def served_by_replica(standby: Replica) -> int:
    """Transactions that read a table on the replica, from its own statistics.

    A backend reports its counts at most once a second, and an idle one only 10 s later, but
    at once when it exits: so the app's connections to the replica are ended first (waiting up
    to 5 s for each), and its pool connects anew.
    """
    standby.execute(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
        " WHERE application_name = 'sesame'",
        database="postgres",
    )
    row = standby.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = 'scaling'", database="postgres"
    )
    return int(row[0])


def post(base: str, n: int, calendar: str = "r", minute: int = 0) -> requests.Response:
    body = {
        **BODY,
        "id": n,
        "calendar": f"{calendar}{n}",
        "updatedAt": f"2026-11-26T08:{minute:02d}:00Z",
    }
    return requests.post(f"{base}/appointments", json=body, timeout=10)


def listed_ids(base: str) -> set[int]:
    response = requests.get(f"{base}/appointments?limit=1000", timeout=10)
    assert response.status_code == 200, response.text
    return {a["id"] for a in response.json()}


def test_stale_ok_reads_are_served_by_the_replica_and_by_id_reads_see_their_write(
    cluster, replicated, book
):
    standby = cluster[1]
    base = replicated.base
    before, counted_before = served_by_replica(standby), metric(base, "sesame_reads_total")
    for n in range(1, 21):
        assert post(base, n).status_code == 201
        # Straight after the write, by id and its history: the primary, never a moment old.
        assert requests.get(f"{base}/appointments/{n}", timeout=10).json()["version"] == 1
        assert post(base, n, minute=1).status_code == 200
        assert requests.get(f"{base}/appointments/{n}", timeout=10).json()["version"] == 2
        assert len(requests.get(f"{base}/appointments/{n}/history", timeout=10).json()) == 2
    reads = [
        "/appointments",
        "/appointments?calendar=r1&status=all",
        "/appointments?at=2030-01-01T00:00:00Z",
        "/appointments.ics",
        "/availability?calendar=r1&from=2026-12-01 08:00&to=2026-12-01 18:00",
    ] * 6
    for path in reads:
        assert requests.get(base + path, timeout=10).status_code == 200

    assert served_by_replica(standby) - before >= len(reads)
    assert metric(base, "sesame_reads_total", target="replica") >= len(reads)
    assert metric(base, "sesame_reads_total") - counted_before >= len(reads)
    eventually(lambda: listed_ids(base) == set(range(1, 21)), seconds=LAG_S + 2)


def test_a_stopped_replica_is_skipped_and_used_again_once_back(cluster, replicated, book):
    standby, base = cluster[1], replicated.base
    standby.stop()
    try:
        # Never a 5xx, and always fresh: reads fall back to the primary at once.
        for n in range(1, 11):
            assert post(base, n).status_code == 201
            assert n in listed_ids(base)
        eventually(lambda: replica_state(replicated) == "down", seconds=3)
    finally:
        standby.start()
    eventually(lambda: replica_state(replicated) == "ok")
    time.sleep(CHECK_INTERVAL_S + 0.1)  # every worker has measured it since
    before = served_by_replica(standby)
    for _ in range(12):
        assert listed_ids(base) == set(range(1, 11))
    assert served_by_replica(standby) - before >= 12
    assert not any("Traceback" in line for line in replicated.log_lines())


def test_a_paused_replica_is_reported_lagging_and_reads_stay_fresh(cluster, replicated, book):
    standby, base = cluster[1], replicated.base
    eventually(lambda: replica_state(replicated) == "ok")
    # Lag is by WAL position: a primary with nothing to write, however long, is not lag.
    time.sleep(LAG_S + CHECK_INTERVAL_S)
    assert replica_state(replicated) == "ok"
    standby.execute("SELECT pg_wal_replay_pause()")
    try:
        assert post(base, 1).status_code == 201
        eventually(lambda: replica_state(replicated) == "lagging", seconds=LAG_S + 3)
        time.sleep(CHECK_INTERVAL_S + 0.1)  # every worker has measured it since
        for n in range(2, 12):
            assert post(base, n).status_code == 201
            assert listed_ids(base) == set(range(1, n + 1))
    finally:
        standby.execute("SELECT pg_wal_replay_resume()")
    eventually(lambda: replica_state(replicated) == "ok")


def test_replica_settings_are_validated(environment):
    for name, value in [
        ("DATABASE_REPLICA_URL", "mysql://x@y/z"),
        ("DATABASE_REPLICA_URL", "postgresql://a@b/c, not a url"),
        ("REPLICA_MAX_LAG_S", "soon"),
        ("REPLICA_MAX_LAG_S", "0"),
    ]:
        with pytest.raises(ConfigError) as caught:
            settings_from_env({**environment, name: value})
        assert name in str(caught.value) and "\n" not in str(caught.value)
    two = settings_from_env(
        {**environment, "DATABASE_REPLICA_URL": "postgresql://a@r1/db, postgres://a@r2/db"}
    )
    assert two["REPLICA_URLS"] == ["postgresql+psycopg://a@r1/db", "postgresql+psycopg://a@r2/db"]
    assert two["REPLICA_MAX_LAG_S"] == 5


# -- Several app hosts -------------------------------------------------------------------------


class BoundAdapter(HTTPAdapter):
    """Connections from one source address: loopback is a whole /8, so one test is many
    clients, each with an address of its own."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", BoundAdapter(address))
    return session


@pytest.fixture(scope="module")
def redis_url() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except Exception:  # any failure means: no Redis here
        return None
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def balanced(cluster, bouncer, redis_url) -> Iterator[tuple[str, list[LiveServer]]]:
    """Two app hosts on one database behind HAProxy, which they trust for X-Forwarded-For;
    3 requests a minute per client address, counted in Redis across both hosts."""
    settings = {
        "TRUSTED_PROXIES": "127.0.0.1",
        "RATE_LIMIT": "3 per minute",
        "RATE_LIMIT_STORAGE_URI": redis_url or "memory://",
        "WEB_CONCURRENCY": "2",
    }
    with (
        app_host(cluster, bouncer, **settings) as first,
        app_host(cluster, bouncer, **settings) as second,
        haproxy(first.base, second.base) as base,
    ):
        yield base, [first, second]


def fresh_addresses(count: int) -> list[str]:
    """Loopback addresses no earlier run used within the rate limit's minute."""
    block = ipaddress.ip_network(f"127.{random.randrange(1, 255)}.{random.randrange(256)}.0/24")
    return [str(address) for address in list(block.hosts())[:count]]


def test_hundred_clients_race_for_one_slot_across_two_hosts_behind_haproxy(balanced, book):
    base, hosts = balanced
    before = [metric(h.base, "flask_http_request_total", method="POST") for h in hosts]
    clients = [client_at(address) for address in fresh_addresses(100)]
    barrier = threading.Barrier(len(clients))

    def send(n: int) -> requests.Response:
        barrier.wait()
        body = {**BODY, "id": n + 1, "calendar": "room-1"}
        return clients[n].post(f"{base}/appointments", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        responses = list(pool.map(send, range(len(clients))))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 99}
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert [a["id"] for a in requests.get(f"{base}/appointments", timeout=10).json()] == [winner]
    assert find_violations(book) == {}
    served = [
        metric(h.base, "flask_http_request_total", method="POST") - b
        for h, b in zip(hosts, before, strict=True)
    ]
    assert sum(served) == 100 and min(served) > 0, served


def test_behind_haproxy_rate_limits_tell_clients_apart_by_forwarded_for(balanced, redis_url):
    if redis_url is None:
        pytest.skip("no Redis answers on 127.0.0.1:6379: a limit across two hosts needs one")
    base, _ = balanced
    first, second = (client_at(address) for address in fresh_addresses(2))
    statuses = [first.get(f"{base}/appointments", timeout=10).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another client behind the same proxy has a budget of its own...
    assert second.get(f"{base}/appointments", timeout=10).status_code == 200
    # ...and cannot take a fresh one by sending X-Forwarded-For itself: HAProxy adds the
    # address it saw, and the hosts believe only what their trusted proxy added.
    spoofed = [
        second.get(
            f"{base}/appointments", headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10
        ).status_code
        for n in range(3)
    ]
    assert spoofed == [200, 200, 429]
