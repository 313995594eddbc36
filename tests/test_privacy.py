"""Issue 8's acceptance: a message full of secrets, sent over HTTP, leaves no trace of them in the
database file, in any log line at any level, in ticket details, or in the conversation history."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from engine_fixtures import make_settings
from fastapi.testclient import TestClient

from bot.api import create_app

MESSAGE = "我的密码是Abc12345，验证码是 837261，卡号 6222 0212 3456 7890 128"
SECRETS = ("Abc12345", "837261", "6222021234567890128", "6222 0212 3456 7890 128", "0212 3456 7890")


@pytest.fixture
def served(tmp_path: Path, trained_models_dir: Path):
    db_file = tmp_path / "privacy.db"
    settings = make_settings(f"sqlite:///{db_file}", trained_models_dir)
    with TestClient(create_app(settings)) as client:
        yield client, db_file


def raw_database(db_file: Path) -> bytes:
    """Every byte SQLite wrote: the main file, the WAL and the shared-memory index."""
    return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))


def test_secrets_are_warned_about_and_stored_nowhere(served, caplog):
    client, db_file = served
    caplog.set_level(logging.DEBUG)  # every logger, every level
    first = client.post("/api/chat", json={"text": MESSAGE, "brand": "upay"}).json()
    assert first["messages"][0]["text"].startswith("【安全提醒】")
    conv = {"conversation": first["conversation"], "token": first["token"]}
    client.post("/api/chat", json={**conv, "text": "转人工"})
    history = client.get(f"/api/conversations/{conv['conversation']}", headers={"X-Conversation-Token": conv["token"]}).json()
    stored_user_text = next(t["text"] for t in history["messages"] if t["role"] == "user")
    assert "[密码已隐藏]" in stored_user_text and "[验证码已隐藏]" in stored_user_text
    assert "6222 **** **** 0128" in stored_user_text

    client.close()  # checkpoint nothing away: the WAL is read as well
    raw = raw_database(db_file)
    logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} found in the database file"
        assert secret not in logs, f"{secret!r} found in the logs"
        assert secret not in str(history)


def test_contact_given_for_follow_up_is_kept_only_in_the_ticket(served):
    client, db_file = served
    first = client.post("/api/chat", json={"text": "我的账号被盗了"}).json()
    conv = {"conversation": first["conversation"], "token": first["token"]}
    reply = first
    for _ in range(8):
        if reply["state"]["escalated"]:
            break
        texts = " ".join(m["text"] for m in reply["messages"])
        if "联系" in texts or "手机" in texts or "邮箱" in texts:
            reply = client.post("/api/chat", json={**conv, "text": "我的手机号是13812341234"}).json()
        else:
            payloads = [b["payload"] for m in reply["messages"] for b in m["buttons"] if b["payload"] not in ("/human",)]
            reply = client.post("/api/chat", json={**conv, "payload": payloads[-1] if payloads else "/skip"}).json()
    assert reply["state"]["escalated"] is True
    history = client.get(f"/api/conversations/{conv['conversation']}?token={conv['token']}").text
    assert "13812341234" not in history and "138****1234" in history
    from bot.store.tickets import get_ticket

    with client.app.state.assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, reply["state"]["ticket"])
        assert "13812341234" in ticket.details.values()  # the protected copy, for the agent's follow-up
        assert str(ticket.priority) in ("high", "urgent")
