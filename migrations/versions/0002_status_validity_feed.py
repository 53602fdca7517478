"""Cancellation, system-versioned history and the change feed's ordering.

Existing data is carried forward: every appointment is active, each version is superseded when
its successor was recorded, and the versions get transaction ids and sequence numbers in the
order they were recorded, so they all appear in the change feed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('active', 'cancelled')"
NO_OVERLAP = (
    "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap"
    " EXCLUDE USING gist (calendar WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)"
)


def upgrade() -> None:
    op.add_column(
        "appointments",
        sa.Column("status", sa.String(length=9), nullable=False, server_default="active"),
    )
    op.alter_column("appointments", "status", server_default=None)
    op.create_check_constraint(op.f("ck_appointments_status_known"), "appointments", STATUS_CHECK)
    # Only active appointments hold their slot.
    op.drop_constraint("appointments_no_overlap", "appointments")
    op.execute(NO_OVERLAP + " WHERE (status = 'active')")

    op.execute("CREATE SEQUENCE appointment_versions_seq AS bigint")
    op.add_column(
        "appointment_versions",
        sa.Column("status", sa.String(length=9), nullable=False, server_default="active"),
    )
    op.alter_column("appointment_versions", "status", server_default=None)
    op.create_check_constraint(
        op.f("ck_appointment_versions_status_known"), "appointment_versions", STATUS_CHECK
    )
    op.add_column("appointment_versions", sa.Column("superseded_at", sa.DateTime(timezone=True)))
    op.add_column("appointment_versions", sa.Column("txid", sa.BigInteger()))
    op.add_column("appointment_versions", sa.Column("seq", sa.BigInteger()))
    op.execute(
        """
        UPDATE appointment_versions v SET superseded_at = n.recorded_at
          FROM appointment_versions n
         WHERE n.appointment_id = v.appointment_id AND n.version = v.version + 1
        """
    )
    # The versions that exist become visible to the feed when this migration commits.
    op.execute(
        """
        UPDATE appointment_versions v
           SET txid = pg_current_xact_id()::text::bigint, seq = ordered.seq
          FROM (SELECT appointment_id, version,
                       nextval('appointment_versions_seq') AS seq
                  FROM (SELECT appointment_id, version FROM appointment_versions
                         ORDER BY recorded_at, appointment_id, version) AS by_time) AS ordered
         WHERE ordered.appointment_id = v.appointment_id AND ordered.version = v.version
        """
    )
    op.alter_column(
        "appointment_versions",
        "txid",
        nullable=False,
        server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
    )
    op.alter_column(
        "appointment_versions",
        "seq",
        nullable=False,
        server_default=sa.text("nextval('appointment_versions_seq')"),
    )
    op.execute("ALTER SEQUENCE appointment_versions_seq OWNED BY appointment_versions.seq")
    op.create_index(
        "ix_appointment_versions_txid_seq", "appointment_versions", ["txid", "seq"], unique=True
    )
    op.create_index(
        "ix_appointment_versions_validity",
        "appointment_versions",
        ["calendar", sa.text("tstzrange(recorded_at, superseded_at, '[)')")],
        postgresql_using="gist",
    )


def downgrade() -> None:
    op.drop_index("ix_appointment_versions_validity", "appointment_versions")
    op.drop_index("ix_appointment_versions_txid_seq", "appointment_versions")
    for column in ("seq", "txid", "superseded_at"):
        op.drop_column("appointment_versions", column)
    # The sequence is owned by the seq column and went with it.
    op.drop_constraint(op.f("ck_appointment_versions_status_known"), "appointment_versions")
    op.drop_column("appointment_versions", "status")
    # Cancelled appointments cannot be represented any more: they go, with their history.
    op.execute(
        "DELETE FROM appointment_versions WHERE appointment_id IN"
        " (SELECT id FROM appointments WHERE status <> 'active')"
    )
    op.execute("DELETE FROM appointments WHERE status <> 'active'")
    op.drop_constraint("appointments_no_overlap", "appointments")
    op.execute(NO_OVERLAP)
    op.drop_constraint(op.f("ck_appointments_status_known"), "appointments")
    op.drop_column("appointments", "status")
