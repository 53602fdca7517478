"""The container's entry point: migrate the database, then become gunicorn.

`python boot.py` brings DATABASE_URL's database (or the seed's DB_* settings) to the latest
migration and then execs `python boot.py serve`, so that gunicorn is the process the container
stops; `python boot.py migrate` only migrates (docker-compose's one-shot step); `python boot.py
serve` is gunicorn with gunicorn.conf.py once config.py has found its settings valid (gunicorn
reads WEB_CONCURRENCY itself as it is imported, and a bad value would end in a traceback). A
bad setting stops each with one line naming it. Never starts a database of its own: `make run`
(tools/devserver.py) does that on a laptop.
"""

import os
import sys
from pathlib import Path

import flask_migrate

import logs
from config import ConfigError, server_settings

HERE = Path(__file__).resolve().parent
SERVICE = "sesame:create_app()"
# gunicorn as `make run` and the container start it.
GUNICORN = [sys.executable, str(HERE / "boot.py"), "serve"]


def configure_logs() -> None:
    """This process's logs as the service's: LOG_FORMAT, from LOG_LEVEL up (logs.py)."""
    settings = server_settings()
    logs.configure(settings["LOG_FORMAT"], settings["LOG_LEVEL"])


def migrate() -> None:
    """Bring the database to the latest migration."""
    from sesame import create_app

    with create_app().app_context():
        flask_migrate.upgrade(directory=str(HERE / "migrations"))


def serve() -> None:
    """gunicorn with gunicorn.conf.py, in this process, once its own settings are valid."""
    server_settings()
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "-c", str(HERE / "gunicorn.conf.py"), SERVICE]
    run()


def main(argv: list[str]) -> int:
    try:
        if argv == ["serve"]:
            serve()
            return 0
        configure_logs()
        migrate()
    except ConfigError as error:
        print(f"sesame: configuration error: {error}", file=sys.stderr)
        return 2
    if argv != ["migrate"]:
        os.execv(sys.executable, GUNICORN)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
