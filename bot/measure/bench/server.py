"""A `walletbot serve` subprocess on loopback: started on the run's own data, model and database
with rate limits that never trigger, waited for until ready, stopped as uvicorn expects.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.measure import MeasureError
from bot.measure.bench.processes import TreeSampler, process_tree

HOST = "127.0.0.1"
# Folders of a run's temporary workspace.
DATA_COPY = "data"
MODELS = "models"
# Rate limits high enough never to trigger: the benchmark sends everything from one address.
UNLIMITED = "100000000"


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


def walletbot_command(config_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(config_path), *args]


def bench_env(workdir: Path, database: Path | str, models_dir: Path | None = None) -> dict[str, str]:
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
    env = bench_env(workdir, database_url or workdir / f"{name}.db")
    command = walletbot_command(config_path, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers))
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return ServerProcess(workers, port, process, log_path, started)
