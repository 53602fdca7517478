from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookIn")


@_attrs_define
class WebhookIn:
    """
    Attributes:
        url (str): Where events are POSTed: https, to a public address (unless the deployment sets WEBHOOK_ALLOW_HTTP /
            WEBHOOK_ALLOW_PRIVATE), with a host, without credentials or a #fragment. Example:
            https://crm.example.com/hooks/sesame.
        calendars (list[str] | Unset): Calendars whose changes are sent: exact names, or patterns where `*` stands for
            any characters (`clinic-a-*`); `*` alone is every calendar. Example: ['room-1', 'clinic-a-*'].
        description (str | Unset):  Default: ''. Example: CRM sync.
    """

    url: str
    calendars: list[str] | Unset = UNSET
    description: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        calendars: list[str] | Unset = UNSET
        if not isinstance(self.calendars, Unset):
            calendars = self.calendars

        description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
            }
        )
        if calendars is not UNSET:
            field_dict["calendars"] = calendars
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        url = d.pop("url")

        calendars = cast(list[str], d.pop("calendars", UNSET))

        description = d.pop("description", UNSET)

        webhook_in = cls(
            url=url,
            calendars=calendars,
            description=description,
        )

        return webhook_in
