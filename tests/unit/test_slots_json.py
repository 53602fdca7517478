"""The slots' JSON is built without marshmallow (calendars_schemas.slots_json): it must be what
the documented schema, SlotsOut, dumps, field for field and time for time."""

from datetime import UTC, datetime, timedelta

import orjson

from calendars_schemas import SlotsOut, slots_json
from domain import Slot, Slots


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
