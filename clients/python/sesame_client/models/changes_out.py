from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.appointment_version_out import AppointmentVersionOut


T = TypeVar("T", bound="ChangesOut")


@_attrs_define
class ChangesOut:
    """
    Attributes:
        changes (list[AppointmentVersionOut]): Versions in commit-safe order; each exactly once.
        next_ (str): Pass as `since` to get what follows. Example: MTIzNC41Njc.
    """

    changes: list[AppointmentVersionOut]
    next_: str

    def to_dict(self) -> dict[str, Any]:
        changes = []
        for changes_item_data in self.changes:
            changes_item = changes_item_data.to_dict()
            changes.append(changes_item)

        next_ = self.next_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "changes": changes,
                "next": next_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.appointment_version_out import AppointmentVersionOut  # noqa: PLC0415

        d = dict(src_dict)
        changes = []
        _changes = d.pop("changes")
        for changes_item_data in _changes:
            changes_item = AppointmentVersionOut.from_dict(changes_item_data)

            changes.append(changes_item)

        next_ = d.pop("next")

        changes_out = cls(
            changes=changes,
            next_=next_,
        )

        return changes_out
