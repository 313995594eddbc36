"""GET /metrics (Prometheus text format) and the middleware that times every request.

config.yml ``metrics:``: ``enabled: false`` removes the route (404) and the timing; a ``token``
(or WALLETBOT_METRICS_TOKEN) makes it answer only ``Authorization: Bearer <token>``, compared
in constant time. The collectors are in bot/metrics.py.
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.errors import ApiError
from bot.asgi import HttpMiddleware
from bot.metrics import Metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    token = settings.metrics.token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(
                "unauthorized",
                "GET /metrics needs the header 'Authorization: Bearer <metrics token>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    collected: Metrics = request.app.state.metrics
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware(HttpMiddleware):
    """Count and time each HTTP request by method, route template (``/api/conversations/{id}``,
    not the id itself) and status. Plain ASGI: the response is passed through untouched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler is what the server answers

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            route = scope.get("route")  # set by the router on the shared scope once a route matched
            self.metrics.request(scope["method"], getattr(route, "path", None), status, time.perf_counter() - started)
