"""Regenerate the screenshots in docs/ that the README shows: the chat bubble (desktop and a
390 px phone) and the support console (queue, ticket page, queue on a phone).

    .venv/bin/python scripts/screenshots.py            # writes docs/*.png

It serves the real product (config.yml, data/, the model in models/, trained first if needed) on
a throwaway SQLite database, makes a few tickets through the engine, and drives Debian's
Chromium with Playwright as a user and an agent would. Nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))  # the tests' Chromium launcher, one copy of it

from browser import launch_chromium  # noqa: E402

from bot.api.server import ServerThread  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.console.auth import SECRET_ENV  # noqa: E402
from bot.engine import Assistant  # noqa: E402
from bot.store import create_user, get_ticket  # noqa: E402
from bot.store.console_queries import get_ticket_locked, post_agent_reply  # noqa: E402
from bot.store.models import utcnow  # noqa: E402

DOCS = PROJECT / "docs"
AGENT, PASSWORD = "xiaowang", "screenshots-password-1"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WIDE = {"width": 1360, "height": 900}


def seed(assistant: Assistant) -> None:
    """A few tickets as users leave them: one overdue, one whose user wrote again."""

    def ticket(text: str, brand: str = "generic") -> tuple[str, str]:
        conversation, _ = assistant.start_conversation(brand=brand, channel="web")
        assistant.handle(conversation, text=text)
        return conversation, assistant.handle(conversation, payload="/human")["state"]["ticket"]

    _, late = ticket("提现一直没到账，已经三天了", "kdou")
    ticket("我的账号被盗了，有人改了我的密码", "upay")
    talking, number = ticket("付款失败了，显示交易异常")
    ticket("忘记支付密码怎么办")
    with assistant.db.session() as s:
        overdue = get_ticket(s, late)
        assert overdue is not None
        overdue.created_at = utcnow() - timedelta(hours=27)
        overdue.due_at = utcnow() - timedelta(hours=3)
        post_agent_reply(s, get_ticket_locked(s, number), "您好，我是人工客服小王，请问付款金额是多少？", actor=AGENT)
    assistant.handle(talking, text="98元，在便利店扫码付款的时候")


def bubble(page: Page, url: str) -> None:
    page.goto(f"{url}?brand=kdou")
    page.get_by_role("button", name="打开K豆钱包在线客服").click()
    box = page.get_by_role("textbox", name="输入消息，按回车发送")
    box.fill("我充值失败了")
    box.press("Enter")
    expect(page.locator(".wb-reply:not([disabled])").first).to_be_visible()
    page.locator(".wb-reply:not([disabled])", has_text=re.compile("^还是不行$")).click()
    expect(page.locator(".wb-msg-bot")).to_have_count(3)
    expect(page.locator(".wb-typing")).to_be_hidden()


def console(page: Page, url: str) -> None:
    page.goto(f"{url}/console/login")
    page.get_by_label("用户名").fill(AGENT)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("tr[data-ticket]").first).to_be_visible()


def main() -> None:
    os.environ.setdefault(SECRET_ENV, "screenshots-" + os.urandom(16).hex())
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            PROJECT / "config.yml",
            environ={
                "WALLETBOT_STORAGE_DATABASE_URL": f"sqlite:///{Path(tmp) / 'walletbot.db'}",
                "WALLETBOT_PATHS_MODELS": str(PROJECT / "models"),
            },
        )
        assistant = Assistant.from_settings(settings, auto_train=True, progress=print)
        with assistant.db.session() as s:
            create_user(s, AGENT, "agent", PASSWORD)
        seed(assistant)
        try:
            with ServerThread(settings, assistant) as url, sync_playwright() as playwright:
                url = url.rstrip("/")
                browser = launch_chromium(playwright)
                for name, viewport, scale in (("bubble-mobile", PHONE, 2), ("bubble-desktop", DESKTOP, 1)):
                    context = browser.new_context(viewport=viewport, device_scale_factor=scale, locale="zh-CN")
                    page = context.new_page()
                    bubble(page, url)
                    page.screenshot(path=str(DOCS / f"{name}.png"))
                    context.close()

                context = browser.new_context(viewport=WIDE, locale="zh-CN")
                page = context.new_page()
                console(page, url)
                page.screenshot(path=str(DOCS / "console-queue.png"))
                page.locator("tr.wrote-again a").first.click()
                expect(page.get_by_test_id("transcript")).to_be_visible()
                page.screenshot(path=str(DOCS / "console-ticket.png"), full_page=True)
                context.close()

                context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
                page = context.new_page()
                console(page, url)
                page.screenshot(path=str(DOCS / "console-queue-mobile.png"), full_page=True)
                context.close()
                browser.close()
        finally:
            assistant.close()
    for name in ("bubble-mobile", "bubble-desktop", "console-queue", "console-ticket", "console-queue-mobile"):
        print(f"wrote docs/{name}.png")


if __name__ == "__main__":
    main()
