"""GET /metrics: what it counts, that Prometheus' own parser reads it, and its config switches."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import make_settings
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.api import create_app
from bot.engine import Assistant
from bot.reloader import reload_assistant

PROJECT = Path(__file__).resolve().parent.parent


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's text-format parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


@pytest.fixture
def app_with(tmp_path: Path, trained_models_dir: Path, runtime):
    """An app on a fresh database with the given WALLETBOT_* overrides; the assistant is closed after."""
    made: list[Assistant] = []

    def build(**env: str) -> TestClient:
        settings = make_settings(f"sqlite:///{tmp_path / f'm{len(made)}.db'}", trained_models_dir, **env)
        from bot.store import Database

        db = Database(settings.database_url)
        db.migrate()
        bot = Assistant(settings, runtime, db)
        made.append(bot)
        return TestClient(create_app(settings, bot))

    yield build
    for bot in made:
        bot.close()


@pytest.fixture
def client(app_with) -> Iterator[TestClient]:
    with app_with() as test_client:
        yield test_client


def test_metrics_count_requests_messages_tickets_and_confidence(client: TestClient) -> None:
    started = client.post("/api/chat", json={"text": "充值失败了"}).json()
    body = {"conversation": started["conversation"], "token": started["token"]}
    assert client.post("/api/chat", json=body | {"payload": "/human"}).status_code == 200
    assert (
        client.get(
            f"/api/conversations/{started['conversation']}", headers={"X-Conversation-Token": started["token"]}
        ).status_code
        == 200
    )
    assert client.get("/no/such/page").status_code == 404

    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    got = samples(scrape.text)
    assert got[("walletbot_http_requests_total", (("method", "POST"), ("route", "/api/chat"), ("status", "200")))] == 2
    assert (
        got[
            (
                "walletbot_http_requests_total",
                (("method", "GET"), ("route", "/api/conversations/{conversation_id}"), ("status", "200")),
            )
        ]
        == 1
    )
    assert got[("walletbot_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert got[("walletbot_http_request_duration_seconds_count", (("method", "POST"), ("route", "/api/chat")))] == 2
    assert (
        got[
            (
                "walletbot_http_request_duration_seconds_bucket",
                (("le", "+Inf"), ("method", "POST"), ("route", "/api/chat")),
            )
        ]
        == 2
    )
    assert got[("walletbot_messages_total", (("outcome", "flow"),))] == 1
    assert got[("walletbot_messages_total", (("outcome", "escalated"),))] == 1
    assert got[("walletbot_tickets_opened_total", (("priority", "normal"),))] == 1
    assert got[("walletbot_nlu_confidence_count", ())] == 1  # the typed message; the button has none
    assert 0 < got[("walletbot_nlu_confidence_sum", ())] <= 1


def test_route_templates_not_ids(client: TestClient) -> None:
    started = client.post("/api/chat", json={"text": "你好"}).json()
    other = client.post("/api/chat", json={"text": "你好"}).json()
    for conv in (started, other):
        client.get(f"/api/conversations/{conv['conversation']}", headers={"X-Conversation-Token": conv["token"]})
    routes = {
        dict(labels)["route"]
        for name, labels in samples(client.get("/metrics").text)
        if name == "walletbot_http_requests_total"
    }
    assert routes == {"/api/chat", "/api/conversations/{conversation_id}"}  # one series for both ids


def test_reloads_and_database_errors(client: TestClient) -> None:
    bot: Assistant = client.app.state.assistant
    reload_assistant(bot)
    with pytest.raises(DBAPIError):
        with bot.db.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
    got = samples(client.get("/metrics").text)
    assert got[("walletbot_content_reloads_total", (("result", "ok"),))] == 1
    assert got[("walletbot_database_errors_total", (("error", "OperationalError"),))] == 1


def test_metrics_can_be_switched_off(app_with) -> None:
    with app_with(WALLETBOT_METRICS_ENABLED="false") as off:
        assert off.get("/metrics").status_code == 404
        assert off.post("/api/chat", json={"text": "你好"}).status_code == 200  # the rest still works


def test_a_token_guards_metrics(app_with) -> None:
    with app_with(WALLETBOT_METRICS_TOKEN="s3cret-token") as guarded:
        refused = guarded.get("/metrics")
        assert refused.status_code == 401
        assert (
            refused.json()["error"]["message"]
            == "GET /metrics needs the header 'Authorization: Bearer <metrics token>'."
        )
        assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        allowed = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert allowed.status_code == 200
        assert "walletbot_http_requests_total" in allowed.text


def test_several_workers_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two processes count into one PROMETHEUS_MULTIPROC_DIR (as `serve --workers 2` sets it);
    a third one's scrape holds the sum."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), PYTHONPATH=str(PROJECT))
    count = "from bot.metrics import Metrics; m = Metrics(); m.message('flow', 0.9); m.request('POST', '/api/chat', 200, 0.01)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=PROJECT)
    scrape = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bot.metrics import Metrics; sys.stdout.write(Metrics().exposition().decode())",
        ],
        env=env,
        check=True,
        cwd=PROJECT,
        capture_output=True,
        text=True,
    ).stdout
    got = samples(scrape)
    assert got[("walletbot_messages_total", (("outcome", "flow"),))] == 2
    assert got[("walletbot_http_requests_total", (("method", "POST"), ("route", "/api/chat"), ("status", "200")))] == 2
    assert got[("walletbot_nlu_confidence_count", ())] == 2


def test_the_grafana_dashboard_asks_only_for_metrics_that_exist(client: TestClient) -> None:
    import json
    import re

    dashboard = json.loads((PROJECT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"walletbot_[a-z_]+", target["expr"])
    }
    families = {f.name: f.type for f in text_string_to_metric_families(client.get("/metrics").text)}
    exposed = set()
    for name, kind in families.items():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
        exposed |= {name + suffix for suffix in suffixes}
    assert asked and asked <= exposed, asked - exposed
