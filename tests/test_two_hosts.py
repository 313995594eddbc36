"""Two `walletbot serve` processes on different ports sharing one PostgreSQL database (and Redis
when configured), as two hosts behind a load balancer:

- the per-conversation limit (30 a minute) holds across them: of 45 messages of one conversation
  sent alternately to each, exactly 30 are answered and 15 get 429;
- the messages of one conversation are applied one at a time and in order: two clients send to
  the same conversation at once, each through its own host, each waiting for its answers; the
  stored transcript has every user turn followed by its own reply, each client's messages in the
  order it sent them, and no sequence number twice.

The shared store is the database, and Redis too when WALLETBOT_TEST_REDIS_URL is set. Without
WALLETBOT_TEST_POSTGRES_URL the variants do not exist (SQLite is a single-host database).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import POSTGRES_URL_ENV, _empty_database_url
from test_serve import Served, _env, _free_port

REDIS_URL_ENV = "WALLETBOT_TEST_REDIS_URL"
STORES = (
    (["database"] + (["redis"] if os.environ.get(REDIS_URL_ENV) else [])) if os.environ.get(POSTGRES_URL_ENV) else []
)
PER_SIDE = 8  # messages each client sends in the order test


@pytest.fixture(scope="module", params=STORES)
def two_hosts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, trained_models_dir: Path
) -> Iterator[tuple[str, str]]:
    """Two one-worker servers on one fresh PostgreSQL schema; yields their base URLs."""
    extra = {"WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP": "1000"}
    if request.param == "redis":
        extra["WALLETBOT_STORAGE_REDIS_URL"] = os.environ[REDIS_URL_ENV]
    with _empty_database_url("postgresql", tmp_path_factory.mktemp("hosts")) as url:
        hosts = [Served(["--workers", "1", "--port", str(_free_port())], _env(url, trained_models_dir, **extra))]
        hosts.append(Served(["--workers", "1", "--port", str(_free_port())], _env(url, trained_models_dir, **extra)))
        try:
            with ThreadPoolExecutor(2) as pool:  # both start at once: half the waiting
                first, second = pool.map(lambda served: served.url(), hosts)
            assert first != second
            yield first, second
        finally:
            for served in hosts:
                # One worker is uvicorn's own server, which re-raises the SIGTERM it stopped on
                # once shut down (so a supervisor sees it): -15 is its clean stop.
                assert served.stop() in (0, -signal.SIGTERM), served.output()


def test_the_per_conversation_limit_holds_across_two_hosts(two_hosts: tuple[str, str]) -> None:
    first, second = two_hosts
    with httpx.Client(timeout=30) as one, httpx.Client(timeout=30) as other:
        start = one.post(first + "api/chat", json={"text": "你好"})
        assert start.status_code == 200, start.text
        conversation = {"conversation": start.json()["conversation"], "token": start.json()["token"]}
        statuses = [
            (other if i % 2 == 0 else one)
            .post((second if i % 2 == 0 else first) + "api/chat", json={**conversation, "text": f"还是不行 {i}"})
            .status_code
            for i in range(44)
        ]
    assert statuses.count(200) == 29 and statuses.count(429) == 15, statuses  # 30 of 45 with the first
    assert statuses[-15:] == [429] * 15  # the first 30 pass, whichever host they reach


def test_one_conversation_on_two_hosts_keeps_its_order(two_hosts: tuple[str, str]) -> None:
    first, second = two_hosts
    start = httpx.post(first + "api/chat", json={"text": "你好"}, timeout=30)
    conversation = {"conversation": start.json()["conversation"], "token": start.json()["token"]}
    barrier = threading.Barrier(2)

    def send(base: str, side: str) -> list[int]:
        statuses = []
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            for i in range(PER_SIDE):
                reply = client.post(
                    "api/chat", json={**conversation, "text": f"你好 {side}{i}", "message_id": f"{side}{i}"}
                )
                statuses.append(reply.status_code)
        return statuses

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(send, [first, second], ["A", "B"]))
    assert results == [[200] * PER_SIDE] * 2, results

    history = httpx.get(
        f"{second}api/conversations/{conversation['conversation']}", params={"token": conversation["token"]}, timeout=30
    ).json()["messages"]
    seqs = [turn["seq"] for turn in history]
    assert seqs == sorted(set(seqs)), seqs  # each sequence number once, in order
    users = [turn["text"] for turn in history if turn["role"] == "user"][1:]  # after the first 你好
    for side in "AB":
        assert [text for text in users if side in text] == [f"你好 {side}{i}" for i in range(PER_SIDE)], users
    # One message at a time: a user turn is always followed by the bot's reply to it, never by
    # the other host's user turn (both clients wrote all the time).
    roles = [turn["role"] for turn in history]
    assert all(roles[i + 1] != "user" for i, role in enumerate(roles[:-1]) if role == "user"), roles
    assert roles.count("user") == 2 * PER_SIDE + 1
