"""The /webhooks API through Flask's client: subscribe, read, delete, enable, and the URLs and
patterns refused where they are accepted. Nothing here sends a webhook or resolves a name."""

import pytest
from standardwebhooks.webhooks import Webhook


@pytest.fixture
def hooks(client, no_webhooks):
    """Flask's client, then the live gunicorn (tests/http/conftest.py), with no subscription."""
    return client


def test_subscribe_answers_201_with_a_standard_webhooks_secret_shown_once(hooks):
    created = hooks.post(
        "/webhooks",
        json={"url": "https://crm.example.com/hook", "calendars": ["room-1", "clinic-a-*"]},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["status"] == "active"
    assert body["calendars"] == ["room-1", "clinic-a-*"]
    assert body["description"] == ""
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # the library takes it as it is
    shown = hooks.get(f"/webhooks/{body['id']}").get_json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in body.items() if k != "secret"}
    assert [w["id"] for w in hooks.get("/webhooks").get_json()] == [body["id"]]
    assert all("secret" not in w for w in hooks.get("/webhooks").get_json())


def test_calendars_default_to_every_calendar(hooks):
    body = hooks.post("/webhooks", json={"url": "https://a.example/h"}).get_json()
    assert body["calendars"] == ["*"]


def test_delete_answers_204_then_the_id_is_unknown(hooks):
    webhook_id = hooks.post("/webhooks", json={"url": "https://a.example/h"}).get_json()["id"]
    assert hooks.delete(f"/webhooks/{webhook_id}").status_code == 204
    for response in (
        hooks.get(f"/webhooks/{webhook_id}"),
        hooks.delete(f"/webhooks/{webhook_id}"),
        hooks.post(f"/webhooks/{webhook_id}/enable"),
        hooks.get(f"/webhooks/{webhook_id}/deliveries"),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"
        assert response.get_json()["message"] == "No webhook has this id."


@pytest.mark.parametrize("webhook_id", ["999", "abc", "-1", "99999999999999999999"])
def test_unknown_or_odd_ids_answer_404(hooks, webhook_id):
    assert hooks.get(f"/webhooks/{webhook_id}").status_code == 404


def test_enable_and_deliveries_of_a_new_subscription(hooks):
    webhook_id = hooks.post("/webhooks", json={"url": "https://a.example/h"}).get_json()["id"]
    enabled = hooks.post(f"/webhooks/{webhook_id}/enable")
    assert enabled.status_code == 200 and enabled.get_json()["status"] == "active"
    assert hooks.get(f"/webhooks/{webhook_id}/deliveries?limit=5").get_json() == []
    assert hooks.get(f"/webhooks/{webhook_id}/deliveries?limit=0").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hook",
        "https://127.0.0.1/hook",
        "https://127.1.2.3:8443/hook",
        "https://10.1.2.3/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://user:pass@crm.example.com/hook",
        "ftp://crm.example.com/hook",
        "https:///hook",
        "not a url",
        "https://crm.example.com/hook#x",
    ],
)
def test_urls_refused_by_default_answer_400_on_the_url(hooks, url):
    response = hooks.post("/webhooks", json={"url": url})
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_failed"
    assert list(response.get_json()["errors"]) == ["url"]
    assert hooks.get("/webhooks").get_json() == []


@pytest.mark.parametrize("calendars", [[], ["room 1"], ["a" * 65], ["%"], "room-1", [1]])
def test_bad_calendar_patterns_answer_400(hooks, calendars):
    response = hooks.post("/webhooks", json={"url": "https://a.example/h", "calendars": calendars})
    assert response.status_code == 400
    assert "calendars" in response.get_json()["errors"]


def test_http_and_private_addresses_when_the_deployment_allows_them(make_app, no_webhooks):
    local = make_app(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE="1").test_client()
    for url in ("http://127.0.0.1:8080/hook", "http://10.0.0.5/hook", "https://[::1]/hook"):
        assert local.post("/webhooks", json={"url": url}).status_code == 201, url
    only_http = make_app(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE="0").test_client()
    assert only_http.post("/webhooks", json={"url": "http://a.example/h"}).status_code == 201
    assert only_http.post("/webhooks", json={"url": "http://127.0.0.1/h"}).status_code == 400


def test_a_malformed_ipv6_url_is_refused_as_invalid_not_a_500(client):
    response = client.post("/webhooks", json={"url": "https://[abc/hook"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_failed"
