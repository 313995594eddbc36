"""The support console in a real browser (Debian's Chromium, headless, driven by Playwright),
next to the user's chat bubble, both served by one live uvicorn server: the chat app from
`create_app` with the console router mounted, the real engine and a temporary SQLite file.

The acceptance path, tried as people would: a user escalates in the bubble; an agent signs in,
finds the ticket, reads the trail, reveals the phone number, starts work, notes, replies; the
reply appears in the user's bubble and in the chat API's history.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from browser import launch_chromium
from engine_fixtures import make_settings
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from bot.api import create_app
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user, get_ticket, list_events

AGENT, PASSWORD = "xiaowang", "xiaowang-password-1"
PHONE, MASKED_PHONE = "13812345678", "138****5678"
XSS = "<script>alert(1)</script>"
REPLY = "您好，我是人工客服小王，已经在核查您的账户，请稍候。"

expect.set_options(timeout=15_000)


@dataclass
class LiveServer:
    url: str
    assistant: Assistant


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path, runtime: object) -> Iterator[LiveServer]:
    db_path = tmp_path_factory.mktemp("console-browser") / "walletbot.db"
    settings = make_settings(
        f"sqlite:///{db_path}",
        trained_models_dir,
        WALLETBOT_UI_POLL_SECONDS="1",  # agent replies show up quickly
        WALLETBOT_CONSOLE_POLL_SECONDS="1",  # and so do new tickets and messages in the console
        WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP="100000",
    )
    db = Database(settings.database_url)
    db.migrate()
    assistant = Assistant(settings, runtime, db)  # type: ignore[arg-type]
    with db.session() as s:
        create_user(s, AGENT, "agent", PASSWORD)

    app = create_app(settings, assistant, console_environ={SECRET_ENV: "browser-test-secret-0123456789"})
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        time.sleep(0.05)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", assistant)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        assistant.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    """Two separate people: a user on a phone and an agent at a desk."""
    user = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    agent = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    yield user, agent
    user.close()
    agent.close()


def watch(page: Page) -> list[str]:
    """Collect JavaScript errors, dialogs (an injected alert) and CSP violations."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    return problems


# ---------------------------------------------------------------------------- the user's side


def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    before = page.locator(".wb-msg-bot").count()
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".wb-msg-bot")).not_to_have_count(before)
    expect(page.locator(".wb-typing")).to_be_hidden()


def press(page: Page, title: str) -> None:
    before = page.locator(".wb-msg-bot").count()
    page.locator(".wb-reply:not([disabled])", has_text=re.compile(f"^{re.escape(title)}$")).click()
    expect(page.locator(".wb-msg-bot")).not_to_have_count(before)
    expect(page.locator(".wb-typing")).to_be_hidden()


def escalate_in_the_bubble(page: Page, url: str) -> str:
    """A frozen account, told in the bubble, with an injection attempt; returns the ticket number."""
    page.goto(f"{url}/?brand=generic")
    page.get_by_role("button", name="打开数字钱包在线客服").click()
    say(page, f"我的账户被冻结了 {XSS}")
    press(page, "还是不行")
    press(page, "有异常")
    say(page, "昨天晚上十点")
    say(page, PHONE)
    number = page.locator(".wb-ticket-number")
    expect(number).to_have_text(re.compile(r"^WB-\d{6}$"))
    return number.inner_text()


# ---------------------------------------------------------------------------- the test


def test_agent_works_an_escalation_and_the_user_sees_the_reply(
    server: LiveServer, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    user_context, agent_context = contexts
    bubble = user_context.new_page()
    bubble_problems = watch(bubble)
    number = escalate_in_the_bubble(bubble, server.url)
    stored = bubble.evaluate("JSON.parse(localStorage.getItem('walletbot.v1.generic'))")

    console = agent_context.new_page()
    problems = watch(console)

    # Without a session the console sends the agent to the sign-in form.
    console.goto(f"{server.url}/console")
    expect(console).to_have_url(re.compile(r"/console/login\?next=%2Fconsole$"))
    expect(console.get_by_role("heading", name="登录客服工作台")).to_be_visible()
    console.get_by_label("用户名").fill(AGENT)
    console.get_by_label("密码").fill(PASSWORD)
    console.get_by_role("button", name="登录").click()
    expect(console).to_have_url(re.compile(r"/console$"))
    expect(console.get_by_test_id("me")).to_have_text(AGENT)

    # The queue: the new urgent ticket, found by searching its number.
    row = console.locator(f"tr[data-ticket='{number}']")
    expect(row).to_contain_text("紧急")
    expect(row).to_contain_text("待处理")
    console.get_by_role("searchbox").fill(number)
    console.get_by_role("button", name="筛选").click()
    expect(console.locator("tr[data-ticket]")).to_have_count(1)
    console.get_by_role("link", name=number).click()
    expect(console.get_by_test_id("ticket-number")).to_have_text(number)

    # The trail, the transcript as stored (the injection shown as text), the masked phone.
    trail = console.get_by_test_id("trail")
    expect(trail).to_contain_text("请查看最近的交易记录，有没有不是您本人操作的交易或其他异常？")
    expect(trail).to_contain_text("→ 有异常")
    transcript = console.get_by_test_id("transcript")
    expect(transcript.locator(".turn-user .text").first).to_have_text(f"我的账户被冻结了 {XSS}")
    assert console.locator("main script, main img").count() == 0
    contact = console.get_by_test_id("detail-contact")
    expect(contact).to_have_text(MASKED_PHONE)
    expect(console.get_by_role("button", name="显示")).to_have_count(0)  # not assigned yet

    # Start work: the ticket becomes theirs, so the reveal action appears.
    console.get_by_role("button", name="开始处理").click()
    expect(console.get_by_role("status")).to_have_text("状态已更新。")
    expect(console.get_by_test_id("ticket-status")).to_have_text("处理中")
    expect(console.get_by_test_id("assignee")).to_have_text(AGENT)
    console.get_by_role("button", name="显示").click()
    expect(console.get_by_test_id("detail-contact")).to_have_text(PHONE)
    expect(console.get_by_role("status")).to_contain_text("已记入操作记录")

    # An internal note, then a reply to the user.
    console.get_by_role("textbox", name="内部备注").fill("已核实交易记录，准备联系用户")
    console.get_by_role("button", name="添加备注").click()
    expect(console.get_by_test_id("notes")).to_contain_text("已核实交易记录，准备联系用户")
    expect(console.get_by_test_id("detail-contact")).to_have_text(MASKED_PHONE)  # masked again
    console.get_by_role("textbox", name="回复用户").fill(REPLY)
    console.get_by_role("button", name="发送给用户").click()
    expect(console.get_by_role("status")).to_contain_text("回复已发送")
    expect(console.get_by_test_id("owner")).to_contain_text("人工客服已接管这个对话")
    expect(transcript.locator(".turn-agent .text")).to_have_text(REPLY)

    audit = console.get_by_test_id("audit")
    for kind in ("创建工单", "状态变更", "指派", "查看完整信息", "内部备注", "回复用户"):
        expect(audit).to_contain_text(kind)
    with server.assistant.db.session(readonly=True) as s:
        ticket = get_ticket(s, number)
        assert ticket is not None
        kinds = [e.kind for e in list_events(s, ticket) if e.kind != "updated"]  # "updated": the user, from the chat
    assert kinds == ["created", "status", "assign", "reveal", "note", "reply"]

    # The user's side: the chat API's history has the reply, and the open bubble shows it.
    history = httpx.get(
        f"{server.url}/api/conversations/{stored['conversation']}",
        headers={"X-Conversation-Token": stored["token"]},
    )
    assert history.status_code == 200, history.text
    assert history.json()["messages"][-1]["role"] == "agent"
    assert history.json()["messages"][-1]["text"] == REPLY
    agent_message = bubble.locator(".wb-msg-agent")
    expect(agent_message).to_have_count(1)  # picked up by the bubble's polling
    expect(agent_message.locator(".wb-bubble")).to_have_text(REPLY)

    # The workflow continues: resolved hands the conversation back to the bot.
    console.get_by_role("button", name="标记为已解决").click()
    expect(console.get_by_test_id("ticket-status")).to_have_text("已解决")
    expect(console.get_by_test_id("owner")).to_have_text("工单已解决或关闭，重新打开后才能回复用户。")

    assert problems == []
    assert bubble_problems == []


def test_the_console_runs_under_its_content_security_policy(
    server: LiveServer, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    _, agent_context = contexts
    page = agent_context.new_page()
    problems = watch(page)
    response = page.goto(f"{server.url}/console/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("用户名").fill(AGENT)
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    # console.js (a file, allowed by the CSP) submits the filters when a choice changes.
    page.get_by_label("优先级").select_option("urgent")
    expect(page).to_have_url(re.compile(r"priority=urgent"))
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login"))
    # The wrong password's page answers 401, which Chromium logs; nothing else may appear.
    assert [p for p in problems if "status of 401 (Unauthorized)" not in p] == []
    assert len(problems) <= 1


# ---------------------------------------------------------------------------- daily use


def sign_in(page: Page, url: str, target: str = "/console") -> None:
    page.goto(f"{url}/console/login?next={urllib.parse.quote(target)}")
    page.get_by_label("用户名").fill(AGENT)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("me")).to_have_text(AGENT)


def new_ticket(assistant: Assistant, text: str) -> tuple[str, str]:
    """A conversation that asks for a human straight away: (conversation id, ticket number)."""
    conversation, _ = assistant.start_conversation(brand="generic", channel="test")
    assistant.handle(conversation, text=text)
    reply = assistant.handle(conversation, payload="/human")
    return conversation, reply["state"]["ticket"]


def test_the_queue_and_the_ticket_page_update_without_a_reload(
    server: LiveServer, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    _, agent_context = contexts
    page = agent_context.new_page()
    problems = watch(page)
    sign_in(page, server.url)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    conversation, number = new_ticket(server.assistant, "提现一直没到账")
    row = page.locator(f"tr[data-ticket='{number}']")
    expect(row).to_be_visible()  # appeared by the queue's own polling
    expect(row).to_contain_text("待处理")

    # The agent answers; the user writes again; the queue marks the ticket.
    page.get_by_role("link", name=number).click()
    page.get_by_role("textbox", name="回复用户").fill("您好，请问是哪天发起的提现？")
    page.get_by_role("button", name="发送给用户").click()
    expect(page.get_by_role("status")).to_have_text("回复已发送，用户的聊天窗口几秒内就会显示这条消息。")
    navigations.clear()
    server.assistant.handle(conversation, text="前天下午发起的，金额500元")
    transcript = page.get_by_test_id("transcript")
    expect(transcript.locator(".turn-user .text").last).to_have_text("前天下午发起的，金额500元")
    expect(page.get_by_test_id("wrote-again")).to_be_visible()

    page.get_by_role("link", name="返回队列").click()
    expect(page.locator(f"tr[data-ticket='{number}'] [data-testid='wrote-again']")).to_be_visible()
    navigations.clear()
    page.wait_for_timeout(2500)  # two more polls change nothing and reload nothing
    assert navigations == []
    assert problems == []


def test_priority_is_changed_on_the_ticket_page(
    server: LiveServer, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    _, agent_context = contexts
    page = agent_context.new_page()
    _, number = new_ticket(server.assistant, "余额显示不对")
    sign_in(page, server.url, f"/console/tickets/{number}")
    expect(page.get_by_test_id("ticket-priority")).not_to_have_text("优先级：紧急")
    page.get_by_label("优先级", exact=True).select_option("urgent")
    page.get_by_role("button", name="修改优先级").click()
    expect(page.get_by_role("status")).to_contain_text("优先级已更新")
    expect(page.get_by_test_id("ticket-priority")).to_have_text("优先级：紧急")
    expect(page.get_by_test_id("audit").locator("tr[data-kind='priority']")).to_contain_text("优先级: 紧急")


def test_the_queue_sorts_by_time_left_and_is_a_card_list_on_a_phone(server: LiveServer, browser: Browser) -> None:
    for text in ("我充值失败了", "付款失败了"):
        new_ticket(server.assistant, text)
    desk = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    sign_in(page, server.url)
    header = page.get_by_role("columnheader", name="剩余时间")
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    values = [
        int(v)
        for v in page.locator("td[data-label='剩余时间']").evaluate_all("cells => cells.map(c => c.dataset.value)")
    ]
    assert len(values) >= 2 and values == sorted(values)
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    values = [
        int(v)
        for v in page.locator("td[data-label='剩余时间']").evaluate_all("cells => cells.map(c => c.dataset.value)")
    ]
    assert values == sorted(values, reverse=True)
    desk.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    sign_in(page, server.url)
    wait_for_console_script(page)
    # Nothing overflows once the page has settled (on a loaded machine the first layout may come
    # before the styles and the deferred script have been applied).
    page.wait_for_function("document.documentElement.scrollWidth <= 390", timeout=15000)
    card = page.locator("tr[data-ticket]").first
    box = card.bounding_box()
    assert box is not None and box["width"] > 330  # one card across the screen
    summary = card.locator("td.summary").bounding_box()
    assert summary is not None and summary["width"] > 300  # the summary reads as lines, not a column
    assert page.locator("table.queue thead").is_hidden()
    phone.close()


def wait_for_console_script(page: Page) -> None:
    """console.js is deferred: on a loaded machine a key pressed before it ran finds no handler."""
    expect(page.locator("html[data-console-ready]")).to_have_count(1)


def test_keyboard_shortcuts_and_their_overlay(
    server: LiveServer, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    _, agent_context = contexts
    page = agent_context.new_page()
    problems = watch(page)
    for text in ("我充值失败了", "付款失败了"):
        new_ticket(server.assistant, text)
    sign_in(page, server.url, "/console?assignee=none&status=open")

    wait_for_console_script(page)
    overlay = page.get_by_role("dialog", name="键盘快捷键")
    page.keyboard.press("?")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("把选中的（或当前）工单指派给我")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    rows = page.locator("table.queue tbody tr[data-ticket]")
    assert rows.count() >= 2
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    number = rows.nth(0).get_attribute("data-ticket")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ticket-number")).to_have_text(str(number))

    wait_for_console_script(page)
    page.keyboard.press("r")
    expect(page.get_by_role("textbox", name="回复用户")).to_be_focused()
    page.keyboard.type("a")  # typed into the box, not a shortcut
    expect(page.get_by_role("textbox", name="回复用户")).to_have_value("a")
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page.get_by_test_id("assignee")).to_have_text(AGENT)
    expect(page.get_by_role("status")).to_have_text("处理人已更新。")
    assert problems == []
