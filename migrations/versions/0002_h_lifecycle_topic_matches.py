"""topic matches with their reasons, per topic version (h-lifecycle)

Revision ID: 0002_h_lifecycle
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_h_lifecycle"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("topic_version", sa.String(length=16), nullable=False),
        sa.Column("question_set_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_set_id"],
            ["question_sets.id"],
            name=op.f("fk_topic_matches_question_set_id_question_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_matches")),
        sa.UniqueConstraint(
            "topic", "topic_version", "question_set_id", "term", name=op.f("uq_topic_matches_topic")
        ),
    )
    with op.batch_alter_table("topic_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_topic_matches_question_set_id"), ["question_set_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("topic_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_matches_question_set_id"))
    op.drop_table("topic_matches")
