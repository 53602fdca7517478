"""The hold sweeper: records the expiry of lapsed holds, so that it reaches the change feed and
the webhooks without waiting for a write to meet it (`flask --app sesame holds sweep`).

Expiry itself needs no process: from the instant a hold's `expires_at` passes, every read
answers it as expired and every write treats its range as free (queries.py, services.py).
Recording it changes nothing a client sees but the feed. Every HOLD_SWEEP_S seconds the sweeper
finds the calendars that have lapsed holds and records them, one calendar per transaction under
that calendar's lock, exactly as a write does (services.record_expiries). HOLD_SWEEP_S=0: no
sweeping. Several sweepers may run: the calendar lock serializes them, and the second finds
nothing left. Takes nothing from the request path but those short calendar locks.
"""

import logging
import signal
import threading
from typing import Any

import psycopg
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import Engine

import queries
import services
from database import db

log = logging.getLogger("sesame.holds")
# Calendars taken per look: a backlog is worked off at the next look, without waiting.
BATCH = 100


class Sweeper:
    def __init__(self, engine: Engine, interval_s: float) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def sweep(self) -> int:
        """Record every expiry that has lapsed by now; the number recorded."""
        recorded = 0
        while True:
            calendars = queries.calendars_with_lapsed_holds(self.engine, BATCH)
            for calendar in calendars:
                recorded += services.record_expiries(self.engine, calendar)
            if len(calendars) < BATCH or self.stopping.is_set():
                return recorded

    def run(self) -> None:
        log.info("recording hold expiries every %s s", self.interval_s)
        while not self.stopping.is_set():
            try:
                recorded = self.sweep()
            except psycopg.Error as error:  # an outage: try again at the next look
                log.warning("sweep failed: %s", type(error).__name__)
            else:
                if recorded:
                    log.info("recorded %d hold expiries", recorded)
            self.stopping.wait(self.interval_s)


cli = AppGroup("holds", help="Record the expiry of lapsed holds.")


@cli.command("sweep")
def sweep() -> None:
    """Record lapsed holds' expiries every HOLD_SWEEP_S seconds until SIGTERM or Ctrl-C."""
    interval = current_app.config["HOLD_SWEEP_S"]
    if not interval:
        log.info("HOLD_SWEEP_S=0: no sweeping; expiries are recorded by the writes they meet")
        return
    sweeper = Sweeper(db.engine, interval)

    def _stop(*_: Any) -> None:
        sweeper.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sweeper.run()
