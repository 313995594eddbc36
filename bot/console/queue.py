"""The queue: the filtered, paged list of tickets agents work from, and its bulk actions.

The filters are read here once (``filters`` then ``query``) and shared with the export, so a
download holds exactly the tickets the queue shows.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.pages import ROOT, safe_next
from bot.console.session import Ctx
from bot.console.views import ACTIVE, MINE, NOBODY, FilterError, Pager, QueueFilters, ticket_row
from bot.store import (
    Priority,
    StoreError,
    TicketQuery,
    TicketStatus,
    assign,
    change_status,
    get_user,
    list_tickets,
    list_users,
)
from bot.store.console_queries import (
    get_ticket_locked,
    get_user_by_id,
    last_agent_actions,
    last_user_messages,
)
from bot.store.queue import list_categories

# Queue bulk actions (the queue's checkboxes), and how many tickets one request may change.
BULK_ACTIONS = ("assign_me", "close")
MAX_BULK = 200


def queue(ctx: Ctx, params: Mapping[str, str], *, per_page: int | None = None) -> dict[str, Any]:
    """The data of one queue page: filters, rows, pager, and the filters' choices."""
    chosen = filters(ctx, params)
    per_page = per_page or ctx.config.page_size
    fmt = ctx.fmt()
    with ctx.db.session(readonly=True) as s:
        q = query(ctx, s, chosen, per_page=per_page)
        tickets, total = list_tickets(s, q)
        wrote = last_user_messages(s, [t.conversation_id for t in tickets])
        acted = last_agent_actions(s, [t.id for t in tickets])
        rows = [
            ticket_row(t, fmt, user_wrote_at=wrote.get(t.conversation_id), agent_acted_at=acted.get(t.id))
            for t in tickets
        ]
        users = list_users(s)
        categories = list_categories(s)
    return {
        "filters": chosen,
        "rows": rows,
        "pager": Pager(chosen.page, per_page, total),
        "users": users,
        "categories": categories,
    }


def filters(ctx: Ctx, params: Mapping[str, str]) -> QueueFilters:
    try:
        return QueueFilters.from_params(params, ctx.settings)
    except FilterError as exc:
        raise ctx.refuse("bad_filter", "bad_request", reason=str(exc)) from None


def query(ctx: Ctx, s: Any, chosen: QueueFilters, *, per_page: int) -> TicketQuery:
    assignee_id = None
    if chosen.assignee not in ("", MINE, NOBODY):
        named = get_user(s, chosen.assignee)
        if named is None:
            reason = f"Unknown assignee {chosen.assignee!r}: use a console user's name, 'mine' or 'none'."
            raise ctx.refuse("bad_filter", "bad_request", reason=reason)
        assignee_id = named.id
    try:
        return chosen.query(me=ctx.me, assignee_id=assignee_id, per_page=per_page)
    except StoreError as exc:
        raise ctx.refuse("bad_filter", "bad_request", reason=str(exc)) from None


def _count(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 6 else 0


def queue_page(ctx: Ctx) -> HTMLResponse:
    data = queue(ctx, ctx.request.query_params)
    chosen: QueueFilters = data["filters"]
    params = ctx.request.query_params
    flash = None
    if params.get("done") == "bulk":
        flash = ctx.config.text("done_bulk", done=_count(params.get("changed")), skipped=_count(params.get("skipped")))
    return ctx.render(
        "queue.html",
        flash=flash,
        **data,
        statuses=[(ACTIVE, ctx.config.text("active"))] + [(s.value, ctx.config.status(s)) for s in TicketStatus],
        priorities=[(p.value, ctx.config.priority(p)) for p in reversed(list(Priority))],
        brands=[(key, b.name) for key, b in ctx.settings.brands.items()],
        page_url=lambda page: f"{ROOT}?" + urllib.parse.urlencode(chosen.params(page=page)),
        export_fields=chosen.params(page=1),
        poll_seconds=ctx.config.poll_seconds,
    )


def queue_json(ctx: Ctx) -> dict[str, Any]:
    data = queue(ctx, ctx.request.query_params)
    pager: Pager = data["pager"]
    return {
        "page": pager.page,
        "per_page": pager.per_page,
        "pages": pager.pages,
        "total": pager.total,
        "tickets": data["rows"],
    }


def bulk(ctx: Ctx, action: str, numbers: list[str], back: str) -> Response:
    """Assign to me, or close, many tickets: each one locked and changed on its own, with
    its own audit event, exactly as its page's button would. A ticket the action does not
    apply to (already mine, not closable from its status, someone else's) is skipped."""
    if action not in BULK_ACTIONS:
        reason = f"Unknown bulk action {action!r}: use one of {', '.join(BULK_ACTIONS)}."
        raise ctx.refuse("bad_action", "bad_request", reason=reason)
    chosen = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
    if not chosen or len(chosen) > MAX_BULK:
        reason = f"Choose between 1 and {MAX_BULK} tickets (got {len(chosen)})."
        raise ctx.refuse("bad_selection", "bad_request", reason=reason)
    me = ctx.me
    changed = skipped = 0
    for number in chosen:
        with ctx.db.session() as s:
            ticket = get_ticket_locked(s, number)
            if ticket is None:
                skipped += 1
                continue
            if action == "assign_me":
                mine = ticket.assignee_id == me.id
                allowed = ctx.is_admin or ticket.assignee_id is None
                if mine or not allowed:
                    skipped += 1
                    continue
                assign(s, ticket, get_user_by_id(s, me.id), actor=me.name)
            else:
                if not ticket.status.can_move_to(TicketStatus.CLOSED):
                    skipped += 1
                    continue
                change_status(s, ticket, TicketStatus.CLOSED, actor=me.name)
            changed += 1
    query_string = urllib.parse.urlencode({"done": "bulk", "changed": changed, "skipped": skipped})
    target = safe_next(back)
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{query_string}", status_code=303)
