"""Prometheus metrics that add up across gunicorn workers: `GET /metrics`.

prometheus_client's multiprocess mode keeps each worker's values in files under
PROMETHEUS_MULTIPROC_DIR and sums them when scraped, so every worker answers the same totals.
gunicorn.conf.py empties that directory when the server starts and marks dead workers; a
process started without it (a test, a one-off command) gets a private directory.
The variable must be set before prometheus_client is imported, hence the order below.
services.py imports this module for `LOCK_WAIT`, so nothing here imports Flask at module level.
While API keys are in use, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`
(METRICS_PUBLIC=1 opens it, for a private network); without keys it is open like the API.
Never labels a metric with anything a client chooses (ids, paths, keys) and never infers what a
statement is from its SQL text: whoever runs a statement measures it.
"""

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # a process of its own: a private directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sesame-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

import psycopg  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram  # noqa: E402
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric  # noqa: E402
from prometheus_client.exposition import choose_encoder  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("sesame")
# Webhook figures kept in the database (every dispatcher on every host adds to them):
# attempts by outcome, and per subscription the age of its oldest undelivered event.
DatabaseMetrics = Callable[[], tuple[dict[str, int], dict[int, float]]]

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


def init_app(
    app: "Flask",
    database_metrics: DatabaseMetrics | None = None,
    keys_in_use: Callable[[], bool] = lambda: False,
) -> None:
    """Serve /metrics with request counts and latencies by method, endpoint and status, and
    the figures `database_metrics` reads at each scrape; while `keys_in_use()`, only to the
    bearer of METRICS_TOKEN (or to anyone with METRICS_PUBLIC)."""
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    exporter = GunicornInternalPrometheusMetrics(
        app,
        group_by="endpoint",
        defaults_prefix="flask",
        excluded_paths=["^/metrics$"],
    )
    if database_metrics is not None:
        # In multiprocess mode the exporter builds a fresh registry at each scrape, so a
        # collector registered anywhere else is never asked: its scrape is replaced instead.
        def scrape(accept_header: Any = None, names: Any = None) -> tuple[str, str]:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            registry.register(_DatabaseCollector(database_metrics))
            if names:
                registry = registry.restricted_registry(names)  # type: ignore[assignment]
            encode, content_type = choose_encoder(accept_header)
            return encode(registry).decode("utf-8"), content_type

        exporter.generate_metrics = scrape  # type: ignore[method-assign]
    if not app.config["METRICS_PUBLIC"]:
        app.before_request(_guard(app.config["METRICS_TOKEN"], keys_in_use))


def _guard(token: str | None, keys_in_use: Callable[[], bool]) -> Callable[[], Any]:
    """A request hook: /metrics names endpoints, keys' request counts and webhook backlogs, so
    while API keys close the API it answers only `Authorization: Bearer <METRICS_TOKEN>`
    (compared in constant time), and 401 to everyone when no token is set. The token is
    checked first: a scrape that sends it never waits for the key ring (auth.py)."""
    import hmac

    from flask import request

    from errors import METRICS_UNAUTHORIZED, respond

    # Digests compared, so that neither the time nor the length of the token leaks.
    expected = _digest(token.encode()) if token else None

    def guard() -> Any:
        if request.path != "/metrics":
            return None
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if expected and scheme.lower() == "bearer":
            if hmac.compare_digest(_digest(sent.strip().encode()), expected):
                return None
        if not keys_in_use():
            return None
        response = respond(METRICS_UNAUTHORIZED)
        response.headers["WWW-Authenticate"] = 'Bearer realm="sesame-metrics"'
        return response

    return guard


def _digest(secret: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(secret).digest()


class _DatabaseCollector:
    """The webhook figures, read from the database when /metrics is scraped (not per request)."""

    def __init__(self, read: DatabaseMetrics) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            outcomes, backlog = self.read()
        except psycopg.Error:  # the rest of /metrics still answers
            log.warning("webhook metrics: the database does not answer")
            return
        deliveries = CounterMetricFamily(
            "sesame_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered, rejected (non-2xx), timeout, "
            "unreachable, refused (address not allowed).",
            labels=["outcome"],
        )
        for outcome, count in sorted(outcomes.items()):
            deliveries.add_metric([outcome], count)
        yield deliveries
        oldest = GaugeMetricFamily(
            "sesame_webhook_oldest_undelivered_seconds",
            "Per webhook subscription, the age of its oldest undelivered event (0: none).",
            labels=["webhook"],
        )
        for webhook_id, age in sorted(backlog.items()):
            oldest.add_metric([str(webhook_id)], age)
        yield oldest


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
