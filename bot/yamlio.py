"""YAML reading that remembers line numbers, so every content problem can say `file:line`.

PyYAML's plain loaders drop positions; here the composed node tree is turned into dicts and
lists that carry the 1-based line of each key and item. Only safe YAML types are built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import WalletbotError

PROBLEM_TEXTS_FILE = Path(__file__).with_name("problem_texts.yml")


@cache
def problem_texts() -> dict[str, str]:
    """The Chinese gloss of each kind of problem, by code (texts for people live in a YAML file).

    Read on first use, not at import: importing the YAML reader touches no file.
    """
    texts = yaml.safe_load(PROBLEM_TEXTS_FILE.read_text(encoding="utf-8"))
    if not isinstance(texts, dict):
        raise TypeError(f"{PROBLEM_TEXTS_FILE} must be a mapping of problem codes to texts.")
    return {str(code): str(text) for code, text in texts.items()}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a content file, located as precisely as we can."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" stops the content from loading; "warning" does not
    code: str = ""  # the kind of problem: a key of problem_texts()
    zh: str = ""  # its Chinese gloss, added by `glossed()` to reports read by people

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        gloss = f" — {self.zh}" if self.zh else ""
        return f"{self.file}:{self.line}: {tag}{self.message}{gloss}"

    def glossed(self) -> Problem:
        """This problem with its Chinese gloss (English-only when the code has none).

        The loaders leave it out so that their one-line English form stays stable for logs
        and tests; `load_content`, behind `walletbot validate` and the console, adds it.
        """
        texts = problem_texts()
        zh = texts.get(self.code, "")
        if zh and self.severity != "error":
            zh = texts["warning_prefix"] + zh
        return replace(self, zh=zh)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "zh": self.zh,
        }


class LineDict(dict[Any, Any]):
    """A dict that knows the line of itself (`line`) and of each key (`lines[key]`)."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list[Any]):
    """A list that knows the line of itself and of each item (`lines[i]`)."""

    def __init__(self, items: Iterable[Any] = (), line: int = 0, lines: Iterable[int] = ()) -> None:
        super().__init__(items)
        self.line = line
        self.lines: list[int] = list(lines)

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class YamlFileError(WalletbotError):
    """The file is not YAML at all; carries the Problem to report."""

    code = "yaml_invalid"

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


_constructor = yaml.SafeLoader("")
# libyaml parses the bundled content about ten times faster (most of the start-up time);
# the marks it gives are the same.
_Composer = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


# Mappings and sequences are built here, not by PyYAML's constructor: a tag on them
# (!!python/object/apply, !!set, !!omap…) would otherwise be dropped without a word.
_PLAIN_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


def _build(node: yaml.Node) -> Any:
    plain = _PLAIN_TAGS.get(type(node))
    if plain is not None and node.tag != plain:
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag!r} is not supported; remove it", node.start_mark
        )
    if isinstance(node, yaml.MappingNode):
        result = LineDict(node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = _build(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            line = key_node.start_mark.line + 1
            if key in result.lines:  # PyYAML would keep the last silently
                raise _DuplicateKey(key, line, result.lines[key])
            result[key] = _build(value_node)
            result.lines[key] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return LineList(
            (_build(child) for child in node.value),
            node.start_mark.line + 1,
            (child.start_mark.line + 1 for child in node.value),
        )
    return _constructor.construct_object(node, deep=True)


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file into LineDict/LineList/scalars.

    Raises:
        YamlFileError: unreadable file, bad encoding, or YAML syntax error (with its line).
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(
            Problem(name, 1, f"file is not UTF-8 text ({exc.reason}); save it as UTF-8", code="not_utf8")
        ) from exc
    except OSError as exc:
        raise YamlFileError(Problem(name, 1, f"cannot read file: {exc.strerror}", code="unreadable")) from exc
    return load_yaml_text(text, name)


def load_content_file(
    path: Path, display: str, problems: list[Problem], *, shape: str, key: str, key_type: type = object
) -> LineDict | None:
    """The file's top-level mapping when it holds `key` (a `key_type`), else None with the problem
    added instead of raised: the YAML error, or `shape` (what the file must hold and that it is
    skipped) at the line of what the file holds instead.
    """
    try:
        doc = load_yaml(path, display)
    except YamlFileError as exc:
        problems.append(exc.problem)
        return None
    if not isinstance(doc, LineDict) or key not in doc or not isinstance(doc[key], key_type):
        problems.append(Problem(display, getattr(doc, "line", 1) or 1, shape, code="file_shape"))
        return None
    return doc


def load_yaml_text(text: str, name: str) -> Any:
    """Parse YAML text (see load_yaml); `name` is used in problems."""
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or str(exc)
        raise YamlFileError(Problem(name, line, f"invalid YAML: {reason}", code="invalid_yaml")) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(Problem(name, 1, f"invalid YAML: {exc}", code="invalid_yaml")) from exc
    if node is None:
        return None
    try:
        return _build(node)
    except _DuplicateKey as exc:
        message = f"key '{exc.key}' appears twice in the same mapping (first at line {exc.first}); the second would silently replace the first"
        raise YamlFileError(Problem(name, exc.line, message, code="duplicate_key")) from exc
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlFileError(
            Problem(name, mark.line + 1 if mark else 1, f"invalid YAML value: {exc.problem}", code="invalid_yaml")
        ) from exc
