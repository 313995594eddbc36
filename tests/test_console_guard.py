"""Support agents' notes and replies go through the same guard as users' messages (issue 15).

The rows of tests/data/guard_corpus.yml marked ``channel: console_note`` or ``console_reply`` are
posted through the console of the whole app, on SQLite and on PostgreSQL: what is stored (the
note or reply event, the agent turn) and what the ticket page, the console API and the user's
history show is the redacted text, never a value the corpus labels as sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_fixtures import make_settings
from fastapi.testclient import TestClient

from bot import guard
from bot.api.app import create_app
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user, get_ticket, list_events, list_turns

SECRET = "console-guard-tests-secret-0123456789"
CORPUS = Path(__file__).parent / "data" / "guard_corpus.yml"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _agent_rows(channel: str) -> list[dict[str, Any]]:
    rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["messages"]
    return [row for row in rows if row.get("channel") == channel]


NOTES = _agent_rows("console_note")
REPLIES = _agent_rows("console_reply")


def test_the_corpus_carries_agent_rows_with_and_without_findings() -> None:
    for rows in (NOTES, REPLIES):
        assert any(row["findings"] for row in rows) and any(not row["findings"] for row in rows)


@pytest.fixture(scope="module")
def app_and_assistant(module_database: Database, trained_models_dir: Path, runtime):
    settings = make_settings(module_database.url.render_as_string(hide_password=False), trained_models_dir)
    with module_database.session() as s:
        create_user(s, "ada", "admin", "correct horse battery")
    assistant = Assistant(settings, runtime, module_database)
    return create_app(settings, assistant, console_environ={SECRET_ENV: SECRET}), assistant


@pytest.fixture
def client(app_and_assistant) -> Iterator[TestClient]:
    app, _assistant = app_and_assistant
    with TestClient(app) as test_client:
        form = test_client.get("/console/login")
        data = {"name": "ada", "password": "correct horse battery", "next": "/console"}
        data["csrf_token"] = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        assert test_client.post("/console/login", data=data, follow_redirects=False).status_code == 303
        yield test_client


def _ticket(client: TestClient) -> tuple[str, dict[str, Any]]:
    conv = client.post("/api/chat", json={"text": "我充值失败了"}).json()
    reply = client.post(
        "/api/chat", json={"conversation": conv["conversation"], "token": conv["token"], "payload": "/human"}
    )
    assert reply.status_code == 200, reply.text
    number = reply.json()["state"]["ticket"]
    assert number, reply.json()
    return number, conv


def _post(client: TestClient, path: str, text: str) -> str:
    csrf = _CSRF.search(client.get("/console").text).group(1)  # type: ignore[union-attr]
    response = client.post(path, data={"text": text, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _values(row: dict[str, Any]) -> list[str]:
    return [finding["value"] for finding in row["findings"]]


@pytest.mark.parametrize("row", NOTES, ids=lambda row: row["text"][:12])
def test_a_note_is_stored_redacted(client: TestClient, app_and_assistant, row: dict[str, Any]) -> None:
    _app, assistant = app_and_assistant
    number, _conv = _ticket(client)
    location = _post(client, f"/console/tickets/{number}/note", row["text"])
    expected = guard.redact(row["text"].strip())
    assert location.endswith("done=note_masked" if row["findings"] else "done=note")
    with assistant.db.session(readonly=True) as s:
        note = list_events(s, get_ticket(s, number))[-1]  # type: ignore[arg-type]
    assert (note.kind, note.note) == ("note", expected)
    page = client.get(location).text
    shown = client.get(f"/console/api/tickets/{number}").text
    for value in _values(row):
        assert value not in note.note and value not in page and value not in shown
    if row["findings"]:
        assert "敏感信息已自动隐藏" in page
    else:
        assert note.note == row["text"]  # nothing to hide: the note is kept as written


@pytest.mark.parametrize("row", REPLIES, ids=lambda row: row["text"][:12])
def test_a_reply_is_stored_and_delivered_redacted(client: TestClient, app_and_assistant, row: dict[str, Any]) -> None:
    _app, assistant = app_and_assistant
    number, conv = _ticket(client)
    location = _post(client, f"/console/tickets/{number}/reply", row["text"])
    expected = guard.redact(row["text"].strip())
    assert location.endswith("done=reply_masked" if row["findings"] else "done=reply")
    with assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        reply = next(e for e in reversed(list_events(s, ticket)) if e.kind == "reply")  # type: ignore[arg-type]
        turn = list_turns(s, ticket.conversation_id)[-1]  # type: ignore[union-attr]
    assert (reply.note, turn.role.value, turn.text) == (expected, "agent", expected)
    history = client.get(f"/api/conversations/{conv['conversation']}", params={"token": conv["token"]}).text
    for value in _values(row):
        assert value not in reply.note and value not in turn.text and value not in history
    assert ("敏感信息已自动隐藏" in client.get(location).text) == bool(row["findings"])
