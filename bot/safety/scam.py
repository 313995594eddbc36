"""Scam talk in a user's message: phrases read from ``data/safety/scam_patterns.yml``.

The phrases are content, not code: :func:`load_scam_patterns` reads and compiles them (through
bot/yamlio.py, like every content file), :func:`detect_scam` matches them on the message with
full-width letters folded and invisible characters taken out (bot/guard/text.py), so
"安\u200b全账户" is still a safe-account scam.

Errors::

    ValueError
     └── ScamPatternsError   a scam pattern file is malformed (names the file, line and key)
"""

import pathlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.errors import WalletbotError
from bot.guard.text import fold_width, visible
from bot.yamlio import LineDict, LineList, YamlFileError, load_yaml


@dataclass(frozen=True, slots=True)
class ScamSignal:
    """The first scam phrase found in a message: the kind of scam and the matched span."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ScamPatterns:
    """Compiled scam phrases of one file, in file order: the first matching rule wins."""

    source: pathlib.Path
    # (kind, regexes): the rule matches when every one of its regexes matches somewhere in the
    # message. Most rules are one phrase; a list of concepts (a secret, handed over, to someone
    # else) holds in whatever order and words the user tells it.
    rules: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    # General questions about scams (正规客服会让我提供验证码吗): no alarm, the FAQ answers them.
    questions: tuple[re.Pattern[str], ...] = ()
    # Messages that deny what the rules look for (没有我不认识的交易): no alarm either, and no
    # reading of that kind by anything else (see `denies`).
    denials: tuple[re.Pattern[str], ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        """The scam kinds, in file order, each once."""
        return tuple(dict.fromkeys(kind for kind, _ in self.rules))


class ScamPatternsError(WalletbotError):
    """A scam pattern file cannot be used; the message names the file, line and key.

    ``line`` and ``reason`` (the message without ``file:line:``) let ``walletbot validate``
    report it like any content problem.
    """

    code = "scam_patterns_invalid"

    def __init__(self, path: pathlib.Path, line: int | None, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.line = line or 1
        self.reason = reason


def detect_scam(text: str, patterns: ScamPatterns) -> ScamSignal | None:
    """The first scam rule (in file order) that matches the message, or None."""
    seen, positions = visible(text)
    folded = fold_width(seen)
    if any(rule.search(folded) for rule in (*patterns.questions, *patterns.denials)):
        return None
    for kind, regexes in patterns.rules:
        matches = [regex.search(folded) for regex in regexes]
        if all(match is not None for match in matches):
            start = min(match.start() for match in matches if match is not None)
            end = max(match.end() for match in matches if match is not None)
            if positions is not None and end > start:
                start, end = positions[start], positions[end - 1] + 1
            return ScamSignal(kind, start, end)
    return None


def denies(text: str, patterns: ScamPatterns) -> bool:
    """The message denies what the rules look for (流水我看了 没有不认识的交易) or only asks about
    it (怎么防止被盗号): it reports none of it."""
    folded = fold_width(visible(text)[0])
    return any(rule.search(folded) for rule in (*patterns.denials, *patterns.questions))


_KEY_VERSION = "version"
_KEY_PATTERNS = "patterns"
_KEY_QUESTIONS = "questions"
_KEY_DENIALS = "denials"
_KIND_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Phrases are written in Chinese and Latin brand names (Zoom, TeamViewer) in any case; a
# message may be split over lines.
_SCAM_FLAGS = re.IGNORECASE | re.DOTALL


def load_scam_patterns(path: pathlib.Path) -> ScamPatterns:
    """Read and compile a scam pattern file (``data/safety/scam_patterns.yml``).

    The file is ``patterns: {kind: [regex or [regex, regex, ...], ...], ...}`` plus optional
    ``questions``, ``denials`` and ``version``. Compiling at load time means a bad regex stops the bot at start-up, not
    mid-conversation.

    Raises:
        ScamPatternsError (a ValueError): the file is not valid YAML, a key is missing or of the
            wrong type, a kind is not snake_case or repeated, or a regex does not compile or
            matches an empty message. The message reads ``file:line: key: problem``.
        OSError: the file cannot be read.
    """
    if not path.is_file():  # load_yaml reports it as a problem; callers expect the OSError
        path.read_text(encoding="utf-8")
    try:
        root = load_yaml(path)
    except YamlFileError as exc:
        raise _from_yaml_problem(path, exc) from exc
    if not isinstance(root, LineDict):
        raise ScamPatternsError(path, 1, f"expected a mapping with the key '{_KEY_PATTERNS}'.")
    patterns = _top_level_patterns(path, root)
    rules: list[tuple[str, tuple[re.Pattern[str], ...]]] = []
    for kind, value in patterns.items():
        line = patterns.lines[kind]
        if not isinstance(kind, str) or _KIND_NAME.fullmatch(kind) is None:
            raise ScamPatternsError(
                path, line, f"{_KEY_PATTERNS}: kind {kind!r} must be snake_case, e.g. safe_account."
            )
        rules.extend((kind, rule) for rule in _compile_list(path, f"{_KEY_PATTERNS}.{kind}", value, line))
    questions, denials = (
        tuple(
            regex
            for rule in (_compile_list(path, key, root[key], root.lines[key], concepts=False) if key in root else [])
            for regex in rule
        )
        for key in (_KEY_QUESTIONS, _KEY_DENIALS)
    )
    return ScamPatterns(source=path, rules=tuple(rules), questions=questions, denials=denials)


def _from_yaml_problem(path: pathlib.Path, exc: YamlFileError) -> ScamPatternsError:
    problem = exc.problem
    if problem.code == "duplicate_key":
        # The second occurrence's line names the kind: "  safe_account: [...]".
        lines = path.read_text(encoding="utf-8").splitlines()
        kind = lines[problem.line - 1].split(":", 1)[0].strip() if problem.line <= len(lines) else "?"
        return ScamPatternsError(path, problem.line, f"{_KEY_PATTERNS}.{kind}: kind listed twice; merge the two lists.")
    return ScamPatternsError(path, None, f"not valid YAML: {problem.message} (line {problem.line})")


def _top_level_patterns(path: pathlib.Path, root: LineDict) -> LineDict:
    for key in root:
        if key not in (_KEY_PATTERNS, _KEY_VERSION, _KEY_QUESTIONS, _KEY_DENIALS):
            raise ScamPatternsError(
                path,
                root.lines[key],
                f"unknown key {key!r}; expected '{_KEY_PATTERNS}' "
                f"(and optionally '{_KEY_QUESTIONS}', '{_KEY_DENIALS}', '{_KEY_VERSION}').",
            )
    if _KEY_PATTERNS not in root:
        raise ScamPatternsError(path, 1, f"missing key '{_KEY_PATTERNS}'.")
    found = root[_KEY_PATTERNS]
    if not isinstance(found, LineDict) or not found:
        raise ScamPatternsError(
            path,
            root.lines[_KEY_PATTERNS],
            f"'{_KEY_PATTERNS}' must map each scam kind to a list of regular expressions.",
        )
    return found


def _compile_list(
    path: pathlib.Path, key: str, value: Any, line: int, *, concepts: bool = True
) -> Iterator[tuple[re.Pattern[str], ...]]:
    """Each item of a list compiled: a regex, or (`concepts`) a list of regexes that must all
    match, e.g. [验证码, 转给|发给, 对方|陌生人]."""
    if not isinstance(value, LineList) or not value:
        raise ScamPatternsError(path, line, f"{key}: expected a non-empty list of regular expressions.")
    for index, (item, item_line) in enumerate(zip(value, value.lines, strict=True)):
        where = f"{key}[{index}]"
        if concepts and isinstance(item, LineList) and len(item) >= 2:
            yield tuple(_compile(path, f"{where}[{n}]", part, item_line) for n, part in enumerate(item))
        elif isinstance(item, str):
            yield (_compile(path, where, item, item_line),)
        else:
            expected = "a regular expression as a string"
            if concepts:
                expected += ", or a list of two or more that must all match"
            raise ScamPatternsError(path, item_line, f"{where}: expected {expected}.")


def _compile(path: pathlib.Path, where: str, item: Any, item_line: int) -> re.Pattern[str]:
    if not isinstance(item, str) or not item.strip():
        raise ScamPatternsError(path, item_line, f"{where}: expected a regular expression as a string.")
    try:
        regex = re.compile(item, _SCAM_FLAGS)
    except re.error as exc:
        raise ScamPatternsError(
            path,
            item_line,
            f"{where}: bad regex {item!r}: {exc}. Fix the pattern (quote it with "
            f"single quotes so YAML keeps backslashes).",
        ) from exc
    if regex.match("") is not None:
        raise ScamPatternsError(
            path,
            item_line,
            f"{where}: regex {item!r} matches an empty message, so it would flag every message.",
        )
    return regex
