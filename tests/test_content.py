"""`walletbot validate`: every content problem reported with file, line and reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from engine_fixtures import PROJECT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of config.yml and data/ that a test may break."""
    shutil.copy(PROJECT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    return tmp_path


def validate(project: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(project / "config.yml"), "validate", *args])


def test_shipped_content_is_valid(project):
    result = validate(project)
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_broken_yaml_is_reported_with_file_and_line_and_others_still_load(project):
    path = project / "data" / "faq" / "contact.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(6, "    question: [unclosed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = validate(project)
    assert result.exit_code == 1
    assert "data/faq/contact.yml:" in result.output
    assert "invalid YAML" in result.output
    # the other files were still read: their entries are counted
    assert "FAQ entries" in result.output and " 0 FAQ entries" not in result.output


def test_unknown_intent_in_a_flow(project):
    path = project / "data" / "flows" / "limits.yml"
    text = path.read_text(encoding="utf-8").replace("flow: limits", "flow: limitz")
    path.write_text(text, encoding="utf-8")
    result = validate(project)
    assert result.exit_code == 1
    assert "data/flows/limits.yml:" in result.output
    assert "flow 'limitz' is not a known intent" in result.output


def test_dangling_next_and_unreachable_step(project):
    path = project / "data" / "flows" / "transaction_failed.yml"
    text = path.read_text(encoding="utf-8").replace("next: balance", "next: balanse")
    path.write_text(text, encoding="utf-8")
    result = validate(project)
    assert result.exit_code == 1
    assert "goes to 'balanse', which is not a step of flow 'transaction_failed'" in result.output
    assert "step 'balance' of flow 'transaction_failed' is unreachable from start 'kind'" in result.output


def test_cycle_without_exit(project):
    (project / "data" / "flows" / "refund.yml").write_text(
        "flow: refund\ntitle: 退款\nstart: a\nsteps:\n"
        "  a:\n    say: 甲\n    options:\n      - {title: 下一步, next: b}\n"
        "  b:\n    say: 乙\n    options:\n      - {title: 回去, next: a}\n",
        encoding="utf-8",
    )
    result = validate(project)
    assert result.exit_code == 1
    assert "data/flows/refund.yml:5: step 'a' of flow 'refund' can never reach a resolved or escalate leaf" in result.output


def test_flow_asking_for_a_secret_is_rejected(project):
    path = project / "data" / "flows" / "limits.yml"
    text = path.read_text(encoding="utf-8")
    first_say = text.index("say: ") + len("say: ")
    path.write_text(text[:first_say] + "请把验证码发给我。" + text[first_say:], encoding="utf-8")
    result = validate(project)
    assert result.exit_code == 1
    assert "asks the user for a secret" in result.output


def test_unknown_placeholder_and_json_output(project):
    path = project / "data" / "responses.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("我是{brand}智能助手", "我是{brnd}智能助手"), encoding="utf-8")
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    messages = [p["message"] for p in report["problems"]]
    assert any("unknown placeholder {brnd}" in m for m in messages)
    assert all({"file", "line", "severity", "message"} <= set(p) for p in report["problems"])


def test_unknown_intent_in_nlu_and_strict_warnings(project):
    (project / "data" / "nlu" / "extra.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: weather\n  examples: |\n    - 今天下雨吗\n', encoding="utf-8"
    )
    result = validate(project)
    assert result.exit_code == 1
    assert "data/nlu/extra.yml:3: unknown intent 'weather'" in result.output


def test_warnings_only_exit_two_with_strict(project):
    path = project / "data" / "faq" / "contact.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    alternates:")
    end = text.index("    answer:")
    path.write_text(text[:start] + "    alternates: [客服在哪]\n" + text[end:], encoding="utf-8")
    assert validate(project).exit_code == 0
    strict = validate(project, "--strict")
    assert strict.exit_code == 2
    assert "has 1 alternates; write at least 5" in strict.output


def test_competing_faq_wordings_are_warned_with_both_locations(project):
    path = project / "data" / "faq" / "zz_copy.yml"
    path.write_text(
        "topic: copy\nentries:\n  - id: copy_of_hours\n    question: 客服几点下班\n"
        "    alternates: [甲问法, 乙问法, 丙问法, 丁问法, 戊问法]\n    answer: 测试答案\n",
        encoding="utf-8",
    )
    result = validate(project, "--strict")
    assert result.exit_code == 2, result.output
    assert "data/faq/zz_copy.yml:3: warning: FAQ 'copy_of_hours' wording '客服几点下班' is identical to '客服几点下班' of FAQ 'service_hours'" in result.output
