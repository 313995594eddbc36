"""The HTTP application: `create_app(settings)` assembles routes, middleware and error handlers.

Nothing lives at module level: the Assistant (model, content, database) is loaded in the
lifespan onto `app.state`, or passed in by the caller (tests, an embedding program), which then
also owns closing it.

    app = create_app(load_settings())
    uvicorn.run(app, host="127.0.0.1", port=8000)

If the model is not trained the app still starts, so that `/healthz` answers and `/readyz`
explains what is missing; the chat answers 503 until `walletbot train` has run and the server
is restarted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI

from bot.api import metrics as metrics_routes
from bot.api import pages, routes
from bot.api.errors import install_error_handlers
from bot.api.metrics import MetricsMiddleware
from bot.api.middleware import ApiCORSMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from bot.api.text_rule import TextRuleMiddleware
from bot.config import Settings, load_settings
from bot.console import build_console_router
from bot.errors import ModelError
from bot.metrics import Metrics
from bot.request_ids import REQUEST_ID_HEADER, RequestIdMiddleware
from bot.shared_state import open_state_store

if TYPE_CHECKING:
    from bot.engine import Assistant

log = logging.getLogger("walletbot.api")

# A JSON body may escape each character as \uXXXX (6 bytes, 12 for a surrogate pair), plus the
# other fields: anything larger cannot hold an acceptable message.
_BYTES_PER_CHAR = 12
_BODY_OVERHEAD = 8192


def _load_assistant(settings: Settings) -> Assistant:
    from bot.engine import Assistant  # imported here so that importing the app stays cheap
    from bot.nlu.features import no_spare_dictionary

    with no_spare_dictionary():  # a server builds its one tokenizer now and no other after
        return Assistant.from_settings(settings)


def create_app(
    settings: Settings,
    assistant: Assistant | None = None,
    *,
    watch_content: bool = False,
    console_environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """Build the app for `settings`; load an Assistant at start-up unless one is given.

    watch_content=True reloads data/ live while serving (off in tests: they share data/).
    console_environ is where the support console looks up WALLETBOT_CONSOLE_SECRET (default:
    os.environ). The `ui:` and `console:` sections were checked with the settings
    (`load_settings`), so a missing text has stopped the start already.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: Assistant | None = None
        if app.state.assistant is None:
            try:
                owned = await anyio.to_thread.run_sync(_load_assistant, settings)
            except ModelError as exc:
                app.state.not_ready_reason = str(exc)
                log.warning("serving without a model, /api/chat answers 503: %s", exc)
            app.state.assistant = owned
            if owned is not None:
                _count_into(app, owned)
                app.state.shared_state = open_state_store(settings, owned.db)
        watcher = None
        if watch_content and app.state.assistant is not None:
            from bot.reloader import ContentWatcher

            watcher = ContentWatcher(app.state.assistant).start()
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()
            if owned is not None:
                app.state.assistant = None
                await anyio.to_thread.run_sync(owned.close)

    app = FastAPI(
        title="Walletbot",
        summary="Customer-support chatbot for digital wallets: chat API and embeddable bubble.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by bot.api.pages from vendored files, never from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.assistant = assistant
    # Rate limits, failed sign-ins and revoked sessions, shared by every worker (bot.shared_state).
    app.state.shared_state = open_state_store(settings, assistant.db) if assistant is not None else None
    app.state.not_ready_reason = None
    app.state.rate_limits = routes.RateLimits(settings)
    app.state.templates = pages.make_templates()

    app.state.metrics = Metrics() if settings.metrics.enabled else None
    if assistant is not None:
        _count_into(app, assistant)

    app.include_router(routes.router)
    if app.state.metrics is not None:
        app.include_router(metrics_routes.router)
    app.include_router(pages.router)
    app.include_router(build_console_router(console_environ))
    install_error_handlers(app)

    # Outermost last. The token travels in the body or a header, never in a cookie, so any site
    # may embed the bubble and call the API: CORS without credentials exposes nothing extra.
    app.add_middleware(TextRuleMiddleware)  # after the body cap: it reads forms and JSON
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.http.max_message_chars * _BYTES_PER_CHAR + _BODY_OVERHEAD,
        prefix=("/api/", "/console/"),
    )
    app.add_middleware(
        ApiCORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", routes.TOKEN_HEADER],
        expose_headers=["Retry-After", REQUEST_ID_HEADER],
        max_age=600,
    )
    if app.state.metrics is not None:
        app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: times everything
    app.add_middleware(RequestIdMiddleware)  # outermost: every response, even a 413, has an id
    return app


def _count_into(app: FastAPI, assistant: Assistant) -> None:
    """Let the engine, the reloader and the database report to this app's /metrics."""
    metrics: Metrics | None = app.state.metrics
    if metrics is not None:
        assistant.metrics = metrics
        metrics.watch_database(assistant.db.engine)


def app_from_env() -> FastAPI:
    """App factory for `uvicorn --factory bot.api.app:app_from_env` (and `walletbot serve`).

    Each worker process calls it, so the configuration comes from the environment:
    $WALLETBOT_CONFIG (default ./config.yml) and the WALLETBOT_* overrides.
    """
    return create_app(load_settings(), watch_content=True)
