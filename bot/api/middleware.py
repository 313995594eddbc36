"""ASGI middleware of the HTTP app: a request body cap, security headers, CORS for the API.

(The text rule and request ids have their own modules: bot.api.text_rule, bot.request_ids.)

Both are plain ASGI (not `BaseHTTPMiddleware`) so they neither buffer responses nor change how
exceptions propagate.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.asgi import HttpMiddleware, replay_body, send_json_error

# Pages may load scripts, styles and data only from this server: the bubble is an external
# script file, so no inline script or style is ever needed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    await send_json_error(send, status, code, message, extra=((b"x-content-type-options", b"nosniff"),))


class BodyLimitMiddleware(HttpMiddleware):
    """Refuse request bodies over `max_bytes` to paths under `prefix` with 413 before parsing.

    The body is read here (it is small by construction) and replayed to the app, so a client
    cannot make the server hold megabytes of JSON by sending a body without Content-Length.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str | tuple[str, ...] = "/api/") -> None:
        super().__init__(app)
        self.max_bytes = max_bytes
        self.prefix = prefix

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes: send a shorter message."

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("POST", "PUT", "PATCH") or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _send_error(send, 413, "body_too_large", self._too_large())
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, "body_too_large", self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)


class SecurityHeadersMiddleware(HttpMiddleware):
    """Add nosniff and a referrer policy everywhere, a CSP on pages, no-store on API answers."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")

                def put(name: bytes, value: str) -> None:
                    if name not in present:
                        headers.append((name, value.encode("latin-1")))

                put(b"x-content-type-options", "nosniff")
                put(b"referrer-policy", "strict-origin-when-cross-origin")
                if content_type.startswith(b"text/html"):
                    put(b"content-security-policy", PAGE_CSP)
                    put(b"x-frame-options", "SAMEORIGIN")
                if path.startswith("/api/"):
                    # Conversations are private: no shared cache may keep them.
                    put(b"cache-control", "no-store")
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, add_headers)


class ApiCORSMiddleware(CORSMiddleware):
    """CORS for `/api/` only: the bubble on another site calls the API; pages are not shared."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
