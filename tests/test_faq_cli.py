"""`walletbot faq search|test` (bot/faq/commands.py) through click's runner, on the project's
data/ and on a copy of it with a broken or a competing FAQ file: whole lines and exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_fixtures import CONFIG, PROJECT

from bot.cli import main

THRESHOLDS = "thresholds: answer ≥ 0.5 with a lead ≥ 0.25, suggest ≥ 0.35 (config.yml faq.*)"


def invoke(models: Path, *args: str, data: Path | None = None) -> Result:
    env = {"WALLETBOT_PATHS_MODELS": str(models)}
    if data is not None:
        env["WALLETBOT_PATHS_DATA"] = str(data)
    return CliRunner(env=env).invoke(main, ["--config", str(CONFIG), "faq", *args])


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A copy of the project's data/ to add one FAQ file to."""
    folder = tmp_path / "data"
    shutil.copytree(PROJECT / "data", folder)
    return folder


def add_faq_file(data: Path, topic: str, entry_id: str, question: str, alternates: list[str]) -> None:
    """One more FAQ file of one entry in `data`/faq (the answer does not matter to retrieval)."""
    (data / "faq" / f"{topic}.yml").write_text(
        f"topic: {topic}\nentries:\n  - id: {entry_id}\n    question: {question}\n"
        f"    alternates: [{', '.join(alternates)}]\n    answer: 以官网或应用内公布的时间为准。\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------- search


def test_search_shows_the_answer_and_why(trained_models_dir: Path) -> None:
    result = invoke(trained_models_dir, "search", "客服几点上班", "-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 7  # two hits of three lines each, then the thresholds
    assert re.fullmatch(r"1\. service_hours +0\.\d{3}  answers", lines[0])
    assert lines[1].startswith("     best wording: 客服")
    assert lines[2] == "     matched: 客服、几点"
    assert re.fullmatch(r"2\. \w+ +0\.\d{3}  too weak", lines[3])
    assert lines[-1] == THRESHOLDS


def test_search_only_shows_what_the_brand_sees(trained_models_dir: Path) -> None:
    upay = invoke(trained_models_dir, "search", "优惠券在哪用", "--brand", "upay", "-k", "1")
    assert upay.exit_code == 0, upay.output
    assert upay.output.startswith("1. coupons_bill_management      1.000  answers\n")
    kdou = invoke(trained_models_dir, "search", "优惠券在哪用", "--brand", "kdou")
    assert kdou.exit_code == 0, kdou.output
    assert "coupons_bill_management" not in kdou.output  # an Upay-only entry


def test_search_a_question_without_words(trained_models_dir: Path) -> None:
    result = invoke(trained_models_dir, "search", "！！！")
    assert result.exit_code == 0, result.output
    assert result.output == f"no FAQ entry shares a word with this question\n{THRESHOLDS}\n"


def test_search_refuses_an_unknown_brand(trained_models_dir: Path) -> None:
    result = invoke(trained_models_dir, "search", "客服几点上班", "--brand", "nope")
    assert result.exit_code == 1
    assert result.output == "error: Unknown brand 'nope': known brands are generic, kdou, upay.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["客服", "-k", "0"], "Error: Invalid value for '-k': 0 is not in the range x>=1."),
        (["客服", "-k", "-3"], "Error: Invalid value for '-k': -3 is not in the range x>=1."),
        ([], "Error: Missing argument 'QUESTION'."),
    ],
)
def test_search_refuses_bad_usage(trained_models_dir: Path, args: list[str], message: str) -> None:
    result = invoke(trained_models_dir, "search", *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message


# --------------------------------------------------------------------------- test


def test_every_wording_of_the_project_finds_its_entry(trained_models_dir: Path) -> None:
    text = invoke(trained_models_dir, "test")
    assert text.exit_code == 0, text.output
    assert re.fullmatch(r"\d{3,} wordings: 0 fail, 0 thin margin\n", text.output)
    as_json = invoke(trained_models_dir, "test", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert report == {"checked": int(text.output.split()[0]), "failed": 0, "thin": 0, "problems": []}


def test_a_wording_another_entry_takes_fails(trained_models_dir: Path, data_copy: Path) -> None:
    # A new entry whose question is word for word an alternate of service_hours: one of the two
    # entries loses that wording.
    add_faq_file(data_copy, "zz_copy", "hours_again", "客服几点下班", ["客服下班时间", "几点下班"])
    text = invoke(trained_models_dir, "test", data=data_copy)
    assert text.exit_code == 1, text.output
    fails = [line for line in text.output.splitlines() if line.startswith("FAIL  ")]
    assert fails, text.output
    assert any(re.fullmatch(r"FAIL  \w+ +'客服几点下班' is taken by '\w+' \(own score .*\)", f) for f in fails)
    assert re.search(r"\n\d+ wordings: [1-9]\d* fail, \d+ thin margin\n$", text.output)

    as_json = invoke(trained_models_dir, "test", "--format", "json", data=data_copy)
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert report["failed"] == len(fails)
    failed = [p for p in report["problems"] if p["status"] == "fail"]
    assert {"客服几点下班"} <= {p["wording"] for p in failed}
    assert set(failed[0]) == {"entry_id", "wording", "status", "score", "winner_id", "runner_up_id", "margin"}


def test_a_broken_faq_file_is_named_with_its_line(trained_models_dir: Path, data_copy: Path) -> None:
    add_faq_file(data_copy, "zz_dup", "service_hours", "客服周末上班吗", ["周末有客服吗"])
    for command in ("test", "search"):
        result = invoke(trained_models_dir, command, *(["客服"] if command == "search" else []), data=data_copy)
        assert result.exit_code == 1
        lines = result.output.splitlines()
        faq = re.escape(str(data_copy / "faq"))
        assert re.fullmatch(
            rf"{faq}/zz_dup\.yml:3: duplicate FAQ id 'service_hours' \(first defined at {faq}/contact\.yml:\d+\)"
            " — 同一个 id 用了两次。",
            lines[0],
        ), lines
        assert lines[-1] == "error: 1 content error(s); fix them and run again"
