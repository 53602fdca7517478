from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.appointment_in_status import AppointmentInStatus
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
        hold_for (int | Unset): With `status: held`: seconds the hold lasts, from when the server records it (1 to
            HOLD_MAX_S, 900 by default; default HOLD_DEFAULT_S, 300). Example: 300.
        status (AppointmentInStatus | Unset): `active` (default): a booking. `held`: a hold, which keeps the range for
            `holdFor` seconds, then expires by itself; confirm it by sending it again as `active`. Default:
            AppointmentInStatus.ACTIVE. Example: active.
    """

    created_at: str
    end: str
    id: int | str
    start: str
    updated_at: str
    calendar: str | Unset = "default"
    hold_for: int | Unset = UNSET
    status: AppointmentInStatus | Unset = AppointmentInStatus.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        end = self.end

        id: int | str
        id = self.id

        start = self.start

        updated_at = self.updated_at

        calendar = self.calendar

        hold_for = self.hold_for

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

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
        if hold_for is not UNSET:
            field_dict["holdFor"] = hold_for
        if status is not UNSET:
            field_dict["status"] = status

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

        hold_for = d.pop("holdFor", UNSET)

        _status = d.pop("status", UNSET)
        status: AppointmentInStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = AppointmentInStatus(_status)

        appointment_in = cls(
            created_at=created_at,
            end=end,
            id=id,
            start=start,
            updated_at=updated_at,
            calendar=calendar,
            hold_for=hold_for,
            status=status,
        )

        return appointment_in
