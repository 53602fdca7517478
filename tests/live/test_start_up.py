"""Starting gunicorn as `make run` and the container do: a bad setting stops it with one line
naming the setting, no traceback, gunicorn's own settings (WEB_CONCURRENCY...) included."""

import subprocess

import pytest

from boot import GUNICORN
from tools.live import ROOT

pytestmark = pytest.mark.live


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        (
            {"RATE_LIMIT": "lots"},
            "RATE_LIMIT must be the limits library's syntax, such as '100 per minute', not 'lots'",
        ),
        # gunicorn.conf.py's own settings, read before gunicorn starts: the same one line.
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY must be an integer >= 1, not 'many'"),
        ({"GUNICORN_THREADS": "0"}, "GUNICORN_THREADS must be an integer >= 1, not '0'"),
        (
            {"LOG_LEVEL": "loud"},
            "LOG_LEVEL must be one of debug, info, warning, error, critical, not 'loud'",
        ),
    ],
)
def test_gunicorn_refuses_to_start_with_a_bad_setting(environment, setting, error):
    env = {**environment, **setting, "PORT": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        GUNICORN,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert errors == [f"sesame: configuration error: {error}"]
    assert "Traceback" not in result.stderr
