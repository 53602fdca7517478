"""The generated client (clients/python, `make client`) against a live 4-worker gunicorn.

Everything here goes through the client only, as a generated-client user would write it.
"""

from collections.abc import Iterator

import pytest
from sesame_client import Client
from sesame_client.api.appointments import (
    cancel_appointment,
    create_or_update_appointment,
    get_appointment,
    get_appointment_history,
    list_appointments,
    list_changes,
)
from sesame_client.models import AppointmentIn, AppointmentOut, AppointmentOutStatus, ErrorOut
from sesame_client.types import Response

pytestmark = pytest.mark.live


@pytest.fixture
def api(live) -> Iterator[Client]:
    with Client(base_url=live, raise_on_unexpected_status=True) as client:
        yield client


def appointment(id: int, start: str, end: str, updated: str = "08:00", **kwargs) -> AppointmentIn:
    return AppointmentIn(
        id=id,
        start=f"2026-12-01 {start}",
        end=f"2026-12-01 {end}",
        created_at="2026-11-26T08:00:00Z",
        updated_at=f"2026-11-26T{updated}:00Z",
        **kwargs,
    )


def save(api: Client, body: AppointmentIn) -> Response:
    return create_or_update_appointment.sync_detailed(client=api, body=body)


def test_the_generated_client_covers_the_appointment_lifecycle(api):
    created = save(api, appointment(42, "09:00", "09:30", calendar="room-1"))
    assert created.status_code == 201
    assert isinstance(created.parsed, AppointmentOut) and created.parsed.version == 1

    replay = save(api, appointment(42, "09:00", "09:30", calendar="room-1"))
    assert replay.status_code == 200 and replay.parsed.version == 1

    updated = save(api, appointment(42, "09:00", "10:00", updated="09:00", calendar="room-1"))
    assert updated.status_code == 200 and updated.parsed.version == 2
    assert updated.parsed.end.isoformat() == "2026-12-01T10:00:00+00:00"

    overlap = save(api, appointment(43, "09:30", "10:30", calendar="room-1"))
    assert overlap.status_code == 409
    assert isinstance(overlap.parsed, ErrorOut)
    assert overlap.parsed.error == "time_range_unavailable"
    assert overlap.parsed.conflicts == [42]

    save(api, appointment(44, "11:00", "12:00", calendar="room-2"))
    room_1 = list_appointments.sync(
        client=api, calendar="room-1", from_="2026-12-01 00:00", to="2026-12-02 00:00"
    )
    assert [a.id for a in room_1] == [42]

    history = get_appointment_history.sync(client=api, appointment_id=42)
    assert [v.version for v in history] == [1, 2]
    assert all(v.recorded_at is not None for v in history)

    cancelled = cancel_appointment.sync(client=api, appointment_id=42)
    assert cancelled.status == AppointmentOutStatus.CANCELLED and cancelled.version == 3
    assert (
        get_appointment.sync(client=api, appointment_id=42).status == AppointmentOutStatus.CANCELLED
    )

    feed = list_changes.sync(client=api, limit=100)
    assert [(c.id, c.version) for c in feed.changes] == [(42, 1), (42, 2), (44, 1), (42, 3)]
    assert list_changes.sync(client=api, since=feed.next_).changes == []
