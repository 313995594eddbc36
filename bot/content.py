"""All content of `data/` loaded together and checked across files (`walletbot validate`).

Each loader reports its own file problems (here: responses, canned replies, scam patterns; the
others in their package); the checks that need several files at once (flows naming known
intents, actions and brands, placeholders that exist, texts that never ask for a secret) are in
bot.content_checks, and `load_content` runs them all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.content_checks import (
    check_competing_wordings,
    check_cross_references,
    check_text,
    check_unset_facts,
    own_words,
)
from bot.content_snapshot import removed_faq_problems
from bot.faq.knowledge import FaqEntry, faq_files, is_text, read_faq
from bot.flows.model import Flow, flow_files, read_flows, read_words
from bot.nlu.replies import load_reply_data, reply_files
from bot.nlu.training_data import TrainingData, load_training_data, nlu_files
from bot.provenance import check_provenance
from bot.safety.scam import ScamPatterns, ScamPatternsError, load_scam_patterns
from bot.text import Text
from bot.yamlio import LineDict, Problem, YamlFileError, load_content_file, load_yaml

RESPONSES_FILE = "responses.yml"
SCAM_PATTERNS_FILE = "safety/scam_patterns.yml"
COMPROMISE_FILE = "safety/compromise.yml"
# Problems that leave a file unread as a whole.
UNREADABLE = frozenset({"invalid_yaml", "not_utf8", "unreadable", "duplicate_key", "file_shape"})
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
    "secret_offer",
    "scam_warning",
    "done_ask",
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
    # Signs that someone else is in the account (a purchase the user did not make): read as the
    # stolen-account problem whatever the classifier says. None only when its file has errors.
    compromise: ScamPatterns | None = None
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
    for section, required, missing, code in (
        (texts, REQUIRED_RESPONSES, "response '{}' is missing; the dialogue policy needs it", "missing_response"),
        (buttons, REQUIRED_BUTTONS, "button label '{}' is missing", "missing_button"),
        (answers, REQUIRED_ANSWERS, "'answers.{}' is missing; it must be a list of words", "answers_list"),
    ):
        if section is not None:
            problems.extend(
                Problem(display, section.line, missing.format(key), code=code) for key in required if key not in section
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
        check_text(value, display, texts.line_of(key), f"response '{key}'", problems, extra=RESPONSE_VALUES)
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
        check_text(text, display, item.line_of("text"), f"canned reply '{reply_id}'", problems, extra=CANNED_VALUES)
        if len(problems) == before:
            replies.append(CannedReply(reply_id, title.strip(), text))
    return replies


def load_scam_rules(
    data_dir: Path, root: Path, problems: list[Problem], name: str = SCAM_PATTERNS_FILE
) -> ScamPatterns | None:
    """A phrase file of data/safety/ (the scam phrases, or the signs of a compromised account),
    read by the guard's own loader; None when it is broken."""
    path = data_dir / name
    display = _display(path, root)
    if not path.is_file():
        what = "the scam phrases the bot warns about" if name == SCAM_PATTERNS_FILE else "these phrases"
        problems.append(Problem(display, 1, f"file missing: {what} live here", code="file_missing"))
        return None
    try:
        load_yaml(path, display)  # syntax, encoding and duplicate keys, as for every file
        return load_scam_patterns(path)
    except YamlFileError as exc:
        problems.append(exc.problem)
    except ScamPatternsError as exc:
        problems.append(Problem(display, exc.line, exc.reason, code="scam_pattern"))
    return None


def content_version(data_dir: Path) -> str:
    """A short hash of every content file: shown in the console, changes with any edit."""
    digest = hashlib.sha256()
    paths = (
        nlu_files(data_dir)
        + reply_files(data_dir)
        + faq_files(data_dir)
        + flow_files(data_dir)
        + [data_dir / RESPONSES_FILE, data_dir / SCAM_PATTERNS_FILE, data_dir / COMPROMISE_FILE]
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
    compromise = load_scam_rules(data_dir, root, problems, COMPROMISE_FILE)
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
        compromise=compromise,
        canned=canned,
    )
    # Checked with their errors: one mistake in a file must not hide the others.
    # A FAQ file that could not be read at all hides its ids: no flow is blamed for naming them.
    unread_faq = {p.file for p in faq_problems if p.code in UNREADABLE}
    check_cross_references(all_flows, all_faq, settings, problems, faq_complete=not unread_faq)
    if lint:
        check_competing_wordings(faq, problems)
        check_unset_facts(settings, problems)
        check_provenance(
            all_flows, all_faq, responses.texts, own_words(all_flows, responses, scam_patterns), settings, problems
        )
    # By file and line, as an editor fixes them; the sort is stable, so a file's follow-ups stay in order.
    content.problems = sorted((problem.glossed() for problem in problems), key=lambda p: (p.file, p.line))
    return content


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
