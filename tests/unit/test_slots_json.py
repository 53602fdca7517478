"""The slots' JSON is built without marshmallow (calendars_schemas.slots_json): it must be what
the documented schema, SlotsOut, dumps, field for field and time for time."""

import random
from datetime import UTC, datetime, timedelta

import orjson

from calendars_schemas import SlotsOut, _utc, slots_json
from domain import Slot, Slots
from formats import format_time


def test_slots_json_is_what_slots_out_dumps():
    start = datetime(2027, 3, 14, 6, 59, 59, 999_000, tzinfo=UTC)
    slots = [
        Slot(start + timedelta(minutes=15 * n), start + timedelta(minutes=15 * n + 30), names)
        for n, names in enumerate([["a"], ["a", "b"], []])
    ]
    answer = Slots(start, start + timedelta(days=7), 30, 15, "America/New_York", 1, slots)
    assert orjson.loads(slots_json(answer)) == SlotsOut().dump(answer)
    empty = Slots(start, start + timedelta(hours=1), 30, 15, "UTC", 2, [])
    assert orjson.loads(slots_json(empty)) == SlotsOut().dump(empty)


def test_slot_times_are_formatted_as_every_other_time():
    # slots_json formats from cached date and clock parts: the same text as format_time,
    # before 1970 and after, at any millisecond, on and off a grid.
    rng = random.Random(20261206)
    base = datetime(1950, 1, 1, tzinfo=UTC)
    moments = [base + timedelta(microseconds=rng.randrange(0, 10**17)) for _ in range(20_000)]
    moments += [
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    assert [_utc(moment) for moment in moments] == [format_time(moment) for moment in moments]
