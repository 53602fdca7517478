from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.busy_out import BusyOut
    from ..models.free_out import FreeOut


T = TypeVar("T", bound="AvailabilityOut")


@_attrs_define
class AvailabilityOut:
    """
    Attributes:
        busy (list[BusyOut]):
        calendar (str):  Example: room-1.
        closed (list[FreeOut]): Outside the calendar's open time (and not busy); empty for a calendar without hours.
            Busy, free and closed tile the window.
        free (list[FreeOut]):
        from_ (datetime.datetime):  Example: 2026-12-01T00:00:00.000Z.
        to (datetime.datetime):  Example: 2026-12-02T00:00:00.000Z.
    """

    busy: list[BusyOut]
    calendar: str
    closed: list[FreeOut]
    free: list[FreeOut]
    from_: datetime.datetime
    to: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        busy = []
        for busy_item_data in self.busy:
            busy_item = busy_item_data.to_dict()
            busy.append(busy_item)

        calendar = self.calendar

        closed = []
        for closed_item_data in self.closed:
            closed_item = closed_item_data.to_dict()
            closed.append(closed_item)

        free = []
        for free_item_data in self.free:
            free_item = free_item_data.to_dict()
            free.append(free_item)

        from_ = self.from_.isoformat()

        to = self.to.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "busy": busy,
                "calendar": calendar,
                "closed": closed,
                "free": free,
                "from": from_,
                "to": to,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.busy_out import BusyOut  # noqa: PLC0415
        from ..models.free_out import FreeOut  # noqa: PLC0415

        d = dict(src_dict)
        busy = []
        _busy = d.pop("busy")
        for busy_item_data in _busy:
            busy_item = BusyOut.from_dict(busy_item_data)

            busy.append(busy_item)

        calendar = d.pop("calendar")

        closed = []
        _closed = d.pop("closed")
        for closed_item_data in _closed:
            closed_item = FreeOut.from_dict(closed_item_data)

            closed.append(closed_item)

        free = []
        _free = d.pop("free")
        for free_item_data in _free:
            free_item = FreeOut.from_dict(free_item_data)

            free.append(free_item)

        from_ = datetime.datetime.fromisoformat(d.pop("from"))

        to = datetime.datetime.fromisoformat(d.pop("to"))

        availability_out = cls(
            busy=busy,
            calendar=calendar,
            closed=closed,
            free=free,
            from_=from_,
            to=to,
        )

        return availability_out
