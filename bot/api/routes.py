"""The JSON API: chat, history, parse, health, and the bubble's configuration.

`/api/chat` (one worker on SQLite), `/api/parse` and `/healthz` are `async def` and call the
engine on the event loop: the work is CPU-bound and holds the interpreter lock, so a thread would
buy no parallelism, and handing every request to FastAPI's thread pool and back cost more CPU than
the rest of the HTTP layer together (docs/performance.md). On PostgreSQL (or with Redis), or with
several workers on one SQLite file, a message can wait (round trips, another worker's write
lock), so the chat goes through the thread pool, which fills those waits with other requests. The
other routes are plain `def`s run in the thread pool: they are rare, and some read many rows. The
engine itself serialises the messages of one conversation across workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.api import schemas
from bot.api.errors import ApiError, error_response, error_responses
from bot.api.ui import widget_config
from bot.config import Settings
from bot.ratelimit import SlidingWindowLimiter, retry_after_header
from bot.request_ids import note_failure

if TYPE_CHECKING:
    from bot.engine import Assistant

CHANNEL = "http"
TOKEN_HEADER = "X-Conversation-Token"

# Any route can fail unexpectedly: the 500 is documented once, for all of them.
router = APIRouter(responses=error_responses(500))


class RateLimits:
    """The per-IP and per-conversation limits of one app, counted in the app's shared store."""

    def __init__(self, settings: Settings) -> None:
        self.ip = SlidingWindowLimiter(settings.http.rate_limit_per_minute_ip, 60.0, name="ip")
        self.conversation = SlidingWindowLimiter(
            settings.http.rate_limit_per_minute_conversation, 60.0, name="conversation"
        )

    def check_ip(self, request: Request) -> None:
        # The peer's address; X-Forwarded-For replaces it only from http.trusted_proxies.
        ip = request.client.host if request.client else "unknown"
        self._check(request, self.ip, ip, "from your address")

    def check_conversation(self, request: Request, conversation_id: str) -> None:
        self._check(request, self.conversation, conversation_id, "in this conversation")

    @staticmethod
    def _check(request: Request, limiter: SlidingWindowLimiter, key: str, where: str) -> None:
        wait = limiter.hit(key, getattr(request.app.state, "shared_state", None))
        if wait is not None:
            seconds = retry_after_header(wait)
            raise ApiError(
                "rate_limited",
                f"Too many requests {where} (limit {limiter.limit} per minute): retry in {seconds} s.",
                headers={"Retry-After": seconds},
            )


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _assistant(request: Request) -> Assistant:
    assistant = request.app.state.assistant
    if assistant is None:
        reason = request.app.state.not_ready_reason or "the assistant is still loading"
        raise ApiError("not_ready", f"The service is not ready: {reason}")
    return assistant  # type: ignore[no-any-return]


def _limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits  # type: ignore[no-any-return]


def _check_length(settings: Settings, text: str | None) -> None:
    limit = settings.http.max_message_chars
    if text is not None and len(text) > limit:
        raise ApiError(
            "message_too_long",
            f"The message has {len(text)} characters; the limit is {limit}: send a shorter message.",
        )


def _brand_key(settings: Settings, brand: str | None) -> str:
    key = brand or settings.default_brand
    if key not in settings.brands:
        known = ", ".join(sorted(settings.brands))
        raise ApiError("unknown_brand", f"Unknown brand '{key}': known brands are {known}.")
    return key


@router.post(
    "/api/chat",
    response_model=schemas.ChatResponse,
    responses=error_responses(400, 403, 404, 413, 422, 429, 503),
    summary="Send a message or a button payload; start a conversation when no id is given",
    tags=["chat"],
)
async def chat(body: schemas.ChatRequest, request: Request) -> dict[str, Any]:
    if _may_wait(request):
        return await run_in_threadpool(_chat, body, request)
    return _chat(body, request)


def _may_wait(request: Request) -> bool:
    """Whether a message may wait on others: on a PostgreSQL server's (or Redis's) round trips,
    or on the SQLite file's write lock held by another worker (SQLite's busy handler then sleeps
    1 to 100 ms at a time). In a worker thread that time serves other requests; on the event
    loop it would stall the whole worker. One process alone on a SQLite file never waits."""
    assistant = request.app.state.assistant
    if assistant is None:
        return False
    settings = _settings(request)
    return assistant.db.dialect != "sqlite" or settings.http.workers > 1 or bool(settings.storage.redis_url)


def _chat(body: schemas.ChatRequest, request: Request) -> dict[str, Any]:
    settings = _settings(request)
    limits = _limits(request)
    limits.check_ip(request)
    _check_length(settings, body.text)
    assistant = _assistant(request)
    if body.conversation is None:
        # A new conversation and its first message: one transaction (its id is new, so no
        # per-conversation limit has counted it yet).
        reply, token = assistant.start_and_handle(
            brand=_brand_key(settings, body.brand),
            channel=CHANNEL,
            text=body.text,
            payload=body.payload,
            message_id=body.message_id,
        )
        limits.check_conversation(request, reply["conversation"])
        return {**reply, "token": token}
    assistant.check_token(body.conversation, body.token)
    limits.check_conversation(request, body.conversation)
    reply = assistant.handle(body.conversation, text=body.text, payload=body.payload, message_id=body.message_id)
    return {**reply, "token": body.token or ""}


@router.get(
    "/api/conversations/{conversation_id}",
    response_model=schemas.HistoryResponse,
    responses=error_responses(403, 404, 422, 429, 503),
    summary="The stored (redacted) messages of a conversation, to restore the bubble",
    tags=["chat"],
)
def conversation_history(
    request: Request,
    conversation_id: Annotated[str, Path(max_length=64)],
    x_conversation_token: Annotated[
        str | None, Header(alias=TOKEN_HEADER, description="The conversation's token.")
    ] = None,
    token: Annotated[
        str | None, Query(description=f"The token, when the {TOKEN_HEADER} header cannot be sent.")
    ] = None,
) -> dict[str, Any]:
    _limits(request).check_ip(request)
    assistant = _assistant(request)
    assistant.check_token(conversation_id, x_conversation_token or token)
    return {
        "conversation": conversation_id,
        "messages": assistant.history(conversation_id),
        "state": assistant.state(conversation_id),
        "ticket_status": assistant.ticket_status(conversation_id),
    }


@router.post(
    "/api/parse",
    response_model=schemas.ParseResponse,
    responses=error_responses(400, 413, 422, 429, 503),
    summary="Intent, confidence, ranking and entities of one message (the NLU alone)",
    tags=["nlu"],
)
async def parse(body: schemas.ParseRequest, request: Request) -> Any:
    _limits(request).check_ip(request)
    _check_length(_settings(request), body.text)
    return _assistant(request).parse(body.text)


@router.get(
    "/api/widget-config",
    response_model=schemas.WidgetConfig,
    responses=error_responses(422),
    summary="Brand name, colour and UI texts for the chat bubble",
    tags=["widget"],
)
def get_widget_config(request: Request, brand: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    settings = _settings(request)
    return widget_config(settings, _brand_key(settings, brand))


@router.get("/healthz", response_model=schemas.Health, summary="Liveness", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=schemas.Ready,
    responses=error_responses(503),
    summary="Readiness: the model and the database are loaded",
    tags=["ops"],
)
def readyz(request: Request) -> Any:
    assistant = request.app.state.assistant
    if assistant is None:
        reason = request.app.state.not_ready_reason or "the assistant is still loading"
        note_failure(f"not ready: {reason}")
        return error_response(503, "not_ready", f"Not ready: {reason}")
    checks = assistant.ready()
    if not all(checks.values()):
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        note_failure(f"readiness check failed: {failing} unavailable")
        return error_response(503, "not_ready", f"Not ready: {failing} unavailable.")
    return JSONResponse({"status": "ready", "checks": checks})
