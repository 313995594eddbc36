"""The figures a support lead reads: how many conversations the bot solved alone, why the others
reached a human, which checklist steps users give up on, which FAQ answers they vote down, and
how fast agents work the tickets.

Why one module of ~475 lines: it is one report over one cohort. Every figure shares the cohort
and outcome conditions below (`_cohort`, `_solved`…), which split modules would share privately.

Every figure is one SQL aggregate (SQLAlchemy Core) over a *cohort*: the conversations that
started in ``[start, end)`` (optionally of one brand), and for ticket figures the tickets opened
in that period. A conversation counts from the day it started, whenever its later messages
came, so a day's figures do not move once its conversations are over.

What each turn did is read from the user turn's ``meta``, written by the engine
(``bot/engine.py``) from ``TurnResult.report``:

- ``outcome``: answered, flow, clarify, fallback, out_of_scope, escalated, feedback, small_talk;
- ``steps_flow`` + ``steps``: the checklist and the steps it showed this turn;
- ``choice_step`` + ``choice``: the step answered and the option chosen (its title);
- ``resolved_step``: the resolved leaf reached; ``escalation`` (flow, urgent, handoff,
  misunderstood, fraud) + ``escalated_flow`` + ``escalated_step``: why and where a ticket
  opened; ``faq``: the FAQ entry answered.

Days are UTC calendar days. Durations are in seconds.

Definitions:
    contained: the conversation has no ticket, and reached a resolved leaf or got a "helpful"
        vote. Escalated: it has a ticket. Rates are shares of the cohort's conversations;
        fallback/clarify/out-of-scope rates are shares of the user messages the bot answered
        (outcome present and not "human", i.e. not written while an agent owned the chat).
    left at a step: the conversation's state still stands at that step of that flow, it has
        no ticket and nothing was said for ``idle`` (default 30 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TableValuedAlias

from bot.store.models import (
    Conversation,
    Feedback,
    FeedbackTarget,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
    Turn,
    TurnRole,
    utcnow,
)

TOP_INTENTS = 10
ESCALATION_REASONS = ("flow", "urgent", "handoff", "misunderstood", "fraud")
# Outcomes whose share of answered messages is reported as a rate.
RATE_OUTCOMES = ("fallback", "clarify", "out_of_scope")
# Who writes ticket events without being an agent.
NOT_AGENTS = ("bot", "user")
# What counts as an agent acting on a ticket: revealing a masked field or exporting the queue
# reads tickets, it does not work on them (one export would mark every ticket as acted on).
AGENT_ACTIONS = ("status", "assign", "note", "reply", "priority")
DEFAULT_IDLE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class InsightQuery:
    """The cohort: conversations started (tickets opened) in ``[start, end)``, of ``brand``."""

    start: datetime
    end: datetime
    brand: str | None = None

    @classmethod
    def last(cls, period: timedelta, *, brand: str | None = None, now: datetime | None = None) -> InsightQuery:
        """The period that ends now, e.g. ``InsightQuery.last(timedelta(days=7))``."""
        end = now or utcnow()
        return cls(end - period, end, brand)


# --------------------------------------------------------------------------- SQL pieces


def _meta(key: str) -> ColumnElement[str]:
    """A text value of the user turn's meta (json_extract on SQLite, ->> on PostgreSQL)."""
    text: ColumnElement[str] = Turn.meta[key].as_string()  # meta is a JSON column, typed Any
    return text


def _day(s: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM-DD' of a timestamp, in UTC on both backends."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _seconds(s: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if s.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _steps_of(s: Session) -> TableValuedAlias:
    """The table of step ids in the turn's ``meta.steps`` array (one row per step)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.jsonb_array_elements_text(Turn.meta["steps"]).table_valued("value")
    return func.json_each(Turn.meta, "$.steps").table_valued("value")


def _cohort(q: InsightQuery) -> list[ColumnElement[bool]]:
    conds = [Conversation.created_at >= q.start, Conversation.created_at < q.end, Conversation.turn_count > 0]
    if q.brand is not None:
        conds.append(Conversation.brand == q.brand)
    return conds


def _cohort_ids(q: InsightQuery) -> Select[str]:
    return select(Conversation.id).where(*_cohort(q))


def _cohort_turns(q: InsightQuery) -> list[ColumnElement[bool]]:
    """User turns of the cohort's conversations."""
    return [Turn.conversation_id.in_(_cohort_ids(q)), Turn.role == TurnRole.USER]


def _ticket_window(q: InsightQuery) -> list[ColumnElement[bool]]:
    conds = [Ticket.created_at >= q.start, Ticket.created_at < q.end]
    if q.brand is not None:
        conds.append(Ticket.brand == q.brand)
    return conds


def _has_ticket() -> ColumnElement[bool]:
    return exists().where(Ticket.conversation_id == Conversation.id)


def _solved() -> ColumnElement[bool]:
    """Reached a resolved leaf, or voted an answer helpful."""
    resolved = exists().where(
        Turn.conversation_id == Conversation.id, Turn.role == TurnRole.USER, _meta("resolved_step").is_not(None)
    )
    helpful = exists().where(Feedback.conversation_id == Conversation.id, Feedback.helpful.is_(True))
    return or_(resolved, helpful)


def _counts(rows: Any) -> dict[str, int]:
    return {str(key): int(n) for key, n in rows}


# --------------------------------------------------------------------------- figures


def conversation_rows(s: Session, q: InsightQuery) -> list[dict[str, Any]]:
    """Conversations, contained and escalated per start day and brand."""
    escalated = case((_has_ticket(), 1), else_=0)
    contained = case((and_(~_has_ticket(), _solved()), 1), else_=0)
    per = (
        select(
            _day(s, Conversation.created_at).label("day"),
            Conversation.brand,
            func.count().label("conversations"),
            func.sum(contained).label("contained"),
            func.sum(escalated).label("escalated"),
        )
        .where(*_cohort(q))
        .group_by(literal_column("day"), Conversation.brand)
        .order_by(literal_column("day"), Conversation.brand)
    )
    return [
        {"day": day, "brand": brand, "conversations": n, "contained": int(c or 0), "escalated": int(e or 0)}
        for day, brand, n, c, e in s.execute(per)
    ]


def conversation_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals, the per-day and the per-brand lines of ``conversation_rows``."""

    def total(key_rows: list[dict[str, Any]]) -> dict[str, Any]:
        n = sum(r["conversations"] for r in key_rows)
        c = sum(r["contained"] for r in key_rows)
        e = sum(r["escalated"] for r in key_rows)
        return {
            "conversations": n,
            "contained": c,
            "escalated": e,
            "containment_rate": _rate(c, n),
            "escalation_rate": _rate(e, n),
        }

    days = sorted({r["day"] for r in rows})
    brands = sorted({r["brand"] for r in rows})
    return {
        **total(rows),
        "days": [{"day": d, **total([r for r in rows if r["day"] == d])} for d in days],
        "brands": [{"brand": b, **total([r for r in rows if r["brand"] == b])} for b in brands],
    }


def conversation_figures(s: Session, q: InsightQuery) -> dict[str, Any]:
    """Conversations, contained and escalated: in total, per day and per brand."""
    return conversation_totals(conversation_rows(s, q))


def message_figures(s: Session, q: InsightQuery) -> dict[str, Any]:
    """User messages the bot answered, by outcome, and the fallback/clarify/out-of-scope rates."""
    outcome = _meta("outcome")
    rows = s.execute(
        select(outcome, func.count())
        .where(*_cohort_turns(q), outcome.is_not(None), outcome != "human")
        .group_by(outcome)
    )
    by_outcome = _counts(rows)
    answered = sum(by_outcome.values())
    return {
        "messages": answered,
        "outcomes": dict(sorted(by_outcome.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rates": {name: _rate(by_outcome.get(name, 0), answered) for name in RATE_OUTCOMES},
    }


def escalation_reasons(s: Session, q: InsightQuery) -> dict[str, int]:
    """Why the cohort's tickets opened: every reason, zero when none."""
    reason = _meta("escalation")
    found = _counts(
        s.execute(select(reason, func.count()).where(*_cohort_turns(q), reason.is_not(None)).group_by(reason))
    )
    return {name: found.pop(name, 0) for name in ESCALATION_REASONS} | found


def top_intents(s: Session, q: InsightQuery, limit: int | None = TOP_INTENTS) -> list[dict[str, Any]]:
    """The intents users' typed messages were read as, most frequent first."""
    n = func.count().label("n")
    stmt = (
        select(Turn.intent, n)
        .where(*_cohort_turns(q), Turn.intent.is_not(None))
        .group_by(Turn.intent)
        .order_by(n.desc(), Turn.intent)
        .limit(limit)
    )
    return [{"intent": intent, "messages": count} for intent, count in s.execute(stmt)]


def faq_figures(s: Session, q: InsightQuery) -> list[dict[str, Any]]:
    """Each FAQ entry answered in the cohort: times answered, helpful and not-helpful votes.

    Sorted by not-helpful votes first: the entries an editor should rewrite.
    """
    faq = _meta("faq")
    answered = _counts(s.execute(select(faq, func.count()).where(*_cohort_turns(q), faq.is_not(None)).group_by(faq)))
    votes = s.execute(
        select(
            Feedback.target_id,
            func.sum(case((Feedback.helpful.is_(True), 1), else_=0)),
            func.sum(case((Feedback.helpful.is_(False), 1), else_=0)),
        )
        .where(Feedback.target_kind == FeedbackTarget.FAQ, Feedback.conversation_id.in_(_cohort_ids(q)))
        .group_by(Feedback.target_id)
    )
    entries: dict[str, dict[str, Any]] = {
        faq_id: {"faq": faq_id, "answered": n, "helpful": 0, "not_helpful": 0} for faq_id, n in answered.items()
    }
    for faq_id, yes, no in votes:
        entry = entries.setdefault(faq_id, {"faq": faq_id, "answered": 0, "helpful": 0, "not_helpful": 0})
        entry.update(helpful=int(yes or 0), not_helpful=int(no or 0))
    return sorted(entries.values(), key=lambda e: (-e["not_helpful"], -e["answered"], e["faq"]))


def ticket_figures(s: Session, q: InsightQuery, *, now: datetime | None = None) -> dict[str, Any]:
    """Tickets opened in the period by priority and category, how fast agents acted on them and
    resolved them, and the tickets overdue now (active past their due time, any opening date)."""
    now = now or utcnow()
    window = _ticket_window(q)
    by_priority = _counts(s.execute(select(Ticket.priority, func.count()).where(*window).group_by(Ticket.priority)))
    by_category = _counts(s.execute(select(Ticket.category, func.count()).where(*window).group_by(Ticket.category)))

    in_window = select(Ticket.id).where(*window)
    first_action = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.created_at).label("at"))
        .where(
            TicketEvent.ticket_id.in_(in_window),
            TicketEvent.actor.not_in(NOT_AGENTS),
            TicketEvent.kind.in_(AGENT_ACTIONS),
        )
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    resolved = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.created_at).label("at"))
        .where(
            TicketEvent.ticket_id.in_(in_window),
            TicketEvent.kind == "status",
            TicketEvent.after["status"].as_string() == TicketStatus.RESOLVED.value,
        )
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    durations = {}
    for name, sub in (("first_action", first_action), ("resolution", resolved)):
        seconds = _seconds(s, sub.c.at, Ticket.created_at)
        count, mean, longest = s.execute(
            select(func.count(), func.avg(seconds), func.max(seconds))
            .select_from(sub)
            .join(Ticket, Ticket.id == sub.c.ticket_id)
        ).one()
        durations[name] = {
            "tickets": int(count),
            "mean_seconds": _round(mean),
            "max_seconds": _round(longest),
        }

    active = [Ticket.status.in_([st.value for st in TicketStatus if st.is_active]), Ticket.due_at < now]
    if q.brand is not None:
        active.append(Ticket.brand == q.brand)
    overdue = _counts(s.execute(select(Ticket.priority, func.count()).where(*active).group_by(Ticket.priority)))
    return {
        "opened": sum(by_priority.values()),
        "by_priority": by_priority_rank(by_priority),
        "by_category": dict(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        "time_to_first_action": durations["first_action"],
        "time_to_resolution": durations["resolution"],
        "overdue": {"total": sum(overdue.values()), "by_priority": by_priority_rank(overdue)},
    }


def flow_funnels(
    s: Session, q: InsightQuery, *, flow: str | None = None, now: datetime | None = None, idle: timedelta = DEFAULT_IDLE
) -> dict[str, dict[str, dict[str, Any]]]:
    """For each flow (or one), each step: conversations that reached it, chose each of its
    answers, left there, were solved there, or escalated there.

    Returns ``{flow: {step: {"reached", "choices": {title: n}, "left", "solved", "escalated"}}}``
    with steps in no particular order (the flow's definition knows the order), counting
    conversations, not messages.
    """
    now = now or utcnow()
    funnels: dict[str, dict[str, dict[str, Any]]] = {}

    def cell(flow_name: str, step: str) -> dict[str, Any]:
        steps = funnels.setdefault(flow_name, {})
        return steps.setdefault(step, {"reached": 0, "choices": {}, "left": 0, "solved": 0, "escalated": 0})

    conv = func.count(distinct(Turn.conversation_id))
    steps_flow = _meta("steps_flow")
    only = [] if flow is None else [steps_flow == flow]
    steps = _steps_of(s)
    reached = (
        select(steps_flow, steps.c.value, conv)
        .select_from(Turn)
        .join(steps, true())
        .where(*_cohort_turns(q), steps_flow.is_not(None), *only)
        .group_by(steps_flow, steps.c.value)
    )
    for flow_name, step, n in s.execute(reached):
        cell(flow_name, step)["reached"] = n

    choice_step, choice = _meta("choice_step"), _meta("choice")
    chosen = (
        select(steps_flow, choice_step, choice, conv)
        .where(*_cohort_turns(q), choice_step.is_not(None), *only)
        .group_by(steps_flow, choice_step, choice)
    )
    for flow_name, step, title, n in s.execute(chosen):
        cell(flow_name, step)["choices"][title] = n

    resolved_step = _meta("resolved_step")
    solved = (
        select(steps_flow, resolved_step, conv)
        .where(*_cohort_turns(q), resolved_step.is_not(None), *only)
        .group_by(steps_flow, resolved_step)
    )
    for flow_name, step, n in s.execute(solved):
        cell(flow_name, step)["solved"] = n

    esc_flow, esc_step = _meta("escalated_flow"), _meta("escalated_step")
    escalated = (
        select(esc_flow, esc_step, conv)
        .where(*_cohort_turns(q), esc_step.is_not(None), *([] if flow is None else [esc_flow == flow]))
        .group_by(esc_flow, esc_step)
    )
    for flow_name, step, n in s.execute(escalated):
        cell(flow_name, step)["escalated"] = n

    state_flow, state_step = Conversation.state["flow"].as_string(), Conversation.state["step"].as_string()
    left = (
        select(state_flow, state_step, func.count())
        .where(
            *_cohort(q),
            state_step.is_not(None),
            ~_has_ticket(),
            Conversation.updated_at < now - idle,
            *([] if flow is None else [state_flow == flow]),
        )
        .group_by(state_flow, state_step)
    )
    for flow_name, step, n in s.execute(left):
        cell(flow_name, step)["left"] = n
    return funnels


def live_figures(
    s: Session, q: InsightQuery, *, now: datetime | None = None, idle: timedelta = DEFAULT_IDLE
) -> dict[str, Any]:
    """The figures of the cohort computed from the turns themselves (all but the tickets'),
    in the shapes the rollups store: conversation rows per day and brand, every intent."""
    return {
        "conversation_rows": conversation_rows(s, q),
        "messages": message_figures(s, q),
        "escalation_reasons": escalation_reasons(s, q),
        "intents": top_intents(s, q, limit=None),
        "faq": faq_figures(s, q),
        "funnels": flow_funnels(s, q, now=now, idle=idle),
    }


def compute_insights(
    s: Session, q: InsightQuery, *, now: datetime | None = None, idle: timedelta = DEFAULT_IDLE, rollups: bool = True
) -> dict[str, Any]:
    """Every figure of the period, as one JSON-ready object (the CLI's and the console's).

    With ``rollups`` (the default), the days already rolled up (``insight_rollups``, and
    ``insight_ticket_rollups`` for the ticket figures) are summed from there and only the rest
    of the period is computed from the turns and tickets; the result is the same
    (``tests/test_store_insight_rollups.py``, ``tests/test_store_ticket_rollups.py``), only
    faster on a large store.
    """
    from bot.store import insight_rollups, ticket_rollups

    if rollups:
        parts = insight_rollups.split(s, q, now=now)
        rows = insight_rollups.read(s, parts.rolled_days, q.brand) if parts.rolled_days else []
        for window in parts.live:
            rows += insight_rollups.flatten(live_figures(s, window, now=now, idle=idle))
    else:
        rows = insight_rollups.flatten(live_figures(s, q, now=now, idle=idle))
    figures = insight_rollups.assemble(rows)
    return {
        "period": {
            "start": q.start.isoformat(timespec="seconds"),
            "end": q.end.isoformat(timespec="seconds"),
            "brand": q.brand,
        },
        "conversations": conversation_totals(figures["conversation_rows"]),
        "messages": figures["messages"],
        "escalation_reasons": figures["escalation_reasons"],
        "top_intents": figures["intents"][:TOP_INTENTS],
        "faq": figures["faq"],
        "tickets": ticket_rollups.ticket_figures(s, q, now=now) if rollups else ticket_figures(s, q, now=now),
        "funnels": figures["funnels"],
    }


def by_priority_rank(counts: dict[str, int]) -> dict[str, int]:
    """Counts per priority, most urgent first (any unknown priority last)."""
    rank = {p.value: p.rank for p in Priority}
    return dict(sorted(counts.items(), key=lambda kv: (-rank.get(kv[0], -1), kv[0])))


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
