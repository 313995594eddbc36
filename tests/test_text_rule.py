"""The one rule for text at the edge (bot/api/text_rule.py), through the whole app on both databases.

Each case was a 500 (or, on PostgreSQL, a CSV export cut off after ~200 bytes) before the rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import make_settings
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.api.text_rule import problem_in
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user

SECRET = "text-rule-tests-secret-0123456789"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def client(module_database: Database, trained_models_dir: Path, runtime) -> Iterator[TestClient]:
    """The whole app (API and console) on a database of each backend, an admin signed in."""
    settings = make_settings(module_database.url.render_as_string(hide_password=False), trained_models_dir)
    with module_database.session() as s:
        create_user(s, "ada", "admin", "correct horse battery")
    app = create_app(settings, Assistant(settings, runtime, module_database), console_environ={SECRET_ENV: SECRET})
    with TestClient(app) as test_client:
        form = test_client.get("/console/login")
        signed_in = test_client.post(
            "/console/login",
            data={
                "name": "ada",
                "password": "correct horse battery",
                "csrf_token": _CSRF.search(form.text).group(1),
                "next": "/console",  # type: ignore[union-attr]
            },
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        yield test_client


def assert_invalid_text(response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_text", error
    return str(error["message"])


@pytest.mark.parametrize("text", ["a\x00b", "a\x0bb", "\x1b[31m", "a\x7f", "a\x85b", "a\ud800b", "\udc00"])
def test_the_rule_refuses_control_characters_and_lone_surrogates(text: str) -> None:
    assert problem_in(text)


@pytest.mark.parametrize("text", ["充值失败\r\n卡是\t好的", "Pässwörd", "😀 emoji", "", "\u200b"])
def test_the_rule_accepts_plain_text_with_newlines_and_tabs(text: str) -> None:
    assert problem_in(text) is None


@pytest.mark.parametrize(
    "query",
    [
        "status=%00",
        "q=%E5%85%85%00",
        "page=1&assignee=a%01",
        "%00=1",
        "q=%FF%FE",
        "since=7d%0b",
    ],
)
@pytest.mark.parametrize("path", ["/console", "/console/api/tickets", "/console/api/export.csv", "/console/content"])
def test_console_query_strings_follow_the_rule(client: TestClient, path: str, query: str) -> None:
    assert_invalid_text(client.get(f"{path}?{query}"), 400)


def test_the_csv_export_with_a_nul_filter_is_a_clear_400_not_a_cut_off_file(client: TestClient) -> None:
    response = client.get("/console/api/export.csv?q=%00")
    message = assert_invalid_text(response, 400)
    assert "query parameter 'q'" in message and "U+0000" in message
    exported = client.get("/console/api/export.csv?q=%E5%85%85")  # the same export with valid text
    assert exported.status_code == 200 and exported.text.lstrip("\ufeff").startswith("工单号,"), exported.text[:200]


@pytest.mark.parametrize("path", ["/api/conversations/abc%00def", "/console/tickets/T%00-1", "/console/tickets/%1b"])
def test_paths_follow_the_rule(client: TestClient, path: str) -> None:
    assert_invalid_text(client.get(path), 400)


@pytest.mark.parametrize("name", ["ada\x00", "a\x01da", "\x7f"])
def test_a_login_name_with_a_control_character_is_400(client: TestClient, name: str) -> None:
    form = client.get("/console/login")
    token = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    response = client.post("/console/login", data={"name": name, "password": "x", "csrf_token": token})
    assert_invalid_text(response, 400)


@pytest.mark.parametrize("field", ["text", "csrf_token"])
def test_console_forms_follow_the_rule(client: TestClient, field: str) -> None:
    page = client.get("/console")
    token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"text": "验证码\x00", "csrf_token": token} | ({field: "a\x0cb"} if field == "csrf_token" else {})
    assert_invalid_text(client.post("/console/tickets/T-1/note", data=form), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"text": "充值失败", "conversation": "c\x00"},
        {"text": "充值失败", "token": "\ud83d"},
        {"text": "充值失败", "message_id": "m\x00"},
        {"text": "充值失败", "payload\x00": "x"},
        {"text": ["a", "\x00"]},
    ],
)
def test_every_json_field_and_key_follows_the_rule(client: TestClient, body: dict) -> None:
    content = json.dumps(body)  # ASCII JSON: \ud83d and \u0000 travel as escapes
    message = assert_invalid_text(
        client.post("/api/chat", content=content, headers={"Content-Type": "application/json"}), 422
    )
    assert "\x00" not in message


def test_json_without_a_content_type_is_checked_too(client: TestClient) -> None:
    assert_invalid_text(client.post("/api/parse", content=json.dumps({"text": "a\x00"})), 422)


def test_multipart_bodies_are_refused(client: TestClient) -> None:
    response = client.post("/console/login", files={"name": ("n.txt", b"ada\x00")})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"


def test_plain_text_still_passes_everywhere(client: TestClient) -> None:
    assert client.post("/api/chat", json={"text": "充值失败\r\n卡是\t好的"}).status_code == 200
    assert client.get("/console?q=%E5%85%85%E5%80%BC%09").status_code == 200
    assert client.get("/console/api/export.json?q=Pässwörd").status_code == 200
