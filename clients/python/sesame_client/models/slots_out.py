from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.slot_out import SlotOut


T = TypeVar("T", bound="SlotsOut")


@_attrs_define
class SlotsOut:
    """
    Attributes:
        duration (int):  Example: 30.
        from_ (datetime.datetime):  Example: 2027-03-01T00:00:00.000Z.
        interval (int):  Example: 15.
        required (int):  Example: 1.
        slots (list[SlotOut]):
        time_zone (str): An IANA time zone name. Example: America/New_York.
        to (datetime.datetime):  Example: 2027-03-08T00:00:00.000Z.
    """

    duration: int
    from_: datetime.datetime
    interval: int
    required: int
    slots: list[SlotOut]
    time_zone: str
    to: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        duration = self.duration

        from_ = self.from_.isoformat()

        interval = self.interval

        required = self.required

        slots = []
        for slots_item_data in self.slots:
            slots_item = slots_item_data.to_dict()
            slots.append(slots_item)

        time_zone = self.time_zone

        to = self.to.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "duration": duration,
                "from": from_,
                "interval": interval,
                "required": required,
                "slots": slots,
                "timeZone": time_zone,
                "to": to,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.slot_out import SlotOut  # noqa: PLC0415

        d = dict(src_dict)
        duration = d.pop("duration")

        from_ = datetime.datetime.fromisoformat(d.pop("from"))

        interval = d.pop("interval")

        required = d.pop("required")

        slots = []
        _slots = d.pop("slots")
        for slots_item_data in _slots:
            slots_item = SlotOut.from_dict(slots_item_data)

            slots.append(slots_item)

        time_zone = d.pop("timeZone")

        to = datetime.datetime.fromisoformat(d.pop("to"))

        slots_out = cls(
            duration=duration,
            from_=from_,
            interval=interval,
            required=required,
            slots=slots,
            time_zone=time_zone,
            to=to,
        )

        return slots_out
