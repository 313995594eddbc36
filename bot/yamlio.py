"""YAML reading that remembers line numbers, so every content problem can say `file:line`.

PyYAML's plain loaders drop positions; here the composed node tree is turned into dicts and
lists that carry the 1-based line of each key and item. Only safe YAML types are built.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml


# The Chinese gloss of each kind of problem: content editors read Chinese first. One short
# sentence per kind, not a translation of each message: the English message keeps the details
# (names, lines, lists of known values) and the gloss says what kind of mistake it is.
PROBLEM_ZH = {
    # any file
    "not_utf8": "文件不是 UTF-8 编码，请另存为 UTF-8。",
    "unreadable": "无法读取这个文件。",
    "invalid_yaml": "YAML 格式错误：请检查这一行附近的缩进、冒号、引号和括号。",
    "file_missing": "缺少必需的文件。",
    "file_shape": "文件的整体结构不对，这个文件没有被读取。",
    "unknown_key": "不认识的键名，可能拼错了。",
    "bad_text": "文字格式不对：应为一段文字，或按品牌分别写并带 default 的文字。",
    # texts shown to users
    "unknown_placeholder": "用了不存在的占位符（花括号里的名字）。",
    "unknown_brand": "用了 config.yml 里没有的品牌。",
    "asks_secret": "这段话在向用户索要密码、验证码、CVV 或卡号；客服绝不能索要这些信息。",
    # responses.yml
    "missing_response": "缺少对话流程需要的回复文字。",
    "missing_button": "缺少按钮文字。",
    "answers_list": "answers 下的每一项（yes、no、skip 等）必须是词语列表。",
    # FAQ
    "faq_entry": "FAQ 条目写法不对：id、question、answer 必填，alternates 和 brands 必须是列表。",
    "faq_id": "条目 id 只能用小写字母、数字和下划线。",
    "few_alternates": "其他问法太少：用户换个说法可能就找不到这个答案。",
    "long_answer": "答案太长，建议拆成几个条目。",
    "duplicate_id": "同一个 id 用了两次。",
    "competing_wording": "两个 FAQ 条目的问法几乎一样，会互相抢答：改写其中一个，或合并条目。",
    "unknown_intent": "意图名不在意图列表里。",
    # flows
    "flow_name": "flow 必须是意图的英文名（小写字母、数字和下划线）。",
    "flow_intent": "流程名不是已知的意图：流程由同名的意图启动。",
    "flow_no_steps": "流程缺少 steps（步骤）。",
    "flow_no_start": "流程缺少 start（第一步）。",
    "flow_twice": "同一个流程定义了两次。",
    "detail_invalid": "details 写法不对：每项需要 prompt（提问），entity 可选。",
    "detail_entity": "entity 不是支持的类型。",
    "step_shape": "步骤写法不对：每个步骤只能有 options、next、resolved、escalate 中的一个。",
    "step_no_say": "提问的步骤缺少 say（要说的话）。",
    "option_invalid": "选项写法不对：每个选项需要 title（按钮文字）和 next（下一步）。",
    "means": "means 只能是 yes 或 no。",
    "escalate_invalid": "escalate（转人工）写法不对：需要 category、priority 和 summary。",
    "priority": "priority 只能是 low、normal、high、urgent 之一。",
    "collect_invalid": "collect 必须是 details 里的名字列表，而且只能写在 escalate（转人工）步骤上。",
    "collect_undeclared": "要收集的信息没有在 details 里声明。",
    "missing_step": "指向的步骤不存在，可能是步骤名拼错了。",
    "payload_twice": "同一个 payload 在流程里用了两次。",
    "unreachable": "从第一步走不到这个步骤。",
    "unreachable_after_missing": "这些步骤走不到，是因为通往它们的 next 指向了不存在或写错的步骤：先改正那一处。",
    "no_exit": "这个步骤永远走不到 resolved（解决）或 escalate（转人工），用户会被困在循环里。",
    "unknown_action": "调用了不存在的 action。",
    # NLU training data
    "nlu_item": "训练数据的条目写法不对：需要 examples，并且是 intent、synonym、lookup、regex 之一。",
    "nlu_examples": "examples 必须是由“- ”开头的行组成的“|”文本块。",
    "nlu_version": "不支持的版本号，请写 \"3.1\"。",
    "example_conflict": "同一个例句出现在两个不同的意图下。",
    "few_examples": "训练例句太少，机器人可能认不出这个意图。",
}


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

    def glossed(self) -> "Problem":
        """This problem with its Chinese gloss (English-only when the code has none).

        The loaders leave it out so that their one-line English form stays stable for logs
        and tests; `load_content`, behind `walletbot validate` and the console, adds it.
        """
        zh = PROBLEM_ZH.get(self.code, "")
        if zh and self.severity != "error":
            zh = "警告：" + zh
        return replace(self, zh=zh)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "line": self.line, "severity": self.severity,
            "code": self.code, "message": self.message, "zh": self.zh,
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


class YamlFileError(Exception):
    """The file is not YAML at all; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


_constructor = yaml.SafeLoader("")
# libyaml parses the bundled content about ten times faster (most of the start-up time);
# the marks it gives are the same.
_Composer = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.lines = {}
        for key_node, value_node in node.value:
            key = _build(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            result[key] = _build(value_node)
            result.lines[key] = key_node.start_mark.line + 1
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
        raise YamlFileError(Problem(name, 1, f"file is not UTF-8 text ({exc.reason}); save it as UTF-8", code="not_utf8")) from exc
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
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlFileError(Problem(name, mark.line + 1 if mark else 1, f"invalid YAML value: {exc.problem}", code="invalid_yaml")) from exc
