"""Property-based tests generated from the OpenAPI document (schemathesis), with all its checks
(the CLI's `--checks all`): no 5xx; the documented status codes, content types, headers and
schemas; every request the document allows is accepted (positive data acceptance) and every
one it excludes is refused (negative data rejection). So the document states exactly what the
server accepts. Derandomized, so a failure found once is found again.

What JSON Schema cannot say is configured here, each case with its reason (`by_design`).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from marshmallow import ValidationError
from schemathesis.checks import CHECKS
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from calendars_schemas import CalendarSettingsSchema, SlotsQuery
from config import settings_from_env
from formats import decode_cursor, parse_time
from schemas import AvailabilityQuery
from webhooks_urls import UrlPolicy, UrlRefused, check_url

ALL_CHECKS = CHECKS.get_all()

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

in_process = schemathesis.pytest.from_fixture("app_schema")
over_http = schemathesis.pytest.from_fixture("live_schema")


def configured(schema):
    # A precondition that does not hold for the stored appointment (If-Match of another
    # version, If-None-Match: * on an existing id) is a well-formed request answered 412 by
    # design, like the 409 of a taken slot that schemathesis already expects.
    defaults = PositiveDataAcceptanceConfig().expected_statuses
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=[*defaults, "412"]
    )
    return schema


@pytest.fixture
def app_schema(app, clean):
    return configured(schemathesis.openapi.from_wsgi("/api/openapi.json", app))


@pytest.fixture
def live_schema(live):
    return configured(schemathesis.openapi.from_url(f"{live}/api/openapi.json"))


def _time(value):
    try:
        return parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _issued(cursor) -> bool:
    try:
        decode_cursor(cursor)
    except ValueError:
        return False
    return True


def by_design(case) -> str | None:
    """Why the server refuses (400) this request that the document allows, if it must: the
    rules that relate two fields, and cursors this service never gave out. None otherwise."""
    query = case.query or {}
    body = case.body if isinstance(case.body, dict) else {}
    start, end = _time(body.get("start")), _time(body.get("end"))
    if start and end and end <= start:
        return "a body's end must be after its start"
    start, end = _time(query.get("from")), _time(query.get("to"))
    if start and end and end <= start:
        return "a window's to must be after its from"
    if (
        case.path == "/availability"
        and start
        and end
        and end - start > AvailabilityQuery.MAX_WINDOW
    ):
        return "an availability window spans at most 366 days"
    if query.get("cursor") is not None and query.get("offset") not in (None, 0, "0"):
        return "a list pages by cursor or by offset, not both"
    for name in ("cursor", "since"):
        # A string of a cursor's alphabet and length that this service never issued: its
        # meaning is opaque by design, so the document cannot tell it from a real one.
        if query.get(name) is not None and not _issued(query[name]):
            return f"a {name} this service never gave out"
    if case.path == "/webhooks" and isinstance(body.get("url"), str):
        # Which schemes and addresses a webhook may use is the deployment's choice (https and
        # public addresses by default, WEBHOOK_ALLOW_HTTP / _PRIVATE) and a port's range or a
        # name's syntax is beyond a pattern: the document states the shape, webhooks_urls the rest.
        try:
            check_url(body["url"], UrlPolicy())
        except UrlRefused:
            return "a webhook URL that this deployment's URL policy refuses"
    if "holdFor" in body and body.get("status", "active") != "held":
        return "holdFor belongs to a hold (status held) only"
    hold_for = body.get("holdFor")
    if isinstance(hold_for, int) and hold_for > settings_from_env()["HOLD_MAX_S"]:
        return "a hold lasts at most HOLD_MAX_S, the deployment's choice"
    if case.method == "PUT" and case.path.startswith("/calendars/"):
        # What a day's intervals may be (none empty, none overlapping), which strings are
        # dates and which names are zones: beyond JSON Schema 3.0 (no propertyNames).
        return _refused(CalendarSettingsSchema(), body, {"hours", "overrides", "timeZone"})
    if case.path == "/slots":
        # An interval that divides a day, a window of at most 31 days, `required` up to the
        # number of calendars, a zone name: relations and lists beyond a pattern.
        as_sent = {
            name: [str(item) for item in value] if isinstance(value, list) else str(value)
            for name, value in query.items()
        }
        return _refused(SlotsQuery(), as_sent, {"interval", "to", "required", "timeZone"})
    return None


def _refused(schema, data, beyond_the_document: set[str]) -> str | None:
    try:
        schema.load(data)
    except ValidationError as error:
        fields = set(error.messages) if isinstance(error.messages, dict) else set()
        if fields and fields <= beyond_the_document:
            return f"{', '.join(sorted(fields))}: a rule the document cannot state"
    return None


def call_and_validate(case, **kwargs):
    reason = by_design(case) if case.meta and case.meta.generation.mode.is_positive else None
    if reason is None:
        return case.call_and_validate(checks=ALL_CHECKS, **kwargs)
    response = case.call_and_validate(
        checks=ALL_CHECKS, excluded_checks=[positive_data_acceptance], **kwargs
    )
    assert response.status_code == 400, (reason, response.status_code)
    assert response.json()["error"] == "validation_failed", reason
    return response


@in_process.parametrize()
@FUZZ
def test_app_answers_every_generated_request_as_documented(case):
    call_and_validate(case)


@over_http.parametrize()
@settings(FUZZ, max_examples=10)
@pytest.mark.live
def test_live_gunicorn_answers_generated_requests_as_documented(case):
    call_and_validate(case)
