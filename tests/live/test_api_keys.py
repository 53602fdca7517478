"""API keys through the operator's gunicorn: every API route wants a valid Bearer key; health
and docs stay open (/metrics wants its own token: test_metrics.py); no key, valid or guessed,
is ever written to a log."""

import secrets

import pytest
import requests

from tests.helpers import BODY
from tests.live.keys import KEY, OTHER_KEY, auth
from tools.live import wait_until

pytestmark = pytest.mark.live


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/appointments"),
        ("POST", "/appointments"),
        ("GET", "/appointments/1"),
        ("DELETE", "/appointments/1"),
        ("GET", "/appointments/1/history"),
        ("GET", "/appointments.ics"),
        ("GET", "/availability"),
        ("GET", "/changes"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": KEY},
    ],
)
def test_without_a_valid_key_the_api_answers_401(ops, clean, method, path, headers):
    response = requests.request(method, ops.base + path, headers=headers, json=BODY, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized" and body["statusCode"] == 401


def test_with_a_valid_key_the_api_answers(ops, clean):
    created = requests.post(f"{ops.base}/appointments", json=BODY, headers=auth(), timeout=10)
    assert created.status_code == 201
    listed = requests.get(f"{ops.base}/appointments", headers=auth(OTHER_KEY), timeout=10)
    assert [a["id"] for a in listed.json()] == [42]


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/api/openapi.json", "/api/"])
def test_health_and_docs_stay_open(ops, path):
    assert requests.get(ops.base + path, timeout=10).status_code == 200


def test_keys_never_reach_the_logs(ops):
    marker = "keys-" + secrets.token_hex(4)
    for key in (KEY, "guess-" + KEY):
        headers = {**auth(key), "X-Request-ID": marker}
        requests.get(f"{ops.base}/appointments", headers=headers, timeout=10)
    # Both requests' access lines are written (and so would be anything logged with them).
    wait_until(
        lambda: sum(marker in line for line in ops.log_lines()) >= 2,
        what="both access lines",
        timeout=5,
    )
    assert not any(KEY in line for line in ops.log_lines())
