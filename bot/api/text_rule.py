"""One rule for text at the edge: what arrives must be valid Unicode without control characters.

Every text a request carries (the path, each query parameter, each field of a form, every string
and key of a JSON body) is checked here, once, before any route sees it. A lone UTF-16 surrogate
(``"\\ud800"`` in JSON) breaks the text libraries (OpenCC raises), a NUL breaks PostgreSQL text
columns (and did so in the middle of a streamed CSV export), other control characters have no
business in a chat or a console form. Newline, carriage return and tab are allowed.

Refusals use the API's error shape, with code ``invalid_text``: 422 for a JSON field (like the
API's other field errors), 400 for the path, the query string or a form. Multipart bodies are
refused with 415: no route takes files, and their parts could not be checked here.

    problem_in("a\\x00b")   # "a control character (U+0000)"
    problem_in("您好")      # None
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from starlette.types import Receive, Scope, Send

from bot.asgi import HttpMiddleware, replay_body, send_json_error

INVALID_TEXT = "invalid_text"
# C0 controls other than \t \n \r, DEL, and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_FORM = b"application/x-www-form-urlencoded"
_MULTIPART = b"multipart/"


def problem_in(text: str) -> str | None:
    """What makes `text` unacceptable, in words, or None when it is fine."""
    found = _SURROGATE.search(text)
    if found:
        return f"invalid Unicode (a lone surrogate U+{ord(found.group()):04X})"
    found = _CONTROL.search(text)
    if found:
        return f"a control character (U+{ord(found.group()):04X})"
    return None


def _json_value_problem(value: Any, where: str) -> str | None:
    """What breaks the rule in a decoded JSON value (every string and key), named by its field.

    Field names are built only for the text at fault: a valid body costs one check per string.
    """
    if isinstance(value, str):
        problem = problem_in(value)
        return f"{f'field {_shown(where)}' if where else 'the body'} holds {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            field = f"{where}.{key}" if where else str(key)
            problem = problem_in(key)
            if problem:
                return f"the name of field {_shown(field)} holds {problem}"
            problem = _json_value_problem(item, field)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_value_problem(item, f"{where}[{index}]")
            if problem:
                return problem
    return None


def _shown(name: str) -> str:
    # repr() escapes control characters and surrogates: the message never carries the bad text.
    shown = repr(name)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _query_texts(raw: bytes, where: str) -> Iterator[tuple[str, str]]:
    """(field, text) of each name and value of a URL-encoded string; invalid UTF-8 raises."""
    pairs = urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    for name, value in pairs:
        yield f"the name of {where} {_shown(name)}", name
        yield f"{where} {_shown(name)}", value


def _first_problem(texts: Iterator[tuple[str, str]]) -> str | None:
    try:
        for field, text in texts:
            problem = problem_in(text)
            if problem:
                return f"{field} holds {problem}"
    except UnicodeDecodeError:
        return "the text is not valid UTF-8"
    return None


def _content_type(scope: Scope) -> bytes:
    name: bytes
    value: bytes
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    await send_json_error(send, status, code, message, extra=((b"cache-control", b"no-store"),))


class TextRuleMiddleware(HttpMiddleware):
    """Refuse a request whose path, query, form or JSON text breaks the rule, before routing.

    The body is read only for forms and JSON (JSON is what FastAPI reads when there is no
    content type); its size is capped by `BodyLimitMiddleware`, which runs first.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = _first_problem(iter([("the address", scope["path"])]))
        query = scope.get("query_string", b"")
        if not problem and query:
            problem = _first_problem(_query_texts(query, "query parameter"))
        if problem:
            await _refuse(send, 400, INVALID_TEXT, f"The request is refused: {problem}. Send plain text.")
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        kind = _content_type(scope)
        if kind.startswith(_MULTIPART):
            await _refuse(
                send,
                415,
                "unsupported_media_type",
                "Multipart bodies are not accepted: send JSON, or a URL-encoded form.",
            )
            return
        is_json = not kind or kind == b"application/json" or kind.endswith(b"+json")
        if kind != _FORM and not is_json:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more is None:  # the client went away
            return
        if kind == _FORM:
            problem = _first_problem(_query_texts(body, "form field"))
            status = 400
        else:
            problem = _json_problem(body)
            status = 422
        if problem:
            await _refuse(send, status, INVALID_TEXT, f"The request is refused: {problem}. Send plain text.")
            return
        await self.app(scope, replay_body(body, receive), send)


def _json_problem(body: bytes) -> str | None:
    # Fast path, the usual case: UTF-8 without a backslash and without a forbidden character
    # cannot hold one in any string (only an escape such as \u0000 or \b could), so the body
    # need not be decoded here as well as by the route.
    try:
        raw: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        raw = None  # json.loads also reads UTF-16 and UTF-32
    if raw is not None and "\\" not in raw and problem_in(raw) is None:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route answers with its own error (invalid_json)
    return _json_value_problem(value, "")


async def _read_body(receive: Receive) -> tuple[bytes, bool | None]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False
