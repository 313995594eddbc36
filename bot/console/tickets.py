"""One ticket: its page, and every change an agent makes to it (workflow, priority, assignee,
notes, replies to the user, revealing a contact detail).

Every change locks the ticket (``get_ticket_locked``), writes its audit event in the same
transaction, and answers with a redirect to the ticket's page (Post/Redirect/Get) or the page
re-rendered with the reason when the change is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import guard, store
from bot.console.pages import ticket_url
from bot.console.session import Ctx
from bot.console.views import event_items, is_contact, shown_details, ticket_row, trail_items, transcript_items
from bot.store import (
    ConsoleUser,
    EventKind,
    InvalidTransition,
    Priority,
    Role,
    Ticket,
    TicketStatus,
    add_note,
    assign,
    get_conversation,
    get_ticket,
    get_user,
    list_events,
    list_turns,
    list_users,
    record_event,
)
from bot.store.console_queries import (
    get_ticket_locked,
    get_user_by_id,
    last_agent_actions,
    last_user_messages,
    post_agent_reply,
    set_ticket_priority,
)
from bot.store.models import utcnow
from bot.text import render

# ?done= values of the ticket page that have a plain "done_<key>" message.
_DONE_KEYS = frozenset({"status", "assign", "note", "reply", "priority", "note_masked", "reply_masked"})
# After a reveal (POST), the ticket page (GET) shows the detail in full while this agent's
# audited reveal of it is this recent: refreshing the page a little later masks it again.
REVEAL_SHOWN_SECONDS = 120


def can_reveal(user: ConsoleUser, ticket: Ticket) -> bool:
    return user.role == Role.ADMIN or (ticket.assignee_id is not None and ticket.assignee_id == user.id)


def checked_text(ctx: Ctx, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ctx.refuse("empty_text", "empty_text")
    limit = ctx.settings.http.max_message_chars
    if len(text) > limit:
        raise ctx.refuse("text_too_long", "text_too_long", length=len(text), max=limit)
    return text


def ticket_data(ctx: Ctx, number: str, revealed: frozenset[str] = frozenset()) -> dict[str, Any]:
    fmt = ctx.fmt()
    with ctx.db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        if ticket is None:
            raise ctx.refuse("not_found", "not_found", number=number)
        conv = get_conversation(s, ticket.conversation_id)
        wrote = last_user_messages(s, [ticket.conversation_id])
        acted = last_agent_actions(s, [ticket.id])
        row = ticket_row(
            ticket, fmt, user_wrote_at=wrote.get(ticket.conversation_id), agent_acted_at=acted.get(ticket.id)
        )
        if not revealed:
            revealed = _recently_revealed(ctx, s, ticket)
        flows = ctx.assistant.runtime.content.flows
        details = dict(ticket.details or {})
        data = {
            "ticket": row,
            "details": [
                {
                    "key": key,
                    "name": ctx.config.name("details", key),
                    "value": value,
                    "masked": is_contact(key) and key not in revealed,
                    "revealed": is_contact(key) and key in revealed,
                }
                for key, value in shown_details(details, revealed).items()
            ],
            "can_reveal": can_reveal(ctx.me, ticket),
            "trail": trail_items(ticket.trail or [], fmt, {name: f.title for name, f in flows.items()}),
            "transcript": transcript_items(list_turns(s, ticket.conversation_id), fmt),
            "events": event_items(list_events(s, ticket), fmt),
            "transitions": [
                (status.value, ctx.config.name("transitions", status.value))
                for status in ticket.status.allowed_next()
                # "Reopen" is for a finished ticket; one in progress is not reopened.
                if not (status == TicketStatus.OPEN and ticket.status.is_active)
            ],
            "priorities": [(p.value, ctx.config.priority(p)) for p in reversed(list(Priority))],
            "canned": _canned(ctx, ticket),
            "human_owner": bool(conv.human_owner) if conv else False,
            "assignee_id": ticket.assignee_id,
            "users": list_users(s) if ctx.is_admin else [],
        }
    events: list[dict[str, Any]] = data["events"]  # type: ignore[assignment]
    data["notes"] = [e for e in events if e["kind"] == EventKind.NOTE.value]
    return data


def ticket_page(
    ctx: Ctx,
    number: str,
    *,
    revealed: frozenset[str] = frozenset(),
    status: int = 200,
    flash: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    data = ticket_data(ctx, number, revealed)
    done = ctx.request.query_params.get("done")
    if flash is None and done in _DONE_KEYS:
        flash = ctx.config.text(f"done_{done}")
    shown = [d for d in data["details"] if d["revealed"]]
    if flash is None and done == "reveal" and shown:
        flash = ctx.config.text("done_reveal", field=shown[0]["name"])
    return ctx.render(
        "ticket.html", status=status, flash=flash, error=error, poll_seconds=ctx.config.poll_seconds, **data
    )


def _after_change(number: str, done: str) -> RedirectResponse:
    # Post/Redirect/Get: reloading the page does not repeat the change.
    return RedirectResponse(ticket_url(number, done=done), status_code=303)


def change_status(ctx: Ctx, number: str, new: str) -> Response:
    me = ctx.me
    try:
        target = TicketStatus(new)
    except ValueError:
        reason = f"Unknown status {new!r}: use one of {', '.join(s.value for s in TicketStatus)}."
        raise ctx.refuse("bad_status", "bad_request", reason=reason) from None
    try:
        with ctx.db.session() as s:
            ticket = _locked(ctx, s, number)
            store.change_status(s, ticket, target, actor=me.name)
            # Starting work on a ticket nobody has taken gives it to whoever starts.
            if target == TicketStatus.IN_PROGRESS and ticket.assignee_id is None:
                assign(s, ticket, get_user_by_id(s, me.id), actor=me.name)
    except InvalidTransition as exc:
        allowed = "、".join(ctx.config.status(a) for a in exc.allowed) or "—"
        message = ctx.config.text(
            "refused_transition",
            number=exc.number,
            current=ctx.config.status(exc.current),
            requested=ctx.config.status(exc.requested),
            allowed=allowed,
        )
        return ticket_page(ctx, number, status=409, error=message)
    return _after_change(number, "status")


def change_priority(ctx: Ctx, number: str, new: str) -> Response:
    try:
        target = Priority(new)
    except ValueError:
        reason = f"Unknown priority {new!r}: use one of {', '.join(p.value for p in Priority)}."
        raise ctx.refuse("bad_priority", "bad_request", reason=reason) from None
    with ctx.db.session() as s:
        ticket = _locked(ctx, s, number)
        sla = ctx.settings.brands[ticket.brand].sla_hours if ticket.brand in ctx.settings.brands else {}
        set_ticket_priority(s, ticket, target, actor=ctx.me.name, sla_hours=sla)
    return _after_change(number, "priority")


def change_assignee(ctx: Ctx, number: str, assignee: str) -> Response:
    me = ctx.me
    with ctx.db.session() as s:
        ticket = _locked(ctx, s, number)
        target = None
        if assignee:
            target = get_user(s, assignee)
            if target is None:
                reason = f"Unknown console user {assignee!r}: pick one from the list."
                raise ctx.refuse("unknown_user", "bad_request", reason=reason)
        if not ctx.is_admin:
            current = ticket.assignee_id
            taking = target is not None and target.id == me.id and current in (None, me.id)
            releasing = target is None and current == me.id
            if not (taking or releasing):
                raise ctx.refuse("forbidden", "forbidden_assign")
        assign(s, ticket, target, actor=me.name)
    return _after_change(number, "assign")


def _guarded(text: str) -> tuple[str, bool]:
    """An agent's note or reply as it may be stored, and whether the guard hid anything.

    The same guard as the user's messages: an agent pasting what a user sent (验证码 665544, a
    card number) or typing a code into a reply must not put it in the database in clear.
    """
    findings = guard.scan(text)
    return guard.redact(text, findings), bool(findings)


def note(ctx: Ctx, number: str, text: str) -> Response:
    text, masked = _guarded(checked_text(ctx, text))
    with ctx.db.session() as s:
        ticket = _locked(ctx, s, number)
        add_note(s, ticket, text, actor=ctx.me.name)
    return _after_change(number, "note_masked" if masked else "note")


def reply(ctx: Ctx, number: str, text: str) -> Response:
    me = ctx.me
    text, masked = _guarded(checked_text(ctx, text))
    with ctx.db.session() as s:
        ticket = _locked(ctx, s, number)
        if not ticket.status.is_active:
            raise ctx.refuse("ticket_closed", "reply_closed")
        post_agent_reply(s, ticket, text, actor=me.name)
        # Whoever answers the user first takes the ticket.
        if ticket.assignee_id is None:
            assign(s, ticket, get_user_by_id(s, me.id), actor=me.name)
    return _after_change(number, "reply_masked" if masked else "reply")


def reveal(ctx: Ctx, number: str, field: str) -> Response:
    me = ctx.me
    with ctx.db.session() as s:
        ticket = _locked(ctx, s, number)
        details = ticket.details or {}
        if not is_contact(field) or details.get(field) is None:
            reason = f"Ticket {number} has no contact detail {field!r} to reveal."
            raise ctx.refuse("bad_field", "bad_request", reason=reason)
        if not can_reveal(me, ticket):
            raise ctx.refuse("forbidden", "forbidden_reveal")
        record_event(s, ticket, actor=me.name, kind=EventKind.REVEAL, after={"field": field})
    # Post/Redirect/Get: the page the browser lands on shows what this reveal opened.
    return RedirectResponse(ticket_url(number, done="reveal", field=field), status_code=303)


def _canned(ctx: Ctx, ticket: Ticket) -> list[tuple[str, str]]:
    """(title, text) of each canned reply, for this ticket's brand and number."""
    brand = ctx.settings.brands.get(ticket.brand)
    values = {**(brand.placeholders() if brand else {}), "ticket": ticket.number}
    return [(c.title, render(c.text, ticket.brand, values)) for c in ctx.assistant.runtime.content.canned]


def _recently_revealed(ctx: Ctx, s: Any, ticket: Ticket) -> frozenset[str]:
    """The detail named by ``?field=`` after a reveal, if this agent's audited reveal of it
    is recent (see REVEAL_SHOWN_SECONDS) and they may still see it."""
    params = ctx.request.query_params
    field = params.get("field", "")
    if params.get("done") != "reveal" or not is_contact(field) or not can_reveal(ctx.me, ticket):
        return frozenset()
    since = utcnow().timestamp() - REVEAL_SHOWN_SECONDS
    for event in reversed(list_events(s, ticket)):
        if event.created_at.timestamp() < since:
            break
        if (
            event.kind == EventKind.REVEAL.value
            and event.actor == ctx.me.name
            and (event.after or {}).get("field") == field
        ):
            return frozenset({field})
    return frozenset()


def _locked(ctx: Ctx, s: Any, number: str) -> Ticket:
    ticket = get_ticket_locked(s, number)
    if ticket is None:
        raise ctx.refuse("not_found", "not_found", number=number)
    return ticket
