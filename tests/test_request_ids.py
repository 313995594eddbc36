"""Request ids and the log of failures (bot/request_ids.py), through the whole app on both databases.

A database outage in the middle of a run: the API answers 503, the console a page that names no
configuration, and each failure is one log line carrying the id the client got.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import make_settings
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user

SECRET = "request-id-tests-secret-0123456789"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app_and_db(module_database: Database, trained_models_dir: Path, runtime):
    settings = make_settings(module_database.url.render_as_string(hide_password=False), trained_models_dir)
    with module_database.session() as s:
        create_user(s, "ada", "admin", "correct horse battery")
    assistant = Assistant(settings, runtime, module_database)
    return create_app(settings, assistant, console_environ={SECRET_ENV: SECRET}), assistant


@pytest.fixture
def client(app_and_db) -> Iterator[TestClient]:
    app, _assistant = app_and_db
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


@pytest.fixture
def outage(app_and_db, tmp_path: Path) -> Iterator[str]:
    """The database goes away mid-run; yields what must never reach a client (its address)."""
    _app, assistant = app_and_db
    working = assistant.db
    if working.dialect == "postgresql":
        broken = Database("postgresql+psycopg://walletbot:hunter2@127.0.0.1:1/proddb?connect_timeout=2")
        hidden = "127.0.0.1:1"
    else:
        broken = Database(f"sqlite:///{tmp_path}")  # a folder: "unable to open database file"
        hidden = str(tmp_path)
    assistant.db = broken
    try:
        yield hidden
    finally:
        assistant.db = working
        broken.dispose()


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/api/nothing"),
        ("GET", "/console?q=%00"),
        ("POST", "/api/chat"),
        ("GET", "/console/login"),
    ],
)
def test_every_response_carries_a_request_id(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"]), response.headers


def test_a_plain_client_request_id_is_kept_and_an_odd_one_replaced(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c01"}).headers["x-request-id"] == "lb-7f3a9c01"
    replaced = client.get("/healthz", headers={"X-Request-ID": "x<script>alert(1)</script>"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", replaced)


def test_a_database_outage_is_a_503_logged_once_with_the_request_id(
    client: TestClient, outage: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.post("/api/chat", json={"text": "我充值失败了"})
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "database_unavailable" and error["request_id"] == response.headers["x-request-id"]
    assert outage not in response.text
    lines = failure_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    logged = lines[0].getMessage()
    assert error["request_id"] in logged and "database failure" in logged and outage in logged
    assert "hunter2" not in logged  # the password is hidden even in the log


@pytest.mark.parametrize("path", ["/console", "/console/api/tickets"])
def test_the_console_during_an_outage_shows_the_request_id_and_no_configuration(
    client: TestClient, outage: str, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get(path)
    assert response.status_code == 503, response.text
    request_id = response.headers["x-request-id"]
    assert request_id in response.text
    for secret in (outage, "postgresql", "sqlite", "hunter2", "proddb"):
        assert secret not in response.text
    lines = failure_lines(caplog)
    assert len(lines) == 1 and request_id in lines[0].getMessage(), [r.getMessage() for r in lines]


def test_an_unexpected_error_is_logged_once_with_its_traceback(
    client: TestClient, app_and_db, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _app, assistant = app_and_db

    def crash(_text: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(assistant, "parse", crash)
    with caplog.at_level(logging.INFO):
        response = client.post("/api/parse", json={"text": "你好"})
        after = client.get("/healthz")  # the same connection keeps serving
    assert response.status_code == 500 and after.status_code == 200
    lines = failure_lines(caplog)
    assert len(lines) == 1 and lines[0].exc_info is not None
    assert response.json()["error"]["request_id"] in lines[0].getMessage()
