"""Webhook subscriptions and their events, in SQL: what the API manages and what the
dispatcher claims, reads and records. Knows nothing about Flask or HTTP, and never sends.

An event is one appointment version of the change feed (`queries.changes`), in the feed's
commit-safe order. Each subscription keeps its own cursor, `(cursor_txid, cursor_seq)`, moved
past an event only once its receiver answered 2xx, so delivery is at least once and in order.
A dispatcher claims a subscription for a while (`claimed_until`, a lease) in one short
transaction and holds no transaction open across HTTP; every later write checks the claim.
Nothing here runs on the appointment write path: writes never wait for deliveries.
"""

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

import database
from domain import ACTIVE, CANCELLED, RecordedVersion, WebhookNotFound
from formats import MAX_BIGINT
from queries import FEED_HORIZON

FAILING = "failing"
DELIVERED = "delivered"  # the outcome of a 2xx, as counted in the metrics
ATTEMPTS_KEPT = 100  # per subscription, newest first

CREATED = "appointment.created"
UPDATED = "appointment.updated"
CANCELLED_EVENT = "appointment.cancelled"
REVIVED = "appointment.revived"
EVENT_TYPES = (CREATED, UPDATED, CANCELLED_EVENT, REVIVED)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    url: str
    calendars: list[str]
    description: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewSubscription(Subscription):
    secret: str  # shown once, in the answer to its creation


@dataclass(frozen=True, slots=True)
class Attempt:
    event_id: str
    type: str
    appointment_id: int
    version: int
    attempt: int
    status: int | None
    error: str | None
    attempted_at: datetime
    next_attempt_at: datetime | None


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


_PUBLIC = "id, url, calendars, description, status, created_at"

# A new subscription starts at the feed's horizon: everything committed before it is history,
# everything from a transaction still running or yet to start is delivered. (txid - 1, max)
# sorts before every row of transaction `txid`.
_CREATE = text(
    f"""
    INSERT INTO webhooks (url, calendars, description, secret, status, created_at,
                          cursor_txid, cursor_seq)
    VALUES (:url, :calendars, :description, :secret, 'active', date_trunc('milliseconds', now()),
            {FEED_HORIZON} - 1, {MAX_BIGINT})
    RETURNING {_PUBLIC}, secret
    """
)


def create(
    engine: Engine, *, url: str, calendars: Sequence[str], description: str
) -> NewSubscription:
    with engine.begin() as connection:
        row = connection.execute(
            _CREATE,
            {
                "url": url,
                "calendars": list(calendars),
                "description": description,
                "secret": new_secret(),
            },
        ).one()
    return NewSubscription(*row)


def list_all(engine: Engine) -> list[Subscription]:
    with engine.begin() as connection:
        rows = connection.execute(text(f"SELECT {_PUBLIC} FROM webhooks ORDER BY id")).all()
    return [Subscription(*row) for row in rows]


def get(engine: Engine, webhook_id: int) -> Subscription:
    with engine.begin() as connection:
        row = connection.execute(
            text(f"SELECT {_PUBLIC} FROM webhooks WHERE id = :id"), {"id": webhook_id}
        ).first()
    if row is None:
        raise WebhookNotFound()
    return Subscription(*row)


def delete(engine: Engine, webhook_id: int) -> None:
    """Gone at once: a dispatcher working it finds no row at its next write and stops."""
    with engine.begin() as connection:
        deleted = connection.execute(
            text("DELETE FROM webhooks WHERE id = :id RETURNING id"), {"id": webhook_id}
        ).first()
    if deleted is None:
        raise WebhookNotFound()


def enable(engine: Engine, webhook_id: int) -> Subscription:
    """Resume a `failing` subscription where it stopped: its cursor never moved past a failure."""
    with engine.begin() as connection:
        row = connection.execute(
            text(
                f"""
                UPDATE webhooks
                   SET status = 'active', attempt = 0, failing_since = NULL,
                       next_attempt_at = NULL
                 WHERE id = :id
                RETURNING {_PUBLIC}
                """
            ),
            {"id": webhook_id},
        ).first()
    if row is None:
        raise WebhookNotFound()
    return Subscription(*row)


def attempts(engine: Engine, webhook_id: int, *, limit: int) -> list[Attempt]:
    """The latest delivery attempts of one subscription, newest first."""
    with engine.begin() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM webhooks WHERE id = :id"), {"id": webhook_id}
        ).first()
        rows = connection.execute(
            text(
                """
                SELECT event_id, type, appointment_id, version, attempt, status, error,
                       attempted_at, next_attempt_at
                  FROM webhook_attempts
                 WHERE webhook_id = :id
                 ORDER BY id DESC
                 LIMIT :limit
                """
            ),
            {"id": webhook_id, "limit": limit},
        ).all()
    if exists is None:
        raise WebhookNotFound()
    return [Attempt(*row) for row in rows]


# --- What the dispatcher does --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A subscription a dispatcher works until `claimed_until`; `token` proves the claim."""

    id: int
    url: str
    secret: str
    calendars: list[str]
    txid: int
    seq: int
    attempt: int
    failing_since: datetime | None
    token: str


@dataclass(frozen=True, slots=True)
class Event:
    """One version of the feed as one subscription's event."""

    id: str  # the webhook-id: the same for this subscription and version on every retry
    type: str
    version: RecordedVersion
    txid: int
    seq: int


# Subscriptions that are active, unclaimed (or whose lease ran out), due, and that have at least
# one feed row after their cursor below the horizon: one probe of the (txid, seq) index each.
# SKIP LOCKED: dispatchers racing for the same rows each get others, never wait.
_CLAIM = text(
    f"""
    WITH due AS (
        SELECT w.id
          FROM webhooks w
         WHERE w.status = 'active'
           AND (w.claimed_until IS NULL OR w.claimed_until < now())
           AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= now())
           AND EXISTS (
                 SELECT 1 FROM appointment_versions v
                  WHERE (v.txid, v.seq) > (w.cursor_txid, w.cursor_seq)
                    AND v.txid < {FEED_HORIZON})
           AND w.id <> ALL(:busy)
         ORDER BY w.next_attempt_at NULLS FIRST, w.id
         LIMIT :limit
           FOR UPDATE OF w SKIP LOCKED
    )
    UPDATE webhooks w
       SET claimed_by = :token || '-' || w.id || '-' || substr(md5(random()::text), 1, 12),
           claimed_until = now() + make_interval(secs => :lease)
      FROM due
     WHERE w.id = due.id
    RETURNING w.id, w.url, w.secret, w.calendars, w.cursor_txid, w.cursor_seq, w.attempt,
              w.failing_since, w.claimed_by
    """
)


def claim(
    connection: Connection, *, token: str, limit: int, lease_s: float, busy: Sequence[int] = ()
) -> list[Claim]:
    """Claim up to `limit` subscriptions with events waiting (not those in `busy`)."""
    if limit <= 0:
        return []
    rows = connection.execute(
        _CLAIM, {"token": token, "limit": limit, "lease": lease_s, "busy": list(busy)}
    ).all()
    return [Claim(*row) for row in rows]


# calendar patterns (`*` any run of characters) as LIKE patterns; names never hold \ or %.
_MATCHES = (
    "EXISTS (SELECT 1 FROM unnest(CAST(:calendars AS text[])) p"
    " WHERE v.calendar LIKE replace(replace(p, '_', '\\_'), '*', '%'))"
)
_HORIZON = text(f"SELECT {FEED_HORIZON}")
_EVENTS = text(
    f"""
    SELECT v.appointment_id AS id, v.calendar, v.starts_at AS start, v.ends_at AS end,
           v.created_at, v.updated_at, v.version, v.status, v.recorded_at, v.recorded_by,
           v.txid, v.seq, previous.status AS previous_status
      FROM appointment_versions v
      LEFT JOIN appointment_versions previous
             ON previous.appointment_id = v.appointment_id
            AND previous.version = v.version - 1
     WHERE (v.txid, v.seq) > (:txid, :seq)
       AND v.txid < :horizon
       AND {_MATCHES}
     ORDER BY v.txid, v.seq
     LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class Batch:
    events: list[Event]
    # Where the cursor may move once every event is delivered: past every row below the
    # horizon when the batch holds all matching ones, else just past the last event.
    end: tuple[int, int]


def next_events(
    connection: Connection, claimed: Claim, *, after: tuple[int, int], limit: int
) -> Batch:
    """The subscription's next events after `after`, in feed order (see `queries.changes`).

    The horizon is read first, so every transaction below it has ended when the rows are read.
    """
    horizon = connection.execute(_HORIZON).scalar_one()
    rows = connection.execute(
        _EVENTS,
        {
            "txid": after[0],
            "seq": after[1],
            "horizon": horizon,
            "calendars": claimed.calendars,
            "limit": limit,
        },
    ).all()
    events = []
    for row in rows:
        columns = dict(row._mapping)
        txid, seq, previous = (
            columns.pop("txid"),
            columns.pop("seq"),
            columns.pop("previous_status"),
        )
        version = RecordedVersion(**columns)
        events.append(
            Event(
                id=f"msg_{claimed.id}_{version.id}_{version.version}",
                type=event_type(version.version, version.status, previous),
                version=version,
                txid=txid,
                seq=seq,
            )
        )
    if len(rows) == limit:
        return Batch(events, (events[-1].txid, events[-1].seq))
    return Batch(events, max(after, (horizon - 1, MAX_BIGINT)))


def event_type(version: int, status: str, previous_status: str | None) -> str:
    if version == 1:
        return CREATED
    if previous_status == ACTIVE and status == CANCELLED:
        return CANCELLED_EVENT
    if previous_status == CANCELLED and status == ACTIVE:
        return REVIVED
    return UPDATED


def advance(connection: Connection, claimed: Claim, *, to: tuple[int, int], lease_s: float) -> bool:
    """Move the cursor to `to` and renew the lease; False if the claim is lost (or deleted)."""
    result = connection.execute(
        text(
            """
            UPDATE webhooks
               SET cursor_txid = :txid, cursor_seq = :seq, attempt = 0, failing_since = NULL,
                   next_attempt_at = NULL,
                   claimed_until = now() + make_interval(secs => :lease)
             WHERE id = :id AND claimed_by = :token AND status = 'active'
               AND (cursor_txid, cursor_seq) <= (:txid, :seq)
            """
        ),
        {"id": claimed.id, "token": claimed.token, "txid": to[0], "seq": to[1], "lease": lease_s},
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event its receiver answered with a 2xx, not yet recorded (`record_delivered`)."""

    event: Event
    attempt: int
    status: int
    attempted_at: datetime


# One transaction in one round trip (database.round_trip): move the cursor and renew the lease
# (or hand the subscription back), keep every attempt in one INSERT and count them once, all
# only if the claim holds; then trim the history once.
_RECORD_DELIVERED = f"""
    BEGIN;
    {{timeouts}};
    WITH moved AS (
        UPDATE webhooks
           SET cursor_txid = %(txid)s, cursor_seq = %(seq)s, attempt = 0, failing_since = NULL,
               next_attempt_at = NULL,
               claimed_by = CASE WHEN %(release)s THEN NULL ELSE claimed_by END,
               claimed_until = CASE WHEN %(release)s THEN NULL
                                    ELSE now() + make_interval(secs => %(lease)s) END
         WHERE id = %(id)s AND claimed_by = %(token)s AND status = 'active'
           AND (cursor_txid, cursor_seq) <= (%(txid)s, %(seq)s)
        RETURNING id
    ), kept AS (
        INSERT INTO webhook_attempts (webhook_id, event_id, type, appointment_id, version,
                                      attempt, status, attempted_at)
        SELECT moved.id, d.event_id, d.type, d.appointment_id, d.version, d.attempt, d.status,
               d.attempted_at
          FROM moved,
               unnest(%(event_ids)s::text[], %(types)s::text[], %(appointment_ids)s::bigint[],
                      %(versions)s::int[], %(attempts)s::int[], %(statuses)s::int[],
                      %(attempted_ats)s::timestamptz[])
                   WITH ORDINALITY AS d(event_id, type, appointment_id, version, attempt,
                                        status, attempted_at, n)
         ORDER BY d.n
        RETURNING 1
    ), counted AS (
        INSERT INTO webhook_outcomes (outcome, count)
        SELECT '{{outcome}}', count(*) FROM kept HAVING count(*) > 0
        ON CONFLICT (outcome) DO UPDATE SET count = webhook_outcomes.count + excluded.count
    )
    SELECT count(*) AS moved FROM moved;
    DELETE FROM webhook_attempts
     WHERE webhook_id = %(id)s
       AND id < (SELECT id FROM webhook_attempts WHERE webhook_id = %(id)s
                  ORDER BY id DESC OFFSET {ATTEMPTS_KEPT - 1} LIMIT 1);
    COMMIT
"""


def record_delivered(
    engine: Engine,
    claimed: Claim,
    delivered: Sequence[Delivered],
    *,
    to: tuple[int, int],
    lease_s: float,
    release: bool = False,
) -> bool:
    """After a run of 2xx: move the cursor to `to` (the last one delivered, or further past rows
    of other calendars), keep and count their attempts, renew the lease or, with `release`,
    hand the subscription back: one transaction, one commit for the lot.
    False if the claim is lost (or the subscription deleted): then nothing is recorded."""
    statements = _RECORD_DELIVERED.format(timeouts=database.timeouts(engine), outcome=DELIVERED)
    params = {
        "id": claimed.id,
        "token": claimed.token,
        "txid": to[0],
        "seq": to[1],
        "lease": lease_s,
        "release": release,
        "event_ids": [d.event.id for d in delivered],
        "types": [d.event.type for d in delivered],
        "appointment_ids": [d.event.version.id for d in delivered],
        "versions": [d.event.version.version for d in delivered],
        "attempts": [d.attempt for d in delivered],
        "statuses": [d.status for d in delivered],
        "attempted_ats": [d.attempted_at for d in delivered],
    }

    def work(conn: psycopg.Connection, step: database.Step) -> bool:
        step.committing = True  # sent with the rest: never run twice
        results = database.round_trip(conn, statements, params)
        return bool(results[2][0]["moved"])

    return database.run(engine, work)


def record_attempt(
    connection: Connection,
    claimed: Claim,
    event: Event,
    *,
    attempt: int,
    status: int | None,
    error: str | None,
    outcome: str,
    next_attempt_in: float | None = None,
) -> datetime | None:
    """Keep one attempt in the history (trimmed to ATTEMPTS_KEPT) and count its outcome.

    With `next_attempt_in`, it failed: the subscription waits that long before the same event
    is tried again. Returns when that is."""
    next_at = connection.execute(
        text(
            """
            INSERT INTO webhook_attempts (webhook_id, event_id, type, appointment_id, version,
                                          attempt, status, error, attempted_at, next_attempt_at)
            SELECT :id, :event_id, :type, :appointment_id, :version, :attempt, :status, :error,
                   now(), now() + make_interval(secs => CAST(:delay AS double precision))
              FROM webhooks WHERE id = :id
            RETURNING next_attempt_at
            """
        ),
        {
            "id": claimed.id,
            "event_id": event.id,
            "type": event.type,
            "appointment_id": event.version.id,
            "version": event.version.version,
            "attempt": attempt,
            "status": status,
            "error": error[:500] if error else None,
            "delay": next_attempt_in,
        },
    ).scalar()
    connection.execute(
        text(
            """
            DELETE FROM webhook_attempts
             WHERE webhook_id = :id
               AND id < (SELECT id FROM webhook_attempts WHERE webhook_id = :id
                          ORDER BY id DESC OFFSET :kept LIMIT 1)
            """
        ),
        {"id": claimed.id, "kept": ATTEMPTS_KEPT - 1},
    )
    connection.execute(
        text(
            """
            INSERT INTO webhook_outcomes (outcome, count) VALUES (:outcome, 1)
            ON CONFLICT (outcome) DO UPDATE SET count = webhook_outcomes.count + 1
            """
        ),
        {"outcome": outcome},
    )
    return next_at


def postpone(
    connection: Connection, claimed: Claim, *, attempt: int, delay_s: float, give_up_s: float
) -> str | None:
    """After a failed attempt: wait `delay_s`, then retry the same event; release the claim.

    A subscription failing for longer than `give_up_s` becomes `failing` and stops until it is
    enabled. Returns the subscription's status, or None if the claim is lost."""
    return connection.execute(
        text(
            """
            UPDATE webhooks
               SET attempt = :attempt,
                   failing_since = coalesce(failing_since, now()),
                   next_attempt_at = now() + make_interval(secs => :delay),
                   status = CASE WHEN coalesce(failing_since, now())
                                      <= now() - make_interval(secs => :give_up)
                                 THEN 'failing' ELSE status END,
                   claimed_by = NULL, claimed_until = NULL
             WHERE id = :id AND claimed_by = :token
            RETURNING status
            """
        ),
        {
            "id": claimed.id,
            "token": claimed.token,
            "attempt": attempt,
            "delay": delay_s,
            "give_up": give_up_s,
        },
    ).scalar()


def release(connection: Connection, claimed: Claim) -> None:
    """Hand the subscription back (its events are all delivered, or the dispatcher stops)."""
    connection.execute(
        text(
            "UPDATE webhooks SET claimed_by = NULL, claimed_until = NULL"
            " WHERE id = :id AND claimed_by = :token"
        ),
        {"id": claimed.id, "token": claimed.token},
    )


# --- What the metrics report ---------------------------------------------------------------


def outcome_counts(engine: Engine) -> dict[str, int]:
    """Delivery attempts ever made, by outcome, by every dispatcher."""
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT outcome, count FROM webhook_outcomes")).all()
    return {outcome: count for outcome, count in rows}


def backlog_ages(engine: Engine) -> dict[int, float]:
    """Per subscription, the age in seconds of its oldest undelivered event (0: none)."""
    query = text(
        f"""
        SELECT w.id,
               coalesce(extract(epoch FROM now() - (
                   SELECT v.recorded_at FROM appointment_versions v
                    WHERE (v.txid, v.seq) > (w.cursor_txid, w.cursor_seq)
                      AND {_MATCHES.replace(":calendars", "w.calendars")}
                    ORDER BY v.txid, v.seq LIMIT 1)), 0)
          FROM webhooks w
         ORDER BY w.id
        """
    )
    with engine.begin() as connection:
        rows: Any = connection.execute(query).all()
    return {webhook_id: max(float(age), 0.0) for webhook_id, age in rows}
