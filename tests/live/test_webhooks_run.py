"""`make run` (tools/devserver.py) starts the webhook dispatcher beside gunicorn and stops it
with it."""

import os
import signal
import subprocess
import sys

import psutil
import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tools.live import ROOT, Receiver, appointment, free_port, wait_until

pytestmark = pytest.mark.live


def test_make_run_delivers_webhooks_and_stops_the_dispatcher_with_gunicorn(
    app, clean, no_webhooks, environment, tmp_path
):
    port = free_port()
    env = {
        **os.environ,
        **environment,  # DATABASE_URL: the dev server migrates it, as boot.py does
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "WEBHOOK_POLL_MS": "50",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "devserver.log"
    with Receiver() as receiver, open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.devserver"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(
                lambda: requests.get(f"{base}/health", timeout=1).ok,
                what="make run",
                process=process,
                log=log,
            )
            children = psutil.Process(process.pid).children()
            assert any("webhooks" in child.cmdline() for child in children)
            created = requests.post(
                f"{base}/webhooks", json={"url": f"{receiver.base}/hook"}, timeout=10
            ).json()
            requests.post(f"{base}/appointments", json=appointment(1), timeout=10)
            wait_until(lambda: len(receiver.received) == 1, what="a delivery", log=log)
            body, headers = receiver.received[0]
            event = Webhook(created["secret"]).verify(body, headers)
            assert event["type"] == "appointment.created" and event["data"]["id"] == 1
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    assert all(not child.is_running() for child in children)
