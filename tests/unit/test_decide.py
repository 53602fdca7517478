"""The pure decision rule: create, update, replay or refuse as stale, by updatedAt and content."""

import pytest

from domain import Decision, decide
from tests.helpers import appointment_data, stored


def test_decide_new_id_creates():
    assert decide(None, appointment_data()) is Decision.CREATE


def test_decide_newer_updated_at_updates_even_with_same_content():
    current = stored(appointment_data())
    assert decide(current, appointment_data(updated=1)) is Decision.UPDATE
    assert decide(current, appointment_data(updated=1, end=60)) is Decision.UPDATE


def test_decide_same_updated_at_same_content_is_a_replay():
    assert decide(stored(appointment_data(), version=3), appointment_data()) is Decision.REPLAY


@pytest.mark.parametrize(
    "new",
    [
        appointment_data(updated=-1),
        appointment_data(updated=-1, end=60),
        appointment_data(end=60),
        appointment_data(calendar="other"),
        appointment_data(created=5),
    ],
)
def test_decide_older_or_same_time_other_content_is_stale(new):
    assert decide(stored(appointment_data()), new) is Decision.STALE
