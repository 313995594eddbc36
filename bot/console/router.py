"""The support console: server-rendered pages and a small JSON API under ``/console``.

    app.include_router(build_console_router())

The routes read the Assistant from ``request.app.state.assistant`` (its ``db`` and
``settings``), so the console serves whatever database and configuration the app was started
with. Everything the router keeps between requests (templates, signing key, sign-in limiter,
revoked sessions) lives in the ``Console`` object (``bot.console.session``) that
``build_console_router`` creates: two routers never share state. What a route does lives in the
module of its noun: ``session`` (sign-in), ``queue``, ``tickets``, ``export``, ``content``,
``users``, ``insights``; this module only wires URLs to them.

Pages (HTML; without a session they redirect to the sign-in page):

    GET  /console/login                      sign-in form
    POST /console/login                      sign in (CSRF, rate-limited per address and name)
    POST /console/logout                     sign out
    GET  /console                            the queue: filters, search, pages, export forms
    GET  /console/tickets/{number}           one ticket: details, trail, transcript, log…
    POST /console/tickets/{number}/status    move along the workflow
    POST /console/bulk                       assign to me / close the checked tickets of the
                                             queue, one audit event per ticket
    POST /console/tickets/{number}/priority  change the priority, and the due time with it
    POST /console/tickets/{number}/assign    take, release, or (admins) give to someone
    POST /console/tickets/{number}/note      internal note
    POST /console/tickets/{number}/reply     message to the user's chat bubble
    POST /console/tickets/{number}/reveal    show one contact detail in full (audited), then
                                             back to the ticket page (GET) showing it
    GET  /console/users                      console accounts (admins)
    POST /console/users                      create an account (admins)
    GET  /console/content?since=7d           content version, last rejected reload, unanswered
                                             questions of the period
    POST /console/content/reload             reload data/ now (admins)
    GET  /console/content/unanswered.yml     the unanswered questions as FAQ stubs (download)
    GET  /console/insights                   figures of a period: containment, escalations, funnels
                                             (bot/console/insights.py)
    GET  /console/static/{name}              console.css, console.js, insights.js, Chart.js (public)

JSON API (without a session: 401 with ``{"error": {"code", "message"}}``):

    GET  /console/api/tickets                the queue page as JSON (same filters)
    GET  /console/api/tickets/{number}       one ticket, contact details masked
    GET  /console/api/export.{csv|json}      export of the filtered queue, contacts masked
    POST /console/api/export.{csv|json}      the same from the queue's form (CSRF); admins may
                                             add reveal=1 for full contacts, audited per ticket
    GET  /console/api/content                {"version", "loaded_at", "errors", "failed_at"}
    GET  /console/api/insights               the insights page's figures as JSON
    POST /api/admin/reload                   reload data/ now (admins; header X-CSRF-Token): that
                                             status, 200 when loaded, 422 when rejected

The session cookie is limited to ``/console``, so a browser does not send it to ``/api/admin/``:
scripts sign in and send it themselves.

Every POST needs the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``) and, when the browser sends one, an ``Origin`` of this host.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from bot.console import content, export, queue, session, tickets, users
from bot.console.errors import ConsoleError
from bot.console.insights import add_insights_routes
from bot.console.pages import ADMIN_API_ROOT, API_ROOT, ROOT
from bot.console.session import Console
from bot.errors import WalletbotError
from bot.request_ids import note_failure
from bot.store import StoreError

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "chart.umd.min.js": "text/javascript; charset=utf-8",  # Chart.js 4, vendored (insights)
    "insights.js": "text/javascript; charset=utf-8",
    "insights.css": "text/css; charset=utf-8",
}
# Pages hold personal data: no cache keeps them, no other site frames them, no inline script.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
_TRUE = frozenset({"1", "true", "yes", "on"})
# A form field; every one has a default so that a missing field never answers 422 before the
# session and CSRF checks have had their say.
FormText = Annotated[str, Form()]


# --------------------------------------------------------------------------- the router


def _route_class(console: Console) -> type[APIRoute]:
    class ConsoleRoute(APIRoute):
        """Turns ConsoleError (and bad parameters) into a page or JSON; adds safety headers."""

        def get_route_handler(self) -> Callable[[Request], Any]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    response: Response = await handler(request)
                except ConsoleError as exc:
                    response = await run_in_threadpool(console.error_response, request, exc)
                except RequestValidationError as exc:
                    reason = "; ".join(str(e.get("msg")) for e in exc.errors()) or "invalid request"
                    error = ConsoleError("bad_request", reason)
                    response = await run_in_threadpool(console.error_response, request, error)
                except StoreError as exc:  # the database is unreachable or stayed locked
                    # The reason names the database: it goes to the log, never to the page.
                    note_failure(f"database failure: {exc}")
                    error = console.failure(request, "store_unavailable")
                    response = await run_in_threadpool(console.error_response, request, error)
                except WalletbotError as exc:  # e.g. the signing key cannot be written
                    note_failure(f"console failure: {exc}")
                    error = console.failure(request, "server_error")
                    response = await run_in_threadpool(console.error_response, request, error)
                _secure(request, response)
                return response

            return guarded

    return ConsoleRoute


def _secure(request: Request, response: Response) -> None:
    headers = response.headers
    if not request.url.path.startswith(f"{ROOT}/static/"):
        headers["Cache-Control"] = "no-store"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if headers.get("content-type", "").startswith("text/html"):
        headers["Content-Security-Policy"] = CONSOLE_CSP


def build_console_router(environ: Mapping[str, str] | None = None) -> APIRouter:
    """The console's routes, to mount with ``app.include_router(build_console_router())``.

    Args:
        environ: where ``WALLETBOT_CONSOLE_SECRET`` is looked up (default: ``os.environ``),
            when config.yml's ``console.secret`` is empty.
    """
    console = Console(dict(os.environ) if environ is None else environ)
    router = APIRouter(route_class=_route_class(console), include_in_schema=False)

    # ------------------------------------------------------------------ sign-in

    @router.get(f"{ROOT}/login")
    def login_form(request: Request, next: str = "") -> Response:
        return session.login_page(console, request, next_url=next)

    @router.post(f"{ROOT}/login")
    def login(
        request: Request,
        name: FormText = "",
        password: FormText = "",
        csrf_token: FormText = "",
        next: FormText = "",
    ) -> Response:
        return session.login(console, request, name, password, csrf_token, next)

    @router.post(f"{ROOT}/logout")
    def logout(request: Request, csrf_token: FormText = "") -> Response:
        return session.logout(console.posted(request, csrf_token))

    # ------------------------------------------------------------------ pages

    @router.get(ROOT)
    def queue_page(request: Request) -> Response:
        return queue.queue_page(console.signed_in(request))

    @router.get(f"{ROOT}/tickets/{{number}}")
    def ticket_page(request: Request, number: str) -> Response:
        return tickets.ticket_page(console.signed_in(request), number)

    @router.post(f"{ROOT}/tickets/{{number}}/status")
    def ticket_status(request: Request, number: str, status: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.change_status(console.posted(request, csrf_token), number, status)

    @router.post(f"{ROOT}/bulk")
    def bulk(
        request: Request,
        action: FormText = "",
        numbers: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
        back: FormText = "",
        csrf_token: FormText = "",
    ) -> Response:
        return queue.bulk(console.posted(request, csrf_token), action, numbers, back)

    @router.post(f"{ROOT}/tickets/{{number}}/priority")
    def ticket_priority(request: Request, number: str, priority: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.change_priority(console.posted(request, csrf_token), number, priority.strip())

    @router.post(f"{ROOT}/tickets/{{number}}/assign")
    def ticket_assign(request: Request, number: str, assignee: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.change_assignee(console.posted(request, csrf_token), number, assignee.strip())

    @router.post(f"{ROOT}/tickets/{{number}}/note")
    def ticket_note(request: Request, number: str, text: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.note(console.posted(request, csrf_token), number, text)

    @router.post(f"{ROOT}/tickets/{{number}}/reply")
    def ticket_reply(request: Request, number: str, text: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.reply(console.posted(request, csrf_token), number, text)

    @router.post(f"{ROOT}/tickets/{{number}}/reveal")
    def ticket_reveal(request: Request, number: str, field: FormText = "", csrf_token: FormText = "") -> Response:
        return tickets.reveal(console.posted(request, csrf_token), number, field.strip())

    @router.get(f"{ROOT}/users")
    def users_page(request: Request) -> Response:
        return users.users_page(console.signed_in(request))

    @router.post(f"{ROOT}/users")
    def users_create(
        request: Request,
        name: FormText = "",
        role: FormText = "agent",
        password: FormText = "",
        password_repeat: FormText = "",
        csrf_token: FormText = "",
    ) -> Response:
        ctx = console.posted(request, csrf_token)
        return users.add_user(ctx, name.strip(), role, password, password_repeat)

    @router.get(f"{ROOT}/content")
    def content_page(request: Request) -> Response:
        return content.content_page(console.signed_in(request))

    # Reloading may retrain for seconds: these are plain functions, which FastAPI runs in its
    # thread pool, so the event loop keeps serving the chat meanwhile.
    @router.post(f"{ROOT}/content/reload")
    def content_reload(request: Request, csrf_token: FormText = "") -> Response:
        return content.after_reload(content.reload(console.posted(request, csrf_token)))

    @router.get(f"{ROOT}/content/unanswered.yml")
    def unanswered_yaml(request: Request) -> Response:
        return content.unanswered_yaml(console.signed_in(request))

    add_insights_routes(router, console)

    @router.get(f"{ROOT}/static/{{name}}")
    def static(name: str) -> Response:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise ConsoleError("not_found", f"No console file {name!r}.")
        return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ JSON API

    @router.get(f"{API_ROOT}tickets")
    def api_queue(request: Request) -> Response:
        return JSONResponse(queue.queue_json(console.signed_in(request)))

    @router.get(f"{API_ROOT}tickets/{{number}}")
    def api_ticket(request: Request, number: str) -> Response:
        ctx = console.signed_in(request)
        data = tickets.ticket_data(ctx, number)
        body = {
            **data["ticket"],
            "details": {d["key"]: d["value"] for d in data["details"]},
            "trail": data["trail"],
            "transcript": data["transcript"],
            "events": data["events"],
            "allowed_next": [status for status, _ in data["transitions"]],
            "human_owner": data["human_owner"],
        }
        return JSONResponse(body)

    @router.get(f"{API_ROOT}export.{{fmt}}")
    def api_export(request: Request, fmt: str) -> Response:
        ctx = console.signed_in(request)
        params = request.query_params
        if params.get("reveal", "").lower() in _TRUE:
            ctx.require_admin()
            raise ConsoleError(
                "post_required",
                "Exports with full contact details are audited and must be posted with the "
                "session's CSRF token: POST this URL with reveal=1 and csrf_token.",
                headers={"Allow": "POST"},
            )
        return export.export(ctx, fmt, params, reveal=False)

    @router.get(f"{API_ROOT}content")
    def api_content(request: Request) -> Response:
        return JSONResponse(console.signed_in(request).assistant.reload_status.as_dict())

    @router.post(f"{ADMIN_API_ROOT}reload")
    def admin_reload(request: Request) -> Response:
        status = content.reload(console.posted(request, None))  # CSRF token from X-CSRF-Token
        return JSONResponse(status.as_dict(), status_code=422 if status.errors else 200)

    @router.post(f"{API_ROOT}export.{{fmt}}")
    async def api_export_posted(request: Request, fmt: str) -> Response:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}

        def run() -> Response:
            ctx = console.posted(request, fields.get("csrf_token"))
            reveal = fields.get("reveal", "").lower() in _TRUE
            return export.export(ctx, fmt, fields, reveal=reveal)

        return await run_in_threadpool(run)

    return router


__all__ = ["build_console_router"]
