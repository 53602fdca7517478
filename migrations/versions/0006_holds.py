"""Holds: an appointment kept for a customer until `expires_at`, then `expired`.

A hold blocks its range as an active appointment does, so the exclusion constraint covers both;
a hold's version stops being current at its expiry at the latest, so the history's validity
range (and its GiST index) reads `expires_at` for holds. Existing rows are neither held nor
expired: nothing they answer changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('active', 'cancelled', 'held', 'expired')"
OLD_STATUS_CHECK = "status IN ('active', 'cancelled')"
HOLD_CHECK = "(status = 'held') <= (expires_at IS NOT NULL)"
NO_OVERLAP = (
    "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap"
    " EXCLUDE USING gist (calendar WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)"
)
VALIDITY = "tstzrange(recorded_at, coalesce(superseded_at, nullif(expires_at, recorded_at)), '[)')"
OLD_VALIDITY = "tstzrange(recorded_at, superseded_at, '[)')"


def upgrade() -> None:
    for table in ("appointments", "appointment_versions"):
        op.add_column(table, sa.Column("expires_at", sa.DateTime(timezone=True)))
        op.drop_constraint(op.f(f"ck_{table}_status_known"), table)
        op.create_check_constraint(op.f(f"ck_{table}_status_known"), table, STATUS_CHECK)
    op.create_check_constraint(op.f("ck_appointments_hold_expires"), "appointments", HOLD_CHECK)
    op.drop_constraint("appointments_no_overlap", "appointments")
    op.execute(NO_OVERLAP + " WHERE (status IN ('active', 'held'))")
    op.create_index(
        "ix_appointments_held_expires_at",
        "appointments",
        ["expires_at"],
        postgresql_where=sa.text("status = 'held'"),
    )
    op.drop_index("ix_appointment_versions_validity", "appointment_versions")
    op.create_index(
        "ix_appointment_versions_validity",
        "appointment_versions",
        ["calendar", sa.text(VALIDITY)],
        postgresql_using="gist",
    )


def downgrade() -> None:
    # Holds become what they were last: a live or expired hold is cancelled.
    for table in ("appointments", "appointment_versions"):
        op.execute(f"UPDATE {table} SET status = 'cancelled' WHERE status IN ('held', 'expired')")
    op.drop_index("ix_appointment_versions_validity", "appointment_versions")
    op.create_index(
        "ix_appointment_versions_validity",
        "appointment_versions",
        ["calendar", sa.text(OLD_VALIDITY)],
        postgresql_using="gist",
    )
    op.drop_index("ix_appointments_held_expires_at", "appointments")
    op.drop_constraint("appointments_no_overlap", "appointments")
    op.execute(NO_OVERLAP + " WHERE (status = 'active')")
    op.drop_constraint(op.f("ck_appointments_hold_expires"), "appointments")
    for table in ("appointments", "appointment_versions"):
        op.drop_constraint(op.f(f"ck_{table}_status_known"), table)
        op.create_check_constraint(op.f(f"ck_{table}_status_known"), table, OLD_STATUS_CHECK)
        op.drop_column(table, "expires_at")
