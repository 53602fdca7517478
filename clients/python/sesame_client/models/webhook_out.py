from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.webhook_out_status import WebhookOutStatus

T = TypeVar("T", bound="WebhookOut")


@_attrs_define
class WebhookOut:
    """
    Attributes:
        calendars (list[str]): Calendars whose changes are sent: exact names, or patterns where `*` stands for any
            characters (`clinic-a-*`); `*` alone is every calendar. Example: ['room-1', 'clinic-a-*'].
        created_at (datetime.datetime):  Example: 2026-11-27T08:00:00.000Z.
        description (str):  Example: CRM sync.
        id (int):  Example: 1.
        status (WebhookOutStatus): `active`, or `failing`: deliveries failed for WEBHOOK_GIVE_UP_S and stopped; `POST
            /webhooks/{id}/enable` resumes them where they stopped. Example: active.
        url (str):  Example: https://crm.example.com/hooks/sesame.
    """

    calendars: list[str]
    created_at: datetime.datetime
    description: str
    id: int
    status: WebhookOutStatus
    url: str

    def to_dict(self) -> dict[str, Any]:
        calendars = self.calendars

        created_at = self.created_at.isoformat()

        description = self.description

        id = self.id

        status = self.status.value

        url = self.url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "calendars": calendars,
                "createdAt": created_at,
                "description": description,
                "id": id,
                "status": status,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        calendars = cast(list[str], d.pop("calendars"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        description = d.pop("description")

        id = d.pop("id")

        status = WebhookOutStatus(d.pop("status"))

        url = d.pop("url")

        webhook_out = cls(
            calendars=calendars,
            created_at=created_at,
            description=description,
            id=id,
            status=status,
            url=url,
        )

        return webhook_out
