"""Live servers for the tests and the benchmark: free ports, waiting until something is up,
a real gunicorn started exactly as `make run` starts it, a webhook receiver on loopback, and
appointment request bodies.

The one place that knows how to start and stop a server and how long to wait for it, so that
the tests, `make bench` and the infrastructure launchers never hand-write a polling loop.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import requests

ROOT = Path(__file__).resolve().parent.parent
SERVICE_APP = "sesame:create_app()"
# The webhook dispatcher, as `make run` and compose run it.
DISPATCHER = [sys.executable, "-m", "flask", "--app", "sesame", "webhooks", "run"]
# The hold sweeper (holds.py), likewise.
SWEEPER = [sys.executable, "-m", "flask", "--app", "sesame", "holds", "sweep"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float = 30,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `ready()` until it is true; raise with `what` (and the log's tail) if `timeout`
    passes or `process` exits first. Exceptions from `ready()` count as not ready yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({process.returncode}){_tail(log)}")
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - not up yet, whatever the reason
            pass
        time.sleep(interval)
    raise RuntimeError(f"{what}: not ready within {timeout:g} s{_tail(log)}")


def _tail(log: Path | None, chars: int = 3000) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + log.read_text(errors="replace")[-chars:]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


class LiveServer(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    process: subprocess.Popen
    log: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def workers(self) -> list[int]:
        """The pids of the master's live worker processes."""
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children()]


@contextlib.contextmanager
def gunicorn(
    env: Mapping[str, str],
    *,
    app: str = SERVICE_APP,
    workers: int = 4,
    log: Path | None = None,
    timeout: float = 60,
) -> Iterator[LiveServer]:
    """A real gunicorn with the project's gunicorn.conf.py on a free port of 127.0.0.1.

    `env` goes into its environment on top of this process's (DATABASE_URL and any setting);
    it is up when /health answers 200 and all `workers` have started. Stopped with SIGTERM
    (gunicorn's graceful stop) on exit, killed if that takes longer than 40 s.
    """
    port = free_port()
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "warning",
        **env,
    }
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn makes its own
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app]
    with contextlib.ExitStack() as stack:
        if log is None:
            log = Path(stack.enter_context(tempfile.NamedTemporaryFile(suffix=".log")).name)
        with open(log, "wb") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
            )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_until(
                lambda: (
                    requests.get(f"{server.base}/health", timeout=1).ok
                    and len(server.workers()) == workers
                ),
                what=f"gunicorn ({app})",
                timeout=timeout,
                process=process,
                log=log,
            )
            yield server
        finally:
            stop(process)


def stop(process: subprocess.Popen, grace: float = 40) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST (body and headers, in arrival order)
    and answers `status` with no body. A context manager; `base` is its URL."""

    def __init__(self, status: int = 204) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


BASE_TIME = datetime(2030, 1, 1, tzinfo=UTC)
STAMP = "2026-01-01T00:00:00Z"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def appointment(
    appointment_id: int,
    *,
    calendar: str = "default",
    start: datetime | None = None,
    minutes: int = 30,
    updated_at: str = STAMP,
    created_at: str = STAMP,
) -> dict[str, Any]:
    """A `POST /appointments` body; by default slot `appointment_id` of the day after
    BASE_TIME, so distinct ids never overlap."""
    begins = start or BASE_TIME + timedelta(minutes=minutes * appointment_id)
    return {
        "id": appointment_id,
        "calendar": calendar,
        "start": iso(begins),
        "end": iso(begins + timedelta(minutes=minutes)),
        "createdAt": created_at,
        "updatedAt": updated_at,
    }
