from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.appointment_version_out_status import AppointmentVersionOutStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="AppointmentVersionOut")


@_attrs_define
class AppointmentVersionOut:
    """
    Attributes:
        calendar (str):  Example: room-1.
        created_at (datetime.datetime):  Example: 2026-11-26T08:00:00.000Z.
        end (datetime.datetime):  Example: 2026-12-01T09:30:00.000Z.
        id (int):  Example: 42.
        recorded_at (datetime.datetime): Server time this version was written. Example: 2026-11-26T08:00:01.234Z.
        recorded_by (None | str): The name of the API key that wrote this version; null when the API was open (no keys).
            Example: clinic-a.
        start (datetime.datetime):  Example: 2026-12-01T09:00:00.000Z.
        status (AppointmentVersionOutStatus): `active`; `cancelled` (the slot is free); `held` (kept until `expiresAt`);
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
    recorded_at: datetime.datetime
    recorded_by: None | str
    start: datetime.datetime
    status: AppointmentVersionOutStatus
    updated_at: datetime.datetime
    version: int
    expires_at: datetime.datetime | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        calendar = self.calendar

        created_at = self.created_at.isoformat()

        end = self.end.isoformat()

        id = self.id

        recorded_at = self.recorded_at.isoformat()

        recorded_by: None | str
        recorded_by = self.recorded_by

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
                "recordedAt": recorded_at,
                "recordedBy": recorded_by,
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

        recorded_at = datetime.datetime.fromisoformat(d.pop("recordedAt"))

        def _parse_recorded_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        recorded_by = _parse_recorded_by(d.pop("recordedBy"))

        start = datetime.datetime.fromisoformat(d.pop("start"))

        status = AppointmentVersionOutStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        version = d.pop("version")

        _expires_at = d.pop("expiresAt", UNSET)
        expires_at: datetime.datetime | Unset
        if isinstance(_expires_at, Unset):
            expires_at = UNSET
        else:
            expires_at = datetime.datetime.fromisoformat(_expires_at)

        appointment_version_out = cls(
            calendar=calendar,
            created_at=created_at,
            end=end,
            id=id,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            start=start,
            status=status,
            updated_at=updated_at,
            version=version,
            expires_at=expires_at,
        )

        return appointment_version_out
