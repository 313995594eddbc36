"""bot.engine.Assistant: the one entry of both channels (HTTP and CLI) into the bot: starting a
conversation, checking its token, handling a message once, and reading its state and history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.api.errors import STATUS_BY_CODE
from bot.config import Settings
from bot.engine import Assistant, Runtime
from bot.errors import ConfigError, ConversationError
from bot.store import Database


def _error(call: Callable[..., object], *args: object, **kwargs: object) -> ConversationError:
    with pytest.raises(ConversationError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_conversation_starts_with_the_default_brand_and_a_fresh_state(assistant: Assistant) -> None:
    conversation, token = assistant.start_conversation(channel="test")
    assert assistant.exists(conversation)
    assert len(token) >= 20
    assert assistant.state(conversation) == {
        "intent": None,
        "flow": None,
        "step": None,
        "faq_id": None,
        "ticket": None,
        "priority": None,
        "escalated": False,
        "resolved": False,
    }
    assert assistant.history(conversation) == []
    assert assistant.ticket_status(conversation) is None


def test_an_unknown_brand_is_refused_before_anything_is_stored(assistant: Assistant) -> None:
    with pytest.raises(ConfigError) as error:
        assistant.start_conversation(brand="acme")
    assert str(error.value).startswith("Unknown brand 'acme': known brands are ")


def test_the_token_opens_its_own_conversation_only(assistant: Assistant) -> None:
    first, token = assistant.start_conversation()
    second, other = assistant.start_conversation()
    assistant.check_token(first, token)
    assistant.check_token(first, token)  # the second check is answered from the remembered hash
    for wrong in (other, None, ""):
        error = _error(assistant.check_token, first, wrong)
        assert (STATUS_BY_CODE[error.code], error.code, str(error)) == (
            403,
            "forbidden",
            "The conversation token is missing or wrong.",
        )
    error = _error(assistant.check_token, "no-such-id", token)
    assert (STATUS_BY_CODE[error.code], error.code, str(error)) == (
        404,
        "not_found",
        "Conversation 'no-such-id' does not exist.",
    )
    assert second != first


@pytest.mark.parametrize("message", [{}, {"text": "你好", "payload": "/human"}])
def test_a_message_is_a_text_or_a_payload_not_both_nor_neither(assistant: Assistant, message: dict[str, str]) -> None:
    conversation, _ = assistant.start_conversation()
    error = _error(assistant.handle, conversation, **message)
    assert (STATUS_BY_CODE[error.code], error.code) == (422, "invalid_message")
    assert assistant.history(conversation) == []


def test_a_message_to_an_unknown_conversation_is_not_found(assistant: Assistant) -> None:
    error = _error(assistant.handle, "no-such-id", text="你好")
    assert (STATUS_BY_CODE[error.code], error.code) == (404, "not_found")
    error = _error(assistant.state, "no-such-id")
    assert (STATUS_BY_CODE[error.code], error.code) == (404, "not_found")


def test_one_message_adds_the_user_turn_and_the_reply(assistant: Assistant) -> None:
    conversation, _ = assistant.start_conversation()
    reply = assistant.handle(conversation, text="你好")
    assert reply["conversation"] == conversation
    assert reply["messages"]
    history = assistant.history(conversation)
    assert [t["role"] for t in history] == ["user"] + ["bot"] * len(reply["messages"])
    assert [t["seq"] for t in history] == list(range(1, len(history) + 1))
    assert history[0]["text"] == "你好"


def test_a_secret_is_stored_redacted_and_never_echoed(assistant: Assistant) -> None:
    conversation, _ = assistant.start_conversation()
    reply = assistant.handle(conversation, text="我的密码是Abc12345")
    assert assistant.history(conversation)[0]["text"] == "我的密码是[密码已隐藏]"
    assert all("Abc12345" not in m["text"] for m in reply["messages"])
    assert all("Abc12345" not in (t["text"] or "") for t in assistant.history(conversation))


def test_a_repeated_message_id_returns_the_stored_reply_and_adds_nothing(assistant: Assistant) -> None:
    conversation, _ = assistant.start_conversation()
    first = assistant.handle(conversation, text="提现失败了", message_id="m-1")
    turns = len(assistant.history(conversation))
    again = assistant.handle(conversation, text="提现失败了", message_id="m-1")
    assert again == first
    assert len(assistant.history(conversation)) == turns
    assistant.handle(conversation, text="提现失败了", message_id="m-2")  # a new id is a new message
    assert len(assistant.history(conversation)) > turns


def test_asking_for_a_human_opens_a_ticket_the_conversation_can_follow(assistant: Assistant) -> None:
    conversation, _ = assistant.start_conversation()
    reply = assistant.handle(conversation, payload="/human")
    state = assistant.state(conversation)
    assert reply["state"] == state
    assert state["escalated"] is True and state["ticket"]
    assert assistant.ticket_status(conversation) == "open"


def test_ready_reports_the_model_and_the_database(settings: Settings, runtime: Runtime, tmp_path: Path) -> None:
    working = Database(settings.database_url)
    working.migrate()
    assert Assistant(settings, runtime, working).ready() == {"model": True, "database": True}
    working.dispose()
    unreachable = Database(f"sqlite:///{tmp_path}")  # a folder: SQLite cannot open it
    assert Assistant(settings, runtime, unreachable).ready() == {"model": True, "database": False}
    unreachable.dispose()
