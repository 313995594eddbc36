"""Run the app on uvicorn and announce the demo page's URL once it is ready to serve.

`walletbot serve` calls `run_workers`; tests use `ServerThread` to get a live server on a free
port. Whatever the number of workers, the URL is printed only when every worker has loaded the
model and opened the database, and the exit status says whether serving ever started: 3 when a
worker could not start (a supervisor must not take that for a clean stop).

The ``Server`` header is off, and ``X-Forwarded-For`` is read only from the addresses in
``http.trusted_proxies`` (none by default: the client's address is the peer's).
"""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from bot.api.app import create_app
from bot.config import Settings

if TYPE_CHECKING:
    from bot.engine import Assistant


def _display_host(host: str) -> str:
    # 0.0.0.0 / :: listen everywhere; a browser on this machine reaches them on localhost.
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, announce: Callable[[str], None]) -> None:
        super().__init__(config)
        self._announce = announce
        self.url: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.url = f"http://{_display_host(str(host))}:{port}/"
            self._announce(self.url)


def _print_url(url: str) -> None:
    print(f"Walletbot is running. Open the demo page: {url}", flush=True)


def uvicorn_options(settings: Settings, log_level: str = "warning") -> dict[str, Any]:
    """What every way of serving passes to uvicorn: headers, proxies, the product's log lines."""
    trusted = settings.http.trusted_proxies
    log_config = copy.deepcopy(LOGGING_CONFIG)
    # The product's own warnings and errors (one line per 5xx, with its request id) go where
    # uvicorn's go, in every worker.
    log_config["loggers"]["walletbot"] = {"handlers": ["default"], "level": log_level.upper(), "propagate": False}
    return {
        # asyncio's loop, not uvloop even when installed: the chat runs on the event loop (one
        # worker on SQLite, bot.api.routes), and under uvloop, at 64 connections, a few of them
        # waited 3-6 s for an answer while the others were served (p99 4.6-4.9 s; with asyncio
        # 0.25-0.34 s at the same throughput). The HTTP parser is httptools (a dependency) or h11.
        "loop": "asyncio",
        "server_header": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else None,
        "log_level": log_level,
        "log_config": log_config,
    }


def build_server(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    assistant: Assistant | None = None,
    log_level: str = "info",
    announce: Callable[[str], None] = _print_url,
) -> _AnnouncingServer:
    config = uvicorn.Config(
        create_app(settings, assistant),
        host=host or settings.http.host,
        port=settings.http.port if port is None else port,
        **uvicorn_options(settings, log_level),
    )
    return _AnnouncingServer(config, announce)


class _AnnouncingSupervisor(Multiprocess):
    """uvicorn's worker supervisor, which announces the URL once every worker is ready and
    remembers whether one failed to start (uvicorn then stops, but with status 0)."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], url: str, announce: Callable[[str], None]
    ) -> None:
        super().__init__(config, sockets)
        self._url = url
        self._announce = announce
        self.announced = False
        self.startup_failed = False

    def keep_subprocess_alive(self) -> None:
        if not self.should_exit.is_set():
            # Before every worker is ready, any exit is a failure to start (a broken app factory
            # exits 1, which uvicorn would restart forever).
            died = any(p.exitcode is not None for p in self.processes) and not self.announced
            if died or any(p.exitcode == STARTUP_FAILURE for p in self.processes):
                self.startup_failed = True
                self.should_exit.set()
                return
        super().keep_subprocess_alive()
        if not self.announced and not self.should_exit.is_set() and all(p.is_ready(timeout=1) for p in self.processes):
            self.announced = True
            self._announce(self._url)


def run_workers(
    settings: Settings,
    *,
    app: str,
    host: str,
    port: int,
    workers: int,
    announce: Callable[[str], None] = _print_url,
) -> int:
    """Serve the app factory `app` ("module:function") with `workers` processes until stopped.

    Returns the exit status: 0 after a normal stop, 3 when a worker could not start.
    """
    options = uvicorn_options(settings)
    if workers == 1:
        config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
        server = _AnnouncingServer(config, announce)
        server.run()
        return 0 if server.url is not None else STARTUP_FAILURE
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
    sock = tcp_listener(host, port)
    url = f"http://{_display_host(host)}:{sock.getsockname()[1]}/"
    supervisor = _AnnouncingSupervisor(config, [sock], url, announce)
    supervisor.run()
    return STARTUP_FAILURE if supervisor.startup_failed else 0


def tcp_listener(host: str, port: int) -> socket.socket:
    """The shared socket for several workers, created with IPPROTO_TCP.

    uvicorn's own bind_socket() passes protocol 0, and asyncio only enables TCP_NODELAY on
    connections accepted from a socket whose proto is IPPROTO_TCP: without it Nagle's algorithm
    adds ~40 ms to every keep-alive response when running several workers.

    Raises:
        OSError: the address cannot be listened on (in use, not ours).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """A live server in a background thread, for tests and scripts::

    with ServerThread(settings) as url:
        httpx.get(url + "healthz")
    """

    def __init__(self, settings: Settings, assistant: Assistant | None = None, timeout: float = 60.0) -> None:
        self.server = build_server(
            settings, host="127.0.0.1", port=0, assistant=assistant, log_level="warning", announce=lambda _u: None
        )
        self.timeout = timeout
        self._thread = threading.Thread(target=self.server.run, name="walletbot-server", daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while self.server.url is None:
            if not self._thread.is_alive():
                raise RuntimeError("The server thread stopped during start-up: see the log above.")
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError(f"The server did not start listening within {self.timeout} s.")
            time.sleep(0.05)
        return self.server.url

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
