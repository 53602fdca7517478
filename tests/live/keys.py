"""The API keys and the metrics token of the operator's gunicorn (the `ops` fixture in
tests/live/conftest.py), fresh for each run, so that a key that reached a log would be found
there."""

import secrets

KEY = "k-" + secrets.token_hex(16)
OTHER_KEY = "k-" + secrets.token_hex(16)
# /metrics' own token (METRICS_TOKEN): not an API key.
METRICS_TOKEN = "m-" + secrets.token_hex(16)


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
