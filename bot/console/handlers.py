"""What each console route does, over one request's context (``Ctx``).

``Console`` holds what lives between requests (templates, the signing key, the sign-in limiter,
revoked sessions) and does the work; ``bot.console.router`` only wires URLs to its methods.
Every method that changes a ticket locks it (``get_ticket_locked``), writes its audit event in
the same transaction, and answers with a redirect (Post/Redirect/Get) or a re-rendered page
with the reason when the change is refused.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from bot import guard
from bot.config import Settings
from bot.console.auth import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    LOGIN_COOKIE_SECONDS,
    SESSION_COOKIE,
    LoginLimiter,
    RevokedSessions,
    SessionClaims,
    SessionSigner,
    resolve_secret,
)
from bot.console.errors import ConsoleError, NotSignedIn
from bot.console.texts import ConsoleConfig
from bot.console.views import (
    ACTIVE,
    MINE,
    NOBODY,
    FilterError,
    Formatter,
    Pager,
    QueueFilters,
    csv_lines,
    event_items,
    export_row,
    is_contact,
    json_lines,
    shown_details,
    ticket_row,
    trail_items,
    transcript_items,
)
from bot.errors import WalletbotError
from bot.request_ids import current_id
from bot.shared_state import MemoryStore, StateStore
from bot.store import (
    ConsoleUser,
    EventKind,
    InvalidTransition,
    Priority,
    Role,
    StoreError,
    Ticket,
    TicketQuery,
    TicketStatus,
    UserExists,
    add_note,
    assign,
    authenticate,
    create_user,
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
    list_categories,
    list_queue,
    post_agent_reply,
    record_events,
    set_ticket_priority,
    set_ticket_status,
    tickets_after,
)
from bot.store.models import utcnow
from bot.store.users import MIN_PASSWORD_LENGTH
from bot.text import render

if TYPE_CHECKING:
    from bot.engine import Assistant, ReloadStatus
    from bot.reports import UnansweredGroup

ROOT = "/console"
API_ROOT = "/console/api/"
# Admin endpoints for scripts: outside /console, but console sessions and the same JSON errors.
ADMIN_API_ROOT = "/api/admin/"
DEFAULT_SINCE = "7d"
# Grouping compares every message with every other (a dense n×n matrix): beyond this many the
# page would cost seconds and hundreds of megabytes, so it groups this many and says so.
UNANSWERED_LIMIT = 2000
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
_DONE_KEYS = frozenset({"status", "assign", "note", "reply", "priority", "note_masked", "reply_masked"})
# After a reveal (POST), the ticket page (GET) shows the detail in full while this agent's
# audited reveal of it is this recent: refreshing the page a little later masks it again.
REVEAL_SHOWN_SECONDS = 120
# Queue bulk actions (the queue's checkboxes), and how many tickets one request may change.
BULK_ACTIONS = ("assign_me", "close")
MAX_BULK = 200


# --------------------------------------------------------------------------- per-request context


@dataclass(frozen=True)
class _Parts:
    """What the console derives once from the app's settings."""

    settings: Settings
    config: ConsoleConfig
    signer: SessionSigner
    limiter: LoginLimiter
    revoked: RevokedSessions


@dataclass(frozen=True)
class Ctx:
    """One request: the assistant's database and settings, and who is signed in (if anyone)."""

    request: Request
    assistant: Assistant
    parts: _Parts
    user: ConsoleUser | None = None
    claims: SessionClaims | None = None

    @property
    def db(self) -> Any:
        return self.assistant.db

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def config(self) -> ConsoleConfig:
        return self.parts.config

    @property
    def me(self) -> ConsoleUser:
        if self.user is None:
            raise NotSignedIn()
        return self.user

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role == Role.ADMIN

    @property
    def csrf(self) -> str:
        return self.parts.signer.csrf_token(self.claims.session_id) if self.claims else ""

    def fmt(self) -> Formatter:
        return Formatter(self.config, self.settings, utcnow())

    def refuse(self, status: int, code: str, label: str, **values: object) -> ConsoleError:
        return ConsoleError(status, code, self.config.text(label, **values))


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, never another site."""
    if not target or not target.startswith(ROOT) or target.startswith("//") or "\\" in target:
        return ROOT
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return ROOT
    return target


def _checked_text(ctx: Ctx, text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ctx.refuse(400, "empty_text", "empty_text")
    limit = ctx.settings.http.max_message_chars
    if len(text) > limit:
        raise ctx.refuse(413, "text_too_long", "text_too_long", length=len(text), max=limit)
    return text


def _guarded(text: str) -> tuple[str, bool]:
    """An agent's note or reply as it may be stored, and whether the guard hid anything.

    The same guard as the user's messages: an agent pasting what a user sent (验证码 665544, a
    card number) or typing a code into a reply must not put it in the database in clear.
    """
    findings = guard.scan(text)
    return guard.redact(text, findings), bool(findings)


def _count(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 6 else 0


def _can_reveal(user: ConsoleUser, ticket: Ticket) -> bool:
    return user.role == Role.ADMIN or (ticket.assignee_id is not None and ticket.assignee_id == user.id)


# --------------------------------------------------------------------------- the console


class Console:
    """The console's state and behaviour; the router's endpoints are thin wrappers over it."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every value escaped, whatever the file name
            undefined=jinja2.StrictUndefined,
        )
        # Without the app's shared store (a bare router in tests, or the app still starting).
        self._memory = MemoryStore()
        self._parts: _Parts | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up and sessions

    def parts(self, request: Request) -> tuple[Assistant, _Parts]:
        """The app's Assistant and what the console derives from its settings (made once)."""
        assistant = getattr(request.app.state, "assistant", None)
        if assistant is None:
            raise ConsoleError(503, "not_ready", "The assistant is still loading: retry shortly.")
        settings: Settings = assistant.settings
        store = getattr(request.app.state, "shared_state", None) or self._memory
        parts = self._parts
        if parts is None or parts.settings is not settings or parts.limiter.store is not store:
            with self._lock:
                parts = self._parts
                if parts is None or parts.settings is not settings or parts.limiter.store is not store:
                    parts = self._parts = self._make_parts(settings, store)
        return assistant, parts

    def _make_parts(self, settings: Settings, store: StateStore) -> _Parts:
        config = ConsoleConfig.from_settings(settings)
        key = resolve_secret(config.secret, settings.models_dir, self.environ)
        return _Parts(
            settings=settings,
            config=config,
            signer=SessionSigner(key, config.session_hours * 3600),
            limiter=LoginLimiter(
                store,
                per_name=config.login_per_name,
                per_ip=config.login_per_ip,
                window_seconds=config.login_window_minutes * 60,
            ),
            revoked=RevokedSessions(store),
        )

    def context(self, request: Request) -> Ctx:
        """The request's context; ``user`` is None without a valid session."""
        assistant, parts = self.parts(request)
        claims = parts.signer.read(request.cookies.get(SESSION_COOKIE))
        if claims is None or claims.session_id in parts.revoked:
            return Ctx(request, assistant, parts)
        with assistant.db.session(readonly=True) as s:
            user = get_user_by_id(s, claims.user_id)
        if user is None or parts.signer.fingerprint(user.password_hash) != claims.fingerprint:
            return Ctx(request, assistant, parts)
        return Ctx(request, assistant, parts, user, claims)

    def signed_in(self, request: Request) -> Ctx:
        ctx = self.context(request)
        if ctx.user is None:
            raise NotSignedIn()
        return ctx

    def posted(self, request: Request, csrf_token: str | None) -> Ctx:
        """A signed-in context for a state-changing request with a valid CSRF token."""
        ctx = self.signed_in(request)
        self.check_origin(ctx)
        given = csrf_token or request.headers.get("x-csrf-token")
        if not ctx.parts.signer.token_matches(ctx.csrf, given):
            raise ctx.refuse(403, "csrf_failed", "csrf_failed")
        return ctx

    @staticmethod
    def check_origin(ctx: Ctx) -> None:
        """Refuse a POST that the browser says comes from another site."""
        request = ctx.request
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise ctx.refuse(403, "csrf_failed", "csrf_failed")
        origin = request.headers.get("origin")
        if origin is None:
            return
        # Behind a reverse proxy that rewrites Host, X-Forwarded-Host names the public one (a
        # cross-site form cannot set either header, so trusting it opens nothing).
        hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
        if origin == "null" or urllib.parse.urlsplit(origin).netloc not in hosts - {""}:
            raise ctx.refuse(403, "csrf_failed", "csrf_failed")

    def set_cookie(self, request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        ctx: Ctx | None,
        template: str,
        *,
        status: int = 200,
        config: ConsoleConfig | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """An HTML page; ``config`` is only needed when there is no context (error pages)."""
        config = ctx.config if ctx else config
        if config is None:
            raise ValueError("render() needs a request context or the console config.")
        page = self.templates.get_template(template).render(
            t=config.text,
            name=config.name,
            root=ROOT,
            user=ctx.user if ctx else None,
            is_admin=ctx.is_admin if ctx else False,
            csrf=ctx.csrf if ctx else "",
            zone=config.zone_name,
            flash=values.pop("flash", None),
            error=values.pop("error", None),
            **values,
        )
        return HTMLResponse(page, status_code=status)

    def error_response(self, request: Request, exc: ConsoleError) -> Response:
        is_api = request.url.path.startswith((API_ROOT, ADMIN_API_ROOT))
        if isinstance(exc, NotSignedIn) and not is_api:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            query = urllib.parse.urlencode({"next": target}) if request.method == "GET" else ""
            return RedirectResponse(f"{ROOT}/login" + (f"?{query}" if query else ""), status_code=303)
        if is_api:
            error = {"code": exc.code, "message": exc.message}
            if exc.status >= 500:
                error["request_id"] = current_id() or ""
            return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)
        try:
            config = self.parts(request)[1].config
        except WalletbotError:  # not ready, or the console: section is broken
            return Response(
                exc.message,
                status_code=exc.status,
                headers=exc.headers,
                media_type="text/plain; charset=utf-8",
            )
        response = self.render(None, "error.html", status=exc.status, config=config, message=exc.message, code=exc.code)
        response.headers.update(exc.headers)
        return response

    def failure(self, request: Request, status: int, label: str) -> ConsoleError:
        """A 5xx whose page says only what happened and the request id; the log has the rest."""
        request_id = current_id() or "-"
        try:
            message = self.parts(request)[1].config.text(label, request_id=request_id)
        except WalletbotError:  # the console: section itself is what is broken
            message = f"{label} ({request_id})"
        return ConsoleError(status, label, message)

    # ------------------------------------------------------------------ the queue

    def queue(self, ctx: Ctx, params: Mapping[str, str], *, per_page: int | None = None) -> dict[str, Any]:
        """The data of one queue page: filters, rows, pager, and the filters' choices."""
        filters = self.filters(ctx, params)
        per_page = per_page or ctx.config.page_size
        fmt = ctx.fmt()
        with ctx.db.session(readonly=True) as s:
            query = self.query(ctx, s, filters, per_page=per_page)
            tickets, total = list_queue(s, query)
            wrote = last_user_messages(s, [t.conversation_id for t in tickets])
            acted = last_agent_actions(s, [t.id for t in tickets])
            rows = [
                ticket_row(t, fmt, user_wrote_at=wrote.get(t.conversation_id), agent_acted_at=acted.get(t.id))
                for t in tickets
            ]
            users = list_users(s)
            categories = list_categories(s)
        return {
            "filters": filters,
            "rows": rows,
            "pager": Pager(filters.page, per_page, total),
            "users": users,
            "categories": categories,
        }

    @staticmethod
    def filters(ctx: Ctx, params: Mapping[str, str]) -> QueueFilters:
        try:
            return QueueFilters.from_params(params, ctx.settings)
        except FilterError as exc:
            raise ctx.refuse(400, "bad_filter", "bad_request", reason=str(exc)) from None

    @staticmethod
    def query(ctx: Ctx, s: Any, filters: QueueFilters, *, per_page: int) -> TicketQuery:
        assignee_id = None
        if filters.assignee not in ("", MINE, NOBODY):
            named = get_user(s, filters.assignee)
            if named is None:
                reason = f"Unknown assignee {filters.assignee!r}: use a console user's name, 'mine' or 'none'."
                raise ctx.refuse(400, "bad_filter", "bad_request", reason=reason)
            assignee_id = named.id
        try:
            return filters.query(me=ctx.me, assignee_id=assignee_id, per_page=per_page)
        except StoreError as exc:
            raise ctx.refuse(400, "bad_filter", "bad_request", reason=str(exc)) from None

    def queue_page(self, ctx: Ctx) -> HTMLResponse:
        data = self.queue(ctx, ctx.request.query_params)
        filters: QueueFilters = data["filters"]
        params = ctx.request.query_params
        flash = None
        if params.get("done") == "bulk":
            flash = ctx.config.text(
                "done_bulk", done=_count(params.get("changed")), skipped=_count(params.get("skipped"))
            )
        return self.render(
            ctx,
            "queue.html",
            flash=flash,
            **data,
            statuses=[(ACTIVE, ctx.config.text("active"))] + [(s.value, ctx.config.status(s)) for s in TicketStatus],
            priorities=[(p.value, ctx.config.priority(p)) for p in reversed(list(Priority))],
            brands=[(key, b.name) for key, b in ctx.settings.brands.items()],
            page_url=lambda page: f"{ROOT}?" + urllib.parse.urlencode(filters.params(page=page)),
            export_fields=filters.params(page=1),
            poll_seconds=ctx.config.poll_seconds,
        )

    def queue_json(self, ctx: Ctx) -> dict[str, Any]:
        data = self.queue(ctx, ctx.request.query_params)
        pager: Pager = data["pager"]
        return {
            "page": pager.page,
            "per_page": pager.per_page,
            "pages": pager.pages,
            "total": pager.total,
            "tickets": data["rows"],
        }

    # ------------------------------------------------------------------ one ticket

    def ticket_data(self, ctx: Ctx, number: str, revealed: frozenset[str] = frozenset()) -> dict[str, Any]:
        fmt = ctx.fmt()
        with ctx.db.session(readonly=True) as s:
            ticket = get_ticket(s, number)
            if ticket is None:
                raise ctx.refuse(404, "not_found", "not_found", number=number)
            conv = get_conversation(s, ticket.conversation_id)
            wrote = last_user_messages(s, [ticket.conversation_id])
            acted = last_agent_actions(s, [ticket.id])
            row = ticket_row(
                ticket, fmt, user_wrote_at=wrote.get(ticket.conversation_id), agent_acted_at=acted.get(ticket.id)
            )
            if not revealed:
                revealed = self._recently_revealed(ctx, s, ticket)
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
                "can_reveal": _can_reveal(ctx.me, ticket),
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
                "canned": self._canned(ctx, ticket),
                "human_owner": bool(conv.human_owner) if conv else False,
                "assignee_id": ticket.assignee_id,
                "users": list_users(s) if ctx.is_admin else [],
            }
        data["notes"] = [e for e in data["events"] if e["kind"] == EventKind.NOTE.value]
        return data

    def ticket_page(
        self,
        ctx: Ctx,
        number: str,
        *,
        revealed: frozenset[str] = frozenset(),
        status: int = 200,
        flash: str | None = None,
        error: str | None = None,
    ) -> HTMLResponse:
        data = self.ticket_data(ctx, number, revealed)
        done = ctx.request.query_params.get("done")
        if flash is None and done in _DONE_KEYS:
            flash = ctx.config.text(f"done_{done}")
        shown = [d for d in data["details"] if d["revealed"]]
        if flash is None and done == "reveal" and shown:
            flash = ctx.config.text("done_reveal", field=shown[0]["name"])
        return self.render(
            ctx, "ticket.html", status=status, flash=flash, error=error, poll_seconds=ctx.config.poll_seconds, **data
        )

    def after_change(self, ctx: Ctx, number: str, done: str) -> RedirectResponse:
        # Post/Redirect/Get: reloading the page does not repeat the change.
        return RedirectResponse(f"{ROOT}/tickets/{urllib.parse.quote(number)}?done={done}", status_code=303)

    def change_status(self, ctx: Ctx, number: str, new: str) -> Response:
        me = ctx.me
        try:
            target = TicketStatus(new)
        except ValueError:
            reason = f"Unknown status {new!r}: use one of {', '.join(s.value for s in TicketStatus)}."
            raise ctx.refuse(400, "bad_status", "bad_request", reason=reason) from None
        try:
            with ctx.db.session() as s:
                ticket = self._locked(ctx, s, number)
                set_ticket_status(s, ticket, target, actor=me.name)
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
            return self.ticket_page(ctx, number, status=409, error=message)
        return self.after_change(ctx, number, "status")

    def change_priority(self, ctx: Ctx, number: str, new: str) -> Response:
        try:
            target = Priority(new)
        except ValueError:
            reason = f"Unknown priority {new!r}: use one of {', '.join(p.value for p in Priority)}."
            raise ctx.refuse(400, "bad_priority", "bad_request", reason=reason) from None
        with ctx.db.session() as s:
            ticket = self._locked(ctx, s, number)
            sla = ctx.settings.brands[ticket.brand].sla_hours if ticket.brand in ctx.settings.brands else {}
            set_ticket_priority(s, ticket, target, actor=ctx.me.name, sla_hours=sla)
        return self.after_change(ctx, number, "priority")

    def bulk(self, ctx: Ctx, action: str, numbers: list[str], back: str) -> Response:
        """Assign to me, or close, many tickets: each one locked and changed on its own, with
        its own audit event, exactly as its page's button would. A ticket the action does not
        apply to (already mine, not closable from its status, someone else's) is skipped."""
        if action not in BULK_ACTIONS:
            reason = f"Unknown bulk action {action!r}: use one of {', '.join(BULK_ACTIONS)}."
            raise ctx.refuse(400, "bad_action", "bad_request", reason=reason)
        chosen = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
        if not chosen or len(chosen) > MAX_BULK:
            reason = f"Choose between 1 and {MAX_BULK} tickets (got {len(chosen)})."
            raise ctx.refuse(400, "bad_selection", "bad_request", reason=reason)
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
                    set_ticket_status(s, ticket, TicketStatus.CLOSED, actor=me.name)
                changed += 1
        query = urllib.parse.urlencode({"done": "bulk", "changed": changed, "skipped": skipped})
        target = _safe_next(back)
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{query}", status_code=303)

    def change_assignee(self, ctx: Ctx, number: str, assignee: str) -> Response:
        me = ctx.me
        with ctx.db.session() as s:
            ticket = self._locked(ctx, s, number)
            target = None
            if assignee:
                target = get_user(s, assignee)
                if target is None:
                    reason = f"Unknown console user {assignee!r}: pick one from the list."
                    raise ctx.refuse(400, "unknown_user", "bad_request", reason=reason)
            if not ctx.is_admin:
                current = ticket.assignee_id
                taking = target is not None and target.id == me.id and current in (None, me.id)
                releasing = target is None and current == me.id
                if not (taking or releasing):
                    raise ctx.refuse(403, "forbidden", "forbidden_assign")
            assign(s, ticket, target, actor=me.name)
        return self.after_change(ctx, number, "assign")

    def note(self, ctx: Ctx, number: str, text: str) -> Response:
        text, masked = _guarded(_checked_text(ctx, text))
        with ctx.db.session() as s:
            ticket = self._locked(ctx, s, number)
            add_note(s, ticket, text, actor=ctx.me.name)
        return self.after_change(ctx, number, "note_masked" if masked else "note")

    def reply(self, ctx: Ctx, number: str, text: str) -> Response:
        me = ctx.me
        text, masked = _guarded(_checked_text(ctx, text))
        with ctx.db.session() as s:
            ticket = self._locked(ctx, s, number)
            if not ticket.status.is_active:
                raise ctx.refuse(409, "ticket_closed", "reply_closed")
            post_agent_reply(s, ticket, text, actor=me.name)
            # Whoever answers the user first takes the ticket.
            if ticket.assignee_id is None:
                assign(s, ticket, get_user_by_id(s, me.id), actor=me.name)
        return self.after_change(ctx, number, "reply_masked" if masked else "reply")

    def reveal(self, ctx: Ctx, number: str, field: str) -> Response:
        me = ctx.me
        with ctx.db.session() as s:
            ticket = self._locked(ctx, s, number)
            details = ticket.details or {}
            if not is_contact(field) or details.get(field) is None:
                reason = f"Ticket {number} has no contact detail {field!r} to reveal."
                raise ctx.refuse(400, "bad_field", "bad_request", reason=reason)
            if not _can_reveal(me, ticket):
                raise ctx.refuse(403, "forbidden", "forbidden_reveal")
            record_event(s, ticket, actor=me.name, kind=EventKind.REVEAL, after={"field": field})
        # Post/Redirect/Get: the page the browser lands on shows what this reveal opened.
        query = urllib.parse.urlencode({"done": "reveal", "field": field})
        return RedirectResponse(f"{ROOT}/tickets/{urllib.parse.quote(number)}?{query}", status_code=303)

    @staticmethod
    def _canned(ctx: Ctx, ticket: Ticket) -> list[tuple[str, str]]:
        """(title, text) of each canned reply, for this ticket's brand and number."""
        brand = ctx.settings.brands.get(ticket.brand)
        values = {**(brand.placeholders() if brand else {}), "ticket": ticket.number}
        return [(c.title, render(c.text, ticket.brand, values)) for c in ctx.assistant.runtime.content.canned]

    @staticmethod
    def _recently_revealed(ctx: Ctx, s: Any, ticket: Ticket) -> frozenset[str]:
        """The detail named by ``?field=`` after a reveal, if this agent's audited reveal of it
        is recent (see REVEAL_SHOWN_SECONDS) and they may still see it."""
        params = ctx.request.query_params
        field = params.get("field", "")
        if params.get("done") != "reveal" or not is_contact(field) or not _can_reveal(ctx.me, ticket):
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

    @staticmethod
    def _locked(ctx: Ctx, s: Any, number: str) -> Ticket:
        ticket = get_ticket_locked(s, number)
        if ticket is None:
            raise ctx.refuse(404, "not_found", "not_found", number=number)
        return ticket

    # ------------------------------------------------------------------ export

    def export(self, ctx: Ctx, fmt_name: str, params: Mapping[str, str], *, reveal: bool) -> Response:
        media_type = EXPORT_FORMATS.get(fmt_name)
        if media_type is None:
            reason = f"Unknown export format {fmt_name!r}: use csv or json."
            raise ctx.refuse(404, "not_found", "bad_request", reason=reason)
        if reveal and not ctx.is_admin:
            raise ctx.refuse(403, "forbidden", "forbidden_admin")
        filters = self.filters(ctx, params)
        with ctx.db.session(readonly=True) as s:
            query = self.query(ctx, s, filters, per_page=1)
        me = ctx.me
        if reveal:
            self._audit_export(ctx, query, fmt_name, me)
        stamp = utcnow()
        rows = self._export_rows(ctx, query, reveal=reveal)
        # Read the first batch now: a database failure is then a 503, not a file cut off mid-way.
        first = next(rows, None)
        rows = itertools.chain([] if first is None else [first], rows)
        if fmt_name == "csv":
            chunks: Iterator[str] = csv_lines(rows, ctx.fmt())
        else:
            meta = {
                "exported_at": stamp.isoformat(timespec="seconds"),
                "exported_by": me.name,
                "revealed": reveal,
                "filters": filters.params(page=1),
            }
            chunks = json_lines((export_row(row) for row in rows), meta)
        filename = f"tickets-{stamp.strftime('%Y%m%d-%H%M%S')}.{fmt_name}"
        return StreamingResponse(
            (chunk.encode("utf-8") for chunk in chunks),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def _export_rows(self, ctx: Ctx, query: TicketQuery, *, reveal: bool) -> Iterator[dict[str, Any]]:
        # Each batch is read in its own short transaction (see tickets_after).
        after: Ticket | None = None
        fmt = ctx.fmt()
        while True:
            with ctx.db.session(readonly=True) as s:
                batch = tickets_after(s, query, after)
                rows = [ticket_row(t, fmt, revealed=reveal) for t in batch]
            yield from rows
            if not batch:
                return
            after = batch[-1]

    def _audit_export(self, ctx: Ctx, query: TicketQuery, fmt_name: str, me: ConsoleUser) -> None:
        """One "export" event on every exported ticket whose contact details go out in full.

        Written before the file is sent: if the download breaks off, the log claims a little
        too much rather than too little. The tickets are found in read-only batches, so the
        chat's writers wait only for the bulk insert, not for the search.
        """
        ids: list[int] = []
        after: Ticket | None = None
        while True:
            with ctx.db.session(readonly=True) as s:
                batch = tickets_after(s, query, after)
            if not batch:
                break
            ids += [t.id for t in batch if any(is_contact(k) for k in (t.details or {}))]
            after = batch[-1]
        fields = {"format": fmt_name, "fields": sorted({"contact", "phone", "email"})}
        with ctx.db.session() as s:
            record_events(s, ids, actor=me.name, kind=EventKind.EXPORT, after=fields)

    # ------------------------------------------------------------------ content (editors)

    def content_page(self, ctx: Ctx) -> HTMLResponse:
        """What the bot serves now, the last rejected change, and what users asked in vain."""
        since, start = self.since(ctx)
        groups, sampled = self.unanswered(ctx, start)
        reload = ctx.assistant.reload_status  # one snapshot: the reloader swaps, never mutates
        fmt = ctx.fmt()
        done = ctx.request.query_params.get("done")
        return self.render(
            ctx,
            "content.html",
            flash=ctx.config.text("done_reloaded", version=reload.version) if done == "reloaded" else None,
            error=ctx.config.text("done_reload_failed") if done == "reload_failed" else None,
            reload=reload,
            loaded_at=fmt.stamp(reload.loaded_at),
            failed_at=fmt.stamp(reload.failed_at),
            since=since,
            start=fmt.time(start),
            groups=groups,
            faq_questions={e.id: e.question for e in ctx.assistant.runtime.content.faq},
            total=sum(g.count for g in groups),
            sampled=sampled,
            limit=UNANSWERED_LIMIT,
        )

    def unanswered_yaml(self, ctx: Ctx) -> Response:
        """The report as FAQ stubs to fill in, as a file to download."""
        from bot.reports import yaml_stubs

        groups, _ = self.unanswered(ctx, self.since(ctx)[1])
        filename = f"faq-stubs-{utcnow():%Y%m%d-%H%M%S}.yml"
        return Response(
            yaml_stubs(groups),
            media_type="text/yaml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @staticmethod
    def since(ctx: Ctx) -> tuple[str, datetime]:
        """The report's period from ``?since=`` (default 7d) and its start; 400 when unreadable."""
        from bot.reports import since_datetime  # numpy and the NLU: loaded on first use only

        value = ctx.request.query_params.get("since", "").strip() or DEFAULT_SINCE
        try:
            return value, since_datetime(value)
        except (ValueError, OverflowError):  # not like 7d, or further back than dates go
            raise ctx.refuse(400, "bad_since", "bad_since", value=value[:40]) from None

    @staticmethod
    def unanswered(ctx: Ctx, start: datetime) -> tuple[list[UnansweredGroup], bool]:
        """Unanswered messages since ``start``, grouped; True when only some were grouped."""
        from bot.reports import collect_unanswered, group_unanswered

        rows = collect_unanswered(ctx.db, start, limit=UNANSWERED_LIMIT + 1)  # newest first
        runtime = ctx.assistant.runtime
        groups = group_unanswered(rows[:UNANSWERED_LIMIT], runtime.nlu.classifier.tokenizer, runtime.faq)
        return groups, len(rows) > UNANSWERED_LIMIT

    def reload(self, ctx: Ctx) -> ReloadStatus:
        """Load data/ now (admins): swapped in only when every file is valid.

        It may retrain the classifier for seconds: call it from a worker thread, never from
        the event loop.
        """
        from bot.reloader import reload_assistant

        self.require_admin(ctx)
        return reload_assistant(ctx.assistant)

    @staticmethod
    def after_reload(status: ReloadStatus) -> RedirectResponse:
        # Post/Redirect/Get: refreshing the page does not reload again.
        done = "reload_failed" if status.errors else "reloaded"
        return RedirectResponse(f"{ROOT}/content?done={done}", status_code=303)

    # ------------------------------------------------------------------ sign-in

    def login_page(
        self,
        request: Request,
        *,
        next_url: str,
        status: int = 200,
        error: str | None = None,
        name: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        ctx = self.context(request)
        if ctx.user is not None and status == 200:
            return RedirectResponse(_safe_next(next_url), status_code=303)
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
        response = self.render(
            ctx,
            "login.html",
            status=status,
            error=error,
            login_token=ctx.parts.signer.login_token(nonce),
            next_url=_safe_next(next_url),
            name_value=name,
        )
        response.headers.update(headers or {})
        self.set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)
        return response

    def login(self, request: Request, name: str, password: str, token: str, next_url: str) -> Response:
        ctx = self.context(request)
        self.check_origin(ctx)
        nonce = request.cookies.get(LOGIN_COOKIE)
        signer, limiter = ctx.parts.signer, ctx.parts.limiter
        if not nonce or not signer.token_matches(signer.login_token(nonce), token):
            raise ctx.refuse(403, "csrf_failed", "csrf_failed")
        ip = _client_ip(request)
        wait = limiter.wait_seconds(ip, name)
        if wait is not None:
            minutes = max(1, int(wait // 60) + (1 if wait % 60 else 0))
            return self.login_page(
                request,
                next_url=next_url,
                status=429,
                name=name,
                error=ctx.config.text("login_limited", minutes=minutes),
                headers={"Retry-After": str(max(1, int(wait) + 1))},
            )
        with ctx.db.session() as s:
            user = authenticate(s, name, password)
        if user is None:
            limiter.failed(ip, name)
            return self.login_page(
                request,
                next_url=next_url,
                status=401,
                name=name,
                error=ctx.config.text("login_failed"),
            )
        limiter.succeeded(name)
        response = RedirectResponse(_safe_next(next_url), status_code=303)
        cookie = signer.issue(user.id, user.password_hash)
        self.set_cookie(request, response, SESSION_COOKIE, cookie, int(signer.lifetime_seconds))
        response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
        return response

    def logout(self, ctx: Ctx) -> Response:
        if ctx.claims is not None:
            ctx.parts.revoked.revoke(ctx.claims)
        response = RedirectResponse(f"{ROOT}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    # ------------------------------------------------------------------ accounts

    def require_admin(self, ctx: Ctx) -> None:
        if not ctx.is_admin:
            raise ctx.refuse(403, "forbidden", "forbidden_admin")

    def users_page(
        self,
        ctx: Ctx,
        *,
        status: int = 200,
        flash: str | None = None,
        error: str | None = None,
        form: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        self.require_admin(ctx)
        fmt = ctx.fmt()
        with ctx.db.session(readonly=True) as s:
            users = [
                {
                    "name": u.name,
                    "role": ctx.config.name("roles", u.role.value),
                    "created_at": fmt.time(u.created_at),
                    "last_login": fmt.time(u.last_login_at) if u.last_login_at else ctx.config.text("never"),
                }
                for u in list_users(s)
            ]
        return self.render(
            ctx,
            "users.html",
            status=status,
            flash=flash,
            error=error,
            users=users,
            roles=[(r.value, ctx.config.name("roles", r.value)) for r in Role],
            form=dict(form or {}),
            min_password=MIN_PASSWORD_LENGTH,
        )

    def create_user(self, ctx: Ctx, name: str, role: str, password: str, repeat: str) -> Response:
        self.require_admin(ctx)
        form = {"name": name, "role": role}
        if password != repeat:
            return self.users_page(ctx, status=400, error=ctx.config.text("passwords_differ"), form=form)
        if len(password) < MIN_PASSWORD_LENGTH:
            error = ctx.config.text("password_too_short", min=MIN_PASSWORD_LENGTH)
            return self.users_page(ctx, status=400, error=error, form=form)
        try:
            with ctx.db.session() as s:
                user = create_user(s, name, role, password)
                created = user.name
        except UserExists as exc:
            error = ctx.config.text("user_exists", name=exc.name)
            return self.users_page(ctx, status=409, error=error, form=form)
        except StoreError as exc:
            error = ctx.config.text("bad_request", reason=str(exc))
            return self.users_page(ctx, status=400, error=error, form=form)
        return self.users_page(ctx, flash=ctx.config.text("user_created", name=created))
