"""gunicorn settings, from the environment through config.py like every other setting; `make
run`, the container and the tests use it.

The master validates the configuration before any worker starts (a bad value stops it with one
line naming the variable: its own settings when this file is read, the rest at start), says
once what is open or per-worker (for the API keys, after one short look at the database), and
owns the directory where the workers' Prometheus metrics add up. Never imports the app itself
(the workers do, after the fork), and closes that one connection before any worker forks, so
that no worker inherits a database connection.
"""

import os
import shutil
import sys
import tempfile

import logs
from config import ConfigError, server_settings

try:
    SETTINGS = server_settings()
except ConfigError as error:
    print(f"sesame: configuration error: {error}", file=sys.stderr)
    sys.exit(2)

bind = f"{SETTINGS['HOST']}:{SETTINGS['PORT']}"
workers = SETTINGS["WEB_CONCURRENCY"]
os.environ["WEB_CONCURRENCY"] = str(workers)
# gthread: a client still sending its request holds one thread, not a whole worker. Threads are
# many and cheap (most wait on sockets); database connections are few and bounded by the pool
# (DB_POOL_SIZE, default 8 per worker), which the threads share.
worker_class = "gthread"
threads = SETTINGS["GUNICORN_THREADS"]
timeout = SETTINGS["GUNICORN_TIMEOUT"]
# On SIGTERM, requests in flight get this long to finish and commit before workers are killed.
graceful_timeout = SETTINGS["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = 5
# The longest request line gunicorn takes (its maximum; the default is 4094): a 5,000-digit
# `limit` reaches the app and is answered 400 in JSON. Longer lines get gunicorn's own 414.
limit_request_line = 8190
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl; two instances on one machine
# (the tests, a second host) would collide on it.
control_socket_disable = True

# Logs: gunicorn's own and its access log in the app's format (LOG_FORMAT), on stdout, at
# LOG_LEVEL like every other logger (the workers' app sets the same level, logs.configure).
loglevel = SETTINGS["LOG_LEVEL"]
# One line per request on stdout (logs.AccessLog: JSON, or text with LOG_FORMAT=text), an INFO
# line like any other: none above LOG_LEVEL=info, and none with ACCESS_LOG=off.
logger_class = "logs.AccessLog"
accesslog = "-" if SETTINGS["ACCESS_LOG"] and logs.shows_info(loglevel) else None
logconfig_dict = logs.gunicorn_logconfig(SETTINGS["LOG_FORMAT"], loglevel)

# Metrics from all workers add up in one directory, emptied when the server starts; one this
# server made for itself (no PROMETHEUS_MULTIPROC_DIR given) is removed when it exits.
OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"sesame-metrics-{os.getpid()}")
)


def on_starting(server):
    from config import ConfigError, settings_from_env

    try:
        settings = settings_from_env()
    except ConfigError as error:
        print(f"sesame: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)
    log = server.log
    stored = None
    if not settings["API_KEYS"]:
        stored = _stored_keys(settings["SQLALCHEMY_DATABASE_URI"])
        if stored:
            log.info("API keys: %d in the database (flask --app sesame keys list)", stored)
        else:
            log.warning(
                "API_KEYS is not set: the API is open to anyone who can reach it%s; create the "
                "first key with: make keys ARGS='create NAME --scope write --calendars \"*\"' "
                "(flask --app sesame keys create ... where there is no make)",
                "" if stored == 0 else " until a key is created",
            )
    keys_in_use = bool(settings["API_KEYS"] or stored)
    if keys_in_use and not settings["METRICS_TOKEN"] and not settings["METRICS_PUBLIC"]:
        log.warning(
            "API keys are in use and METRICS_TOKEN is not set: /metrics answers 401 to every "
            "scrape; set METRICS_TOKEN (Prometheus: authorization credentials) or, on a private "
            "network, METRICS_PUBLIC=1"
        )
    if settings["RATE_LIMIT"] and settings["RATE_LIMIT_STORAGE_URI"].startswith("memory"):
        if workers > 1:
            log.warning(
                "RATE_LIMIT uses in-memory storage with %d workers: each worker counts alone; "
                "set RATE_LIMIT_STORAGE_URI=redis://... for one limit across workers and hosts",
                workers,
            )


def _stored_keys(url):
    """How many API keys the database holds (None if it cannot tell): one short connection,
    closed before any worker forks."""
    import psycopg
    from sqlalchemy.engine import make_url

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq, connect_timeout=3) as conn:
            (count,) = conn.execute("SELECT count(*) FROM api_keys").fetchone() or (0,)
            return count
    except psycopg.Error:
        return None


def child_exit(server, worker):
    from metrics import mark_process_dead

    mark_process_dead(worker.pid)


def on_exit(server):
    if OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
