"""The `walletbot` CLI through a runner and as a real process: contracts and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from engine_fixtures import PROJECT

from bot.cli import main


def env_for(settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "WALLETBOT_CONFIG": str(PROJECT / "config.yml"),
        "WALLETBOT_STORAGE_DATABASE_URL": settings.storage.database_url,
        "WALLETBOT_PATHS_MODELS": str(settings.models_dir),
        **extra,
    }


def run(args: list[str], settings, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env_for(settings),
        cwd=PROJECT,
        timeout=120,
    )


def test_parse_contract(settings):
    result = run(["parse"], settings, "我充值失败了\n忘記密碼了怎麼辦\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["intent"] for line in lines][1] == "forgot_password"
    assert lines[0]["intent"] in ("topup_problem", "transaction_failed")
    for line in lines:
        assert set(line) == {"text", "intent", "confidence", "entities", "ranking"}


def test_chat_jsonl_contract_escalation_and_resume_in_a_new_process(settings):
    first = run(
        ["chat", "--jsonl"],
        settings,
        "\n".join(
            json.dumps(x, ensure_ascii=False)
            for x in [
                {"conversation": "c1", "text": "交易失败了"},
                {"conversation": "c1", "payload": "kind.1"},
                {"conversation": "c1", "text": "还是不行"},
            ]
        )
        + "\n",
    )
    assert first.returncode == 0, first.stderr
    replies = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(replies) == 3
    for reply in replies:
        assert set(reply) == {"conversation", "messages", "state"}
        assert reply["conversation"] == "c1"
        assert set(reply["state"]) == {
            "intent",
            "flow",
            "step",
            "faq_id",
            "ticket",
            "escalated",
            "resolved",
            "priority",
        }
        for message in reply["messages"]:
            assert set(message) == {"text", "buttons"}
    assert replies[-1]["state"]["step"] == "balance"

    # A second process continues the same conversation from the database.
    second = run(
        ["chat", "--jsonl"],
        settings,
        "\n".join(
            json.dumps(x, ensure_ascii=False)
            for x in [
                {"conversation": "c1", "text": "还是不行"},
                {"conversation": "c1", "text": "还是不行"},
                {"conversation": "c1", "text": "昨天下午三点充的100元，用的银行卡"},
            ]
        )
        + "\n",
    )
    replies = [json.loads(line) for line in second.stdout.splitlines()]
    assert replies[0]["state"]["step"] == "record"
    assert replies[-1]["state"]["escalated"] is True
    assert replies[-1]["state"]["ticket"].startswith("WB-")


def test_chat_jsonl_bad_lines_get_errors_not_crashes(settings):
    result = run(
        ["chat", "--jsonl"],
        settings,
        'not json\n{"conversation": "x", "text": "你好", "extra": 1}\n[1]\n{"conversation": "x", "payload": "nope"}\n',
    )
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(replies) == 4
    assert all("error" in r for r in replies)
    assert "unknown field(s): extra" in replies[1]["error"]["message"]
    assert replies[3]["error"]["code"] == "unknown_payload"


def test_missing_config_is_one_clear_line(tmp_path: Path):
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.yml"), "validate"])
    assert result.exit_code == 1
    assert "Config file" in result.output and "not found" in result.output


def test_parse_without_a_model_says_what_to_run(tmp_path: Path, settings):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse"],
        input="你好\n",
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
        env=env_for(settings, WALLETBOT_PATHS_MODELS=str(tmp_path / "empty")),
    )
    assert result.returncode == 1
    assert "run `walletbot train`" in result.stderr


def test_interactive_chat_shows_numbered_buttons_and_accepts_a_number(settings):
    result = run(["chat", "--brand", "kdou"], settings, "交易失败了\n1\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "K豆钱包 智能助手" in out
    assert "[1] 充值" in out and "[2] 提现" in out
    # "1" pressed the first button: the next check (network) was shown.
    assert "网络" in out.split("[1] 充值", 1)[1]
