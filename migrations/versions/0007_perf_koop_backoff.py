"""koop_checks: back-off state of KOOP publications that keep answering not-found

Revision ID: 0007_koop_backoff
Revises: 0006_telegram
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_koop_backoff"
down_revision: str | None = "0006_telegram"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "koop_checks",
        sa.Column("koop_id", sa.String(length=60), nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("koop_id", name=op.f("pk_koop_checks")),
    )


def downgrade() -> None:
    op.drop_table("koop_checks")
