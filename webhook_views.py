"""The `/webhooks` operations: subscribe, list, show, delete, enable, and the delivery history.

Routes only, as in views.py: parse (smorest, through webhook_schemas.py), one call into
`webhooks.py`, return; an unknown id leaves as `domain.WebhookNotFound` through errors.py's
table. The URL is checked against the deployment's policy (`urlpolicy`) here, where it is
accepted; the dispatcher checks it again, resolved, at every delivery.
"""

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

import webhooks
from database import db
from openapi import SesameBlueprint
from urlpolicy import UrlPolicy, UrlRefused, check_url
from webhook_schemas import (
    DeliveriesQuery,
    DeliveryOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)

blp = SesameBlueprint(
    "webhooks",
    __name__,
    description="Signed webhooks: every change pushed to your URL, in order, at least once.",
)
BAD_INPUT = {400: "`validation_failed`: a URL the service may not send to, or a bad pattern."}
BODY_ERRORS = {
    **BAD_INPUT,
    413: "The body is larger than MAX_BODY_BYTES.",
    415: "The body is not JSON.",
}
UNKNOWN = {404: "No webhook has this id."}
EXAMPLE = {"url": "https://crm.example.com/hooks/sesame", "calendars": ["room-1", "clinic-a-*"]}


@blp.route("/webhooks", methods=["POST"])
@blp.operation("createWebhook", "Subscribe a URL to changes", errors=(503,), more=BODY_ERRORS)
@blp.arguments(WebhookIn, example=EXAMPLE)
@blp.response(201, WebhookCreatedOut, description="Subscribed; the secret is shown only now.")
def create_webhook(body: dict[str, Any]) -> Any:
    """Every version of a matching appointment from now on is POSTed to `url`, signed with
    Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
    config = current_app.config
    policy = UrlPolicy(config["WEBHOOK_ALLOW_HTTP"], config["WEBHOOK_ALLOW_PRIVATE"])
    try:
        check_url(body["url"], policy)
    except UrlRefused as refused:
        # The parser's own 400 `validation_failed` (errors.http_error_response), on `url`.
        abort(400, messages={"json": {"url": [str(refused)]}})
    return webhooks.create(db.engine, **body), 201


@blp.route("/webhooks", methods=["GET"])
@blp.operation("listWebhooks", "Every subscription (without secrets)", errors=(503,))
@blp.response(200, WebhookOut(many=True))
def list_webhooks() -> Any:
    return webhooks.list_all(db.engine)


# One rule for both methods (see views.AppointmentById): odd ids meet one converter, 404.
@blp.route("/webhooks/<appointment_id:webhook_id>")
class WebhookById(MethodView):
    @blp.operation(
        "getWebhook", "One subscription (without its secret)", errors=(503,), more=UNKNOWN
    )
    @blp.response(200, WebhookOut)
    def get(self, webhook_id: int) -> Any:
        return webhooks.get(db.engine, webhook_id)

    @blp.operation(
        "deleteWebhook", "Unsubscribe: deliveries stop at once", errors=(503,), more=UNKNOWN
    )
    @blp.response(204, description="Deleted, with its delivery history.")
    def delete(self, webhook_id: int) -> Any:
        webhooks.delete(db.engine, webhook_id)
        return None


@blp.route("/webhooks/<appointment_id:webhook_id>/enable", methods=["POST"])
@blp.operation("enableWebhook", "Resume a failing subscription", errors=(503,), more=UNKNOWN)
@blp.response(200, WebhookOut)
def enable_webhook(webhook_id: int) -> Any:
    """Deliveries resume with the event that kept failing: nothing is skipped."""
    return webhooks.enable(db.engine, webhook_id)


@blp.route("/webhooks/<appointment_id:webhook_id>/deliveries", methods=["GET"])
@blp.operation(
    "listWebhookDeliveries",
    "The latest delivery attempts",
    errors=(400, 503),
    more=UNKNOWN,
)
@blp.arguments(DeliveriesQuery, location="query")
@blp.response(200, DeliveryOut(many=True))
def list_deliveries(query: dict[str, Any], webhook_id: int) -> Any:
    """Newest first: each attempt, its answer or error, and when the next one is due."""
    return webhooks.attempts(db.engine, webhook_id, limit=query["limit"])
