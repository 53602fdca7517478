"""Readiness and liveness: /health/ready is 200 only with a reachable database at the latest
migration; /health answers 200 regardless."""

import json

import flask_migrate

from tests.helpers import assert_error
from tools.live import ROOT


def test_readiness_answers_200_when_the_schema_is_current(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "schema": "0006"}


def test_readiness_answers_503_when_the_schema_is_behind(make_app, empty_database):
    app = make_app(DATABASE_URL=empty_database)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"), revision="0001")
    response = app.test_client().get("/health/ready")
    body = assert_error(response, 503, "not_ready")
    assert "0001" in body["message"] and response.headers["Retry-After"]


def test_readiness_answers_503_and_liveness_200_without_a_database(make_app):
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_CONNECT_TIMEOUT_S="2")
    client = app.test_client()
    assert client.get("/health").status_code == 200
    body = assert_error(client.get("/health/ready"), 503, "not_ready")
    assert body["checks"] == {"database": "down"}
    assert "127.0.0.1" not in json.dumps(body)
    body = assert_error(client.get("/appointments"), 503, "database_unavailable")
    assert "nobody" not in json.dumps(body)
