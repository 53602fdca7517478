"""Webhook subscriptions and their events, in SQL: what the API (webhooks_views.py) manages
and what the dispatcher (webhooks_delivery.py) claims, reads and records, with the outcomes
of an attempt as the metrics count them. Knows nothing about Flask or HTTP, and never sends.

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
from sqlalchemy.engine import Engine

import database
from domain import ACTIVE, CANCELLED, EXPIRED, HELD, RecordedVersion, WebhookNotFound
from formats import MAX_BIGINT
from queries import FEED_HORIZON, VERSION

FAILING = "failing"
ATTEMPTS_KEPT = 100  # per subscription, newest first
# Outcomes of a delivery attempt, as counted in webhook_outcomes and the metrics.
DELIVERED, REJECTED, TIMEOUT, UNREACHABLE, REFUSED = (
    "delivered",
    "rejected",
    "timeout",
    "unreachable",
    "refused",
)

CREATED = "appointment.created"
UPDATED = "appointment.updated"
CANCELLED_EVENT = "appointment.cancelled"
REVIVED = "appointment.revived"
HELD_EVENT = "appointment.held"
CONFIRMED = "appointment.confirmed"
EXPIRED_EVENT = "appointment.expired"
EVENT_TYPES = (CREATED, UPDATED, CANCELLED_EVENT, REVIVED, HELD_EVENT, CONFIRMED, EXPIRED_EVENT)


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
_CREATE = f"""
    INSERT INTO webhooks (url, calendars, description, secret, status, created_at,
                          cursor_txid, cursor_seq)
    VALUES (%(url)s, %(calendars)s, %(description)s, %(secret)s, 'active',
            date_trunc('milliseconds', now()), {FEED_HORIZON} - 1, {MAX_BIGINT})
    RETURNING {_PUBLIC}, secret
    """
_ENABLE = f"""
    UPDATE webhooks
       SET status = 'active', attempt = 0, failing_since = NULL, next_attempt_at = NULL
     WHERE id = %(id)s
    RETURNING {_PUBLIC}
    """
_ATTEMPTS = """
    SELECT event_id, type, appointment_id, version, attempt, status, error, attempted_at,
           next_attempt_at
      FROM webhook_attempts
     WHERE webhook_id = %(id)s
     ORDER BY id DESC
     LIMIT %(limit)s
    """


def create(
    engine: Engine, *, url: str, calendars: Sequence[str], description: str
) -> NewSubscription:
    params = {
        "url": url,
        "calendars": list(calendars),
        "description": description,
        "secret": new_secret(),
    }
    (row,) = database.execute(engine, {"created": _CREATE}, params, writes=True)["created"]
    return NewSubscription(**row)


def list_all(engine: Engine) -> list[Subscription]:
    rows = database.execute(engine, {"all": f"SELECT {_PUBLIC} FROM webhooks ORDER BY id"})
    return [Subscription(**row) for row in rows["all"]]


def get(engine: Engine, webhook_id: int) -> Subscription:
    statement = f"SELECT {_PUBLIC} FROM webhooks WHERE id = %(id)s"
    return Subscription(**_one(database.execute(engine, {"found": statement}, {"id": webhook_id})))


def delete(engine: Engine, webhook_id: int) -> None:
    """Gone at once: a dispatcher working it finds no row at its next write and stops."""
    statement = "DELETE FROM webhooks WHERE id = %(id)s RETURNING id"
    _one(database.execute(engine, {"deleted": statement}, {"id": webhook_id}, writes=True))


def enable(engine: Engine, webhook_id: int) -> Subscription:
    """Resume a `failing` subscription where it stopped: its cursor never moved past a failure."""
    found = database.execute(engine, {"enabled": _ENABLE}, {"id": webhook_id}, writes=True)
    return Subscription(**_one(found))


def attempts(engine: Engine, webhook_id: int, *, limit: int) -> list[Attempt]:
    """The latest delivery attempts of one subscription, newest first."""
    results = database.execute(
        engine,
        {"exists": "SELECT 1 AS found FROM webhooks WHERE id = %(id)s", "attempts": _ATTEMPTS},
        {"id": webhook_id, "limit": limit},
    )
    _one(results)
    return [Attempt(**row) for row in results["attempts"]]


def _one(results: dict[str, database.Rows]) -> dict[str, Any]:
    """The row of the subscription the first statement found; WebhookNotFound if none."""
    rows = next(iter(results.values()))
    if not rows:
        raise WebhookNotFound()
    return rows[0]


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
_CLAIM = f"""
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
           AND w.id <> ALL(%(busy)s::bigint[])
         ORDER BY w.next_attempt_at NULLS FIRST, w.id
         LIMIT %(limit)s
           FOR UPDATE OF w SKIP LOCKED
    )
    UPDATE webhooks w
       SET claimed_by = %(token)s || '-' || w.id || '-' || substr(md5(random()::text), 1, 12),
           claimed_until = now() + make_interval(secs => %(lease)s)
      FROM due
     WHERE w.id = due.id
    RETURNING w.id, w.url, w.secret, w.calendars, w.cursor_txid AS txid, w.cursor_seq AS seq,
              w.attempt, w.failing_since, w.claimed_by AS token
    """


def claim(
    engine: Engine, *, token: str, limit: int, lease_s: float, busy: Sequence[int] = ()
) -> list[Claim]:
    """Claim up to `limit` subscriptions with events waiting (not those in `busy`)."""
    if limit <= 0:
        return []
    params = {"token": token, "limit": limit, "lease": lease_s, "busy": list(busy)}
    rows = database.execute(engine, {"claimed": _CLAIM}, params, writes=True)["claimed"]
    return [Claim(**row) for row in rows]


# The subscription's versions after a position, below a horizon read before (the previous
# version's status tells the event's type); `%(calendars)s` are its patterns as LIKE patterns
# (database.like_patterns).
_EVENTS = f"""
    SELECT {VERSION}, recorded_at, recorded_by, txid, seq,
           (SELECT previous.status FROM appointment_versions previous
             WHERE previous.appointment_id = appointment_versions.appointment_id
               AND previous.version = appointment_versions.version - 1) AS previous_status
      FROM appointment_versions
     WHERE (txid, seq) > (%(txid)s, %(seq)s)
       AND txid < %(horizon)s
       AND calendar LIKE ANY(%(calendars)s)
     ORDER BY txid, seq
     LIMIT %(limit)s
    """


@dataclass(frozen=True, slots=True)
class Batch:
    events: list[Event]
    # Where the cursor may move once every event is delivered: past every row below the
    # horizon when the batch holds all matching ones, else just past the last event.
    end: tuple[int, int]


def next_events(engine: Engine, claimed: Claim, *, after: tuple[int, int], limit: int) -> Batch:
    """The subscription's next events after `after`, in feed order (see `queries.changes`).

    The horizon is read first, in a transaction of its own, so every transaction below it has
    ended when the rows are read."""
    horizon = database.execute(engine, {"horizon": f"SELECT {FEED_HORIZON} AS horizon"})
    horizon_txid = horizon["horizon"][0]["horizon"]
    params = {
        "txid": after[0],
        "seq": after[1],
        "horizon": horizon_txid,
        "calendars": database.like_patterns(claimed.calendars),
        "limit": limit,
    }
    rows = database.execute(engine, {"events": _EVENTS}, params)["events"]
    events = []
    for row in rows:
        txid, seq, previous = row.pop("txid"), row.pop("seq"), row.pop("previous_status")
        version = RecordedVersion(**row)
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
    return Batch(events, max(after, (horizon_txid - 1, MAX_BIGINT)))


def event_type(version: int, status: str, previous_status: str | None) -> str:
    if status == EXPIRED:
        return EXPIRED_EVENT
    if status == HELD:
        return UPDATED if previous_status == HELD else HELD_EVENT  # a renewal is an update
    if previous_status == HELD and status == ACTIVE:
        return CONFIRMED
    if version == 1:
        return CREATED
    if previous_status in (ACTIVE, HELD) and status == CANCELLED:
        return CANCELLED_EVENT
    if previous_status in (CANCELLED, EXPIRED) and status == ACTIVE:
        return REVIVED
    return UPDATED


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event its receiver answered with a 2xx, not yet recorded (`record_delivered`)."""

    event: Event
    attempt: int
    status: int
    attempted_at: datetime


# How attempts are recorded, the same for a run of 2xx and for a failure: one transaction in
# one round trip (database.round_trip). `changed` (a statement on `webhooks` that holds only
# while the claim does) answers the subscription's `id` and the attempts' `next_attempt_at`;
# then every attempt of the arrays is kept in one INSERT and counted once under %(outcome)s,
# all only if the claim held; then the history is trimmed to the newest ATTEMPTS_KEPT.
def _record(changed: str) -> str:
    return f"""
    WITH changed AS ({changed}
    ), kept AS (
        INSERT INTO webhook_attempts (webhook_id, event_id, type, appointment_id, version,
                                      attempt, status, error, attempted_at, next_attempt_at)
        SELECT changed.id, d.event_id, d.type, d.appointment_id, d.version, d.attempt,
               d.status, d.error, coalesce(d.attempted_at, now()), changed.next_attempt_at
          FROM changed,
               unnest(%(event_ids)s::text[], %(types)s::text[], %(appointment_ids)s::bigint[],
                      %(versions)s::int[], %(attempts)s::int[], %(statuses)s::int[],
                      %(errors)s::text[], %(attempted_ats)s::timestamptz[])
                   WITH ORDINALITY AS d(event_id, type, appointment_id, version, attempt,
                                        status, error, attempted_at, n)
         ORDER BY d.n
        RETURNING 1
    ), counted AS (
        INSERT INTO webhook_outcomes (outcome, count)
        SELECT %(outcome)s, count(*) FROM kept HAVING count(*) > 0
        ON CONFLICT (outcome) DO UPDATE SET count = webhook_outcomes.count + excluded.count
    )
    SELECT * FROM changed
    """


_TRIM = f"""
    DELETE FROM webhook_attempts
     WHERE webhook_id = %(id)s
       AND id < (SELECT id FROM webhook_attempts WHERE webhook_id = %(id)s
                  ORDER BY id DESC OFFSET {ATTEMPTS_KEPT - 1} LIMIT 1)
    """
# After a run of 2xx: move the cursor and renew the lease (or hand the subscription back).
_RECORD_DELIVERED = _record(
    """
        UPDATE webhooks
           SET cursor_txid = %(txid)s, cursor_seq = %(seq)s, attempt = 0, failing_since = NULL,
               next_attempt_at = NULL,
               claimed_by = CASE WHEN %(release)s THEN NULL ELSE claimed_by END,
               claimed_until = CASE WHEN %(release)s THEN NULL
                                    ELSE now() + make_interval(secs => %(lease)s) END
         WHERE id = %(id)s AND claimed_by = %(token)s AND status = 'active'
           AND (cursor_txid, cursor_seq) <= (%(txid)s, %(seq)s)
        RETURNING id, NULL::timestamptz AS next_attempt_at"""
)
# After a failure: wait %(delay)s, then retry the same event; release the claim. Failing for
# longer than %(give_up)s makes the subscription `failing` (and its attempt has no next one).
_RECORD_FAILED = _record(
    """
        UPDATE webhooks
           SET attempt = %(attempt)s,
               failing_since = coalesce(failing_since, now()),
               next_attempt_at = now() + make_interval(secs => %(delay)s),
               status = CASE WHEN coalesce(failing_since, now())
                                  <= now() - make_interval(secs => %(give_up)s)
                             THEN 'failing' ELSE status END,
               claimed_by = NULL, claimed_until = NULL
         WHERE id = %(id)s AND claimed_by = %(token)s
        RETURNING id, status,
                  CASE WHEN status = 'failing' THEN NULL ELSE next_attempt_at END
                      AS next_attempt_at"""
)


def _recorded(
    engine: Engine, statement: str, claimed: Claim, attempts: dict[str, list], **params: Any
) -> list[dict[str, Any]]:
    """Run one of the recording statements and the trim, one transaction, never twice."""

    def work(conn: psycopg.Connection, attempt: database.Attempt) -> list[dict[str, Any]]:
        attempt.committing = True  # sent with the rest: never run twice
        return database.round_trip(
            conn,
            {"changed": statement, "trimmed": _TRIM},
            {"id": claimed.id, "token": claimed.token, **attempts, **params},
            before=(database.BEGIN, database.timeouts(engine)),
            after=(database.COMMIT,),
        )["changed"]

    return database.run(engine, work)


def _attempt_arrays(
    events: Sequence[Event],
    attempts: Sequence[int],
    statuses: Sequence[int | None],
    errors: Sequence[str | None],
    attempted_ats: Sequence[datetime | None],
) -> dict[str, list]:
    return {
        "event_ids": [e.id for e in events],
        "types": [e.type for e in events],
        "appointment_ids": [e.version.id for e in events],
        "versions": [e.version.version for e in events],
        "attempts": list(attempts),
        "statuses": list(statuses),
        "errors": list(errors),
        "attempted_ats": list(attempted_ats),
    }


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
    attempts = _attempt_arrays(
        [d.event for d in delivered],
        [d.attempt for d in delivered],
        [d.status for d in delivered],
        [None] * len(delivered),
        [d.attempted_at for d in delivered],
    )
    moved = _recorded(
        engine,
        _RECORD_DELIVERED,
        claimed,
        attempts,
        txid=to[0],
        seq=to[1],
        lease=lease_s,
        release=release,
        outcome=DELIVERED,
    )
    return bool(moved)


def record_failed(
    engine: Engine,
    claimed: Claim,
    event: Event,
    *,
    attempt: int,
    status: int | None,
    error: str | None,
    outcome: str,
    delay_s: float,
    give_up_s: float,
) -> str | None:
    """After a failed attempt: keep and count it, and release the claim; the subscription
    waits `delay_s` before the same event is tried again, or, failing for longer than
    `give_up_s`, becomes `failing` and stops until it is enabled. Returns the subscription's
    status, or None if the claim is lost (then nothing is recorded)."""
    attempts = _attempt_arrays(
        [event], [attempt], [status], [error[:500] if error else None], [None]
    )
    postponed = _recorded(
        engine,
        _RECORD_FAILED,
        claimed,
        attempts,
        attempt=attempt,
        delay=delay_s,
        give_up=give_up_s,
        outcome=outcome,
    )
    return postponed[0]["status"] if postponed else None


def release(engine: Engine, claimed: Claim) -> None:
    """Hand the subscription back (its events are all delivered, or the dispatcher stops)."""
    statement = (
        "UPDATE webhooks SET claimed_by = NULL, claimed_until = NULL"
        " WHERE id = %(id)s AND claimed_by = %(token)s"
    )
    params = {"id": claimed.id, "token": claimed.token}
    database.execute(engine, {"released": statement}, params, writes=True)


# --- What the metrics report ---------------------------------------------------------------


def outcome_counts(engine: Engine) -> dict[str, int]:
    """Delivery attempts ever made, by outcome, by every dispatcher."""
    rows = database.execute(engine, {"counts": "SELECT outcome, count FROM webhook_outcomes"})
    return {row["outcome"]: row["count"] for row in rows["counts"]}


# Per subscription, the age of its oldest undelivered event: its calendars' LIKE patterns come
# as (%(owners)s, %(patterns)s) pairs, one per pattern.
_BACKLOG_AGES = """
    SELECT w.id,
           coalesce(extract(epoch FROM now() - (
               SELECT v.recorded_at FROM appointment_versions v
                WHERE (v.txid, v.seq) > (w.cursor_txid, w.cursor_seq)
                  AND v.calendar LIKE ANY(ARRAY(
                        SELECT m.pattern
                          FROM unnest(%(owners)s::bigint[], %(patterns)s::text[])
                                   AS m(owner, pattern)
                         WHERE m.owner = w.id))
                ORDER BY v.txid, v.seq LIMIT 1)), 0) AS age
      FROM webhooks w
     WHERE w.id = ANY(%(owners)s::bigint[])
     ORDER BY w.id
    """


def backlog_ages(engine: Engine) -> dict[int, float]:
    """Per subscription, the age in seconds of its oldest undelivered event (0: none)."""
    subscriptions = database.execute(engine, {"all": "SELECT id, calendars FROM webhooks"})
    owners, patterns = [], []
    for row in subscriptions["all"]:
        for pattern in database.like_patterns(row["calendars"]):
            owners.append(row["id"])
            patterns.append(pattern)
    params = {"owners": owners, "patterns": patterns}
    rows = database.execute(engine, {"ages": _BACKLOG_AGES}, params)["ages"]
    return {row["id"]: max(float(row["age"]), 0.0) for row in rows}
