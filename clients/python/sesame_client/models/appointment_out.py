from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.appointment_out_status import AppointmentOutStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="AppointmentOut")


@_attrs_define
class AppointmentOut:
    """
    Attributes:
        calendar (str):  Example: room-1.
        created_at (datetime.datetime):  Example: 2026-11-26T08:00:00.000Z.
        end (datetime.datetime):  Example: 2026-12-01T09:30:00.000Z.
        id (int):  Example: 42.
        start (datetime.datetime):  Example: 2026-12-01T09:00:00.000Z.
        status (AppointmentOutStatus): `active`; `cancelled` (the slot is free); `held` (kept until `expiresAt`);
            `expired` (a hold that ran out: the slot is free). Example: active.
        updated_at (datetime.datetime):  Example: 2026-11-26T08:00:00.000Z.
        version (int): 1 on creation, +1 per change.
        expires_at (datetime.datetime | Unset): Holds only: when the hold stops keeping its range (server time).
            Example: 2026-11-26T08:05:00.000Z.
    """

    calendar: str
    created_at: datetime.datetime
    end: datetime.datetime
    id: int
    start: datetime.datetime
    status: AppointmentOutStatus
    updated_at: datetime.datetime
    version: int
    expires_at: datetime.datetime | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        calendar = self.calendar

        created_at = self.created_at.isoformat()

        end = self.end.isoformat()

        id = self.id

        start = self.start.isoformat()

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        version = self.version

        expires_at: str | Unset = UNSET
        if not isinstance(self.expires_at, Unset):
            expires_at = self.expires_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "calendar": calendar,
                "createdAt": created_at,
                "end": end,
                "id": id,
                "start": start,
                "status": status,
                "updatedAt": updated_at,
                "version": version,
            }
        )
        if expires_at is not UNSET:
            field_dict["expiresAt"] = expires_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calendar = d.pop("calendar")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        end = datetime.datetime.fromisoformat(d.pop("end"))

        id = d.pop("id")

        start = datetime.datetime.fromisoformat(d.pop("start"))

        status = AppointmentOutStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        version = d.pop("version")

        _expires_at = d.pop("expiresAt", UNSET)
        expires_at: datetime.datetime | Unset
        if isinstance(_expires_at, Unset):
            expires_at = UNSET
        else:
            expires_at = datetime.datetime.fromisoformat(_expires_at)

        appointment_out = cls(
            calendar=calendar,
            created_at=created_at,
            end=end,
            id=id,
            start=start,
            status=status,
            updated_at=updated_at,
            version=version,
            expires_at=expires_at,
        )

        return appointment_out
