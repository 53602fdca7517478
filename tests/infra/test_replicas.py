"""Read replicas: a streaming replica (`pg_basebackup -R`) of the primary serves the reads that
may be a moment old; by-id reads and reads after a write stay on the primary; a replica that is
stopped or lagging is skipped, and used again once it is back.
"""

import time
from collections.abc import Iterator

import pytest
import requests

from replicas import CHECK_INTERVAL_S
from tests.helpers import BODY, metric
from tests.infra.engines import Replica, app_host
from tools.live import LiveServer, wait_until

pytestmark = pytest.mark.live
LAG_S = 1  # REPLICA_MAX_LAG_S for these tests


@pytest.fixture(scope="module")
def replicated(cluster, bouncer) -> Iterator[LiveServer]:
    """An app host that reads from the replica, lagging allowed up to LAG_S seconds."""
    with app_host(
        cluster[0], bouncer, DATABASE_REPLICA_URL=cluster[1].url, REPLICA_MAX_LAG_S=str(LAG_S)
    ) as server:
        reported(server, "ok")
        yield server


def reported(server: LiveServer, state: str, seconds: float = 10) -> None:
    """Wait until the server's readiness reports the replica in `state`."""
    wait_until(lambda: replica_state(server) == state, what=f"replica-1 {state}", timeout=seconds)


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
    wait_until(
        lambda: listed_ids(base) == set(range(1, 21)),
        what="every write listed",
        timeout=LAG_S + 2,
    )


def test_a_stopped_replica_is_skipped_and_used_again_once_back(cluster, replicated, book):
    standby, base = cluster[1], replicated.base
    standby.stop()
    try:
        # Never a 5xx, and always fresh: reads fall back to the primary at once.
        for n in range(1, 11):
            assert post(base, n).status_code == 201
            assert n in listed_ids(base)
        reported(replicated, "down", seconds=3)
    finally:
        standby.start()
    reported(replicated, "ok")
    time.sleep(CHECK_INTERVAL_S + 0.1)  # every worker has measured it since
    before = served_by_replica(standby)
    for _ in range(12):
        assert listed_ids(base) == set(range(1, 11))
    assert served_by_replica(standby) - before >= 12
    assert not any("Traceback" in line for line in replicated.log_lines())


def test_a_paused_replica_is_reported_lagging_and_reads_stay_fresh(cluster, replicated, book):
    standby, base = cluster[1], replicated.base
    reported(replicated, "ok")
    # Lag is by WAL position: a primary with nothing to write, however long, is not lag.
    time.sleep(LAG_S + CHECK_INTERVAL_S)
    assert replica_state(replicated) == "ok"
    standby.execute("SELECT pg_wal_replay_pause()")
    try:
        assert post(base, 1).status_code == 201
        reported(replicated, "lagging", seconds=LAG_S + 3)
        time.sleep(CHECK_INTERVAL_S + 0.1)  # every worker has measured it since
        for n in range(2, 12):
            assert post(base, n).status_code == 201
            assert listed_ids(base) == set(range(1, n + 1))
    finally:
        standby.execute("SELECT pg_wal_replay_resume()")
    reported(replicated, "ok")
