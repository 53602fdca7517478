"""Running it for real: keys, rate limits, metrics, request ids, logs, limits, readiness, config.

Most of these go through a real 4-worker gunicorn configured as an operator would; the
rate-limit test uses the machine's Redis and is skipped, saying so, where none answers.
"""

import json
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import flask_migrate
import pytest
import requests
import yaml
from conftest import ROOT, gunicorn
from jsonschema import Draft201909Validator
from sqlalchemy import text
from test_api import BODY, assert_error

from config import ConfigError, settings_from_env

pytestmark = pytest.mark.live
KEY = "k-" + secrets.token_hex(16)
OTHER_KEY = "k-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def ops(app, environment):
    """A gunicorn with API keys, JSON logs at INFO and a short lock timeout."""
    with gunicorn(
        environment,
        API_KEYS=f"{KEY}, {OTHER_KEY}",
        LOG_FORMAT="json",
        LOG_LEVEL="info",
        DB_LOCK_TIMEOUT_MS="300",
    ) as server:
        yield server


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


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


@pytest.mark.parametrize(
    "path", ["/health", "/health/ready", "/metrics", "/api/openapi.json", "/api/"]
)
def test_health_metrics_and_docs_stay_open(ops, path):
    assert requests.get(ops.base + path, timeout=10).status_code == 200


def test_keys_never_reach_the_logs(ops):
    marker = "keys-" + secrets.token_hex(4)
    for key in (KEY, "guess-" + KEY):
        headers = {**auth(key), "X-Request-ID": marker}
        requests.get(f"{ops.base}/appointments", headers=headers, timeout=10)
    # Both requests' access lines are written (and so would be anything logged with them).
    lines = eventually(ops.log_lines, until=lambda ls: sum(marker in x for x in ls) >= 2)
    assert sum(marker in line for line in lines) >= 2
    assert not any(KEY in line for line in lines)


def test_request_id_is_echoed_or_generated(ops):
    echoed = requests.get(f"{ops.base}/health", headers={"X-Request-ID": "abc-123.x"}, timeout=10)
    assert echoed.headers["X-Request-ID"] == "abc-123.x"
    for hostile in ["a" * 129, "<script>", "has space", "ünï"]:
        response = requests.get(
            f"{ops.base}/health",
            headers={"X-Request-ID": hostile.encode().decode("latin-1")},
            timeout=10,
        )
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", requests.get(f"{ops.base}/health").headers["X-Request-ID"])


def test_cr_in_request_id_is_never_echoed(ops):
    host, port = ops.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rInjected: 1\r\n\r\n")
        answer = sock.recv(65536).decode("latin-1")
    assert "Injected" not in answer
    echoed = re.search(r"X-Request-ID: (.*)\r\n", answer, re.IGNORECASE)
    assert echoed is None or re.fullmatch(r"[0-9a-f]{32}", echoed.group(1))


def eventually(read, until, seconds: float = 5.0):
    """Read until the result satisfies `until`, for at most `seconds`; return the last read."""
    deadline = time.monotonic() + seconds
    result = read()
    while not until(result) and time.monotonic() < deadline:
        time.sleep(0.05)
        result = read()
    return result


def json_lines(server) -> list[dict]:
    lines = []
    for line in server.log_lines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    return lines


def test_access_and_app_logs_are_json_lines_carrying_the_request_id(ops, connection):
    # An app log line inside a request: a lock wait that times out (logged as a warning).
    connection.execute(text("SELECT pg_advisory_xact_lock(42)"))
    request_id = "log-test-" + secrets.token_hex(4)
    response = requests.post(
        f"{ops.base}/appointments",
        json=BODY,
        timeout=10,
        headers={**auth(), "X-Request-ID": request_id},
    )
    connection.rollback()
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    # gunicorn writes the access line just after the response: give it a moment.
    mine = eventually(
        lambda: [line for line in json_lines(ops) if line.get("request_id") == request_id],
        until=lambda lines: any(line.get("logger") == "gunicorn.access" for line in lines),
    )
    access = [line for line in mine if line.get("logger") == "gunicorn.access"]
    app_lines = [line for line in mine if line.get("logger") != "gunicorn.access"]
    assert access and access[0]["method"] == "POST" and access[0]["path"] == "/appointments"
    assert access[0]["status"] == 503 and access[0]["duration_ms"] > 0
    assert {"time", "level"} <= set(access[0])
    assert app_lines and app_lines[0]["level"] == "WARNING"
    assert app_lines[0]["method"] == "POST" and app_lines[0]["path"] == "/appointments"
    assert not any("Traceback" in line for line in ops.log_lines())


def metric(base: str, name: str, **labels: str) -> float:
    """One sample of /metrics, as any worker answers it."""
    text_format = requests.get(f"{base}/metrics", timeout=10).text
    total = 0.0
    for line in text_format.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


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


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as error:  # any failure means: no Redis to test against
        pytest.skip(f"no Redis answers on 127.0.0.1:6379 ({type(error).__name__})")
    return url


def test_rate_limit_holds_across_workers_with_redis(app, environment, redis_url, clean):
    key, other = "rl-" + secrets.token_hex(12), "rl-" + secrets.token_hex(12)
    with gunicorn(
        environment,
        API_KEYS=f"{key},{other}",
        RATE_LIMIT="10 per minute",
        RATE_LIMIT_STORAGE_URI=redis_url,
    ) as server:
        statuses = [
            requests.get(f"{server.base}/appointments", headers=auth(key), timeout=10)
            for _ in range(16)
        ]
        assert [r.status_code for r in statuses] == [200] * 10 + [429] * 6
        refused = statuses[-1]
        assert refused.json()["error"] == "rate_limited"
        # Whole seconds until the window frees a request (limits rounds its reset time up).
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert "Retry-After" not in statuses[0].headers
        # Per key: another key has its own budget; health and metrics are not limited.
        assert requests.get(f"{server.base}/appointments", headers=auth(other)).status_code == 200
        assert all(requests.get(f"{server.base}/health").status_code == 200 for _ in range(12))


def test_rate_limit_per_client_address_believes_forwarded_for_only_from_trusted_proxies(
    make_app, clean
):
    client = make_app(RATE_LIMIT="2 per minute", TRUSTED_PROXIES="10.0.0.0/8").test_client()

    def status(peer: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.get(
            "/appointments", headers=headers, environ_base={"REMOTE_ADDR": peer}
        ).status_code

    # Through the trusted proxy, clients are told apart by X-Forwarded-For.
    assert [status("10.0.0.5", "198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert status("10.0.0.5", "198.51.100.2") == 200
    # A direct client cannot pick a fresh address with the header.
    assert [status("203.0.113.9", f"192.0.2.{n}") for n in range(3)] == [200, 200, 429]
    # Spoofed hops left of the proxy's own entry do not count either.
    assert status("10.0.0.5", "1.2.3.4, 198.51.100.1") == 429


def test_oversized_bodies_answer_413_through_gunicorn(ops):
    response = requests.post(
        f"{ops.base}/appointments",
        data=b"{" + b" " * 70_000 + b"}",
        headers={**auth(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_statement_timeout_answers_503_with_retry_after(make_app, connection):
    client = make_app(DB_LOCK_TIMEOUT_MS="10000", DB_STATEMENT_TIMEOUT_MS="300").test_client()
    connection.execute(text("LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE"))
    response = client.get("/appointments")
    connection.rollback()
    body = assert_error(response, 503, "database_timeout")
    assert response.headers["Retry-After"] == "1"
    assert "SELECT" not in body["message"]


def test_readiness_answers_200_when_the_schema_is_current(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "schema": "0002"}


def test_readiness_answers_503_when_the_schema_is_behind(make_app, empty_database):
    app = make_app(DATABASE_URL=empty_database)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"), revision="0001")
    response = app.test_client().get("/health/ready")
    body = assert_error(response, 503, "not_ready")
    assert "0001" in body["message"] and response.headers["Retry-After"]


def test_readiness_answers_503_and_liveness_200_without_a_database(make_app):
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_CONNECT_TIMEOUT_S="2")
    client = app.test_client()
    assert client.get("/health").status_code == 200
    body = assert_error(client.get("/health/ready"), 503, "not_ready")
    assert body["checks"] == {"database": "down"}
    assert "127.0.0.1" not in json.dumps(body)
    body = assert_error(client.get("/appointments"), 503, "database_unavailable")
    assert "nobody" not in json.dumps(body)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DB_POOL_SIZE", "many"),
        ("DB_POOL_SIZE", "0"),
        ("RATE_LIMIT", "lots"),
        ("RATE_LIMIT_STORAGE_URI", "ftp://x"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,proxy"),
        ("LOG_FORMAT", "xml"),
        ("MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_settings_are_refused_with_one_line_naming_them(environment, name, value):
    with pytest.raises(ConfigError) as caught:
        settings_from_env({**environment, name: value})
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_gunicorn_refuses_to_start_with_a_bad_setting(environment):
    env = {**environment, "RATE_LIMIT": "lots", "PORT": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "sesame:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert errors == [
        "sesame: configuration error: RATE_LIMIT must be flask-limiter syntax such as "
        "'100 per minute', not 'lots'"
    ]
    assert "Traceback" not in result.stderr


def test_compose_file_follows_the_compose_specification():
    schema = json.loads((Path(__file__).parent / "schemas" / "compose_spec.json").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = sorted(Draft201909Validator(schema).iter_errors(compose), key=str)
    assert errors == []
    assert {"db", "redis", "migrate", "app"} <= set(compose["services"])
    app_service = compose["services"]["app"]
    assert app_service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "RATE_LIMIT_STORAGE_URI" in app_service["environment"]
    assert all("healthcheck" in compose["services"][s] for s in ("db", "redis"))


def test_container_runs_as_non_root_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile


def test_env_example_documents_every_setting():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    reads = r'(?:env, |env\.get\(|environ\.get\(|env\[)"([A-Z][A-Z_]+)"'
    read = set(re.findall(reads, (ROOT / "config.py").read_text()))
    read |= set(re.findall(reads, (ROOT / "gunicorn.conf.py").read_text()))
    assert len(read) > 15
    assert read - documented == set()


def test_start_up_says_once_what_is_open_and_per_worker_in_text_logs(environment):
    with gunicorn(
        environment, RATE_LIMIT="100 per minute", LOG_FORMAT="text", LOG_LEVEL="info"
    ) as server:
        requests.get(f"{server.base}/health", headers={"X-Request-ID": "text-log-1"}, timeout=10)
        lines = eventually(server.log_lines, until=lambda ls: any("text-log-1" in x for x in ls))
    assert sum("API_KEYS is not set" in line for line in lines) == 1
    assert sum("each worker counts alone" in line for line in lines) == 1
    access = [line for line in lines if "text-log-1" in line]
    assert access and not access[0].startswith("{")
