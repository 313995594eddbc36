"""YAML reading that remembers line numbers, so every content problem can say `file:line`.

PyYAML's plain loaders drop positions; here the composed node tree is turned into dicts and
lists that carry the 1-based line of each key and item. Only safe YAML types are built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bot.errors import WalletbotError

# The Chinese gloss of each kind of problem, by code: texts for people live in a YAML file.
PROBLEM_ZH: dict[str, str] = yaml.safe_load((Path(__file__).with_name("problem_texts.yml")).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a content file, located as precisely as we can."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" stops the content from loading; "warning" does not
    code: str = ""  # the kind of problem: a key of PROBLEM_ZH
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
        zh = PROBLEM_ZH.get(self.code, "")
        if zh and self.severity != "error":
            zh = PROBLEM_ZH["warning_prefix"] + zh
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


class LineDict(dict):
    """A dict that knows the line of itself (`line`) and of each key (`lines[key]`)."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list):
    """A list that knows the line of itself and of each item (`lines[i]`)."""

    line: int = 0
    lines: list[int]

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


def _build(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.lines = {}
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
        items = LineList(_build(child) for child in node.value)
        items.line = node.start_mark.line + 1
        items.lines = [child.start_mark.line + 1 for child in node.value]
        return items
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
