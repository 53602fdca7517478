"""How the API is documented: the OpenAPI document at /api/openapi.json and the docs page.

smorest's `Api` with our error body (`SesameApi`), an apispec plugin that documents every error
in both formats (`ProblemDetailsDocs`), the OpenAPI types of the custom fields, and a blueprint
whose `operation(...)` documents an operation and the errors it can answer in one line. The
document is a contract: `make client` regenerates clients/ from it, and it must not drift by
accident. Never handles a request's data and never touches the database.
"""

from collections.abc import Iterable
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask, Response, send_from_directory
from flask_smorest import Api, Blueprint
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException

from domain import CALENDAR_NAME
from errors import PROBLEM_JSON, http_error_response
from formats import MAX_BIGINT
from protocol import CalendarConverter, IdConverter, SesameParser
from schemas import (
    ClientTime,
    ErrorOut,
    FeedCursor,
    PageCursor,
    ProblemOut,
    QueryInteger,
    UtcTime,
)

API_DESCRIPTION = (
    "No two active appointments of one calendar ever overlap, however many requests race: "
    "PostgreSQL itself refuses it, under advisory locks and an exclusion constraint. "
    "Writes create or update by client id and the latest `updatedAt` wins, with every "
    "previous version kept in the appointment's history."
)

# How the custom fields of schemas.py appear in the document (type, format). ClientId states
# its two forms itself (schemas.py).
OPENAPI_TYPES = {
    ClientTime: ("string", None),
    UtcTime: ("string", "date-time"),
    QueryInteger: ("integer", None),
    FeedCursor: ("string", None),
    PageCursor: ("string", None),
}

# The error responses an operation may document, by status.
ERRORS = {
    400: "Invalid input: `validation_failed` with per-field `errors`, or `malformed_json`.",
    401: "`unauthorized`: keys are in use and no valid `Authorization: Bearer` key was sent.",
    403: "`forbidden`: the API key does not open this calendar (or the id's), or only reads.",
    404: "No appointment has this id.",
    412: "`precondition_failed`: If-Match or If-None-Match does not hold; nothing changed.",
    429: "`rate_limited`: over RATE_LIMIT (`Retry-After` says when to retry).",
    500: "`internal_error`: a fault of ours, logged; nothing half-written.",
    503: "The database is unavailable or busy (`Retry-After` says when to retry).",
}
# What any data operation can answer, whatever it does: keys, rate limits, our own faults.
ALWAYS = (401, 429, 500)
# What an open route (health, readiness) can answer: no keys, no limits.
OPEN_ROUTE = (500,)
# The API keys (auth.py): an HTTP bearer scheme; each data operation needs it and names the
# scope it needs in `x-sesame-scope` (`read`: the GET operations; `write`: also POST, DELETE).
SECURITY_SCHEME = "apiKey"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key: from API_KEYS (every calendar), or made with `flask keys create` "
    "(a `read` or `write` scope on some calendars). Not needed while the API is open.",
}
READ, WRITE = "read", "write"

ETAG_HEADER = {"ETag": {"description": "The version, for If-Match.", "schema": {"type": "string"}}}
LOCATION_HEADER = {
    "Location": {
        "description": "The created appointment's URL: `/appointments/{id}`.",
        "schema": {"type": "string"},
    }
}
LINK_HEADER = {
    "Link": {
        "description": 'RFC 8288 `<...>; rel="next"` when the page is full: the same '
        "query with a keyset `cursor`.",
        "schema": {"type": "string"},
    }
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "Proceed only if the stored version's ETag is listed (or `*`: exists).",
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "`*`: create only; 412 if the id exists. Other values are ignored.",
}
# The request body the document shows for `POST /appointments`.
APPOINTMENT_EXAMPLE = {
    "id": 42,
    "calendar": "room-1",
    "start": "2026-12-01 09:00",
    "end": "2026-12-01 09:30",
    "createdAt": "2026-11-26T08:00:00Z",
    "updatedAt": "2026-11-26T08:00:00Z",
}


class SesameBlueprint(Blueprint):
    """smorest's Blueprint with the service's parser (protocol.py) and `operation`."""

    ARGUMENTS_PARSER = SesameParser()

    def operation(
        self,
        operation_id: str,
        summary: str,
        *,
        errors: Iterable[int] = (),
        more: dict[int, str] | None = None,
        always: Iterable[int] = ALWAYS,
        scope: str | None = READ,
        **doc: Any,
    ) -> Any:
        """Document an operation: its id, summary, any other `doc`, the error responses it
        can give (`errors`, `always` and the `more` described here), all with the error schema,
        and the API key scope it needs (`scope`; None: an open route, no key)."""
        described = {**{s: ERRORS[s] for s in (*errors, *always)}, **(more or {})}
        if scope is None:
            doc["security"] = []
        else:
            # `{}`: no key is fine too, while the API is open (no keys anywhere).
            doc["security"] = [{SECURITY_SCHEME: []}, {}]
            doc["x-sesame-scope"] = scope

        def decorate(view: Any) -> Any:
            for status, description in described.items():
                view = self.alt_response(status, schema=ErrorOut, description=description)(view)
            return self.doc(operationId=operation_id, summary=summary, **doc)(view)

        return decorate


class SesameApi(Api):
    """smorest's Api with our error body, in the document and on the wire. Every operation
    documents its own error responses (no catch-all `default`), in both formats."""

    ERROR_SCHEMA = ErrorOut
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Flask) -> None:
        super().__init__(app, spec_kwargs={"extra_plugins": [ProblemDetailsDocs()]})
        for field, openapi_type in OPENAPI_TYPES.items():
            self.register_field(field, *openapi_type)
        self.register_converter(
            IdConverter,
            lambda _: {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
        )
        self.register_converter(
            CalendarConverter, lambda _: {"type": "string", "pattern": f"^{CALENDAR_NAME.pattern}$"}
        )

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return http_error_response(error)


class ProblemDetailsDocs(BasePlugin):
    """apispec plugin: every 4xx and 5xx response documented in both error formats."""

    def init_spec(self, spec: APISpec) -> None:
        spec.components.schema("ProblemOut", schema=ProblemOut)
        spec.components.security_scheme(SECURITY_SCHEME, BEARER)

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45" and "content" in response:
                    response["content"][PROBLEM_JSON] = {
                        "schema": {"$ref": "#/components/schemas/ProblemOut"}
                    }


def init_app(app: Flask, *, version: str) -> SesameApi:
    """The document at /api/openapi.json and the docs page at /api/, served offline."""
    app.config.update(
        API_TITLE="Sesame",
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/",
        OPENAPI_SWAGGER_UI_URL="/api/assets/",
        API_SPEC_OPTIONS={"info": {"description": API_DESCRIPTION}},
    )
    api = SesameApi(app)
    app.add_url_rule("/api/assets/<path:filename>", "swagger_ui_assets", _swagger_ui_asset)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    return api


def _swagger_ui_asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package: the docs page needs no internet."""
    return send_from_directory(swagger_ui_path, filename)


def _favicon() -> Response:
    """Browsers ask for it on every page; without it the docs page logs a 404."""
    return send_from_directory(swagger_ui_path, "favicon-32x32.png", mimetype="image/png")
