"""Loading `data/faq/*.yml` into FAQ entries, with every problem located as file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from bot.text import Text
from bot.yamlio import LineDict, Problem, load_content_file

KEY_TOPIC = "topic"
KEY_ENTRIES = "entries"
KEY_ID = "id"
KEY_QUESTION = "question"
KEY_ALTERNATES = "alternates"
KEY_ANSWER = "answer"
KEY_TAGS = "tags"
KEY_BRANDS = "brands"
SUMMARY_TAG = "what_if"
KEY_INTENT = "intent"
ENTRY_KEYS = {KEY_ID, KEY_QUESTION, KEY_ALTERNATES, KEY_ANSWER, KEY_TAGS, KEY_BRANDS, KEY_INTENT}
MIN_ALTERNATES = 5
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(slots=True)
class FaqEntry:
    id: str
    question: str
    alternates: list[str]
    answer: Text
    tags: list[str] = field(default_factory=list)
    brands: list[str] | None = None
    intent: str | None = None
    topic: str = ""
    file: str = ""
    line: int = 0
    valid: bool = (
        True  # False: the entry has errors; `walletbot validate` still checks it, the bot never answers with it
    )

    def serves(self, brand: str) -> bool:
        return self.brands is None or brand in self.brands

    @property
    def summarises_a_checklist(self) -> bool:
        """Tagged what_if: the short version of a flow, which a problem report should start instead."""
        return SUMMARY_TAG in self.tags

    def texts(self) -> list[str]:
        return [self.question, *self.alternates]


def _str_list(value: object) -> list[str] | None:
    # Not a boolean: an unquoted yes/no would become the text "True"/"False".
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    return None


def is_text(value: object) -> TypeGuard[Text]:
    if isinstance(value, str):
        return bool(value.strip())
    return (
        isinstance(value, dict)
        and isinstance(value.get("default"), str)
        and all(isinstance(v, str) for v in value.values())
    )


def read_faq_file(path: Path, display: str, problems: list[Problem]) -> list[FaqEntry]:
    doc = load_content_file(
        path,
        display,
        problems,
        shape=f"an FAQ file needs '{KEY_TOPIC}:' and a list '{KEY_ENTRIES}:'; the file is skipped",
        key=KEY_ENTRIES,
        key_type=list,
    )
    if doc is None:
        return []
    topic = str(doc.get(KEY_TOPIC) or path.stem)
    entries: list[FaqEntry] = []
    items = doc[KEY_ENTRIES]
    for index, item in enumerate(items):
        line = items.line_of(index)
        if not isinstance(item, LineDict):
            problems.append(
                Problem(
                    display,
                    line,
                    "an FAQ entry must be a mapping with id, question, alternates and answer; it is skipped",
                    code="faq_entry",
                )
            )
            continue
        entries.append(_read_entry(item, topic, display, line, problems))
    return entries


def _read_entry(item: LineDict, topic: str, display: str, line: int, problems: list[Problem]) -> FaqEntry:
    """The entry, `valid=False` when it has errors: what could be read is still cross-checked."""
    before = len(problems)

    def report(key: object, message: str, *, code: str, severity: str = "error") -> None:
        problems.append(Problem(display, item.line_of(key), message, severity, code=code))

    for key in item:
        if key not in ENTRY_KEYS:
            report(
                key,
                f"unknown key '{key}' in FAQ entry; known keys are {', '.join(sorted(ENTRY_KEYS))}",
                code="unknown_key",
            )
    entry_id = item.get(KEY_ID)
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        report(KEY_ID, f"FAQ entry id {entry_id!r} must be snake_case letters, digits and '_'", code="faq_id")
    if not isinstance(item.get(KEY_QUESTION), str) or not item[KEY_QUESTION].strip():
        report(KEY_QUESTION, f"FAQ entry {entry_id!r} needs a non-empty 'question'", code="faq_entry")
    alternates = _str_list(item.get(KEY_ALTERNATES, []))
    if alternates is None:
        report(
            KEY_ALTERNATES,
            f"'alternates' of {entry_id!r} must be a list of texts (quote yes, no, on, off)",
            code="faq_entry",
        )
    elif len(alternates) < MIN_ALTERNATES:
        report(
            KEY_ALTERNATES,
            f"FAQ entry {entry_id!r} has {len(alternates)} alternates; write at least {MIN_ALTERNATES} so users' wordings are found",
            code="few_alternates",
            severity="warning",
        )
    if not is_text(item.get(KEY_ANSWER)):
        report(
            KEY_ANSWER,
            f"'answer' of {entry_id!r} must be a text or a mapping of brand to text with a 'default'",
            code="bad_text",
        )
    tags = _str_list(item.get(KEY_TAGS, []))
    if tags is None:
        report(KEY_TAGS, f"'tags' of {entry_id!r} must be a list of tags", code="faq_entry")
    brands = _str_list(item[KEY_BRANDS]) if KEY_BRANDS in item else None
    if KEY_BRANDS in item and brands is None:  # not silently "every brand"
        report(KEY_BRANDS, f"'brands' of {entry_id!r} must be a list of brand keys", code="faq_entry")
    question, answer = item.get(KEY_QUESTION), item.get(KEY_ANSWER)
    return FaqEntry(
        id=entry_id if isinstance(entry_id, str) else "",
        question=question if isinstance(question, str) else "",
        alternates=alternates or [],
        answer=answer if is_text(answer) else "",
        tags=tags or [],
        brands=brands,
        intent=item.get(KEY_INTENT),
        topic=topic,
        file=display,
        line=line,
        valid=not any(p.severity == "error" for p in problems[before:]),
    )


def faq_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "faq").glob("*.yml")) + sorted((data_dir / "faq").glob("*.yaml"))


def read_faq(data_dir: Path, root: Path | None = None) -> tuple[list[FaqEntry], list[Problem]]:
    """Every entry that could be read, with `valid` set, and every problem; duplicate ids are errors.

    Entries with errors are kept so that the cross-file checks (intents, brands, texts) still
    run on them: one mistake in an entry must not hide the others.
    """
    problems: list[Problem] = []
    entries: list[FaqEntry] = []
    seen: dict[str, FaqEntry] = {}
    for path in faq_files(data_dir):
        display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        for entry in read_faq_file(path, display, problems):
            first = seen.setdefault(entry.id, entry)
            if first is not entry and entry.id:  # a missing id is reported already
                problems.append(
                    Problem(
                        entry.file,
                        entry.line,
                        f"duplicate FAQ id '{entry.id}' (first defined at {first.file}:{first.line})",
                        code="duplicate_id",
                    )
                )
                entry.valid = False
            entries.append(entry)
    return entries, problems


def load_faq(data_dir: Path, root: Path | None = None) -> tuple[list[FaqEntry], list[Problem]]:
    """Every valid entry of every file (what the bot answers with), and every problem."""
    entries, problems = read_faq(data_dir, root)
    return [entry for entry in entries if entry.valid], problems
