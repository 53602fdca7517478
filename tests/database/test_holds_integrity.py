"""The integrity audit (`make check-data`, tools/integrity.py) knows holds: a book with holds in
every state passes it, and a planted violation of a hold's promises is found."""

import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

import queries
import services
from tests.helpers import appointment_data
from tools.integrity import find_violations
from tools.live import ROOT

EXPIRY_AT_EXPIRES_AT = "an expiry not recorded at its hold's expiresAt, by expiry"
HOLD_AFTER_EXPIRY = "a hold's version current after its expiry"


def save(engine, hold_for: int | None = None, **fields):
    """Save appointment_data(**fields), as a hold lasting `hold_for` seconds if given."""
    data = appointment_data(**fields)
    if hold_for is not None:
        data = replace(data, status="held", hold_for=hold_for)
    return services.save_appointment(engine, new=data).appointment


@pytest.fixture
def book_with_holds(engine) -> None:
    """Holds in every state: live, confirmed, released, expired and recorded, expired and not
    yet recorded; and a plain booking."""
    save(engine, hold_for=600, id=1, calendar="live")
    save(engine, hold_for=600, id=2, calendar="confirmed")
    save(engine, id=2, calendar="confirmed", updated=1)
    save(engine, hold_for=600, id=3, calendar="released")
    services.cancel_appointment(engine, appointment_id=3)
    recorded = save(engine, hold_for=1, id=4, calendar="recorded")
    unrecorded = save(engine, hold_for=1, id=5, calendar="unrecorded")
    save(engine, id=6, calendar="plain")
    lapsed = max(recorded.expires_at, unrecorded.expires_at)
    time.sleep(max(0.0, (lapsed - datetime.now(UTC)).total_seconds()) + 0.1)
    save(engine, id=7, calendar="recorded")  # in 4's way: records its expiry
    assert queries.get_appointment(engine, 5).status == "expired"


def test_a_book_with_holds_in_every_state_passes_the_audit(book_with_holds, connection):
    statuses = dict(connection.execute(text("SELECT id, status FROM appointments")).all())
    assert statuses == {
        1: "held",
        2: "active",
        3: "cancelled",
        4: "expired",
        5: "held",  # lapsed: reads answer it expired; nothing has recorded it
        6: "active",
        7: "active",
    }
    assert find_violations(connection) == {}


def test_an_expiry_recorded_by_someone_else_is_found(book_with_holds, connection):
    connection.execute(
        text("UPDATE appointment_versions SET recorded_by = 'clinic-a' WHERE status = 'expired'")
    )
    assert find_violations(connection) == {EXPIRY_AT_EXPIRES_AT: [(4, 2)]}


def test_an_expiry_recorded_before_its_expires_at_is_found(book_with_holds, connection):
    connection.execute(
        text(
            "UPDATE appointment_versions SET recorded_at = recorded_at - interval '1 second'"
            " WHERE status = 'expired'"
        )
    )
    assert find_violations(connection)[EXPIRY_AT_EXPIRES_AT] == [(4, 2)]


def test_a_hold_superseded_after_its_expiry_is_found(book_with_holds, connection):
    """The confirmed hold's first version said it expired before it was confirmed."""
    connection.execute(
        text(
            "UPDATE appointment_versions SET expires_at = recorded_at"
            " WHERE appointment_id = 2 AND version = 1"
        )
    )
    assert find_violations(connection) == {HOLD_AFTER_EXPIRY: [(2, 1)]}


def test_make_check_data_fails_on_a_planted_expiry_and_names_it(
    book_with_holds, connection, environment
):
    connection.execute(
        text("UPDATE appointment_versions SET recorded_by = NULL WHERE status = 'expired'")
    )
    connection.commit()
    audit = subprocess.run(
        [sys.executable, "-m", "tools.integrity"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert f"FAIL {EXPIRY_AT_EXPIRES_AT}: [(4, 2)]" in audit.stdout
