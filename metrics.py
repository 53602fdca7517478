"""Prometheus metrics that add up across gunicorn workers: `GET /metrics`.

prometheus_client's multiprocess mode keeps each worker's values in files under
PROMETHEUS_MULTIPROC_DIR and sums them when scraped, so every worker answers the same totals.
gunicorn.conf.py empties that directory when the server starts and marks dead workers; a
process started without it (a test, a one-off command) gets a private directory.
The variable must be set before prometheus_client is imported, hence the order below.
services.py imports this module for `LOCK_WAIT`, so nothing here imports Flask at module level.
Never labels a metric with anything a client chooses (ids, paths, keys) and never infers what a
statement is from its SQL text: whoever runs a statement measures it.
"""

import atexit
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # a process of its own: a private directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sesame-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

if TYPE_CHECKING:
    from flask import Flask

CONFLICTS = Counter(
    "sesame_conflicts_total",
    "Writes refused because of the book's state, by reason.",
    ["reason"],
    registry=None,
)
LOCK_WAIT = Histogram(
    "sesame_lock_wait_seconds",
    "Time spent waiting for the advisory locks of one write.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=None,
)
POOL_IN_USE = Gauge(
    "sesame_db_pool_in_use",
    "Database connections checked out of the pools, summed over live workers.",
    multiprocess_mode="livesum",
    registry=None,
)
POOL_SIZE = Gauge(
    "sesame_db_pool_size",
    "Database connections the pools may hold, summed over live workers.",
    multiprocess_mode="livesum",
    registry=None,
)
READS = Counter(
    "sesame_reads_total",
    "Reads that may be a moment old (lists, availability, iCalendar), by the server that "
    "answered: primary or replica.",
    ["target"],
    registry=None,
)


def init_app(app: "Flask") -> None:
    """Serve /metrics with request counts and latencies by method, endpoint and status."""
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    GunicornInternalPrometheusMetrics(
        app,
        group_by="endpoint",
        defaults_prefix="flask",
        excluded_paths=["^/metrics$"],
    )


def mark_process_dead(pid: int) -> None:
    """For gunicorn's child_exit hook: drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def watch_engine(engine: Engine) -> None:
    """Count the connections the pool holds and hands out."""
    POOL_SIZE.inc(engine.pool.size())  # type: ignore[attr-defined]

    @event.listens_for(engine, "checkout")
    def _checkout(*_: Any) -> None:
        POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_: Any) -> None:
        POOL_IN_USE.dec()
