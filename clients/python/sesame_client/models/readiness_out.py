from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ReadinessOut")


@_attrs_define
class ReadinessOut:
    """
    Attributes:
        status (str):  Example: ok.
        database (str | Unset):  Example: ok.
        schema (str | Unset): Migration revision. Example: 0002.
    """

    status: str
    database: str | Unset = UNSET
    schema: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        status = self.status

        database = self.database

        schema = self.schema

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
            }
        )
        if database is not UNSET:
            field_dict["database"] = database
        if schema is not UNSET:
            field_dict["schema"] = schema

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = d.pop("status")

        database = d.pop("database", UNSET)

        schema = d.pop("schema", UNSET)

        readiness_out = cls(
            status=status,
            database=database,
            schema=schema,
        )

        return readiness_out
