"""The wire format of `/webhooks`: what a client sends to subscribe and what it reads back.

The URL is checked here for shape only; whether Sesame may send to it (scheme, address) is
`webhooks_urls`' call, made by the view with the deployment's settings. Never touches the database.
"""

from marshmallow import Schema, ValidationError, fields, validate

from domain import CALENDAR_PATTERN
from schemas import QueryInteger, UtcTime
from webhooks import EVENT_TYPES, FAILING
from webhooks_urls import MAX_URL_LENGTH

# What the document can say of an accepted URL: http(s) in lower case, then printable ASCII
# without spaces. The rest (a host, no credentials or #fragment, and whether http or a private
# address is allowed, which is the deployment's choice) is webhooks_urls', and said in words.
URL_PATTERN = r"^https?://[!-~]+$"


def validate_pattern(value: str) -> None:
    if not CALENDAR_PATTERN.fullmatch(value):
        raise ValidationError(
            "Must be a calendar name or a pattern with `*`: 1 to 64 characters from "
            "A-Z, a-z, 0-9, '.', '_', '-', '*'."
        )


_CALENDARS_DOC = {
    "description": "Calendars whose changes are sent: exact names, or patterns where `*` "
    "stands for any characters (`clinic-a-*`); `*` alone is every calendar.",
    "example": ["room-1", "clinic-a-*"],
}


class WebhookIn(Schema):
    """Body of `POST /webhooks`."""

    url = fields.String(
        required=True,
        validate=validate.Length(1, MAX_URL_LENGTH),
        metadata={
            "description": "Where events are POSTed: https, to a public address (unless the "
            "deployment sets WEBHOOK_ALLOW_HTTP / WEBHOOK_ALLOW_PRIVATE), with a host, without "
            "credentials or a #fragment.",
            "pattern": URL_PATTERN,
            "example": "https://crm.example.com/hooks/sesame",
        },
    )
    calendars = fields.List(
        fields.String(
            validate=validate_pattern, metadata={"pattern": f"^{CALENDAR_PATTERN.pattern}$"}
        ),
        load_default=lambda: ["*"],
        validate=validate.Length(1, 50),
        metadata=_CALENDARS_DOC,
    )
    description = fields.String(
        load_default="",
        validate=validate.Length(0, 500),
        metadata={"example": "CRM sync"},
    )


class WebhookOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 1})
    url = fields.String(required=True, metadata={"example": "https://crm.example.com/hooks/sesame"})
    calendars = fields.List(fields.String(), required=True, metadata=_CALENDARS_DOC)
    description = fields.String(required=True, metadata={"example": "CRM sync"})
    status = fields.String(
        required=True,
        metadata={
            "description": "`active`, or `failing`: deliveries failed for WEBHOOK_GIVE_UP_S and "
            "stopped; `POST /webhooks/{id}/enable` resumes them where they stopped.",
            "enum": ["active", FAILING],
            "example": "active",
        },
    )
    created_at = UtcTime(
        required=True, data_key="createdAt", metadata={"example": "2026-11-27T08:00:00.000Z"}
    )


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(
        required=True,
        metadata={
            "description": "The Standard Webhooks signing secret. Shown only in this answer: "
            "keep it to verify the `webhook-signature` of every delivery.",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
    )


class DeliveriesQuery(Schema):
    limit = QueryInteger(load_default=20, validate=validate.Range(1, 100))


class DeliveryOut(Schema):
    """One attempt to deliver one event."""

    event_id = fields.String(
        required=True,
        data_key="eventId",
        metadata={
            "description": "The `webhook-id` header: the same on every attempt of this event.",
            "example": "msg_1_42_3",
        },
    )
    type = fields.String(
        required=True, metadata={"enum": list(EVENT_TYPES), "example": "appointment.updated"}
    )
    appointment_id = fields.Integer(
        required=True, data_key="appointmentId", metadata={"example": 42}
    )
    version = fields.Integer(required=True, metadata={"example": 3})
    attempt = fields.Integer(
        required=True, metadata={"description": "1 for the first try.", "example": 1}
    )
    status = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The receiver's HTTP status; null if none came.", "example": 200},
    )
    error = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why it failed; null if delivered.", "example": "HTTP 500"},
    )
    attempted_at = UtcTime(
        required=True, data_key="attemptedAt", metadata={"example": "2026-11-27T08:00:01.000Z"}
    )
    next_attempt_at = UtcTime(
        required=True,
        allow_none=True,
        data_key="nextAttemptAt",
        metadata={
            "description": "After a failure: when the same event is tried again (null if "
            "delivered, or if the subscription gave up).",
            "example": "2026-11-27T08:00:03.000Z",
        },
    )
