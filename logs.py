"""Logging: one JSON object per line (LOG_FORMAT=json, the default) or plain text for people.

Every line logged while a request is served carries its request id, method and path (and the
name of its API key, when it came with one); gunicorn's access log goes through the same
formatter and adds status and duration. LOG_LEVEL is the least level of every logger in every
process (the root's): the service's, gunicorn's, Alembic's and embedded PostgreSQL's alike;
the access line is an INFO line. Each process has one handler, so each line is written once.
`gunicorn.conf.py` uses `gunicorn_logconfig`; the app, `make run` and boot.py use `configure`.
Bodies, headers and secrets are never logged.
"""

import logging
import os
import re
import sys
import time
import uuid
from typing import Any

import orjson
from flask import g, has_request_context, request
from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

from config import server_settings

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
            access = g.get("access")
            if access is not None:
                record.key = access.key  # the API key's name (auth.py), never the key
        elif not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(JSON_FIELDS, rename_fields=_JSON_RENAMES, timestamp=False)


def shows_info(level: str) -> bool:
    """Whether LOG_LEVEL `level` lets INFO lines (the access log's) through."""
    return logging.getLevelName(level.upper()) <= logging.INFO


def configure(log_format: str, level: str) -> None:
    """This process's logs: every logger's lines, from `level` up, on stdout in the chosen
    format, through one handler (idempotent: it replaces an earlier call's, and a plain
    `logging.basicConfig` one, so no line is written twice). Python's warnings go there too."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "sesame", False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.sesame = True  # type: ignore[attr-defined]
    handler.setFormatter(_formatter(log_format))
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    logging.captureWarnings(True)


def gunicorn_logconfig(log_format: str, level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs in the same format, on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "app": {"()": "logs._formatter", "log_format": log_format},
        },
        "filters": {"request": {"()": "logs.RequestContext"}},
        "handlers": {
            name: {
                "class": "logging.StreamHandler",
                "formatter": name,
                "filters": ["request"],
                "stream": "ext://sys.stdout",
            }
            for name in ("app",)
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["app"], "level": level.upper(), "propagate": False},
        },
        "root": {"level": level.upper()},
    }


class AccessLog(glogging.Logger):
    """gunicorn's logger with a lean access line: the fields every access line has always
    had, built from the few values they need and written in one write, instead of gunicorn's
    dict of every header and environ entry formatted through `logging` on every request (which
    cost as much CPU as Flask itself). Off when gunicorn.conf.py sets no `accesslog`."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self._json = server_settings()["LOG_FORMAT"] == "json"

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        duration_us = request_time.seconds * 1_000_000 + request_time.microseconds
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), "-"
        )
        key = environ.get("sesame.key")  # the API key's name (auth.py), never the key
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        stamp = f"{stamp},{int(now * 1000) % 1000:03d}"
        if self._json:
            line = orjson.dumps(
                {
                    "time": stamp,
                    "level": "INFO",
                    "logger": "gunicorn.access",
                    "message": "request served",
                    "request_id": request_id,
                    "method": environ.get("REQUEST_METHOD"),
                    "path": environ.get("PATH_INFO"),
                    "status": _int_or_none(status),
                    "duration_ms": round(duration_us / 1000, 3),
                    "remote_addr": environ.get("REMOTE_ADDR", "-"),
                    **({"key": key} if key else {}),
                },
                option=orjson.OPT_APPEND_NEWLINE,
            ).decode()
        else:
            sent = getattr(resp, "sent", None)
            line = (
                f'{stamp} {environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} '
                f'{environ["RAW_URI"]} {environ["SERVER_PROTOCOL"]}" {status} '
                f"{sent if sent is not None else '-'} {duration_us // 1000}ms "
                f"request_id={request_id}{f' key={key}' if key else ''}\n"
            )
        # One write(2) per line, under PIPE_BUF: lines of concurrent threads never interleave.
        os.write(sys.stdout.fileno(), line.encode())
