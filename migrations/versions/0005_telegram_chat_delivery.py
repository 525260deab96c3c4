"""telegram: blocked chats, digest times, muted subscriptions

Revision ID: 0006_telegram
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_telegram'
down_revision: str | None = '0002_h_ops'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('digest_sent_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('muted_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('muted_until')
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_at')
        batch_op.drop_column('blocked_at')
