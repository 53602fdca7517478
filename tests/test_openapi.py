"""The OpenAPI document and the docs page, as a client or a person would fetch them."""

import re


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


def test_docs_page_loads_its_assets_from_the_service_not_a_cdn(client):
    assert client.get("/api").status_code in (301, 308)
    page = client.get("/api/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/api/assets/") for asset in assets)
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200, asset
    assert "http" not in page.replace('url: "/api/openapi.json"', "")
