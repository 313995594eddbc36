"""The README's start command, tried as a new user would: run `scripts/start.sh`, read the URL it
prints, open that page in headless Chromium and talk to the bubble.

The install step finds `.venv` up to date (the test command installed it); the model folder and
the SQLite file are redirected to temporary ones so the run leaves the checkout untouched.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import launch_chromium
from playwright.sync_api import expect, sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"open (http://\S+/) for the demo page")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def started(tmp_path: Path, trained_models_dir: Path) -> Iterator[tuple[str, list[str]]]:
    env = {
        **os.environ,
        "WALLETBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'walletbot.db'}",
        "WALLETBOT_PATHS_MODELS": str(trained_models_dir),
    }
    process = subprocess.Popen(
        ["bash", "scripts/start.sh", "--port", str(_free_port())],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the script execs walletbot: stop the whole group afterwards
    )
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"start.sh exited with {process.wait()} before printing a URL:\n" + "".join(printed))
            printed.append(line)
            urls = [m.group(1) for m in map(URL_LINE.search, printed) if m]
            if urls and "/console" in line:  # the console's address is printed after the demo's
                yield urls[0], printed
                return
        pytest.fail("start.sh printed no URL within 120 s:\n" + "".join(printed))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_until_ready(url: str, seconds: float = 60) -> None:
    """The URL is printed just before uvicorn listens and loads the model: wait for /readyz."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url}readyz did not answer 200 within {seconds:.0f} s")


def test_start_command_prints_a_url_whose_page_has_a_working_bubble(started: tuple[str, list[str]]) -> None:
    url, _printed = started
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(locale="zh-CN")
        wait_until_ready(url)
        page.goto(url)
        launcher = page.get_by_role("button", name=re.compile("在线客服")).first
        expect(launcher).to_be_visible(timeout=30_000)
        launcher.click()
        box = page.get_by_role("textbox", name="输入消息，按回车发送")
        box.fill("充值失败了")
        box.press("Enter")
        expect(page.locator(".wb-msg-bot").last).to_contain_text(re.compile("充值|网络"), timeout=30_000)
        browser.close()
