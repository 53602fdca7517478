from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.delivery_out_type import DeliveryOutType

T = TypeVar("T", bound="DeliveryOut")


@_attrs_define
class DeliveryOut:
    """
    Attributes:
        appointment_id (int):  Example: 42.
        attempt (int): 1 for the first try. Example: 1.
        attempted_at (datetime.datetime):  Example: 2026-11-27T08:00:01.000Z.
        error (None | str): Why it failed; null if delivered. Example: HTTP 500.
        event_id (str): The `webhook-id` header: the same on every attempt of this event. Example: msg_1_42_3.
        next_attempt_at (datetime.datetime | None): After a failure: when the same event is tried again (null if
            delivered, or if the subscription gave up). Example: 2026-11-27T08:00:03.000Z.
        status (int | None): The receiver's HTTP status; null if none came. Example: 200.
        type_ (DeliveryOutType):  Example: appointment.updated.
        version (int):  Example: 3.
    """

    appointment_id: int
    attempt: int
    attempted_at: datetime.datetime
    error: None | str
    event_id: str
    next_attempt_at: datetime.datetime | None
    status: int | None
    type_: DeliveryOutType
    version: int

    def to_dict(self) -> dict[str, Any]:
        appointment_id = self.appointment_id

        attempt = self.attempt

        attempted_at = self.attempted_at.isoformat()

        error: None | str
        error = self.error

        event_id = self.event_id

        next_attempt_at: None | str
        if isinstance(self.next_attempt_at, datetime.datetime):
            next_attempt_at = self.next_attempt_at.isoformat()
        else:
            next_attempt_at = self.next_attempt_at

        status: int | None
        status = self.status

        type_ = self.type_.value

        version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "appointmentId": appointment_id,
                "attempt": attempt,
                "attemptedAt": attempted_at,
                "error": error,
                "eventId": event_id,
                "nextAttemptAt": next_attempt_at,
                "status": status,
                "type": type_,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        appointment_id = d.pop("appointmentId")

        attempt = d.pop("attempt")

        attempted_at = datetime.datetime.fromisoformat(d.pop("attemptedAt"))

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        event_id = d.pop("eventId")

        def _parse_next_attempt_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                next_attempt_at_type_0 = datetime.datetime.fromisoformat(data)

                return next_attempt_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("nextAttemptAt"))

        def _parse_status(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        status = _parse_status(d.pop("status"))

        type_ = DeliveryOutType(d.pop("type"))

        version = d.pop("version")

        delivery_out = cls(
            appointment_id=appointment_id,
            attempt=attempt,
            attempted_at=attempted_at,
            error=error,
            event_id=event_id,
            next_attempt_at=next_attempt_at,
            status=status,
            type_=type_,
            version=version,
        )

        return delivery_out
