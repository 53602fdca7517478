"""Calendars' booking hours: time zone, weekly hours, date overrides, buffers and rules.

A calendar without a row keeps the defaults (open at all times, nothing enforced), so every
existing calendar behaves as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("hours", postgresql.JSONB(), nullable=True),
        sa.Column("overrides", postgresql.JSONB(), nullable=False),
        sa.Column("buffer_before", sa.Integer(), nullable=False),
        sa.Column("buffer_after", sa.Integer(), nullable=False),
        sa.Column("minimum_notice", sa.Integer(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("enforce", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "buffer_before BETWEEN 0 AND 1440", name=op.f("ck_calendars_buffer_before_range")
        ),
        sa.CheckConstraint(
            "buffer_after BETWEEN 0 AND 1440", name=op.f("ck_calendars_buffer_after_range")
        ),
        sa.CheckConstraint("minimum_notice >= 0", name=op.f("ck_calendars_minimum_notice_range")),
        sa.CheckConstraint("horizon BETWEEN 1 AND 3650", name=op.f("ck_calendars_horizon_range")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_calendars_version_positive")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_calendars")),
    )


def downgrade() -> None:
    op.drop_table("calendars")
