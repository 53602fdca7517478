"""Start Sesame the way `make run` and the container do: database, migrations, gunicorn.

With DATABASE_URL (or the seed's DB_* settings) it migrates that database and then becomes
gunicorn (exec), as a container entry point should; `python boot.py migrate` only migrates.
Without, it starts the embedded PostgreSQL on DATA_DIR (default .data/), keeps it running
under gunicorn, and stops it cleanly when gunicorn exits, so the next run reuses the data.
"""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import flask_migrate

HERE = Path(__file__).resolve().parent
GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    str(HERE / "gunicorn.conf.py"),
    "sesame:create_app()",
]


def migrate() -> None:
    """Bring the database to the latest migration."""
    from sesame import create_app

    with create_app().app_context():
        flask_migrate.upgrade(directory=str(HERE / "migrations"))


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if argv == ["migrate"]:  # the container's one-shot migration step
        migrate()
        return 0
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        migrate()
        os.execv(sys.executable, GUNICORN)
    return serve_on_embedded_postgres(Path(os.environ.get("DATA_DIR", HERE / ".data")))


def serve_on_embedded_postgres(data_dir: Path) -> int:
    import embedded_db

    server = embedded_db.start(data_dir / "postgres")
    try:
        url = embedded_db.create_database(embedded_db.server_url(server), "sesame")
        os.environ["DATABASE_URL"] = url
        logging.getLogger("sesame").info("embedded PostgreSQL on %s", data_dir / "postgres")
        migrate()
        gunicorn = subprocess.Popen(GUNICORN, cwd=HERE)
        # Ctrl-C reaches gunicorn through the terminal's process group; a SIGTERM sent to us
        # alone is passed on. Either way we wait for gunicorn's graceful exit, then stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: gunicorn.send_signal(signal.SIGTERM))
        return gunicorn.wait()
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
