"""The OpenAPI document and the docs page, as a client or a person would fetch them."""

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from sesame import __version__


def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                yield path, method, operation


def test_document_lists_every_operation_with_an_operation_id(client):
    spec = document(client)
    assert spec["openapi"].startswith("3.0")
    assert "overlap" in spec["info"]["description"]
    ids = {(path, method): op["operationId"] for path, method, op in operations(spec)}
    assert ids == {
        ("/appointments", "post"): "createOrUpdateAppointment",
        ("/appointments", "get"): "listAppointments",
        ("/appointments/{appointment_id}", "get"): "getAppointment",
        ("/appointments/{appointment_id}/history", "get"): "getAppointmentHistory",
        ("/appointments/{appointment_id}", "delete"): "cancelAppointment",
        ("/appointments.ics", "get"): "getAppointmentsCalendar",
        ("/changes", "get"): "listChanges",
        ("/availability", "get"): "getAvailability",
        ("/health", "get"): "getHealth",
        ("/health/ready", "get"): "getReadiness",
        ("/webhooks", "post"): "createWebhook",
        ("/webhooks", "get"): "listWebhooks",
        ("/webhooks/{webhook_id}", "get"): "getWebhook",
        ("/webhooks/{webhook_id}", "delete"): "deleteWebhook",
        ("/webhooks/{webhook_id}/enable", "post"): "enableWebhook",
        ("/webhooks/{webhook_id}/deliveries", "get"): "listWebhookDeliveries",
        ("/calendars", "get"): "listCalendars",
        ("/calendars/{calendar}", "get"): "getCalendar",
        ("/calendars/{calendar}", "put"): "putCalendar",
        ("/slots", "get"): "getSlots",
    }


def test_every_error_response_uses_the_error_schema(client):
    spec = document(client)
    documented = {}
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, status)
                documented.setdefault((path, method), set()).add(status)
    assert documented[("/appointments", "post")] >= {"400", "409", "413", "415", "503"}
    assert documented[("/appointments/{appointment_id}", "get")] >= {"404", "503"}
    error = spec["components"]["schemas"]["ErrorOut"]["properties"]
    assert {"statusCode", "error", "message", "timestamp", "errors", "conflicts"} <= set(error)


def test_create_operation_has_a_valid_example_body(client):
    spec = document(client)
    body = spec["paths"]["/appointments"]["post"]["requestBody"]["content"]["application/json"]
    example = body["example"]
    assert client.post("/appointments", json=example).status_code == 201


def test_the_documented_headers_of_a_create_are_the_ones_it_sends(client):
    create = document(client)["paths"]["/appointments"]["post"]["responses"]
    assert set(create["201"]["headers"]) == {"Location", "ETag"}
    assert set(create["200"]["headers"]) == {"ETag"}
    example = document(client)["paths"]["/appointments"]["post"]["requestBody"]
    sent = client.post("/appointments", json=example["content"]["application/json"]["example"])
    assert sent.status_code == 201 and {"Location", "ETag"} <= set(sent.headers.keys())


def test_docs_page_loads_its_assets_from_the_service_not_a_cdn(client):
    assert client.get("/api").status_code in (301, 308)
    page = client.get("/api/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/api/assets/") for asset in assets)
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200, asset
    assert "http" not in page.replace('url: "/api/openapi.json"', "")


def test_document_validates_with_openapi_spec_validator(client):
    validate(document(client))


def test_every_operation_has_a_summary_and_info_states_the_guarantees(client):
    spec = document(client)
    for path, method, operation in operations(spec):
        assert operation.get("summary"), (path, method)
    assert spec["info"]["version"] == __version__
    description = spec["info"]["description"]
    assert description.count(". ") + 1 == 2 and description.endswith(".")
    assert "overlap" in description and "latest" in description


def test_every_error_response_is_documented_in_both_formats(client):
    spec = document(client)
    for path, method, operation in operations(spec):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "500" in errors, (path, method)
        if not path.startswith("/health"):
            assert {"401", "429", "503"} <= set(errors), (path, method)
        for status, response in errors.items():
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/ProblemOut"
            }, (path, method, status)
    assert "default" not in str([op["responses"] for _, _, op in operations(spec)])


def resolve(node, spec):
    """The document with every $ref replaced by what it points at (it has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, spec)
        return {key: resolve(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, spec) for item in node]
    return node


def examples(node, where="#"):
    """Every (schema, example, location) pair: property-level and media-type examples."""
    if isinstance(node, dict):
        if "example" in node:
            schema = node.get("schema", node)
            yield {k: v for k, v in schema.items() if k != "example"}, node["example"], where
        for key, value in node.items():
            yield from examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from examples(item, f"{where}/{index}")


def test_every_example_validates_against_the_schema_it_illustrates(client):
    spec = resolve(document(client), document(client))
    found = list(examples(spec))
    assert len(found) > 40
    for schema, example, where in found:
        errors = list(OAS30Validator(schema).iter_errors(example))
        assert not errors, (where, example, errors[0].message)


def test_problem_details_for_clients_that_ask_for_them(client):
    asked = {"Accept": "application/problem+json"}
    response = client.get("/appointments?limit=0", headers=asked)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "urn:sesame:problem:validation_failed"
    assert body["title"] and body["status"] == 400 and body["detail"]
    assert body["instance"] == "/appointments"
    assert body["error"] == "validation_failed" and "limit" in body["errors"]
    missing = client.get("/appointments/99", headers=asked)
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 404


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "application/json, application/problem+json;q=0.5"]
)
def test_other_clients_get_the_seed_error_format(client, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/appointments?limit=0", headers=headers)
    assert response.mimetype == "application/json"
    assert set(response.get_json()) >= {"statusCode", "error", "message", "timestamp"}
