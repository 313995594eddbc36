"""The HTTP API (bot/api) against the real engine: a trained model and a fresh SQLite database.

The app is built by `create_app(settings)` and driven through Starlette's TestClient, whose
`with` block runs the lifespan, so the Assistant is loaded exactly as `walletbot serve` loads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import make_settings
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.api import create_app
from bot.store import Conversation, StoreError, list_feedback

STATE_KEYS = {"intent", "flow", "step", "faq_id", "ticket", "escalated", "resolved", "priority"}
# High limits for the shared client: the rate limiter has its own tests below.
NO_LIMITS = {
    "WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP": "100000",
    "WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_CONVERSATION": "100000",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("api") / "walletbot.db"
    settings = make_settings(f"sqlite:///{db}", trained_models_dir, **NO_LIMITS)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def assert_error(response: Any, status: int, code: str) -> str:
    """The response has `status` and exactly the one error shape with `code`; returns the message.

    A 5xx also carries the request id, the same as its X-Request-ID header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    if status >= 500:
        assert set(body["error"]) == {"code", "message", "request_id"}, body
        assert body["error"]["request_id"] == response.headers["x-request-id"], body
    else:
        assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return str(body["error"]["message"])


def start(client: TestClient, text: str = "我充值失败了", **extra: Any) -> dict[str, Any]:
    response = client.post("/api/chat", json={"text": text, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def send(client: TestClient, conv: dict[str, Any], **message: Any) -> Any:
    return client.post("/api/chat", json={"conversation": conv["conversation"], "token": conv["token"], **message})


def buttons(reply: dict[str, Any]) -> list[dict[str, str]]:
    return [b for m in reply["messages"] for b in m["buttons"]]


# ---------------------------------------------------------------------------- chat


def test_a_new_conversation_gets_an_id_a_token_and_the_contract_shape(client: TestClient) -> None:
    reply = start(client, brand="kdou")

    assert set(reply) == {"conversation", "token", "messages", "state"}
    assert re.fullmatch(r"[0-9a-f]{32}", reply["conversation"])
    assert len(reply["token"]) >= 32
    assert set(reply["state"]) == STATE_KEYS
    assert reply["state"]["intent"] == "topup_problem"
    assert reply["messages"] and all(set(m) == {"text", "buttons"} for m in reply["messages"])
    assert all(set(b) == {"title", "payload"} for b in buttons(reply))


def test_two_new_conversations_get_different_ids_and_tokens(client: TestClient) -> None:
    first, second = start(client), start(client)

    assert first["conversation"] != second["conversation"]
    assert first["token"] != second["token"]


def test_later_messages_continue_the_conversation_with_a_button_payload(client: TestClient) -> None:
    conv = start(client)
    payload = next(b["payload"] for b in buttons(conv) if b["title"] == "还是不行")

    response = send(client, conv, payload=payload)

    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["conversation"] == conv["conversation"]
    assert reply["token"] == conv["token"]
    assert reply["state"]["flow"] == "topup_problem"
    assert reply["state"]["step"] != conv["state"]["step"]


def test_a_human_request_opens_a_ticket_shown_in_the_state(client: TestClient) -> None:
    conv = start(client)

    reply = send(client, conv, payload="/human").json()

    assert reply["state"]["escalated"] is True
    assert re.fullmatch(r"WB-\d+", reply["state"]["ticket"])
    assert any(reply["state"]["ticket"] in m["text"] for m in reply["messages"])


def test_the_helpful_thumb_is_stored_as_feedback(client: TestClient) -> None:
    conv = start(client)
    solved = next(b["payload"] for b in buttons(conv) if b["title"] == "成功了")
    reply = send(client, conv, payload=solved).json()
    assert {"/helpful", "/not_helpful"} <= {b["payload"] for b in buttons(reply)}

    assert send(client, conv, payload="/helpful").status_code == 200

    assistant = client.app.state.assistant  # type: ignore[attr-defined]
    with assistant.db.session(readonly=True) as s:
        stored = [f for f in list_feedback(s) if f.conversation_id == conv["conversation"]]
    assert [f.helpful for f in stored] == [True]


def test_a_payload_that_is_not_valid_now_is_400(client: TestClient) -> None:
    conv = start(client)

    message = assert_error(send(client, conv, payload="no_such_step.7"), 400, "unknown_payload")
    assert "'no_such_step.7'" in message


@pytest.mark.parametrize(
    "token",
    [None, "", "not-the-token"],
    ids=["missing", "empty", "wrong"],
)
def test_a_missing_or_wrong_token_is_403(client: TestClient, token: str | None) -> None:
    conv = start(client)
    body: dict[str, Any] = {"conversation": conv["conversation"], "text": "还是不行"}
    if token is not None:
        body["token"] = token

    assert_error(client.post("/api/chat", json=body), 403, "forbidden")


def test_the_token_of_another_conversation_is_403(client: TestClient) -> None:
    mine, theirs = start(client), start(client)
    body = {"conversation": theirs["conversation"], "token": mine["token"], "text": "你好"}

    assert_error(client.post("/api/chat", json=body), 403, "forbidden")
    headers = {"X-Conversation-Token": mine["token"]}
    assert_error(client.get(f"/api/conversations/{theirs['conversation']}", headers=headers), 403, "forbidden")


def test_an_unknown_conversation_is_404(client: TestClient) -> None:
    body = {"conversation": "0" * 32, "token": "x" * 43, "text": "你好"}

    message = assert_error(client.post("/api/chat", json=body), 404, "not_found")
    assert "0" * 32 in message
    assert_error(client.get("/api/conversations/" + "0" * 32, params={"token": "x"}), 404, "not_found")


# ---------------------------------------------------------------------------- history


def test_history_returns_the_redacted_turns_and_the_state(client: TestClient) -> None:
    conv = start(client, text="我的手机号是13812345678，充值失败了")
    send(client, conv, payload="/human")

    response = client.get(f"/api/conversations/{conv['conversation']}", headers={"X-Conversation-Token": conv["token"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversation"] == conv["conversation"]
    turns = body["messages"]
    assert [t["seq"] for t in turns] == sorted(t["seq"] for t in turns)
    assert {t["role"] for t in turns} == {"user", "bot"}
    assert turns[0]["role"] == "user"
    assert "13812345678" not in turns[0]["text"]
    assert "5678" in turns[0]["text"]
    assert any(t["payload"] == "/human" for t in turns if t["role"] == "user")
    assert any(t["buttons"] for t in turns if t["role"] == "bot")
    assert body["state"]["ticket"] and body["state"]["escalated"] is True


def test_history_accepts_the_token_as_a_query_parameter(client: TestClient) -> None:
    conv = start(client)

    response = client.get(f"/api/conversations/{conv['conversation']}", params={"token": conv["token"]})

    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == "我充值失败了"


def test_history_gives_each_user_message_the_id_it_was_sent_with(client: TestClient) -> None:
    conv = start(client, text="我充值失败了", message_id="m-first")
    send(client, conv, text="网络没问题", message_id="m-second")
    send(client, conv, text="还是不行")

    response = client.get(f"/api/conversations/{conv['conversation']}", params={"token": conv["token"]})

    users = [t for t in response.json()["messages"] if t["role"] == "user"]
    assert [t["message_id"] for t in users] == ["m-first", "m-second", None]
    assert all(t["message_id"] is None for t in response.json()["messages"] if t["role"] == "bot")


def test_history_without_a_token_is_403(client: TestClient) -> None:
    conv = start(client)

    assert_error(client.get(f"/api/conversations/{conv['conversation']}"), 403, "forbidden")


# ---------------------------------------------------------------------------- input errors


def test_a_message_at_the_length_limit_is_accepted_and_one_more_character_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.http.max_message_chars  # type: ignore[attr-defined]

    assert client.post("/api/chat", json={"text": "充" * limit}).status_code == 200
    message = assert_error(client.post("/api/chat", json={"text": "充" * (limit + 1)}), 413, "message_too_long")
    assert message == (f"The message has {limit + 1} characters; the limit is {limit}: send a shorter message.")


def test_a_body_far_over_the_limit_is_413_before_parsing(client: TestClient) -> None:
    body = b'{"text": "' + b"a" * 200_000 + b'"}'

    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})

    assert_error(response, 413, "body_too_large")


@pytest.mark.parametrize("text", ["", " ", " \n\t　"], ids=["empty", "space", "whitespace"])
def test_an_empty_or_whitespace_message_is_422(client: TestClient, text: str) -> None:
    message = assert_error(client.post("/api/chat", json={"text": text}), 422, "empty_message")
    assert message == "'text' is empty or only whitespace: send the words of the message."


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "你好", "payload": "/human"}, "text_and_payload"),
        ({}, "missing_message"),
        ({"brand": "kdou"}, "missing_message"),
        ({"text": "你好", "txt": "你好"}, "unknown_field"),
        ({"text": "你好", "conversation_id": "x"}, "unknown_field"),
        ({"text": 5}, "invalid_field"),
        ({"text": ["你好"]}, "invalid_field"),
        ({"payload": "  "}, "empty_message"),
        ({"text": "你好", "token": "abc"}, "missing_conversation"),
        ({"text": "你好", "brand": "nobrand"}, "unknown_brand"),
        (["你好"], "invalid_body"),
        ("你好", "invalid_body"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_chat_requests_are_422(client: TestClient, body: Any, code: str) -> None:
    assert_error(client.post("/api/chat", json=body), 422, code)


def test_unknown_field_names_the_field(client: TestClient) -> None:
    message = assert_error(client.post("/api/chat", json={"text": "你好", "txt": "x"}), 422, "unknown_field")
    assert message == "Unknown field 'txt': remove it (see /docs for the fields)."


@pytest.mark.parametrize(
    "body",
    [b'{"text": ', b"{'text': 'hi'}", b'{"text": "hi",}', b"text=hi"],
    ids=["truncated", "single-quotes", "trailing-comma", "form"],
)
def test_invalid_json_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})

    message = assert_error(response, 400, "invalid_json")
    assert message.startswith("The request body is not valid JSON (")


@pytest.mark.parametrize(
    "body",
    [b'{"text": "\xff\xfe"}', b'{"text": "\xc3"}', '{"text": "充值失败"}'.encode("gbk")],
    ids=["invalid-bytes", "truncated-sequence", "gbk"],
)
def test_a_body_that_is_not_utf8_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})

    message = assert_error(response, 400, "invalid_body")
    assert message == "The request body could not be read: send a UTF-8 encoded JSON object."


def test_no_body_is_422(client: TestClient) -> None:
    assert_error(client.post("/api/chat"), 422, "missing_body")


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.get("/api/chat"), 405, "method_not_allowed")


def test_an_unexpected_failure_is_500_in_the_error_shape_without_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(text: str) -> None:
        raise RuntimeError("secret internals /srv/walletbot")

    monkeypatch.setattr(client.app.state.assistant, "parse", crash)  # type: ignore[attr-defined]
    quiet = TestClient(client.app, raise_server_exceptions=False)

    message = assert_error(quiet.post("/api/parse", json={"text": "你好"}), 500, "internal_error")
    assert "internals" not in message


def test_a_database_failure_is_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(**_kwargs: Any) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(client.app.state.assistant, "start_and_handle", unavailable)  # type: ignore[attr-defined]

    assert_error(client.post("/api/chat", json={"text": "你好"}), 503, "database_unavailable")


def test_a_first_message_that_fails_leaves_no_conversation_behind(client: TestClient) -> None:
    assistant = client.app.state.assistant  # type: ignore[attr-defined]
    with assistant.db.session(readonly=True) as s:
        before = s.scalar(select(func.count()).select_from(Conversation))

    assert_error(client.post("/api/chat", json={"payload": "/no-such-button"}), 400, "unknown_payload")

    with assistant.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == before
    reply = start(client)  # the next first message starts one, with a token that works
    assert send(client, reply, text="还是不行").status_code == 200


# ---------------------------------------------------------------------------- parse


def test_parse_returns_the_parse_contract(client: TestClient) -> None:
    response = client.post("/api/parse", json={"text": "昨天充值100元没到账"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"text", "intent", "confidence", "entities", "ranking"}
    assert body["text"] == "昨天充值100元没到账"
    assert body["intent"] == "topup_problem"
    assert 0 < body["confidence"] <= 1
    amount = next(e for e in body["entities"] if e["entity"] == "amount")
    assert set(amount) == {"entity", "value", "start", "end"}
    assert body["text"][amount["start"] : amount["end"]] == "100元"
    assert body["ranking"][0] == {"intent": body["intent"], "confidence": body["confidence"]}


def test_parse_refuses_what_chat_refuses(client: TestClient) -> None:
    limit = client.app.state.settings.http.max_message_chars  # type: ignore[attr-defined]

    assert_error(client.post("/api/parse", json={"text": "x" * (limit + 1)}), 413, "message_too_long")
    assert_error(client.post("/api/parse", json={"text": "  "}), 422, "empty_message")
    assert_error(client.post("/api/parse", json={"text": "你好", "lang": "zh"}), 422, "unknown_field")
    assert_error(client.post("/api/parse", json={}), 422, "missing_field")


# ---------------------------------------------------------------------------- health, docs, pages


def test_healthz_and_readyz_when_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"model": True, "database": True}}


def test_without_a_trained_model_the_app_is_live_but_not_ready(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'walletbot.db'}", tmp_path / "no-models")

    with TestClient(create_app(settings)) as untrained:
        assert untrained.get("/healthz").status_code == 200
        message = assert_error(untrained.get("/readyz"), 503, "not_ready")
        assert "walletbot train" in message
        assert_error(untrained.post("/api/chat", json={"text": "你好"}), 503, "not_ready")
        assert_error(untrained.post("/api/parse", json={"text": "你好"}), 503, "not_ready")
        assert untrained.get("/").status_code == 200  # the page still loads and explains nothing broke


def test_the_api_docs_come_from_this_server_only(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]  # no inline script
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/", "data:")) for s in sources), sources
    for source in sources:
        if source.startswith("/"):
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 100, source
    assert client.get("/docs/assets/../../config.yml").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


def test_history_tells_the_ticket_status(client: TestClient) -> None:
    conv = start(client)
    headers = {"X-Conversation-Token": conv["token"]}
    history = client.get(f"/api/conversations/{conv['conversation']}", headers=headers).json()
    assert history["ticket_status"] is None
    send(client, conv, payload="/human")
    history = client.get(f"/api/conversations/{conv['conversation']}", headers=headers).json()
    assert history["state"]["ticket"] and history["ticket_status"] == "open"


def test_openapi_describes_the_routes_and_the_error_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]

    assert {"post"} <= set(paths["/api/chat"])
    assert {"get"} <= set(paths["/api/conversations/{conversation_id}"])
    assert {"post"} <= set(paths["/api/parse"])
    assert {"get"} <= set(paths["/api/widget-config"])
    assert {"get"} <= set(paths["/healthz"]) and {"get"} <= set(paths["/readyz"])
    chat = paths["/api/chat"]["post"]
    for status in ("400", "403", "404", "413", "422", "429", "503"):
        assert chat["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }, status
    schemas = spec["components"]["schemas"]
    assert schemas["ChatRequest"]["additionalProperties"] is False
    assert set(schemas["ChatRequest"]["properties"]) == {
        "conversation",
        "token",
        "text",
        "payload",
        "brand",
        "message_id",
    }
    assert set(schemas["ChatResponse"]["properties"]) == {"conversation", "token", "messages", "state"}
    assert set(schemas["State"]["properties"]) == STATE_KEYS
    history_params = {p["name"] for p in paths["/api/conversations/{conversation_id}"]["get"]["parameters"]}
    assert {"conversation_id", "X-Conversation-Token", "token"} <= history_params


def test_every_documented_error_is_the_error_body_and_fastapis_default_422_is_gone(client: TestClient) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    documented = {
        (path, method, status): response
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    }

    assert {path for path, _, _ in documented} >= {
        "/api/chat",
        "/api/conversations/{conversation_id}",
        "/api/parse",
        "/api/widget-config",
    }
    for where, response in documented.items():
        assert response["content"]["application/json"]["schema"] == error_body, where
        assert response["description"], where
    assert ("/api/conversations/{conversation_id}", "get", "422") in documented
    assert all((path, method, "500") in documented for path, method, _ in documented)
    assert "HTTPValidationError" not in json.dumps(spec)
    # ... and the documented 422 of the history is what the server really sends.
    assert_error(client.get("/api/conversations/" + "x" * 65), 422, "invalid_field")


def test_widget_config_gives_brand_and_ui_texts(client: TestClient) -> None:
    body = client.get("/api/widget-config", params={"brand": "kdou"}).json()

    assert body["brand"] == "kdou"
    assert body["name"] == "K豆钱包"
    assert body["color"] == "#f59e0b"
    assert body["strings"]["human"] == "转人工"
    assert body["strings"]["title"] == "K豆钱包在线客服"  # {brand} filled in
    assert body["max_message_chars"] == 1000
    assert client.get("/api/widget-config").json()["brand"] == "generic"
    assert_error(client.get("/api/widget-config", params={"brand": "zz"}), 422, "unknown_brand")


def test_the_demo_page_embeds_the_bubble_with_a_strict_csp(client: TestClient) -> None:
    page = client.get("/", params={"brand": "upay"})

    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/widget.js" data-brand="upay" data-api="" defer></script>' in page.text
    for brand in ("generic", "kdou", "upay"):
        assert f'href="/?brand={brand}"' in page.text
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline for the CSP to block


def test_the_demo_page_does_not_reflect_an_unknown_brand(client: TestClient) -> None:
    page = client.get("/", params={"brand": '"><script>alert(1)</script>'})

    assert page.status_code == 200
    assert "alert(1)" not in page.text
    assert 'data-brand="generic"' in page.text


def test_widget_files_are_served_with_their_types_and_never_use_innerhtml(client: TestClient) -> None:
    js = client.get("/widget.js")
    css = client.get("/widget.css")

    assert js.status_code == css.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert css.headers["content-type"].startswith("text/css")
    assert js.headers["x-content-type-options"] == "nosniff"
    html_sinks = re.compile(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function")
    assert html_sinks.findall(js.text) == []


def test_api_answers_are_not_cached_and_cors_allows_embedding(client: TestClient) -> None:
    conv = start(client)
    history = client.get(f"/api/conversations/{conv['conversation']}", params={"token": conv["token"]})
    assert history.headers["cache-control"] == "no-store"

    preflight = client.options(
        "/api/chat",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-conversation-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    page = client.get("/", headers={"Origin": "https://shop.example.com"})
    assert "access-control-allow-origin" not in page.headers  # only the API is shared


# ---------------------------------------------------------------------------- rate limits


def limited_client(client: TestClient, ip: int, conversation: int) -> TestClient:
    """An app with tiny limits, sharing the module's engine (the limits live in the app)."""
    settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={
            "http": client.app.state.settings.http.model_copy(  # type: ignore[attr-defined]
                update={"rate_limit_per_minute_ip": ip, "rate_limit_per_minute_conversation": conversation}
            )
        }
    )
    return TestClient(create_app(settings, client.app.state.assistant))  # type: ignore[attr-defined]


def test_too_many_messages_in_one_conversation_is_429_with_retry_after(client: TestClient) -> None:
    with limited_client(client, ip=100, conversation=2) as limited:
        conv = start(limited)  # the first message counts
        assert send(limited, conv, text="还是不行").status_code == 200

        refused = send(limited, conv, text="还是不行")

        message = assert_error(refused, 429, "rate_limited")
        assert message.startswith("Too many requests in this conversation (limit 2 per minute): retry in ")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert start(limited)["conversation"]  # another conversation is not affected


def test_too_many_requests_from_one_address_is_429_with_retry_after(client: TestClient) -> None:
    with limited_client(client, ip=3, conversation=100) as limited:
        for _ in range(3):
            start(limited)

        refused = limited.post("/api/chat", json={"text": "你好"})

        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert_error(limited.post("/api/parse", json={"text": "你好"}), 429, "rate_limited")
        assert limited.get("/healthz").status_code == 200  # probes are never limited


def test_a_repeated_message_id_returns_the_stored_reply_and_changes_nothing(client: TestClient) -> None:
    conv = start(client)
    first = send(client, conv, payload="/human", message_id="m-1")
    assert first.status_code == 200, first.text
    history = client.get(f"/api/conversations/{conv['conversation']}?token={conv['token']}").json()["messages"]
    again = send(client, conv, payload="/human", message_id="m-1")  # the retry of a lost reply
    assert again.status_code == 200 and again.json() == first.json()
    assert client.get(f"/api/conversations/{conv['conversation']}?token={conv['token']}").json()["messages"] == history
    other = send(client, conv, text="今天下午三点", message_id="m-2")  # a new id is a new message
    assert other.status_code == 200 and other.json() != first.json()
    assert len(client.get(f"/api/conversations/{conv['conversation']}?token={conv['token']}").json()["messages"]) > len(
        history
    )


@pytest.mark.parametrize("message_id", ["", "a b", "x" * 65, "<script>"])
def test_a_malformed_message_id_is_422(client: TestClient, message_id: str) -> None:
    conv = start(client)
    assert send(client, conv, text="还是不行", message_id=message_id).status_code == 422


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/chat", "text", "a\ud800b"),  # a lone surrogate: OpenCC could not encode it (was a 500)
        ("/api/parse", "text", "a\ud800b"),
        ("/api/chat", "text", "充值\x00失败"),  # NUL: PostgreSQL text cannot hold it (was a 500 there)
        ("/api/chat", "brand", "kdou\x00"),
    ],
)
def test_invalid_unicode_and_control_characters_are_a_clear_422(
    client: TestClient, path: str, field: str, value: str
) -> None:
    body = json.dumps({"text": "充值失败"} | {field: value})  # ASCII JSON: \ud800 travels as an escape
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "invalid_text")


def test_windows_line_ends_and_tabs_are_plain_text(client: TestClient) -> None:
    assert client.post("/api/chat", json={"text": "充值失败\r\n卡是\t好的"}).status_code == 200


@pytest.mark.parametrize(("workers", "on_the_loop"), [("1", True), ("2", False)])
def test_the_chat_runs_on_the_event_loop_only_when_a_message_cannot_wait(
    tmp_path: Path, trained_models_dir: Path, runtime: Any, workers: str, on_the_loop: bool
) -> None:
    """One worker on SQLite: no thread hop. Several workers share the file's write lock, whose
    busy wait would stall the event loop: the chat then runs in the thread pool."""
    import asyncio

    from bot.engine import Assistant
    from bot.store import Database

    settings = make_settings(
        f"sqlite:///{tmp_path / 'w.db'}", trained_models_dir, WALLETBOT_HTTP_WORKERS=workers, **NO_LIMITS
    )
    db = Database(settings.database_url)
    db.migrate()
    assistant = Assistant(settings, runtime, db)
    seen: list[bool] = []
    handle = assistant.handle

    def recording_handle(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:  # a worker thread has no running loop
            seen.append(False)
        return handle(*args, **kwargs)

    assistant.handle = recording_handle  # type: ignore[method-assign]
    try:
        with TestClient(create_app(settings, assistant)) as test_client:
            reply = start(test_client)
            assert send(test_client, reply, text="还是不行").status_code == 200
    finally:
        db.dispose()
    assert seen == [on_the_loop, on_the_loop]
