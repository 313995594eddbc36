"""Editors' tools: `faq test`, `faq search` and the unanswered-questions report."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from engine_fixtures import PROJECT

from bot.cli import main
from bot.reports import collect_unanswered, group_unanswered, parse_since, since_datetime


def invoke(*args: str, config: Path = PROJECT / "config.yml", env: dict | None = None):
    return CliRunner(env=env).invoke(main, ["--config", str(config), *args])


def test_faq_test_passes_on_shipped_content():
    result = invoke("faq", "test")
    assert result.exit_code == 0, result.output
    assert " 0 fail" in result.output


def test_faq_test_names_the_entry_that_steals_a_wording(tmp_path: Path):
    shutil.copy(PROJECT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    (tmp_path / "data" / "faq" / "zz_thief.yml").write_text(
        "topic: thief\nentries:\n  - id: thief\n    question: 客服几点下班\n"
        "    alternates: [客服几点下班啊, 客服下班时间, 客服几点下班呢, 几点下班, 下班了吗]\n    answer: 测试\n",
        encoding="utf-8",
    )
    result = invoke("faq", "test", config=tmp_path / "config.yml")
    assert result.exit_code == 1
    assert "FAIL  service_hours" in result.output
    assert "is taken by 'thief'" in result.output


def test_faq_search_explains_matches():
    result = invoke("faq", "search", "怎么开启双重验证")
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert first.startswith("1. two_factor_auth") and first.endswith("answers")
    assert "matched: " in result.output and "验证" in result.output


@pytest.mark.parametrize(
    ("text", "expected"), [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))]
)
def test_parse_since(text: str, expected: timedelta):
    assert parse_since(text) == expected


def test_parse_since_error_says_what_works():
    with pytest.raises(ValueError, match="use a number and d, h or w"):
        parse_since("yesterday")


def test_unanswered_report_groups_repeats(assistant, chat, runtime):
    fixture = ["怎么开发票", "开发票怎么弄", "发票怎么开", "今天天气怎么样", "能帮我订机票吗", "订机票"]
    for text in fixture:
        chat().say(text)
    c = chat()
    c.say("怎么开启双重验证")
    c.press("/not_helpful")
    rows = collect_unanswered(assistant.db, since_datetime("1d"))
    texts = [t for t, _ in rows]
    assert "怎么开启双重验证" in texts
    groups = group_unanswered(rows, runtime.nlu.classifier.tokenizer, runtime.faq)
    invoice = [g for g in groups if any("发票" in e for e in g.texts)]
    assert len(invoice) == 1 and invoice[0].count == 3
    tickets = [g for g in groups if any("机票" in e for e in g.texts)]
    assert len(tickets) == 1 and tickets[0].count == 2
    assert any(g.reasons.get("not_helpful") for g in groups)
    newest = collect_unanswered(assistant.db, since_datetime("1d"), limit=2)
    assert [t for t, _ in newest] == ["订机票", "能帮我订机票吗"]  # newest first, bounded


def test_unanswered_report_cli_yaml_stubs(assistant, chat, settings):
    for text in ("怎么开发票", "开发票怎么弄"):
        chat().say(text)
    env = {"WALLETBOT_STORAGE_DATABASE_URL": settings.storage.database_url}
    result = invoke("report", "unanswered", "--since", "1d", "--format", "yaml", env=env)
    assert result.exit_code == 0, result.output
    stubs = yaml.safe_load(result.output)
    assert stubs["entries"][0]["id"] == "todo_1"
    assert "发票" in stubs["entries"][0]["question"]
    text = invoke("report", "unanswered", "--since", "1d", env=env)
    assert "2 ×" in text.output
