from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.readiness_out_replicas import ReadinessOutReplicas


T = TypeVar("T", bound="ReadinessOut")


@_attrs_define
class ReadinessOut:
    """
    Attributes:
        status (str):  Example: ok.
        database (str | Unset):  Example: ok.
        replicas (ReadinessOutReplicas | Unset): Each read replica (DATABASE_REPLICA_URL), if any: `ok`, `lagging`
            (further behind than REPLICA_MAX_LAG_S) or `down`. Reads skip all but `ok` ones. Example: {'replica-1': 'ok'}.
        schema (str | Unset): Migration revision. Example: 0002.
    """

    status: str
    database: str | Unset = UNSET
    replicas: ReadinessOutReplicas | Unset = UNSET
    schema: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        status = self.status

        database = self.database

        replicas: dict[str, Any] | Unset = UNSET
        if not isinstance(self.replicas, Unset):
            replicas = self.replicas.to_dict()

        schema = self.schema

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
            }
        )
        if database is not UNSET:
            field_dict["database"] = database
        if replicas is not UNSET:
            field_dict["replicas"] = replicas
        if schema is not UNSET:
            field_dict["schema"] = schema

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.readiness_out_replicas import ReadinessOutReplicas  # noqa: PLC0415

        d = dict(src_dict)
        status = d.pop("status")

        database = d.pop("database", UNSET)

        _replicas = d.pop("replicas", UNSET)
        replicas: ReadinessOutReplicas | Unset
        if isinstance(_replicas, Unset):
            replicas = UNSET
        else:
            replicas = ReadinessOutReplicas.from_dict(_replicas)

        schema = d.pop("schema", UNSET)

        readiness_out = cls(
            status=status,
            database=database,
            replicas=replicas,
            schema=schema,
        )

        return readiness_out
