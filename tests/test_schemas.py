"""JSON Schemas of the content formats (schemas/*.json): valid, matched by the shipped data, and
in step with the real checks.

The schemas give editors hover help and squiggles for the shape of one file; `walletbot validate`
(bot.content.load_content) stays the authority and also runs the checks across files. So:

- every shipped file validates against its schema (draft 2020-12);
- the schemas name the same keys and closed sets as the loaders' constants;
- for a set of deliberate shape mistakes, each made in a copy of a shipped file, BOTH the schema
  and the real validator reject it. The real validator is `walletbot validate`; for
  data/safety/scam_patterns.yml also bot.safety.scam.load_scam_patterns, which `walletbot validate`
  reuses and the bot runs at start-up;
- there are no known differences left (the schema rejects, the validator accepts): a new one is
  fixed in the validator (or the schema), never hidden behind an xfail.

Unknown keys: the loaders reject them in FAQ entries, flows (top level, steps, options,
escalations, details) and the scam file; the schemas say `additionalProperties: false` there. The
loaders ignore unknown keys silently at the top level of FAQ, NLU and responses files, in NLU
items (Rasa's own `metadata`, for one) and among responses/buttons/answers keys; the schemas
mirror that and allow them (a typo there still fails: the key it should have been is required,
or the NLU item has no kind).
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from engine_fixtures import PROJECT
from jsonschema import Draft202012Validator

from bot import content as content_module
from bot.cli import main
from bot.faq import knowledge
from bot.flows import model as flows_model
from bot.nlu import replies, training_data
from bot.safety.scam import ScamPatternsError, load_scam_patterns
from bot.store.models import Ticket

SCHEMAS = PROJECT / "schemas"
DATA = PROJECT / "data"

# Which schema each content file follows (globs relative to data/); the loaders read *.yaml too.
FORMATS: dict[str, tuple[str, ...]] = {
    "nlu": ("nlu/*.yml", "nlu/*.yaml"),
    "replies": ("replies/*.yml", "replies/*.yaml"),
    "faq": ("faq/*.yml", "faq/*.yaml"),
    "flow": ("flows/*.yml", "flows/*.yaml"),
    "responses": ("responses.yml",),
    "scam_patterns": ("safety/scam_patterns.yml", "safety/compromise.yml"),
    "canned_replies": ("console/canned_replies.yml",),
}


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def read_yaml(path: Path) -> Any:
    # PyYAML, as the bot reads it (YAML 1.1: unquoted yes/no/on/off are booleans).
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def shipped_files() -> list[tuple[str, Path]]:
    return [(name, path) for name, globs in FORMATS.items() for pattern in globs for path in sorted(DATA.glob(pattern))]


def schema_errors(name: str, doc: Any) -> set[tuple[str, str]]:
    return {("/".join(map(str, e.absolute_path)), e.message) for e in validator(name).iter_errors(doc)}


# --------------------------------------------------------------------------- the schemas themselves


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_schema_is_a_valid_draft_2020_12_schema(name):
    doc = schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert doc["title"] and doc["description"]


def _described(node: Any, root: dict[str, Any], where: str, missing: list[str]) -> None:
    """Every property (and the value schema of every open mapping) carries a description for hover help."""
    if isinstance(node, list):
        for i, child in enumerate(node):
            _described(child, root, f"{where}/{i}", missing)
        return
    if not isinstance(node, dict):
        return
    for key, child in node.get("properties", {}).items():
        target = child
        if "description" not in child and "$ref" in child:
            target = root["$defs"][child["$ref"].rsplit("/", 1)[1]]
        if "description" not in target:
            missing.append(f"{where}/properties/{key}")
    for key, child in node.items():
        if key != "enum":
            _described(child, root, f"{where}/{key}", missing)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_field_has_a_description(name):
    doc = schema(name)
    missing: list[str] = []
    _described(doc, doc, "", missing)
    assert missing == []


def test_schemas_know_the_loaders_keys_and_closed_sets():
    """Adding a key or a value in the Python loaders must be mirrored in the schemas."""
    faq, flow, responses, scam = schema("faq"), schema("flow"), schema("responses"), schema("scam_patterns")
    assert set(faq["$defs"]["entry"]["properties"]) == knowledge.ENTRY_KEYS
    assert set(faq["$defs"]["entry"]["required"]) == {knowledge.KEY_ID, knowledge.KEY_QUESTION, knowledge.KEY_ANSWER}
    assert faq["$defs"]["entry"]["properties"]["id"]["pattern"] == knowledge._ID.pattern
    defs = flow["$defs"]
    assert set(flow["properties"]) == flows_model.FLOW_KEYS
    assert flow["properties"]["flow"]["pattern"] == flows_model._NAME.pattern
    assert set(defs["step"]["properties"]) == flows_model.STEP_KEYS
    assert [branch["required"] for branch in defs["step"]["oneOf"]] == [[kind] for kind in flows_model.KINDS]
    assert set(defs["option"]["properties"]) == flows_model.OPTION_KEYS
    assert set(defs["escalation"]["properties"]) == {
        flows_model.KEY_CATEGORY,
        flows_model.KEY_PRIORITY,
        flows_model.KEY_SUMMARY,
    }
    assert defs["escalation"]["properties"]["priority"]["enum"] == list(flows_model.PRIORITIES)
    assert set(defs["detail"]["properties"]) == {flows_model.KEY_PROMPT, flows_model.KEY_ENTITY}
    assert defs["detail"]["properties"]["entity"]["enum"] == [*flows_model.DETAIL_ENTITIES, None]
    props = responses["properties"]
    assert props["responses"]["required"] == list(content_module.REQUIRED_RESPONSES)
    assert props["buttons"]["required"] == list(content_module.REQUIRED_BUTTONS)
    assert props["answers"]["required"] == list(content_module.REQUIRED_ANSWERS)
    assert set(scam["properties"]) == {"patterns", "questions", "denials", "version"}
    canned = schema("canned_replies")
    assert set(canned["properties"]) == {content_module.KEY_REPLIES}
    assert set(canned["$defs"]["reply"]["properties"]) == content_module.CANNED_KEYS
    assert canned["$defs"]["reply"]["properties"]["id"]["pattern"] == content_module._CANNED_ID.pattern
    # The ticket column the category goes into.
    assert (
        defs["escalation"]["properties"]["category"]["maxLength"]
        == flows_model.MAX_CATEGORY
        == Ticket.__table__.c.category.type.length
    )
    nlu = schema("nlu")
    assert nlu["properties"]["version"]["enum"] == list(training_data.VERSIONS)
    assert [branch["required"] for branch in nlu["$defs"]["item"]["oneOf"]] == [[kind] for kind in training_data.KINDS]
    assert schema("replies")["$defs"]["item"]["properties"]["intent"]["enum"] == list(replies.REPLY_KINDS)


# --------------------------------------------------------------------------- (a) shipped content


def test_every_yaml_file_in_data_has_a_schema():
    covered = {path for _, path in shipped_files()}
    yaml_files = {p for p in DATA.rglob("*") if p.suffix in (".yml", ".yaml")}
    assert yaml_files - covered == set()
    assert {name for name, _ in shipped_files()} == set(FORMATS)


@pytest.mark.parametrize(
    ("name", "path"), shipped_files(), ids=lambda v: str(v.relative_to(DATA)) if isinstance(v, Path) else v
)
def test_shipped_file_matches_its_schema(name, path):
    assert schema_errors(name, read_yaml(path)) == set()


# --------------------------------------------------------------------------- (b) same verdict as the validator


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of config.yml and data/ that a test may break."""
    shutil.copy(PROJECT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    return tmp_path


def validate_errors(project: Path, file: str) -> set[str]:
    """Codes of the errors `walletbot validate` reports for data/<file>."""
    result = CliRunner().invoke(main, ["--config", str(project / "config.yml"), "validate", "--format", "json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    problems = json.loads(result.output)["problems"]
    return {p["code"] for p in problems if p["file"] == f"data/{file}" and p["severity"] == "error"}


def scam_loader_rejects(path: Path) -> bool:
    try:
        load_scam_patterns(path)
    except ScamPatternsError:
        return True
    return False


# Edits of a parsed shipped file. They find what they change (the first step with options, …)
# rather than naming it, so that the shipped content may change under them.


def step_with(doc: dict, kind: str) -> dict:
    return next(step for step in doc["steps"].values() if kind in step)


def first_entry(doc: dict) -> dict:
    return doc["entries"][0]


def first_intent_item(doc: dict) -> dict:
    return next(item for item in doc["nlu"] if "intent" in item)


def rename(node: dict, old: str, new: str) -> None:
    node[new] = node.pop(old)


Edit = Callable[[Any], None]

FAQ, FLOW, NLU, RESPONSES, SCAM = (
    "faq/contact.yml",
    "flows/topup_problem.yml",
    "nlu/refund.yml",
    "responses.yml",
    "safety/scam_patterns.yml",
)
SCHEMA_OF = {FAQ: "faq", FLOW: "flow", NLU: "nlu", RESPONSES: "responses", SCAM: "scam_patterns"}

# (file, edit, error code `walletbot validate` reports)
MISTAKES: dict[str, tuple[str, Edit, str | None]] = {
    "faq entry without answer": (FAQ, lambda d: first_entry(d).pop("answer"), "bad_text"),
    "faq entry with unknown key": (FAQ, lambda d: rename(first_entry(d), "alternates", "alternatives"), "unknown_key"),
    "faq id not snake_case": (FAQ, lambda d: first_entry(d).update(id="Contact-Channels"), "faq_id"),
    "faq entry without question": (FAQ, lambda d: first_entry(d).pop("question"), "faq_entry"),
    "faq alternates not a list": (FAQ, lambda d: first_entry(d).update(alternates="客服电话是多少"), "faq_entry"),
    "faq brands not a list": (FAQ, lambda d: first_entry(d).update(brands="upay"), "faq_entry"),
    "faq answer by brand without default": (
        FAQ,
        lambda d: first_entry(d).update(answer={"upay": "请联系客服。"}),
        "bad_text",
    ),
    "faq entries not a list": (FAQ, lambda d: d.update(entries={"id": "x"}), "file_shape"),
    "flow with unknown top-level key": (FLOW, lambda d: rename(d, "title", "titel"), "unknown_key"),
    "flow without start": (FLOW, lambda d: d.pop("start"), "flow_no_start"),
    "flow name not snake_case": (FLOW, lambda d: d.update(flow="Topup Problem"), "flow_name"),
    "flow without steps": (FLOW, lambda d: d.update(steps={}), "flow_no_steps"),
    "step with unknown key": (FLOW, lambda d: rename(step_with(d, "options"), "say", "sya"), "unknown_key"),
    "step with both options and next": (
        FLOW,
        lambda d: step_with(d, "options").update(next=step_with(d, "options")["options"][0]["next"]),
        "step_shape",
    ),
    "step with none of options, next, resolved, escalate": (
        FLOW,
        lambda d: step_with(d, "resolved").update(say=step_with(d, "resolved").pop("resolved")),
        "step_shape",
    ),
    "question step without say": (FLOW, lambda d: step_with(d, "options").pop("say"), "step_no_say"),
    "say by brand without default": (
        FLOW,
        lambda d: step_with(d, "options").update(say={"upay": "成功了吗？"}),
        "bad_text",
    ),
    "empty options": (FLOW, lambda d: step_with(d, "options").update(options=[]), "option_invalid"),
    "option without next": (FLOW, lambda d: step_with(d, "options")["options"][0].pop("next"), "option_invalid"),
    "option with unknown key": (
        FLOW,
        lambda d: rename(step_with(d, "options")["options"][0], "next", "goto"),
        "option_invalid",
    ),
    "means neither yes nor no": (FLOW, lambda d: step_with(d, "options")["options"][0].update(means="maybe"), "means"),
    "bad priority": (FLOW, lambda d: step_with(d, "escalate")["escalate"].update(priority="urgnt"), "priority"),
    "escalation without category": (
        FLOW,
        lambda d: step_with(d, "escalate")["escalate"].pop("category"),
        "escalate_invalid",
    ),
    "escalation not a mapping": (
        FLOW,
        lambda d: step_with(d, "escalate").update(escalate="topup_problem"),
        "escalate_invalid",
    ),
    "collect on a step that does not escalate": (
        FLOW,
        lambda d: step_with(d, "options").update(collect=["time"]),
        "collect_invalid",
    ),
    "collect not a list": (FLOW, lambda d: step_with(d, "escalate").update(collect="time"), "collect_invalid"),
    "detail with unknown entity": (
        FLOW,
        lambda d: next(iter(d["details"].values())).update(entity="date"),
        "detail_entity",
    ),
    "detail without prompt": (FLOW, lambda d: next(iter(d["details"].values())).pop("prompt"), "detail_invalid"),
    "nlu examples not a string": (
        NLU,
        lambda d: first_intent_item(d).update(examples={"text": "退款"}),
        "nlu_examples",
    ),
    "nlu item without examples": (NLU, lambda d: first_intent_item(d).pop("examples"), "nlu_item"),
    "nlu item of no kind": (NLU, lambda d: rename(first_intent_item(d), "intent", "intnet"), "nlu_item"),
    "nlu not a list": (NLU, lambda d: d.update(nlu={"intent": "refund"}), "file_shape"),
    "missing required response": (RESPONSES, lambda d: d["responses"].pop("greet"), "missing_response"),
    "missing button label": (RESPONSES, lambda d: d["buttons"].pop("human"), "missing_button"),
    "answers.yes not a list": (RESPONSES, lambda d: d["answers"].update(yes="好了"), "answers_list"),
    "optional answers list not a list": (RESPONSES, lambda d: d["answers"].update(resume="继续"), "answers_list"),
    "scam file with unknown key": (SCAM, lambda d: rename(d, "patterns", "pattern"), "scam_pattern"),
    "scam kind not snake_case": (
        SCAM,
        lambda d: rename(d["patterns"], next(iter(d["patterns"])), "SafeAccount"),
        "scam_pattern",
    ),
    "scam kind with empty list": (
        SCAM,
        lambda d: d["patterns"].update({next(iter(d["patterns"])): []}),
        "scam_pattern",
    ),
    "blank scam regex": (SCAM, lambda d: next(iter(d["patterns"].values())).append("  "), "scam_pattern"),
    # Formerly known gaps (the validator accepted them, or crashed):
    "empty start": (FLOW, lambda d: d.update(start=""), "flow_no_start"),
    "empty resolved text": (FLOW, lambda d: step_with(d, "resolved").update(resolved=None), "bad_text"),
    "empty match": (FLOW, lambda d: step_with(d, "options")["options"][0].update(match=None), "option_invalid"),
    "match word a YAML boolean": (
        FLOW,
        lambda d: step_with(d, "options")["options"][0].update(match=["不行", False]),
        "option_invalid",
    ),
    "escalation without summary": (
        FLOW,
        lambda d: step_with(d, "escalate")["escalate"].pop("summary"),
        "escalate_invalid",
    ),
    "summary not a text": (
        FLOW,
        lambda d: step_with(d, "escalate")["escalate"].update(summary=["a", "b"]),
        "escalate_invalid",
    ),
    "category longer than the ticket column": (
        FLOW,
        lambda d: step_with(d, "escalate")["escalate"].update(category="c" * 65),
        "escalate_invalid",
    ),
    "faq tags not a list": (FAQ, lambda d: first_entry(d).update(tags="contact"), "faq_entry"),
    "faq alternate a YAML boolean": (FAQ, lambda d: first_entry(d)["alternates"].append(True), "faq_entry"),
    "nlu item with two kinds": (NLU, lambda d: first_intent_item(d).update(synonym="退钱"), "nlu_item"),
    "nlu example line without '- '": (
        NLU,
        lambda d: first_intent_item(d).update(examples=first_intent_item(d)["examples"] + "退款到哪了\n"),
        "nlu_examples",
    ),
    "nlu examples list with a non-text": (
        NLU,
        lambda d: first_intent_item(d).update(examples=["退款", True]),
        "nlu_examples",
    ),
    "nlu version unknown": (NLU, lambda d: d.update(version="3.9"), "nlu_version"),
    "nlu version not quoted": (NLU, lambda d: d.update(version=3.1), "nlu_version"),
    "empty response": (RESPONSES, lambda d: d["responses"].update(greet=None), "bad_text"),
    "empty list of responses": (RESPONSES, lambda d: d["responses"].update(greet=[]), "bad_text"),
    "response by brand without default": (
        RESPONSES,
        lambda d: d["responses"].update(greet={"upay": "您好"}),
        "bad_text",
    ),
    "empty button label": (RESPONSES, lambda d: d["buttons"].update(human=None), "missing_button"),
    "answers word a YAML boolean": (RESPONSES, lambda d: d["answers"]["yes"].append(True), "answers_list"),
    "answers word a number": (RESPONSES, lambda d: d["answers"]["skip"].append(0), "answers_list"),
    "buttons not a mapping": (RESPONSES, lambda d: d.update(buttons=["转人工"]), "file_shape"),
    "responses not a mapping": (RESPONSES, lambda d: d.update(responses=["您好"]), "file_shape"),
    "answers not a mapping": (RESPONSES, lambda d: d.update(answers=[["好了"]]), "file_shape"),
}


def _check_both_reject(project: Path, file: str, edit: Edit, code: str) -> None:
    path = project / "data" / file
    original = read_yaml(path)
    broken = copy.deepcopy(original)
    edit(broken)
    path.write_text(yaml.safe_dump(broken, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # Both judge the same bytes: the file as written, read back.
    name = SCHEMA_OF[file]
    new_schema_errors = schema_errors(name, read_yaml(path)) - schema_errors(name, original)
    assert new_schema_errors, "the schema accepts the mistake"
    if file == SCAM:
        assert scam_loader_rejects(path), "bot.safety.scam.load_scam_patterns accepts the mistake"
    assert code in validate_errors(project, file), f"`walletbot validate` reports no '{code}' error"


@pytest.mark.parametrize("case", list(MISTAKES))
def test_schema_and_validator_both_reject(project, case):
    _check_both_reject(project, *MISTAKES[case])


def test_the_edits_leave_a_valid_file_when_they_change_nothing(project):
    """Writing a file back through PyYAML keeps it valid: the errors above come from the edits."""
    for file in SCHEMA_OF:
        path = project / "data" / file
        path.write_text(yaml.safe_dump(read_yaml(path), allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert not scam_loader_rejects(project / "data" / SCAM)
    result = CliRunner().invoke(main, ["--config", str(project / "config.yml"), "validate", "--format", "json"])
    assert json.loads(result.output)["errors"] == 0, result.output


def test_validate_reports_a_broken_scam_file_with_its_line(project):
    """The bot would not start with it: `walletbot validate` says so first, as file:line with a gloss."""
    path = project / "data" / SCAM
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\npatterns:", "\npattern:", 1), encoding="utf-8")
    assert scam_loader_rejects(path)
    result = CliRunner().invoke(main, ["--config", str(project / "config.yml"), "validate"])
    assert result.exit_code == 1
    line = text[: text.index("\npatterns:")].count("\n") + 2
    assert (
        f"data/{SCAM}:{line}: unknown key 'pattern'; expected 'patterns' (and optionally 'questions', 'denials', 'version'). — "
        in result.output
    )
