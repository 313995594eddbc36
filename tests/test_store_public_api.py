"""bot.store's public names: what the dialogue engine, HTTP API and console may import."""

from __future__ import annotations

import bot.store


def test_public_api_is_pinned() -> None:
    assert sorted(bot.store.__all__) == [
        "ConsoleUser",
        "Conversation",
        "Database",
        "EventKind",
        "Feedback",
        "FeedbackTarget",
        "InvalidTransition",
        "LockedConversation",
        "Priority",
        "Role",
        "StoreError",
        "Ticket",
        "TicketEvent",
        "TicketQuery",
        "TicketStatus",
        "Turn",
        "TurnRole",
        "UserExists",
        "add_feedback",
        "add_note",
        "add_to_ticket",
        "append_turn",
        "assign",
        "authenticate",
        "change_status",
        "create_conversation",
        "create_ticket_once",
        "create_user",
        "get_conversation",
        "get_ticket",
        "get_ticket_for_conversation",
        "get_user",
        "hash_token",
        "insert_conversation",
        "last_reply_role",
        "list_events",
        "list_feedback",
        "list_tickets",
        "list_turns",
        "list_users",
        "lock_conversation",
        "parse_ticket_number",
        "record_event",
        "record_turns",
        "save_state",
        "stored_reply",
        "ticket_number",
        "token_hash_matches",
    ]
    for name in bot.store.__all__:
        assert getattr(bot.store, name) is not None


def test_store_errors_hang_under_the_product_root() -> None:
    from bot.errors import WalletbotError

    assert issubclass(bot.store.StoreError, WalletbotError)
    assert issubclass(bot.store.InvalidTransition, bot.store.StoreError)
    assert issubclass(bot.store.UserExists, bot.store.StoreError)
