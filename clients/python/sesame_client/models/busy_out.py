from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="BusyOut")


@_attrs_define
class BusyOut:
    """
    Attributes:
        end (datetime.datetime):  Example: 2026-12-01T09:30:00.000Z.
        id (int):  Example: 42.
        start (datetime.datetime):  Example: 2026-12-01T09:00:00.000Z.
    """

    end: datetime.datetime
    id: int
    start: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        end = self.end.isoformat()

        id = self.id

        start = self.start.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "end": end,
                "id": id,
                "start": start,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        end = datetime.datetime.fromisoformat(d.pop("end"))

        id = d.pop("id")

        start = datetime.datetime.fromisoformat(d.pop("start"))

        busy_out = cls(
            end=end,
            id=id,
            start=start,
        )

        return busy_out
