"""Random requests at every route of the whole app, on each database: no input may give a 5xx.

A seeded generator (no extra dependency, and a failure is replayed by its seed) builds, for a
bounded time per database (WALLETBOT_FUZZ_SECONDS, default 20), requests from three clients:
nobody signed in, an admin signed in to the console (with a valid CSRF token most of the time,
so the handlers run past the form check), and one with a forged session cookie. Each request
picks a route (every route the app has, found from the app itself, so a new route is fuzzed
without editing this file), fills its path parameters with a real ticket, conversation or asset
name or with random text, and sends one of: a JSON object with the route's own keys holding
random values (lone surrogates, NUL and other controls, zero-width and bidi characters, full-
width digits, huge numbers, nesting, very long text), any JSON value, broken JSON, a form with
random fields, random bytes under a random content type, or nothing; with random query
parameters (invalid UTF-8 and percent escapes included) and sometimes odd headers.

Set WALLETBOT_FUZZ_SEED to replay a run; `-s` prints the inputs tried per route.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import make_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user

SECONDS = float(os.environ.get("WALLETBOT_FUZZ_SECONDS", "20"))
SEED = int(os.environ.get("WALLETBOT_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
SECRET = "fuzz-tests-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Routes that rebuild the whole runtime (about a second each): a few tries are enough.
SLOW_ROUTES = {"/console/content/reload": 3, "/api/admin/reload": 3}

# Keys each kind of route reads (JSON body, form or query); random keys are mixed in too.
KEYS = [
    "text", "payload", "conversation", "token", "message_id", "brand",  # chat and parse
    "status", "priority", "assignee", "field", "numbers", "action", "back",  # ticket forms
    "name", "password", "password_repeat", "role", "next", "csrf_token",  # sign-in and users
    "page", "q", "category", "sort", "order", "since", "days", "start", "end", "done",  # queue, insights
    "reveal", "changed", "skipped", "format",
]  # fmt: skip
INTERESTING = [
    "", " ", "0", "-1", "²", "٣", "1e309", "9" * 40, "NaN", "null", "true", "[]", "{}", "../../etc/passwd",
    "<script>alert(1)</script>", "' OR 1=1 --", "%00", "%", "\x00", "a\x00b", "\ud800", "\udfff", "\u202e",
    "\u200b", "\ufeff", "１２３", "/human", "/restart", "/skip", "/yes", "/no", "转人工", "我充值失败了",
    "密码是Abc12345", "验证码 665544", "open", "in_progress", "resolved", "closed", "urgent", "low",
    "admin", "agent", "contact", "csv", "json", "generic", "kdou", "upay", "2026-01-01", "30", "365",
    "WB-000001", "assign_me", "close", "/console", "//evil.example", "javascript:alert(1)",
]  # fmt: skip
ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789 -_./",
    "充值失败提现密码验证码转人工账户冻结退款你好吗？。，",
    "０１２３４５６７８９ＡＢＣ＠",
    "\u200b\u200c\u200d\u202a\u202e\u2066\u2069\ufeff\u00ad",
    "\x00\x01\x08\x0b\x1f\x7f\x85\x9f\t\n\r",
    "😀🧧👍🏽\U0010ffff",
    "\ud800\udbff\udc00\udfff",
    "<>&\"'`\\{}[]%#?;=+",
]


class Fuzzer:
    def __init__(self, rng: random.Random, real: dict[str, list[str]]) -> None:
        self.rng = rng
        self.real = real  # real values for path parameters: ticket numbers, conversation ids …

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return rng.choice(INTERESTING)
        length = rng.choice([1, 3, 8, 20, 60, 300, 1200]) if rng.random() < 0.97 else rng.choice([5000, 20000])
        chars = "".join(rng.sample(ALPHABETS, rng.randint(1, 3)))
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, length)))

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.random()
        if kind < 0.5 or depth > 3:
            return self.text()
        if kind < 0.6:
            return rng.choice([0, -1, 1, 2**31, 2**63, -(2**64), 10**30, 1.5, -0.0, 1e308])
        if kind < 0.7:
            return rng.choice([None, True, False])
        if kind < 0.85:
            return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {self.key(): self.value(depth + 1) for _ in range(rng.randint(0, 4))}

    def key(self) -> str:
        return self.rng.choice(KEYS) if self.rng.random() < 0.8 else self.text()

    def json_body(self, known: dict[str, str]) -> bytes:
        """Mostly an object with the route's keys; the real conversation and token often, so
        the request gets past the token check."""
        rng = self.rng
        if rng.random() < 0.15:
            body: Any = self.value()
        else:
            body = {self.key(): self.value() for _ in range(rng.randint(0, 5))}
            if rng.random() < 0.6:
                body.update({k: v for k, v in known.items() if rng.random() < 0.8})
        # ensure_ascii: lone surrogates travel as \\ud800 escapes, which is how browsers send them.
        return json.dumps(body, ensure_ascii=True).encode()

    def encoded(self, text: str) -> str:
        """Percent-encoded as a browser would, surrogates and all (they become invalid UTF-8)."""
        if self.rng.random() < 0.05:
            return self.rng.choice(["%FF%FE", "%C0%80", "%ED%A0%80", "%", "%zz", "%E4%B8"])
        return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")

    def pairs(self, known: dict[str, str]) -> str:
        rng = self.rng
        items = [(self.key(), self.text()) for _ in range(rng.randint(0, 5))]
        items += [(k, v) for k, v in known.items() if rng.random() < 0.8]
        rng.shuffle(items)
        return "&".join(f"{self.encoded(k)}={self.encoded(v)}" for k, v in items)

    def path(self, template: str) -> str:
        def fill(match: re.Match[str]) -> str:
            choices = self.real.get(match.group(1), [])
            if choices and self.rng.random() < 0.6:
                return self.rng.choice(choices)
            return self.encoded(self.text())[:2000] or "x"

        return re.sub(r"\{(\w+)\}", fill, template)


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route, HEAD aside, including those of included routers."""
    found = []
    for route in app.routes:
        router = getattr(route, "original_router", None)  # FastAPI ≥ 0.120 wraps included routers
        for inner in router.routes if router is not None else [route]:
            found += [
                (method, inner.path) for method in sorted(getattr(inner, "methods", None) or ()) if method != "HEAD"
            ]
    return found


def _sign_in(client: TestClient) -> str:
    client.cookies.clear()  # fuzzed requests may have left a login cookie of another form
    form = client.get("/console/login")
    data = {"name": "ada", "password": PASSWORD, "csrf_token": _CSRF.search(form.text).group(1), "next": "/console"}  # type: ignore[union-attr]
    assert client.post("/console/login", data=data, follow_redirects=False).status_code == 303
    return _CSRF.search(client.get("/console").text).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def fuzz_app(module_database: Database, trained_models_dir: Path, runtime) -> tuple[FastAPI, Database]:
    settings = make_settings(
        module_database.url.render_as_string(hide_password=False),
        trained_models_dir,
        WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP="1000000",
        WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_CONVERSATION="1000000",
    )
    with module_database.session() as s:
        create_user(s, "ada", "admin", PASSWORD)
        create_user(s, "bea", "agent", PASSWORD)
    assistant = Assistant(settings, runtime, module_database)
    return create_app(settings, assistant, console_environ={SECRET_ENV: SECRET}), module_database


def test_no_input_at_any_route_gives_a_5xx(fuzz_app: tuple[FastAPI, Database]) -> None:
    app, db = fuzz_app
    routes = app_routes(app)
    assert (
        len(routes) >= 40 and ("POST", "/api/chat") in routes and ("POST", "/console/tickets/{number}/reply") in routes
    )

    anonymous = TestClient(app, raise_server_exceptions=False)
    admin = TestClient(app, raise_server_exceptions=False)
    forged = TestClient(app, raise_server_exceptions=False, cookies={"walletbot_console": "x" * 40})
    csrf = _sign_in(admin)
    conv = anonymous.post("/api/chat", json={"text": "我充值失败了"}).json()
    ticket = anonymous.post("/api/chat", json={**{k: conv[k] for k in ("conversation", "token")}, "payload": "/human"})
    number = ticket.json()["state"]["ticket"]
    real = {
        "number": [number, urllib.parse.quote(number + "\x00")],
        "conversation_id": [conv["conversation"]],
        "fmt": ["csv", "json"],
        "name": ["console.css", "console.js", "swagger-ui.css", "swagger-ui-bundle.js"],
    }
    known = {"conversation": conv["conversation"], "token": conv["token"]}

    rng = random.Random(SEED)
    fuzz = Fuzzer(rng, real)
    tried: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    first_pass = rng.sample(routes, len(routes))  # every route at least once, then at random
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        method, template = first_pass.pop() if first_pass else rng.choice(routes)
        if tried[f"{method} {template}"] >= SLOW_ROUTES.get(template, 10**9):
            continue
        if rng.random() < 0.05:
            method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
        client = rng.choices([anonymous, admin, forged], weights=[3, 6, 1])[0]
        signed_in = client is admin
        form_known = {"csrf_token": csrf} if signed_in and rng.random() < 0.85 else {}
        headers: dict[str, str] = {}
        if rng.random() < 0.1:
            headers["X-Request-ID"] = fuzz.text().encode("ascii", "ignore").decode()[:80].strip() or "x"
        if rng.random() < 0.05:
            headers["X-Forwarded-For"] = "203.0.113.9, ::1, nonsense"
        if rng.random() < 0.05:
            headers["X-Conversation-Token"] = conv["token"]
        cookie = None
        if rng.random() < 0.05:  # a forged console cookie, any bytes a header may carry
            cookie = b"walletbot_console=" + bytes(
                rng.choice([*range(0x20, 0x7F), *range(0x80, 0x100)]) for _ in range(40)
            )
        url = fuzz.path(template)
        query = fuzz.pairs(known if rng.random() < 0.3 else {}) if rng.random() < 0.5 else ""
        if query:
            # Capped under what clients send (httpx refuses 64 KiB); a cut escape is one more odd input.
            url = (url + "?" + query)[:30000]
        body, content_type = _body(fuzz, rng, {**known, **form_known})
        if content_type:
            headers["Content-Type"] = content_type
        tried[f"{method} {template}"] += 1
        try:
            sent: dict[str, Any] = {**headers, "Cookie": cookie} if cookie else headers
            response = client.request(method, url, content=body, headers=sent, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a crash in the transport is a failure too
            failures.append(f"{method} {url[:300]!r} {body[:200]!r}: raised {exc!r}")
            continue
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{method} {url[:300]!r} {body[:200]!r}: {response.status_code} {response.text[:300]!r}")
        if template == "/console/logout" and response.status_code == 303 and signed_in:
            csrf = _sign_in(admin)  # the fuzzer signed the admin out: sign in again

    total = sum(tried.values())
    print(
        f"\nfuzz on {db.dialect}: seed {SEED}, {total} requests in {SECONDS:.0f} s, statuses {dict(sorted(statuses.items()))}"
    )
    for route, count in sorted(tried.items()):
        print(f"  {count:>5}  {route}")
    assert not failures, (
        f"seed {SEED}: {len(failures)} failure(s), replay with WALLETBOT_FUZZ_SEED={SEED}:\n" + "\n".join(failures[:10])
    )
    assert total >= 10 * SECONDS, f"only {total} requests in {SECONDS} s"
    assert {path for _method, path in routes} <= {key.split(" ", 1)[1] for key in tried}, "a route was never tried"


def _body(fuzz: Fuzzer, rng: random.Random, known: dict[str, str]) -> tuple[bytes, str | None]:
    kind = rng.random()
    if kind < 0.4:
        return fuzz.json_body(known), "application/json"
    if kind < 0.7:
        return fuzz.pairs(known).encode(), "application/x-www-form-urlencoded"
    if kind < 0.8:
        broken: list[Callable[[], bytes]] = [
            lambda: b'{"text": "',
            lambda: b"\xff\xfe\x00{",
            lambda: fuzz.json_body(known)[: rng.randint(0, 20)],
            lambda: b'{"text": "a\\ud800b"}',
            lambda: b'{"text": "\\u0000"}',
            lambda: b"[" * 5000,
        ]
        return rng.choice(broken)(), rng.choice(["application/json", "application/x-www-form-urlencoded"])
    if kind < 0.9:
        content_type = rng.choice(
            ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/octet-stream", None]
        )
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))), content_type
    return b"", None


def test_a_non_ascii_csrf_token_or_session_cookie_is_refused_not_a_500(fuzz_app: tuple[FastAPI, Database]) -> None:
    """The fuzzer's first find: hmac.compare_digest raised TypeError on non-ASCII text."""
    app, _db = fuzz_app
    admin = TestClient(app, raise_server_exceptions=False)
    _sign_in(admin)
    refused = admin.post("/console/bulk", data={"csrf_token": "令牌🧧", "action": "close"}, follow_redirects=False)
    assert refused.status_code == 403, refused.text
    forged = TestClient(app, raise_server_exceptions=False)
    response = forged.get(
        "/console/api/tickets", headers={"Cookie": "walletbot_console=v1.\xe9t\xe9.sig\xff".encode("latin-1")}
    )
    assert response.status_code == 401, response.text
