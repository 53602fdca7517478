from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="FreeOut")


@_attrs_define
class FreeOut:
    """
    Attributes:
        end (datetime.datetime):  Example: 2026-12-02T00:00:00.000Z.
        start (datetime.datetime):  Example: 2026-12-01T09:30:00.000Z.
    """

    end: datetime.datetime
    start: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        end = self.end.isoformat()

        start = self.start.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "end": end,
                "start": start,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        end = datetime.datetime.fromisoformat(d.pop("end"))

        start = datetime.datetime.fromisoformat(d.pop("start"))

        free_out = cls(
            end=end,
            start=start,
        )

        return free_out
