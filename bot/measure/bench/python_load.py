"""HTTP load from this process (asyncio + httpx), used when wrk is not installed: the same
conversations as chat.lua sends, at several times the load generator's CPU per message.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.measure.bench.processes import tree_cpu_seconds
from bot.measure.bench.stats import latency_summary, ms_per_message


@dataclass(slots=True)
class _LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


async def _drive(
    clients: Sequence[Any], seconds: float, conversations: Sequence[Sequence[str]], offset: int
) -> _LoadResult:
    """One virtual user per client, each sending one conversation's messages in turn (as chat.lua
    does) until `seconds` pass."""
    import httpx

    result = _LoadResult()
    concurrency = len(clients)
    started = time.perf_counter()
    deadline = started + seconds

    async def user(number: int, client: httpx.AsyncClient) -> None:
        index = offset + number
        sent = 0
        while time.perf_counter() < deadline:
            conversation: str | None = None
            token = ""
            for text in conversations[index % len(conversations)]:
                if time.perf_counter() >= deadline:
                    break
                sent += 1
                body: dict[str, str] = {"text": text, "message_id": f"p{number}-{sent}"}
                if conversation is not None:
                    body |= {"conversation": conversation, "token": token}
                begin = time.perf_counter()
                try:
                    response = await client.post("/api/chat", json=body)
                except httpx.HTTPError as exc:
                    result.errors[type(exc).__name__] += 1
                    break
                took = time.perf_counter() - begin
                if response.status_code != 200:
                    result.errors[str(response.status_code)] += 1
                    break
                result.latencies.append(took)
                if conversation is None:
                    reply = response.json()
                    conversation, token = reply["conversation"], reply["token"]
            index += concurrency

    await asyncio.gather(*(user(n, client) for n, client in enumerate(clients)))
    result.elapsed = time.perf_counter() - started
    return result


async def python_level(
    url: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    conversations: Sequence[Sequence[str]],
    pids: Sequence[int],
) -> dict[str, Any]:
    """One concurrency level with the Python generator: a warm-up that opens the connections,
    then the measured run."""
    import ssl
    from contextlib import AsyncExitStack

    import httpx

    # One client (one keep-alive connection) per virtual user: a single client's pool costs the
    # load generator several times more CPU per request at 64 connections. The SSL context is
    # shared because building one per client costs ~45 ms of CPU (plain HTTP never uses it).
    context = ssl.create_default_context()
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=url,
                    verify=context,
                    trust_env=False,
                    timeout=httpx.Timeout(30.0),
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
            )
            for _ in range(concurrency)
        ]
        await _drive(clients, warmup, conversations, offset=len(conversations) // 2)
        server_cpu, client_cpu = tree_cpu_seconds(pids), time.thread_time()  # the event loop's thread only
        result = await _drive(clients, seconds, conversations, offset=concurrency * 7)
        server_cpu = tree_cpu_seconds(pids) - server_cpu
        client_cpu = time.thread_time() - client_cpu
    done = len(result.latencies)
    return {
        "concurrency": concurrency,
        "seconds": round(result.elapsed, 2),
        "requests": done,
        "errors": dict(result.errors),
        "throughput": round(done / result.elapsed, 1) if result.elapsed else 0.0,
        **latency_summary(result.latencies),
        # CPU spent per answered message by the server's processes and by this load generator.
        "server_cpu_ms_per_message": ms_per_message(server_cpu, done),
        "client_cpu_ms_per_message": ms_per_message(client_cpu, done),
    }
