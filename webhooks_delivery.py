"""Webhook delivery: the dispatcher, which claims subscriptions, signs their events and POSTs
them, in order, and its command, `flask --app sesame webhooks run` (`cli`).

The command runs one dispatcher until SIGTERM or Ctrl-C; several may run at once, on several
hosts. Each subscription is worked by one dispatcher at a time (a lease row, see
`webhooks.claim`) on a thread of its own, at most WEBHOOK_CONCURRENCY at once, so one slow or
dead receiver holds one thread and never delays another subscription. Every database step is
a short transaction of its own (webhooks.py, by database.py's recipe); none is open during an
HTTP request, so it runs through PgBouncer's transaction mode like the rest.

Per subscription: read the next events after its cursor, send them one by one, and move the
cursor past each only after a 2xx. A failure records the attempt, schedules a retry of the
same event with exponential backoff and jitter, and releases the subscription, in one
transaction (`webhooks.record_failed`); failing for WEBHOOK_GIVE_UP_S makes it `failing` until
enabled. A crash loses nothing: the cursor is where the last 2xx left it, and the lease runs
out. A retry carries the same `webhook-id`.

Each claim sends through a `Channel`: the URL checked and resolved by `webhooks_urls` once,
that address connected to directly (never resolved twice), one connection kept across the
claim's events while the receiver keeps it alive. Each request: Standard Webhooks headers and
signature, a hard deadline of WEBHOOK_TIMEOUT_S for the whole exchange (`Deadlines`), no
redirects followed, at most a few KiB of the answer read.
"""

import heapq
import http.client
import itertools
import json
import logging
import random
import signal
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

import webhooks
from database import db
from formats import format_time
from schemas import AppointmentVersionOut
from webhooks import DELIVERED, REFUSED, REJECTED, TIMEOUT, UNREACHABLE
from webhooks_urls import Target, UrlPolicy, UrlRefused, resolve

log = logging.getLogger("sesame.webhooks")

MAX_RESPONSE_BYTES = 4096
USER_AGENT = "Sesame-Webhooks/1"


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    timeout_s: float = 5
    give_up_s: float = 3 * 24 * 3600
    lease_s: float = 60
    concurrency: int = 8
    backoff_base_s: float = 1
    backoff_max_s: float = 3600
    poll_s: float = 0.25
    batch: int = 100
    work_s: float = 10  # then the subscription is handed back, so others get a turn
    flush_s: float = 0.5  # deliveries are recorded (and the lease renewed) at least this often
    policy: UrlPolicy = UrlPolicy()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "DispatchSettings":
        return cls(
            timeout_s=config["WEBHOOK_TIMEOUT_S"],
            give_up_s=config["WEBHOOK_GIVE_UP_S"],
            lease_s=config["WEBHOOK_LEASE_S"],
            concurrency=config["WEBHOOK_CONCURRENCY"],
            backoff_base_s=config["WEBHOOK_BACKOFF_BASE_S"],
            backoff_max_s=config["WEBHOOK_BACKOFF_MAX_S"],
            poll_s=config["WEBHOOK_POLL_MS"] / 1000,
            policy=UrlPolicy.from_config(config),
        )


@dataclass(frozen=True, slots=True)
class Result:
    outcome: str
    status: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == DELIVERED


class _ClaimLost(Exception):
    """The subscription was deleted, disabled or its lease taken over: stop working it."""


class Dispatcher:
    def __init__(self, engine: Engine, settings: DispatchSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.token = uuid.uuid4().hex[:16]
        self.stopping = threading.Event()
        self.deadlines = Deadlines()
        self._working: dict[int, Future] = {}

    def stop(self) -> None:
        """Claim nothing more; attempts in flight finish (within the timeout), then exit."""
        self.stopping.set()

    def run(self) -> None:
        log.info(
            "webhook dispatcher %s: up to %d subscriptions at once",
            self.token,
            self.settings.concurrency,
        )
        with ThreadPoolExecutor(self.settings.concurrency, "webhook") as pool:
            while not self.stopping.is_set():
                try:
                    self._claim_more(pool)
                except Exception:  # the database may be down for a while: keep trying
                    log.exception("could not claim webhook subscriptions")
                    self.stopping.wait(1)
                self.stopping.wait(self.settings.poll_s)
        log.info("webhook dispatcher %s stopped", self.token)

    def _claim_more(self, pool: ThreadPoolExecutor) -> None:
        for webhook_id, future in list(self._working.items()):
            if future.done():
                del self._working[webhook_id]
        free = self.settings.concurrency - len(self._working)
        if free <= 0:
            return
        claims = webhooks.claim(
            self.engine,
            token=self.token,
            limit=free,
            lease_s=self.settings.lease_s,
            busy=list(self._working),
        )
        for claimed in claims:
            self._working[claimed.id] = pool.submit(self._work, claimed)

    def _work(self, claimed: webhooks.Claim) -> None:
        try:
            self._deliver(claimed)
        except _ClaimLost:
            log.info("webhook %d: no longer ours (deleted, disabled or taken over)", claimed.id)
        except Exception:
            log.exception("webhook %d: delivery stopped by an error; retried later", claimed.id)
            try:
                webhooks.release(self.engine, claimed)
            except Exception:  # the lease runs out on its own
                log.warning("webhook %d: could not release its claim", claimed.id)

    def _deliver(self, claimed: webhooks.Claim) -> None:
        """Send the subscription's events in order until none are left, one fails, time is up
        or the dispatcher stops; then hand it back.

        Events are sent one by one, each after the previous one's 2xx; the 2xx are recorded
        together (`_record`): when the events read are done, before a failure is recorded,
        at least every `flush_s` (so the lease is renewed), and with the hand-back. A crash
        before that only means they are delivered again, with the same webhook-id."""
        settings = self.settings
        position = recorded = (claimed.txid, claimed.seq)  # past the last event delivered
        attempt = claimed.attempt
        delivered: list[webhooks.Delivered] = []  # since the cursor was last moved
        handed_back_at = time.monotonic() + settings.work_s
        record_at = time.monotonic() + settings.flush_s
        with Channel(claimed.url, claimed.secret, settings, self.deadlines) as channel:
            while not self.stopping.is_set() and time.monotonic() < handed_back_at:
                batch = webhooks.next_events(
                    self.engine, claimed, after=position, limit=settings.batch
                )
                for event in batch.events:
                    if self.stopping.is_set():
                        break
                    attempt += 1
                    attempted_at = datetime.now(UTC)
                    result = channel.send(event)
                    if not result.delivered:
                        self._record(claimed, delivered, position, moved=position > recorded)
                        self._failed(claimed, event, attempt, result)
                        return
                    delivered.append(
                        webhooks.Delivered(event, attempt, result.status or 200, attempted_at)
                    )
                    position, attempt = (event.txid, event.seq), 0
                    if time.monotonic() >= record_at:
                        self._record(claimed, delivered, position, moved=True)
                        recorded = position
                        record_at = time.monotonic() + settings.flush_s
                else:
                    position = max(position, batch.end)  # past rows of other calendars, too
                    if len(batch.events) < settings.batch:
                        break
                    self._record(claimed, delivered, position, moved=position > recorded)
                    recorded = position
            self._record(claimed, delivered, position, moved=position > recorded, release=True)

    def _record(
        self,
        claimed: webhooks.Claim,
        delivered: list[webhooks.Delivered],
        position: tuple[int, int],
        *,
        moved: bool,
        release: bool = False,
    ) -> None:
        """Record the deliveries not yet recorded and move the cursor to `position` (`moved`:
        it is past where it was last recorded), in one transaction; with `release`, hand the
        subscription back too."""
        if moved:
            if not webhooks.record_delivered(
                self.engine,
                claimed,
                delivered,
                to=position,
                lease_s=self.settings.lease_s,
                release=release,
            ):
                raise _ClaimLost()
            delivered.clear()
        elif release:
            webhooks.release(self.engine, claimed)

    def _failed(
        self, claimed: webhooks.Claim, event: webhooks.Event, attempt: int, result: Result
    ) -> None:
        delay = backoff(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)
        status = webhooks.record_failed(
            self.engine,
            claimed,
            event,
            attempt=attempt,
            status=result.status,
            error=result.error,
            outcome=result.outcome,
            delay_s=delay,
            give_up_s=self.settings.give_up_s,
        )
        if status is None:
            raise _ClaimLost()
        log.warning(
            "webhook %d: %s attempt %d failed (%s); %s",
            claimed.id,
            event.id,
            attempt,
            result.error,
            "gave up: failing until enabled"
            if status == webhooks.FAILING
            else f"retry in {delay:.1f} s",
        )


def backoff(attempt: int, base_s: float, max_s: float) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): doubling from `base_s` up to `max_s`,
    with jitter (half fixed, half random) so that receivers coming back are not stampeded."""
    delay = min(max_s, base_s * 2 ** min(attempt - 1, 40))
    return delay / 2 + random.uniform(0, delay / 2)


VERSION_OUT = AppointmentVersionOut()  # built once: a schema instance costs more than a dump


def payload(event: webhooks.Event, now: datetime) -> str:
    """The Standard Webhooks body; `data` is the version exactly as GET /changes shows it."""
    body = {
        "type": event.type,
        "timestamp": format_time(now),
        "data": VERSION_OUT.dump(event.version),
    }
    return json.dumps(body, separators=(",", ":"))


class Watch:
    """One exchange that Deadlines aborts if it outlives its deadline."""

    __slots__ = ("connection", "done", "expired")

    def __init__(self, connection: "_PinnedHTTP") -> None:
        self.connection, self.done, self.expired = connection, False, False


class Deadlines:
    """The hard deadline of every exchange of a dispatcher, kept by one thread: at its deadline
    an exchange still going has its socket shut, however its receiver drips its bytes. (A timer
    per request started a thread per event: a third of the dispatcher's CPU.)"""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Watch]] = []  # a heap; finished ones left to drop
        self._changed = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, connection: "_PinnedHTTP", timeout_s: float) -> Watch:
        watch = Watch(connection)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep, name="deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (time.monotonic() + timeout_s, next(self._order), watch))
            if self._due[0][2] is watch:
                self._changed.notify()
        return watch

    def done(self, watch: Watch) -> None:
        with self._changed:
            watch.done = True

    def _keep(self) -> None:
        with self._changed:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _, _, watch = heapq.heappop(self._due)
                watch.expired = True
                watch.connection.abort()


class Channel:
    """One claim's way to its subscription's receiver: the URL checked and resolved once (at
    the first event), one connection kept open across events while the receiver keeps it
    (HTTP/1.1 keep-alive), one signer. A context manager: closes the connection at the end.
    Resolving and connecting per event cost most of the dispatcher's CPU, and the receiver a
    connection per event."""

    def __init__(
        self, url: str, secret: str, settings: DispatchSettings, deadlines: Deadlines
    ) -> None:
        self.url, self.settings, self.deadlines = url, settings, deadlines
        self.signer = Webhook(secret)
        self.target: Target | None = None
        self.connection: _PinnedHTTP | None = None

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *_: Any) -> None:
        self._close()

    def send(self, event: webhooks.Event) -> Result:
        """One attempt: sign the event now and POST it to the address checked."""
        if self.target is None:
            try:
                self.target = resolve(self.url, self.settings.policy)
            except UrlRefused as refused:
                return Result(REFUSED, error=f"refused: {refused}")
        now = datetime.fromtimestamp(int(time.time()), UTC)  # whole seconds, as signed
        text = payload(event, now)
        body = text.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(event.id, now, text),
        }
        reused = self.connection is not None
        result, stale = self._post(self.target, body, headers)
        if reused and stale:  # the receiver closed the idle connection: once more, fresh
            result, _ = self._post(self.target, body, headers)
        return result

    def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[Result, bool]:
        """POST and read the status, within timeout_s for everything (connect, TLS, send,
        answer); with whether it failed as a connection closed by the other end does."""
        timeout_s = self.settings.timeout_s
        if self.connection is None:
            self.connection = _connection(target, timeout_s)
        connection = self.connection
        watch = self.deadlines.watch(connection, timeout_s)
        keep = False
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            connection.ack_at_once()
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)  # no more: the body is not ours to buffer
            status = response.status
            # Reusable only once the whole answer is read and the receiver keeps it open.
            keep = response.isclosed() and not response.will_close
        except (OSError, http.client.HTTPException, ValueError) as error:
            if watch.expired or isinstance(error, TimeoutError | socket.timeout):
                return Result(TIMEOUT, error=f"timed out after {timeout_s:g} s"), False
            stale = isinstance(error, ConnectionResetError | BrokenPipeError)
            return Result(UNREACHABLE, error=f"{type(error).__name__}: {error}"[:300]), stale
        finally:
            self.deadlines.done(watch)
            if not keep:
                self._close()
        if 200 <= status < 300:
            return Result(DELIVERED, status=status), False
        if 300 <= status < 400:
            return Result(REJECTED, status, f"HTTP {status}: redirects are not followed"), False
        return Result(REJECTED, status, f"HTTP {status}"), False

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class _PinnedHTTP(http.client.HTTPConnection):
    """http.client's connection to `address`, whatever `host` (the Host header) resolves to."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.address = target.address
        self.raw: socket.socket | None = None

    def _open(self) -> socket.socket:
        self.raw = socket.create_connection((self.address, self.port), self.timeout)
        # http.client writes the headers and the body apart: without this, on a connection
        # kept alive, Nagle holds the body until the receiver's delayed ACK (40 ms an event).
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.raw

    def connect(self) -> None:
        self.sock = self._open()

    def ack_at_once(self) -> None:
        """Acknowledge the answer's first segment at once (Linux): a receiver that writes its
        headers and body apart, with Nagle on (Python's http.server, Werkzeug), sends the body
        only once the headers are acknowledged, which a delayed ACK holds 40 ms on a kept
        connection. The kernel turns quick ACKs off again by itself, so it is asked each time."""
        if self.raw is not None and hasattr(socket, "TCP_QUICKACK"):
            self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def abort(self) -> None:
        """From another thread: make a blocked connect, send or read return at once."""
        if self.raw is not None:
            try:
                self.raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _PinnedHTTPS(_PinnedHTTP):
    """The same over TLS, the certificate checked against the URL's host name."""

    default_port = 443
    context = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self.context.wrap_socket(self._open(), server_hostname=self.host)


def _connection(target: Target, timeout_s: float) -> _PinnedHTTP:
    if target.scheme == "https":
        return _PinnedHTTPS(target, timeout_s)
    return _PinnedHTTP(target, timeout_s)


# The command: `flask --app sesame webhooks run`, registered by sesame.py.
cli = AppGroup("webhooks", help="Deliver webhook events.")


@cli.command("run")
def run_dispatcher() -> None:
    """Deliver webhook events until SIGTERM or Ctrl-C (attempts in flight finish first)."""
    dispatcher = Dispatcher(db.engine, DispatchSettings.from_config(current_app.config))

    def _stop(*_: Any) -> None:
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.run()
