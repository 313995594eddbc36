"""Request ids: every response carries ``X-Request-ID``; every 5xx is logged once, with it.

An operator who gets "something failed" from a user or an agent needs the one log line that
explains it. `RequestIdMiddleware` gives each request an id (the client's ``X-Request-ID`` when it
is short and plain, else a new random one), returns it in the header of every response, and
writes one log line for each response with a status of 500 or more: the request, the status and
the reason a handler noted with `note_failure` (for example the database's own error, which
never goes to the client). An exception that no handler caught is logged there too, with its
traceback, and answered with the API's JSON 500, so nothing is logged twice and the connection
stays open.

Handlers add the id to the error body of a 5xx (`current_id()`), so a user can quote it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from bot.asgi import HttpMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER = REQUEST_ID_HEADER.lower().encode("ascii")
# A client's id is echoed back in a header and written to the log: only short, plain ones.
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,64}$")

log = logging.getLogger("walletbot.requests")
# New ids need to be unique, not secret (they guard nothing): a generator seeded from the OS
# costs no system call per request, unlike secrets.token_hex.
_ids = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(16)))  # forked workers differ


@dataclass
class RequestRecord:
    """What one request has to say to the log. Mutable: thread-pool routes see the same object."""

    id: str
    failure: str | None = None
    error: BaseException | None = None


_current: ContextVar[RequestRecord | None] = ContextVar("walletbot_request", default=None)


def current_id() -> str | None:
    """The id of the request being served, or None outside a request."""
    record = _current.get()
    return record.id if record else None


def note_failure(reason: str, error: BaseException | None = None) -> None:
    """Say why the request is failing; logged with its 5xx (the client sees a generic message).

    Pass `error` for a failure nobody expected: its traceback goes to the log line.
    """
    record = _current.get()
    if record is not None:
        record.failure = reason
        record.error = error


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _HEADER and _CLIENT_ID.match(value):
            return value.decode("ascii")
    return f"{_ids.getrandbits(64):016x}"


class RequestIdMiddleware(HttpMiddleware):
    """Outermost of the app's middleware: an id on every response, one log line per 5xx."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = RequestRecord(_request_id(scope))
        token = _current.set(record)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[Any] = [h for h in message.get("headers", []) if h[0].lower() != _HEADER]
                headers.append((_HEADER, record.id.encode("ascii")))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # noqa: BLE001 - the last resort: log once, answer once
            log.exception(
                "request %s: %s %s failed with an unexpected error%s",
                record.id,
                scope.get("method"),
                scope.get("path"),
                "" if status else "; answered 500",
            )
            if not status:
                await _send_internal_error(send, record.id)
            return
        finally:
            _current.reset(token)
        if status >= 500:
            log.error(
                "request %s: %s %s answered %d: %s",
                record.id,
                scope.get("method"),
                scope.get("path"),
                status,
                record.failure or "no reason noted",
                exc_info=record.error,
            )


async def _send_internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "internal_error",
                "message": "Something went wrong on our side: try again shortly.",
                "request_id": request_id,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (_HEADER, request_id.encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
