"""Who is asking: one request's context (``Ctx``), the CSRF and origin checks, sign-in and out.

``Console`` holds what lives between requests (the templates, the signing key, the sign-in
limiter, revoked sessions) and turns a request into a ``Ctx``; the other modules of this
package (queue, tickets, export, content, users) are functions over a ``Ctx``, and
``bot.console.router`` only wires URLs to them. Every rule about sessions is here, so a new
page cannot forget one: it asks for ``signed_in`` (GET) or ``posted`` (POST).
"""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.config import Settings
from bot.config_texts import ConsoleSettings
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
from bot.console.pages import ROOT, Pages, safe_next
from bot.console.views import Formatter
from bot.errors import WalletbotError
from bot.request_ids import current_id
from bot.shared_state import MemoryStore, StateStore
from bot.store import ConsoleUser, Role, authenticate
from bot.store.console_queries import get_user_by_id
from bot.store.models import utcnow

if TYPE_CHECKING:
    from bot.engine import Assistant


@dataclass(frozen=True)
class Parts:
    """What the console derives once from the app's settings."""

    settings: Settings
    config: ConsoleSettings
    signer: SessionSigner
    limiter: LoginLimiter
    revoked: RevokedSessions
    pages: Pages


@dataclass(frozen=True)
class Ctx:
    """One request: the assistant's database and settings, and who is signed in (if anyone)."""

    request: Request
    assistant: Assistant
    parts: Parts
    user: ConsoleUser | None = None
    claims: SessionClaims | None = None

    @property
    def db(self) -> Any:
        return self.assistant.db

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def config(self) -> ConsoleSettings:
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

    def refuse(self, code: str, label: str, **values: object) -> ConsoleError:
        """A refusal with code ``code`` and the ``label`` text of config.yml as its message."""
        return ConsoleError(code, self.config.text(label, **values))

    def require_admin(self) -> None:
        if not self.is_admin:
            raise self.refuse("forbidden", "forbidden_admin")

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        return self.parts.pages.render(self, template, status=status, **values)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Console:
    """The console's state between requests; ``context`` makes each request's ``Ctx``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.pages = Pages()
        # Without the app's shared store (a bare router in tests, or the app still starting).
        self._memory = MemoryStore()
        self._parts: Parts | None = None
        self._lock = threading.Lock()

    def parts(self, request: Request) -> tuple[Assistant, Parts]:
        """The app's Assistant and what the console derives from its settings (made once)."""
        assistant = getattr(request.app.state, "assistant", None)
        if assistant is None:
            raise ConsoleError("not_ready", "The assistant is still loading: retry shortly.")
        settings: Settings = assistant.settings
        store = getattr(request.app.state, "shared_state", None) or self._memory
        parts = self._parts
        if parts is None or parts.settings is not settings or parts.limiter.store is not store:
            with self._lock:
                parts = self._parts
                if parts is None or parts.settings is not settings or parts.limiter.store is not store:
                    parts = self._parts = self._make_parts(settings, store)
        return assistant, parts

    def _make_parts(self, settings: Settings, store: StateStore) -> Parts:
        config = settings.console  # validated with the settings: it cannot be broken here
        key = resolve_secret(config.secret_text, settings.models_dir, self.environ)
        return Parts(
            settings=settings,
            config=config,
            signer=SessionSigner(key, config.session_hours * 3600),
            limiter=LoginLimiter(
                store,
                per_name=config.login_limit.per_name,
                per_ip=config.login_limit.per_ip,
                window_seconds=config.login_limit.window_minutes * 60,
            ),
            revoked=RevokedSessions(store),
            pages=self.pages,
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
        check_origin(ctx)
        given = csrf_token or request.headers.get("x-csrf-token")
        if not ctx.parts.signer.token_matches(ctx.csrf, given):
            raise ctx.refuse("csrf_failed", "csrf_failed")
        return ctx

    def render(self, ctx: Ctx, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        return self.pages.render(ctx, template, status=status, **values)

    def error_response(self, request: Request, exc: ConsoleError) -> Response:
        try:
            config: ConsoleSettings | None = self.parts(request)[1].config
        except WalletbotError:  # not ready, or the signing key cannot be made
            config = None
        return self.pages.error_response(request, exc, config)

    def failure(self, request: Request, label: str) -> ConsoleError:
        """A 5xx whose page says only what happened and the request id; the log has the rest."""
        request_id = current_id() or "-"
        try:
            message = self.parts(request)[1].config.text(label, request_id=request_id)
        except WalletbotError:  # not ready, or the signing key cannot be made
            message = f"{label} ({request_id})"
        return ConsoleError(label, message)


def check_origin(ctx: Ctx) -> None:
    """Refuse a POST that the browser says comes from another site."""
    request = ctx.request
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ctx.refuse("csrf_failed", "csrf_failed")
    origin = request.headers.get("origin")
    if origin is None:
        return
    # Behind a reverse proxy that rewrites Host, X-Forwarded-Host names the public one (a
    # cross-site form cannot set either header, so trusting it opens nothing).
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    if origin == "null" or urllib.parse.urlsplit(origin).netloc not in hosts - {""}:
        raise ctx.refuse("csrf_failed", "csrf_failed")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


# --------------------------------------------------------------------------- sign-in and out


def login_page(
    console: Console,
    request: Request,
    *,
    next_url: str,
    status: int = 200,
    error: str | None = None,
    name: str = "",
    headers: Mapping[str, str] | None = None,
) -> Response:
    ctx = console.context(request)
    if ctx.user is not None and status == 200:
        return RedirectResponse(safe_next(next_url), status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    response = ctx.render(
        "login.html",
        status=status,
        error=error,
        login_token=ctx.parts.signer.login_token(nonce),
        next_url=safe_next(next_url),
        name_value=name,
    )
    response.headers.update(headers or {})
    set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)
    return response


def login(console: Console, request: Request, name: str, password: str, token: str, next_url: str) -> Response:
    ctx = console.context(request)
    check_origin(ctx)
    nonce = request.cookies.get(LOGIN_COOKIE)
    signer, limiter = ctx.parts.signer, ctx.parts.limiter
    if not nonce or not signer.token_matches(signer.login_token(nonce), token):
        raise ctx.refuse("csrf_failed", "csrf_failed")
    ip = client_ip(request)
    wait = limiter.wait_seconds(ip, name)
    if wait is not None:
        minutes = max(1, int(wait // 60) + (1 if wait % 60 else 0))
        return login_page(
            console,
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
        return login_page(
            console,
            request,
            next_url=next_url,
            status=401,
            name=name,
            error=ctx.config.text("login_failed"),
        )
    limiter.succeeded(name)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    cookie = signer.issue(user.id, user.password_hash)
    set_cookie(request, response, SESSION_COOKIE, cookie, int(signer.lifetime_seconds))
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


def logout(ctx: Ctx) -> Response:
    if ctx.claims is not None:
        ctx.parts.revoked.revoke(ctx.claims)
    response = RedirectResponse(f"{ROOT}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
