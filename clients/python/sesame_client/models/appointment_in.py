from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="AppointmentIn")


@_attrs_define
class AppointmentIn:
    """
    Attributes:
        created_at (str):  Example: 2026-11-26T08:00:00Z.
        end (str): Exclusive: the next appointment may start here. Example: 2026-12-01 09:30.
        id (int | str): Client-chosen id, 1 to 2^63-1. A string of digits is accepted too. Example: 42.
        start (str):  Example: 2026-12-01 09:00.
        updated_at (str): The client's own time of this change: the latest one wins. Example: 2026-11-26T08:00:00Z.
        calendar (str | Unset): The calendar the appointment books: a room, a person, a chair. Overlaps are refused
            within one calendar only. Default: 'default'. Example: room-1.
    """

    created_at: str
    end: str
    id: int | str
    start: str
    updated_at: str
    calendar: str | Unset = "default"

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        end = self.end

        id: int | str
        id = self.id

        start = self.start

        updated_at = self.updated_at

        calendar = self.calendar

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "createdAt": created_at,
                "end": end,
                "id": id,
                "start": start,
                "updatedAt": updated_at,
            }
        )
        if calendar is not UNSET:
            field_dict["calendar"] = calendar

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = d.pop("createdAt")

        end = d.pop("end")

        def _parse_id(data: object) -> int | str:
            return cast(int | str, data)

        id = _parse_id(d.pop("id"))

        start = d.pop("start")

        updated_at = d.pop("updatedAt")

        calendar = d.pop("calendar", UNSET)

        appointment_in = cls(
            created_at=created_at,
            end=end,
            id=id,
            start=start,
            updated_at=updated_at,
            calendar=calendar,
        )

        return appointment_in
