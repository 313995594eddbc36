"""Reading `data/nlu/*.yml` (Rasa 3.x NLU format) into a TrainingData object.

Validation runs in two stages, like Rasa's own reader: the file's shape first (a broken file is
reported as `file:line` and contributes nothing), then item by item (a bad item is reported and
skipped, the rest of the file is kept).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.yamlio import LineList, Problem, load_content_file

KEY_VERSION = "version"
KEY_NLU = "nlu"
KEY_INTENT = "intent"
KEY_SYNONYM = "synonym"
KEY_LOOKUP = "lookup"
KEY_REGEX = "regex"
KEY_EXAMPLES = "examples"
KINDS = (KEY_INTENT, KEY_SYNONYM, KEY_LOOKUP, KEY_REGEX)
VERSIONS = ("3.1", "3.0", "2.0")

INTENTS: tuple[str, ...] = (
    "forgot_password",
    "topup_problem",
    "withdrawal_problem",
    "payment_problem",
    "transaction_failed",
    "refund",
    "account_stolen",
    "account_frozen",
    "limits",
    "balance_issue",
    "account_security",
    "contact_support",
    "human_handoff",
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "bot_challenge",
    "restart",
    "out_of_scope",
)
MIN_EXAMPLES = 10
# Lookup tables named gazetteer_<name> list names of other organisations, products or services;
# a text that mentions one gets the feature `g:<name>` (see bot.nlu.features.Tokenizer).
GAZETTEER_PREFIX = "gazetteer_"
# A lookup gazetteer_<name>_rejects lists intents that a message naming something of the
# gazetteer cannot have: the classifier reads it as out_of_scope instead (the customer service
# of another organisation is not this wallet's, however the message asks for it).
REJECTS_SUFFIX = "_rejects"
# Words by which a message names this wallet itself (你们, the brands): such a message asks
# about the wallet's own service, and no gazetteer rejection applies to it.
OWN_REFERENCES = "own_references"

# [100元](amount) or [100元]{"entity": "amount"} -> the visible text
_ANNOTATION = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)|\[([^\]]+)\]\{[^}]*\}")


@dataclass(slots=True)
class TrainingData:
    examples: list[tuple[str, str]] = field(default_factory=list)  # (text, intent)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant -> canonical
    lookups: dict[str, list[str]] = field(default_factory=dict)
    fingerprint: str = ""

    def intents(self) -> list[str]:
        return sorted({intent for _, intent in self.examples})

    def gazetteers(self) -> dict[str, list[str]]:
        """Name -> terms of every `gazetteer_<name>` lookup table."""
        return {
            name.removeprefix(GAZETTEER_PREFIX): list(terms)
            for name, terms in sorted(self.lookups.items())
            if name.startswith(GAZETTEER_PREFIX) and not name.endswith(REJECTS_SUFFIX)
        }

    def gazetteer_rejects(self) -> dict[str, list[str]]:
        """Gazetteer name -> the intents a message naming one of its terms is not (see
        REJECTS_SUFFIX)."""
        return {
            name.removeprefix(GAZETTEER_PREFIX).removesuffix(REJECTS_SUFFIX): list(intents)
            for name, intents in sorted(self.lookups.items())
            if name.startswith(GAZETTEER_PREFIX) and name.endswith(REJECTS_SUFFIX)
        }

    def payment_methods(self) -> dict[str, str]:
        """Surface form -> canonical payment method, from the lookup and the synonyms."""
        methods = {m: m for m in self.lookups.get("payment_method", [])}
        for variant, canonical in self.synonyms.items():
            if canonical in methods:
                methods[variant] = canonical
        return methods


def strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), text)


def _example_lines(block: object, file: str, line: int, problems: list[Problem]) -> list[str]:
    if isinstance(block, list) and all(isinstance(item, str) for item in block):  # also accept a YAML list of strings
        return list(block)
    if not isinstance(block, str):
        problems.append(
            Problem(
                file,
                line,
                f"'{KEY_EXAMPLES}' must be a '|' block of '- ' lines (or a list of texts); this item is skipped",
                code="nlu_examples",
            )
        )
        return []
    items = []
    for raw in block.splitlines():
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith("- "):
            problems.append(Problem(file, line, f"example line {stripped!r} must start with '- '", code="nlu_examples"))
            continue
        items.append(stripped[2:].strip())
    return items


Origins = dict[tuple[str, str], tuple[str, int]]  # (example, intent) -> (file, line) of its item


def read_nlu_file(
    path: Path,
    display: str,
    data: TrainingData,
    problems: list[Problem],
    origins: Origins,
    labels: tuple[str, ...] = INTENTS,
) -> None:
    """Add the content of one file to `data`, reporting problems instead of raising.

    `origins` collects where each example is, so that the checks across files can say it.
    `labels` are the intents an item may name (the reply kinds, for data/replies).
    """
    doc = load_content_file(
        path, display, problems, shape=f"missing top-level key '{KEY_NLU}:'; the file is skipped", key=KEY_NLU
    )
    if doc is None:
        return
    if doc.get(KEY_VERSION, "3.1") not in VERSIONS:
        problems.append(
            Problem(
                display,
                doc.line_of(KEY_VERSION),
                f'unsupported version {doc.get(KEY_VERSION)!r}; write "3.1" in quotes',
                code="nlu_version",
            )
        )
    items = doc[KEY_NLU]
    if not isinstance(items, LineList):
        problems.append(
            Problem(
                display,
                doc.line_of(KEY_NLU),
                f"'{KEY_NLU}' must be a list of items; the file is skipped",
                code="file_shape",
            )
        )
        return
    for index, item in enumerate(items):
        line = items.line_of(index)
        if not isinstance(item, dict) or KEY_EXAMPLES not in item:
            problems.append(
                Problem(display, line, f"item needs '{KEY_EXAMPLES}'; this item is skipped", code="nlu_item")
            )
            continue
        kinds = [key for key in KINDS if key in item]
        if len(kinds) > 1:
            problems.append(
                Problem(
                    display,
                    line,
                    f"item has both {' and '.join(map(repr, kinds))}: give each its own item; this item is skipped",
                    code="nlu_item",
                )
            )
            continue
        examples = [strip_annotations(e) for e in _example_lines(item[KEY_EXAMPLES], display, line, problems)]
        if KEY_INTENT in item:
            intent = str(item[KEY_INTENT])
            if intent not in labels:
                problems.append(
                    Problem(
                        display,
                        line,
                        f"unknown intent '{intent}': use one of {', '.join(labels)}",
                        code="unknown_intent",
                    )
                )
                continue
            data.examples.extend((e, intent) for e in examples if e)
            for example in filter(None, examples):
                origins.setdefault((example, intent), (display, line))
        elif KEY_SYNONYM in item:
            canonical = str(item[KEY_SYNONYM])
            for variant in examples:
                data.synonyms[variant] = canonical
        elif KEY_LOOKUP in item:
            data.lookups.setdefault(str(item[KEY_LOOKUP]), []).extend(examples)
        elif KEY_REGEX in item:
            continue  # regex features are not used by this classifier; accepted for Rasa compatibility
        else:
            problems.append(
                Problem(
                    display,
                    line,
                    f"item must be one of '{KEY_INTENT}', '{KEY_SYNONYM}', '{KEY_LOOKUP}', '{KEY_REGEX}'; this item is skipped",
                    code="nlu_item",
                )
            )


def nlu_files(data_dir: Path, folder: str = "nlu") -> list[Path]:
    return sorted((data_dir / folder).glob("*.yml")) + sorted((data_dir / folder).glob("*.yaml"))


def fingerprint_files(paths: list[Path]) -> str:
    """A hash of the files' names and bytes: the model is stale when this changes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_training_data(data_dir: Path, root: Path | None = None) -> tuple[TrainingData, list[Problem]]:
    """Read every NLU file; returns the data and every problem found (nothing is raised)."""
    data = TrainingData()
    problems: list[Problem] = []
    origins: Origins = {}
    files = nlu_files(data_dir)
    for path in files:
        display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        read_nlu_file(path, display, data, problems, origins)
    data.fingerprint = fingerprint_files(files)
    folder = data_dir / "nlu"
    _check_quality(
        data, problems, origins, str(folder.relative_to(root)) if root and folder.is_relative_to(root) else str(folder)
    )
    return data, problems


def _check_quality(data: TrainingData, problems: list[Problem], origins: Origins, folder: str) -> None:
    """Warnings across files, each at the item it is about (the folder when there is none)."""
    seen: dict[str, str] = {}
    for (text, intent), (file, line) in origins.items():
        other = seen.setdefault(text, intent)
        if other != intent:
            first_file, first_line = origins[(text, other)]
            problems.append(
                Problem(
                    file,
                    line,
                    f"example {text!r} appears under both '{other}' ({first_file}:{first_line}) and '{intent}'",
                    "warning",
                    code="example_conflict",
                )
            )
    counts: dict[str, int] = {}
    for _, intent in data.examples:
        counts[intent] = counts.get(intent, 0) + 1
    first_item = {intent: where for (_, intent), where in reversed(origins.items())}
    for intent in INTENTS:
        if counts.get(intent, 0) < MIN_EXAMPLES:
            file, line = first_item.get(intent, (folder, 0))
            problems.append(
                Problem(
                    file,
                    line,
                    f"intent '{intent}' has only {counts.get(intent, 0)} training examples; add at least {MIN_EXAMPLES}",
                    "warning",
                    code="few_examples",
                )
            )
