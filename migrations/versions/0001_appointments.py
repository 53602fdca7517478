"""Appointments, their history, and the exclusion constraint that forbids overlaps.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # btree_gist lets one GiST index hold the calendar (=) and the time range (&&).
    # It is a trusted extension since PostgreSQL 13: the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "appointments",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_appointments_starts_before_ends")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_appointments_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        postgresql.ExcludeConstraint(
            (sa.column("calendar"), "="),
            (sa.text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            using="gist",
            name="appointments_no_overlap",
        ),
    )
    op.create_index("ix_appointments_starts_at_id", "appointments", ["starts_at", "id"])
    op.create_index(
        "ix_appointments_calendar_starts_at_id", "appointments", ["calendar", "starts_at", "id"]
    )
    op.create_table(
        "appointment_versions",
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_versions_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", "version", name=op.f("pk_appointment_versions")),
    )


def downgrade() -> None:
    op.drop_table("appointment_versions")
    op.drop_table("appointments")
