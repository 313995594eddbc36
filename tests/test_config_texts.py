"""bot.config_texts: the ui: and console: sections are checked with the other settings, so a
broken one stops the start with a message naming the key (never a 500 on the first request)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_settings
from bot.config_texts import LABEL_KEYS, UI_KEYS, PriorityNames, RoleNames, StatusNames, TurnRoleNames
from bot.errors import ConfigError
from bot.store import Priority, Role, TicketStatus, TurnRole

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of config.yml a test may break (paths point back at the project)."""
    raw = yaml.safe_load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    raw["paths"] = {"data": str(PROJECT / "data"), "models": str(tmp_path / "models")}
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _break(path: Path, change) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    return str(refused.value)


def test_the_lifecycle_names_match_the_store_enums() -> None:
    assert set(StatusNames.model_fields) == {s.value for s in TicketStatus}
    assert set(PriorityNames.model_fields) == {p.value for p in Priority}
    assert set(RoleNames.model_fields) == {r.value for r in Role}
    assert set(TurnRoleNames.model_fields) == {r.value for r in TurnRole}


def test_the_project_config_has_every_text(config: Path) -> None:
    settings = load_settings(config, environ={})
    assert set(UI_KEYS) <= set(settings.ui.model_dump())
    assert settings.console.text("page_info", page=2, pages=7, total=321) == "第 2 / 7 页，共 321 条"
    assert settings.console.status("waiting_on_user") == "等待用户"
    assert settings.console.name("categories", "no_such_category") == "no_such_category"
    assert settings.console.zone_name == "北京时间"
    assert settings.ui.strings("K豆钱包")["title"] == "K豆钱包在线客服"
    assert all(settings.console.text(key) for key in LABEL_KEYS)


def test_a_missing_label_is_named_in_full(config: Path) -> None:
    _break(config, lambda raw: raw["console"]["labels"].pop("login"))
    assert _refusal(config) == (
        f"Config 'console.labels.login' in '{config}' is missing: add it to the console: section."
    )


def test_a_missing_status_name_and_a_blank_ui_text_are_named(config: Path) -> None:
    _break(config, lambda raw: raw["console"]["statuses"].pop("resolved"))
    assert "Config 'console.statuses.resolved'" in _refusal(config)
    _break(config, lambda raw: raw["console"]["statuses"].update(resolved="已解决"))
    _break(config, lambda raw: raw["ui"].update(greeting="   "))
    assert _refusal(config) == (
        f"Config 'ui.greeting' in '{config}' is invalid: must be a text, not blank (got '   ')."
    )


def test_a_misspelt_key_is_refused(config: Path) -> None:
    _break(config, lambda raw: raw["console"]["statuses"].update(in_progres="处理中"))
    assert "Config 'console.statuses.in_progres'" in _refusal(config)
    assert "Extra inputs are not permitted" in _refusal(config)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("page_size", 0, "console.page_size"),
        ("page_size", True, "console.page_size"),
        ("session_hours", "12", "console.session_hours"),
        ("poll_seconds", 601, "console.poll_seconds"),
        ("login_limit", {"per_ip": 0}, "console.login_limit.per_ip"),
        ("timezone", "Mars/Olympus", "console.timezone"),
    ],
)
def test_numbers_and_the_zone_are_checked(config: Path, key: str, value: object, named: str) -> None:
    _break(config, lambda raw: raw["console"].update({key: value}))
    assert f"Config '{named}' in '{config}' is invalid" in _refusal(config)


def test_a_short_secret_is_refused_without_being_quoted(config: Path) -> None:
    _break(config, lambda raw: raw["console"].update(secret="hunter2"))
    message = _refusal(config)
    assert message.startswith(f"Config 'console.secret' in '{config}' is invalid: must be a text of at least 16")
    assert "hunter2" not in message and message.endswith("(got ***).")


def test_the_secret_from_the_environment_and_its_repr(config: Path) -> None:
    settings = load_settings(config, environ={"WALLETBOT_CONSOLE_SECRET": "0123456789abcdef0123"})
    assert settings.console.secret_text == "0123456789abcdef0123"
    assert "0123456789abcdef" not in repr(settings)


def test_a_missing_section_is_named(config: Path) -> None:
    _break(config, lambda raw: raw.pop("ui"))
    assert _refusal(config) == f"Config 'ui' in '{config}' is missing: add it to the file (see config.yml)."


def test_ui_poll_seconds_out_of_range(config: Path) -> None:
    _break(config, lambda raw: raw["ui"].update(poll_seconds=0.5))
    assert "Config 'ui.poll_seconds'" in _refusal(config)


def test_serve_stops_at_start_naming_the_key(config: Path, tmp_path: Path) -> None:
    _break(config, lambda raw: raw["console"]["labels"].pop("queue"))
    shutil.rmtree(tmp_path / "models", ignore_errors=True)
    result = CliRunner().invoke(main, ["--config", str(config), "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "Config 'console.labels.queue'" in result.output
    assert not (tmp_path / "models").exists()  # stopped before training or binding anything
