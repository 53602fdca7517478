"""The framework floor: a bare Flask app that answers every by-id read with one fixed appointment.

`make bench` serves it as `bench.floor:create_app()` under the service's own gunicorn.conf.py
and settings, and loads it exactly as it loads the service's by-id read: what is left of a
request when there is no database, no schema, no middleware of Sesame's own. Every read row
is also given as a ratio to it. It must stay this small; it measures Flask and gunicorn.
"""

from typing import Any

from flask import Flask

# An appointment as the service answers it (the same fields, the same size).
APPOINTMENT = {
    "id": 4242,
    "calendar": "cal-41",
    "start": "2030-01-01T21:00:00.000Z",
    "end": "2030-01-01T21:30:00.000Z",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
    "version": 1,
    "status": "active",
}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/health")  # what tools.live waits for
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/appointments/<int:appointment_id>")
    def appointment(appointment_id: int) -> dict[str, Any]:
        return APPOINTMENT

    return app
