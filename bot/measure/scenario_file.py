"""Scenario files (`../shared/eval/CONVERSATIONS.md`): read and validated, every problem listed
with file and line, before bot.measure.scenarios runs them (its public names re-export these).

    scenarios = select(load_scenarios(Path("tests/conversations/topup.yml")), ["topup-*"])
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.measure import MeasureError
from bot.yamlio import LineDict, LineList, YamlFileError, load_yaml

SCENARIO_KEYS = {"name", "brand", "why", "turns", "final"}
TURN_KEYS = {"user", "button", "expect"}
EXPECT_KEYS = {
    "flow",
    "flow_in",
    "intent",
    "intent_in",
    "resolved",
    "escalated",
    "ticket",
    "says_any",
    "says_none",
    "buttons_any",
}
FINAL_KEYS = {"tickets", "priority_in", "category_in", "details_have", "summary_any"}
FINAL_LISTS = ("priority_in", "category_in", "details_have", "summary_any")
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ScenarioFileError(MeasureError):
    """A scenario file cannot be used: unreadable, not YAML, or a scenario breaks the format."""

    code = "scenario_file_invalid"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        more = f" (+{len(self.problems) - 1} more: {'; '.join(self.problems[1:])})" if len(self.problems) > 1 else ""
        super().__init__(self.problems[0] + more)


@dataclass(frozen=True, slots=True)
class Turn:
    user: str | None
    button: str | None
    expect: Mapping[str, Any]

    @property
    def shown(self) -> str:
        """How the turn is named in a failure line."""
        return f"button: {self.button}" if self.button is not None else f"user: {self.user}"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    brand: str
    turns: tuple[Turn, ...]
    final: Mapping[str, Any]
    why: str = ""
    file: str = ""
    line: int = 0


def _is_str_list(value: Any, allow_none: bool = False) -> bool:
    return (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) or (allow_none and v is None) for v in value)
    )


def _line(node: Any, key: Any = None) -> int:
    if isinstance(node, (LineDict, LineList)):
        return node.line_of(key) if key is not None else node.line
    return 0


def _expect_problems(exp: Any, where: str) -> list[str]:
    if not isinstance(exp, dict):
        return [f"{where}: expect must be a mapping"]
    problems = [
        f"{where}: unknown expect key '{k}' (known: {', '.join(sorted(EXPECT_KEYS))})"
        for k in exp
        if k not in EXPECT_KEYS
    ]
    for key in ("flow", "intent"):
        if key in exp and not (exp[key] is None or isinstance(exp[key], str)):
            problems.append(f"{where}: {key} must be a name or null")
    for key in ("flow_in", "intent_in"):
        if key in exp and not _is_str_list(exp[key], allow_none=True):
            problems.append(f"{where}: {key} must be a non-empty list")
    for key in ("resolved", "escalated", "ticket"):
        if key in exp and not isinstance(exp[key], bool):
            problems.append(f"{where}: {key} must be true or false")
    for key in ("says_any", "says_none", "buttons_any"):
        if key in exp and not _is_str_list(exp[key]):
            problems.append(f"{where}: {key} must be a non-empty list of strings")
    return problems


def _scenario_problems(sc: Any, index: int, file: str) -> list[str]:
    """Everything wrong with one scenario, each as `file:line: scenario 'name' …: what`."""
    if not isinstance(sc, dict):
        return [f"{file}:{_line(sc)}: scenario #{index + 1}: must be a mapping"]
    name = sc.get("name")
    where = f"scenario '{name}'" if isinstance(name, str) else f"scenario #{index + 1}"

    def at(node: Any, key: Any = None) -> str:
        return f"{file}:{_line(node, key) or _line(sc)}: {where}"

    problems = [
        f"{at(sc, k)}: unknown key '{k}' (known: {', '.join(sorted(SCENARIO_KEYS))})"
        for k in sc
        if k not in SCENARIO_KEYS
    ]
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{at(sc, 'name')}: name must be kebab-case (lower-case letters, digits, dashes)")
    if not isinstance(sc.get("brand"), str) or not sc["brand"]:
        problems.append(f"{at(sc, 'brand')}: brand missing")
    turns = sc.get("turns")
    if not isinstance(turns, list) or not turns:
        problems.append(f"{at(sc, 'turns')}: turns must be a non-empty list")
        turns = []
    for n, turn in enumerate(turns, start=1):
        tw = f"{file}:{_line(turns, n - 1) or _line(sc)}: {where} turn {n}"
        if not isinstance(turn, dict):
            problems.append(f"{tw}: must be a mapping")
            continue
        problems += [
            f"{tw}: unknown key '{k}' (known: {', '.join(sorted(TURN_KEYS))})" for k in turn if k not in TURN_KEYS
        ]
        said = [k for k in ("user", "button") if k in turn]
        if len(said) != 1:
            problems.append(f"{tw}: needs exactly one of user / button")
        elif not isinstance(turn[said[0]], str) or not turn[said[0]].strip():
            problems.append(f"{tw}: {said[0]} must be non-empty text")
        if "expect" in turn:
            problems += _expect_problems(turn["expect"], tw)
    final = sc.get("final")
    if final is not None:
        fw = at(sc, "final")
        if not isinstance(final, dict):
            problems.append(f"{fw}: final must be a mapping")
        else:
            problems += [
                f"{fw}: unknown final key '{k}' (known: {', '.join(sorted(FINAL_KEYS))})"
                for k in final
                if k not in FINAL_KEYS
            ]
            count = final.get("tickets")
            if "tickets" in final and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
                problems.append(f"{fw}: final.tickets must be a count")
            for key in FINAL_LISTS:
                if key in final and not _is_str_list(final[key]):
                    problems.append(f"{fw}: final.{key} must be a non-empty list of strings")
    return problems


def load_scenarios(path: Path) -> list[Scenario]:
    """The scenarios of one file, in order.

    Raises:
        ScenarioFileError: the file cannot be read or parsed, is not a list, or any scenario
            breaks the format or repeats a name; every problem is listed, with file and line.
    """
    file = str(path)
    try:
        data = load_yaml(path, file)
    except YamlFileError as exc:
        raise ScenarioFileError([str(exc.problem)]) from None
    if not isinstance(data, list):
        raise ScenarioFileError([f"{file}:{_line(data) or 1}: expected a YAML list of scenarios"])
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, sc in enumerate(data):
        problems += _scenario_problems(sc, i, file)
        name = sc.get("name") if isinstance(sc, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    f"{file}:{_line(sc)}: scenario '{name}': duplicate name (also scenario #{seen[name] + 1})"
                )
            seen.setdefault(name, i)
    if problems:
        raise ScenarioFileError(problems)
    return [
        Scenario(
            name=sc["name"],
            brand=sc["brand"],
            why=str(sc.get("why") or ""),
            file=file,
            line=_line(sc),
            turns=tuple(Turn(t.get("user"), t.get("button"), t.get("expect") or {}) for t in sc["turns"]),
            final=sc.get("final") or {},
        )
        for sc in data
    ]


def select(scenarios: Iterable[Scenario], patterns: Sequence[str]) -> list[Scenario]:
    """The scenarios whose name matches one of the glob patterns (all of them when none given)."""
    return [sc for sc in scenarios if not patterns or any(fnmatch.fnmatchcase(sc.name, p) for p in patterns)]
