"""The graph rules of a flow (bot.flows.model): every `next` names a step, payloads are unique,
every step is reachable, and every path can end in a `resolved` or `escalate` leaf, for every
brand's walk; so a conversation never gets stuck in a step with no way out.
"""

from __future__ import annotations

from difflib import get_close_matches

from bot.flows.model import Flow
from bot.yamlio import Problem


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
