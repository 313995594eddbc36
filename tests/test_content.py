"""`walletbot validate`: every content problem reported with file, line and reason."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import PROJECT

from bot.cli import main
from bot.nlu.training_data import INTENTS
from bot.yamlio import Problem, problem_texts


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


def problems_of(result, *files: str) -> set[str]:
    """`file:line: message` of each problem of a `--format json` run in `files` (the broken ones:
    other people's edits to the shipped data must not break these tests)."""
    return {
        f"{p['file']}:{p['line']}: {p['message']}" for p in json.loads(result.output)["problems"] if p["file"] in files
    }


FLOW_FILE = "data/flows/transaction_failed.yml"


# A small flow with the line numbers the tests below expect (the shipped flows change).
CHECKLIST = """flow: transaction_failed
title: 交易失败排查
start: kind
steps:
  kind:
    say: 哪种交易失败了？
    options:
      - {title: 充值, next: network}
      - {title: 提现, next: network}
  network:
    say: 网络正常吗？成功了吗？
    options:
      - {title: 成功了, means: yes, next: solved}
      - {title: 还是不行, means: no, next: balance}
  balance:
    say: 余额够吗？成功了吗？
    options:
      - {title: 成功了, means: yes, next: solved}
      - {title: 还是不行, means: no, next: record}
  record:
    say: 请看看交易记录里的失败原因。
    next: to_support
  solved:
    resolved: 太好了，交易成功了！
  to_support:
    escalate: {category: transaction_failed, priority: normal, summary: 交易失败}
"""


def write_checklist(project: Path, *replacements: tuple[str, str]) -> None:
    text = CHECKLIST
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    (project / "data" / "flows" / "transaction_failed.yml").write_text(text, encoding="utf-8")


def test_the_checklist_fixture_is_valid(project):
    write_checklist(project)
    assert problems_of(validate(project, "--format", "json"), FLOW_FILE) == set()


def test_renamed_flow_with_a_dangling_next_reports_both_and_no_cascade(project):
    """The flow still gets its intent check, and the steps behind the typo make one line, not one each."""
    write_checklist(
        project, ("flow: transaction_failed", "flow: transaction_faild"), ("next: balance}", "next: balanse}")
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert problems_of(result, FLOW_FILE) == {
        f"data/flows/transaction_failed.yml:1: flow 'transaction_faild' is not a known intent; a flow is started by the intent of the same name ({', '.join(INTENTS)})",
        "data/flows/transaction_failed.yml:14: option '还是不行' of step 'network' goes to 'balanse', which is not a step of flow 'transaction_faild'; did you mean 'balance'?",
        "data/flows/transaction_failed.yml:15: flow 'transaction_faild' cannot reach 'balance', 'record', 'to_support' from start 'kind' while the way through 'balanse' is broken; fix that first",
    }


def test_a_situation_faq_id_must_name_an_entry(project):
    """A flow's `faq:` list names FAQ entries; a typo would silently read no question in the situation."""
    write_checklist(
        project,
        ("flow: transaction_failed\n", "flow: transaction_failed\nfaq: [find_order_number, find_order_numbr]\n"),
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 0  # a warning: the bot only loses that entry's place in the situation
    assert problems_of(result, FLOW_FILE) == {
        "data/flows/transaction_failed.yml:1: flow 'transaction_failed' names FAQ entry 'find_order_numbr' (faq or brief), which no file in data/faq defines"
    }


def test_an_unreachable_step_without_a_broken_way_is_reported_alone(project):
    write_checklist(project, ("next: balance}", "next: record}"))
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert problems_of(result, FLOW_FILE) == {
        "data/flows/transaction_failed.yml:15: step 'balance' of flow 'transaction_failed' is unreachable from start 'kind'"
    }


def test_files_with_errors_still_get_every_cross_file_check(project):
    """A broken step, an unknown action, brand and intent, a secret asked for: each reported once, nothing hidden."""
    (project / "data" / "flows" / "refund.yml").write_text(
        "flow: refund\ntitle: 退款\nstart: ask\nsteps:\n"
        "  ask:\n    say: {default: 请选择, acme: 请选}\n    action: lookup_refnd\n    options:\n"
        "      - {title: 查询, next: check}\n      - {title: 人工, next: human}\n"
        "  check:\n    say: 好的\n    next: done\n    resolved: 已解决\n"
        "  human:\n    escalate: {category: refund, priority: urgnt}\n"
        "  done:\n    resolved: 已解决\n",
        encoding="utf-8",
    )
    (project / "data" / "faq" / "zz_broken.yml").write_text(
        "topic: broken\nentries:\n  - id: broken_entry\n    question: 测试问题\n    alternatives: [一, 二, 三, 四, 五]\n"
        "    answer: 请把验证码发给我。\n    intent: weather\n    brands: [acme]\n",
        encoding="utf-8",
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    brands = "brands are generic, kdou, upay"
    assert problems_of(result, "data/flows/refund.yml", "data/faq/zz_broken.yml") == {
        "data/faq/zz_broken.yml:3: FAQ 'broken_entry' is for unknown brand 'acme'; " + brands,
        "data/faq/zz_broken.yml:3: FAQ 'broken_entry' names unknown intent 'weather'",
        "data/faq/zz_broken.yml:3: answer of FAQ 'broken_entry' asks the user for a secret ('请把验证码发给我'); support never asks for passwords, codes, CVV or card numbers",
        "data/faq/zz_broken.yml:5: unknown key 'alternatives' in FAQ entry; known keys are alternates, answer, brands, id, intent, question, tags",
        "data/faq/zz_broken.yml:3: FAQ entry 'broken_entry' has 0 alternates; write at least 5 so users' wordings are found",
        "data/flows/refund.yml:5: step 'ask' calls unknown action 'lookup_refnd'; known actions: check_maintenance_window",
        "data/flows/refund.yml:5: step 'ask' has a text for unknown brand 'acme'; " + brands,
        "data/flows/refund.yml:11: step 'check' must have exactly one of options, next, resolved, escalate, ends (found: next, resolved)",
        "data/flows/refund.yml:16: priority 'urgnt' of step 'human' must be one of low, normal, high, urgent",
        "data/flows/refund.yml:16: the escalation of step 'human' needs a 'summary' text for the agent, got None",
        "data/flows/refund.yml:17: flow 'refund' cannot reach 'done' from start 'ask' while the way through 'check' is broken; fix that first",
    }


def test_an_ends_leaf_needs_its_text_and_stands_alone(project):
    """`ends` stops a checklist without a ticket: it is a leaf of its own, with a non-empty text."""
    (project / "data" / "flows" / "refund.yml").write_text(
        "flow: refund\ntitle: 退款\nstart: ask\nsteps:\n"
        "  ask:\n    say: 要转人工吗？\n    options:\n"
        "      - {title: 要, next: stop}\n      - {title: 不要, next: later}\n"
        "  stop:\n    ends: 好的。\n    resolved: 已解决\n"
        "  later:\n    ends: ''\n",
        encoding="utf-8",
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    found = problems_of(result, "data/flows/refund.yml")
    assert any("step 'stop' must have exactly one of options, next, resolved, escalate, ends" in p for p in found)
    assert any("step 'later'" in p and "ends" in p for p in found), found


def test_a_duplicate_key_is_an_error_at_its_second_line(project):
    """PyYAML keeps the last of two equal keys silently: a second step `network` would replace the first."""
    write_checklist(project, ("  solved:\n", "  network:\n    resolved: 好了\n  solved:\n"))
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert problems_of(result, FLOW_FILE) == {
        "data/flows/transaction_failed.yml:23: key 'network' appears twice in the same mapping (first at line 10); the second would silently replace the first",
    }
    assert {p["code"] for p in json.loads(result.output)["problems"] if p["file"] == FLOW_FILE} == {"duplicate_key"}


def test_mistakes_that_used_to_pass_are_errors_at_their_line(project):
    write_checklist(
        project,
        ("start: kind", 'start: ""'),
        ("resolved: 太好了，交易成功了！", "resolved:"),
        ("{title: 提现, next: network}", "{title: 提现, match: [提现, no], next: network}"),
        (
            "{category: transaction_failed, priority: normal, summary: 交易失败}",
            "{category: " + "c" * 65 + ", summary: [a, b]}",
        ),
    )
    result = validate(project, "--format", "json")
    assert problems_of(result, FLOW_FILE) == {
        "data/flows/transaction_failed.yml:3: flow 'transaction_failed' needs 'start:' naming its first step",
        "data/flows/transaction_failed.yml:9: 'match' of option 2 of step 'kind' has False where words are expected; quote yes, no, on, off and numbers",
        "data/flows/transaction_failed.yml:24: 'resolved' of step 'solved' must be a text or a mapping of brand to text with a 'default'",
        "data/flows/transaction_failed.yml:26: category of step 'to_support' has 65 characters; the ticket column holds at most 64",
        "data/flows/transaction_failed.yml:26: the escalation of step 'to_support' needs a 'summary' text for the agent, got ['a', 'b']",
    }


def test_responses_of_the_wrong_shape_are_errors_not_crashes(project):
    path = project / "data" / "responses.yml"
    path.write_text(
        'responses: [您好]\nbuttons: [转人工]\nanswers:\n  "yes": [yes, 好了]\n  "no": 不行\n  skip: [跳过]\n',
        encoding="utf-8",
    )
    assert problems_of(validate(project, "--format", "json"), "data/responses.yml") == {
        "data/responses.yml:1: 'responses' must be a mapping of names to values, not a list",
        "data/responses.yml:2: 'buttons' must be a mapping of names to values, not a list",
        "data/responses.yml:4: 'answers.yes' has True where words are expected; quote yes, no, on, off and numbers",
        "data/responses.yml:5: 'answers.no' must be a list of words, not '不行'",
    }
    text = "responses:\n  greet:\n  thanks: {upay: 谢谢}\n  goodbye: []\nbuttons: {human: }\nanswers: {}\n"
    path.write_text(text, encoding="utf-8")
    problems = problems_of(validate(project, "--format", "json"), "data/responses.yml")
    must_be_text = "must be a text, a mapping of brand to text with a 'default', or a list of texts"
    assert {
        f"data/responses.yml:2: response 'greet' {must_be_text}",
        f"data/responses.yml:3: response 'thanks' {must_be_text}",
        f"data/responses.yml:4: response 'goodbye' {must_be_text}",
        "data/responses.yml:5: button label 'human' must be a non-empty text, got None",
        "data/responses.yml:6: 'answers.yes' is missing; it must be a list of words",
    } <= problems


def test_the_scam_file_is_validated_with_the_bots_loader(project):
    path = project / "data" / "safety" / "scam_patterns.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    - '"))  # the first pattern of the first kind
    lines.insert(at + 1, "    - '(安全'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    [problem] = [p for p in json.loads(result.output)["problems"] if p["file"] == "data/safety/scam_patterns.yml"]
    assert (problem["line"], problem["code"], problem["zh"]) == (
        at + 2,
        "scam_pattern",
        problem_texts()["scam_pattern"],
    )
    assert problem["message"].startswith("patterns.safe_account[1]: bad regex '(安全'")
    path.unlink()
    assert "data/safety/scam_patterns.yml:1: file missing" in validate(project).output


def test_problems_carry_a_chinese_gloss_in_text_and_json(project):
    path = project / "data" / "flows" / "limits.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("flow: limits", "flow: limitz"), encoding="utf-8")
    [line] = [line for line in validate(project).output.splitlines() if line.startswith("data/flows/limits.yml:")]
    assert line.endswith(" — " + problem_texts()["flow_intent"])
    report = json.loads(validate(project, "--format", "json").output)
    errors = [(p["code"], p["zh"]) for p in report["problems"] if p["severity"] == "error"]
    assert errors == [("flow_intent", problem_texts()["flow_intent"])]


def test_every_problem_code_has_a_chinese_gloss():
    sources = [
        "bot/content.py",
        "bot/content_checks.py",
        "bot/flows/model.py",
        "bot/flows/reader.py",
        "bot/flows/structure.py",
        "bot/faq/knowledge.py",
        "bot/nlu/training_data.py",
        "bot/yamlio.py",
    ]
    used = {
        code
        for name in sources
        for code in re.findall(r'(?:code=|error\()"([a-z0-9_]+)"', (PROJECT / name).read_text(encoding="utf-8"))
    }
    assert len(used) > 30
    assert used <= set(problem_texts()), used - set(problem_texts())
    assert (
        Problem("f.yml", 1, "x", "warning", code="few_examples").glossed().zh
        == "警告：" + problem_texts()["few_examples"]
    )


def test_an_example_under_two_intents_is_warned_at_its_line(project):
    (project / "data" / "nlu" / "zz_extra.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 多谢\n', encoding="utf-8"
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 0
    assert problems_of(result, "data/nlu/zz_extra.yml") == {
        "data/nlu/zz_extra.yml:3: example '多谢' appears under both 'thanks' (data/nlu/thanks.yml:3) and 'greet'"
    }


def test_cycle_without_exit(project):
    (project / "data" / "flows" / "refund.yml").write_text(
        "flow: refund\ntitle: 退款\nstart: a\nsteps:\n"
        "  a:\n    say: 甲\n    options:\n      - {title: 下一步, next: b}\n"
        "  b:\n    say: 乙\n    options:\n      - {title: 回去, next: a}\n",
        encoding="utf-8",
    )
    result = validate(project)
    assert result.exit_code == 1
    assert (
        "data/flows/refund.yml:5: step 'a' of flow 'refund' can never reach a resolved or escalate leaf"
        in result.output
    )


def test_brand_routes_are_checked_for_every_brand(project):
    """A brand's own order may not trap it in a cycle, name a missing step or an unknown brand."""
    write_checklist(
        project,
        ("start: kind", "start: {default: kind, acme: network}"),
        (
            "{title: 还是不行, means: no, next: balance}",
            "{title: 还是不行, means: no, next: {default: balance, upay: recrod}}",
        ),
        ("next: to_support", "next: {default: to_support, kdou: record}"),
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert problems_of(result, FLOW_FILE) == {
        "data/flows/transaction_failed.yml:1: flow 'transaction_failed' routes brand 'acme', which is not a brand; brands are generic, kdou, upay",
        "data/flows/transaction_failed.yml:14: option '还是不行' of step 'network' goes to 'recrod', which is not a step of flow 'transaction_failed'; did you mean 'record'?",
        "data/flows/transaction_failed.yml:20: step 'record' of flow 'transaction_failed' can never reach a resolved or escalate leaf for brand(s) kdou (a cycle without an exit)",
    }


def test_a_brand_route_without_default_is_an_error(project):
    write_checklist(
        project, ("{title: 还是不行, means: no, next: balance}", "{title: 还是不行, means: no, next: {kdou: balance}}")
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert any(
        "must be a step id or a mapping of brand to step id with a 'default'" in p
        for p in problems_of(result, FLOW_FILE)
    )


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
    path.write_text(
        path.read_text(encoding="utf-8").replace("我是{brand}智能助手", "我是{brnd}智能助手"), encoding="utf-8"
    )
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
    assert (
        "data/faq/zz_copy.yml:3: warning: FAQ 'copy_of_hours' wording '客服几点下班' is identical to '客服几点下班' of FAQ 'service_hours'"
        in result.output
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "fact"),
    [
        # a response-time promise no guide makes
        ("data/responses.yml", "人工客服会尽快跟进处理", "人工客服会在 24 小时内跟进处理", "24 小时"),
        # a menu path the guides never give
        (
            "data/flows/withdrawal_problem.yml",
            "提现的具体操作说明，可以先看看K豆钱包",
            "请在“我的钱包”页面操作。提现的具体操作说明，可以先看看K豆钱包",
            "我的钱包",
        ),
        # an amount and a time frame of its own
        ("data/faq/refund_policy.yml", "一般可能需要几天；", "一般需要3个工作日，手续费2元；", "3个工作日"),
    ],
)
def test_facts_no_guide_gives_are_errors(project, file, old, new, fact):
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    found = [p for p in json.loads(result.output)["problems"] if p["code"] == "unsourced_fact"]
    assert found and all(p["file"] == file for p in found)
    assert any(f"“{fact}”" in p["message"] for p in found)


def test_examples_and_the_bots_own_words_are_not_facts(project):
    from bot.provenance import unsourced

    known = "可能会花费几天时间，依平台而异。“忘记密码”"
    assert unsourced("金额是多少？（例如：5000元）", known, set()) == []
    assert unsourced("不清楚的可以点“跳过”。", known, {"跳过"}) == []
    assert unsourced("点击“忘记密码”，查看每一笔交易，可能需要几天时间", known, set()) == []
    assert unsourced("退款 7 天内到账，点“退款”", known, set()) == ["退款", "7 天"]


def test_unanswered_stubs_never_go_live(project):
    """The YAML the unanswered report writes is rejected as it stands, without --strict."""
    from bot.reports import UnansweredGroup, yaml_stubs

    groups = [
        UnansweredGroup(
            count=2,
            examples=["怎么开发票"],
            reasons={"fallback": 2},
            nearest_faq=None,
            nearest_score=0.0,
            texts=["怎么开发票", "开发票怎么弄"],
        )
    ]
    (project / "data" / "faq" / "zz_todo.yml").write_text(yaml_stubs(groups), encoding="utf-8")
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    stubs = [p for p in json.loads(result.output)["problems"] if p["code"] == "stub_text"]
    assert stubs and all(p["file"] == "data/faq/zz_todo.yml" and p["severity"] == "error" for p in stubs)


def test_a_placeholder_typo_in_a_question_is_an_error(project):
    path = project / "data" / "faq" / "contact.yml"
    text = path.read_text(encoding="utf-8")
    assert "question: 怎么联系{brand}客服？" in text
    path.write_text(
        text.replace("question: 怎么联系{brand}客服？", "question: 怎么联系{brnad}客服？"), encoding="utf-8"
    )
    result = validate(project, "--format", "json")
    assert result.exit_code == 1
    assert any(
        p["code"] == "unknown_placeholder" and "{brnad}" in p["message"] for p in json.loads(result.output)["problems"]
    )


def test_each_unset_brand_fact_is_warned_once_at_its_config_line(project):
    config = project / "config.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('phone: "<K豆钱包客服电话>"', 'phone: "400-000-0000"'), encoding="utf-8")
    problems = [
        p for p in json.loads(validate(project, "--format", "json").output)["problems"] if p["code"] == "unset_fact"
    ]
    named = [p["message"].split(" ")[0] for p in problems]
    assert len(named) == len(set(named))  # once each
    assert "brands.kdou.service_hours" in named and "brands.kdou.phone" not in named
    line = next(p["line"] for p in problems if p["message"].startswith("brands.upay.phone"))
    assert config.read_text(encoding="utf-8").splitlines()[line - 1].strip().startswith("phone:")


def test_solved_by_words_must_be_words(project):
    """`solved_by` (like `not_for`) is a list of quoted words: a number or a mapping is an error at its line."""
    write_checklist(project, ("start: kind\n", "start: kind\nsolved_by: [能付款了, {a: b}]\n"))
    found = problems_of(validate(project, "--format", "json"), FLOW_FILE)
    assert any(p.startswith(f"{FLOW_FILE}:4: 'solved_by' of flow 'transaction_failed' has {{'a'") for p in found), found

    write_checklist(project, ("start: kind\n", "start: kind\nsolved_by: [能付款了, 付款成功]\n"))
    assert problems_of(validate(project, "--format", "json"), FLOW_FILE) == set()
