"""How fast the assistant answers: training, cold start, in-process latency and HTTP load.

    report = run_bench(settings, config_path, BenchOptions.for_mode(quick=False))
    print(format_bench_report(report))

Everything runs in a throw-away folder (a fresh model, fresh SQLite databases), so a benchmark
never touches the project's models/ or database. The servers are real `walletbot serve`
subprocesses on loopback, sent multi-turn conversations (an opening, then typed answers to the
checklist, one conversation at a time per connection). The load generator is `wrk` (a C program,
Debian package `wrk`) with the script chat.lua when it is installed, else asyncio + httpx in this
process, which costs several times more CPU per message. Either way it shares the machine's
cores with the server, so each level reports the server's CPU per message, read from the server
processes' own counters (read with psutil), the figure that does not depend on what else runs.

The report is a plain dict whose keys are documented in docs/performance.md and pinned by
tests/test_measure.py; `schema` changes when a key changes meaning.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.measure import MeasureError, text_table

if TYPE_CHECKING:
    from bot.content import Content

BENCH_SCHEMA = "walletbot.bench/2"
HOST = "127.0.0.1"
# A conversation: its opening message (which creates it, as in the bubble), then typed answers.
MESSAGES_PER_CONVERSATION = 6
# Typed answers to checklist steps, per flow (the replies evaluation's file in data/).
STEP_ANSWERS = Path("eval") / "step_answers.tsv"
WRK_SCRIPT = Path(__file__).with_name("chat.lua")
WRK_MARK = "walletbot-wrk "
LOAD_GENERATORS = ("auto", "wrk", "python")
# Folders of a run's temporary workspace.
DATA_COPY = "data"
MODELS = "models"
# Rate limits high enough never to trigger: the benchmark sends everything from one address.
UNLIMITED = "100000000"
PACKAGES = (
    "walletbot",
    "numpy",
    "scipy",
    "scikit-learn",
    "jieba",
    "OpenCC",
    "pypinyin",
    "SQLAlchemy",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "psycopg",
)

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to run. `for_mode(quick=True)` is the ~30 s smoke version: fewer messages, short
    HTTP levels, one worker count, no end-to-end `walletbot train` subprocess.

    `load_generator`: "wrk", "python", or "auto" (wrk when it is on PATH)."""

    quick: bool = False
    messages: int = 3000
    level_seconds: float = 8.0
    warmup_seconds: float = 1.0
    concurrency: tuple[int, ...] = (1, 8, 64)
    workers: tuple[int, ...] = (1, 2)
    cli_training: bool = True
    ready_timeout: float = 90.0
    seed: int = 7
    load_generator: str = "auto"

    @classmethod
    def for_mode(cls, quick: bool, load_generator: str = "auto") -> BenchOptions:
        if load_generator not in LOAD_GENERATORS:
            raise MeasureError(f"Unknown load generator {load_generator!r}: use one of {', '.join(LOAD_GENERATORS)}.")
        if quick:
            return cls(
                quick=True,
                messages=300,
                level_seconds=2.0,
                warmup_seconds=0.3,
                workers=(1,),
                cli_training=False,
                load_generator=load_generator,
            )
        return cls(load_generator=load_generator)

    def generator(self) -> str:
        """The load generator this run uses: "wrk" or "python".

        Raises:
            MeasureError: wrk was asked for and is not installed.
        """
        found = shutil.which("wrk") is not None
        if self.load_generator == "wrk" and not found:
            raise MeasureError(
                "`wrk` is not installed: install the Debian package `wrk` (scripts/setup.sh dev does), or use --load-generator python."
            )
        return "wrk" if found and self.load_generator != "python" else "python"


@dataclass(frozen=True, slots=True)
class Target:
    """One figure the product aims for (docs/performance.md) and the limit it must meet."""

    name: str
    label: str
    limit: float
    unit: str
    higher_is_better: bool = False

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.higher_is_better else value <= self.limit


TARGETS = (
    Target("http_c8_throughput", "chat throughput, concurrency 8 (1 worker)", 600.0, "msg/s", higher_is_better=True),
    Target("http_c1_p50_ms", "chat p50, concurrency 1 (1 worker)", 3.0, "ms"),
    Target("server_cpu_ms_per_message", "server CPU per chat message, concurrency 8 (1 worker)", 1.5, "ms"),
    Target("ready_seconds", "start to ready (1 worker)", 3.0, "s"),
    Target("rss_mb", "peak server RSS (1 worker)", 300.0, "MB"),
    Target("training_seconds", "training (`walletbot train` end to end, else in-process)", 5.0, "s"),
)


# --------------------------------------------------------------------------- messages

_PREFIXES = (
    "",
    "",
    "",
    "",
    "你好，",
    "您好，",
    "请问",
    "请问一下，",
    "客服，",
    "在吗？",
    "急！",
    "那个，",
    "我想问下，",
)
_SUFFIXES = ("", "", "", "", "？", "。", "怎么办", "怎么回事", "，急", "，谢谢", "啊", "！！！", "呢")
# Wordings in the style of questions users send to payment apps' support (credit products as
# much as wallets), written for this benchmark: they exercise the out-of-scope and clarify paths.
_PRODUCTS = ("花呗", "借呗", "余额宝", "零钱", "银行卡", "信用卡", "钱包", "账户", "红包", "基金", "分期")
_PROBLEMS = (
    "还款失败",
    "付不了款",
    "提现一直不到账",
    "被冻结了",
    "额度怎么提高",
    "怎么解绑",
    "扣了两次钱",
    "退款什么时候到账",
    "显示异常",
    "充值不成功",
    "被限制使用了",
    "的密码忘了",
    "为什么用不了",
    "里的钱少了",
    "怎么开通",
    "提示风险",
    "转账转错了",
)
_FRAMES = (
    "我的{p}{q}",
    "{p}{q}怎么办",
    "为什么{p}{q}",
    "请问{p}{q}吗",
    "{p}{q}，怎么处理",
    "昨天{p}{q}",
    "{p}{q}了，急",
)
_TYPOS = (("充值", "冲值"), ("提现", "体现"), ("账户", "帐户"), ("密码", "密马"))
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def bench_messages(content: Content, count: int, seed: int = 7) -> list[str]:
    """`count` distinct user messages: the training examples and FAQ wordings with the variations
    users type (greetings, trailing particles, Traditional characters, full-width digits,
    homophone typos, amounts, two questions in one), plus templated paraphrases outside the
    training data. Deterministic for a seed."""
    import opencc

    rng = random.Random(seed)
    to_traditional = opencc.OpenCC("s2t")
    bases = [text for text, _ in content.training.examples]
    bases += [text.replace("{brand}", "") for entry in content.faq for text in entry.texts()]
    bases += [frame.format(p=p, q=q) for frame in _FRAMES for p in _PRODUCTS for q in _PROBLEMS]
    bases = [b for b in dict.fromkeys(b.strip() for b in bases) if b]
    if not bases:
        raise MeasureError("No training examples or FAQ entries to build benchmark messages from: check data/.")
    rng.shuffle(bases)
    messages: dict[str, None] = dict.fromkeys(bases[: count // 3])
    attempts = 0
    while len(messages) < count and attempts < count * 50:
        attempts += 1
        text = rng.choice(bases)
        roll = rng.random()
        if roll < 0.08:
            text = text + "，" + rng.choice(bases)
        elif roll < 0.16:
            text = f"{text} {rng.choice((50, 100, 200, 388, 1000, 5000))}元"
        text = rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)
        roll = rng.random()
        if roll < 0.10:
            text = to_traditional.convert(text)
        elif roll < 0.15:
            text = text.translate(_FULL_WIDTH)
        elif roll < 0.22:
            wrong, typo = rng.choice(_TYPOS)
            text = text.replace(wrong, typo)
        messages.setdefault(text)
    result = list(messages)
    rng.shuffle(result)
    return result[:count]


def step_answers(data_dir: Path) -> dict[str, list[str]]:
    """Typed answers to checklist steps by flow, from data/eval/step_answers.tsv (empty if absent)."""
    import csv

    path = data_dir / STEP_ANSWERS
    if not path.is_file():
        return {}
    answers: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get("flow") and (row.get("text") or "").strip():
                answers.setdefault(row["flow"], []).append(row["text"].strip())
    return answers


def bench_conversations(content: Content, data_dir: Path, count: int, seed: int = 7) -> list[list[str]]:
    """`count` conversations of MESSAGES_PER_CONVERSATION messages: an opening (a problem of a
    flow, in the variations of `bench_messages`) and typed answers to that flow's checklist
    steps (data/eval/step_answers.tsv), as a user working through a problem sends them. Every
    third conversation opens with any benchmark message instead (an FAQ question, small talk,
    something out of scope). Deterministic for a seed."""
    rng = random.Random(seed)
    answers = step_answers(data_dir)
    openings = bench_messages(content, count, seed)
    by_intent: dict[str, list[str]] = {}
    for text, intent in content.training.examples:
        if intent in answers:
            by_intent.setdefault(intent, []).append(text)
    flows = sorted(by_intent)
    every_answer = [text for texts in answers.values() for text in texts] or openings
    conversations = []
    for number, opening in enumerate(openings):
        if flows and number % 3:
            flow = rng.choice(flows)
            opening, replies = rng.choice(by_intent[flow]), answers[flow]
        else:
            replies = every_answer
        conversations.append([opening, *(rng.choice(replies) for _ in range(MESSAGES_PER_CONVERSATION - 1))])
    return conversations


# --------------------------------------------------------------------------- statistics


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99, mean and max in milliseconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    import numpy as np

    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "max_ms": round(float(ms.max()), 3),
    }


# --------------------------------------------------------------------------- processes (psutil)


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    import psutil

    try:
        return [root, *(child.pid for child in psutil.Process(root).children(recursive=True))]
    except psutil.NoSuchProcess:
        return [root]


def _each(pids: Sequence[int], read: Callable[[Any], float]) -> float:
    """`read(process)` summed over the processes that still exist."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            total += read(psutil.Process(pid))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return total


def tree_rss_mb(pids: Sequence[int]) -> float:
    return _each(pids, lambda process: process.memory_info().rss) / (1024 * 1024)


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of the processes (their own, not their reaped children's)."""

    def own(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    return _each(pids, own)


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process tree every `interval` seconds; `peak_mb` is the highest.

    Finding the tree means looking at every process of the machine, so it is done only every
    `rescan` seconds (workers appear during start-up and then stay); RSS is read every sample.
    """

    def __init__(self, root: int, interval: float = 0.1, rescan: float = 1.0) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.rescan = rescan
        self.peak_mb = 0.0
        self.processes = 1
        self._pids = [root]
        self._scanned = 0.0
        self._halt = threading.Event()

    def sample(self, *, rescan: bool = True) -> float:
        now = time.monotonic()
        if rescan or now - self._scanned >= self.rescan:
            self._pids = process_tree(self.root)
            self._scanned = now
        rss = tree_rss_mb(self._pids)
        self.peak_mb = max(self.peak_mb, rss)
        self.processes = max(self.processes, len(self._pids))
        return rss

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample(rescan=False)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


# --------------------------------------------------------------------------- server subprocess


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class ServerProcess:
    """A `walletbot serve` subprocess in its own process group."""

    workers: int
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float
    sampler: TreeSampler = field(init=False)

    def __post_init__(self) -> None:
        self.sampler = TreeSampler(self.process.pid)
        self.sampler.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def wait_ready(self, timeout: float) -> float:
        """Seconds from spawning the process to the first 200 from /readyz.

        Raises:
            MeasureError: the process exited, or was not ready within `timeout`.
        """
        import httpx

        deadline = self.started + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise MeasureError(
                        f"`walletbot serve --workers {self.workers}` exited with code {code} before it was ready; "
                        f"its output ends with:\n{self.log_tail()}"
                    )
                try:
                    if client.get(self.url + "/readyz").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise MeasureError(
                        f"`walletbot serve --workers {self.workers}` was not ready within {timeout:.0f} s; "
                        f"its output ends with:\n{self.log_tail()}"
                    )
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGINT to the group (uvicorn's graceful stop), then SIGTERM, then SIGKILL."""
        self.sampler.stop()
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def _cli(config_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(config_path), *args]


def _bench_env(workdir: Path, database: Path | str, models_dir: Path | None = None) -> dict[str, str]:
    """The environment of a server or `walletbot train` subprocess: the run's copy of data/, its
    model folder, its own database (a SQLite file, or a URL), and rate limits that never trigger."""
    env = dict(os.environ)
    env.pop("WALLETBOT_DATABASE_URL", None)
    env.update(
        {
            "WALLETBOT_PATHS_DATA": str(workdir / DATA_COPY),
            "WALLETBOT_PATHS_MODELS": str(models_dir or workdir / MODELS),
            "WALLETBOT_STORAGE_DATABASE_URL": database if isinstance(database, str) else f"sqlite:///{database}",
            "WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_IP": UNLIMITED,
            "WALLETBOT_HTTP_RATE_LIMIT_PER_MINUTE_CONVERSATION": UNLIMITED,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_server(
    config_path: Path, workers: int, workdir: Path, database_url: str | None = None, name: str | None = None
) -> ServerProcess:
    """`walletbot serve --workers N` on a free loopback port, on the run's data, model and a
    fresh SQLite file `serve-w<N>.db` in `workdir` (or `database_url`); its output goes to
    `<name>.log` (default `serve-w<N>`)."""
    port = _free_port()
    name = name or f"serve-w{workers}"
    log_path = workdir / f"{name}.log"
    env = _bench_env(workdir, database_url or workdir / f"{name}.db")
    command = _cli(config_path, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers))
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return ServerProcess(workers, port, process, log_path, started)


# --------------------------------------------------------------------------- HTTP load


def write_conversations(conversations: Sequence[Sequence[str]], path: Path) -> Path:
    """The conversations as chat.lua reads them: one per line, JSON strings separated by tabs."""
    import json

    path.write_text(
        "".join(
            "\t".join(json.dumps(text, ensure_ascii=False) for text in conversation) + "\n"
            for conversation in conversations
        ),
        encoding="utf-8",
    )
    return path


def _child_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, concurrency: int, seconds: float, conversations_file: Path) -> dict[str, Any]:
    """One wrk run of chat.lua: one thread per connection, so each connection is one user.

    Returns the counts and latencies chat.lua's done() reports, plus the CPU wrk used.

    Raises:
        MeasureError: wrk failed or printed no summary.
    """
    import json

    command = [
        "wrk",
        "-t",
        str(concurrency),
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(conversations_file),
        str(concurrency),
    ]
    before = _child_cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    cpu = _child_cpu_seconds() - before
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if done.returncode != 0 or line is None:
        raise MeasureError(
            f"`{' '.join(command)}` failed with code {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}"
        )
    return {**json.loads(line[len(WRK_MARK) :]), "cpu_seconds": cpu}


def _wrk_level(
    url: str, concurrency: int, seconds: float, warmup: float, conversations_file: Path, pids: Sequence[int]
) -> dict[str, Any]:
    if warmup > 0:
        run_wrk(url, concurrency, warmup, conversations_file)
    server_cpu = tree_cpu_seconds(pids)
    result = run_wrk(url, concurrency, seconds, conversations_file)
    server_cpu = tree_cpu_seconds(pids) - server_cpu
    errors = {kind: result[kind] for kind in ("connect", "read", "write", "status", "timeout") if result[kind]}
    elapsed = result["duration_us"] / 1e6
    # wrk counts a non-2xx answer both as a request and as a "status" error.
    answered = result["requests"] - result["status"]
    ms = {
        key.replace("_us", "_ms"): round(result[key] / 1000, 3)
        for key in ("p50_us", "p95_us", "p99_us", "mean_us", "max_us")
    }
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": answered,
        "errors": errors,
        "throughput": round(answered / elapsed, 1) if elapsed else 0.0,
        **ms,
        "server_cpu_ms_per_message": round(server_cpu * 1000 / answered, 3) if answered else None,
        "client_cpu_ms_per_message": round(result["cpu_seconds"] * 1000 / answered, 3) if answered else None,
    }


def check_order(database_url: str) -> dict[str, int]:
    """Whether every conversation's messages were stored in the order they were sent, after a
    load run: turn numbers 1..n without gap, each user message followed by the bot's reply, and
    the load generators' message ids (`<client>-<count>`) increasing. Returns the counts of
    conversations, turns, user messages and conversations that break one of these rules."""
    from sqlalchemy import select

    from bot.store import Database, Turn

    db = Database(database_url)
    try:
        with db.session(readonly=True) as s:
            rows = s.execute(
                select(Turn.conversation_id, Turn.seq, Turn.role, Turn.meta).order_by(Turn.conversation_id, Turn.seq)
            ).all()
    finally:
        db.dispose()
    by_conversation: dict[str, list[Any]] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    broken = 0
    for turns in by_conversation.values():
        roles = [str(t.role) for t in turns]
        counts = [
            int(str((t.meta or {}).get("message_id", "-0")).rsplit("-", 1)[-1]) for t in turns if str(t.role) == "user"
        ]
        if (
            [t.seq for t in turns] != list(range(1, len(turns) + 1))
            or any(a == "user" and b == "user" for a, b in zip(roles, roles[1:]))
            or roles[-1] == "user"
            or counts != sorted(set(counts))
        ):
            broken += 1
    messages = sum(1 for row in rows if str(row.role) == "user")
    return {"conversations": len(by_conversation), "turns": len(rows), "messages": messages, "out_of_order": broken}


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


async def _python_level(
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
        "server_cpu_ms_per_message": round(server_cpu * 1000 / done, 3) if done else None,
        "client_cpu_ms_per_message": round(client_cpu * 1000 / done, 3) if done else None,
    }


def load_level(
    generator: str,
    url: str,
    concurrency: int,
    options: BenchOptions,
    conversations: Sequence[Sequence[str]],
    conversations_file: Path,
    pids: Sequence[int],
) -> dict[str, Any]:
    """One concurrency level against `url` with the chosen load generator; `pids` are the
    server processes whose CPU is counted."""
    if generator == "wrk":
        return _wrk_level(url, concurrency, options.level_seconds, options.warmup_seconds, conversations_file, pids)
    return asyncio.run(
        _python_level(url, concurrency, options.level_seconds, options.warmup_seconds, conversations, pids)
    )


def bench_server(
    config_path: Path,
    workers: int,
    workdir: Path,
    conversations: Sequence[Sequence[str]],
    options: BenchOptions,
    progress: Progress,
) -> dict[str, Any]:
    """Cold start, then each concurrency level, against one `walletbot serve --workers N`."""
    generator = options.generator()
    conversations_file = write_conversations(conversations, workdir / "conversations.txt")
    progress(f"starting walletbot serve --workers {workers}")
    server = start_server(config_path, workers, workdir)
    try:
        ready = server.wait_ready(options.ready_timeout)
        pids = server.pids()
        ready_cpu = tree_cpu_seconds(pids)
        rss_ready = server.sampler.sample()
        levels = []
        for concurrency in options.concurrency:
            progress(
                f"HTTP load ({generator}), {workers} worker(s), concurrency {concurrency}, {options.level_seconds:g} s"
            )
            levels.append(
                load_level(generator, server.url, concurrency, options, conversations, conversations_file, pids)
            )
            if server.process.poll() is not None:
                raise MeasureError(
                    f"The server exited during the load test; its output ends with:\n{server.log_tail()}"
                )
        server.sampler.sample()
        return {
            "workers": workers,
            "ready_seconds": round(ready, 3),
            # CPU the server's processes used until ready (all processes together).
            "ready_cpu_seconds": round(ready_cpu, 2),
            "rss_ready_mb": round(rss_ready, 1),
            "peak_rss_mb": round(server.sampler.peak_mb, 1),
            "processes": server.sampler.processes,
            "levels": levels,
        }
    finally:
        server.stop()


# --------------------------------------------------------------------------- scale-out on PostgreSQL

# (name, workers of each `walletbot serve` process): what a second worker and a second host add.
SCALE_OUT_LAYOUTS = (
    ("1 process, 1 worker", (1,)),
    ("1 process, 2 workers", (2,)),
    ("2 processes, 1 worker each", (1, 1)),
)
SCALE_OUT_CONCURRENCY = 8


@contextmanager
def postgres_schema(database_url: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database, dropped afterwards; yields a URL whose
    connections use it (so a benchmark never touches the tables already there)."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    base = make_url(database_url)
    if base.get_backend_name() != "postgresql":
        raise MeasureError(
            f"The scale-out runs need a PostgreSQL URL (postgresql+psycopg://user@host/db), not {base.render_as_string()!r}."
        )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _wrk_together(
    urls: Sequence[str], concurrency: int, seconds: float, conversations_file: Path
) -> list[dict[str, Any]]:
    """wrk against each url at once, the connections shared out between them (a load balancer's
    view of several hosts)."""
    from concurrent.futures import ThreadPoolExecutor

    shares = [concurrency // len(urls) + (1 if i < concurrency % len(urls) else 0) for i in range(len(urls))]
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda pair: run_wrk(pair[0], pair[1], seconds, conversations_file), zip(urls, shares)))


def bench_layout(
    config_path: Path,
    database_url: str,
    processes: Sequence[int],
    workdir: Path,
    conversations_file: Path,
    options: BenchOptions,
) -> dict[str, Any]:
    """`walletbot serve` processes (each with its number of workers) on one PostgreSQL schema,
    under wrk at SCALE_OUT_CONCURRENCY connections shared between them; then the order check."""
    with postgres_schema(database_url) as url:
        servers = [
            start_server(config_path, workers, workdir, database_url=url, name=f"pg-{len(processes)}p-{i}-w{workers}")
            for i, workers in enumerate(processes)
        ]
        try:
            for server in servers:
                server.wait_ready(options.ready_timeout)
            urls = [server.url for server in servers]
            pids = [pid for server in servers for pid in server.pids()]
            if options.warmup_seconds > 0:
                _wrk_together(urls, SCALE_OUT_CONCURRENCY, options.warmup_seconds, conversations_file)
            server_cpu, client_cpu = tree_cpu_seconds(pids), _child_cpu_seconds()
            runs = _wrk_together(urls, SCALE_OUT_CONCURRENCY, options.level_seconds, conversations_file)
            server_cpu, client_cpu = tree_cpu_seconds(pids) - server_cpu, _child_cpu_seconds() - client_cpu
            for server in servers:
                if server.process.poll() is not None:
                    raise MeasureError(
                        f"A server exited during the load test; its output ends with:\n{server.log_tail()}"
                    )
        finally:
            for server in servers:
                server.stop()
        order = check_order(url)
    answered = sum(r["requests"] - r["status"] for r in runs)
    elapsed = max(r["duration_us"] for r in runs) / 1e6
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update({kind: r[kind] for kind in ("connect", "read", "write", "status", "timeout") if r[kind]})
    return {
        "processes": len(processes),
        "workers": sum(processes),
        "requests": answered,
        "errors": dict(errors),
        "throughput": round(answered / elapsed, 1) if elapsed else 0.0,
        # The slowest process's percentiles: what the worst-served users saw.
        "p50_ms": round(max(r["p50_us"] for r in runs) / 1000, 3),
        "p99_ms": round(max(r["p99_us"] for r in runs) / 1000, 3),
        "server_cpu_ms_per_message": round(server_cpu * 1000 / answered, 3) if answered else None,
        "client_cpu_ms_per_message": round(client_cpu * 1000 / answered, 3) if answered else None,
        "order": order,
    }


def bench_scale_out(
    config_path: Path,
    database_url: str,
    workdir: Path,
    conversations: Sequence[Sequence[str]],
    options: BenchOptions,
    progress: Progress,
) -> dict[str, Any]:
    """Each of SCALE_OUT_LAYOUTS on PostgreSQL under the same wrk load.

    Raises:
        MeasureError: wrk is not installed, the URL is not PostgreSQL, or a server failed.
    """
    from sqlalchemy import make_url

    if shutil.which("wrk") is None:
        raise MeasureError("The scale-out runs need `wrk` (Debian package `wrk`): it loads several servers at once.")
    conversations_file = write_conversations(conversations, workdir / "conversations.txt")
    layouts = []
    for name, processes in SCALE_OUT_LAYOUTS:
        progress(f"PostgreSQL: {name}, wrk concurrency {SCALE_OUT_CONCURRENCY}, {options.level_seconds:g} s")
        layouts.append(
            {"layout": name, **bench_layout(config_path, database_url, processes, workdir, conversations_file, options)}
        )
    one = layouts[0]["throughput"]
    for layout in layouts:
        layout["speedup"] = round(layout["throughput"] / one, 2) if one else None
    return {
        "database": make_url(database_url).render_as_string(hide_password=True),
        "concurrency": SCALE_OUT_CONCURRENCY,
        "seconds": options.level_seconds,
        "layouts": layouts,
    }


# --------------------------------------------------------------------------- in-process


def bench_in_process(
    settings: Settings, messages: Sequence[str], warmup: Sequence[str], progress: Progress
) -> dict[str, Any]:
    """Each message through `Assistant.handle` (guard, NLU, policy, FAQ, database) in
    conversations of MESSAGES_PER_CONVERSATION, then the NLU and the FAQ search alone; each
    stage on freshly loaded objects so no cache is pre-warmed by an earlier stage (jieba's and
    pypinyin's process-wide caches excepted)."""
    from bot.engine import Assistant, build_runtime
    from bot.nlu.normalize import normalize
    from bot.nlu.pipeline import NLU

    progress(f"in-process: Assistant.handle × {len(messages)}")
    assistant = Assistant.from_settings(settings)
    try:
        conversation = ""
        for number, text in enumerate(warmup):
            if number % MESSAGES_PER_CONVERSATION == 0:
                conversation, _token = assistant.start_conversation(channel="bench")
            assistant.handle(conversation, text=text)
        handle: list[float] = []
        handle_cpu: list[float] = []
        conversations = 0
        for number, text in enumerate(messages):
            if number % MESSAGES_PER_CONVERSATION == 0:
                conversation, _token = assistant.start_conversation(channel="bench")
                conversations += 1
            begin, begin_cpu = time.perf_counter(), time.thread_time()
            assistant.handle(conversation, text=text)
            handle.append(time.perf_counter() - begin)
            handle_cpu.append(time.thread_time() - begin_cpu)
    finally:
        assistant.close()

    progress(f"in-process: NLU parse × {len(messages)}")
    nlu = NLU.load(settings.models_dir)
    for text in warmup:
        nlu.parse(text)
    parse = []
    for text in messages:
        begin = time.perf_counter()
        nlu.parse(text)
        parse.append(time.perf_counter() - begin)

    progress(f"in-process: FAQ search × {len(messages)}")
    faq = build_runtime(settings, NLU.load(settings.models_dir)).faq
    for text in warmup:
        faq.search(normalize(text))
    search = []
    for text in messages:
        begin = time.perf_counter()
        faq.search(normalize(text))
        search.append(time.perf_counter() - begin)

    return {
        "messages": len(messages),
        "conversations": conversations,
        "handle": latency_summary(handle),
        # CPU time of the same calls: what the turn costs whatever else the machine is doing.
        "handle_cpu": latency_summary(handle_cpu),
        "nlu_parse": latency_summary(parse),
        "faq_search": latency_summary(search),
    }


# --------------------------------------------------------------------------- training


def bench_training(
    settings: Settings, config_path: Path, workdir: Path, options: BenchOptions, progress: Progress
) -> dict[str, Any]:
    """Train in this process (imports already paid), then optionally `walletbot train` as a
    fresh process, which is what a user waits for."""
    from bot.training import train

    progress("training in-process")
    begin = time.perf_counter()
    report = train(settings)
    seconds = time.perf_counter() - begin
    cli_seconds = None
    if options.cli_training:
        progress("training: walletbot train (new process)")
        env = _bench_env(workdir, workdir / "train.db", models_dir=workdir / "models-cli")
        begin = time.perf_counter()
        done = subprocess.run(
            _cli(config_path, "train"), env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        cli_seconds = time.perf_counter() - begin
        if done.returncode != 0:
            raise MeasureError(
                f"`walletbot train` failed with code {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}"
            )
    return {
        "examples": report.examples,
        "intents": report.intents,
        "features": report.features,
        "fit_seconds": round(report.seconds, 2),
        "seconds": round(seconds, 2),
        "cli_seconds": None if cli_seconds is None else round(cli_seconds, 2),
    }


# --------------------------------------------------------------------------- the whole run


def machine_info() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _total_memory_mb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
        # Other work on the machine when the run started: a loaded machine gives slower figures.
        "load_average": load,
        "cpu_pressure_avg60": _cpu_pressure(),
    }


def code_version(folder: Path) -> dict[str, Any]:
    """The git commit of the project and whether files differ from it (read-only git calls);
    nulls outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "modified": None if status is None else bool(status)}


def _cpu_pressure() -> float | None:
    """Share of the last minute (%) in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(dict(item.split("=") for item in first.split()[1:])["avg60"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _total_memory_mb() -> int:
    import psutil

    return int(psutil.virtual_memory().total) // (1024 * 1024)


def _targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    servers = {s["workers"]: s for s in report["servers"]}
    one = servers.get(1) or (report["servers"][0] if report["servers"] else None)

    def level(server: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
        return next((lv for lv in server["levels"] if lv["concurrency"] == concurrency), None) if server else None

    c1, c8 = level(one, 1), level(one, 8)
    training = report["training"]
    measured = {
        "http_c8_throughput": c8["throughput"] if c8 else None,
        "http_c1_p50_ms": c1["p50_ms"] if c1 else None,
        "server_cpu_ms_per_message": c8["server_cpu_ms_per_message"] if c8 else None,
        "ready_seconds": one["ready_seconds"] if one else None,
        "rss_mb": one["peak_rss_mb"] if one else None,
        "training_seconds": training["cli_seconds"] if training["cli_seconds"] is not None else training["seconds"],
    }
    return [
        {
            "name": t.name,
            "label": t.label,
            "target": t.limit,
            "unit": t.unit,
            "higher_is_better": t.higher_is_better,
            "measured": measured[t.name],
            "met": t.met(measured[t.name]),
        }
        for t in TARGETS
    ]


def run_bench(
    settings: Settings,
    config_path: Path,
    options: BenchOptions | None = None,
    progress: Progress = _quiet,
    postgres_url: str | None = None,
) -> dict[str, Any]:
    """Run every measurement and return the report (keys: schema, date, quick, code, machine, options,
    training, in_process, servers, scale_out, targets, seconds).

    `postgres_url`: also run the scale-out layouts on this PostgreSQL database (`scale_out`,
    else null).

    `config_path` is the config file the servers are started with (with the model folder, the
    database and the rate limits overridden by environment variables).

    Raises:
        MeasureError: training, the server or the load generator failed.
    """
    from bot.content import errors_of, load_content
    from bot.errors import ContentError

    options = options or BenchOptions()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "schema": BENCH_SCHEMA,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "code": code_version(settings.root),
        "machine": machine_info(),
        "options": {
            "messages": options.messages,
            "level_seconds": options.level_seconds,
            "warmup_seconds": options.warmup_seconds,
            "concurrency": list(options.concurrency),
            "workers": list(options.workers),
            "messages_per_conversation": MESSAGES_PER_CONVERSATION,
            "load_generator": options.generator(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="walletbot-bench-") as tmp:
        workdir = Path(tmp)
        # A copy of data/: content edited while the benchmark runs cannot make its model stale.
        shutil.copytree(settings.data_dir, workdir / DATA_COPY)
        local = settings.model_copy(
            update={
                "paths": settings.paths.model_copy(update={"data": workdir / DATA_COPY, "models": workdir / MODELS}),
                "storage": settings.storage.model_copy(
                    update={"database_url": f"sqlite:///{workdir / 'in-process.db'}"}
                ),
            }
        )
        content = load_content(local)
        if errors_of(content.problems):
            raise ContentError(content.problems)
        warm = 20  # conversations of the in-process warm-up
        conversations = bench_conversations(
            content, local.data_dir, options.messages // MESSAGES_PER_CONVERSATION + warm, options.seed
        )
        warmup = [text for conversation in conversations[:warm] for text in conversation]
        messages = [text for conversation in conversations[warm:] for text in conversation]

        report["training"] = bench_training(local, config_path, workdir, options, progress)
        report["in_process"] = bench_in_process(local, messages, warmup, progress)
        report["servers"] = [
            bench_server(config_path, workers, workdir, conversations, options, progress) for workers in options.workers
        ]
        report["scale_out"] = (
            bench_scale_out(config_path, postgres_url, workdir, conversations, options, progress)
            if postgres_url
            else None
        )
    report["targets"] = _targets(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


# --------------------------------------------------------------------------- output


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def format_bench_report(report: dict[str, Any]) -> str:
    machine = report["machine"]
    load = machine.get("load_average")
    code = report["code"]
    commit = f"commit {code['commit']}{' (modified)' if code['modified'] else ''}, " if code["commit"] else ""
    lines = [
        f"walletbot bench{' --quick' if report['quick'] else ''}: {report['date']}, {commit}{machine['cpus']} CPU(s) {machine.get('cpu_model') or ''}, "
        f"Python {machine['python']}, load average at start {load[0] if load else 'n/a'}, "
        f"CPU pressure {_fmt(machine.get('cpu_pressure_avg60'))}% ({report['seconds']:.0f} s)",
        "",
        "Targets (re-check on an idle machine: other work slows every figure but the CPU per message)",
        text_table(
            ["figure", "target", "measured", "met"],
            [
                [
                    t["label"],
                    f"{'≥' if t['higher_is_better'] else '≤'} {t['target']:g} {t['unit']}",
                    f"{_fmt(t['measured'], 2)} {t['unit']}",
                    {True: "yes", False: "NO", None: "n/a"}[t["met"]],
                ]
                for t in report["targets"]
            ],
        ),
        "",
    ]
    training = report["training"]
    lines.append(
        f"Training: {training['examples']} examples, {training['intents']} intents, {training['features']} features; "
        f"fit {training['fit_seconds']:.2f} s, in-process {training['seconds']:.2f} s, "
        f"`walletbot train` end to end {_fmt(training['cli_seconds'], 2)} s"
    )
    stages = report["in_process"]
    lines += [
        "",
        f"In-process latency ({stages['messages']} distinct messages, {stages['conversations']} conversations, "
        f"{report['options']['messages_per_conversation']} messages each)",
        text_table(
            ["stage", "p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms"],
            [
                [name, *(_fmt(stages[key][k], 2) for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"))]
                for name, key in (
                    ("Assistant.handle (whole turn)", "handle"),
                    ("  its CPU time", "handle_cpu"),
                    ("NLU parse", "nlu_parse"),
                    ("FAQ search", "faq_search"),
                )
            ],
        ),
        "",
        "Servers (`walletbot serve`, loopback)",
        text_table(
            ["workers", "ready s", "CPU s to ready", "RSS at ready MB", "peak RSS MB", "processes"],
            [
                [
                    s["workers"],
                    _fmt(s["ready_seconds"], 2),
                    _fmt(s["ready_cpu_seconds"], 2),
                    _fmt(s["rss_ready_mb"]),
                    _fmt(s["peak_rss_mb"]),
                    s["processes"],
                ]
                for s in report["servers"]
            ],
        ),
        "",
        f"HTTP POST /api/chat, keep-alive, one conversation of {report['options']['messages_per_conversation']} messages at a time per connection, "
        f"{report['options']['level_seconds']:g} s per level, load generator: {report['options']['load_generator']}",
        text_table(
            [
                "workers",
                "concurrency",
                "requests",
                "errors",
                "msg/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "server CPU ms/msg",
                "client CPU ms/msg",
            ],
            [
                [
                    s["workers"],
                    lv["concurrency"],
                    lv["requests"],
                    sum(lv["errors"].values()),
                    _fmt(lv["throughput"]),
                    _fmt(lv["p50_ms"], 2),
                    _fmt(lv["p95_ms"], 2),
                    _fmt(lv["p99_ms"], 2),
                    _fmt(lv["server_cpu_ms_per_message"], 2),
                    _fmt(lv["client_cpu_ms_per_message"], 2),
                ]
                for s in report["servers"]
                for lv in s["levels"]
            ],
        ),
    ]
    scale = report.get("scale_out")
    if scale:
        lines += [
            "",
            f"Scale-out on PostgreSQL ({scale['database']}), wrk, {scale['concurrency']} connections shared between the processes, "
            f"{scale['seconds']:g} s each; order: conversations whose stored turns break the order they were sent in",
            text_table(
                [
                    "layout",
                    "requests",
                    "errors",
                    "msg/s",
                    "× 1 worker",
                    "p50 ms",
                    "p99 ms",
                    "server CPU ms/msg",
                    "conversations",
                    "out of order",
                ],
                [
                    [
                        lay["layout"],
                        lay["requests"],
                        sum(lay["errors"].values()),
                        _fmt(lay["throughput"]),
                        _fmt(lay["speedup"], 2),
                        _fmt(lay["p50_ms"], 2),
                        _fmt(lay["p99_ms"], 2),
                        _fmt(lay["server_cpu_ms_per_message"], 2),
                        lay["order"]["conversations"],
                        lay["order"]["out_of_order"],
                    ]
                    for lay in scale["layouts"]
                ],
            ),
        ]
    errors: Counter[str] = Counter()
    for s in report["servers"]:
        for lv in s["levels"]:
            errors.update(lv["errors"])
    if errors:
        lines.append("errors: " + ", ".join(f"{k} × {v}" for k, v in errors.most_common()))
    return "\n".join(lines)
