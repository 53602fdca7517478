"""Every accepted and refused input of the wire format, without a database."""

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from domain import AppointmentData, BookQuery
from formats import format_time, parse_time
from schemas import AppointmentIn, ListQuery

VALID = {
    "id": 42,
    "start": "2026-12-01 09:00",
    "end": "2026-12-01 09:30",
    "createdAt": "2026-11-26T08:00:00Z",
    "updatedAt": "2026-11-26T08:00:00Z",
}


def load(**changes):
    return AppointmentIn().load({**VALID, **changes})


def refusal(**changes) -> dict:
    with pytest.raises(ValidationError) as caught:
        load(**changes)
    return caught.value.messages


@pytest.mark.parametrize(
    ("sent", "stored"),
    [(42, 42), ("42", 42), ("007", 7), (1, 1), (2**63 - 1, 2**63 - 1), (str(2**63 - 1), 2**63 - 1)],
)
def test_ids_accepted(sent, stored):
    assert load(id=sent).id == stored


@pytest.mark.parametrize(
    "sent",
    [
        True,
        False,
        4.7,
        42.0,
        "4.7",
        "forty-two",
        0,
        "0",
        -1,
        "-1",
        2**63,
        str(2**63),
        10**30,
        "+42",
        " 42",
        "42\n",
        "٤٢",
        "1e3",
        "",
        None,
        [42],
        {"id": 42},
    ],
)
def test_ids_refused(sent):
    assert "id" in refusal(id=sent)


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("2026-12-01 09:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01 09:00:15", datetime(2026, 12, 1, 9, 0, 15, tzinfo=UTC)),
        ("2026-12-01T09:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T09:00:15Z", datetime(2026, 12, 1, 9, 0, 15, tzinfo=UTC)),
        ("2026-12-01T09:00:15.5Z", datetime(2026, 12, 1, 9, 0, 15, 500000, tzinfo=UTC)),
        ("2026-12-01T09:00:15.123456789", datetime(2026, 12, 1, 9, 0, 15, 123000, tzinfo=UTC)),
        ("2026-12-01T10:30:00+01:30", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T23:00:00+14:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-11-30T21:00:00-12:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2024-02-29 12:00", datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
    ],
)
def test_times_accepted_and_kept_as_utc(sent, meant):
    assert parse_time(sent) == meant


@pytest.mark.parametrize(
    "sent",
    [
        "2024-02-30 10:00",
        "2026-12-01 24:00",
        "2026-12-01 23:59:60",
        "0000-01-01 10:00",
        "10000-01-01 10:00",
        "2026-12-01",
        "2026-12-01 9:00",
        "2026-12-01T09:00+0100",
        "2026-12-01T09:00:00+24:00",
        "2026-12-01 09:00.5",
        "yesterday",
        "2026-12-01T09:00:00Z ",
        "２０２６-12-01 09:00",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_times_refused(sent):
    with pytest.raises(ValueError):
        parse_time(sent)


@pytest.mark.parametrize("field", ["start", "end", "createdAt", "updatedAt"])
def test_every_time_field_must_be_a_time_string(field):
    assert field in refusal(**{field: 1733040000})
    assert field in refusal(**{field: "2026-13-01 09:00"})


@pytest.mark.parametrize("field", ["id", "start", "end", "createdAt", "updatedAt"])
def test_required_fields(field):
    body = {k: v for k, v in VALID.items() if k != field}
    with pytest.raises(ValidationError) as caught:
        AppointmentIn().load(body)
    assert field in caught.value.messages


def test_start_must_be_before_end():
    assert "end" in refusal(end=VALID["start"])
    assert "end" in refusal(end="2026-12-01 08:59")


def test_created_after_updated_is_accepted_as_the_seed_does():
    assert load(createdAt="2026-11-27T00:00:00Z").created_at > load().updated_at


def test_unknown_field_is_named():
    assert refusal(colour="blue") == {"colour": ["Unknown field."]}


@pytest.mark.parametrize("calendar", ["room-1", "A.b_c-9", "x" * 64])
def test_calendars_accepted(calendar):
    assert load(calendar=calendar).calendar == calendar


@pytest.mark.parametrize("calendar", ["", "x" * 65, "room 1", "röom", "a/b", "a\n", 7, None])
def test_calendars_refused(calendar):
    assert "calendar" in refusal(calendar=calendar)


def test_calendar_defaults_to_default():
    assert load() == AppointmentData(
        id=42,
        calendar="default",
        start=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        end=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        created_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        updated_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )


def test_response_times_are_utc_with_milliseconds():
    assert format_time(parse_time("2026-12-01T10:30:00.1+01:00")) == "2026-12-01T09:30:00.100Z"
    assert format_time(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05.000Z"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"limit": "4.5"},
        {"offset": "-1"},
        {"limit": " 5"},
        {"limit": "٥"},
        {"calendar": "a b"},
        {"sort": "start"},
    ],
)
def test_list_query_refused(query):
    with pytest.raises(ValidationError):
        ListQuery().load(query, unknown="raise")


def test_list_query_defaults():
    assert ListQuery().load({}) == BookQuery(status="active", limit=100, offset=0)
