"""Property-based tests generated from the OpenAPI document (schemathesis): whatever a client
sends, no 5xx, and every response matches the documented status codes, content type and schema.
Derandomized, so a failure found once is found again.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# What the issue asks of every answer: no server error, and the documented status codes,
# content type, headers and schema. (Whether the service is stricter or more lenient than the
# document's types, e.g. accepting "2026-12-01 09:00" beside RFC 3339, is the schema tests' job.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

in_process = schemathesis.pytest.from_fixture("app_schema")
over_http = schemathesis.pytest.from_fixture("live_schema")


@pytest.fixture
def app_schema(app, clean):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture
def live_schema(live):
    return schemathesis.openapi.from_url(f"{live}/api/openapi.json")


@in_process.parametrize()
@FUZZ
def test_app_answers_every_generated_request_as_documented(case):
    case.call_and_validate(checks=CHECKS)


@over_http.parametrize()
@settings(FUZZ, max_examples=10)
@pytest.mark.live
def test_live_gunicorn_answers_generated_requests_as_documented(case):
    case.call_and_validate(checks=CHECKS)
