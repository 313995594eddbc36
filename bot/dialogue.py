"""The dialogue policy: what happens on each turn, given the conversation state and the NLU.

The policy is pure with respect to storage: it reads and mutates the conversation's `state`
dict, returns the messages to send, and asks for a ticket through the `open_ticket` callback the
engine gives it (so the ticket is written in the same transaction as the state).

State keys (all JSON): intent, flow, step, faq_id, ticket, escalated, trail, details, entities,
time_period, collecting, paused, misses, awaiting_feedback, fraud_risk.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, TypedDict

from actions.base import ActionContext
from bot.config import Settings
from bot.content import Content
from bot.errors import ConversationError
from bot.faq.index import FaqIndex, FaqHit
from bot.flows.model import Flow, Option, Step
from bot.nlu.entities import EntityExtractor, SaidDay, has_clock, said_day
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult
from bot.guard import mask
from bot.text import render

PAYLOAD_HUMAN = "/human"
PAYLOAD_RESTART = "/restart"
PAYLOAD_HELPFUL = "/helpful"
PAYLOAD_NOT_HELPFUL = "/not_helpful"
PAYLOAD_RESUME = "/resume"
PAYLOAD_SKIP = "/skip"
PREFIX_INTENT = "/intent:"
PREFIX_FAQ = "/faq:"
CONTACT_ENTITIES = ("phone", "email", "contact")

# Intents handled by a fixed response rather than a flow or the FAQ.
SMALL_TALK = {"greet": "greet", "goodbye": "goodbye", "thanks": "thanks", "bot_challenge": "bot_challenge"}
_PUNCT = re.compile(r"[\s,.!?;:，。！？；：、~～…'\"“”‘’()（）]+")


class Button(TypedDict):
    title: str
    payload: str


class Message(TypedDict):
    text: str
    buttons: list[Button]


@dataclass(slots=True)
class TicketRequest:
    category: str
    priority: str
    summary: str
    details: dict[str, Any]
    trail: list[dict[str, Any]]


@dataclass(slots=True)
class TicketInfo:
    number: str
    created: bool
    hours: float


@dataclass(slots=True)
class TurnResult:
    messages: list[Message] = field(default_factory=list)
    # "answered" | "flow" | "clarify" | "fallback" | "out_of_scope" | "escalated" | "feedback" | "small_talk"
    outcome: str = "answered"
    # (target_kind, target_id, helpful) when the user voted on an answer
    feedback: tuple[str, str, bool] | None = None
    # Unmasked contact details given this turn: they go only into the ticket, never into state.
    protected: dict[str, str] = field(default_factory=dict)


OpenTicket = Callable[[TicketRequest], TicketInfo]


def fresh_state() -> dict[str, Any]:
    return {
        "intent": None, "flow": None, "step": None, "faq_id": None, "ticket": None, "escalated": False,
        "trail": [], "details": {}, "entities": {}, "time_period": None, "collecting": None, "paused": None, "misses": 0,
        "awaiting_feedback": None, "fraud_risk": False, "expecting_code": False,
    }


def public_state(state: dict[str, Any]) -> dict[str, Any]:
    """The `state` object of the chat contract."""
    return {k: state.get(k) for k in ("intent", "flow", "step", "faq_id", "ticket")} | {"escalated": bool(state.get("escalated"))}


class _Turn:
    """Collects the messages of one turn; texts are rendered for the conversation's brand."""

    def __init__(self, policy: "Policy", brand_key: str) -> None:
        self.policy = policy
        self.brand_key = brand_key
        self.values = policy.settings.brand(brand_key).placeholders()
        self.result = TurnResult()

    def render(self, text: Any, **extra: str) -> str:
        return render(text, self.brand_key, self.values | extra)

    def say(self, key: str, buttons: list[Button] | None = None, **extra: str) -> None:
        self.add(self.render(self.policy.content.responses.texts.get(key, key), **extra), buttons)

    def add(self, text: str, buttons: list[Button] | None = None) -> None:
        if text or buttons:
            self.result.messages.append({"text": text, "buttons": buttons or []})

    def button(self, key: str, payload: str) -> Button:
        return {"title": self.policy.content.responses.buttons.get(key, key), "payload": payload}


class Policy:
    def __init__(self, content: Content, settings: Settings, faq_index: FaqIndex, extractor: EntityExtractor, actions: dict) -> None:
        self.content = content
        self.settings = settings
        self.faq = faq_index
        # One Policy answers every conversation, from many threads at once: what belongs to the
        # message being answered lives per thread (see the properties below).
        self._this_turn = threading.local()
        self.extractor = extractor
        self.actions = actions
        answers = content.responses.answers
        self._yes = {normalize(w) for w in answers.get("yes", [])}
        self._no = {normalize(w) for w in answers.get("no", [])}
        self._skip = {normalize(w) for w in answers.get("skip", [])}
        self._resume_words = {normalize(w) for w in answers.get("resume", [])}
        self._helpful_words = {normalize(w) for w in answers.get("helpful", [])}
        self._not_helpful_words = {normalize(w) for w in answers.get("not_helpful", [])}

    @property
    def _raw_text(self) -> str | None:
        """The message with only its secrets hidden: read for a contact detail the bot asked for."""
        return self._this_turn.raw_text

    @property
    def _now(self) -> datetime:
        return self._this_turn.now

    @property
    def _open_ticket(self) -> OpenTicket:
        return self._this_turn.open_ticket

    # ------------------------------------------------------------------ entry point

    def respond(
        self,
        state: dict[str, Any],
        brand_key: str,
        *,
        text: str | None,
        payload: str | None,
        nlu: ParseResult | None,
        open_ticket: OpenTicket,
        raw_text: str | None = None,
        secret: bool = False,
        scam: bool = False,
        now: datetime | None = None,
    ) -> TurnResult:
        """Decide this turn. `text` is already redacted; `nlu` is its parse (None for payloads).

        `raw_text` (unredacted) is read only to capture a contact detail the bot asked for.
        """
        turn = _Turn(self, brand_key)
        self._this_turn.raw_text = raw_text if raw_text is not None else text
        self._this_turn.now = now or datetime.now(timezone.utc)
        self._this_turn.open_ticket = open_ticket
        if secret:
            turn.say("secret_warning")
        if nlu:
            for entity in nlu["entities"]:
                state["entities"][entity["entity"]] = entity["value"]
                if entity["entity"] == "time":
                    # 昨天下午 keeps its 下午 for a clock time said later (see _begin_collect)
                    said = said_day(entity["value"], normalize(nlu["text"][entity["start"]:entity["end"]]))
                    state["time_period"] = said.period if said else None
            state["intent"] = nlu["intent"]
        if scam:
            state["fraud_risk"] = True
            turn.say("scam_warning", [turn.button("human", PAYLOAD_HUMAN)])
            turn.result.outcome = "answered"
            return turn.result
        offered = {_PUNCT.sub("", normalize(b["title"])): b["payload"] for b in state.get("offered") or []}
        typed = _PUNCT.sub("", normalize(text or ""))
        if payload is None and typed in offered:
            payload = offered[typed]  # typing a button's title is the same as pressing it
        if payload is not None:
            self._payload(state, turn, payload)
        else:
            self._text(state, turn, text or "", nlu)
        state["offered"] = [b for m in turn.result.messages for b in m["buttons"]]
        return turn.result

    # ------------------------------------------------------------------ payloads

    def _payload(self, state: dict[str, Any], turn: _Turn, payload: str) -> None:
        if payload == PAYLOAD_HUMAN:
            return self._handoff(state, turn)
        if payload == PAYLOAD_RESTART:
            return self._restart(state, turn)
        if payload in (PAYLOAD_HELPFUL, PAYLOAD_NOT_HELPFUL) and state.get("awaiting_feedback"):
            return self._feedback(state, turn, payload == PAYLOAD_HELPFUL)
        if payload == PAYLOAD_RESUME and state.get("paused"):
            return self._resume(state, turn)
        if payload == PAYLOAD_SKIP and state.get("collecting"):
            return self._collect_answer(state, turn, None, skip=True)
        if payload.startswith(PREFIX_INTENT):
            intent = payload[len(PREFIX_INTENT):]
            if intent in self.content.flows:
                state["misses"] = 0
                return self._start_flow(state, turn, intent, switching=bool(state.get("flow")))
        if payload.startswith(PREFIX_FAQ):
            entry = self.faq.by_id.get(payload[len(PREFIX_FAQ):])
            if entry and entry.serves(turn.brand_key):
                state["misses"] = 0
                return self._answer_faq(state, turn, entry.id)
        flow = self.content.flows.get(state.get("flow") or "")
        step = flow.steps.get(state.get("step") or "") if flow else None
        if flow and step:
            option = next((o for o in step.options if o.payload == payload), None)
            if option:
                return self._choose(state, turn, flow, step, option, option.title)
        raise ConversationError(
            f"Button payload '{payload}' is not valid at this point of the conversation.", status=400, code="unknown_payload"
        )

    # ------------------------------------------------------------------ free text

    def _text(self, state: dict[str, Any], turn: _Turn, text: str, nlu: ParseResult | None) -> None:
        norm = normalize(text)
        bare = _PUNCT.sub("", norm)
        intent, confidence = (nlu["intent"], nlu["confidence"]) if nlu else ("out_of_scope", 0.0)
        confident = confidence >= self.settings.nlu.intent_threshold

        if confident and intent == "human_handoff":
            return self._handoff(state, turn)
        if confident and intent == "restart":
            return self._restart(state, turn)
        if state.get("collecting"):
            return self._collect_answer(state, turn, text, skip=bare in self._skip)

        flow = self.content.flows.get(state.get("flow") or "")
        step = flow.steps.get(state.get("step") or "") if flow else None
        if flow and step:
            option = self._interpret(step, bare, intent, confidence)
            if option:
                return self._choose(state, turn, flow, step, option, text)
            return self._digress(state, turn, flow, step, norm, intent, confident, text)

        if not (confident and intent in self.content.flows):  # a new problem is never a short answer
            if state.get("paused") or state.get("awaiting_feedback"):
                if self._short_answer(state, turn, bare, intent, confidence):
                    return
        self._route(state, turn, norm, intent, confidence, nlu, text)

    def _short_answer(self, state: dict[str, Any], turn: _Turn, bare: str, intent: str, confidence: float) -> bool:
        """A reply to "did this help?" or, after an FAQ question asked mid-flow, to "要继续吗？".

        While a flow is paused the question last asked is whether to continue, so a yes (好的,
        是的, 要) or a resume word (继续…) goes back to the paused step; only words about the
        answer itself (有帮助, 没用…) are feedback. Returns False when the text is none of these.
        """
        helpful = self._helpfulness(bare)
        answer = self._yes_no(bare, intent, confidence)
        if helpful is not None and state.get("awaiting_feedback"):
            self._feedback(state, turn, helpful)
            return True
        if state.get("paused"):
            if answer == "no":
                state.update(paused=None, awaiting_feedback=None)
                turn.result.outcome = "small_talk"
                turn.say("deny_idle")
                return True
            if answer == "yes" or self._has_word(bare, self._resume_words):
                self._resume(state, turn)
                return True
            return False
        if answer:
            self._feedback(state, turn, answer == "yes")
            return True
        return False

    def _route(self, state: dict[str, Any], turn: _Turn, norm: str, intent: str, confidence: float, nlu: ParseResult | None, text: str = "") -> None:
        """No flow is active: start a flow, answer from the FAQ, chat, or clarify."""
        confident = confidence >= self.settings.nlu.intent_threshold
        state["awaiting_feedback"] = None
        if confident and intent in self.content.flows:
            state["misses"] = 0
            return self._start_flow(state, turn, intent, switching=False, opening=text)
        if confident and intent in SMALL_TALK:
            state["misses"] = 0
            turn.result.outcome = "small_talk"
            return turn.say(SMALL_TALK[intent])
        if confident and intent in ("affirm", "deny") and self._yes_no(_PUNCT.sub("", norm), "", 0.0):
            turn.result.outcome = "small_talk"
            return turn.say("affirm_idle" if intent == "affirm" else "deny_idle")
        hits = self.faq.search(norm, brand=turn.brand_key, k=self.settings.dialogue.max_clarify_options)
        if confident and intent != "out_of_scope":
            # An FAQ intent (contact_support, account_security): the best entry, else the intent's own entry.
            mapped = self.content.faq_for_intent(intent)
            if hits and hits[0].score >= self.settings.faq.suggest_threshold:
                return self._answer_faq(state, turn, hits[0].entry.id)
            if mapped and mapped.serves(turn.brand_key):
                return self._answer_faq(state, turn, mapped.id)
        if hits and hits[0].score >= self.settings.faq.answer_threshold:
            state["misses"] = 0
            return self._answer_faq(state, turn, hits[0].entry.id)
        if intent == "out_of_scope" and confidence >= self.settings.nlu.reject_threshold:
            turn.result.outcome = "out_of_scope"
            return self._miss(state, turn, "out_of_scope")
        self._clarify(state, turn, nlu, hits)

    # ------------------------------------------------------------------ understanding answers

    def _yes_no(self, bare: str, intent: str, confidence: float) -> str | None:
        if bare in self._no:
            return "no"
        if bare in self._yes:
            return "yes"
        if any(len(w) > 1 and w in bare for w in self._no):
            return "no"
        if any(len(w) > 1 and w in bare for w in self._yes) and len(bare) <= 12:
            return "yes"
        if confidence >= 0.6 and intent in ("affirm", "deny"):
            return "yes" if intent == "affirm" else "no"
        return None

    @staticmethod
    def _has_word(bare: str, words: set[str]) -> bool:
        """`bare` is one of `words`, or (short replies only) contains one of two characters or more."""
        return bare in words or (len(bare) <= 12 and any(len(w) > 1 and w in bare for w in words))

    def _helpfulness(self, bare: str) -> bool | None:
        """Feedback on an answer typed as text: 没帮助 / 没用 (False), 有帮助 / 有用 (True), else None.

        "not helpful" is checked first: 没有帮助 contains 有帮助.
        """
        if self._has_word(bare, self._not_helpful_words):
            return False
        if self._has_word(bare, self._helpful_words):
            return True
        return None

    def _interpret(self, step: Step, bare: str, intent: str, confidence: float) -> Option | None:
        """Which option a free-text answer picks: its title, one of its words, or a yes/no."""
        if not bare:
            return None
        for option in step.options:
            if _PUNCT.sub("", normalize(option.title)) == bare:
                return option
        # An option's own words come before generic yes/no: 不是我操作的 answers "有没有不是您本人
        # 操作的交易？" with yes although 不是 is a generic no.
        scores = _keyword_scores(step, bare)
        if scores:
            return max(scores, key=lambda pair: pair[0])[1]
        answer = self._yes_no(bare, intent, confidence)
        if answer:
            return next((o for o in step.options if o.means == answer), None)
        for option in step.options:
            title = _PUNCT.sub("", normalize(option.title))
            if len(title) >= 2 and title in bare:
                return option
        return None

    # ------------------------------------------------------------------ flows

    def _start_flow(self, state: dict[str, Any], turn: _Turn, name: str, *, switching: bool, opening: str = "") -> None:
        """Start a flow. `opening` is the message that started it (empty for a button).

        When the opening message already answers the first step (提现了三天还没到账 answers
        "怎么提现、提现失败还是没到账？"), that step is recorded with the message as its answer and
        the flow goes on from the chosen option.
        """
        flow = self.content.flows[name]
        state.update(flow=name, intent=name, faq_id=None, paused=None, awaiting_feedback=None, collecting=None)
        turn.say("flow_switch" if switching else "flow_start", title=turn.render(flow.title))
        turn.result.outcome = "flow"
        first = flow.steps[flow.start]
        option = self._answered_by_opening(first, _PUNCT.sub("", normalize(opening))) if opening else None
        if option is None:
            return self._enter(state, turn, flow, flow.start)
        state["step"] = first.id
        if first.action:
            self._run_action(state, turn, first)
        self._trail(state, flow, first, turn.render(first.say) if first.say is not None else "", answer=opening.strip())
        state["trail"][-1].update(choice=option.title, from_opening=True)
        self._enter(state, turn, flow, option.next)

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
            if _PUNCT.sub("", normalize(option.title)) == bare:
                return option
        unsure = [w for w in self._skip if len(w) > 1]
        scores = _keyword_scores(step, bare, ignore=lambda word: any(u in word for u in unsure))
        return scores[0][1] if len(scores) == 1 else None

    def _enter(self, state: dict[str, Any], turn: _Turn, flow: Flow, step_id: str) -> None:
        """Show a step; steps with only `next` are passed through until a question or a leaf."""
        for _ in range(len(flow.steps) + 1):  # bounded: validated flows have no cycles of auto-steps
            step = flow.steps[step_id]
            state["step"] = step.id
            if step.action:
                self._run_action(state, turn, step)
            said = turn.render(step.say) if step.say is not None else ""
            if step.options:
                buttons = [{"title": turn.render(o.title), "payload": o.payload} for o in step.options]
                buttons.append(turn.button("human", PAYLOAD_HUMAN))
                turn.add(said, buttons)
                self._trail(state, flow, step, said)
                return
            if step.next:
                turn.add(said)
                self._trail(state, flow, step, said, answer="")
                step_id = step.next
                continue
            if step.resolved is not None:
                text = "\n".join(t for t in (said, turn.render(step.resolved)) if t)
                self._trail(state, flow, step, text, answer="")
                turn.add(text)
                turn.say("resolved_helpful_prompt", [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)])
                state.update(flow=None, step=None, awaiting_feedback={"kind": "flow", "id": flow.name})
                return
            turn.add(said)
            self._trail(state, flow, step, said, answer="")
            return self._begin_collect(state, turn, flow, step)
        raise RuntimeError(f"flow '{flow.name}' loops through steps without a question")  # pragma: no cover

    def _choose(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, option: Option, answer: str) -> None:
        trail = state["trail"]
        if trail and trail[-1].get("step") == step.id and trail[-1].get("answer") is None:
            trail[-1]["answer"] = answer
            trail[-1]["choice"] = option.title
        state["misses"] = 0
        turn.result.outcome = "flow"
        self._enter(state, turn, flow, option.next)

    def _digress(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, norm: str, intent: str, confident: bool, text: str = "") -> None:
        """The answer does not pick an option: a new problem, an FAQ question, or not understood."""
        if confident and intent in self.content.flows and intent != flow.name:
            return self._start_flow(state, turn, intent, switching=True, opening=text)
        hits = self.faq.search(norm, brand=turn.brand_key, k=1)
        if hits and hits[0].score >= self.settings.faq.answer_threshold:
            state["paused"] = {"flow": flow.name, "step": step.id}
            state.update(flow=None, step=None)
            self._answer_faq(state, turn, hits[0].entry.id, resume=flow)
            return
        state["misses"] += 1
        buttons = [{"title": turn.render(o.title), "payload": o.payload} for o in step.options]
        buttons.append(turn.button("human", PAYLOAD_HUMAN))
        turn.result.outcome = "fallback"
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say("offer_human", buttons)
        else:
            turn.say("step_not_understood", buttons)

    def _resume(self, state: dict[str, Any], turn: _Turn) -> None:
        paused = state.get("paused") or {}
        flow = self.content.flows.get(paused.get("flow", ""))
        state["paused"] = None
        state["awaiting_feedback"] = None
        if not flow or paused.get("step") not in flow.steps:
            return turn.say("restart_done")
        state.update(flow=flow.name, intent=flow.name)
        turn.say("flow_resumed")
        turn.result.outcome = "flow"
        self._enter(state, turn, flow, paused["step"])

    def _run_action(self, state: dict[str, Any], turn: _Turn, step: Step) -> None:
        action = self.actions.get(step.action)
        if action is None:
            return
        ctx = ActionContext(turn.brand_key, self.settings.brand(turn.brand_key), self._now.astimezone(), state)
        result = action.run(ctx)
        if result.response:
            turn.say(result.response, **result.values)
        state["trail"].append({"flow": state.get("flow"), "step": step.id, "action": step.action, "facts": result.facts, "at": self._now.isoformat(timespec="seconds")})

    def _trail(self, state: dict[str, Any], flow: Flow, step: Step, said: str, answer: str | None = None) -> None:
        state["trail"].append({"flow": flow.name, "step": step.id, "say": said, "answer": answer, "at": self._now.isoformat(timespec="seconds")})

    # ------------------------------------------------------------------ collecting details, tickets

    def _begin_collect(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step) -> None:
        """Start the checklist of a leaf that escalates: pre-fill what the user already said.

        Only a value that answers the detail pre-fills it: a time detail wants the moment, so a
        day alone (今天就付了一笔) leaves it to be asked, and that day is kept so that an answer
        with only a clock time (中午12点) falls on it.
        """
        pending = []
        said: dict[str, list[Any]] = {}
        for name in step.collect:
            detail = flow.details[name]
            known = self._known_value(state, detail.entity)
            if known is not None and name not in state["details"]:
                if detail.entity == "time" and not has_clock(known):
                    said[name] = [known, state.get("time_period")]
                else:
                    state["details"][name] = known
            if name not in state["details"]:
                pending.append(name)
        # Contact details last: their unmasked value must reach the ticket in the same turn.
        pending.sort(key=lambda n: flow.details[n].entity in CONTACT_ENTITIES)
        state["collecting"] = {"flow": flow.name, "step": step.id, "pending": pending, "tries": 0, "said": said}
        if pending:
            turn.say("collect_intro")
            self._ask_detail(state, turn)
        else:
            self._finish_escalation(state, turn)

    def _known_value(self, state: dict[str, Any], entity: str | None) -> str | None:
        entities = state.get("entities", {})
        if entity == "contact":
            return entities.get("phone") or entities.get("email")
        return entities.get(entity) if entity else None

    def _ask_detail(self, state: dict[str, Any], turn: _Turn) -> None:
        collecting = state["collecting"]
        flow = self.content.flows[collecting["flow"]]
        detail = flow.details[collecting["pending"][0]]
        turn.add(turn.render(detail.prompt), [turn.button("skip", PAYLOAD_SKIP), turn.button("human", PAYLOAD_HUMAN)])

    def _collect_answer(self, state: dict[str, Any], turn: _Turn, text: str | None, *, skip: bool) -> None:
        """Read an answer to the detail just asked, for THAT detail first.

        "100块" asked for the amount is the amount and "今天中午12点" asked for the time is the
        time. An answer that is another detail of this checklist (a time or an order number typed
        when the amount was asked) fills that detail and the question is asked again; it never
        becomes the asked detail, not even on the second try, when a plain answer the extractor
        cannot read is kept in the user's words for the agent.
        """
        collecting = state["collecting"]
        flow = self.content.flows.get(collecting["flow"])
        if flow is None or not collecting["pending"]:
            state["collecting"] = None
            return turn.say("restart_done")
        name = collecting["pending"][0]
        detail = flow.details[name]
        norm = normalize(text or "")
        value: str | None = None
        if not skip and text is not None:
            if detail.entity in CONTACT_ENTITIES:
                found = self.extractor.extract_one(detail.entity, normalize(self._raw_text or ""))
                if found:
                    turn.result.protected[name] = found["value"]
                    value = mask(found["entity"], found["value"])
                else:
                    value = None
            elif detail.entity:
                value = self._read_detail(collecting, name, detail.entity, norm)
                if value is None:
                    if self._take_volunteered(state, flow, collecting, norm, asked=name):
                        return self._ask_detail(state, turn)
                    if collecting["tries"] >= 1 and self._plain_words(text, norm):
                        value = text.strip()  # second attempt: keep the user's words for the agent
            else:
                value = text.strip()
        if value is None and not skip and collecting["tries"] >= 1 and self._yes_no(_PUNCT.sub("", norm), "", 0.0) == "no":
            skip = True  # "没有" / "不知道" after a retry: the user does not have it
        if value is None and not skip:
            collecting["tries"] += 1
            turn.say("detail_retry", [turn.button("skip", PAYLOAD_SKIP)])
            return
        answer = value if value is not None else "(跳过)"
        if value is None and name in collecting.get("said", {}):
            value = collecting["said"][name][0]  # no time of day, but the day the user named
        state["details"][name] = value
        state["trail"].append({"flow": flow.name, "step": f"collect:{name}", "say": turn.render(detail.prompt), "answer": answer, "at": self._now.isoformat(timespec="seconds")})
        collecting["pending"].pop(0)
        collecting["tries"] = 0
        # One answer often carries several details (昨天下午三点充的100元，用的银行卡).
        if text is not None:
            self._take_volunteered(state, flow, collecting, norm, asked=name)
        if collecting["pending"]:
            return self._ask_detail(state, turn)
        self._finish_escalation(state, turn)

    def _local_now(self) -> datetime:
        return self._now.astimezone().replace(tzinfo=None)

    def _said(self, collecting: dict[str, Any], name: str) -> SaidDay | None:
        """The day (and day period) the user named for this time detail without a clock time."""
        said = collecting.get("said", {}).get(name)
        return SaidDay(date.fromisoformat(said[0]), said[1]) if said else None

    def _read_detail(self, collecting: dict[str, Any], name: str, entity: str, norm: str) -> str | None:
        """The asked detail in the answer, or None."""
        found = self.extractor.extract_one(entity, norm, now=self._local_now(), said=self._said(collecting, name))
        if found:
            return found["value"]
        return None

    def _take_volunteered(self, state: dict[str, Any], flow: Flow, collecting: dict[str, Any], norm: str, *, asked: str) -> bool:
        """Fill the details still to ask that the answer gives in passing; True if it gave any.

        Only entities the extractor finds on their own count (a bare "100" is an amount only
        when the amount is asked). A day without a clock time does not fill a time detail; it
        is kept as the day a later clock time falls on.
        """
        taken = False
        for other in list(collecting["pending"]):
            entity = flow.details[other].entity
            if other == asked or entity is None or entity in CONTACT_ENTITIES:
                continue
            found = self.extractor.extract_one(entity, norm, now=self._local_now(), said=self._said(collecting, other), bare=False)
            if found is None:
                continue
            taken = True
            if entity == "time" and not has_clock(found["value"]):
                said = said_day(found["value"], norm[found["start"]:found["end"]])
                collecting.setdefault("said", {})[other] = [found["value"], said.period if said else None]
                continue
            state["details"][other] = found["value"]
            collecting["pending"].remove(other)
        return taken

    def _plain_words(self, text: str, norm: str) -> bool:
        """An answer that may be kept in the user's words: no entity the extractor can read and
        nothing masked (a phone or card number hidden by the guard is no amount)."""
        return not self.extractor.extract(norm, now=self._local_now()) and text == (self._raw_text if self._raw_text is not None else text)

    def _finish_escalation(self, state: dict[str, Any], turn: _Turn) -> None:
        collecting = state["collecting"]
        flow = self.content.flows[collecting["flow"]]
        step = flow.steps[collecting["step"]]
        state["collecting"] = None
        escalation = step.escalate
        self._create_ticket(state, turn, escalation.category, escalation.priority, turn.render(escalation.summary))

    def _create_ticket(self, state: dict[str, Any], turn: _Turn, category: str, priority: str, summary: str) -> None:
        if state.get("fraud_risk"):
            category = "fraud_risk"
            priority = "urgent" if priority == "urgent" else "high"
        details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
        info = self._open_ticket(TicketRequest(category, priority, summary, details, list(state["trail"])))
        state.update(ticket=info.number, escalated=True, flow=None, step=None, paused=None)
        turn.result.outcome = "escalated"
        hours = f"{info.hours:g}"
        turn.say("ticket_created" if info.created else "ticket_exists", ticket=info.number, hours=hours)

    def _handoff(self, state: dict[str, Any], turn: _Turn) -> None:
        if state.get("ticket"):
            turn.result.outcome = "escalated"
            return turn.say("ticket_exists", ticket=state["ticket"])
        turn.say("human_handoff")
        flow = self.content.flows.get(state.get("flow") or state.get("intent") or "")
        category = flow.name if flow else "human_request"
        state["collecting"] = None
        self._create_ticket(state, turn, category, "normal", "用户要求转人工")

    # ------------------------------------------------------------------ FAQ, feedback, clarification

    def _answer_faq(self, state: dict[str, Any], turn: _Turn, entry_id: str, resume: Flow | None = None) -> None:
        entry = self.faq.by_id[entry_id]
        state.update(faq_id=entry.id, awaiting_feedback={"kind": "faq", "id": entry.id})
        turn.result.outcome = "answered"
        turn.add(turn.render(entry.answer))
        buttons = [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)]
        if resume is not None:
            turn.say("flow_resume_offer", [turn.button("resume", PAYLOAD_RESUME), *buttons], title=turn.render(resume.title))
        else:
            turn.say("faq_helpful_prompt", buttons)

    def _feedback(self, state: dict[str, Any], turn: _Turn, helpful: bool) -> None:
        target = state.get("awaiting_feedback") or {}
        state["awaiting_feedback"] = None
        turn.result.outcome = "feedback"
        turn.result.feedback = (target.get("kind", "faq"), target.get("id", ""), helpful)
        if helpful:
            turn.say("feedback_thanks")
        else:
            turn.say("feedback_sorry", [turn.button("human", PAYLOAD_HUMAN)])

    def _clarify(self, state: dict[str, Any], turn: _Turn, nlu: ParseResult | None, hits: list[FaqHit]) -> None:
        limit = self.settings.dialogue.max_clarify_options
        buttons: list[Button] = []
        for ranked in (nlu or {}).get("ranking", []):
            if ranked["intent"] in self.content.flows and ranked["confidence"] >= 0.1 and len(buttons) < limit:
                flow = self.content.flows[ranked["intent"]]
                buttons.append({"title": turn.render(flow.title), "payload": PREFIX_INTENT + flow.name})
        for hit in hits:
            if hit.score >= self.settings.faq.suggest_threshold and len(buttons) < limit:
                buttons.append({"title": turn.render(hit.entry.question), "payload": PREFIX_FAQ + hit.entry.id})
        if not buttons:
            return self._miss(state, turn, "fallback")
        state["misses"] += 1
        turn.result.outcome = "clarify"
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say("offer_human")
        turn.say("clarify", [*buttons, turn.button("human", PAYLOAD_HUMAN)])

    def _miss(self, state: dict[str, Any], turn: _Turn, key: str) -> None:
        state["misses"] += 1
        turn.result.outcome = key
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say(key)
            turn.say("offer_human", [turn.button("human", PAYLOAD_HUMAN)])
        else:
            turn.say(key)

    def _restart(self, state: dict[str, Any], turn: _Turn) -> None:
        keep = {"ticket": state.get("ticket"), "escalated": state.get("escalated"), "fraud_risk": state.get("fraud_risk")}
        state.clear()
        state.update(fresh_state() | keep)
        turn.result.outcome = "small_talk"
        turn.say("restart_done")


def _keyword_scores(step: Step, bare: str, ignore: Callable[[str], bool] = lambda _w: False) -> list[tuple[int, Option]]:
    """Options whose `match` words occur in `bare`, each with the total length of its words found,
    in option order (so `max` prefers the earlier option on a tie).

    A word inside a longer matched word (异常 in 没有异常, 能登录 in 不能登录) does not count on its
    own, and the option with most matched text wins: 已提交十天了还没到 is about the delay.
    """
    found = [(normalize(w), o) for o in step.options for w in dict.fromkeys(o.match) if w and normalize(w) in bare and not ignore(normalize(w))]
    words = {w for w, _ in found}
    scores: dict[str, list] = {}
    for word, option in found:
        if any(len(other) > len(word) and word in other for other in words):
            continue
        scores.setdefault(option.payload, [0, option])[0] += len(word)
    return [(score, option) for score, option in scores.values()]
