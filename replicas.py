"""Read replicas: which server answers a read that may be a moment old.

Why it exists: one primary takes every write, and the reads that a client expects to show its
own write (by id, history, the change feed) stay there. The rest may be a moment old (the list
with all its filters and `at=`, availability, the iCalendar feed): views.py sends those through
`read`, which uses a streaming replica (DATABASE_REPLICA_URL) when one is fit, else the primary.

Fit means it answers and is at most REPLICA_MAX_LAG_S behind. Lag is measured by WAL position,
so an idle primary is not lag: a replica that has replayed all the WAL the primary had flushed
is not behind, however long ago the last write was. One that is behind holds every commit it
replayed and everything the primary had flushed when it was last seen caught up: its lag is the
shorter of the times since those two moments. Each worker measures at most once a second, from
the first request that finds its view older, so a replica that stops or falls behind is skipped
within a second or two and used again once it has caught up. A read that fails on a replica
anyway is answered by the primary: a replica never causes a 5xx. Only the primary answering
decides readiness.

Engines and states belong to one process: created on first use after gunicorn forks, under a
lock, with the primary's engine options and per-transaction timeouts (database.py). Never
writes, and never lets a replica's failure reach a client.
"""

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from flask import Flask, current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

import metrics
import queries
from database import bind_timeouts, db, engine_options

OK, LAGGING, DOWN = "ok", "lagging", "down"
CHECK_INTERVAL_S = 1.0
# libpq's least: a replica that does not answer is given up on within this.
CONNECT_TIMEOUT_S = 2
log = logging.getLogger("sesame")
P = ParamSpec("P")
T = TypeVar("T")

_PRIMARY_POSITION = "SELECT pg_current_wal_flush_lsn()::text AS flushed"
# Bytes of the primary's flushed WAL not yet replayed, and seconds since the last replayed
# commit. Both are NULL on a server that is not a replica, which therefore never counts as fit.
_REPLICA_POSITION = (
    "SELECT pg_wal_lsn_diff(CAST(%(flushed)s AS pg_lsn), pg_last_wal_replay_lsn()) AS behind,"
    " EXTRACT(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) AS since_replay"
)


@dataclass
class Replica:
    name: str
    engine: Engine
    state: str = DOWN  # until first measured
    caught_up_at: float = float("-inf")  # time.monotonic() of the primary position it reached


class Replicas:
    """One process's replicas and what it last measured of each."""

    def __init__(
        self,
        urls: list[str],
        config: Mapping[str, Any],
        max_lag_s: float,
    ) -> None:
        self._urls = urls
        self._config = config
        options = engine_options(config)
        self._options = {
            **options,
            "connect_args": {**options["connect_args"], "connect_timeout": CONNECT_TIMEOUT_S},
        }
        self._max_lag_s = max_lag_s
        self._replicas: list[Replica] = []
        self._pid: int | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def pick(self, primary: Engine) -> Replica | None:
        """A fit replica (any of them, to spread the load), or None: read the primary."""
        fit = [replica for replica in self._current(primary) if replica.state == OK]
        return random.choice(fit) if fit else None

    def states(self, primary: Engine) -> dict[str, str]:
        return {replica.name: replica.state for replica in self._current(primary)}

    def recheck(self) -> None:
        """Measure again on the next read: one just failed."""
        self._next_check = 0.0

    def _current(self, primary: Engine) -> list[Replica]:
        """This process's replicas, measured at most CHECK_INTERVAL_S ago.

        One thread measures; the others meanwhile go on with what was last measured (or with
        the primary, before the first measurement) instead of queueing behind it.
        """
        if not self._urls:
            return []
        due = self._pid != os.getpid() or time.monotonic() >= self._next_check
        if due and self._lock.acquire(blocking=False):
            try:
                if self._pid != os.getpid():
                    # First use in this process: engines made before a fork are not ours.
                    self._replicas = [self._replica(n, url) for n, url in enumerate(self._urls)]
                    self._pid = os.getpid()
                self._measure(primary)
                self._next_check = time.monotonic() + CHECK_INTERVAL_S
            finally:
                self._lock.release()
        return self._replicas if self._pid == os.getpid() else []

    def _replica(self, n: int, url: str) -> Replica:
        engine = bind_timeouts(create_engine(url, **self._options), self._config)
        return Replica(f"replica-{n + 1}", engine)

    def _measure(self, primary: Engine) -> None:
        read_at = time.monotonic()  # the primary's position is no older than this
        try:
            (primary_position,) = queries.read(primary, _PRIMARY_POSITION, {})
            flushed = primary_position["flushed"]
        except psycopg.Error:
            return  # nothing to measure against: the last states stand
        for replica in self._replicas:
            replica.state = self._state_of(replica, flushed, read_at)

    def _state_of(self, replica: Replica, flushed: str, read_at: float) -> str:
        try:
            (position,) = queries.read(replica.engine, _REPLICA_POSITION, {"flushed": flushed})
            behind, since_replay = position["behind"], position["since_replay"]
        except psycopg.Error:
            return DOWN
        if behind is not None and behind <= 0:
            replica.caught_up_at = read_at
            return OK
        lag = time.monotonic() - replica.caught_up_at
        if since_replay is not None:
            lag = min(lag, float(since_replay))
        return OK if lag <= self._max_lag_s else LAGGING


def init_app(app: Flask) -> None:
    """Read from DATABASE_REPLICA_URL's replicas, each engine set up as the primary's is."""
    app.extensions["sesame_replicas"] = Replicas(
        app.config["REPLICA_URLS"], app.config, app.config["REPLICA_MAX_LAG_S"]
    )


def read(query: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`query(engine, ...)` on a fit replica, else on the primary; for reads that may be a
    moment old only."""
    replicas: Replicas = current_app.extensions["sesame_replicas"]
    replica = replicas.pick(db.engine)
    if replica is not None:
        try:
            result = query(replica.engine, *args, **kwargs)
        except psycopg.Error as error:
            log.warning("%s failed (%s); reading the primary", replica.name, type(error).__name__)
            replicas.recheck()
        else:
            metrics.READS.labels("replica").inc()
            return result
    metrics.READS.labels("primary").inc()
    return query(db.engine, *args, **kwargs)


def states() -> dict[str, str]:
    """Each replica's state (`ok`, `lagging`, `down`) as this worker last measured it."""
    replicas: Replicas = current_app.extensions["sesame_replicas"]
    return replicas.states(db.engine)
