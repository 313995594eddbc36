"""Prometheus metrics of a running server, served at GET /metrics (bot/api/metrics.py).

One ``Metrics`` object per app, with its own registry (no module-level collectors), fed by:

- the HTTP middleware: ``walletbot_http_requests_total`` and
  ``walletbot_http_request_duration_seconds`` by method, route template and status;
- the engine: ``walletbot_messages_total`` by outcome, ``walletbot_nlu_confidence`` (typed
  messages), ``walletbot_tickets_opened_total`` by priority;
- the content reloader: ``walletbot_content_reloads_total`` by result (ok, failed);
- the database engine's error hook: ``walletbot_database_errors_total`` by error class.

Several workers (``walletbot serve --workers N``): prometheus-client's multiprocess mode. The
supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start;
every worker writes its samples there and whichever worker answers /metrics sums them all.
Only counters and histograms are used, which that mode adds up without configuration.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Request latencies: a cached page is ~1 ms, a chat message 5-20 ms, a slow export seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
# Requests that matched no route are counted under one label, so scanners probing random
# paths cannot grow the number of series without bound.
UNMATCHED_ROUTE = "unmatched"


class Metrics:
    """The product's collectors, and the text a scrape receives."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "walletbot_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=reg
        )
        self.latency = Histogram(
            "walletbot_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.messages = Counter(
            "walletbot_messages", "User messages the bot answered, by outcome.", ["outcome"], registry=reg
        )
        self.confidence = Histogram(
            "walletbot_nlu_confidence",
            "Intent confidence of typed user messages.",
            buckets=CONFIDENCE_BUCKETS,
            registry=reg,
        )
        self.tickets = Counter(
            "walletbot_tickets_opened", "Tickets opened by the bot, by priority.", ["priority"], registry=reg
        )
        self.reloads = Counter(
            "walletbot_content_reloads", "Content reloads, by result (ok, failed).", ["result"], registry=reg
        )
        self.db_errors = Counter(
            "walletbot_database_errors", "Errors raised by the database driver.", ["error"], registry=reg
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ feeding

    def request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        key = (method, route or UNMATCHED_ROUTE, status)
        children = self._request_children.get(key)
        if children is None:
            # labels() takes a lock and builds its key on every call: look each series up once.
            # The key space is bounded: methods x route templates (or "unmatched") x statuses.
            children = (self.requests.labels(key[0], key[1], str(status)), self.latency.labels(key[0], key[1]))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def message(self, outcome: str, confidence: float | None) -> None:
        self.messages.labels(outcome).inc()
        if confidence is not None:
            self.confidence.observe(confidence)

    def ticket_opened(self, priority: str) -> None:
        self.tickets.labels(priority).inc()

    def content_reloaded(self, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "failed").inc()

    def watch_database(self, engine: Engine) -> None:
        """Count every error the driver raises on this engine (SQLAlchemy's handle_error hook)."""
        from sqlalchemy import event

        def count(context: Any) -> None:
            self.db_errors.labels(type(context.original_exception).__name__).inc()

        event.listen(engine, "handle_error", count)

    # ------------------------------------------------------------------ scraping

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's samples, or every worker's in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
