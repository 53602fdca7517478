from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="SlotOut")


@_attrs_define
class SlotOut:
    """
    Attributes:
        calendars (list[str]): The calendars free for it, sorted. Example: ['dr-lee'].
        end (datetime.datetime):  Example: 2027-03-01T08:30:00.000Z.
        start (datetime.datetime):  Example: 2027-03-01T08:00:00.000Z.
    """

    calendars: list[str]
    end: datetime.datetime
    start: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        calendars = self.calendars

        end = self.end.isoformat()

        start = self.start.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "calendars": calendars,
                "end": end,
                "start": start,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calendars = cast(list[str], d.pop("calendars"))

        end = datetime.datetime.fromisoformat(d.pop("end"))

        start = datetime.datetime.fromisoformat(d.pop("start"))

        slot_out = cls(
            calendars=calendars,
            end=end,
            start=start,
        )

        return slot_out
