"""The console's content page and the reload endpoints, over HTTP against the real engine.

Every test runs on `live` (tests/test_reload.py): a private copy of config.yml, data/ and the
trained model, a SQLite file, and a ContentWatcher polling data/, so tests may break files.
The console is mounted as in tests/test_console.py and driven by its `Agent`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from engine_fixtures import Chat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_console import PASSWORDS, ROLES, XSS, Agent, assert_json_error, console_app, login  # noqa: F401
from test_reload import answer_to, live, wait_for  # noqa: F401

from bot.console.auth import SESSION_COOKIE
from bot.engine import Assistant
from bot.reports import collect_unanswered, group_unanswered, since_datetime
from bot.store import create_user

Live = tuple[Assistant, Path]
QUESTION = "怎么开启双重验证"
MARKER = "【控制台新版答案】"
BROKEN = "  - id: broken: value\n"  # reported at its own line: mapping values are not allowed
ERRORS = 'data-testid="reload-errors"'


@pytest.fixture
def app(live: Live) -> FastAPI:
    """The console over the live assistant, with the accounts of tests/test_console.py."""
    bot, _ = live
    with bot.db.session() as s:
        for name, password in PASSWORDS.items():
            create_user(s, name, ROLES[name], password)
    return console_app(bot)


def security_file(live: Live) -> Path:
    return live[1] / "faq" / "security.yml"


def content_page(agent: Agent) -> str:
    """The content page as text (entities decoded, so messages can be compared as written)."""
    page = agent.get("/console/content")
    assert page.status_code == 200, page.text
    return html.unescape(page.text)


def version_on(page: str) -> str:
    found = re.search(r'data-testid="content-version">([^<]*)<', page)
    assert found, page
    return found.group(1)


def with_new_answer(faq_yaml: str) -> str:
    """security.yml with a new answer for two_factor_auth, as an editor would change it."""
    start = faq_yaml.index("answer:", faq_yaml.index("id: two_factor_auth"))
    rest = faq_yaml[faq_yaml.index("tags:", start) :]
    return faq_yaml[:start] + f"answer: {MARKER}请在设置里开启双重验证。\n    " + rest


def post_reload(agent: Agent, *, csrf: bool = True) -> httpx.Response:
    """POST /api/admin/reload as a script does it.

    The session cookie is limited to /console, so the cookie jar keeps it back here: a script
    sends it by hand, with the CSRF token in X-CSRF-Token.
    """
    headers = {"Cookie": f"{SESSION_COOKIE}={agent.client.cookies.get(SESSION_COOKIE)}"}
    if csrf:
        headers["X-CSRF-Token"] = agent.csrf
    return agent.client.post("/api/admin/reload", headers=headers)


# ---------------------------------------------------------------------------- live reload


def test_a_broken_file_shows_on_the_page_and_its_fix_goes_live(live: Live, login: Callable[[str], Agent]) -> None:
    bot, _ = live
    agent = login("alice")
    page = content_page(agent)
    assert ERRORS not in page
    version = version_on(page)
    assert version == bot.reload_status.version
    before = answer_to(bot, QUESTION)

    path = security_file(live)
    good = path.read_text(encoding="utf-8")
    path.write_text(good + BROKEN, encoding="utf-8")
    line = good.count("\n") + 1
    wait_for(lambda: f"data/faq/security.yml:{line}:" in content_page(agent), 2.0)
    page = content_page(agent)
    assert ERRORS in page and version_on(page) == version
    assert bot.reload_status.errors and all(error in page for error in bot.reload_status.errors)
    assert f"机器人继续使用上一个有效版本 {version} 回答用户" in page
    assert answer_to(bot, QUESTION) == before  # the chat still serves the last good content

    path.write_text(with_new_answer(good), encoding="utf-8")

    def fixed() -> bool:
        page = content_page(agent)
        return ERRORS not in page and version_on(page) != version

    wait_for(fixed, 2.0)
    assert MARKER in answer_to(bot, QUESTION)


def test_the_content_api_answers_the_reload_status(app: FastAPI, live: Live, login: Callable[[str], Agent]) -> None:
    assert_json_error(TestClient(app).get("/console/api/content"), 401, "not_signed_in")
    body = login("alice").get("/console/api/content").json()
    assert body == live[0].reload_status.as_dict()
    assert set(body) == {"version", "loaded_at", "errors", "failed_at"} and body["errors"] == []


def test_the_reload_endpoint_is_for_admins_with_a_csrf_token(
    app: FastAPI, live: Live, login: Callable[[str], Agent]
) -> None:
    bot, _ = live
    assert_json_error(TestClient(app).post("/api/admin/reload"), 401, "not_signed_in")
    assert_json_error(post_reload(login("alice")), 403, "forbidden")
    admin = login("root")
    assert_json_error(post_reload(admin, csrf=False), 403, "csrf_failed")

    loaded = post_reload(admin)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == bot.reload_status.as_dict() and loaded.json()["errors"] == []

    version = bot.reload_status.version
    path = security_file(live)
    path.write_text(path.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    rejected = post_reload(admin)
    assert rejected.status_code == 422, rejected.text
    body = rejected.json()
    assert body["version"] == version and body["failed_at"]
    assert body["errors"] and all(e.startswith("data/faq/security.yml:") for e in body["errors"]), body


# ---------------------------------------------------------------------------- the reload button


def test_admins_reload_from_the_page(live: Live, login: Callable[[str], Agent]) -> None:
    bot, _ = live
    admin = login("root")
    assert 'href="/console/content"' in admin.get("/console").text  # in the top navigation
    assert "立即重新加载" in content_page(admin)
    assert admin.post("/console/content/reload", csrf=False).status_code == 403

    done = admin.post("/console/content/reload")
    assert done.status_code == 303 and done.headers["location"] == "/console/content?done=reloaded"
    page = html.unescape(admin.get(done.headers["location"]).text)
    assert f"已重新加载，当前内容版本 {bot.reload_status.version}。" in page

    path = security_file(live)
    path.write_text(path.read_text(encoding="utf-8") + BROKEN, encoding="utf-8")
    failed = admin.post("/console/content/reload")
    assert failed.headers["location"] == "/console/content?done=reload_failed"
    page = html.unescape(admin.get(failed.headers["location"]).text)
    assert "重新加载失败：内容有错误，没有生效" in page and "data/faq/security.yml:" in page


def test_agents_see_no_reload_button_and_may_not_reload(live: Live, login: Callable[[str], Agent]) -> None:
    agent = login("alice")
    page = content_page(agent)
    assert "立即重新加载" not in page and "/console/content/reload" not in page
    refused = agent.post("/console/content/reload")
    assert refused.status_code == 403 and "这个操作只有管理员可以执行。" in refused.text


# ---------------------------------------------------------------------------- unanswered questions


def test_unanswered_questions_are_listed_escaped_and_downloadable(live: Live, login: Callable[[str], Agent]) -> None:
    bot, _ = live
    for text in ("怎么开发票", "开发票怎么弄", f"{XSS}怎么开发票"):
        Chat(bot).say(text)
    runtime = bot.runtime
    groups = group_unanswered(
        collect_unanswered(bot.db, since_datetime("7d")), runtime.nlu.classifier.tokenizer, runtime.faq
    )
    assert any(g.count == 2 for g in groups), [g.as_dict() for g in groups]

    agent = login("alice")
    response = agent.get("/console/content")
    assert response.status_code == 200
    assert XSS not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;怎么开发票" in response.text
    rows = html.unescape(response.text).split('data-testid="unanswered-group"')[1:]
    assert len(rows) == len(groups)
    for row, group in zip(rows, groups):
        assert f"<td>{group.count}</td>" in row
        assert all(example in row for example in group.examples)
        question = next((e.question for e in bot.runtime.content.faq if e.id == group.nearest_faq), None)
        nearest = f'<td title="{group.nearest_faq}">{question}</td><td>{group.nearest_score:.2f}</td>'  # the question, not the id
        assert (nearest if group.nearest_faq else "没有相近的条目") in row, row

    link = re.search(r'href="([^"]*unanswered\.yml[^"]*)"', response.text)
    assert link, response.text
    stubs = agent.get(html.unescape(link.group(1)))
    assert stubs.status_code == 200 and stubs.headers["content-type"].startswith("text/yaml")
    assert stubs.headers["content-disposition"].startswith("attachment;")
    entries = yaml.safe_load(stubs.text)["entries"]
    assert [e["question"] for e in entries] == [g.examples[0] for g in groups]


def test_an_unreadable_period_is_a_bad_request(live: Live, login: Callable[[str], Agent]) -> None:
    agent = login("alice")
    for since in ("forever", "7x", "-1d", "99999999999d"):  # the last one: before year 1
        for path in ("/console/content", "/console/content/unanswered.yml"):
            response = agent.get(path, params={"since": since})
            assert response.status_code == 400, (since, path, response.text)
            assert f"无法识别时间范围“{since}”" in html.unescape(response.text)


def test_the_period_can_be_chosen(live: Live, login: Callable[[str], Agent]) -> None:
    page = content_page(login("alice"))
    assert 'name="since" value="7d"' in page
    page = login("bob").get("/console/content", params={"since": "12h"})
    assert page.status_code == 200 and 'name="since" value="12h"' in page.text
    assert "unanswered.yml?since=12h" in page.text
