"""The chat bubble in a real browser: Debian's Chromium, headless, driven by Playwright.

One uvicorn server (real engine, trained model, temporary SQLite database) serves the module and
one browser the session; each test gets a fresh browser context, so its localStorage starts empty.
Playwright's CSS and role locators see through the widget's open shadow root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import launch_chromium
from engine_fixtures import make_settings
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Dialog, Locator, Page, expect, sync_playwright

from bot.api.server import ServerThread
from bot.store import append_turn, change_status, get_conversation
from bot.store.console_queries import get_ticket_locked

PHONE = {"width": 390, "height": 844}
XSS = "<img src=x onerror=alert(1)>"

expect.set_options(timeout=15_000)


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("browser") / "walletbot.db"
    settings = make_settings(
        f"sqlite:///{db}",
        trained_models_dir,
        WALLETBOT_UI_POLL_SECONDS="1",  # agent replies show up quickly
        WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP="100000",
    )
    thread = ServerThread(settings)
    with thread as url:
        yield LiveServer(url, thread.server.config.app)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any JavaScript error or dialog."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    assert problems == []


# ---------------------------------------------------------------------------- helpers


def open_bubble(page: Page, url: str, brand: str = "kdou", name: str = "K豆钱包") -> Locator:
    page.goto(f"{url}?brand={brand}")
    page.get_by_role("button", name=f"打开{name}在线客服").click()
    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    expect(box).to_be_focused()
    return box


def say(page: Page, text: str) -> None:
    """Type a message, send it with Enter and wait for the bot's answer."""
    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    before = page.locator(".wb-msg-bot").count()
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".wb-msg-user").last).to_have_text(re.compile(re.escape(text)))
    wait_for_reply(page, before)


def wait_for_reply(page: Page, bot_messages_before: int) -> None:
    expect(page.locator(".wb-msg-bot")).not_to_have_count(bot_messages_before)
    expect(page.locator(".wb-typing")).to_be_hidden()


def reply(page: Page, title: str) -> Locator:
    """The quick reply titled `title` that can still be clicked (only the latest are)."""
    return page.locator(".wb-reply:not([disabled])", has_text=re.compile(f"^{re.escape(title)}$"))


def click_reply(page: Page, title: str) -> None:
    before = page.locator(".wb-msg-bot").count()
    reply(page, title).click()
    wait_for_reply(page, before)


def stored(page: Page, brand: str) -> dict[str, str]:
    return page.evaluate("brand => JSON.parse(localStorage.getItem('walletbot.v1.' + brand))", brand)


def no_horizontal_overflow(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    panel = page.locator(".wb-panel")
    if panel.is_visible():
        box = panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        log = page.locator(".wb-log")
        assert log.evaluate("el => el.scrollWidth <= el.clientWidth")


# ---------------------------------------------------------------------------- tests


def test_quick_replies_lead_to_a_ticket_that_survives_a_reload(page: Page, server: LiveServer) -> None:
    open_bubble(page, server.url)
    expect(page.locator(".wb-title")).to_have_text("K豆钱包在线客服")
    say(page, "我充值失败了")

    click_reply(page, "还是不行")
    click_reply(page, "还是不行")
    expect(page.locator(".wb-reply.wb-chosen")).to_have_count(2)
    click_reply(page, "转人工")
    banner = page.locator(".wb-ticket")
    expect(banner).to_be_visible()  # the ticket opens at once; the details it lacks are asked next
    for _ in range(4):
        skip = reply(page, "跳过")
        if not skip.count():
            break
        click_reply(page, "跳过")

    number = page.locator(".wb-ticket-number").inner_text()
    assert re.fullmatch(r"WB-\d+", number)
    expect(page.locator(".wb-msg-bot").last).to_contain_text(number)
    # Used quick replies stay on screen, disabled.
    assert page.locator(".wb-reply[disabled]").count() >= 4
    assert stored(page, "kdou")["ticket"] == number

    page.reload()

    expect(page.locator(".wb-panel")).to_be_visible()  # the open panel stays open
    log = page.locator(".wb-log")
    expect(log).to_contain_text("我充值失败了")
    expect(page.locator(".wb-msg-user", has_text="还是不行")).to_have_count(2)  # payloads shown by title
    expect(page.locator(".wb-reply.wb-chosen", has_text="还是不行")).to_have_count(2)
    expect(page.locator(".wb-ticket-number")).to_have_text(number)
    expect(log).to_contain_text(f"已为您创建工单 {number}")


def test_html_in_a_message_is_shown_as_text_and_never_runs(page: Page, server: LiveServer) -> None:
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog))
    open_bubble(page, server.url, "generic", "数字钱包")

    say(page, XSS)
    say(page, "**粗体** [点我](javascript:alert(2)) <script>alert(3)</script>")
    page.wait_for_timeout(300)  # time for an injected onerror handler to fire, if there were one

    users = page.locator(".wb-msg-user .wb-bubble")
    expect(users.first).to_have_text(XSS)
    expect(users.nth(1)).to_have_text("**粗体** [点我](javascript:alert(2)) <script>alert(3)</script>")
    widget = page.locator("[data-walletbot]")
    counts = widget.evaluate(
        "host => ['img', 'script', 'a'].map(t => host.shadowRoot.querySelectorAll('.wb-log ' + t).length)"
    )
    assert counts == [0, 0, 0]

    page.reload()  # the history path renders the same text safely
    expect(page.locator(".wb-msg-user .wb-bubble").first).to_have_text(XSS)
    page.wait_for_timeout(300)
    assert widget.evaluate("host => host.shadowRoot.querySelectorAll('img, .wb-log script').length") == 0
    assert dialogs == []


def test_phone_viewport_has_no_horizontal_overflow(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}?brand=kdou")
    page.get_by_role("button", name="打开K豆钱包在线客服").wait_for()
    no_horizontal_overflow(page)

    open_bubble(page, server.url)
    say(page, "我充值失败了")
    click_reply(page, "还是不行")
    no_horizontal_overflow(page)
    shot = page.screenshot()  # the README's screenshots come from scripts/screenshots.py
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"

    say(page, "https://example.com/" + "a" * 300)  # one long unbreakable word
    no_horizontal_overflow(page)


def test_keyboard_only_use_and_accessible_names(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_role("link", name="Upay钱包").click()
    launcher = page.get_by_role("button", name="打开Upay钱包在线客服")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    for _ in range(12):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
    page.keyboard.press("Enter")

    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    expect(box).to_be_focused()
    expect(page.get_by_role("dialog", name="Upay钱包在线客服")).to_be_visible()
    expect(page.get_by_role("log", name="对话记录")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="转人工")).to_be_visible()
    expect(page.get_by_role("button", name="关闭客服窗口")).to_be_visible()
    header_colour = page.locator(".wb-header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header_colour == "rgb(16, 185, 129)"  # Upay's brand colour from config.yml

    page.keyboard.type("第一行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第二行")
    expect(box).to_have_value("第一行\n第二行")
    assert page.locator(".wb-msg-user").count() == 0
    page.keyboard.press("Enter")
    expect(page.locator(".wb-msg-user .wb-bubble")).to_have_text("第一行\n第二行")
    expect(page.locator(".wb-msg-bot").first).to_be_visible()
    expect(box).to_have_value("")

    page.keyboard.press("Escape")
    expect(page.locator(".wb-panel")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert launcher.evaluate("el => el.getRootNode().activeElement === el")


def test_the_human_button_escalates_and_agent_replies_appear(page: Page, server: LiveServer) -> None:
    open_bubble(page, server.url)
    say(page, "提现一直没到账")
    before = page.locator(".wb-msg-bot").count()
    page.get_by_role("button", name="转人工", exact=True).first.click()
    wait_for_reply(page, before)
    expect(page.locator(".wb-ticket-number")).to_have_text(re.compile(r"WB-\d+"))
    conversation = stored(page, "kdou")["conversation"]

    assistant = server.app.state.assistant
    with assistant.db.session() as s:
        conv = get_conversation(s, conversation, lock=True)
        append_turn(
            s,
            conv,
            role="agent",
            text="您好，我是人工客服小王。\n详情见 https://example.com/help 或 javascript:alert(1)",
        )

    agent = page.locator(".wb-msg-agent")
    expect(agent).to_have_count(1)  # fetched by the open bubble's polling
    expect(agent.locator(".wb-author")).to_have_text("人工客服：")
    expect(agent.locator(".wb-bubble")).to_have_text(
        "您好，我是人工客服小王。\n详情见 https://example.com/help 或 javascript:alert(1)"
    )
    links = agent.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/help")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    page.wait_for_timeout(1500)  # more polls do not repeat anything
    expect(agent).to_have_count(1)
    assert page.locator(".wb-msg-user").count() == 2


def test_a_conversation_the_server_no_longer_knows_is_replaced(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.evaluate(
        "localStorage.setItem('walletbot.v1.generic', JSON.stringify("
        "{conversation: '0'.repeat(32), token: 'stale', ticket: 'WB-999999', open: false}))"
    )
    page.reload()
    page.get_by_role("button", name="打开数字钱包在线客服").click()

    expect(page.locator(".wb-notice", has_text="之前的会话已失效")).to_be_visible()
    expect(page.locator(".wb-ticket")).to_be_hidden()
    say(page, "我充值失败了")
    assert stored(page, "generic")["conversation"] != "0" * 32


def test_a_failed_send_keeps_the_text_and_says_why(page: Page, server: LiveServer) -> None:
    box = open_bubble(page, server.url)
    page.route("**/api/chat", lambda route: route.abort())

    box.fill("我充值失败了")
    box.press("Enter")

    expect(page.get_by_role("alert")).to_have_text("暂时连接不上客服系统，这条消息还没有发出。请稍后点“重试”。")
    expect(box).to_have_value("我充值失败了")
    expect(page.locator(".wb-msg-user")).to_have_count(0)

    page.unroute("**/api/chat")
    box.press("Enter")
    expect(page.locator(".wb-msg-user")).to_have_count(1)
    expect(page.get_by_role("alert")).to_be_hidden()


def test_a_message_resent_after_a_lost_reply_is_applied_once(page: Page, server: LiveServer) -> None:
    """The server applies a message, the connection breaks before the reply: the user sends it
    again and the bot answers once, from the stored reply (the same message_id)."""
    box = open_bubble(page, server.url)
    say(page, "我充值失败了")
    sent: list[dict] = []

    def lose_the_first_reply(route) -> None:
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server applies it …
            route.abort()  # … and the reply never arrives
        else:
            route.continue_()

    page.route("**/api/chat", lose_the_first_reply)
    box.fill("还是不行")
    box.press("Enter")
    expect(page.locator(".wb-error")).to_be_visible()
    expect(box).to_have_value("还是不行")  # the text is back in the input
    before = page.locator(".wb-msg-bot").count()
    box.press("Enter")
    wait_for_reply(page, before)
    assert len(sent) == 2 and sent[0]["message_id"] == sent[1]["message_id"]
    saved = stored(page, "kdou")
    response = page.request.get(
        f"{server.url.rstrip('/')}/api/conversations/{saved['conversation']}",
        headers={"X-Conversation-Token": saved["token"]},
    )
    assert response.ok, response.text()
    history = response.json()["messages"]
    assert [m["text"] for m in history if m["role"] == "user"].count("还是不行") == 1


# ---------------------------------------------------------------------------- daily use


DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desktop page that fails the test on any JavaScript error."""
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield page
    ctx.close()
    assert problems == []


def gap_below_last_message(page: Page) -> float:
    """How far (px) the log's last message is below the visible area; 0 when it is in view."""
    return page.locator(".wb-log").evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight")


def escalate(page: Page) -> str:
    """A withdrawal problem handed to a human with the header's button; returns the ticket."""
    say(page, "提现一直没到账")
    before = page.locator(".wb-msg-bot").count()
    page.get_by_role("button", name="转人工", exact=True).first.click()
    wait_for_reply(page, before)
    number = page.locator(".wb-ticket-number")
    expect(number).to_have_text(re.compile(r"WB-\d+"))
    return number.inner_text()


def agent_says(server: LiveServer, conversation: str, text: str) -> None:
    with server.app.state.assistant.db.session() as s:
        append_turn(s, get_conversation(s, conversation, lock=True), role="agent", text=text)


def test_the_last_message_stays_in_view_when_banner_typing_or_error_appear(desk: Page, server: LiveServer) -> None:
    page = desk
    open_bubble(page, server.url, brand="upay", name="Upay钱包")  # Upay's top-up checklist is the longest
    say(page, "我充值失败了")
    for _ in range(3):
        click_reply(page, "还是不行")
    assert page.locator(".wb-log").evaluate("el => el.scrollHeight > el.clientHeight")  # it scrolls

    # The ticket banner appears above the log in the same turn as the detail questions.
    click_reply(page, "转人工")
    expect(page.locator(".wb-ticket")).to_be_visible()
    assert gap_below_last_message(page) <= 1
    expect(page.locator(".wb-msg-bot").last).to_be_in_viewport()

    # The typing line, while the server holds the answer.
    held: list = []
    page.route("**/api/chat", lambda route: held.append(route))
    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    box.fill("昨天下午三点")
    box.press("Enter")
    expect(page.locator(".wb-typing")).to_be_visible()
    assert gap_below_last_message(page) <= 1
    page.wait_for_timeout(200)
    held[0].abort()  # and then an error
    expect(page.locator(".wb-error")).to_be_visible()
    assert gap_below_last_message(page) <= 1
    page.unroute("**/api/chat")


def test_an_agent_reply_while_the_panel_is_closed_shows_an_unread_count(desk: Page, server: LiveServer) -> None:
    page = desk
    open_bubble(page, server.url)
    escalate(page)
    conversation = stored(page, "kdou")["conversation"]
    title = page.title()
    page.get_by_role("button", name="关闭客服窗口").click()
    launcher = page.locator(".wb-launcher")
    expect(page.locator(".wb-badge")).to_be_hidden()

    agent_says(server, conversation, "您好，我是人工客服小王。")
    agent_says(server, conversation, "请问提现是哪天发起的？")

    expect(page.locator(".wb-badge")).to_have_text("2")
    expect(page).to_have_title(f"(2) {title}")
    expect(launcher).to_have_attribute("aria-label", "打开K豆钱包在线客服 · 2 条新消息")

    launcher.click()
    expect(page.locator(".wb-badge")).to_be_hidden()
    expect(page).to_have_title(title)
    expect(page.locator(".wb-msg-agent")).to_have_count(2)
    assert gap_below_last_message(page) <= 1


def test_a_closed_panel_after_a_reload_still_counts_agent_replies(desk: Page, server: LiveServer) -> None:
    page = desk
    open_bubble(page, server.url)
    escalate(page)
    conversation = stored(page, "kdou")["conversation"]
    page.get_by_role("button", name="关闭客服窗口").click()
    page.reload()
    page.wait_for_timeout(1500)  # the closed bubble has fetched the history once
    agent_says(server, conversation, "您好，我是人工客服小王。")
    expect(page.locator(".wb-badge")).to_have_text("1")
    page.locator(".wb-launcher").click()
    expect(page.locator(".wb-msg-agent")).to_have_count(1)
    expect(page.locator(".wb-msg-user").first).to_have_text(re.compile("提现一直没到账"))


def test_unreachable_server_offers_a_retry_that_sends_the_same_message(page: Page, server: LiveServer) -> None:
    box = open_bubble(page, server.url)
    say(page, "我充值失败了")
    sent: list[dict] = []
    page.route("**/api/chat", lambda route: (sent.append(route.request.post_data_json), route.abort()))

    box.fill("还是不行")
    box.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("暂时连接不上客服系统，这条消息还没有发出。请稍后点“重试”。")
    assert "检查网络" not in alert.inner_text()  # the user's network is not blamed
    expect(reply(page, "还是不行")).to_be_enabled()  # the choices work again
    retry = page.get_by_role("button", name="重试")
    retry.click()  # still down
    expect(page.locator(".wb-msg-user")).to_have_count(1)
    expect(alert).to_be_visible()

    page.unroute("**/api/chat")
    page.route("**/api/chat", lambda route: (sent.append(route.request.post_data_json), route.continue_()))
    before = page.locator(".wb-msg-bot").count()
    retry.click()
    wait_for_reply(page, before)
    expect(page.locator(".wb-error")).to_be_hidden()
    expect(page.locator(".wb-msg-user .wb-bubble")).to_have_text(["我充值失败了", "还是不行"])
    expect(box).to_have_value("")
    assert len(sent) == 3 and len({m["message_id"] for m in sent}) == 1 and sent[0]["text"] == "还是不行"


def test_a_failed_button_press_can_be_retried(page: Page, server: LiveServer) -> None:
    open_bubble(page, server.url)
    say(page, "我充值失败了")
    page.route(
        "**/api/chat", lambda route: route.fulfill(status=503, json={"error": {"code": "not_ready", "message": "x"}})
    )
    reply(page, "还是不行").click()
    expect(page.get_by_role("alert")).to_contain_text("请稍后点“重试”")
    expect(reply(page, "还是不行")).to_be_enabled()
    page.unroute("**/api/chat")
    before = page.locator(".wb-msg-bot").count()
    page.get_by_role("button", name="重试").click()
    wait_for_reply(page, before)
    expect(page.locator(".wb-reply.wb-chosen")).to_have_text("还是不行")


def test_the_bubble_says_when_an_agent_resolves_the_ticket(page: Page, server: LiveServer) -> None:
    open_bubble(page, server.url)
    number = escalate(page)
    expect(page.locator(".wb-ticket-text")).to_have_text("已为您创建工单，人工客服会尽快处理。请记下工单号：")

    db = server.app.state.assistant.db
    with db.session() as s:
        ticket = get_ticket_locked(s, number)
        change_status(s, ticket, "in_progress", actor="xiaowang")
    page.wait_for_timeout(1500)
    expect(page.locator(".wb-status-line")).to_have_count(0)  # work starting is no news
    with db.session() as s:
        change_status(s, get_ticket_locked(s, number), "resolved", actor="xiaowang")

    line = page.locator(".wb-status-line")
    expect(line).to_have_text(f"工单 {number} 已标记为已解决。如果问题还在，可以直接在这里告诉我。")
    expect(page.locator(".wb-ticket-text")).to_have_text("工单已处理完毕：")
    assert gap_below_last_message(page) <= 1
    page.reload()
    expect(page.locator(".wb-ticket-text")).to_have_text("工单已处理完毕：")
    page.wait_for_timeout(1500)
    expect(line).to_have_count(0)  # said once, not again on every load

    with db.session() as s:
        change_status(s, get_ticket_locked(s, number), "closed", actor="xiaowang")
    expect(line).to_have_text(f"工单 {number} 已关闭。如果还有问题，可以直接在这里告诉我。")


def test_messages_have_local_times_and_the_input_grows(page: Page, server: LiveServer) -> None:
    box = open_bubble(page, server.url)
    say(page, "我充值失败了")
    times = page.locator(".wb-msg .wb-time")
    expect(times.first).to_have_text(re.compile(r"^\d\d:\d\d$"))
    shown = times.all_inner_texts()
    assert 1 <= len(shown) <= 2  # one per author and minute, not one per message
    now = page.evaluate("() => { const d = new Date(); return [d.getHours(), d.getMinutes()]; }")
    hours, minutes = (int(x) for x in shown[-1].split(":"))
    assert abs((now[0] * 60 + now[1]) - (hours * 60 + minutes)) <= 1  # the browser's local time

    one_line = box.evaluate("el => el.offsetHeight")
    box.fill("第一行\n第二行\n第三行")
    three_lines = box.evaluate("el => el.offsetHeight")
    assert three_lines > one_line + 30
    assert box.evaluate("el => el.scrollHeight <= el.clientHeight")  # all three lines in view
    box.press("Enter")
    expect(box).to_have_value("")
    assert box.evaluate("el => el.offsetHeight") == one_line

    page.reload()  # times of stored messages come from the server, shown in local time
    expect(page.locator(".wb-msg .wb-time").first).to_have_text(re.compile(r"^\d\d:\d\d$"))


def test_the_user_sees_what_they_typed_in_this_tab_while_the_server_keeps_it_masked(
    page: Page, context: BrowserContext, server: LiveServer
) -> None:
    open_bubble(page, server.url)
    say(page, "我的手机是13912345678，充值失败了")
    page.reload()
    own = page.locator(".wb-msg-user .wb-bubble").first
    expect(own).to_have_text("我的手机是13912345678，充值失败了")

    saved = stored(page, "kdou")
    response = page.request.get(
        f"{server.url.rstrip('/')}/api/conversations/{saved['conversation']}",
        headers={"X-Conversation-Token": saved["token"]},
    )
    user_texts = [m["text"] for m in response.json()["messages"] if m["role"] == "user"]
    assert user_texts == ["我的手机是139****5678，充值失败了"]

    other_tab = context.new_page()  # a new tab has its own session storage
    other_tab.goto(f"{server.url}?brand=kdou")
    expect(other_tab.locator(".wb-msg-user .wb-bubble").first).to_have_text("我的手机是139****5678，充值失败了")
    other_tab.close()


def test_api_docs_load_without_any_outside_host(desk: Page, server: LiveServer) -> None:
    page = desk
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(server.url.rstrip("/")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{server.url}?brand=kdou")
    page.get_by_role("link", name="/docs").click()
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Walletbot")
    expect(page.get_by_text("/api/chat").first).to_be_visible()
    assert outside == []
