"""HTTP plumbing for the views: how requests are parsed and how HTTP's own headers translate.

The webargs parser policy (400 not 422, unknown fields refused, JSON required to be JSON), the
URL converter of resource ids (`<id:...>`), and the translation between HTTP's conditional headers
(ETag, If-Match, If-None-Match) and the domain's `Precondition`, the list's `Link` header,
and the JSON encoder of responses. Reads the request only; never touches the database, never
decides anything about the book.
"""

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import RAISE
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.routing import BaseConverter, ValidationError

from domain import CALENDAR_NAME, Precondition, StoredAppointment, Versioned
from formats import DIGITS, page_cursor, parse_client_id


class IdConverter(BaseConverter):
    """`<id:...>`: the path id of any resource (appointments, webhooks), a positive 64-bit
    integer in ASCII digits, 1 to 2^63-1; anything else is no such resource (404)."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        try:
            return parse_client_id(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: Any) -> str:
        return str(value)


def init_app(app: Flask) -> None:
    """Make `<id:...>` and `<calendar:...>` known to the app's URL rules; encode responses
    with orjson."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["calendar"] = CalendarConverter
    app.json = OrjsonProvider(app)


class CalendarConverter(BaseConverter):
    """Path calendar names: 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-'; anything else is no such
    calendar (404)."""

    regex = CALENDAR_NAME.pattern


class SesameParser(FlaskParser):
    """webargs' parser with the service's rules: 400 not 422, unknown fields refused,
    and a JSON body required to be JSON (415) and well formed (400)."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "json": RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        if not req.mimetype or not webargs_core.is_json(req.mimetype):
            abort(
                415,
                error="unsupported_media_type",
                message="Send the body as JSON with Content-Type: application/json.",
            )
        try:
            return webargs_core.parse_json(req.get_data(cache=True))
        except json.JSONDecodeError:
            raise  # webargs' own rule: an empty body is a missing one, anything else malformed
        except (ValueError, RecursionError):
            # Whatever else the parser refuses is not valid JSON to us either: integer literals
            # over Python's 4,300-digit conversion limit (a ValueError), nesting too deep.
            self._handle_invalid_json_error(None, req)

    def _handle_invalid_json_error(self, error: Any, req: Any, *args: Any, **kw: Any) -> Any:
        abort(400, error="malformed_json", message="The request body is not valid JSON.")


def etag(appointment: Versioned) -> str:
    return f'"{appointment.version}"'


def with_etag(appointment: Versioned, status: int = 200, **headers: str) -> Any:
    """A view's return value: the appointment, its status and its ETag (and `headers`)."""
    return appointment, status, {"ETag": etag(appointment), **headers}


def not_modified(appointment: StoredAppointment) -> bool:
    """If-None-Match holds the stored version's ETag: the client's copy is current."""
    return request.if_none_match.contains_weak(str(appointment.version))


def precondition() -> Precondition:
    """If-Match / If-None-Match: * of this request, as the service checks them."""
    if_match = request.if_match
    versions = None
    if request.headers.get("If-Match") and not if_match.star_tag:
        # If-Match compares strongly: weak tags (W/"3") never match.
        # werkzeug parses an empty tag ("") as None. A tag that is not 1 to 19 ASCII digits
        # names no version (and int() of 5,000 digits would raise): it simply never matches.
        tags = [tag for tag in if_match.as_set() if isinstance(tag, str)]
        versions = frozenset(int(tag) for tag in tags if DIGITS.fullmatch(tag))
    return Precondition(
        versions=versions,
        any_version=if_match.star_tag,
        create_only=request.if_none_match.star_tag,
    )


def next_page_link(last_start: datetime, last_id: int) -> str:
    """RFC 8288 `Link` to the page after the appointment (`last_start`, `last_id`): this
    request's query with a keyset cursor in place of any offset."""
    args = request.args.copy()
    args.pop("offset", None)
    args["cursor"] = page_cursor(last_start, last_id)
    query_string = urlencode(list(args.items(multi=True)))
    return f'<{request.path}?{query_string}>; rel="next"'


# Flask's JSON, encoded by orjson: every response body the app serializes, several times faster
# than the standard library, with the same output (keys sorted, compact). Decoding stays the
# standard library's: webargs parses request bodies, and its rules for huge integers, NaN and
# duplicate keys are part of the contract.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, encoding with orjson."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = orjson.dumps(
            self._prepare_response_obj(args, kwargs),
            default=self.default,
            option=_OPTIONS | orjson.OPT_APPEND_NEWLINE,
        )
        return Response(body, mimetype=self.mimetype)
