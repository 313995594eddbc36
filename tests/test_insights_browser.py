"""The console's insights page in Debian's Chromium (Playwright), served by a live uvicorn with
the real engine: the figures of conversations driven through the Assistant, every chart drawn
by the vendored Chart.js, the brand filter, and no script error or CSP violation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from browser import launch_chromium
from engine_fixtures import Chat, make_settings
from playwright.sync_api import Page, expect, sync_playwright

from bot.api import create_app
from bot.console.auth import SECRET_ENV
from bot.engine import Assistant
from bot.store import Database, create_user

AGENT, PASSWORD = "xiaoli", "xiaoli-password-1"
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path, runtime: object) -> Iterator[str]:
    db_path = tmp_path_factory.mktemp("insights-browser") / "walletbot.db"
    settings = make_settings(f"sqlite:///{db_path}", trained_models_dir)
    db = Database(settings.database_url)
    db.migrate()
    assistant = Assistant(settings, runtime, db)  # type: ignore[arg-type]
    with db.session() as s:
        create_user(s, AGENT, "agent", PASSWORD)
    # upay: one solved at the first step, one handed to a human there; kdou: one FAQ voted down.
    solved = Chat(assistant, brand="upay")
    solved.say("充值失败了")
    solved.press_title("成功了")
    handed = Chat(assistant, brand="upay")
    handed.say("充值失败了")
    handed.press("/human")
    faq = Chat(assistant, brand="kdou")
    faq.say("怎么向客服描述问题更有效？")
    faq.press("/not_helpful")

    app = create_app(settings, assistant, console_environ={SECRET_ENV: "insights-test-secret-0123456789"})
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, name="insights-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{uv.servers[0].sockets[0].getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        assistant.close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[tuple[Page, list[str]]]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.goto(f"{server}/console/insights")
        expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Finsights$"))
        page.get_by_label("用户名").fill(AGENT)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(re.compile(r"/console/insights$"))
        yield page, problems
        chromium.close()


def painted(page: Page, selector: str) -> int:
    """How many pixels of the canvas are not transparent: a drawn chart has thousands."""
    return page.eval_on_selector(
        selector,
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }",
    )


def test_the_page_shows_the_figures_and_draws_every_chart(page: tuple[Page, list[str]]) -> None:
    p, problems = page
    expect(p.get_by_role("heading", name="数据洞察", exact=True)).to_be_visible()
    expect(p.get_by_test_id("kpi-conversations")).to_have_text("3")
    expect(p.get_by_test_id("kpi-containment")).to_have_text("33.3%")
    expect(p.get_by_test_id("kpi-escalation")).to_have_text("33.3%")
    canvases = p.locator("canvas[data-chart]")
    expect(canvases).to_have_count(5)  # per day, reasons, outcomes, priorities, the topup funnel
    for i in range(5):
        expect(canvases.nth(i)).to_have_attribute("data-drawn", "true")
    for chart in ("days", "reasons", "outcomes", "priorities"):
        assert painted(p, f"canvas[data-chart='{chart}']") > 500, chart
    assert painted(p, "canvas[data-flow='topup_problem']") > 500
    funnel = p.get_by_test_id("funnel-topup_problem")
    expect(funnel.locator("tbody tr").first).to_contain_text("account_info")
    expect(funnel.locator("tbody tr").first).to_contain_text("成功了 1")
    expect(p.get_by_test_id("faq-table")).to_contain_text("describe_problem_clearly")
    assert problems == []


def test_the_brand_filter(page: tuple[Page, list[str]]) -> None:
    p, problems = page
    p.get_by_label("品牌").select_option("kdou")
    p.get_by_role("button", name="查看").click()
    expect(p).to_have_url(re.compile(r"brand=kdou"))
    expect(p.get_by_test_id("kpi-conversations")).to_have_text("1")
    expect(p.get_by_test_id("kpi-containment")).to_have_text("0.0%")
    expect(p.locator("canvas[data-chart='funnel']")).to_have_count(0)
    assert problems == []


def test_the_json_twin_and_its_refusals(server: str, page: tuple[Page, list[str]]) -> None:
    p, _ = page
    cookies = {c["name"]: c["value"] for c in p.context.cookies()}
    with httpx.Client(base_url=server, cookies=cookies) as client:
        report = client.get("/console/api/insights", params={"brand": "upay"}).json()
        assert report["conversations"]["conversations"] == 2
        assert report["escalation_reasons"]["handoff"] == 1
        bad = client.get("/console/api/insights", params={"start": "2026-13-01"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_period"
        assert (
            client.get("/console/api/insights", params={"brand": "nope"}).json()["error"]["message"]
            == "没有品牌“nope”。"
        )
    assert httpx.get(f"{server}/console/api/insights").status_code == 401
