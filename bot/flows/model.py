"""Flows: the decision-tree checklists in `data/flows/*.yml`, loaded and checked.

This module holds the model (Flow, Step, Option, Detail, Escalation), the YAML key names and
`read_flows`/`load_flows`; the YAML tree is read into the model by bot.flows.reader and the graph
rules are checked by bot.flows.structure.

A flow is a graph of steps. Structural rules (every step reachable, every path able to end in a
`resolved` or `escalate` leaf, no dangling `next`) are checked here so that a conversation can
never get stuck in a step with no way out.

Where the guides give brands different checklists, `start` and every `next` may be a mapping of
brand to step with a `default` (like texts): each brand walks its own guide's order through one
flow, and the structural rules hold for every brand's walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.text import Text
from bot.yamlio import LineDict, Problem, YamlFileError, load_yaml

KEY_FLOW, KEY_TITLE, KEY_START, KEY_DETAILS, KEY_STEPS = "flow", "title", "start", "details", "steps"
KEY_SAY, KEY_ACTION, KEY_OPTIONS, KEY_NEXT = "say", "action", "options", "next"
KEY_RESOLVED, KEY_ESCALATE, KEY_COLLECT, KEY_ENDS = "resolved", "escalate", "collect", "ends"
KEY_PAYLOAD, KEY_MEANS, KEY_MATCH, KEY_KINDS = "payload", "means", "match", "kinds"
KEY_HOW_LONG = "how_long"
KEY_NOT_FOR = "not_for"
KEY_SOLVED_BY = "solved_by"
KEY_FAQ = "faq"
KEY_BRIEF = "brief"
KEY_CATEGORY, KEY_PRIORITY, KEY_SUMMARY = "category", "priority", "summary"
KEY_PROMPT, KEY_ENTITY = "prompt", "entity"

FLOW_KEYS = {
    KEY_FLOW,
    KEY_TITLE,
    KEY_START,
    KEY_DETAILS,
    KEY_STEPS,
    KEY_PRIORITY,
    KEY_HOW_LONG,
    KEY_NOT_FOR,
    KEY_SOLVED_BY,
    KEY_FAQ,
    KEY_BRIEF,
}
STEP_KEYS = {KEY_SAY, KEY_ACTION, KEY_OPTIONS, KEY_NEXT, KEY_RESOLVED, KEY_ESCALATE, KEY_COLLECT, KEY_ENDS}
OPTION_KEYS = {KEY_TITLE, KEY_PAYLOAD, KEY_MEANS, KEY_MATCH, KEY_KINDS, KEY_NEXT}
# What a typed reply says about the step (bot/nlu/replies.py); an option stands for some of them.
ANSWER_KINDS = ("solved", "fine", "failing", "cause", "cannot")
# The kinds an option stands for when it names none: yes is "it works now", no is everything
# that leaves the problem in place.
DEFAULT_KINDS = {"yes": ["solved"], "no": ["fine", "failing", "cannot"]}
KINDS = (KEY_OPTIONS, KEY_NEXT, KEY_RESOLVED, KEY_ESCALATE, KEY_ENDS)
PRIORITIES = ("low", "normal", "high", "urgent")
DETAIL_ENTITIES = ("amount", "time", "method", "order_id", "phone", "email", "contact")
MAX_CATEGORY = 64  # tickets.category is String(64) (bot/store/models.py)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a flow, step or detail name
_NAME = NAME


def route_for(default: str, by_brand: dict[str, str], brand: str | None) -> str:
    """Where a `start` or `next` leads for one brand."""
    return by_brand.get(brand or "", default)


@dataclass(slots=True)
class Option:
    title: str
    payload: str
    next: str  # the default target; `next_by_brand` overrides it for some brands
    means: str | None = None  # "yes" | "no": picked by a free-text yes/no
    match: list[str] = field(default_factory=list)
    line: int = 0
    kinds: list[str] = field(default_factory=list)  # reply kinds that pick this option (ANSWER_KINDS)
    next_by_brand: dict[str, str] = field(default_factory=dict)

    def next_for(self, brand: str | None) -> str:
        return route_for(self.next, self.next_by_brand, brand)


@dataclass(slots=True)
class Escalation:
    category: str
    priority: str
    summary: str


@dataclass(slots=True)
class Detail:
    name: str
    prompt: Text
    entity: str | None = None


@dataclass(slots=True)
class Step:
    id: str
    say: Text | None = None
    action: str | None = None
    options: list[Option] = field(default_factory=list)
    next: str | None = None
    resolved: Text | None = None
    escalate: Escalation | None = None
    # Leaf: the checklist stops unsolved and without a ticket (the user declined the handover).
    ends: Text | None = None
    collect: list[str] = field(default_factory=list)
    line: int = 0
    next_by_brand: dict[str, str] = field(default_factory=dict)

    @property
    def is_leaf(self) -> bool:
        return self.resolved is not None or self.escalate is not None or self.ends is not None

    def next_for(self, brand: str | None) -> str | None:
        return route_for(self.next, self.next_by_brand, brand) if self.next else None

    def successors(self, brand: str | None = None) -> list[str]:
        """The steps this one can lead to: for one brand, or (None) for any brand."""
        if brand is not None:
            targets = [o.next_for(brand) for o in self.options] + ([self.next_for(brand)] if self.next else [])
            return [t for t in targets if t]
        everywhere = [o.next for o in self.options] + [t for o in self.options for t in o.next_by_brand.values()]
        if self.next:
            everywhere += [self.next, *self.next_by_brand.values()]
        return everywhere


@dataclass(slots=True)
class Flow:
    name: str
    title: str
    start: str
    steps: dict[str, Step]
    details: dict[str, Detail] = field(default_factory=dict)
    # The urgency of the problem itself (account stolen: urgent): a ticket of this conversation
    # is never less urgent, whatever button led to it. None: the escalation step's priority.
    priority: str | None = None
    # What the guides say about how long this takes; None: they say nothing.
    how_long: Text | None = None
    file: str = ""
    line: int = 0
    # Steps read only in part (their error is reported): where they lead is not known.
    incomplete: set[str] = field(default_factory=set)
    valid: bool = True  # False: the flow has errors; `walletbot validate` still checks it, the bot never serves it
    start_by_brand: dict[str, str] = field(default_factory=dict)
    # Words saying a message is about something this checklist does not cover (支付密码 for the
    # login-password steps): such a message is answered from the FAQ instead.
    not_for: list[str] = field(default_factory=list)
    # Words saying the whole problem is solved (新密码能登了 in the password checklist): at any
    # step they lead to the flow's resolved leaf, not to the step's own "yes".
    solved_by: list[str] = field(default_factory=list)
    # FAQ entries about this checklist's own situation (新密码有什么要求 while a password is reset):
    # a question asked during it is read in that situation, so these win a close call.
    faq: list[str] = field(default_factory=list)
    # The FAQ entry that sums the whole checklist up, said when the user wants it all at once
    # (别一步步问了 直接告诉我怎么弄); None: the checklist has none.
    brief: str | None = None

    def start_for(self, brand: str | None) -> str:
        return route_for(self.start, self.start_by_brand, brand)

    def route_brands(self) -> set[str]:
        """The brands whose walk differs somewhere from the default one."""
        brands = set(self.start_by_brand)
        for step in self.steps.values():
            brands |= set(step.next_by_brand)
            for option in step.options:
                brands |= set(option.next_by_brand)
        return brands


def read_words(value: object) -> tuple[list[str], str | None]:
    """The words of a word list, and what is wrong with it (None: nothing).

    Only non-blank strings are words: unquoted yes/no/on/off are YAML 1.1 booleans and a number
    may be read as another (1:30 is 90), so the bot would get other words than the ones written.
    """
    if not isinstance(value, list):
        return [], f"must be a list of words, not {value!r}"
    good = [w for w in value if isinstance(w, str) and w.strip()]
    bad = [w for w in value if not isinstance(w, str) or not w.strip()]
    return (
        good,
        f"has {', '.join(map(repr, bad))} where words are expected; quote yes, no, on, off and numbers"
        if bad
        else None,
    )


def flow_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "flows").glob("*.yml")) + sorted((data_dir / "flows").glob("*.yaml"))


def read_flows(data_dir: Path, root: Path | None = None) -> tuple[list[Flow], list[Problem]]:
    """Every flow that could be read, with `valid` set, and every problem found.

    Flows with errors are kept so that the cross-file checks (intents, actions, brands, texts)
    still run on them: one mistake in a file must not hide the others.
    """
    # Imported here: both modules build on the classes above.
    from bot.flows.reader import FlowReader
    from bot.flows.structure import check_structure

    flows: list[Flow] = []
    problems: list[Problem] = []
    by_name: dict[str, Flow] = {}
    for path in flow_files(data_dir):
        display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        try:
            doc = load_yaml(path, display)
        except YamlFileError as exc:
            problems.append(exc.problem)
            continue
        if not isinstance(doc, LineDict):
            problems.append(
                Problem(display, 1, "a flow file must hold a mapping with flow, start and steps", code="file_shape")
            )
            continue
        before = len(problems)
        flow = FlowReader(display, problems).flow(doc)
        if flow is None:
            continue
        check_structure(flow, problems)
        first = by_name.setdefault(flow.name, flow)
        if first is not flow:
            problems.append(
                Problem(
                    display, flow.line, f"flow '{flow.name}' is defined twice (also in {first.file})", code="flow_twice"
                )
            )
        flow.valid = len(problems) == before
        flows.append(flow)
    return flows, problems


def load_flows(data_dir: Path, root: Path | None = None) -> tuple[dict[str, Flow], list[Problem]]:
    """The valid flows by name (what the bot serves) and every problem."""
    flows, problems = read_flows(data_dir, root)
    return {flow.name: flow for flow in flows if flow.valid}, problems
