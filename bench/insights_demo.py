"""A demo store for the insights: conversations driven through the real Assistant, spread over
the last week, then the insights page in Chromium, photographed for the docs::

    .venv/bin/python bench/insights_demo.py                        # docs/insights.png + the figures (JSON)
    .venv/bin/python bench/insights_demo.py --conversations 120 --screenshot /tmp/x.png

Needs a trained model (`walletbot train`) and Chromium (scripts/setup.sh dev).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import uvicorn
from sqlalchemy import select, update

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "tests")]

from engine_fixtures import Chat  # noqa: E402

from bot.api import create_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.console.auth import SECRET_ENV  # noqa: E402
from bot.engine import Assistant  # noqa: E402
from bot.store import Conversation, Ticket, TicketEvent, TicketStatus, change_status, create_user  # noqa: E402
from bot.store.insights import InsightQuery, compute_insights  # noqa: E402

LEAD, PASSWORD = "lead", "lead-password-1"


def _walk(chat: Chat, title: str, times: int) -> None:
    for _ in range(times):
        if title not in [b["title"] for b in chat.buttons()]:
            return
        chat.press_title(title)


def _one(assistant: Assistant, rng: random.Random, brand: str) -> None:
    """One conversation of a kind drawn with the weights of a plausible week."""
    chat = Chat(assistant, brand=brand)
    kind = rng.choices(
        ["solved_first", "solved_later", "left", "handoff", "stolen", "missed", "faq_up", "faq_down"],
        [22, 14, 14, 10, 4, 8, 18, 10],
    )[0]
    if kind in ("solved_first", "solved_later", "left", "handoff"):
        chat.say(rng.choice(["充值失败了", "充值一直不成功", "钱充不进去"]))
        if kind == "solved_first":
            chat.press_title("成功了")
            chat.press("/helpful")
        elif kind == "solved_later":
            _walk(chat, "还是不行", rng.randrange(1, 4))
            if "成功了" in [b["title"] for b in chat.buttons()]:
                chat.press_title("成功了")
        elif kind == "left":
            _walk(chat, "还是不行", rng.randrange(0, 4))
        else:
            _walk(chat, "还是不行", rng.randrange(0, 3))
            chat.press("/human")
    elif kind == "stolen":
        chat.say("我的账号被盗了")
        chat.press_title("登不上")
    elif kind == "missed":
        chat.say("asdkjh qwe")
        chat.say("zxcv bnm")
        chat.press("/human")
    else:
        chat.say(rng.choice(["怎么向客服描述问题更有效？", "怎么开启双重验证", "客服电话是多少"]))
        if "有帮助" in [b["title"] for b in chat.buttons()]:
            chat.press("/helpful" if kind == "faq_up" else "/not_helpful")


def _spread_over_the_week(assistant: Assistant, rng: random.Random) -> None:
    """Move each conversation (and its ticket and events) to a random earlier moment of the week."""
    with assistant.db.session() as s:
        conv, tick = Conversation.__table__, Ticket.__table__
        for cid, created, updated in s.execute(select(conv.c.id, conv.c.created_at, conv.c.updated_at)).all():
            back = timedelta(days=rng.randrange(0, 7), hours=rng.randrange(0, 12))
            s.execute(
                update(conv)
                .where(conv.c.id == cid)
                .values(created_at=created - back, updated_at=updated - back - timedelta(hours=1))
            )
            for tid, t_created, due in s.execute(
                select(tick.c.id, tick.c.created_at, tick.c.due_at).where(tick.c.conversation_id == cid)
            ).all():
                s.execute(update(tick).where(tick.c.id == tid).values(created_at=t_created - back, due_at=due - back))


def _agents_work(assistant: Assistant, rng: random.Random) -> None:
    """An agent takes most tickets within minutes to hours, and resolves some."""
    with assistant.db.session() as s:
        for ticket in list(s.scalars(select(Ticket))):
            if rng.random() < 0.7:
                taken = change_status(s, ticket, TicketStatus.IN_PROGRESS, actor=LEAD)
                events = [(taken, rng.randrange(2, 180))]
                if rng.random() < 0.6:
                    events.append(
                        (change_status(s, ticket, TicketStatus.RESOLVED, actor=LEAD), rng.randrange(200, 1500))
                    )
                s.flush()
                for event, minutes in events:
                    s.execute(
                        update(TicketEvent.__table__)
                        .where(TicketEvent.__table__.c.id == event.id)
                        .values(created_at=ticket.created_at + timedelta(minutes=minutes))
                    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=90)
    parser.add_argument("--screenshot", type=Path, default=PROJECT / "docs" / "insights.png")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            PROJECT / "config.yml", environ=dict(os.environ, WALLETBOT_STORAGE_DATABASE_URL=f"sqlite:///{tmp}/demo.db")
        )
        assistant = Assistant.from_settings(settings)
        with assistant.db.session() as s:
            create_user(s, LEAD, "admin", PASSWORD)
        for i in range(args.conversations):
            _one(assistant, rng, ("generic", "kdou", "upay")[i % 3])
        _spread_over_the_week(assistant, rng)
        _agents_work(assistant, rng)
        with assistant.db.session(readonly=True) as s:
            print(json.dumps(compute_insights(s, InsightQuery.last(timedelta(days=7))), ensure_ascii=False, indent=1))
        _photograph(assistant, settings, args.screenshot)
        assistant.close()
    print(f"wrote {args.screenshot}", file=sys.stderr)
    return 0


def _photograph(assistant: Assistant, settings, path: Path) -> None:
    from browser import launch_chromium
    from playwright.sync_api import sync_playwright

    app = create_app(settings, assistant, console_environ={SECRET_ENV: "demo-secret-0123456789abcdef"})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            page = chromium.new_page(viewport={"width": 1360, "height": 900}, locale="zh-CN")
            page.goto(f"{url}/console/insights")
            page.get_by_label("用户名").fill(LEAD)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_selector("canvas[data-chart='days'][data-drawn='true']")
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
            chromium.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
