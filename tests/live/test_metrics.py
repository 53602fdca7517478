"""Prometheus metrics through a real gunicorn: whichever worker answers a scrape, the counts
are the sum over all workers. While API keys are in use, /metrics answers only its own token
(METRICS_TOKEN), never an API key, unless METRICS_PUBLIC opens it; without keys it is open."""

import pytest
import requests

from tests.helpers import BODY, metric
from tests.live.keys import KEY, METRICS_TOKEN, auth
from tools.live import gunicorn, wait_until

pytestmark = pytest.mark.live


def scrape(base: str, token: str | None = METRICS_TOKEN) -> requests.Response:
    return requests.get(f"{base}/metrics", headers=auth(token) if token else {}, timeout=10)


def test_metrics_add_up_across_workers(ops, clean):
    def count(name: str, **labels: str) -> float:
        return metric(ops.base, name, token=METRICS_TOKEN, **labels)

    before = count("sesame_conflicts_total", reason="time_range_unavailable")
    requests.post(f"{ops.base}/appointments", json=BODY, headers=auth(), timeout=10)
    for n in range(12):
        requests.post(
            f"{ops.base}/appointments", json={**BODY, "id": 100 + n}, headers=auth(), timeout=10
        )
    # Each scrape is a new connection, answered by whichever worker: all must agree.
    seen = {count("sesame_conflicts_total", reason="time_range_unavailable") for _ in range(8)}
    assert seen == {before + 12}
    requests_total = {
        count("flask_http_request_total", method="POST", status="409") for _ in range(4)
    }
    assert len(requests_total) == 1 and requests_total.pop() >= 12
    page = scrape(ops.base).text
    assert 'endpoint="appointments.save_appointment"' in page
    for name in [
        "flask_http_request_duration_seconds_bucket",
        "sesame_lock_wait_seconds_bucket",
        "sesame_db_pool_in_use",
        "sesame_db_pool_size",
    ]:
        assert name in page, name
    assert count("sesame_lock_wait_seconds_count") > 0


@pytest.mark.parametrize(
    "token", [None, "wrong-" + METRICS_TOKEN, KEY, METRICS_TOKEN[:-1], METRICS_TOKEN + "x"]
)
def test_with_api_keys_metrics_want_their_own_token(ops, token):
    refused = scrape(ops.base, token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "sesame_" not in refused.text


def test_with_api_keys_and_no_metrics_token_metrics_are_closed_and_start_up_says_so(
    environment,
):
    settings = {"API_KEYS": KEY, "LOG_LEVEL": "warning", "LOG_FORMAT": "text"}
    with gunicorn({**environment, **settings}, workers=1) as server:
        assert scrape(server.base, None).status_code == 401
        assert scrape(server.base, KEY).status_code == 401
        assert scrape(server.base, "anything").status_code == 401
        lines = server.log_lines()
    assert sum("METRICS_TOKEN is not set" in line for line in lines) == 1


def test_metrics_public_keeps_metrics_open_with_api_keys(environment):
    settings = {"API_KEYS": KEY, "METRICS_PUBLIC": "1"}
    with gunicorn({**environment, **settings}, workers=1) as server:
        assert scrape(server.base, None).status_code == 200
        assert requests.get(f"{server.base}/appointments", timeout=10).status_code == 401


def test_without_api_keys_metrics_stay_open(live_server):
    wait_until(lambda: scrape(live_server, None).status_code == 200, what="/metrics", timeout=5)
    assert "sesame_db_pool_size" in scrape(live_server, None).text
