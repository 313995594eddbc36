"""What the product's plain-ASGI middleware share (the API's body limit, text rule, security
headers and metrics, and the request ids of both channels): a base class that lets non-HTTP
scopes (lifespan) through untouched, an error answer sent before the app is reached, and the
replay of a request body a middleware has already read.

    class Stamp(HttpMiddleware):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """A pure-ASGI middleware for HTTP requests: every other scope goes to the app as it came."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request; call `self.app` to pass it on."""
        raise NotImplementedError(f"The middleware {type(self).__name__} must implement handle(scope, receive, send).")


async def send_json_error(
    send: Send, status: int, code: str, message: str, *, extra: tuple[tuple[bytes, bytes], ...]
) -> None:
    """An `{"error": {code, message}}` answer sent by a middleware before the app is reached."""
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body` (already read by the middleware) in one message,
    then whatever the client sends next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
