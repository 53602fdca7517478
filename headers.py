"""Headers every response gets, whatever the route: request ids, security headers and CORS.

Request ids and security headers are always on; CORS only for the origins in CORS_ORIGINS.
Never rejects a request (auth.py and ratelimit.py do) and never echoes a client's header
unchecked: a request id that is not a sane token is replaced.
"""

from flask import Flask, Response, g, request
from flask_cors import CORS

from logs import REQUEST_ID_HEADER, request_id_from


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_answer_request_id)
    app.after_request(_security_headers)
    if app.config["CORS_ORIGINS"]:
        CORS(
            app,
            origins=app.config["CORS_ORIGINS"],
            expose_headers=["ETag", "Location", "Retry-After", REQUEST_ID_HEADER],
        )


def _assign_request_id() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


def _answer_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not response.headers.get("Cache-Control"):
        response.headers["Cache-Control"] = "no-store"
    return response
