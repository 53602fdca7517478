"""Logging: one JSON object per line (LOG_FORMAT=json, the default) or plain text for people.

Every line logged while a request is served carries its request id, method and path; gunicorn's
access log goes through the same formatter and adds status and duration. Bodies, headers and
secrets are never logged. `gunicorn.conf.py` uses `gunicorn_logconfig`; the app uses
`configure`.
"""

import logging
import re
import sys
import uuid
from typing import Any

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID if it is a sane token, else a fresh one: never CR/LF or junk."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestContext(logging.Filter):
    """Adds the current request's id, method and path to every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id", "-")
            record.method = request.method
            record.path = request.path
        elif not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


class GunicornAccessJson(JsonFormatter):
    """gunicorn's access records carry their fields as `record.args`: make them JSON fields."""

    def add_fields(self, log: dict[str, Any], record: logging.LogRecord, message: dict) -> None:
        super().add_fields(log, record, message)
        atoms = record.args if isinstance(record.args, dict) else {}
        if atoms:
            log["message"] = "request served"
            log.update(
                request_id=atoms.get("{x-request-id}o") or "-",
                method=atoms.get("m"),
                path=atoms.get("U"),
                status=_int_or_none(atoms.get("s")),
                duration_ms=round(int(atoms.get("D", 0)) / 1000, 3),
                remote_addr=atoms.get("h"),
            )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _formatter(log_format: str, access: bool = False) -> logging.Formatter:
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT if not access else "%(asctime)s %(message)s")
    cls = GunicornAccessJson if access else JsonFormatter
    return cls(JSON_FIELDS, rename_fields=_JSON_RENAMES, timestamp=False)


def configure(log_format: str, level: str = "INFO") -> None:
    """Send the app's logs to stdout in the chosen format (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers:
        if getattr(handler, "sesame", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.sesame = True  # type: ignore[attr-defined]
    handler.setFormatter(_formatter(log_format))
    handler.addFilter(RequestContext())
    root.addHandler(handler)


def gunicorn_logconfig(log_format: str, level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs in the same format, on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "app": {"()": "logs._formatter", "log_format": log_format},
            "access": {"()": "logs._formatter", "log_format": log_format, "access": True},
        },
        "filters": {"request": {"()": "logs.RequestContext"}},
        "handlers": {
            name: {
                "class": "logging.StreamHandler",
                "formatter": name,
                "filters": ["request"],
                "stream": "ext://sys.stdout",
            }
            for name in ("app", "access")
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["app"], "level": level.upper(), "propagate": False},
            "gunicorn.access": {
                "handlers": ["access"],
                "level": "INFO",
                "propagate": False,
            },
        },
        "root": {"level": level.upper()},
    }
