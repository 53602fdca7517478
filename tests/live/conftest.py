"""The gunicorn an operator would run, shared by the keys, logs, metrics and limits tests:
API keys, a metrics token, JSON logs at INFO, a short lock timeout. Started on first use,
stopped after the last test of tests/live."""

import pytest

from tests.live.keys import KEY, METRICS_TOKEN, OTHER_KEY
from tools.live import gunicorn


@pytest.fixture(scope="package")
def ops(app, environment):
    settings = {
        "API_KEYS": f"{KEY}, {OTHER_KEY}",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "DB_LOCK_TIMEOUT_MS": "300",
    }
    with gunicorn({**environment, **settings}) as server:
        yield server
