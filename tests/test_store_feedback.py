"""bot.store.feedback: "did this help?" answers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import (
    Database,
    FeedbackTarget,
    StoreError,
    add_feedback,
    create_conversation,
    list_feedback,
)


def test_add_and_list_feedback(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        first = add_feedback(s, conv, turn_seq=2, target_kind="faq", target_id="security.reset_password", helpful=True)
        add_feedback(s, conv, turn_seq=6, target_kind=FeedbackTarget.FLOW, target_id="topup", helpful=False)
    with database.session() as s:
        rows = list_feedback(s)
        assert [(f.turn_seq, f.target_kind, f.target_id, f.helpful) for f in rows] == [
            (2, FeedbackTarget.FAQ, "security.reset_password", True),
            (6, FeedbackTarget.FLOW, "topup", False),
        ]
        assert rows[0].conversation_id == conv.id
        assert list_feedback(s, since=first.created_at + timedelta(days=1)) == []
        assert len(list_feedback(s, since=first.created_at)) == 2


def test_unknown_target_kind_is_refused(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        with pytest.raises(StoreError) as info:
            add_feedback(s, conv, turn_seq=1, target_kind="answer", target_id="x", helpful=True)
    assert str(info.value) == ("Unknown feedback target kind 'answer': use one of 'faq', 'flow'.")
