"""The checks of `data/` that need several files, or the config, at once (run by
bot.content.load_content after every file is read): flows naming known intents, actions and
brands; placeholders that exist; texts that never ask for a secret nor stay a stub; FAQ wordings
that compete; brand facts a deployment has not set; and the words the bot may quote without a
source (for bot.provenance).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from typing import TYPE_CHECKING, Any

from actions.registry import load_actions
from bot.config import Settings
from bot.faq.knowledge import FaqEntry
from bot.flows.model import Flow
from bot.nlu.normalize import normalize
from bot.nlu.training_data import INTENTS
from bot.safety.scam import ScamPatterns
from bot.secret_requests import asks_for_secret
from bot.text import DEFAULT_KEY, PLACEHOLDERS, STUB_MARKER, placeholders_in, variants
from bot.yamlio import Problem

if TYPE_CHECKING:
    from bot.content import Responses

MAX_ANSWER_CHARS = 600
NEAR_DUPLICATE = 0.8  # bigram Jaccard similarity above which two FAQ wordings compete


def check_wording(text: str, file: str, line: int, what: str, problems: list[Problem]) -> None:
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


def check_text(
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
    flows: Iterable[Flow],
    faq: Iterable[FaqEntry],
    settings: Settings,
    problems: list[Problem],
    *,
    faq_complete: bool = True,
) -> None:
    """Names and texts that other files or the config must know; flows and entries with errors
    included. `faq_complete`: False when a FAQ file could not be read, so its ids are unknown."""
    brands = set(settings.brands)
    actions = load_actions()
    faq = list(faq)
    entry_ids = {entry.id for entry in faq}
    for flow in flows:
        for entry_id in [*flow.faq, *([flow.brief] if flow.brief else [])] if faq_complete else ():
            if entry_id not in entry_ids:
                problems.append(
                    Problem(
                        flow.file,
                        flow.line,
                        f"flow '{flow.name}' names FAQ entry '{entry_id}' (faq or brief), which no file in data/faq defines",
                        severity="warning",  # the bot only loses that entry's place in the situation
                        code="unknown_faq",
                    )
                )
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
            check_text(
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
                    check_text(text, flow.file, step.line, f"step '{step.id}'", problems, brands=brands)
            for option in step.options:
                check_text(option.title, flow.file, option.line, f"option '{option.title}'", problems)
    for entry in faq:
        check_text(entry.answer, entry.file, entry.line, f"answer of FAQ '{entry.id}'", problems, brands=brands)
        # The question is shown on clarification buttons; alternates go live as wordings.
        for wording in [entry.question, *entry.alternates]:
            check_wording(wording, entry.file, entry.line, f"question of FAQ '{entry.id}'", problems)
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


def own_words(flows: Iterable[Flow], responses: Responses, scam_patterns: ScamPatterns | None) -> set[str]:
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
    return {c for c in candidates if any(len(rule) == 1 and rule[0].search(c) for _, rule in patterns.rules)}
