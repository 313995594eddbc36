"""All content of `data/` loaded together and checked across files (`walletbot validate`).

Each loader reports its own file problems; the checks here need several files at once: flows
naming known intents, actions and brands, placeholders that exist, texts that never ask for a
secret, responses the dialogue policy needs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.registry import load_actions
from bot.config import Settings
from bot.content_snapshot import removed_faq_problems
from bot.faq.knowledge import FaqEntry, faq_files, is_text, read_faq
from bot.flows.model import Flow, flow_files, read_flows, read_words
from bot.nlu.normalize import normalize
from bot.nlu.replies import load_reply_data, reply_files
from bot.nlu.training_data import INTENTS, TrainingData, load_training_data, nlu_files
from bot.provenance import check_provenance
from bot.safety.scam import ScamPatterns, ScamPatternsError, load_scam_patterns
from bot.secret_requests import asks_for_secret
from bot.text import DEFAULT_KEY, PLACEHOLDERS, STUB_MARKER, Text, placeholders_in, variants
from bot.yamlio import LineDict, Problem, YamlFileError, load_content_file, load_yaml

RESPONSES_FILE = "responses.yml"
SCAM_PATTERNS_FILE = "safety/scam_patterns.yml"
CANNED_FILE = "console/canned_replies.yml"
KEY_REPLIES = "replies"
CANNED_KEYS = frozenset({"id", "title", "text"})
# Canned replies may also name the ticket, filled in by the console.
CANNED_VALUES = {"ticket"}
_CANNED_ID = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED_RESPONSES = (
    "greet",
    "goodbye",
    "thanks",
    "bot_challenge",
    "restart_done",
    "out_of_scope",
    "fallback",
    "clarify",
    "offer_human",
    "faq_helpful_prompt",
    "resolved_helpful_prompt",
    "feedback_thanks",
    "feedback_sorry",
    "flow_start",
    "flow_switch",
    "flow_resume_offer",
    "flow_resumed",
    "step_not_understood",
    "detail_retry",
    "collect_intro",
    "ticket_created",
    "ticket_exists",
    "human_handoff",
    "human_owned",
    "secret_warning",
    "scam_warning",
    "affirm_idle",
    "deny_idle",
    "maintenance_now",
    "give_up",
    "retract",
    "step_continue",
    "frustration",
    "complaint",
    "cause_found",
    "cannot_check",
    "how_long_unknown",
    "how_long_start_offer",
    "ticket_created_urgent",
    "ticket_updated",
    "ticket_noted",
    "details_added",
    "details_stopped",
    "handoff_collect_intro",
    "collect_continue",
    "contact_prompt",
    "handoff_summary",
    "handoff_summary_no_flow",
    "summary_user_words",
    "unset_website",
    "unset_phone",
    "unset_email",
    "unset_service_hours",
    "detail_corrected",
    "summary_problem",
    "summary_added",
)
REQUIRED_BUTTONS = ("human", "restart", "helpful", "not_helpful", "resume", "skip")
# Word lists the policy needs; others (resume, helpful, not_helpful…) are optional.
REQUIRED_ANSWERS = ("yes", "no", "skip")
MAX_ANSWER_CHARS = 600
NEAR_DUPLICATE = 0.8  # bigram Jaccard similarity above which two FAQ wordings compete
# Extra placeholders a response may use, filled by the policy itself.
RESPONSE_VALUES = {"title", "ticket", "window", "channel", "prompt", "words"}


@dataclass(frozen=True, slots=True)
class CannedReply:
    """A reply an agent can start from in the console (data/console/canned_replies.yml)."""

    id: str
    title: str
    text: Text


@dataclass(slots=True)
class Responses:
    texts: dict[str, Text]
    buttons: dict[str, str]
    answers: dict[str, list[str]]


@dataclass(slots=True)
class Content:
    flows: dict[str, Flow]
    faq: list[FaqEntry]
    responses: Responses
    training: TrainingData
    version: str = ""
    loaded_at: str = ""
    problems: list[Problem] = field(default_factory=list)
    scam_patterns: ScamPatterns | None = None  # None only when its file has errors
    canned: list[CannedReply] = field(default_factory=list)  # the console's canned replies

    def faq_for_intent(self, intent: str) -> FaqEntry | None:
        return next((e for e in self.faq if e.intent == intent), None)


def _display(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def load_responses(data_dir: Path, root: Path, problems: list[Problem]) -> Responses:
    path = data_dir / RESPONSES_FILE
    display = _display(path, root)
    empty = Responses({}, {}, {"yes": [], "no": [], "skip": []})
    if not path.is_file():
        problems.append(
            Problem(
                display, 1, "file missing: the bot's own phrases (greet, fallback, …) live here", code="file_missing"
            )
        )
        return empty
    try:
        doc = load_yaml(path, display)
    except YamlFileError as exc:
        problems.append(exc.problem)
        return empty
    if not isinstance(doc, LineDict):
        problems.append(
            Problem(display, 1, "must be a mapping with 'responses', 'buttons' and 'answers'", code="file_shape")
        )
        return empty
    texts, buttons, answers = (_section(doc, key, display, problems) for key in ("responses", "buttons", "answers"))
    for key in REQUIRED_RESPONSES:
        if texts is not None and key not in texts:
            problems.append(
                Problem(
                    display,
                    texts.line,
                    f"response '{key}' is missing; the dialogue policy needs it",
                    code="missing_response",
                )
            )
    for key in REQUIRED_BUTTONS:
        if buttons is not None and key not in buttons:
            problems.append(Problem(display, buttons.line, f"button label '{key}' is missing", code="missing_button"))
    for key in REQUIRED_ANSWERS:
        if answers is not None and key not in answers:
            problems.append(
                Problem(
                    display,
                    answers.line,
                    f"'answers.{key}' is missing; it must be a list of words",
                    code="answers_list",
                )
            )
    # A missing section's error is reported above; read it as empty from here on.
    texts, buttons, answers = (s if s is not None else LineDict() for s in (texts, buttons, answers))
    resolved: dict[str, Text] = {}
    for key, value in texts.items():
        # A text or a non-empty list of texts: the first is used (stable for tests and logs).
        if not (is_text(value) or isinstance(value, list) and value and all(map(is_text, value))):
            problems.append(
                Problem(
                    display,
                    texts.line_of(key),
                    f"response '{key}' must be a text, a mapping of brand to text with a 'default', or a list of texts",
                    code="bad_text",
                )
            )
            continue
        resolved[str(key)] = value = value[0] if isinstance(value, list) else value
        _check_text(value, display, texts.line_of(key), f"response '{key}'", problems, extra=RESPONSE_VALUES)
    labels: dict[str, str] = {}
    for key, label in buttons.items():
        if isinstance(label, str) and label.strip():
            labels[str(key)] = label
        else:
            problems.append(
                Problem(
                    display,
                    buttons.line_of(key),
                    f"button label '{key}' must be a non-empty text, got {label!r}",
                    code="missing_button",
                )
            )
    word_lists: dict[str, list[str]] = {}
    for key, value in answers.items():
        word_lists[str(key)], wrong = read_words(value)
        if wrong:
            problems.append(Problem(display, answers.line_of(key), f"'answers.{key}' {wrong}", code="answers_list"))
    return Responses(resolved, labels, word_lists)


def _section(doc: LineDict, key: str, display: str, problems: list[Problem]) -> LineDict | None:
    """One of responses/buttons/answers: a mapping, or None once its error is reported."""
    section = doc.get(key)
    if isinstance(section, LineDict):
        return section
    found = "it is missing" if key not in doc else "not a list" if isinstance(section, list) else f"not {section!r}"
    problems.append(
        Problem(display, doc.line_of(key), f"'{key}' must be a mapping of names to values, {found}", code="file_shape")
    )
    return None


def load_canned_replies(data_dir: Path, root: Path, problems: list[Problem]) -> list[CannedReply]:
    """data/console/canned_replies.yml (optional): agents' canned replies, checked like the
    bot's own texts (known placeholders, never asking for a secret). A bad item is skipped."""
    path = data_dir / CANNED_FILE
    display = _display(path, root)
    if not path.is_file():
        return []
    doc = load_content_file(
        path,
        display,
        problems,
        shape="must be a mapping with 'replies': a list of {id, title, text}",
        key=KEY_REPLIES,
        key_type=list,
    )
    if doc is None:
        return []
    items = doc[KEY_REPLIES]
    replies: list[CannedReply] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        line = items.line_of(index) if hasattr(items, "line_of") else 1
        if not isinstance(item, LineDict):
            problems.append(
                Problem(
                    display,
                    line,
                    "a canned reply must be a mapping with id, title and text; it is skipped",
                    code="canned_reply",
                )
            )
            continue
        reply_id, title, text = item.get("id"), item.get("title"), item.get("text")
        unknown = sorted(set(map(str, item)) - CANNED_KEYS)
        if unknown:
            problems.append(
                Problem(
                    display,
                    item.line_of(unknown[0]),
                    f"canned reply has unknown key '{unknown[0]}'; keys are id, title, text",
                    code="canned_reply",
                )
            )
        if not isinstance(reply_id, str) or not _CANNED_ID.match(reply_id):
            problems.append(
                Problem(
                    display,
                    item.line_of("id"),
                    f"canned reply id {reply_id!r} must be snake_case letters and digits, e.g. ask_screenshot; it is skipped",
                    code="canned_reply",
                )
            )
            continue
        if reply_id in seen:
            problems.append(
                Problem(
                    display,
                    item.line_of("id"),
                    f"duplicate canned reply id '{reply_id}'; it is skipped",
                    code="duplicate_id",
                )
            )
            continue
        if not (isinstance(title, str) and title.strip()) or not is_text(text):
            problems.append(
                Problem(
                    display,
                    item.line,
                    f"canned reply '{reply_id}' needs a 'title' and a 'text'; it is skipped",
                    code="canned_reply",
                )
            )
            continue
        seen.add(reply_id)
        before = len(problems)
        _check_text(text, display, item.line_of("text"), f"canned reply '{reply_id}'", problems, extra=CANNED_VALUES)
        if len(problems) == before:
            replies.append(CannedReply(reply_id, title.strip(), text))
    return replies


def load_scam_rules(data_dir: Path, root: Path, problems: list[Problem]) -> ScamPatterns | None:
    """data/safety/scam_patterns.yml, read by the guard's own loader; None when it is broken."""
    path = data_dir / SCAM_PATTERNS_FILE
    display = _display(path, root)
    if not path.is_file():
        problems.append(
            Problem(display, 1, "file missing: the scam phrases the bot warns about live here", code="file_missing")
        )
        return None
    try:
        load_yaml(path, display)  # syntax, encoding and duplicate keys, as for every file
        return load_scam_patterns(path)
    except YamlFileError as exc:
        problems.append(exc.problem)
    except ScamPatternsError as exc:
        problems.append(Problem(display, exc.line, exc.reason, code="scam_pattern"))
    return None


def _check_wording(text: str, file: str, line: int, what: str, problems: list[Problem]) -> None:
    """A user's wording (an FAQ question or alternate): no placeholder typos, no stub left."""
    unknown = placeholders_in(text) - PLACEHOLDERS
    if unknown:
        names = ", ".join("{" + u + "}" for u in sorted(unknown))
        problems.append(
            Problem(
                file,
                line,
                f"{what} uses unknown placeholder {names}; known: {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}",
                code="unknown_placeholder",
            )
        )
    if STUB_MARKER in text:
        problems.append(
            Problem(
                file, line, f"{what} is still a stub ({STUB_MARKER}…): write it before it goes live", code="stub_text"
            )
        )


def _check_text(
    text: Any,
    file: str,
    line: int,
    what: str,
    problems: list[Problem],
    extra: Set[str] = frozenset(),
    brands: set[str] | None = None,
) -> None:
    unknown = placeholders_in(text) - PLACEHOLDERS - extra
    if unknown:
        names = ", ".join("{" + u + "}" for u in sorted(unknown))
        known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS | extra))
        problems.append(
            Problem(file, line, f"{what} uses unknown placeholder {names}; known: {known}", code="unknown_placeholder")
        )
    if brands is not None and isinstance(text, dict):
        for key in text:
            if key != DEFAULT_KEY and key not in brands:
                problems.append(
                    Problem(
                        file,
                        line,
                        f"{what} has a text for unknown brand '{key}'; brands are {', '.join(sorted(brands))}",
                        code="unknown_brand",
                    )
                )
    for variant in variants(text):
        if STUB_MARKER in variant:
            problems.append(
                Problem(
                    file,
                    line,
                    f"{what} is still a stub ({STUB_MARKER}…): write the answer from the guides before it goes live",
                    code="stub_text",
                )
            )
        if (clause := asks_for_secret(variant)) is not None:
            problems.append(
                Problem(
                    file,
                    line,
                    f"{what} asks the user for a secret ({clause!r}); support never asks for passwords, codes, CVV or card numbers",
                    code="asks_secret",
                )
            )


def check_cross_references(
    flows: Iterable[Flow], faq: Iterable[FaqEntry], settings: Settings, problems: list[Problem]
) -> None:
    """Names and texts that other files or the config must know; flows and entries with errors included."""
    brands = set(settings.brands)
    actions = load_actions()
    for flow in flows:
        if flow.name not in INTENTS:
            problems.append(
                Problem(
                    flow.file,
                    flow.line,
                    f"flow '{flow.name}' is not a known intent; a flow is started by the intent of the same name ({', '.join(INTENTS)})",
                    code="flow_intent",
                )
            )
        for brand in sorted(flow.route_brands() - brands):
            problems.append(
                Problem(
                    flow.file,
                    flow.line,
                    f"flow '{flow.name}' routes brand '{brand}', which is not a brand; brands are {', '.join(sorted(brands))}",
                    code="unknown_brand",
                )
            )
        for detail in flow.details.values():
            _check_text(
                detail.prompt, flow.file, flow.line, f"prompt of detail '{detail.name}'", problems, brands=brands
            )
        for step in flow.steps.values():
            if step.action and step.action not in actions:
                problems.append(
                    Problem(
                        flow.file,
                        step.line,
                        f"step '{step.id}' calls unknown action '{step.action}'; known actions: {', '.join(sorted(actions))}",
                        code="unknown_action",
                    )
                )
            for text in (step.say, step.resolved, step.ends):
                if text is not None:
                    _check_text(text, flow.file, step.line, f"step '{step.id}'", problems, brands=brands)
            for option in step.options:
                _check_text(option.title, flow.file, option.line, f"option '{option.title}'", problems)
    for entry in faq:
        _check_text(entry.answer, entry.file, entry.line, f"answer of FAQ '{entry.id}'", problems, brands=brands)
        # The question is shown on clarification buttons; alternates go live as wordings.
        for wording in [entry.question, *entry.alternates]:
            _check_wording(wording, entry.file, entry.line, f"question of FAQ '{entry.id}'", problems)
        for text in variants(entry.answer):
            if len(text) > MAX_ANSWER_CHARS:
                problems.append(
                    Problem(
                        entry.file,
                        entry.line,
                        f"answer of FAQ '{entry.id}' has {len(text)} characters; keep it under {MAX_ANSWER_CHARS} (split the entry)",
                        "warning",
                        code="long_answer",
                    )
                )
        for brand in entry.brands or []:
            if brand not in brands:
                problems.append(
                    Problem(
                        entry.file,
                        entry.line,
                        f"FAQ '{entry.id}' is for unknown brand '{brand}'; brands are {', '.join(sorted(brands))}",
                        code="unknown_brand",
                    )
                )
        if entry.intent and entry.intent not in INTENTS:
            problems.append(
                Problem(
                    entry.file,
                    entry.line,
                    f"FAQ '{entry.id}' names unknown intent '{entry.intent}'",
                    code="unknown_intent",
                )
            )


def _bigrams(text: str) -> set[str]:
    bare = re.sub(r"[\s\W_]+", "", normalize(text))
    return {bare[i : i + 2] for i in range(len(bare) - 1)} or {bare}


def check_competing_wordings(faq: list[FaqEntry], problems: list[Problem], threshold: float = NEAR_DUPLICATE) -> None:
    """Warn when an entry's wording is (nearly) another entry's: the two would compete."""
    wordings = [(entry, text, _bigrams(text)) for entry in faq for text in entry.texts()]
    for i, (entry, text, grams) in enumerate(wordings):
        for other, other_text, other_grams in wordings[i + 1 :]:
            if other.id == entry.id or not grams or not other_grams:
                continue
            similarity = len(grams & other_grams) / len(grams | other_grams)
            if similarity >= threshold:
                problems.append(
                    Problem(
                        other.file,
                        other.line,
                        f"FAQ '{other.id}' wording {other_text!r} is {'identical' if similarity == 1 else 'nearly identical'} "
                        f"to {text!r} of FAQ '{entry.id}' ({entry.file}:{entry.line}); they compete: reword one or merge the entries",
                        "warning",
                        code="competing_wording",
                    )
                )


def content_version(data_dir: Path) -> str:
    """A short hash of every content file: shown in the console, changes with any edit."""
    digest = hashlib.sha256()
    paths = (
        nlu_files(data_dir)
        + reply_files(data_dir)
        + faq_files(data_dir)
        + flow_files(data_dir)
        + [data_dir / RESPONSES_FILE, data_dir / SCAM_PATTERNS_FILE]
    )
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_content(settings: Settings, *, lint: bool = True) -> Content:
    """Everything in data/; `content.problems` lists errors and warnings (callers decide).

    lint=False skips the slower warning-only checks: the running server reloads without them.
    """
    data_dir, root = settings.data_dir, settings.root
    problems: list[Problem] = []
    training, nlu_problems = load_training_data(data_dir, root)
    problems += nlu_problems
    problems += load_reply_data(data_dir, root, training)[1]
    all_faq, faq_problems = read_faq(data_dir, root)
    problems += faq_problems
    problems += removed_faq_problems(settings, all_faq)
    all_flows, flow_problems = read_flows(data_dir, root)
    problems += flow_problems
    responses = load_responses(data_dir, root, problems)
    scam_patterns = load_scam_rules(data_dir, root, problems)
    canned = load_canned_replies(data_dir, root, problems)
    faq = [entry for entry in all_faq if entry.valid]
    flows = {flow.name: flow for flow in all_flows if flow.valid}
    content = Content(
        flows,
        faq,
        responses,
        training,
        content_version(data_dir),
        datetime.now(UTC).isoformat(timespec="seconds"),
        scam_patterns=scam_patterns,
        canned=canned,
    )
    # Checked with their errors: one mistake in a file must not hide the others.
    check_cross_references(all_flows, all_faq, settings, problems)
    if lint:
        check_competing_wordings(faq, problems)
        check_unset_facts(settings, problems)
        check_provenance(
            all_flows, all_faq, responses.texts, _own_words(all_flows, responses, scam_patterns), settings, problems
        )
    # By file and line, as an editor fixes them; the sort is stable, so a file's follow-ups stay in order.
    content.problems = sorted((problem.glossed() for problem in problems), key=lambda p: (p.file, p.line))
    return content


def check_unset_facts(settings: Settings, problems: list[Problem], config_name: str = "config.yml") -> None:
    """One warning per brand fact a deployment has not set: the bot says where to find it instead."""
    path = settings.root / config_name
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def line_of(brand: str, fact: str) -> int:
        inside = False
        for number, line in enumerate(lines, start=1):
            if re.match(rf"^\s+{re.escape(brand)}:\s*$", line):
                inside = True
            elif inside and re.match(rf"^\s+{fact}:", line):
                return number
        return 1

    for key, brand in settings.brands.items():
        for fact in brand.unset_facts():
            problems.append(
                Problem(
                    config_name,
                    line_of(key, fact),
                    f"brands.{key}.{fact} is not set (the guides give none): the bot shows the response "
                    f"'unset_{fact}' instead; set the deployment's real value here",
                    "warning",
                    code="unset_fact",
                )
            )


def _own_words(flows: Iterable[Flow], responses: Responses, scam_patterns: ScamPatterns | None) -> set[str]:
    """What the bot may quote without a source: its button titles, the words it asks users to
    type, and the terms of its scam warnings."""
    words = set(responses.buttons.values()) | {w for ws in responses.answers.values() for w in ws}
    words |= {option.title for flow in flows for step in flow.steps.values() for option in step.options}
    quoted = {
        q for texts in responses.texts.values() for t in variants(texts) for q in re.findall(r"“([^“”]{1,20})”", t)
    }
    return words | _scam_terms(scam_patterns, quoted)


def _scam_terms(patterns: ScamPatterns | None, candidates: Iterable[str]) -> set[str]:
    """The candidates a scam pattern names in full (安全账户): words of the bot's warnings."""
    if patterns is None:
        return set()
    return {c for c in candidates if any(pattern.search(c) for _, pattern in patterns.rules)}


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
