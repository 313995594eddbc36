"""Flows: the decision-tree checklists in `data/flows/*.yml`, loaded and checked.

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
from difflib import get_close_matches
from pathlib import Path

from bot.text import Text
from bot.yamlio import LineDict, LineList, Problem, YamlFileError, load_yaml

KEY_FLOW, KEY_TITLE, KEY_START, KEY_DETAILS, KEY_STEPS = "flow", "title", "start", "details", "steps"
KEY_SAY, KEY_ACTION, KEY_OPTIONS, KEY_NEXT = "say", "action", "options", "next"
KEY_RESOLVED, KEY_ESCALATE, KEY_COLLECT, KEY_ENDS = "resolved", "escalate", "collect", "ends"
KEY_PAYLOAD, KEY_MEANS, KEY_MATCH, KEY_KINDS = "payload", "means", "match", "kinds"
KEY_HOW_LONG = "how_long"
KEY_NOT_FOR = "not_for"
KEY_CATEGORY, KEY_PRIORITY, KEY_SUMMARY = "category", "priority", "summary"
KEY_PROMPT, KEY_ENTITY = "prompt", "entity"

FLOW_KEYS = {KEY_FLOW, KEY_TITLE, KEY_START, KEY_DETAILS, KEY_STEPS, KEY_PRIORITY, KEY_HOW_LONG, KEY_NOT_FOR}
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
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


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


def _means(value: object) -> str | None:
    # `means: yes` is read by YAML as a boolean; accept both spellings.
    if value is True or value == "yes":
        return "yes"
    if value is False or value == "no":
        return "no"
    return None


class _Reader:
    """Builds one Flow from its YAML tree, collecting problems instead of stopping at the first."""

    def __init__(self, display: str, problems: list[Problem]) -> None:
        self.display = display
        self.problems = problems
        self.incomplete: set[str] = set()

    def error(self, code: str, line: int, message: str) -> None:
        self.problems.append(Problem(self.display, line, message, code=code))

    def unknown_keys(self, node: LineDict, known: set[str], what: str) -> None:
        for key in node:
            if key not in known:
                self.error(
                    "unknown_key",
                    node.line_of(key),
                    f"unknown key '{key}' in {what}; known keys are {', '.join(sorted(known))}",
                )

    def text(self, node: LineDict, key: str, what: str, required: bool = False) -> Text | None:
        value = node.get(key)
        if value is None and not required:
            return None
        if isinstance(value, str) and value.strip():
            return value
        if (
            isinstance(value, dict)
            and isinstance(value.get("default"), str)
            and all(isinstance(v, str) for v in value.values())
        ):
            return value
        self.error(
            "bad_text",
            node.line_of(key),
            f"'{key}' of {what} must be a text or a mapping of brand to text with a 'default'",
        )
        return None

    def route(self, node: LineDict, key: str, what: str) -> tuple[str, dict[str, str]] | None:
        """A `start`/`next` value: a step id, or a mapping of brand to step id with a 'default'."""
        value = node.get(key)
        if isinstance(value, str) and value:
            return value, {}
        if (
            isinstance(value, dict)
            and isinstance(value.get("default"), str)
            and all(isinstance(v, str) and v for v in value.values())
        ):
            return value["default"], {str(b): v for b, v in value.items() if b != "default"}
        self.error(
            "bad_route",
            node.line_of(key),
            f"'{key}' of {what} must be a step id or a mapping of brand to step id with a 'default', got {value!r}",
        )
        return None

    def flow(self, doc: LineDict) -> Flow | None:
        self.unknown_keys(doc, FLOW_KEYS, "a flow")
        name = doc.get(KEY_FLOW)
        if not isinstance(name, str) or not _NAME.match(name):
            self.error(
                "flow_name", doc.line_of(KEY_FLOW), f"'flow' must be the snake_case name of an intent, got {name!r}"
            )
            name = Path(self.display).stem  # flows are named after their file: check the rest under that name
        steps_node = doc.get(KEY_STEPS)
        if not isinstance(steps_node, LineDict) or not steps_node:
            self.error(
                "flow_no_steps", doc.line_of(KEY_STEPS), f"flow '{name}' needs 'steps:' mapping step ids to steps"
            )
            return None
        details = self.details(doc.get(KEY_DETAILS), doc.line_of(KEY_DETAILS))
        steps: dict[str, Step] = {}
        for step_id, node in steps_node.items():
            step = self.step(str(step_id), node, steps_node.line_of(step_id))
            if step:
                steps[step.id] = step
        start, start_by_brand = "", dict[str, str]()
        if doc.get(KEY_START) in (None, ""):
            self.error(
                "flow_no_start",
                doc.line_of(KEY_START) if KEY_START in doc else doc.line,
                f"flow '{name}' needs 'start:' naming its first step",
            )
        elif (route := self.route(doc, KEY_START, f"flow '{name}'")) is not None:
            start, start_by_brand = route
        title = raw_title if isinstance(raw_title := doc.get(KEY_TITLE), str) else name
        priority = doc.get(KEY_PRIORITY)
        if priority is not None and priority not in PRIORITIES:
            self.error(
                "priority",
                doc.line_of(KEY_PRIORITY),
                f"priority {priority!r} of flow '{name}' must be one of {', '.join(PRIORITIES)}",
            )
            priority = None
        how_long = self.text(doc, KEY_HOW_LONG, f"flow '{name}'")
        not_for, wrong = read_words(doc.get(KEY_NOT_FOR, []))
        if wrong:
            self.error("bad_words", doc.line_of(KEY_NOT_FOR), f"'not_for' of flow '{name}' {wrong}")
        return Flow(
            name,
            title,
            start,
            steps,
            details,
            priority,
            how_long,
            self.display,
            doc.line,
            self.incomplete,
            start_by_brand=start_by_brand,
            not_for=not_for,
        )

    def details(self, node: object, line: int) -> dict[str, Detail]:
        if node is None:
            return {}
        if not isinstance(node, LineDict):
            self.error("detail_invalid", line, "'details' must map detail names to {prompt, entity}")
            return {}
        details = {}
        for name, spec in node.items():
            where = node.line_of(name)
            if not isinstance(spec, LineDict):
                self.error(
                    "detail_invalid", where, f"detail '{name}' must be a mapping with 'prompt' and optional 'entity'"
                )
                continue
            self.unknown_keys(spec, {KEY_PROMPT, KEY_ENTITY}, f"detail '{name}'")
            prompt = self.text(spec, KEY_PROMPT, f"detail '{name}'")
            entity = spec.get(KEY_ENTITY)
            if entity is not None and entity not in DETAIL_ENTITIES:
                self.error(
                    "detail_entity",
                    spec.line_of(KEY_ENTITY),
                    f"detail '{name}' has entity {entity!r}; use one of {', '.join(DETAIL_ENTITIES)} or leave it out for free text",
                )
                entity = None
            if prompt is None:
                self.error("detail_invalid", where, f"detail '{name}' needs a 'prompt'")
                continue
            details[str(name)] = Detail(str(name), prompt, entity)
        return details

    def step(self, step_id: str, node: object, line: int) -> Step | None:
        if not isinstance(node, LineDict):
            self.error("step_shape", line, f"step '{step_id}' must be a mapping")
            self.incomplete.add(step_id)
            return None
        self.unknown_keys(node, STEP_KEYS, f"step '{step_id}'")
        kinds = [k for k in KINDS if k in node]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            self.error(
                "step_shape",
                line,
                f"step '{step_id}' must have exactly one of options, next, resolved, escalate, ends (found: {found})",
            )
            self.incomplete.add(step_id)
            return None
        step = Step(step_id, say=self.text(node, KEY_SAY, f"step '{step_id}'"), line=line)
        action = node.get(KEY_ACTION)
        if action is not None:
            step.action = str(action)
        kind = kinds[0]
        if kind == KEY_NEXT:
            route = self.route(node, KEY_NEXT, f"step '{step_id}'")
            if route is None:
                self.incomplete.add(step_id)
            else:
                step.next, step.next_by_brand = route
        elif kind == KEY_RESOLVED:
            step.resolved = self.text(node, KEY_RESOLVED, f"step '{step_id}'", required=True) or ""
        elif kind == KEY_ENDS:
            step.ends = self.text(node, KEY_ENDS, f"step '{step_id}'", required=True) or ""
        elif kind == KEY_ESCALATE:
            step.escalate = self.escalation(step_id, node[KEY_ESCALATE], node.line_of(KEY_ESCALATE))
            if step.escalate is None:
                self.incomplete.add(step_id)
            collect = node.get(KEY_COLLECT, [])
            if not isinstance(collect, list):
                self.error(
                    "collect_invalid",
                    node.line_of(KEY_COLLECT),
                    f"'collect' of step '{step_id}' must be a list of detail names",
                )
            else:
                step.collect = [str(c) for c in collect]
        else:
            step.options = self.options(step_id, node[KEY_OPTIONS], node.line_of(KEY_OPTIONS))
        if KEY_COLLECT in node and kind != KEY_ESCALATE:
            self.error(
                "collect_invalid",
                node.line_of(KEY_COLLECT),
                f"'collect' only belongs on an escalate step, not on step '{step_id}'",
            )
        if step.say is None and kind in (KEY_OPTIONS,):
            self.error("step_no_say", line, f"step '{step_id}' asks a question but has no 'say'")
        return step

    def escalation(self, step_id: str, node: object, line: int) -> Escalation | None:
        if not isinstance(node, LineDict):
            self.error(
                "escalate_invalid",
                line,
                f"'escalate' of step '{step_id}' must be a mapping with category, priority and summary",
            )
            return None
        self.unknown_keys(node, {KEY_CATEGORY, KEY_PRIORITY, KEY_SUMMARY}, f"the escalation of step '{step_id}'")
        priority = node.get(KEY_PRIORITY, "normal")
        if priority not in PRIORITIES:
            self.error(
                "priority",
                node.line_of(KEY_PRIORITY),
                f"priority {priority!r} of step '{step_id}' must be one of {', '.join(PRIORITIES)}",
            )
            priority = "normal"
        category, summary = node.get(KEY_CATEGORY), node.get(KEY_SUMMARY)
        if not isinstance(category, str) or not category:
            self.error("escalate_invalid", node.line, f"the escalation of step '{step_id}' needs a 'category'")
            category = "other"
        elif len(category) > MAX_CATEGORY:
            self.error(
                "escalate_invalid",
                node.line_of(KEY_CATEGORY),
                f"category of step '{step_id}' has {len(category)} characters; the ticket column holds at most {MAX_CATEGORY}",
            )
        if not isinstance(summary, str) or not summary.strip():
            self.error(
                "escalate_invalid",
                node.line_of(KEY_SUMMARY),
                f"the escalation of step '{step_id}' needs a 'summary' text for the agent, got {summary!r}",
            )
            summary = ""
        return Escalation(category, priority, summary)

    def options(self, step_id: str, node: object, line: int) -> list[Option]:
        if not isinstance(node, LineList) or not node:
            self.error("option_invalid", line, f"'options' of step '{step_id}' must be a non-empty list")
            self.incomplete.add(step_id)
            return []
        options = []
        for n, item in enumerate(node, start=1):
            where = node.line_of(n - 1)
            if not isinstance(item, LineDict):
                self.error(
                    "option_invalid", where, f"option {n} of step '{step_id}' must be a mapping with title and next"
                )
                self.incomplete.add(step_id)
                continue
            self.unknown_keys(item, OPTION_KEYS, f"option {n} of step '{step_id}'")
            title = item.get(KEY_TITLE)
            if not isinstance(title, str) or not title.strip() or KEY_NEXT not in item:
                self.error("option_invalid", where, f"option {n} of step '{step_id}' needs a 'title' and a 'next' step")
                self.incomplete.add(step_id)
                continue
            route = self.route(item, KEY_NEXT, f"option {n} of step '{step_id}'")
            if route is None:
                self.incomplete.add(step_id)
                continue
            target, target_by_brand = route
            means = _means(item.get(KEY_MEANS))
            if KEY_MEANS in item and means is None:
                self.error(
                    "means", item.line_of(KEY_MEANS), f"'means' of option {n} of step '{step_id}' must be yes or no"
                )
            match = item.get(KEY_MATCH, [])
            match, wrong = read_words([match] if isinstance(match, str) else match)
            if wrong:
                self.error(
                    "option_invalid", item.line_of(KEY_MATCH), f"'match' of option {n} of step '{step_id}' {wrong}"
                )
            kinds, wrong = read_words(item.get(KEY_KINDS, []))
            unknown = [k for k in kinds if k not in ANSWER_KINDS]
            if wrong or unknown:
                self.error(
                    "option_invalid",
                    item.line_of(KEY_KINDS),
                    f"'kinds' of option {n} of step '{step_id}' must list reply kinds out of {', '.join(ANSWER_KINDS)}",
                )
                kinds = [k for k in kinds if k in ANSWER_KINDS]
            options.append(
                Option(
                    title=title.strip(),
                    payload=str(item.get(KEY_PAYLOAD) or f"{step_id}.{n}"),
                    next=target,
                    means=means,
                    match=match,
                    line=where,
                    kinds=kinds or list(DEFAULT_KINDS.get(means or "", [])),
                    next_by_brand=target_by_brand,
                )
            )
        return options


def check_structure(flow: Flow, problems: list[Problem]) -> None:
    """Graph rules: known targets, unique payloads, reachability, and a way out of every step.

    A step read only in part, or a `next` to a missing step, may lead anywhere once fixed: the
    graph rules give it the benefit of the doubt rather than report a cascade of follow-on
    errors (every step behind a typo "unreachable") that fixing the one mistake clears.
    """

    def error(code: str, line: int, message: str) -> None:
        problems.append(Problem(flow.file, line, message, code=code))

    declared = set(flow.steps) | flow.incomplete

    def missing(target: str) -> str:
        near = get_close_matches(target, sorted(declared), n=1)
        return f"'{target}', which is not a step of flow '{flow.name}'" + (
            f"; did you mean '{near[0]}'?" if near else ""
        )

    for start in [flow.start, *flow.start_by_brand.values()]:
        if start and start not in declared:  # a missing `start:` is reported already
            error("missing_step", flow.line, f"flow '{flow.name}' starts at {missing(start)}")
    payloads: dict[str, str] = {}
    for step in flow.steps.values():
        for option in step.options:
            for target in [option.next, *option.next_by_brand.values()]:
                if target not in declared:
                    error(
                        "missing_step",
                        option.line,
                        f"option '{option.title}' of step '{step.id}' goes to {missing(target)}",
                    )
            if option.payload in payloads:
                error(
                    "payload_twice",
                    option.line,
                    f"payload '{option.payload}' is used twice in flow '{flow.name}' (also in step '{payloads[option.payload]}')",
                )
            payloads[option.payload] = step.id
        for target in [step.next, *step.next_by_brand.values()] if step.next else []:
            if target not in declared:
                error("missing_step", step.line, f"step '{step.id}' goes to {missing(target)}")
        for name in step.collect:
            if name not in flow.details:
                error(
                    "collect_undeclared",
                    step.line,
                    f"step '{step.id}' collects '{name}', which is not declared under 'details' of flow '{flow.name}'",
                )
    # Reachability from start.
    reachable: set[str] = set()
    frontier = [s for s in {flow.start, *flow.start_by_brand.values()} if s in flow.steps]
    while frontier:
        current = frontier.pop()
        if current in reachable:
            continue
        reachable.add(current)
        frontier.extend(s for s in flow.steps[current].successors() if s in flow.steps)
    unreachable = [s for s in flow.steps.values() if s.id not in reachable] if reachable else []
    # Where the way from start is lost: a target that is missing or unreadable, or a step read in part.
    lost = {n for s in reachable for n in flow.steps[s].successors() if n not in flow.steps} | (
        reachable & flow.incomplete
    )
    if unreachable and lost:
        names = ", ".join(f"'{s.id}'" for s in unreachable)
        through = ", ".join(f"'{n}'" for n in sorted(lost))
        error(
            "unreachable_after_missing",
            unreachable[0].line,
            f"flow '{flow.name}' cannot reach {names} from start '{flow.start}' while the way through {through} is broken; fix that first",
        )
    else:
        for step in unreachable:
            error(
                "unreachable",
                step.line,
                f"step '{step.id}' of flow '{flow.name}' is unreachable from start '{flow.start}'",
            )
    # Every step must be able to reach a leaf, on every brand's walk: otherwise a cycle traps the
    # user. A step whose way on is unknown (read in part, or going to a missing or unreadable
    # step) may well reach one.
    trapped: dict[str, list[str]] = {}
    for brand in [None, *sorted(flow.route_brands())]:
        walk = brand or "default"
        open_ended = flow.incomplete | {
            s.id for s in flow.steps.values() if any(n not in flow.steps for n in s.successors(walk))
        }
        can_finish = {s.id for s in flow.steps.values() if s.is_leaf} | open_ended
        changed = True
        while changed:
            changed = False
            for step in flow.steps.values():
                if step.id not in can_finish and any(n in can_finish for n in step.successors(walk)):
                    can_finish.add(step.id)
                    changed = True
        for step in flow.steps.values():
            if step.id not in can_finish:
                trapped.setdefault(step.id, []).append(brand or "default")
    for step_id, brands in trapped.items():
        whose = "" if brands == ["default"] else f" for brand(s) {', '.join(brands)}"
        error(
            "no_exit",
            flow.steps[step_id].line,
            f"step '{step_id}' of flow '{flow.name}' can never reach a resolved or escalate leaf{whose} (a cycle without an exit)",
        )


def flow_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "flows").glob("*.yml")) + sorted((data_dir / "flows").glob("*.yaml"))


def read_flows(data_dir: Path, root: Path | None = None) -> tuple[list[Flow], list[Problem]]:
    """Every flow that could be read, with `valid` set, and every problem found.

    Flows with errors are kept so that the cross-file checks (intents, actions, brands, texts)
    still run on them: one mistake in a file must not hide the others.
    """
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
        flow = _Reader(display, problems).flow(doc)
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
