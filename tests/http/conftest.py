"""Every test here runs twice: through Flask's test client, and through the same interface over
real HTTP to the run's 4-worker gunicorn (`live_server`), so that what holds in process holds
behind gunicorn too."""

import pytest

from tests.helpers import LiveClient


@pytest.fixture(params=["flask", "gunicorn"])
def client(request, client):
    """Flask's test client (tests/conftest.py), then a LiveClient to the live gunicorn."""
    if request.param == "flask":
        return client
    return LiveClient(request.getfixturevalue("live_server"))
