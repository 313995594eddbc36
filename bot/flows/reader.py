"""The YAML tree of one `data/flows/*.yml` file read into a Flow (bot.flows.model), collecting
every problem with its line instead of stopping at the first. Called by `read_flows`.
"""

from __future__ import annotations

from pathlib import Path

from bot.flows.model import (
    ANSWER_KINDS,
    DEFAULT_KINDS,
    DETAIL_ENTITIES,
    FLOW_KEYS,
    KEY_ACTION,
    KEY_BRIEF,
    KEY_CATEGORY,
    KEY_COLLECT,
    KEY_DETAILS,
    KEY_ENDS,
    KEY_ENTITY,
    KEY_ESCALATE,
    KEY_FAQ,
    KEY_FLOW,
    KEY_HOW_LONG,
    KEY_KINDS,
    KEY_MATCH,
    KEY_MEANS,
    KEY_NEXT,
    KEY_NOT_FOR,
    KEY_OPTIONS,
    KEY_PAYLOAD,
    KEY_PRIORITY,
    KEY_PROMPT,
    KEY_RESOLVED,
    KEY_SAY,
    KEY_SOLVED_BY,
    KEY_START,
    KEY_STEPS,
    KEY_SUMMARY,
    KEY_TITLE,
    KINDS,
    MAX_CATEGORY,
    NAME,
    OPTION_KEYS,
    PRIORITIES,
    STEP_KEYS,
    Detail,
    Escalation,
    Flow,
    Option,
    Step,
    read_words,
)
from bot.text import Text
from bot.yamlio import LineDict, LineList, Problem


def _means(value: object) -> str | None:
    # `means: yes` is read by YAML as a boolean; accept both spellings.
    if value is True or value == "yes":
        return "yes"
    if value is False or value == "no":
        return "no"
    return None


class FlowReader:
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
        if not isinstance(name, str) or not NAME.match(name):
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
        solved_by, wrong = read_words(doc.get(KEY_SOLVED_BY, []))
        if wrong:
            self.error("bad_words", doc.line_of(KEY_SOLVED_BY), f"'solved_by' of flow '{name}' {wrong}")
        faq, wrong = read_words(doc.get(KEY_FAQ, []))
        if wrong:
            self.error("bad_words", doc.line_of(KEY_FAQ), f"'faq' of flow '{name}' {wrong}")
        brief = doc.get(KEY_BRIEF)
        if brief is not None and not (isinstance(brief, str) and brief.strip()):
            self.error("bad_words", doc.line_of(KEY_BRIEF), f"'brief' of flow '{name}' must be one FAQ entry id")
            brief = None
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
            solved_by=solved_by,
            faq=faq,
            brief=brief,
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
