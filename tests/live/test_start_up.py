"""Starting gunicorn: a bad setting stops it with one line naming the setting, no traceback."""

import subprocess
import sys

import pytest

from tools.live import ROOT

pytestmark = pytest.mark.live


def test_gunicorn_refuses_to_start_with_a_bad_setting(environment):
    env = {**environment, "RATE_LIMIT": "lots", "PORT": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "sesame:create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert errors == [
        "sesame: configuration error: RATE_LIMIT must be flask-limiter syntax such as "
        "'100 per minute', not 'lots'"
    ]
    assert "Traceback" not in result.stderr
