"""The container's entry point: migrate the database, then become gunicorn.

`python boot.py` brings DATABASE_URL's database (or the seed's DB_* settings) to the latest
migration and then execs gunicorn with gunicorn.conf.py, so that gunicorn is the process the
container stops; `python boot.py migrate` only migrates (docker-compose's one-shot step).
Never starts a database of its own: `make run` (tools/devserver.py) does that on a laptop.
"""

import logging
import os
import sys
from pathlib import Path

import flask_migrate

from config import ConfigError

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
    try:
        migrate()
    except ConfigError as error:
        print(f"sesame: configuration error: {error}", file=sys.stderr)
        return 2
    if argv != ["migrate"]:
        os.execv(sys.executable, GUNICORN)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
