"""`walletbot serve` as an operator runs it: real processes, real sockets, the test databases.

- with two workers, the per-conversation limit lets exactly 30 of 45 messages through, sign-ins
  lock after 5 failures, a logged-out session is dead on every worker, and a forged
  X-Forwarded-For does not buy a new per-address budget (PostgreSQL when configured, else SQLite);
- an unreachable database: a non-zero exit and no "open http://" line, whatever --workers is;
- `kill -9` between the commit of a message and its reply: the retry with the same message_id
  gets the stored reply and the message is applied once (both databases).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import DATABASE_BACKENDS
from engine_fixtures import make_settings
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.engine import Assistant
from bot.store import Database, create_user, get_conversation

PROJECT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"open (http://\S+/) for the demo page")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CRASH_AFTER_COMMIT = Path(__file__).with_name("crash_after_commit.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, models: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WALLETBOT_CONFIG": str(PROJECT / "config.yml"),
        "WALLETBOT_DATABASE_URL": database_url,
        "WALLETBOT_PATHS_MODELS": str(models),
        "WALLETBOT_CONSOLE_SECRET": "serve-tests-secret-0123456789",
        **extra,
    }


class Served:
    """A `walletbot serve` process: its URL once it printed one, and everything it printed."""

    def __init__(self, args: list[str], env: dict[str, str], *, script: list[str] | None = None) -> None:
        command = script or [sys.executable, "-m", "bot.cli", "serve"]
        self.process = subprocess.Popen(
            [*command, *args],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.printed: list[str] = []

    def url(self, seconds: float = 240) -> str:
        deadline = time.monotonic() + seconds
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                pytest.fail(f"serve exited with {self.process.wait()} before printing a URL:\n" + "".join(self.printed))
            self.printed.append(line)
            if match := URL_LINE.search(line):
                return match.group(1)
        pytest.fail("serve printed no URL in time:\n" + "".join(self.printed))

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=60)

    def output(self) -> str:
        assert self.process.stdout is not None
        return "".join(self.printed) + self.process.stdout.read()


def _sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    form = client.get("/console/login")
    token = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    return client.post("/console/login", data={"name": name, "password": password, "csrf_token": token})


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path) -> Iterator[tuple[str, Served]]:
    """Two workers on the shared test database (PostgreSQL when configured), an admin account."""
    from conftest import _empty_database_url

    with _empty_database_url(DATABASE_BACKENDS[-1], tmp_path_factory.mktemp("serve")) as url:
        with Database(url) as db:
            db.migrate()
            with db.session() as s:
                create_user(s, "ada", "admin", "correct horse battery")
                create_user(s, "bea", "agent", "correct horse battery")
        served = Served(
            ["--workers", "2", "--port", str(_free_port())],
            _env(url, trained_models_dir, WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP="50"),
        )
        try:
            yield served.url(), served
        finally:
            assert served.stop() == 0, served.output()


def test_two_workers_announce_only_when_ready_and_send_no_server_header(two_workers: tuple[str, Served]) -> None:
    url, _served = two_workers
    ready = httpx.get(url + "readyz", timeout=10)  # no waiting: printed means ready
    assert ready.status_code == 200, ready.text
    assert "server" not in ready.headers


def test_two_workers_share_the_limits(two_workers: tuple[str, Served]) -> None:
    url, _served = two_workers
    # Keep-alive off: each request may land on either worker.
    with httpx.Client(base_url=url, timeout=30, headers={"Connection": "close"}) as client:
        first = client.post("/api/chat", json={"text": "你好"}).json()
        conversation = {"conversation": first["conversation"], "token": first["token"]}
        statuses = [client.post("/api/chat", json={**conversation, "text": "还是不行"}).status_code for _ in range(44)]
        assert statuses.count(200) == 29 and statuses.count(429) == 15, statuses  # 30 of 45 with the first
        # 45 of the 50 per-address hits are spent: a made-up X-Forwarded-For buys no new budget.
        forged = [
            client.post("/api/parse", json={"text": "你好"}, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(8)
        ]
        assert forged.count(200) == 5 and forged.count(429) == 3, forged

        attempts = [_sign_in(client, "ada", f"wrong-{i}").status_code for i in range(6)]
        assert attempts == [401] * 5 + [429], attempts


def test_a_logged_out_session_is_refused_by_every_worker(two_workers: tuple[str, Served]) -> None:
    url, _served = two_workers
    with httpx.Client(base_url=url, timeout=30, headers={"Connection": "close"}) as browser:
        assert _sign_in(browser, "bea", "correct horse battery").status_code == 303
        cookie = browser.cookies.get("walletbot_console")
        page = browser.get("/console")
        token = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        assert browser.post("/console/logout", data={"csrf_token": token}).status_code == 303
    with httpx.Client(base_url=url, timeout=30, headers={"Connection": "close"}) as thief:
        thief.cookies.set("walletbot_console", cookie or "", path="/console")
        assert all(thief.get("/console/api/tickets").status_code == 401 for _ in range(6))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unreachable_database_exits_non_zero_without_announcing(
    tmp_path: Path, trained_models_dir: Path, workers: str
) -> None:
    url = "postgresql+psycopg://walletbot:hunter2@127.0.0.1:1/walletbot?connect_timeout=2"
    served = Served(["--workers", workers, "--port", str(_free_port())], _env(url, trained_models_dir))
    status = served.process.wait(timeout=120)
    output = served.output()
    assert status != 0, output
    assert "open http" not in output and "hunter2" not in output
    assert "127.0.0.1:1" in output and len(output.splitlines()) < 10, output  # one clear line, no traceback


@pytest.mark.parametrize("backend", DATABASE_BACKENDS)
def test_kill_9_between_commit_and_reply_then_a_retry_applies_the_message_once(
    tmp_path: Path, trained_models_dir: Path, runtime, backend: str
) -> None:
    from conftest import _empty_database_url

    with _empty_database_url(backend, tmp_path) as url:
        served = Served(
            ["--port", str(_free_port())],
            _env(url, trained_models_dir),
            script=[sys.executable, str(CRASH_AFTER_COMMIT)],
        )
        try:
            base = served.url()
            with httpx.Client(base_url=base, timeout=30) as client:
                start = client.post("/api/chat", json={"text": "我的账户被冻结了"}).json()
                message = {
                    "conversation": start["conversation"],
                    "token": start["token"],
                    "payload": start["messages"][-1]["buttons"][0]["payload"],
                    "message_id": "crash-1",
                }
                with pytest.raises(httpx.TransportError):
                    client.post("/api/chat", json=message)  # the server dies after the commit
            assert served.process.wait(timeout=60) == -signal.SIGKILL
        finally:
            served.stop()

        settings = make_settings(url, trained_models_dir)
        with Database(url) as db:
            with db.session(readonly=True) as s:
                turns_after_crash = get_conversation(s, start["conversation"]).turn_count
            with TestClient(create_app(settings, Assistant(settings, runtime, db))) as client:  # the restarted server
                retry = client.post("/api/chat", json=message)
                assert retry.status_code == 200, retry.text
                again = client.post("/api/chat", json=message)
            with db.session(readonly=True) as s:
                assert get_conversation(s, start["conversation"]).turn_count == turns_after_crash
        assert retry.json()["messages"] and retry.json() == again.json()
