"""Conversations and their turns.

A conversation is addressed by its id and proven by a bearer token that only the client holds;
the database keeps the token's sha256, so a leaked database does not let anyone post into
live conversations.

Callers process one conversation's messages one at a time::

    with db.session() as s:
        conv = get_conversation(s, conv_id, lock=True)
        if conv is None or not token_hash_matches(conv.token_hash, token): ...
        append_turn(s, conv, role="user", text=redacted)
        ...
        save_state(conv, new_state)

The per-message path of the assistant (``lock_conversation`` → ``record_turns``) uses Core
statements built once at import and executed on the session's connection: building a statement
and the ORM's bookkeeping around it cost more CPU than SQLite's own work on these rows.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import uuid
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bot.store.models import Conversation, Turn, TurnRole, coerce_enum, table_of, utcnow


def hash_token(token: str) -> str:
    """sha256 hex of a conversation token: what the database stores instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_conversation(
    s: Session, *, brand: str, channel: str, conv_id: str | None = None, state: dict[str, Any] | None = None
) -> tuple[Conversation, str]:
    """Start a conversation; returns the row and the plaintext token to give to the client.

    The token is not stored and cannot be recovered: hand it out now. ``conv_id`` lets a
    channel with its own stable ids (the JSON-lines CLI) choose the id; default: a random uuid4.
    ``state``: the initial dialogue state (a copy is stored), written by the same INSERT.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conv = Conversation(
        id=conv_id or uuid.uuid4().hex,
        token_hash=hash_token(token),
        brand=brand,
        channel=channel,
        state=copy.deepcopy(state) if state else {},
        human_owner=False,
        turn_count=0,
        created_at=now,
        updated_at=now,
    )
    s.add(conv)
    s.flush()
    return conv, token


def insert_conversation(
    connection: Connection, *, brand: str, channel: str, state: dict[str, Any]
) -> tuple[LockedConversation, str, str]:
    """Start a conversation inside the caller's transaction (its first message's): one INSERT.

    Returns the conversation as ``lock_conversation`` reads one, the plaintext token to hand out
    now, and the token's hash. Rolled back with the transaction, so a first message that fails
    leaves no conversation behind.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conv_id = uuid.uuid4().hex
    token_hash = hash_token(token)
    connection.execute(
        _INSERT_CONVERSATION,
        {
            "id": conv_id,
            "token_hash": token_hash,
            "brand": brand,
            "channel": channel,
            "state": copy.deepcopy(state),
            "human_owner": False,
            "turn_count": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    return LockedConversation(conv_id, brand, state, False, 0), token, token_hash


def token_hash_matches(token_hash: str, token: str | None) -> bool:
    """Whether ``token`` hashes to ``token_hash`` (a remembered one), in constant time."""
    if not token:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)


def get_conversation(s: Session, conv_id: str, *, lock: bool = False) -> Conversation | None:
    """The conversation with this id, or None.

    Args:
        lock: hold the conversation until the transaction ends, so that no other worker
            processes a message of it meanwhile. PostgreSQL takes a row lock
            (``SELECT ... FOR UPDATE``); on SQLite the session's ``BEGIN IMMEDIATE`` already
            holds the database write lock and FOR UPDATE is not rendered.
    """
    stmt = select(Conversation).where(Conversation.id == conv_id)
    if lock:
        # populate_existing: a copy already in this session may predate the lock.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return s.scalars(stmt).one_or_none()


class LockedConversation(NamedTuple):
    """What one message needs of its conversation, read under the conversation's lock."""

    id: str
    brand: str
    state: dict[str, Any] | None
    human_owner: bool
    turn_count: int


_conversations = table_of(Conversation)
_turns = table_of(Turn)
# Built once: the per-message statements, with their values bound at execution.
_LOCK_CONVERSATION = (
    select(
        _conversations.c.id,
        _conversations.c.brand,
        _conversations.c.state,
        _conversations.c.human_owner,
        _conversations.c.turn_count,
    )
    .where(_conversations.c.id == bindparam("conv_id"))
    .with_for_update()
)
_INSERT_TURNS = insert(_turns)
_INSERT_CONVERSATION = insert(_conversations)
_SAVE_CONVERSATION = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conv_id"))
    .values(
        turn_count=bindparam("new_turn_count", type_=_conversations.c.turn_count.type),
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
        state=bindparam("new_state", type_=_conversations.c.state.type),
    )
)
# How far back a repeated message id is looked for: retries come right after the original.
MESSAGE_IDS_REMEMBERED = 200
_RECENT_USER_TURNS = (
    select(_turns.c.meta)
    .where(_turns.c.conversation_id == bindparam("conv_id"), _turns.c.role == TurnRole.USER.value)
    .order_by(_turns.c.seq.desc())
    .limit(MESSAGE_IDS_REMEMBERED)
    .subquery()
)
_STORED_REPLY = (
    select(_RECENT_USER_TURNS.c.meta)
    .where(_RECENT_USER_TURNS.c.meta["message_id"].as_string() == bindparam("message_id"))
    .limit(1)
)


def lock_conversation(connection: Connection, conv_id: str) -> LockedConversation | None:
    """The conversation's id, brand, state, owner flag and turn count, locked until the
    transaction ends (as ``get_conversation(..., lock=True)``, without an ORM object), or None."""
    row = connection.execute(_LOCK_CONVERSATION, {"conv_id": conv_id}).first()
    return None if row is None else LockedConversation(*row)


def stored_reply(connection: Connection, conv_id: str, message_id: str) -> dict[str, Any] | None:
    """The reply stored with the user's message of this client id, among the conversation's
    last MESSAGE_IDS_REMEMBERED user messages, or None. The database picks the message by its
    id, so the other messages' stored replies are never decoded."""
    meta = connection.execute(_STORED_REPLY, {"conv_id": conv_id, "message_id": message_id}).scalar()
    return None if meta is None else meta.get("reply")


def last_reply_role(connection: Connection, conv_id: str) -> str | None:
    """The role of the conversation's last turn that is not the user's (bot or agent), or None."""
    stmt = (
        select(_turns.c.role)
        .where(_turns.c.conversation_id == conv_id, _turns.c.role != TurnRole.USER.value)
        .order_by(_turns.c.seq.desc())
        .limit(1)
    )
    role = connection.execute(stmt).scalar()
    return None if role is None else str(TurnRole(role))


def append_turn(
    s: Session,
    conv: Conversation,
    *,
    role: TurnRole | str,
    text: str,
    payload: str | None = None,
    intent: str | None = None,
    confidence: float | None = None,
    meta: dict[str, Any] | None = None,
) -> Turn:
    """Add the next turn (seq = the conversation's new turn count).

    ``text`` must already be redacted. Call with a conversation loaded with ``lock=True``:
    two unlocked writers would pick the same seq, and the second fails on the unique
    (conversation_id, seq) constraint.
    """
    now = utcnow()
    conv.turn_count = (conv.turn_count or 0) + 1
    conv.updated_at = now
    turn = Turn(
        conversation_id=conv.id,
        seq=conv.turn_count,
        role=coerce_enum(TurnRole, role, "turn role"),
        text=text,
        payload=payload,
        intent=intent,
        confidence=confidence,
        meta=dict(meta or {}),
        created_at=now,
    )
    # No flush here: a message adds several turns, and one flush at commit batches their INSERTs
    # with the conversation's UPDATE (the seq is already known from turn_count).
    s.add(turn)
    return turn


def record_turns(
    connection: Connection,
    conv: Conversation | LockedConversation,
    turns: list[dict[str, Any]],
    state: dict[str, Any],
) -> None:
    """Store one message's turns and the new dialogue state: one INSERT and one UPDATE.

    The per-message path, where the ORM's unit of work (``append_turn`` + ``save_state``) costs
    about 0.5 ms more per message. ``conv`` must be locked (``lock_conversation``, or
    ``get_conversation`` with ``lock=True``); each turn is a dict of Turn columns (role, text;
    optionally payload, intent, confidence, meta) and is numbered after the conversation's last
    turn, in order. The ``conv`` object itself is not updated: read it no further in this session.
    """
    now = utcnow()
    first = (conv.turn_count or 0) + 1
    rows = [
        {
            "conversation_id": conv.id,
            "seq": first + i,
            "role": coerce_enum(TurnRole, turn["role"], "turn role").value,
            "text": turn["text"],
            "payload": turn.get("payload"),
            "intent": turn.get("intent"),
            "confidence": turn.get("confidence"),
            "meta": dict(turn.get("meta") or {}),
            "created_at": now,
        }
        for i, turn in enumerate(turns)
    ]
    if rows:
        connection.execute(_INSERT_TURNS, rows)
    connection.execute(
        _SAVE_CONVERSATION,
        {"conv_id": conv.id, "new_turn_count": first - 1 + len(rows), "now": now, "new_state": state},
    )


def list_turns(s: Session, conv_id: str, *, after_seq: int = 0) -> list[Turn]:
    """Turns of a conversation with seq > ``after_seq``, oldest first."""
    stmt = select(Turn).where(Turn.conversation_id == conv_id, Turn.seq > after_seq).order_by(Turn.seq)
    return list(s.scalars(stmt))


def save_state(conv: Conversation, state: dict[str, Any]) -> None:
    """Replace the dialogue state; saved when the session commits.

    A deep copy is assigned and flagged as modified: SQLAlchemy does not see in-place changes
    to a JSON dict, and the caller may keep mutating its own dict afterwards.
    """
    conv.state = copy.deepcopy(state)
    flag_modified(conv, "state")
    conv.updated_at = utcnow()
