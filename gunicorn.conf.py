"""gunicorn settings, all from the environment; `make run`, the container and the tests use it."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '3000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# gthread: a slow client holds one thread, not a whole worker.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# One database connection per thread, so a request never waits for the pool behind others.
os.environ.setdefault("DB_POOL_SIZE", str(threads))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, requests in flight get this long to finish and commit before workers are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# gunicorn 27 opens a control socket at ~/.gunicorn/gunicorn.ctl; two instances on one machine
# (the tests, a second host) would collide on it.
control_socket_disable = True
