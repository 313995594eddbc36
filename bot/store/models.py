"""Database tables of the product, as SQLAlchemy 2 declarative models.

Why one module of ~575 lines: it is one schema. Every table, its constraints and the enums it
stores are compared as a whole with the migrations (tests/test_store_db.py).

The schema itself is owned by the Alembic migrations in ``bot/store/migrations``; these models
must match them (``tests/test_store_db.py`` compares the two with Alembic's autogenerate).

Conventions:
- Timestamps are timezone-aware UTC on the way in and on the way out, also on SQLite, which
  has no time zone type (see ``UTCDateTime``).
- Lifecycle values (ticket status, priority, roles) are ``enum.StrEnum``; they are stored as
  plain strings guarded by CHECK constraints and read back as the enum.
- JSON is stored as JSONB on PostgreSQL and as text on SQLite; the engine serialises it with
  ``ensure_ascii=False`` so Chinese stays searchable (see ``bot.store.db``).
"""

from __future__ import annotations

import enum
import hashlib
import re
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from bot.store.errors import StoreError


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind the store writes)."""
    return datetime.now(UTC)


# --------------------------------------------------------------------------- lifecycles


class TicketStatus(enum.StrEnum):
    """Where a ticket is in its life; ``allowed_next`` is the whole lifecycle."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_USER = "waiting_on_user"
    RESOLVED = "resolved"
    CLOSED = "closed"

    def allowed_next(self) -> list[TicketStatus]:
        """Statuses a ticket in this status may move to, in a stable order."""
        return list(_TRANSITIONS[self])

    def can_move_to(self, new: TicketStatus) -> bool:
        return new in _TRANSITIONS[self]

    @property
    def is_active(self) -> bool:
        """True while an agent still has something to do (the queue lists these first)."""
        return self not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)


_TRANSITIONS: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    TicketStatus.OPEN: (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED),
    TicketStatus.IN_PROGRESS: (
        TicketStatus.WAITING_ON_USER,
        TicketStatus.RESOLVED,
        TicketStatus.OPEN,
    ),
    TicketStatus.WAITING_ON_USER: (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED),
    TicketStatus.RESOLVED: (TicketStatus.CLOSED, TicketStatus.OPEN),
    TicketStatus.CLOSED: (TicketStatus.OPEN,),
}


class Priority(enum.StrEnum):
    """Ticket priority; compare with ``rank`` (low < normal < high < urgent), not as strings."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Role(enum.StrEnum):
    """What a console user may do: agents work tickets, admins also manage users."""

    AGENT = "agent"
    ADMIN = "admin"


class TurnRole(enum.StrEnum):
    """Who wrote a turn of a conversation."""

    USER = "user"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class FeedbackTarget(enum.StrEnum):
    """What a "did this help?" answer is about."""

    FAQ = "faq"
    FLOW = "flow"


class EventKind(enum.StrEnum):
    """Kinds of ticket audit events the product writes; ``record_event`` accepts others too."""

    CREATED = "created"
    UPDATED = "updated"  # the user added to the ticket from the chat (details, a new problem)
    STATUS = "status"
    ASSIGN = "assign"
    NOTE = "note"
    REVEAL = "reveal"
    REPLY = "reply"
    EXPORT = "export"
    PRIORITY = "priority"  # an agent changed the priority (and with it the due time)


E = TypeVar("E", bound=enum.StrEnum)


def coerce_enum(enum_cls: type[E], value: object, what: str) -> E:
    """``enum_cls(value)`` with an error that quotes the value and lists the choices."""
    try:
        return enum_cls(value)  # type: ignore[arg-type]  # any value may be tried: a wrong one raises ValueError
    except ValueError:
        choices = ", ".join(f"'{m.value}'" for m in enum_cls)
        raise StoreError(f"Unknown {what} {value!r}: use one of {choices}.") from None


def queue_rank(status: TicketStatus | str, priority: Priority | str) -> int:
    """Position class of a ticket in the agents' queue; lower comes first.

    Active tickets (0-3) come before resolved/closed ones (4-7); inside each group urgent
    comes first. Stored in ``tickets.queue_rank`` so the queue order is one ascending index
    scan instead of a sort over every ticket.
    """
    group = 0 if TicketStatus(status).is_active else 4
    return group + (3 - Priority(priority).rank)


# Detail keys that hold how to reach the user: shown masked until someone allowed reveals them.
CONTACT_DETAILS = frozenset({"contact", "phone", "email"})
# Separators between several contacts in one detail ("138…，a@b.com"); spaces and dashes are
# not: they sit inside a number ("138 0013 8000") and a piece of a number must not be indexed.
_CONTACT_PIECES = re.compile(r"[,，;；/、]+")
_INSIDE_NUMBER = re.compile(r"(?<=\d)[\s-]+(?=\d)")


def contact_search_token(value: str) -> str:
    """A whole contact detail as the search index holds it: a digest, never the digits.

    A substring search over the plain number would let anyone rebuild a masked phone number
    digit by digit (search 1380, 1381, …); a digest matches only the complete value.
    """
    canonical = _INSIDE_NUMBER.sub("", value.strip().lower())  # 138 0013 8000 = 13800138000
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]
    return f"contact:{digest}"


def ticket_search_text(summary: str | None, details: object) -> str:
    """What the queue's text search looks in: the summary and every value of the details.

    Lower-cased once here, so a search is a plain LIKE over one column instead of lower() and
    a JSON-to-text conversion of every ticket at query time. Contact details only match in
    full (see contact_search_token).
    """
    contacts: list[str] = []
    if isinstance(details, dict):
        contacts = _leaves({k: v for k, v in details.items() if k in CONTACT_DETAILS})
        details = {k: v for k, v in details.items() if k not in CONTACT_DETAILS}
    pieces = {p for c in contacts for p in (c, *_CONTACT_PIECES.split(c))} - {""}
    parts = [summary or "", *_leaves(details), *(contact_search_token(p) for p in sorted(pieces))]
    return "\n".join(p for p in parts if p).lower()


def _leaves(value: object) -> list[str]:
    """Every scalar inside nested dicts and lists, as text, in order."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [] if value is None else [str(value)]


# --------------------------------------------------------------------------- ticket numbers

TICKET_NUMBER_PREFIX = "WB-"
_TICKET_NUMBER = re.compile(r"^\s*WB-?(\d{1,18})\s*$", re.IGNORECASE)


def ticket_number(ticket_id: int) -> str:
    """The number agents and users quote, derived from the id: 123 -> "WB-000123"."""
    return f"{TICKET_NUMBER_PREFIX}{ticket_id:06d}"


def parse_ticket_number(number: str) -> int | None:
    """The ticket id inside a number such as "WB-000123" (also "wb123"), or None."""
    match = _TICKET_NUMBER.match(number)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- column types


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite stores no zone and returns naive values; we refuse naive input (it is ambiguous)
    and mark output as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StoreError(
                f"Refusing naive timestamp {value.isoformat()!r}: pass a timezone-aware "
                "datetime, e.g. datetime.now(UTC)."
            )
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them all in one zone-free format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumText(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` stored as its string value and read back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[E], length: int = 32) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_cls(value)


def json_type() -> JSON:
    """JSON column type: JSONB on PostgreSQL; Python None is stored as SQL NULL."""
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _in(column: str, enum_cls: type[enum.StrEnum]) -> str:
    values = ", ".join(f"'{m.value}'" for m in enum_cls)
    return f"{column} IN ({values})"


# --------------------------------------------------------------------------- tables

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for bulk inserts and prepared statements
    (`model.__table__` is typed as any FromClause, which `insert()` does not take)."""
    return cast(Table, model.__table__)


class ConsoleUser(Base):
    """A support agent or admin who signs in to the web console."""

    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(StrEnumText(Role, 16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never show the password hash
        return f"ConsoleUser(id={self.id!r}, name={self.name!r}, role={self.role!r})"


class Conversation(Base):
    """One chat between an end user and the bot, with the dialogue state between turns."""

    __tablename__ = "conversations"
    # The insights' cohorts: conversations started in a period.
    __table_args__ = (Index("ix_conversations_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # sha256 hex of the bearer token; the token itself is only ever given to the client.
    token_hash: Mapped[str] = mapped_column(String(64))
    brand: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    # An agent owns the conversation: the bot stays silent.
    human_owner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    turn_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return (
            f"Conversation(id={self.id!r}, brand={self.brand!r}, channel={self.channel!r}, "
            f"turn_count={self.turn_count!r})"
        )


class Turn(Base):
    """One message of a conversation, stored already redacted by the caller."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint(_in("role", TurnRole), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[TurnRole] = mapped_column(StrEnumText(TurnRole, 16))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    # buttons, faq_id, flow, step, outcome ("clarify", "fallback", "out_of_scope", "answered")
    meta: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Turn(conversation_id={self.conversation_id!r}, seq={self.seq!r}, role={self.role!r})"


class Ticket(Base):
    """An escalation to a human, at most one per conversation."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("status", TicketStatus), name="status"),
        CheckConstraint(_in("priority", Priority), name="priority"),
        # The queue: ORDER BY queue_rank, created_at, optionally WHERE status = ...
        Index("ix_tickets_queue", "queue_rank", "created_at"),
        Index("ix_tickets_status_queue", "status", "queue_rank", "created_at"),
        Index("ix_tickets_brand", "brand"),
        Index("ix_tickets_category", "category"),
        Index("ix_tickets_assignee_id", "assignee_id"),
        Index("ix_tickets_created_at", "created_at"),  # the insights: tickets opened in a period
        # the insights: active tickets past their due time, counted from the index alone
        Index("ix_tickets_overdue", "status", "due_at", "brand", "priority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id"), unique=True)
    brand: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[Priority] = mapped_column(StrEnumText(Priority, 16))
    status: Mapped[TicketStatus] = mapped_column(StrEnumText(TicketStatus, 32))
    # Derived from status and priority by the validators below; see queue_rank().
    queue_rank: Mapped[int] = mapped_column(SmallInteger)
    summary: Mapped[str] = mapped_column(Text)
    # Collected details, redacted by the caller except contact fields. Assign a new dict to
    # change them: search_text is refreshed on assignment, not on in-place changes.
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    # Derived from summary and details by the validators below; see ticket_search_text().
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Checklist trail: [{"flow", "step", "say", "answer", "at"}, ...]
    trail: Mapped[list[dict[str, Any]]] = mapped_column(json_type(), default=list)
    assignee_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("console_users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # selectin: a page of the queue loads its assignees in one extra query, not one per row.
    assignee: Mapped[ConsoleUser | None] = relationship(lazy="selectin")

    @property
    def number(self) -> str:
        """Human-readable number, e.g. "WB-000123" (exists once the row is flushed)."""
        if self.id is None:
            raise StoreError("This ticket has no number yet because it was not saved: flush the session first.")
        return ticket_number(self.id)

    @validates("status")
    def _validate_status(self, key: str, value: object) -> TicketStatus:
        status = coerce_enum(TicketStatus, value, "ticket status")
        if self.priority is not None:
            self.queue_rank = queue_rank(status, self.priority)
        return status

    @validates("priority")
    def _validate_priority(self, key: str, value: object) -> Priority:
        priority = coerce_enum(Priority, value, "priority")
        if self.status is not None:
            self.queue_rank = queue_rank(self.status, priority)
        return priority

    @validates("summary")
    def _validate_summary(self, key: str, value: str) -> str:
        self.search_text = ticket_search_text(value, self.details)
        return value

    @validates("details")
    def _validate_details(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        self.search_text = ticket_search_text(self.summary, value)
        return value

    def __repr__(self) -> str:
        number = ticket_number(self.id) if self.id is not None else "unsaved"
        return f"Ticket({number}, status={self.status!r}, priority={self.priority!r})"


class TicketEvent(Base):
    """One line of a ticket's audit history; written once, never updated or deleted."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"))
    # "bot", "user", or a console user name
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    before: Mapped[Any | None] = mapped_column(json_type())
    after: Mapped[Any | None] = mapped_column(json_type())
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"TicketEvent(ticket_id={self.ticket_id!r}, kind={self.kind!r}, actor={self.actor!r})"


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _refuse_event_change(mapper: object, connection: object, target: TicketEvent) -> None:
    # The audit trail is only trustworthy if nothing in the product can rewrite it.
    raise StoreError(
        f"Ticket events are an append-only audit trail; refusing to change event {target.id!r}: "
        "record a new event instead."
    )


class Feedback(Base):
    """A user's "did this help?" answer about an FAQ answer or a flow."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(_in("target_kind", FeedbackTarget), name="target_kind"),
        Index("ix_feedback_created_at", "created_at"),
        Index("ix_feedback_target_kind_target_id", "target_kind", "target_id"),
        Index("ix_feedback_conversation_id", "conversation_id"),  # the insights: a conversation's votes
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32), ForeignKey("conversations.id", ondelete="CASCADE"))
    turn_seq: Mapped[int] = mapped_column(Integer)
    target_kind: Mapped[FeedbackTarget] = mapped_column(StrEnumText(FeedbackTarget, 16))
    target_id: Mapped[str] = mapped_column(String(128))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return (
            f"Feedback(conversation_id={self.conversation_id!r}, target={self.target_kind!r}:"
            f"{self.target_id!r}, helpful={self.helpful!r})"
        )


class InsightRollup(Base):
    """One figure of one day's conversations of one brand (see bot/store/insight_rollups.py).

    Figures of days that are over are summed from these rows instead of being computed again
    from every turn: the insights stay fast on a store of millions of turns.
    """

    __tablename__ = "insight_rollups"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    subkey: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class InsightRollupDay(Base):
    """A day whose rollup rows are written (a day without conversations has a row here only)."""

    __tablename__ = "insight_rollup_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InsightTicketRollup(Base):
    """One ticket figure of the tickets one brand opened on one day (see
    bot/store/ticket_rollups.py): a count per priority or category, or the count, sum or
    longest of a duration in seconds."""

    __tablename__ = "insight_ticket_rollups"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class InsightTicketState(Base):
    """The one row saying how far the ticket rollup goes: every day up to ``through`` is rolled
    up, with the tickets and ticket events up to the two marks (and less the ids in ``gaps``,
    JSON) taken into account. ``version`` lets one worker at a time refresh it."""

    __tablename__ = "insight_ticket_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    through: Mapped[str | None] = mapped_column(String(10))
    tickets_seen: Mapped[int] = mapped_column(Integer, default=0)
    events_seen: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[str] = mapped_column(Text, default="{}")
    version: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SharedState(Base):
    """State that several workers and hosts must agree on (see bot.shared_state): the hit times
    of a rate-limit or sign-in window (a JSON list of Unix times), or a revoked console session.
    Rows past ``expires_at`` (Unix time) mean nothing and are deleted now and then."""

    __tablename__ = "shared_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)
