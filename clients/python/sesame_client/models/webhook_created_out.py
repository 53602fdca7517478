from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.webhook_created_out_status import WebhookCreatedOutStatus

T = TypeVar("T", bound="WebhookCreatedOut")


@_attrs_define
class WebhookCreatedOut:
    """
    Attributes:
        calendars (list[str]): Calendars whose changes are sent: exact names, or patterns where `*` stands for any
            characters (`clinic-a-*`); `*` alone is every calendar. Example: ['room-1', 'clinic-a-*'].
        created_at (datetime.datetime):  Example: 2026-11-27T08:00:00.000Z.
        description (str):  Example: CRM sync.
        id (int):  Example: 1.
        secret (str): The Standard Webhooks signing secret. Shown only in this answer: keep it to verify the `webhook-
            signature` of every delivery. Example: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw.
        status (WebhookCreatedOutStatus): `active`, or `failing`: deliveries failed for WEBHOOK_GIVE_UP_S and stopped;
            `POST /webhooks/{id}/enable` resumes them where they stopped. Example: active.
        url (str):  Example: https://crm.example.com/hooks/sesame.
    """

    calendars: list[str]
    created_at: datetime.datetime
    description: str
    id: int
    secret: str
    status: WebhookCreatedOutStatus
    url: str

    def to_dict(self) -> dict[str, Any]:
        calendars = self.calendars

        created_at = self.created_at.isoformat()

        description = self.description

        id = self.id

        secret = self.secret

        status = self.status.value

        url = self.url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "calendars": calendars,
                "createdAt": created_at,
                "description": description,
                "id": id,
                "secret": secret,
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

        secret = d.pop("secret")

        status = WebhookCreatedOutStatus(d.pop("status"))

        url = d.pop("url")

        webhook_created_out = cls(
            calendars=calendars,
            created_at=created_at,
            description=description,
            id=id,
            secret=secret,
            status=status,
            url=url,
        )

        return webhook_created_out
