"""API keys managed as an operator does, through `make keys`, against live gunicorns: every
refusal is one line and exit 2; a revoked key is refused by every worker within
KEYS_REFRESH_S + 1 s, even under a load of writes with it, and nothing is half-written."""

import re
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import create_engine

from tests.helpers import make_keys, new_key
from tools import embedded_db
from tools.integrity import find_violations
from tools.live import appointment, gunicorn, wait_until

pytestmark = pytest.mark.live
REFRESH_S = 2
MAKE_FAILED = re.compile(r"make(\[\d+\])?: \*\*\* ")  # make's own line (make[1] under make)


@pytest.fixture(scope="module")
def taken(keys_database) -> str:
    """The keys database with a key `cli-taken` and a revoked one, `cli-revoked`."""
    env = {"DATABASE_URL": keys_database}
    for name in ("cli-taken", "cli-revoked"):
        assert (
            make_keys("create", name, "--scope", "read", "--calendars", "a", env=env).returncode
            == 0
        )
    assert make_keys("revoke", "cli-revoked", env=env).returncode == 0
    return keys_database


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("bogus",),
        ("create",),
        ("create", "x"),
        ("create", "x", "--scope", "write"),
        ("create", "x", "--scope", "admin", "--calendars", "a"),
        ("create", "x", "--scope", "read", "--calendars", ""),
        ("create", "x", "--scope", "read", "--calendars", "a%b"),
        ("create", "-x", "--scope", "read", "--calendars", "a"),
        ("create", "x", "--scope", "read", "--calendars", "a", "--extra"),
        ("create", "cli-taken", "--scope", "read", "--calendars", "a"),
        ("revoke",),
        ("revoke", "nobody"),
        ("rotate", "nobody"),
        ("revoke", "cli-revoked"),
        ("rotate", "cli-revoked"),
        ("list", "extra"),
    ],
)
def test_every_refusal_is_one_line_and_exit_2(taken, args):
    refused = make_keys(*args, env={"DATABASE_URL": taken})
    assert refused.returncode == 2
    assert refused.stdout == ""
    mine = [line for line in refused.stderr.splitlines() if not MAKE_FAILED.match(line)]
    assert len(mine) == 1 and mine[0].startswith("keys: "), refused.stderr


def test_create_list_rotate_revoke_through_make_keys(keys_database, environment):
    env = {"DATABASE_URL": keys_database}
    created = make_keys("create", "cli-front", "--scope", "write", "--calendars", "*", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert re.fullmatch(r"ses_[A-Za-z0-9_-]{43}", key)
    with psycopg.connect(embedded_db.libpq_url(keys_database)) as conn:
        stored = conn.execute("SELECT digest FROM api_keys WHERE name = 'cli-front'").fetchone()
    assert key.encode() not in bytes(stored[0]) and len(bytes(stored[0])) == 32

    settings = {"DATABASE_URL": keys_database, "KEYS_REFRESH_S": str(REFRESH_S)}
    with gunicorn({**environment, **settings}, workers=2) as server:

        def status(with_key: str) -> int:
            headers = {"Authorization": f"Bearer {with_key}"}
            return requests.get(
                f"{server.base}/appointments", headers=headers, timeout=5
            ).status_code

        assert status(key) == 200
        rotated = make_keys("rotate", "cli-front", env=env)
        assert rotated.returncode == 0, rotated.stderr
        new = rotated.stdout.splitlines()[-1]
        assert new != key and new.startswith("ses_")
        wait_until(
            lambda: status(key) == 401 and status(new) == 200,
            what="rotation",
            timeout=REFRESH_S + 1,
        )
        # Used keys are noted at a worker's next refresh (which a request starts), coarsely.
        wait_until(
            lambda: (
                status(new) == 200
                and "last_used=never" not in _line(make_keys("list", env=env).stdout, "cli-front")
            ),
            what="last use recorded",
            timeout=REFRESH_S * 3,
        )
        assert make_keys("revoke", "cli-front", env=env).returncode == 0
        wait_until(lambda: status(new) == 401, what="revocation", timeout=REFRESH_S + 1)

    line = _line(make_keys("list", env=env).stdout, "cli-front")
    assert re.fullmatch(
        r"cli-front  scope=write  calendars=\*  created=\S+Z  last_used=\S+Z  revoked=\S+Z", line
    ), line


def _line(listing: str, name: str) -> str:
    return next(line for line in listing.splitlines() if line.startswith(name + " "))


def test_make_keys_without_database_url_uses_the_embedded_server_in_data_dir():
    with tempfile.TemporaryDirectory(prefix="sk-") as tmp:
        env = {"DATA_DIR": tmp}
        created = make_keys("create", "first", "--scope", "read", "--calendars", "room-*", env=env)
        assert created.returncode == 0, created.stderr
        assert created.stdout.splitlines()[-1].startswith("ses_")
        listed = make_keys("list", env=env)
        assert listed.stdout.startswith("first  scope=read  calendars=room-*"), listed.stderr
        # The server it started for itself is stopped again: nothing listens in DATA_DIR.
        assert not (Path(tmp) / "postgres" / "postmaster.pid").exists()


def test_a_revoked_key_is_refused_by_every_worker_within_refresh_under_load(
    keys_database, environment
):
    key = new_key(keys_database, "load-writer", "write", "load-*")
    settings = {"DATABASE_URL": keys_database, "KEYS_REFRESH_S": str(REFRESH_S)}
    with psycopg.connect(embedded_db.libpq_url(keys_database), autocommit=True) as conn:
        conn.execute("TRUNCATE appointments, appointment_versions")
    answers: list[tuple[float, int, int]] = []  # (sent at, id, status)
    stop = threading.Event()
    revoked_at: list[float] = []

    def client(number: int) -> None:
        id = number * 100_000
        while not stop.is_set():
            id += 1
            body = appointment(id % 100_000, calendar=f"load-{number}") | {"id": id}
            sent = time.monotonic()
            response = requests.post(
                f"{server.base}/appointments",
                json=body,
                headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                timeout=10,
            )
            answers.append((sent, id, response.status_code))

    with gunicorn({**environment, **settings}, workers=4) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        revoking = time.monotonic()
        revoked = make_keys("revoke", "load-writer", env={"DATABASE_URL": keys_database})
        revoked_at.append(time.monotonic())
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(REFRESH_S + 2.5)
        stop.set()
        for thread in threads:
            thread.join()
        workers = len(server.workers())

    deadline = revoked_at[0] + REFRESH_S + 1
    before = [status for sent, _, status in answers if sent < revoking]
    late = [status for sent, _, status in answers if sent >= deadline]
    assert before and set(before) == {201}
    assert len(late) >= 4 * workers and set(late) == {401}
    assert {status for _, _, status in answers} <= {201, 401}
    # Nothing half-written: exactly the answered creates are stored, each whole.
    created = {id for _, id, status in answers if status == 201}
    with psycopg.connect(embedded_db.libpq_url(keys_database)) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM appointments")}
        versions = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE recorded_by = 'load-writer')"
            " FROM appointment_versions"
        ).fetchone()
    assert stored == created and versions == (len(created), len(created))
    engine = create_engine(keys_database)
    try:
        with engine.connect() as connection:
            assert not any(find_violations(connection).values())
    finally:
        engine.dispose()
