"""Initial schema: conversations, turns, tickets, ticket events, console users, feedback.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Plain column types on purpose: a migration is a frozen snapshot and must not change when
bot.store.models changes later. Enum columns are strings guarded by CHECK constraints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _ts("created_at"),
        _ts("last_login_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("name", name="uq_console_users_name"),
        sa.CheckConstraint("role IN ('agent', 'admin')", name="ck_console_users_role"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("human_owner", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("turn_count", sa.Integer(), server_default="0", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("meta", _json(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_turns"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_turns_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        # Also the index for "turns of a conversation in order".
        sa.UniqueConstraint("conversation_id", "seq", name="uq_turns_conversation_id_seq"),
        sa.CheckConstraint("role IN ('user', 'bot', 'agent', 'system')", name="ck_turns_role"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("queue_rank", sa.SmallInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        # Lower-cased summary + detail values, what the queue's text search scans.
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("trail", _json(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        _ts("due_at"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_tickets_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["console_users.id"],
            name="fk_tickets_assignee_id_console_users",
            ondelete="SET NULL",
        ),
        # One ticket per conversation: what makes create_ticket_once safe under concurrency.
        sa.UniqueConstraint("conversation_id", name="uq_tickets_conversation_id"),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'waiting_on_user', 'resolved', 'closed')",
            name="ck_tickets_status",
        ),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="ck_tickets_priority"),
    )
    op.create_index("ix_tickets_queue", "tickets", ["queue_rank", "created_at"])
    op.create_index("ix_tickets_status_queue", "tickets", ["status", "queue_rank", "created_at"])
    op.create_index("ix_tickets_brand", "tickets", ["brand"])
    op.create_index("ix_tickets_category", "tickets", ["category"])
    op.create_index("ix_tickets_assignee_id", "tickets", ["assignee_id"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("before", _json(), nullable=True),
        sa.Column("after", _json(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_events_ticket_id_tickets"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("turn_seq", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_feedback_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("target_kind IN ('faq', 'flow')", name="ck_feedback_target_kind"),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_index("ix_feedback_target_kind_target_id", "feedback", ["target_kind", "target_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("ticket_events")
    op.drop_table("tickets")
    op.drop_table("turns")
    op.drop_table("conversations")
    op.drop_table("console_users")
