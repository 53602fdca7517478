"""Database tables: the current book (`appointments`) and every version ever written.

The no-double-booking invariant lives here too, not only in `services.py`: an exclusion
constraint makes PostgreSQL itself refuse two overlapping appointments of one calendar,
whatever code path writes them. The column lists the queries read (`queries.APPOINTMENT`,
`queries.VERSION`) label these columns with the domain's field names (`starts_at AS start`),
so rows become domain objects by name. The runtime never queries through these classes: they
are the schema Alembic's migrations are checked against.
Plain SQLAlchemy: never imports Flask (the Flask-SQLAlchemy extension lives in database.py),
never opens a connection.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain import BLOCKING, HELD, STATUSES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The half-open interval [start, end): an appointment may begin exactly when another ends.
# The overlap condition (`queries.OVERLAPS`) is built on this very expression, so that the
# exclusion constraint's GiST index serves it.
TIME_RANGE = "tstzrange(starts_at, ends_at, '[)')"
# When a version was the current one: [recorded_at, superseded_at), open while it is current;
# a hold's version stops being current at its expiry at the latest, recorded or not. The
# version that records an expiry starts at that expiry (its recorded_at = expires_at, which
# the integrity audit checks), so NULLIF leaves it open: a plain expression, no CASE, which
# Alembic compares with the index as PostgreSQL reports it.
VALIDITY = "tstzrange(recorded_at, coalesce(superseded_at, nullif(expires_at, recorded_at)), '[)')"
STATUS_CHECK = "status IN (" + ", ".join(f"'{status}'" for status in STATUSES) + ")"
# The statuses whose ranges may not meet within a calendar (a hold's until it expires: the
# write path records expiries before it writes, so the constraint never sees a lapsed one).
BLOCKING_CHECK = "status IN (" + ", ".join(f"'{status}'" for status in BLOCKING) + ")"
HOLD_CHECK = f"(status = '{HELD}') <= (expires_at IS NOT NULL)"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Appointment(Base):
    """The current version of each appointment: what `GET /appointments` lists."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    calendar: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(9))
    # A hold's expiry (server time); kept on the version that records it as `expired`.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(STATUS_CHECK, name="status_known"),
        CheckConstraint(HOLD_CHECK, name="hold_expires"),
        # Only active appointments and holds keep their slot: a cancelled one frees it at once.
        ExcludeConstraint(
            ("calendar", "="),
            (text(TIME_RANGE), "&&"),
            using="gist",
            name="appointments_no_overlap",
            where=text(BLOCKING_CHECK),
        ),
        Index("ix_appointments_starts_at_id", "starts_at", "id"),
        Index("ix_appointments_calendar_starts_at_id", "calendar", "starts_at", "id"),
        # The sweeper's (and the integrity audit's) way to the holds, by expiry.
        Index(
            "ix_appointments_held_expires_at",
            "expires_at",
            postgresql_where=text(f"status = '{HELD}'"),
        ),
    )


class AppointmentVersion(Base):
    """Every version of every appointment, the current one included: a system-versioned record.

    Each version knows when it became current (`recorded_at`) and when it stopped being current
    (`superseded_at`, NULL while current), so "the book at time T" is one indexed range query.
    The change feed is ordered by (`txid`, `seq`): the transaction id also says when a version
    may be served (`queries.FEED_HORIZON`, the commit-safe rule), the sequence number orders
    the versions of one transaction.
    """

    __tablename__ = "appointment_versions"

    appointment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("appointments.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Server time the version was written, truncated to the millisecond that the API
    # reports, so that a reported recordedAt can be handed back and compared exactly.
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(9))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The name of the API key that wrote this version (api_keys.name); NULL in open mode, and
    # `expiry` for the version that records a hold's expiry.
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    # The writing transaction's id (pg_current_xact_id) and a sequence number, both taken
    # before commit: the change feed serves rows only below the oldest running transaction.
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)")
    )
    seq: Mapped[int] = mapped_column(
        BigInteger, server_default=text("nextval('appointment_versions_seq')")
    )

    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="status_known"),
        Index("ix_appointment_versions_txid_seq", "txid", "seq", unique=True),
        Index(
            "ix_appointment_versions_validity",
            "calendar",
            text(VALIDITY),
            postgresql_using="gist",
        ),
    )


# Webhook subscriptions (webhooks.py owns their SQL, webhooks_delivery.py delivers them).
WEBHOOK_STATUS_CHECK = "status IN ('active', 'failing')"


class Webhook(Base):
    """A subscription: where to push which calendars' versions, and how far it has got.

    `cursor_txid`/`cursor_seq` is the subscription's position in the change feed (see
    `queries.changes`), advanced only after the receiver answered 2xx. `claimed_until` is the
    lease of the dispatcher working it: claims are rows, not open transactions or session locks,
    so they hold across PgBouncer's transaction mode and die with a crashed dispatcher.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    calendars: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    description: Mapped[str] = mapped_column(String(500))
    # The signing key must be usable to sign, so it is kept, and never shown after creation.
    secret: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cursor_txid: Mapped[int] = mapped_column(BigInteger)
    cursor_seq: Mapped[int] = mapped_column(BigInteger)
    # Failed attempts at the event at the cursor, since when, and when to try it again.
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(WEBHOOK_STATUS_CHECK, name="status_known"),)


class WebhookAttempt(Base):
    """The latest delivery attempts of each subscription (a bounded history)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    appointment_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status, if any
    error: Mapped[str | None] = mapped_column(String(500))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_webhook_attempts_webhook_id_id", "webhook_id", "id"),)


class WebhookOutcome(Base):
    """Delivery attempts ever made, by outcome: a counter every dispatcher adds to."""

    __tablename__ = "webhook_outcomes"

    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key (auth.py, keys.py): only the SHA-256 digest of the secret is kept. A key
    opens `calendars` (exact names and `*` patterns) for reading, or also writing. Names are
    never reused, revoked keys included, so `recorded_by` always names one key."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scope: Mapped[str] = mapped_column(String(5))
    calendars: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    # Coarse: each worker reports the keys it saw at most once per refresh (auth.py).
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("scope IN ('read', 'write')", name="scope_known"),
        CheckConstraint("octet_length(digest) = 32", name="digest_sha256"),
    )


class Calendar(Base):
    """A calendar's booking hours and rules (domain.CalendarSettings); a calendar without a
    row has the defaults. `hours` and `overrides` are kept in the API's own JSON form
    (weekday or ISO date -> [["HH:MM", "HH:MM"], ...]); `version` is bumped by every PUT,
    which takes the calendar's lock (services.py), as every write to the calendar does."""

    __tablename__ = "calendars"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    hours: Mapped[dict | None] = mapped_column(JSONB)
    overrides: Mapped[dict] = mapped_column(JSONB)
    buffer_before: Mapped[int] = mapped_column(Integer)
    buffer_after: Mapped[int] = mapped_column(Integer)
    minimum_notice: Mapped[int] = mapped_column(Integer)
    horizon: Mapped[int] = mapped_column(Integer)
    enforce: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("buffer_before BETWEEN 0 AND 1440", name="buffer_before_range"),
        CheckConstraint("buffer_after BETWEEN 0 AND 1440", name="buffer_after_range"),
        CheckConstraint("minimum_notice >= 0", name="minimum_notice_range"),
        CheckConstraint("horizon BETWEEN 1 AND 3650", name="horizon_range"),
        CheckConstraint("version >= 1", name="version_positive"),
    )
