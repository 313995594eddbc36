"""Walking a checklist (data/flows/): starting it (with the step the opening message already
answers), showing a step and passing through steps that only lead on, running a step's action,
choosing an option, going back, resuming after a question, and the trail of what was asked.

A mixin of the Policy, built on escalation (bot/dialogue/escalation.py): a leaf that escalates
opens the ticket and asks its details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actions.base import Action, ActionContext
from bot.dialogue.answers import keyword_scores
from bot.dialogue.escalation import Escalation
from bot.dialogue.state import higher
from bot.dialogue.turn import (
    PAYLOAD_HELPFUL,
    PAYLOAD_HUMAN,
    PAYLOAD_NOT_HELPFUL,
    PUNCT,
    Button,
    Outcome,
    TicketUpdate,
    Turn,
)
from bot.flows.model import Flow, Option, Step
from bot.nlu.normalize import normalize

if TYPE_CHECKING:
    pass


class Checklist(Escalation):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    actions: dict[str, Action]
    _negators: frozenset[str]
    _negations: frozenset[str]

    def _start_flow(self, state: dict[str, Any], turn: Turn, name: str, *, switching: bool, opening: str = "") -> None:
        """Start a flow. `opening` is the message that started it (empty for a button).

        When the opening message already answers the first step (提现了三天还没到账 answers
        "怎么提现、提现失败还是没到账？"), that step is recorded with the message as its answer and
        the flow goes on from the chosen option.
        """
        flow = self.content.flows[name]
        state.update(flow=name, intent=name, faq_id=None, paused=None, awaiting_feedback=None, collecting=None)
        state["urgency"] = higher(state.get("urgency"), flow.priority)
        self._note_problem(state, opening)
        if state.get("ticket"):
            # A new problem after the ticket: the agent must see it, at its urgency.
            problem = (
                self._problem_line(turn, flow, opening)
                if opening.strip()
                else self._problem_line(turn, None, turn.render(flow.title))
            )
            self._add_to_ticket(turn, state, TicketUpdate(priority=state["urgency"], problem=problem))
            turn.say("ticket_updated", ticket=state["ticket"])
        turn.say("flow_switch" if switching else "flow_start", title=turn.render(flow.title))
        turn.result.outcome = Outcome.FLOW
        first = flow.steps[flow.start_for(turn.brand_key)]
        option = self._answered_by_opening(first, PUNCT.sub("", normalize(opening))) if opening else None
        if option is None:
            return self._enter(state, turn, flow, first.id)
        state["step"] = first.id
        if first.action:
            self._run_action(state, turn, first)
        self._trail(
            turn, state, flow, first, turn.render(first.say) if first.say is not None else "", answer=opening.strip()
        )
        state["trail"][-1].update(choice=option.title, from_opening=True)
        self._enter(state, turn, flow, option.next_for(turn.brand_key))

    def _answered_by_opening(self, step: Step, bare: str) -> Option | None:
        """The option of a flow's first step that the opening message picks, if exactly one does.

        Only deliberate signals count: the option's whole title, or its `match` words. Yes/no
        words do not (the step has not been asked yet), and an opening whose words point to two
        different options picks none, so the question is asked. Words saying the user does not
        know (`answers.skip`: 不知道, 不清楚…) answer nothing in advance: 不知道能不能退款 still
        gets the step that explains what can be refunded.
        """
        if not bare:
            return None
        for option in step.options:
            if PUNCT.sub("", normalize(option.title)) == bare:
                return option
        unsure = [w for w in self._skip if len(w) > 1]
        scores = keyword_scores(
            step, bare, ignore=lambda word: any(u in word for u in unsure), negations=self._negations
        )
        return scores[0][1] if len(scores) == 1 else None

    def _enter(self, state: dict[str, Any], turn: Turn, flow: Flow, step_id: str) -> None:
        """Show a step; steps with only `next` are passed through until a question or a leaf."""
        for _ in range(len(flow.steps) + 1):  # bounded: validated flows have no cycles of auto-steps
            step = flow.steps[step_id]
            state["step"] = step.id
            if step.action:
                self._run_action(state, turn, step)
            said = turn.render(step.say) if step.say is not None else ""
            if step.options:
                buttons: list[Button] = [{"title": turn.render(o.title), "payload": o.payload} for o in step.options]
                buttons.append(turn.button("human", PAYLOAD_HUMAN))
                turn.add(said, buttons)
                self._trail(turn, state, flow, step, said)
                return
            if (next_id := step.next_for(turn.brand_key)) is not None:
                turn.add(said)
                self._trail(turn, state, flow, step, said, answer="")
                step_id = next_id
                continue
            if step.resolved is not None:
                text = "\n".join(t for t in (said, turn.render(step.resolved)) if t)
                self._trail(turn, state, flow, step, text, answer="")
                turn.add(text)
                turn.say(
                    "resolved_helpful_prompt",
                    [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)],
                )
                state.update(flow=None, step=None, resolved=True, awaiting_feedback={"kind": "flow", "id": flow.name})
                turn.result.report["resolved_step"] = step.id
                return
            if step.ends is not None:
                text = "\n".join(t for t in (said, turn.render(step.ends)) if t)
                self._trail(turn, state, flow, step, text, answer="")
                turn.add(text, [turn.button("human", PAYLOAD_HUMAN)])
                state.update(flow=None, step=None)
                return
            turn.add(said)
            self._trail(turn, state, flow, step, said, answer="")
            return self._begin_collect(state, turn, flow, step)
        raise RuntimeError(f"flow '{flow.name}' loops through steps without a question")  # pragma: no cover

    def _choose(self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step, option: Option, answer: str) -> None:
        trail = state["trail"]
        if trail and trail[-1].get("step") == step.id and trail[-1].get("answer") is None:
            trail[-1]["answer"] = answer
            trail[-1]["choice"] = option.title
        turn.result.report.update(steps_flow=flow.name, steps=[], choice_step=step.id, choice=option.title)
        state["misses"] = 0
        turn.result.outcome = Outcome.FLOW
        next_id = option.next_for(turn.brand_key)
        if answer != option.title:
            next_id = self._answered_ahead(state, turn, flow, next_id, answer, option)
        self._enter(state, turn, flow, next_id)

    def _answered_ahead(
        self, state: dict[str, Any], turn: Turn, flow: Flow, step_id: str, answer: str, chosen: Option
    ) -> str:
        """The step to show after a typed answer that also answers the steps after it (点了找回密码
        手机号输了 验证码也收着了): each later step that the rest of the message picks an option of
        by that option's own words (as an opening message would) is recorded as answered, and
        passed. Words that picked one step's option do not count again for the next."""
        rest = self._without_option_words(PUNCT.sub("", normalize(answer)), chosen)
        for _ in range(len(flow.steps)):  # bounded: validated flows have no cycles
            ahead = flow.steps[step_id]
            if not ahead.options or ahead.action or not rest:
                break
            option = self._answered_by_opening(ahead, rest) or self._titled_in(flow, ahead, rest)
            if option is None:
                break
            state["step"] = ahead.id
            said = turn.render(ahead.say) if ahead.say is not None else ""
            self._trail(turn, state, flow, ahead, said, answer=answer.strip())
            state["trail"][-1].update(choice=option.title, from_answer=True)
            rest = self._without_option_words(rest, option)
            step_id = option.next_for(turn.brand_key)
        return step_id

    def _titled_in(self, flow: Flow, step: Step, bare: str) -> Option | None:
        """The one option of `step` whose title (two characters or more) the reply holds, not
        right after a negator (验证码收到了 holds 收到了; 还没收到了 does not). Only a title no other
        step of the flow offers counts: 成功了, offered at every step, answers none in advance."""
        elsewhere = {o.title for s in flow.steps.values() if s is not step for o in s.options}
        found = []
        for option in step.options:
            if option.title in elsewhere:
                continue
            title = PUNCT.sub("", normalize(option.title))
            at = bare.find(title) if len(title) >= 2 else -1
            if at >= 0 and not (at > 0 and bare[at - 1] in self._negators):
                found.append(option)
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _without_option_words(bare: str, option: Option) -> str:
        """`bare` without the option's title and `match` words, longest first."""
        for word in sorted({normalize(w) for w in option.match} | {normalize(option.title)}, key=len, reverse=True):
            if word := PUNCT.sub("", word):
                bare = bare.replace(word, "")
        return bare

    def _resume(self, state: dict[str, Any], turn: Turn) -> None:
        paused = state.get("paused") or {}
        flow = self.content.flows.get(paused.get("flow", ""))
        state["paused"] = None
        state["awaiting_feedback"] = None
        if not flow or paused.get("step") not in flow.steps:
            return turn.say("restart_done")
        state.update(flow=flow.name, intent=flow.name)
        turn.say("flow_resumed")
        turn.result.outcome = Outcome.FLOW
        self._enter(state, turn, flow, paused["step"])

    def _not_understood(self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step) -> None:
        state["misses"] += 1
        turn.result.outcome = Outcome.FALLBACK
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            self._step_buttons(turn, step, "offer_human")
        else:
            self._step_buttons(turn, step, "step_not_understood")

    def _step_buttons(self, turn: Turn, step: Step, key: str) -> None:
        buttons: list[Button] = [{"title": turn.render(o.title), "payload": o.payload} for o in step.options]
        turn.say(key, [*buttons, turn.button("human", PAYLOAD_HUMAN)])

    def _previous_step(self, state: dict[str, Any], flow: Flow, step: Step) -> str | None:
        """The question step of this flow asked before `step`, from the trail."""
        asked = [
            t["step"]
            for t in state["trail"]
            if t.get("flow") == flow.name and t.get("step") in flow.steps and flow.steps[t["step"]].options
        ]
        while asked and asked[-1] == step.id:
            asked.pop()
        return asked[-1] if asked else None

    def _say_how_long(self, turn: Turn, flow: Flow | None) -> None:
        """What the guides say about how long it takes, or that they give no time."""
        if flow is not None and flow.how_long is not None:
            turn.add(turn.render(flow.how_long))
        else:
            turn.say("how_long_unknown")

    def _run_action(self, state: dict[str, Any], turn: Turn, step: Step) -> None:
        action = self.actions.get(step.action) if step.action else None
        if action is None:
            return
        ctx = ActionContext(turn.brand_key, self.settings.brand(turn.brand_key), turn.now.astimezone(), state)
        result = action.run(ctx)
        if result.response:
            turn.say(result.response, None, **result.values)
        state["trail"].append(
            {
                "flow": state.get("flow"),
                "step": step.id,
                "action": step.action,
                "facts": result.facts,
                "at": turn.now.isoformat(timespec="seconds"),
            }
        )

    def _trail(
        self, turn: Turn, state: dict[str, Any], flow: Flow, step: Step, said: str, answer: str | None = None
    ) -> None:
        state["trail"].append(
            {
                "flow": flow.name,
                "step": step.id,
                "say": said,
                "answer": answer,
                "at": turn.now.isoformat(timespec="seconds"),
            }
        )
        report = turn.result.report
        if report.get("steps_flow") != flow.name:  # a switch to another checklist this turn
            report.update(steps_flow=flow.name, steps=[])
        report["steps"].append(step.id)
