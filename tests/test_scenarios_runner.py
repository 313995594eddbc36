"""`walletbot test`: scenario files read and checked like the reference checker
(../shared/tools/dialogue_check.py), run through the real engine on a throwaway database.

The scenarios here lean only on very stable behaviour: "我充值失败了" starts flow topup_problem
with a 转人工 button, and pressing it escalates with a ticket. Everything else a scenario
expects here is chosen to hold (or to fail) whatever the dialogue's wording becomes.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import CONFIG, make_settings
from sqlalchemy import text as sql

from bot.cli import main
from bot.measure.scenarios import (
    ResolvedLeaves,
    ScenarioFileError,
    ScenarioRunner,
    check_turn,
    contains,
    load_scenarios,
    summary_line,
)
from bot.text import render

ALL_PRIORITIES = "[low, normal, high, urgent]"


def write(tmp_path: Path, body: str, name: str = "scenarios.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runner(runtime, trained_models_dir: Path) -> Iterator[ScenarioRunner]:
    # The settings' own database is in memory: the runner must make and use its own.
    with ScenarioRunner(make_settings("sqlite://", trained_models_dir), runtime) as r:
        yield r


def run_one(runner: ScenarioRunner, tmp_path: Path, body: str):
    (scenario,) = load_scenarios(write(tmp_path, body))
    return runner.run(scenario)


PASSING = """\
- name: topup-then-human
  brand: kdou
  why: the stable part of the dialogue, every kind of expectation holding
  turns:
    - user: 我充值失败了
      expect:
        flow: topup_problem
        flow_in: [topup_problem, transaction_failed]
        intent_in: [topup_problem, transaction_failed]
        resolved: false
        escalated: false
        ticket: false
        says_any: [这句话不会出现, "充　值"]   # an ideographic space: whitespace is ignored
        says_none: [机器人绝不会说的一句话]
        buttons_any: [没有这个按钮, 转人工]
    - button: 转人工
      expect: {escalated: true, ticket: true}
  final: {tickets: 1, priority_in: ALL_PRIORITIES}
""".replace("ALL_PRIORITIES", ALL_PRIORITIES)


def test_a_passing_scenario_passes(runner: ScenarioRunner, tmp_path: Path):
    result = run_one(runner, tmp_path, PASSING)
    assert result.passed, [f.message for f in result.failures]
    assert result.line() == "PASS topup-then-human"
    assert [t["input"] for t in result.transcript] == ["user: 我充值失败了", "button: 转人工"]
    assert result.transcript[0]["state"]["flow"] == "topup_problem"
    assert "转人工" in result.transcript[0]["buttons"]
    assert len(result.tickets) == 1


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ("{flow: account_frozen}", "flow: expected 'account_frozen', got 'topup_problem'"),
        ("{flow: null}", "flow: expected None, got 'topup_problem'"),
        ("{flow_in: [refund, limits]}", "flow_in: expected one of ['refund', 'limits'], got 'topup_problem'"),
        ("{intent: greet}", "intent: expected 'greet', got "),
        ("{intent_in: [greet, goodbye]}", "intent_in: expected one of ['greet', 'goodbye'], got "),
        ("{resolved: true}", "resolved: expected the problem declared solved"),
        ("{escalated: true}", "escalated: expected True, got False"),
        ("{ticket: true}", "ticket: expected a ticket, got None"),
        ("{says_any: [这句话机器人绝不会说]}", "says_any: none of ['这句话机器人绝不会说'] in the reply"),
        ("{says_none: [无关的词, 充 值]}", "says_none: the reply says ['充 值']"),
        ("{buttons_any: [不存在的按钮]}", "buttons_any: none of ['不存在的按钮'] offered (offered: ["),
    ],
)
def test_each_kind_of_expectation_can_fail(runner: ScenarioRunner, tmp_path: Path, expect: str, message: str):
    result = run_one(
        runner,
        tmp_path,
        f"""\
        - name: one-failing-expectation
          brand: generic
          turns:
            - user: 我充值失败了
              expect: {expect}
        """,
    )
    assert not result.passed
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert (failure.turn, failure.input) == (1, "user: 我充值失败了")
    assert failure.message.startswith(message), failure.message
    assert failure.bot == result.transcript[0]["text"] and failure.bot
    line = result.line()
    assert line.startswith(f"FAIL one-failing-expectation — turn 1 (user: 我充值失败了): {message}")
    assert " | bot: " in line


def test_every_failed_expectation_is_kept_and_counted(runner: ScenarioRunner, tmp_path: Path):
    result = run_one(
        runner,
        tmp_path,
        """\
        - name: three-failures
          brand: upay
          turns:
            - user: 我充值失败了
              expect: {flow: refund, escalated: true}
            - button: 转人工
              expect: {escalated: false}
        """,
    )
    assert [(f.turn, f.message.split(":")[0]) for f in result.failures] == [
        (1, "flow"),
        (1, "escalated"),
        (2, "escalated"),
    ]
    assert result.line().endswith("  (+2 more)")


def test_a_button_not_offered_fails_and_stops_the_scenario(runner: ScenarioRunner, tmp_path: Path):
    result = run_one(
        runner,
        tmp_path,
        """\
        - name: unoffered-button
          brand: kdou
          turns:
            - user: 我充值失败了
            - button: 不存在的按钮
            - user: 这一轮不会发送
          final: {tickets: 7}
        """,
    )
    assert len(result.failures) == 1  # the conversation stopped: no third turn, no final check
    failure = result.failures[0]
    assert (failure.turn, failure.input) == (2, "button: 不存在的按钮")
    assert failure.message.startswith("button '不存在的按钮' not offered (offered: [")
    assert "'转人工'" in failure.message
    assert len(result.transcript) == 1


def test_a_button_before_any_reply_is_not_offered(runner: ScenarioRunner, tmp_path: Path):
    result = run_one(
        runner,
        tmp_path,
        """\
        - name: button-first
          brand: generic
          turns:
            - button: 转人工
        """,
    )
    assert result.line() == "FAIL button-first — turn 1 (button: 转人工): button '转人工' not offered (offered: [])"
    assert result.transcript == []


def test_final_reads_the_tickets_of_this_conversation(runner: ScenarioRunner, tmp_path: Path):
    escalate = """\
        - name: escalated-%d
          brand: kdou
          turns:
            - user: 我充值失败了
            - button: 转人工
          final: {tickets: 1}
        """
    first = run_one(runner, tmp_path, escalate % 1)
    second = run_one(runner, tmp_path, escalate % 2)
    assert first.passed and second.passed  # one ticket each: the other conversation's is not counted
    with runner.db.session(readonly=True) as s:
        rows = s.execute(sql("SELECT category, priority, summary FROM tickets ORDER BY id DESC LIMIT 1")).one()
    assert [(t["category"], t["priority"], t["summary"]) for t in second.tickets] == [tuple(rows)]
    category, priority, summary = rows

    matching = run_one(
        runner,
        tmp_path,
        f"""\
        - name: final-matches
          brand: kdou
          turns:
            - user: 我充值失败了
            - button: 转人工
          final: {{tickets: 1, priority_in: [{priority}], category_in: [no_such_category, {category}], summary_any: ["{summary[:4]}"]}}
        """,
    )
    assert matching.passed, [f.message for f in matching.failures]

    failing = run_one(
        runner,
        tmp_path,
        f"""\
        - name: final-fails
          brand: kdou
          turns:
            - user: 我充值失败了
            - button: 转人工
          final:
            tickets: 0
            priority_in: [{"low" if priority != "low" else "urgent"}]
            category_in: [no_such_category]
            details_have: [no_such_detail]
            summary_any: [摘要里不会有的话]
        """,
    )
    assert [(f.turn, f.message.split(":")[0]) for f in failing.failures] == [
        ("final", "tickets"),
        ("final", "priority_in"),
        ("final", "category_in"),
        ("final", "details_have"),
        ("final", "summary_any"),
    ]
    assert failing.failures[0].message == "tickets: expected 0, got 1"
    assert failing.line() == "FAIL final-fails — final: tickets: expected 0, got 1  (+4 more)"


def test_final_without_a_ticket(runner: ScenarioRunner, tmp_path: Path):
    none_expected = run_one(
        runner,
        tmp_path,
        """\
        - name: no-ticket
          brand: generic
          turns:
            - user: 我充值失败了
          final: {tickets: 0}
        """,
    )
    assert none_expected.passed and none_expected.tickets == []
    needs_one = run_one(
        runner,
        tmp_path,
        """\
        - name: needs-a-ticket
          brand: generic
          turns:
            - user: 我充值失败了
          final: {priority_in: [normal]}
        """,
    )
    assert [f.message for f in needs_one.failures] == ["priority_in: no ticket was opened"]


def test_resolved_counts_the_leaf_step_and_the_leaf_text(runtime):
    """A resolved leaf is reached by the state's step, or by its words with placeholders skipped."""
    leaves = ResolvedLeaves(runtime.content.flows)
    flow = runtime.content.flows["topup_problem"]
    leaf = next(step for step in flow.steps.values() if step.resolved is not None)
    said = render(leaf.resolved, "kdou", {"brand": "K豆钱包"})
    in_flow = {"state": {"flow": "topup_problem", "step": leaf.id}, "messages": [{"text": "", "buttons": []}]}
    left_flow = {"state": {"flow": None, "step": None}, "messages": [{"text": f"好的。\n{said}", "buttons": []}]}
    asking = {
        "state": {"flow": "topup_problem", "step": flow.start},
        "messages": [{"text": "成功了吗？", "buttons": []}],
    }
    assert check_turn({"resolved": True}, in_flow, leaves) == []
    assert check_turn({"resolved": True}, left_flow, leaves) == []
    assert check_turn({"resolved": False}, in_flow, leaves) == [
        f"resolved: expected NOT declared solved, but reached topup_problem.{leaf.id}"
    ]
    assert check_turn({"resolved": False}, left_flow, leaves, "topup_problem")[0].startswith(
        "resolved: expected NOT declared solved, but reached topup_problem."
    )
    assert check_turn({"resolved": False}, asking, leaves) == []
    assert check_turn({"resolved": True}, asking, leaves) != []
    # The chat contract's own flag counts too.
    assert check_turn({"resolved": False}, {**asking, "state": {"resolved": True}}, leaves) == [
        "resolved: expected NOT declared solved, but reached state.resolved"
    ]


def test_resolved_through_the_engine(runner: ScenarioRunner, runtime, tmp_path: Path):
    """Pressing a first step's button that leads straight to a resolved leaf declares it solved."""
    found = [
        (flow, option.title)
        for flow in runtime.content.flows.values()
        for option in flow.steps[flow.start_for("kdou")].options
        if flow.steps[option.next_for("kdou")].resolved is not None
    ]
    openings = {"topup_problem": "我充值失败了", "account_frozen": "我的账户被冻结了", "payment_problem": "付款失败了"}
    found = [(flow, title) for flow, title in found if flow.name in openings]
    assert found, "a first step with a button that ends the checklist solved is expected"
    flow, title = found[0]
    result = run_one(
        runner,
        tmp_path,
        f"""\
        - name: solved-by-button
          brand: kdou
          turns:
            - user: {openings[flow.name]}
              expect: {{flow: {flow.name}, resolved: false}}
            - button: "{title}"
              expect: {{resolved: true}}
          final: {{tickets: 0}}
        """,
    )
    assert result.passed, [f.message for f in result.failures]


def test_text_comparison_ignores_width_case_and_whitespace():
    assert contains("请打开Upay钱包的设置", "ｕｐａｙ 钱包")
    assert contains("24 小时内", "24小时")
    assert contains("２４小时", "24小时")
    assert not contains("二十四小时", "24小时")


def test_an_unknown_brand_fails_the_scenario(runner: ScenarioRunner, tmp_path: Path):
    result = run_one(
        runner,
        tmp_path,
        """\
        - name: unknown-brand
          brand: nobrand
          turns:
            - user: 我充值失败了
        """,
    )
    assert not result.passed
    assert "Unknown brand 'nobrand'" in result.failures[0].message


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("name: not-a-list\n", "scenarios.yml:1: expected a YAML list of scenarios"),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好, expect: {flow: [x]}}]\n",
            "scenario 'a' turn 1: flow must be a name or null",
        ),
        (
            "- name: a\n  brand: kdou\n  turns:\n    - user: 你好\n      expect: {says: [x]}\n",
            "scenarios.yml:4: scenario 'a' turn 1: unknown expect key 'says'",
        ),
        (
            "- name: a\n  brand: kdou\n  turns:\n    - user: 你好\n      button: 转人工\n",
            "scenario 'a' turn 1: needs exactly one of user / button",
        ),
        ("- name: a\n  brand: kdou\n  turns:\n    - user: '  '\n", "scenario 'a' turn 1: user must be non-empty text"),
        ("- name: a\n  brand: kdou\n  turns: []\n", "scenarios.yml:3: scenario 'a': turns must be a non-empty list"),
        (
            "- name: Not_Kebab\n  brand: kdou\n  turns: [{user: 你好}]\n",
            "scenario 'Not_Kebab': name must be kebab-case",
        ),
        ("- name: a\n  turns: [{user: 你好}]\n", "scenario 'a': brand missing"),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好, expect: {resolved: maybe}}]\n",
            "scenario 'a' turn 1: resolved must be true or false",
        ),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好, expect: {says_none: []}}]\n",
            "scenario 'a' turn 1: says_none must be a non-empty list of strings",
        ),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好}]\n  final: {tickets: -1}\n",
            "scenario 'a': final.tickets must be a count",
        ),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好}]\n  final: {ticket: 1}\n",
            "scenario 'a': unknown final key 'ticket'",
        ),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好}]\n  expect: {flow: x}\n",
            "scenario 'a': unknown key 'expect'",
        ),
        (
            "- name: a\n  brand: kdou\n  turns: [{user: 你好}]\n- name: a\n  brand: upay\n  turns: [{user: 你好}]\n",
            "scenarios.yml:4: scenario 'a': duplicate name (also scenario #1)",
        ),
        ("- name: a\n  brand: kdou\n  turns: [{user: 你好}\n", "scenarios.yml:4: invalid YAML"),
    ],
)
def test_a_bad_file_is_refused_with_file_line_and_scenario(tmp_path: Path, body: str, problem: str):
    path = write(tmp_path, body)
    with pytest.raises(ScenarioFileError) as caught:
        load_scenarios(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert all(p.startswith(str(path)) for p in caught.value.problems)
    assert "\n" not in str(caught.value)


def test_every_problem_of_a_file_is_listed(tmp_path: Path):
    path = write(
        tmp_path,
        """\
        - name: ok-one
          brand: kdou
          turns: [{user: 你好}]
        - name: bad-one
          brand: kdou
          turns: [{user: 你好, expect: {flow: x, colour: red}}]
        - brand: upay
          turns: [{button: ""}]
        """,
    )
    with pytest.raises(ScenarioFileError) as caught:
        load_scenarios(path)
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "scenario 'bad-one' turn 1: unknown expect key 'colour' (known: buttons_any, escalated, flow, flow_in, intent, intent_in, "
        "resolved, says_any, says_none, ticket)",
        "scenario #3: name must be kebab-case (lower-case letters, digits, dashes)",
        "scenario #3 turn 1: button must be non-empty text",
    ]
    assert str(caught.value).startswith(caught.value.problems[0] + " (+2 more: ")


def test_summary_line(runner: ScenarioRunner, tmp_path: Path):
    results = [
        run_one(runner, tmp_path, PASSING),
        run_one(runner, tmp_path, PASSING.replace("flow: topup_problem", "flow: refund")),
    ]
    assert summary_line(results) == "1 passed, 1 failed"


# --------------------------------------------------------------------------- the command


@pytest.fixture
def invoke(trained_models_dir: Path, tmp_path: Path):
    # The project's database URL points into tmp_path: the command must not create it.
    env = {
        "WALLETBOT_PATHS_MODELS": str(trained_models_dir),
        "WALLETBOT_STORAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'project.db'}",
    }

    def run(*args: str):
        result = CliRunner().invoke(main, ["--config", str(CONFIG), "test", *args], env=env)
        assert not (tmp_path / "project.db").exists()
        return result

    return run


def test_command_exit_codes_and_last_line(invoke, tmp_path: Path):
    good = write(tmp_path, PASSING, "good.yml")
    mixed = write(
        tmp_path,
        PASSING + PASSING.replace("topup-then-human", "wrong-flow").replace("flow: topup_problem", "flow: refund"),
        "mixed.yml",
    )

    passed = invoke(str(good))
    assert passed.exit_code == 0, passed.output
    assert passed.stdout.splitlines() == ["PASS topup-then-human", "1 passed, 0 failed"]

    failed = invoke(str(mixed), str(good))
    assert failed.exit_code == 1, failed.output
    lines = failed.stdout.splitlines()
    assert lines[1].startswith(
        "FAIL wrong-flow — turn 1 (user: 我充值失败了): flow: expected 'refund', got 'topup_problem' | bot: "
    )
    assert lines[-1] == "2 passed, 1 failed"

    only = invoke(str(mixed), "--only", "wrong-*", "--format", "json")
    assert only.exit_code == 1
    report = json.loads(only.stdout)
    assert (report["passed"], report["failed"]) == (0, 1)
    assert [r["name"] for r in report["results"]] == ["wrong-flow"]
    assert report["results"][0]["failures"][0]["message"] == "flow: expected 'refund', got 'topup_problem'"


def test_command_bad_file_and_usage_exit_2(invoke, tmp_path: Path):
    bad = write(tmp_path, "- name: a\n  brand: kdou\n  turns: [{user: 你好, expect: {says: [x]}}]\n", "bad.yml")
    refused = invoke(str(bad))
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"error: {bad}:3: scenario 'a' turn 1: unknown expect key 'says' (known: buttons_any, "
        "escalated, flow, flow_in, intent, intent_in, resolved, says_any, says_none, ticket)"
    ]

    good = write(tmp_path, PASSING, "good.yml")
    assert invoke(str(good), "--only", "nothing-*").exit_code == 2
    assert invoke(str(tmp_path / "missing.yml")).exit_code == 2
    assert invoke().exit_code == 2
