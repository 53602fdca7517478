"""The transactions, called directly on a real PostgreSQL (the pure rule: tests/unit)."""

import json
import threading
import time
from datetime import timedelta

import psycopg.errors
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import domain
import queries
import services
from domain import BookQuery
from schemas import AppointmentOut
from tests.helpers import T0, appointment_data
from tools.integrity import find_violations


def save(engine, data):
    return services.save_appointment(engine, new=data)


def test_create_then_read(engine):
    result = save(engine, appointment_data(id=7))
    assert result.created and result.appointment.version == 1
    assert queries.get_appointment(engine, 7) == result.appointment


def test_update_keeps_previous_version_in_history(engine):
    save(engine, appointment_data(id=7))
    result = save(engine, appointment_data(id=7, end=45, updated=1))
    assert not result.created and result.appointment.version == 2
    history = queries.appointment_history(engine, 7)
    assert [(v.version, v.end) for v in history] == [
        (1, T0 + timedelta(minutes=30)),
        (2, T0 + timedelta(minutes=45)),
    ]
    assert history[0].recorded_at <= history[1].recorded_at


def test_replay_changes_nothing(engine):
    save(engine, appointment_data(id=7))
    result = save(engine, appointment_data(id=7))
    assert not result.created and result.appointment.version == 1
    assert len(queries.appointment_history(engine, 7)) == 1


@pytest.mark.parametrize(
    "late", [appointment_data(id=7, updated=-5), appointment_data(id=7, end=50)]
)
def test_stale_update_is_refused_and_changes_nothing(engine, late):
    save(engine, appointment_data(id=7))
    with pytest.raises(domain.StaleUpdate):
        save(engine, late)
    assert queries.get_appointment(engine, 7).version == 1
    assert len(queries.appointment_history(engine, 7)) == 1


@pytest.mark.parametrize(("start", "end"), [(0, 30), (29, 31), (-10, 1), (10, 20), (-60, 90)])
def test_overlap_is_refused_with_the_ids_in_the_way(engine, start, end):
    save(engine, appointment_data(id=1, start=0, end=30))
    with pytest.raises(domain.TimeRangeUnavailable) as caught:
        save(engine, appointment_data(id=2, start=start, end=end))
    assert caught.value.conflicts == [1]
    with pytest.raises(domain.NotFound):
        queries.get_appointment(engine, 2)


@pytest.mark.parametrize(("start", "end"), [(30, 60), (-30, 0)])
def test_touching_intervals_do_not_overlap(engine, start, end):
    save(engine, appointment_data(id=1, start=0, end=30))
    assert save(engine, appointment_data(id=2, start=start, end=end)).created


def test_other_calendars_do_not_conflict(engine):
    save(engine, appointment_data(id=1, calendar="room-a"))
    assert save(engine, appointment_data(id=2, calendar="room-b")).created


def test_an_update_does_not_conflict_with_its_own_previous_slot(engine):
    save(engine, appointment_data(id=1, start=0, end=30))
    assert (
        save(engine, appointment_data(id=1, start=15, end=45, updated=1)).appointment.version == 2
    )


def test_move_to_another_calendar_is_an_update_and_frees_the_old_slot(engine):
    save(engine, appointment_data(id=1, calendar="room-a"))
    moved = save(engine, appointment_data(id=1, calendar="room-b", updated=1))
    assert moved.appointment.calendar == "room-b" and moved.appointment.version == 2
    assert save(engine, appointment_data(id=2, calendar="room-a")).created
    with pytest.raises(domain.TimeRangeUnavailable):
        save(engine, appointment_data(id=3, calendar="room-b"))


def test_move_into_an_occupied_slot_is_refused(engine):
    save(engine, appointment_data(id=1, calendar="room-a"))
    save(engine, appointment_data(id=2, calendar="room-b"))
    with pytest.raises(domain.TimeRangeUnavailable) as caught:
        save(engine, appointment_data(id=1, calendar="room-b", updated=1))
    assert caught.value.conflicts == [2]


def test_list_orders_by_start_then_id_and_filters_by_calendar(engine):
    for id, start, calendar in [(5, 60, "a"), (3, 0, "b"), (4, 0, "c"), (1, 120, "a")]:
        save(engine, appointment_data(id=id, start=start, end=start + 30, calendar=calendar))
    everything = queries.list_appointments(engine, BookQuery())
    assert [a.id for a in everything] == [3, 4, 5, 1]
    page = queries.list_appointments(engine, BookQuery(limit=2, offset=1))
    assert [a.id for a in page] == [4, 5]
    room_a = queries.list_appointments(engine, BookQuery(calendar="a"))
    assert [a.id for a in room_a] == [5, 1]


def test_unknown_ids_are_not_found(engine):
    with pytest.raises(domain.NotFound):
        queries.get_appointment(engine, 99)
    with pytest.raises(domain.NotFound):
        queries.appointment_history(engine, 99)


def test_exclusion_constraint_refuses_an_overlap_written_behind_the_services_back(
    engine, connection
):
    save(engine, appointment_data(id=1, start=0, end=30))
    with pytest.raises(IntegrityError) as caught:
        connection.execute(
            text(
                "INSERT INTO appointments"
                " (id, calendar, starts_at, ends_at, created_at, updated_at, version, status)"
                " VALUES (2, 'default', :start, :end, now(), now(), 1, 'active')"
            ),
            {"start": T0 + timedelta(minutes=10), "end": T0 + timedelta(minutes=40)},
        )
    assert isinstance(caught.value.orig, psycopg.errors.ExclusionViolation)


def test_books_written_by_the_service_pass_the_integrity_checks(engine, connection):
    save(engine, appointment_data(id=1))
    save(engine, appointment_data(id=1, start=60, end=90, updated=1))
    save(engine, appointment_data(id=2, calendar="x"))
    assert find_violations(connection) == {}


def test_integrity_checks_find_a_broken_history(engine, connection):
    save(engine, appointment_data(id=1))
    connection.execute(text("UPDATE appointments SET version = 2"))
    assert "history versions not exactly 1..version" in find_violations(connection)


def test_integrity_checks_find_a_current_row_that_is_not_its_last_version(engine, connection):
    save(engine, appointment_data(id=1))
    connection.execute(text("UPDATE appointments SET ends_at = ends_at + interval '1 minute'"))
    assert list(find_violations(connection)) == ["current row differs from its last version"]


def test_a_move_waits_for_its_old_calendar_held_by_another_writer(engine, connection):
    """A move locks both calendars, in key order, and waits for the one held elsewhere."""
    keys = connection.execute(text("SELECT hashtext('room-a'), hashtext('room-b')")).one()
    low, high = ("room-a", "room-b") if keys[0] < keys[1] else ("room-b", "room-a")
    save(engine, appointment_data(id=1, calendar=low))
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
        {"space": services._CALENDAR_LOCK_SPACE, "name": low},
    )
    releaser = threading.Timer(0.3, connection.rollback)
    releaser.start()
    started = time.monotonic()
    moved = save(engine, appointment_data(id=1, calendar=high, updated=1))
    releaser.join()
    assert time.monotonic() - started >= 0.25
    assert (moved.appointment.calendar, moved.appointment.version) == (high, 2)
    assert find_violations(connection) == {}


def test_the_list_page_json_built_by_postgresql_is_what_the_schema_dumps(engine):
    for n in range(5):
        save(engine, appointment_data(id=10 + n, start=n * 30, end=n * 30 + 17))
    query = BookQuery(limit=3)
    page = queries.list_appointments_json(engine, query)
    objects = queries.list_appointments(engine, query)
    assert json.loads(page.body) == AppointmentOut(many=True).dump(objects)
    assert page.count == 3 and page.last == (objects[-1].start, objects[-1].id)
    empty = queries.list_appointments_json(engine, BookQuery(calendar="nobody"))
    assert (json.loads(empty.body), empty.count, empty.last) == ([], 0, None)
