"""The insights: daily rollups, and indexes for the periods.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

insight_rollups holds one figure of one day's conversations of one brand; insight_rollup_days
lists the days rolled up. Indexes on conversations.created_at and tickets.created_at find a
period's conversations and tickets without reading the tables; on feedback.conversation_id,
a conversation's votes (containment asks it of every conversation).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_rollups",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("subkey", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "brand", "figure", "key", "subkey", name="pk_insight_rollups"),
    )
    op.create_table(
        "insight_rollup_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_insight_rollup_days"),
    )
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_feedback_conversation_id", "feedback", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_conversation_id", table_name="feedback")
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_table("insight_rollup_days")
    op.drop_table("insight_rollups")
