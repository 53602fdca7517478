"""The `/webhooks` operations: subscribe, list, show, delete, enable, and the delivery history.

Routes only, as in views.py: parse (smorest, through webhooks_schemas.py), one call into
`webhooks.py`, return; an unknown id leaves as `domain.WebhookNotFound` through errors.py's
table. The URL is checked against the deployment's policy (`webhooks_urls`) here, where it is
accepted; the dispatcher (webhooks_delivery.py) checks it again, resolved, each time it takes up the
subscription's events.

With API keys, only write keys manage webhooks, and only for calendars the key opens: a
subscription is the key's when every one of its patterns lies within the key's calendars
(`Access.opens` of the pattern itself: a key's `*` can stand for a pattern's `*`, a name
never can). Creating one for other calendars is 403 `forbidden`; another key's subscriptions
are not listed and answer 404 by id, exactly as an unknown id.
"""

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

import webhooks
from auth import access
from database import db
from domain import Access, Forbidden, WebhookNotFound
from openapi import WRITE, SesameBlueprint
from webhooks_schemas import (
    DeliveriesQuery,
    DeliveryOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)
from webhooks_urls import UrlPolicy, UrlRefused, check_url

blp = SesameBlueprint(
    "webhooks",
    __name__,
    description="Signed webhooks: every change pushed to your URL, in order, at least once.",
)
BAD_INPUT = {400: "`validation_failed`: a URL the service may not send to, or a bad pattern."}
BODY_ERRORS = {
    **BAD_INPUT,
    403: "`forbidden`: a read key, or a pattern outside the key's calendars.",
    413: "The body is larger than MAX_BODY_BYTES.",
    415: "The body is not JSON.",
}
UNKNOWN = {
    404: "No webhook has this id (or none the API key opens).",
    403: "`forbidden`: a read key.",
}


def _manager() -> Access:
    """The request's access, if it may manage webhooks at all: a write key (or open mode)."""
    granted = access()
    if not granted.write:
        raise Forbidden()
    return granted


def _within(granted: Access, calendars: list[str]) -> bool:
    return all(granted.opens(pattern) for pattern in calendars)


def _subscription(webhook_id: int) -> webhooks.Subscription:
    """The subscription if this key may see it; otherwise not found, as an unknown id."""
    granted = _manager()
    found = webhooks.get(db.engine, webhook_id)
    if not _within(granted, found.calendars):
        raise WebhookNotFound()
    return found


EXAMPLE = {"url": "https://crm.example.com/hooks/sesame", "calendars": ["room-1", "clinic-a-*"]}


@blp.route("/webhooks", methods=["POST"])
@blp.operation(
    "createWebhook", "Subscribe a URL to changes", errors=(503,), more=BODY_ERRORS, scope=WRITE
)
@blp.arguments(WebhookIn, example=EXAMPLE)
@blp.response(201, WebhookCreatedOut, description="Subscribed; the secret is shown only now.")
def create_webhook(body: dict[str, Any]) -> Any:
    """Every version of a matching appointment from now on is POSTed to `url`, signed with
    Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
    if not _within(_manager(), body["calendars"]):
        raise Forbidden()
    try:
        check_url(body["url"], UrlPolicy.from_config(current_app.config))
    except UrlRefused as refused:
        # The parser's own 400 `validation_failed` (errors.http_error_response), on `url`.
        abort(400, messages={"json": {"url": [str(refused)]}})
    return webhooks.create(db.engine, **body), 201


@blp.route("/webhooks", methods=["GET"])
@blp.operation(
    "listWebhooks",
    "Every subscription (without secrets)",
    errors=(503,),
    more={403: "`forbidden`: a read key."},
    scope=WRITE,
)
@blp.response(200, WebhookOut(many=True))
def list_webhooks() -> Any:
    """The subscriptions the API key may manage: all of them in open mode."""
    granted = _manager()
    return [found for found in webhooks.list_all(db.engine) if _within(granted, found.calendars)]


# One rule for both methods (see views.AppointmentById): odd ids meet one converter, 404.
@blp.route("/webhooks/<id:webhook_id>")
class WebhookById(MethodView):
    @blp.operation(
        "getWebhook",
        "One subscription (without its secret)",
        errors=(503,),
        more=UNKNOWN,
        scope=WRITE,
    )
    @blp.response(200, WebhookOut)
    def get(self, webhook_id: int) -> Any:
        return _subscription(webhook_id)

    @blp.operation(
        "deleteWebhook",
        "Unsubscribe: deliveries stop at once",
        errors=(503,),
        more=UNKNOWN,
        scope=WRITE,
    )
    @blp.response(204, description="Deleted, with its delivery history.")
    def delete(self, webhook_id: int) -> Any:
        webhooks.delete(db.engine, _subscription(webhook_id).id)
        return None


@blp.route("/webhooks/<id:webhook_id>/enable", methods=["POST"])
@blp.operation(
    "enableWebhook", "Resume a failing subscription", errors=(503,), more=UNKNOWN, scope=WRITE
)
@blp.response(200, WebhookOut)
def enable_webhook(webhook_id: int) -> Any:
    """Deliveries resume with the event that kept failing: nothing is skipped."""
    return webhooks.enable(db.engine, _subscription(webhook_id).id)


@blp.route("/webhooks/<id:webhook_id>/deliveries", methods=["GET"])
@blp.operation(
    "listWebhookDeliveries",
    "The latest delivery attempts",
    errors=(400, 503),
    more=UNKNOWN,
    scope=WRITE,
)
@blp.arguments(DeliveriesQuery, location="query")
@blp.response(200, DeliveryOut(many=True))
def list_deliveries(query: dict[str, Any], webhook_id: int) -> Any:
    """Newest first: each attempt, its answer or error, and when the next one is due."""
    return webhooks.attempts(db.engine, _subscription(webhook_id).id, limit=query["limit"])
