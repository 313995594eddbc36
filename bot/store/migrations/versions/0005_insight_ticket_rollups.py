"""The insights' ticket figures: daily rollups, and an index for the overdue count.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

insight_ticket_rollups holds one ticket figure (a count per priority or category, or the count,
sum or longest of a duration) of the tickets one brand opened on one day; insight_ticket_state
is the one row saying how far it goes (bot/store/ticket_rollups.py). Nothing is copied here: the
first report rolls up every past day. ix_tickets_overdue counts the active tickets past their due
time, by brand and priority, from the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_ticket_rollups",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "brand", "figure", "key", name="pk_insight_ticket_rollups"),
    )
    op.create_table(
        "insight_ticket_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("through", sa.String(10), nullable=True),
        sa.Column("tickets_seen", sa.Integer(), nullable=False),
        sa.Column("events_seen", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_insight_ticket_state"),
    )
    op.create_index("ix_tickets_overdue", "tickets", ["status", "due_at", "brand", "priority"])


def downgrade() -> None:
    op.drop_index("ix_tickets_overdue", table_name="tickets")
    op.drop_table("insight_ticket_state")
    op.drop_table("insight_ticket_rollups")
