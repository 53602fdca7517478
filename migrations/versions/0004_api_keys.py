"""API keys in the database, and which key wrote each version.

`api_keys` keeps a SHA-256 digest of each key, never the key; `appointment_versions.recorded_by`
names the key that wrote a version: NULL for the versions written before, as in open mode.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("scope", sa.String(length=5), nullable=False),
        sa.Column("calendars", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("scope IN ('read', 'write')", name=op.f("ck_api_keys_scope_known")),
        sa.CheckConstraint("octet_length(digest) = 32", name=op.f("ck_api_keys_digest_sha256")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
    )
    op.add_column(
        "appointment_versions", sa.Column("recorded_by", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("appointment_versions", "recorded_by")
    op.drop_table("api_keys")
