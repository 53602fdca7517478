"""Prometheus metrics through a real gunicorn: whichever worker answers a scrape, the counts
are the sum over all workers."""

import pytest
import requests

from tests.helpers import BODY, metric
from tests.live.keys import auth

pytestmark = pytest.mark.live


def test_metrics_add_up_across_workers(ops, clean):
    before = metric(ops.base, "sesame_conflicts_total", reason="time_range_unavailable")
    requests.post(f"{ops.base}/appointments", json=BODY, headers=auth(), timeout=10)
    for n in range(12):
        requests.post(
            f"{ops.base}/appointments", json={**BODY, "id": 100 + n}, headers=auth(), timeout=10
        )
    # Each scrape is a new connection, answered by whichever worker: all must agree.
    seen = {
        metric(ops.base, "sesame_conflicts_total", reason="time_range_unavailable")
        for _ in range(8)
    }
    assert seen == {before + 12}
    requests_total = {
        metric(ops.base, "flask_http_request_total", method="POST", status="409") for _ in range(4)
    }
    assert len(requests_total) == 1 and requests_total.pop() >= 12
    page = requests.get(f"{ops.base}/metrics", timeout=10).text
    assert 'endpoint="appointments.save_appointment"' in page
    for name in [
        "flask_http_request_duration_seconds_bucket",
        "sesame_lock_wait_seconds_bucket",
        "sesame_db_pool_in_use",
        "sesame_db_pool_size",
    ]:
        assert name in page, name
    assert metric(ops.base, "sesame_lock_wait_seconds_count") > 0
