"""Storage: conversations, turns, tickets and their audit events, console users, feedback.

SQLAlchemy 2 on a SQLite file (the embedded default) or PostgreSQL, with Alembic migrations
shipped in ``bot/store/migrations``. Repository functions take a ``Session`` first; a session
from ``Database.session()`` is one transaction::

    db = Database("sqlite:///walletbot.db")
    db.migrate()
    with db.session() as s:
        conv, token = create_conversation(s, brand="kdou", channel="http")
        append_turn(s, conv, role="user", text="充值没到账")
"""

from bot.store.conversations import (
    LockedConversation,
    append_turn,
    create_conversation,
    get_conversation,
    hash_token,
    insert_conversation,
    last_reply_role,
    list_turns,
    lock_conversation,
    record_turns,
    save_state,
    stored_reply,
    token_hash_matches,
)
from bot.store.db import Database
from bot.store.errors import InvalidTransition, StoreError, UserExists
from bot.store.feedback import add_feedback, list_feedback
from bot.store.models import (
    ConsoleUser,
    Conversation,
    EventKind,
    Feedback,
    FeedbackTarget,
    Priority,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    Turn,
    TurnRole,
    parse_ticket_number,
    ticket_number,
)
from bot.store.queue import TicketQuery, list_tickets
from bot.store.tickets import (
    add_note,
    add_to_ticket,
    assign,
    change_status,
    create_ticket_once,
    get_ticket,
    get_ticket_for_conversation,
    list_events,
    record_event,
)
from bot.store.users import authenticate, create_user, get_user, list_users

__all__ = [
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
