"""Answers to "did this help?", kept to find FAQ entries and flows that do not help."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.conversations import LockedConversation
from bot.store.models import Conversation, Feedback, FeedbackTarget, coerce_enum, utcnow


def add_feedback(
    s: Session,
    conv: Conversation | LockedConversation,
    *,
    turn_seq: int,
    target_kind: FeedbackTarget | str,
    target_id: str,
    helpful: bool,
) -> Feedback:
    """Record whether the answer given at ``turn_seq`` (an FAQ entry or a flow) helped.

    Raises:
        StoreError: ``target_kind`` is not "faq" or "flow".
    """
    row = Feedback(
        conversation_id=conv.id,
        turn_seq=turn_seq,
        target_kind=coerce_enum(FeedbackTarget, target_kind, "feedback target kind"),
        target_id=target_id,
        helpful=bool(helpful),
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    return row


def list_feedback(s: Session, *, since: datetime | None = None) -> list[Feedback]:
    """Feedback oldest first, optionally only from ``since`` (timezone-aware) on."""
    stmt = select(Feedback).order_by(Feedback.created_at, Feedback.id)
    if since is not None:
        stmt = stmt.where(Feedback.created_at >= since)
    return list(s.scalars(stmt))
