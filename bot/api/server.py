"""Run the app on uvicorn and announce the demo page's URL once the socket is listening.

`walletbot serve` calls `serve(settings)`; tests call `start_in_thread` to get a live server on
a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Callable

import uvicorn

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


def build_server(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    assistant: "Assistant | None" = None,
    log_level: str = "info",
    announce: Callable[[str], None] = _print_url,
) -> _AnnouncingServer:
    config = uvicorn.Config(
        create_app(settings, assistant),
        host=host or settings.http.host,
        port=settings.http.port if port is None else port,
        log_level=log_level,
        proxy_headers=True,  # trusts X-Forwarded-For only from forwarded_allow_ips (localhost)
        server_header=False,
    )
    return _AnnouncingServer(config, announce)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, log_level: str = "info") -> None:
    """Serve until interrupted; prints the demo page's URL when ready (port 0 picks a free one)."""
    build_server(settings, host=host, port=port, log_level=log_level).run()


class ServerThread:
    """A live server in a background thread, for tests and scripts::

        with ServerThread(settings) as url:
            httpx.get(url + "healthz")
    """

    def __init__(self, settings: Settings, assistant: "Assistant | None" = None, timeout: float = 60.0) -> None:
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
