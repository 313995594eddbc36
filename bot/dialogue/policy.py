"""The dialogue policy: what happens on each turn, given the conversation state and the NLU.

The policy is pure with respect to storage: it reads and mutates the conversation's `state`
dict (keys: bot/dialogue/state.py), returns the messages to send, and opens or adds to the
ticket through the callbacks the engine gives it (so the ticket is written in the same
transaction as the state).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, TypedDict

from actions.base import ActionContext
from bot.config import Settings
from bot.content import Content
from bot.dialogue.answers import MOVE_CONFIDENCE, MOVES, NOT_ANSWERS, Reading, keyword_option, keyword_scores, read_answer
from bot.dialogue.state import fresh_state, higher, migrate
from bot.errors import ConversationError
from bot.faq.index import FaqIndex, FaqHit
from bot.flows.model import ANSWER_KINDS, Detail, Flow, Option, Step
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
# A failure or cause at a step belongs to another problem when the NLU gives that problem this
# much and the current one less than CURRENT_PROBLEM_SHARE.
OTHER_PROBLEM_CONFIDENCE = 0.9
CURRENT_PROBLEM_SHARE = 0.05
# A reply kind this probable is an answer even when the NLU also hears an FAQ question in it.
SURE_ANSWER = 0.6
# At a step, small talk with this much frustration or complaint in it is taken as a mood.
MOOD_SHARE = 0.2
# A correction (说错了，是…) switches to another problem the NLU ranks at least this high.
CORRECTION_CONFIDENCE = 0.2
# The ticket detail an entity fills when the user adds it after the ticket was opened.
_DETAIL_OF_ENTITY = {"phone": "contact", "email": "contact"}
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
    priority: str


@dataclass(slots=True)
class TicketUpdate:
    """What the user added after the ticket was opened: only ever raises the priority."""

    priority: str | None = None
    problem: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    trail: list[dict[str, Any]] = field(default_factory=list)


class Outcome(enum.StrEnum):
    """What a turn did, stored with the user's turn (reports count fallbacks, escalations…)."""

    ANSWERED = "answered"  # an FAQ answer, or another direct answer
    FLOW = "flow"  # a checklist started, moved on, or asked again
    CLARIFY = "clarify"  # "did you mean…?" buttons
    FALLBACK = "fallback"  # not understood
    OUT_OF_SCOPE = "out_of_scope"
    ESCALATED = "escalated"  # a ticket opened or added to
    FEEDBACK = "feedback"  # a vote on an answer
    SMALL_TALK = "small_talk"


@dataclass(slots=True)
class TurnResult:
    messages: list[Message] = field(default_factory=list)
    outcome: Outcome = Outcome.ANSWERED
    # (target_kind, target_id, helpful) when the user voted on an answer
    feedback: tuple[str, str, bool] | None = None
    # Unmasked contact details given this turn: they go only into the ticket, never into state.
    protected: dict[str, str] = field(default_factory=dict)


OpenTicket = Callable[[TicketRequest], TicketInfo]
UpdateTicket = Callable[[TicketUpdate], TicketInfo | None]
ReadReply = Callable[[str], list[tuple[str, float]]]


class _Turn:
    """One turn: what belongs to the message being answered (its unredacted text, the clock, the
    ticket callbacks) and the messages it collects, rendered for the conversation's brand. One
    Policy answers many conversations at once; nothing of a turn lives on the Policy."""

    def __init__(
        self, policy: "Policy", brand_key: str, *, raw_text: str | None, now: datetime, open_ticket: OpenTicket, update_ticket: UpdateTicket
    ) -> None:
        self.policy = policy
        self.brand_key = brand_key
        self.values = policy.fact_values(brand_key)
        self.result = TurnResult()
        # The message with only its secrets hidden: read for a contact detail the bot asked for.
        self.raw_text = raw_text
        self.now = now
        self.open_ticket = open_ticket
        self.update_ticket = update_ticket

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone().replace(tzinfo=None)

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
    def __init__(
        self, content: Content, settings: Settings, faq_index: FaqIndex, extractor: EntityExtractor, actions: dict, read_reply: ReadReply
    ) -> None:
        self.content = content
        self.read_reply = read_reply
        self.settings = settings
        self.faq = faq_index
        self.extractor = extractor
        # Intents answered from the FAQ (contact_support, account_security): a message with one of
        # them at a checklist step is a question of its own.
        self._faq_intents = frozenset(e.intent for e in content.faq if e.intent and e.intent not in content.flows)
        self.actions = actions
        answers = content.responses.answers
        self._yes = {normalize(w) for w in answers.get("yes", [])}
        self._no = {normalize(w) for w in answers.get("no", [])}
        self._skip = {normalize(w) for w in answers.get("skip", [])}
        self._resume_words = {normalize(w) for w in answers.get("resume", [])}
        self._helpful_words = {normalize(w) for w in answers.get("helpful", [])}
        self._not_helpful_words = {normalize(w) for w in answers.get("not_helpful", [])}

    def fact_values(self, brand_key: str) -> dict[str, str]:
        """The brand's placeholder values. A fact the deployment has not supplied (a phone number
        the guides never give) is never shown as a raw `<…>`: its `unset_<fact>` response, which
        points to where the user finds it, stands in."""
        brand = self.settings.brand(brand_key)
        values = brand.placeholders()
        texts = self.content.responses.texts
        for fact in brand.unset_facts():
            values[fact] = render(texts.get(f"unset_{fact}", ""), brand_key, values)
        return values

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
        update_ticket: UpdateTicket = lambda _update: None,
        raw_text: str | None = None,
        secret: bool = False,
        scam: bool = False,
        now: datetime | None = None,
    ) -> TurnResult:
        """Decide this turn. `text` is already redacted; `nlu` is its parse (None for payloads).

        `raw_text` (unredacted) is read only to capture a contact detail the bot asked for.
        """
        turn = _Turn(
            self, brand_key, raw_text=raw_text if raw_text is not None else text, now=now or datetime.now(timezone.utc),
            open_ticket=open_ticket, update_ticket=update_ticket,
        )
        migrate(state)  # a state stored by an older version
        state["resolved"] = False
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
            state["urgency"] = higher(state.get("urgency"), "high")
            self._note_problem(state, text)
            if state.get("ticket"):
                self._add_to_ticket(turn, state, TicketUpdate(priority="high", problem=text))
            turn.say("scam_warning", [turn.button("human", PAYLOAD_HUMAN)])
            turn.result.outcome = Outcome.ANSWERED
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
        if state.get("paused") and not state.get("collecting") and self._means_resume(bare):
            return self._resume(state, turn)  # 接着来 / 继续吧 after an FAQ question mid-checklist
        paused = self.content.flows.get((state.get("paused") or {}).get("flow", ""))
        declines = bare in self._no or any(len(w) > 1 and w in bare for w in self._no)  # 不用继续了
        if paused is not None and confident and intent == paused.name and not declines and state["paused"].get("step") in paused.steps:
            # More about the interrupted problem (找到了 T2026… 128元): back to its step, read there.
            step_id = state["paused"]["step"]
            state.update(paused=None, awaiting_feedback=None, flow=paused.name, step=step_id)
            return self._step_reply(state, turn, paused, paused.steps[step_id], text, norm, bare, intent, confident, nlu)
        if confident and intent == "restart":
            return self._restart(state, turn)
        if state.get("collecting"):
            return self._collect_answer(state, turn, text, skip=self._has_word(bare, self._skip), nlu=nlu)

        flow = self.content.flows.get(state.get("flow") or "")
        step = flow.steps.get(state.get("step") or "") if flow else None
        if flow and step:
            return self._step_reply(state, turn, flow, step, text, norm, bare, intent, confident, nlu)

        if self._accepts_human_offer(state, bare):
            return self._handoff(state, turn)
        if state.get("ticket") and not (confident and intent in self.content.flows):
            if self._add_message_to_ticket(state, turn, text, norm, intent, confident, nlu):
                return
        if not (confident and intent in self.content.flows):  # a new problem is never a short answer
            if state.get("paused") or state.get("awaiting_feedback"):
                if self._short_answer(state, turn, bare, intent, confidence):
                    return
        self._route(state, turn, norm, intent, confidence, nlu, text)

    def _means_resume(self, bare: str) -> bool:
        """继续 / 接着来 / 继续吧, and not 不继续 / 不用继续 (any no word in it)."""
        return self._has_word(bare, self._resume_words) and not any(len(w) > 1 and w in bare for w in self._no) and bare not in self._no

    def _accepts_human_offer(self, state: dict[str, Any], bare: str) -> bool:
        """A plain yes right after the bot offered a human (and nothing else to say yes to)."""
        offered = [b["payload"] for b in state.get("offered") or []]
        return offered == [PAYLOAD_HUMAN] and not state.get("paused") and bare in self._yes

    def _add_message_to_ticket(
        self, state: dict[str, Any], turn: _Turn, text: str, norm: str, intent: str, confident: bool, nlu: ParseResult | None
    ) -> bool:
        """After the ticket: a message with details (a time, 500, a phone number) or that the bot
        cannot otherwise place goes to the ticket, and the user is told so. Small talk, FAQ
        questions and yes/no answers are answered as usual (False)."""
        entities = {e["entity"]: e["value"] for e in (nlu or {}).get("entities", [])}
        contact = self._contact_in(turn, text)
        if contact:
            entities.update(contact)
        if not entities:
            if confident and (intent in SMALL_TALK or intent in ("affirm", "deny")):
                return False
            hits = self.faq.search(norm, brand=turn.brand_key, k=1)
            if (confident and intent != "out_of_scope") or (hits and hits[0].score >= self.settings.faq.answer_threshold):
                return False
        details = {_DETAIL_OF_ENTITY.get(k, k): v for k, v in entities.items()}
        trail = [{"flow": None, "step": "after_ticket", "say": "", "answer": text.strip(), "at": turn.now.isoformat(timespec="seconds")}]
        # The first words about the problem of a ticket opened before any were said (转人工 first).
        problem = text.strip() if not entities and not state.get("problems") else None
        self._note_problem(state, problem)
        self._add_to_ticket(turn, state, TicketUpdate(details=details, trail=trail, problem=problem))
        turn.result.outcome = Outcome.ESCALATED
        turn.say("ticket_noted", ticket=state["ticket"])
        return True

    def _contact_in(self, turn: _Turn, text: str) -> dict[str, str]:
        """A phone number or email in the message, unmasked for the ticket only."""
        found = self._contact_found(turn, text)
        return {"contact": found[1]} if found else {}

    def _contact_found(self, turn: _Turn, text: str) -> tuple[str, str] | None:
        """(phone | email, the unmasked value) of a contact detail in the message, or None."""
        raw = normalize(turn.raw_text or text)
        for entity in ("phone", "email"):
            found = self.extractor.extract_one(entity, raw)
            if found:
                return entity, found["value"]
        return None

    # ------------------------------------------------------------------ answers to a checklist step

    def _step_reply(
        self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, text: str, norm: str, bare: str, intent: str, confident: bool,
        nlu: ParseResult | None = None,
    ) -> None:
        """A typed reply while a step waits for its answer: read against the step first
        (bot/dialogue/answers.py); only a reply that is clearly something else leaves it."""
        if not bare:
            return self._not_understood(state, turn, flow, step)
        reading = self.read_step_reply(step, text)
        if reading.kind == "title" and reading.option is not None:
            return self._choose(state, turn, flow, step, reading.option, text)
        ranking = list(reading.ranking)
        if confident and intent in self.content.flows and intent != flow.name and not reading.named:
            # Another problem leaves the step only when the reply is more likely no answer to it
            # (算了，我提现三天没到账) than an answer (余额是够的 in the top-up checklist).
            share = dict(ranking)
            if sum(share.get(k, 0.0) for k in NOT_ANSWERS) > sum(share.get(k, 0.0) for k in ANSWER_KINDS):
                return self._start_flow(state, turn, intent, switching=True, opening=text)
            # "Still fails" about another problem altogether (我提现三天还没到账 in the top-up
            # checklist). Not a "cause": 限额不可能超 in the payment checklist reads as one.
            if reading.kind == "failing" and nlu is not None and nlu["confidence"] >= OTHER_PROBLEM_CONFIDENCE:
                current = next((r["confidence"] for r in nlu["ranking"] if r["intent"] == flow.name), 0.0)
                if current < CURRENT_PROBLEM_SHARE:
                    return self._start_flow(state, turn, intent, switching=True, opening=text)
        sure_answer = reading.kind in ("solved", "fine", "failing", "cause") and reading.confidence >= SURE_ANSWER
        mood_or_move = reading.kind in MOVES and reading.confidence >= MOVE_CONFIDENCE  # 垃圾客服 能不能快点
        if confident and intent in self._faq_intents and not sure_answer and not mood_or_move:
            # 双重验证在哪开 / 公共wifi付钱安全吗: a question of its own, answered from the FAQ;
            # the step stays resumable.
            return self._digress(state, turn, flow, step, norm, intent, confident)
        option = reading.option or reading.leaning
        if option is not None:
            return self._choose(state, turn, flow, step, option, text)
        if reading.move == "other" and confident and intent == flow.name:
            # More about the same problem (先说充值吧 while the top-up checklist waits): go on.
            return self._step_buttons(turn, step, "step_continue")
        if reading.move == "other" and confident and intent in SMALL_TALK and dict(ranking).get("frustration", 0.0) + dict(ranking).get("complaint", 0.0) >= MOOD_SHARE:
            return self._step_buttons(turn, step, "frustration")  # 你是不是傻: an insult, not a question about the bot
        if reading.move == "other" and confident and intent in SMALL_TALK:
            # 你是真人吗 / 你好 at a step: answered, and the step still waits.
            turn.say(SMALL_TALK[intent])
            return self._step_buttons(turn, step, "step_continue")
        if reading.move == "correct":
            # 说错了，是提现不是充值: the problem the user meant, if the NLU sees another one.
            meant = next((r["intent"] for r in (nlu or {}).get("ranking", []) if r["intent"] in self.content.flows and r["intent"] != flow.name and r["confidence"] >= CORRECTION_CONFIDENCE), None)
            if meant:
                return self._start_flow(state, turn, meant, switching=True, opening=text)
        self._trail(turn, state, flow, step, "", answer=text.strip())
        state["trail"][-1].update(move=reading.move)
        self._step_move(state, turn, flow, step, reading, norm, intent, confident)

    def read_step_reply(self, step: Step, text: str) -> Reading:
        """How a typed reply reads at `step` (kind "title": it is an option's whole title)."""
        bare = _PUNCT.sub("", normalize(text))
        for option in step.options:
            if _PUNCT.sub("", normalize(option.title)) == bare:
                return Reading("title", 1.0, option=option, named=True)
        titled = [o for o in step.options if len(t := _PUNCT.sub("", normalize(o.title))) >= 2 and t in bare]
        keyword = keyword_option(step, bare) or max(titled, key=lambda o: len(o.title), default=None)
        return read_answer(step, bare, self.read_reply(text), self._whole_yes_no(bare), keyword)

    def _step_move(
        self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, reading: Reading, norm: str, intent: str, confident: bool
    ) -> None:
        """A reply that picks no option: act on what it is, then stay at the step."""
        move = reading.move
        turn.result.outcome = Outcome.FLOW
        if move == "solved":
            leaf = next((s for s in flow.steps.values() if s.resolved is not None), None)
            if leaf is not None:
                return self._enter(state, turn, flow, leaf.id)
        if move == "give_up":
            state.update(flow=None, step=None, paused=None, awaiting_feedback=None)
            turn.result.outcome = Outcome.SMALL_TALK
            return turn.say("give_up", [turn.button("human", PAYLOAD_HUMAN)])
        if move == "repeat":
            return self._enter(state, turn, flow, step.id)
        if move in ("retract", "correct"):
            previous = self._previous_step(state, flow, step)
            turn.say("retract")
            return self._enter(state, turn, flow, previous or step.id)
        if move == "how_long":
            self._say_how_long(turn, flow)
            return self._step_buttons(turn, step, "step_continue")
        if move in ("frustration", "complaint"):
            state["complaint"] = state.get("complaint") or move == "complaint"
            return self._step_buttons(turn, step, move)
        if move == "cause":
            return self._step_buttons(turn, step, "cause_found")
        if move == "cannot":
            return self._step_buttons(turn, step, "cannot_check")
        self._digress(state, turn, flow, step, norm, intent, confident)

    def _step_buttons(self, turn: _Turn, step: Step, key: str) -> None:
        buttons = [{"title": turn.render(o.title), "payload": o.payload} for o in step.options]
        turn.say(key, [*buttons, turn.button("human", PAYLOAD_HUMAN)])

    def _previous_step(self, state: dict[str, Any], flow: Flow, step: Step) -> str | None:
        """The question step of this flow asked before `step`, from the trail."""
        asked = [t["step"] for t in state["trail"] if t.get("flow") == flow.name and t.get("step") in flow.steps and flow.steps[t["step"]].options]
        while asked and asked[-1] == step.id:
            asked.pop()
        return asked[-1] if asked else None

    def _say_how_long(self, turn: _Turn, flow: Flow | None) -> None:
        """What the guides say about how long it takes, or that they give no time."""
        if flow is not None and flow.how_long is not None:
            turn.add(turn.render(flow.how_long))
        else:
            turn.say("how_long_unknown")

    def _whole_yes_no(self, bare: str) -> str | None:
        """The reply is nothing but a yes or no word (是 / 不行 / 有): the option that means it."""
        if bare in self._no:
            return "no"
        if bare in self._yes:
            return "yes"
        return None

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
                turn.result.outcome = Outcome.SMALL_TALK
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
        reply, reply_confidence = self.read_reply(text)[0] if text else ("other", 0.0)
        if confident and intent in self.content.flows:
            state["misses"] = 0
            flow = self.content.flows[intent]
            if reply == "how_long" and reply_confidence >= MOVE_CONFIDENCE:
                # 退款多久到账: the guides' answer, and the checklist if the user wants it
                turn.result.outcome = Outcome.ANSWERED
                self._say_how_long(turn, flow)
                return turn.say("how_long_start_offer", [{"title": turn.render(flow.title), "payload": PREFIX_INTENT + flow.name}])
            return self._start_flow(state, turn, intent, switching=False, opening=text)
        if reply == "complaint" and reply_confidence >= MOVE_CONFIDENCE and not (confident and intent in SMALL_TALK):
            state["misses"] = 0
            state["complaint"] = True
            turn.result.outcome = Outcome.ANSWERED
            return turn.say("complaint", [turn.button("human", PAYLOAD_HUMAN)])
        if confident and intent in SMALL_TALK:
            state["misses"] = 0
            turn.result.outcome = Outcome.SMALL_TALK
            return turn.say(SMALL_TALK[intent])
        if confident and intent in ("affirm", "deny") and self._yes_no(_PUNCT.sub("", norm), "", 0.0):
            turn.result.outcome = Outcome.SMALL_TALK
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
            turn.result.outcome = Outcome.OUT_OF_SCOPE
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

    # ------------------------------------------------------------------ flows

    def _start_flow(self, state: dict[str, Any], turn: _Turn, name: str, *, switching: bool, opening: str = "") -> None:
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
            problem = f"{turn.render(flow.title)}：{opening.strip()}" if opening.strip() else turn.render(flow.title)
            self._add_to_ticket(turn, state, TicketUpdate(priority=state["urgency"], problem=problem))
            turn.say("ticket_updated", ticket=state["ticket"])
        turn.say("flow_switch" if switching else "flow_start", title=turn.render(flow.title))
        turn.result.outcome = Outcome.FLOW
        first = flow.steps[flow.start]
        option = self._answered_by_opening(first, _PUNCT.sub("", normalize(opening))) if opening else None
        if option is None:
            return self._enter(state, turn, flow, flow.start)
        state["step"] = first.id
        if first.action:
            self._run_action(state, turn, first)
        self._trail(turn, state, flow, first, turn.render(first.say) if first.say is not None else "", answer=opening.strip())
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
        scores = keyword_scores(step, bare, ignore=lambda word: any(u in word for u in unsure))
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
                self._trail(turn, state, flow, step, said)
                return
            if step.next:
                turn.add(said)
                self._trail(turn, state, flow, step, said, answer="")
                step_id = step.next
                continue
            if step.resolved is not None:
                text = "\n".join(t for t in (said, turn.render(step.resolved)) if t)
                self._trail(turn, state, flow, step, text, answer="")
                turn.add(text)
                turn.say("resolved_helpful_prompt", [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)])
                state.update(flow=None, step=None, resolved=True, awaiting_feedback={"kind": "flow", "id": flow.name})
                return
            turn.add(said)
            self._trail(turn, state, flow, step, said, answer="")
            return self._begin_collect(state, turn, flow, step)
        raise RuntimeError(f"flow '{flow.name}' loops through steps without a question")  # pragma: no cover

    def _choose(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, option: Option, answer: str) -> None:
        trail = state["trail"]
        if trail and trail[-1].get("step") == step.id and trail[-1].get("answer") is None:
            trail[-1]["answer"] = answer
            trail[-1]["choice"] = option.title
        state["misses"] = 0
        turn.result.outcome = Outcome.FLOW
        self._enter(state, turn, flow, option.next)

    def _digress(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step, norm: str, intent: str, confident: bool) -> None:
        """The reply is not an answer: an FAQ question (answered, the step stays resumable), or
        not understood (the step is asked again)."""
        hits = self.faq.search(norm, brand=turn.brand_key, k=1)
        entry = None
        if hits and hits[0].score >= self.settings.faq.answer_threshold:
            entry = hits[0].entry
        elif confident and intent not in self.content.flows and (mapped := self.content.faq_for_intent(intent)) and mapped.serves(turn.brand_key):
            entry = mapped  # 客服电话多少: the contact intent's own entry
        if entry is not None:
            state["paused"] = {"flow": flow.name, "step": step.id}
            state.update(flow=None, step=None)
            return self._answer_faq(state, turn, entry.id)
        self._not_understood(state, turn, flow, step)

    def _not_understood(self, state: dict[str, Any], turn: _Turn, flow: Flow, step: Step) -> None:
        state["misses"] += 1
        turn.result.outcome = Outcome.FALLBACK
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            self._step_buttons(turn, step, "offer_human")
        else:
            self._step_buttons(turn, step, "step_not_understood")

    def _resume(self, state: dict[str, Any], turn: _Turn) -> None:
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

    def _run_action(self, state: dict[str, Any], turn: _Turn, step: Step) -> None:
        action = self.actions.get(step.action)
        if action is None:
            return
        ctx = ActionContext(turn.brand_key, self.settings.brand(turn.brand_key), turn.now.astimezone(), state)
        result = action.run(ctx)
        if result.response:
            turn.say(result.response, **result.values)
        state["trail"].append({"flow": state.get("flow"), "step": step.id, "action": step.action, "facts": result.facts, "at": turn.now.isoformat(timespec="seconds")})

    def _trail(self, turn: _Turn, state: dict[str, Any], flow: Flow, step: Step, said: str, answer: str | None = None) -> None:
        state["trail"].append({"flow": flow.name, "step": step.id, "say": said, "answer": answer, "at": turn.now.isoformat(timespec="seconds")})

    # ------------------------------------------------------------------ collecting details, tickets

    def _begin_collect(
        self, state: dict[str, Any], turn: _Turn, flow: Flow | None, step: Step | None, names: list[str] | None = None, *, after_ticket: bool = False
    ) -> None:
        """Ask the details of a leaf that escalates (or, `after_ticket`, the details a handoff's
        ticket still lacks): pre-fill what the user already said.

        Only a value that answers the detail pre-fills it: a time detail wants the moment, so a
        day alone (今天就付了一笔) leaves it to be asked, and that day is kept so that an answer
        with only a clock time (中午12点) falls on it.
        """
        pending = []
        said: dict[str, list[Any]] = {}
        for name in (step.collect if step is not None else names or []):
            detail = self._detail_of(flow, name)
            known = self._known_value(state, detail.entity)
            if known is not None and name not in state["details"]:
                if detail.entity == "time" and not has_clock(known):
                    said[name] = [known, state.get("time_period")]
                else:
                    state["details"][name] = known
            if name not in state["details"]:
                pending.append(name)
        # Contact details last: their unmasked value must reach the ticket in the same turn.
        pending.sort(key=lambda n: self._detail_of(flow, n).entity in CONTACT_ENTITIES)
        if step is not None and step.escalate is not None:
            # The ticket opens at once, with what is known: nothing is lost if the user leaves
            # while the details are asked, and each answer is added to it.
            self._open_or_raise(state, turn, step.escalate.category, step.escalate.priority, turn.render(step.escalate.summary))
            after_ticket = True
        state["collecting"] = {
            "flow": flow.name if flow else None, "step": step.id if step else None, "pending": pending, "tries": 0, "said": said,
            "after_ticket": after_ticket, "trail_from": len(state["trail"]),
        }
        if pending:
            turn.say("handoff_collect_intro" if after_ticket else "collect_intro")
            self._ask_detail(state, turn)
        elif not after_ticket:
            self._finish_escalation(state, turn)
        else:
            state.update(collecting=None, flow=None, step=None)

    def _detail_of(self, flow: Flow | None, name: str) -> Detail:
        """A flow's declared detail; without a flow, the one detail a handoff asks: contact."""
        if flow is not None and name in flow.details:
            return flow.details[name]
        return Detail(name, self.content.responses.texts.get("contact_prompt", "contact_prompt"), "contact")

    def _known_value(self, state: dict[str, Any], entity: str | None) -> str | None:
        entities = state.get("entities", {})
        if entity == "contact":
            return entities.get("phone") or entities.get("email")
        return entities.get(entity) if entity else None

    def _ask_detail(self, state: dict[str, Any], turn: _Turn) -> None:
        collecting = state["collecting"]
        detail = self._detail_of(self.content.flows.get(collecting["flow"] or ""), collecting["pending"][0])
        turn.add(turn.render(detail.prompt), [turn.button("skip", PAYLOAD_SKIP), turn.button("human", PAYLOAD_HUMAN)])

    def _collect_answer(self, state: dict[str, Any], turn: _Turn, text: str | None, *, skip: bool, nlu: ParseResult | None = None) -> None:
        """Read an answer to the detail just asked, for THAT detail first.

        "100块" asked for the amount is the amount and "今天中午12点" asked for the time is the
        time. An answer that is another detail of this checklist (a time or an order number typed
        when the amount was asked) fills that detail and the question is asked again; it never
        becomes the asked detail, not even on the second try, when a plain answer the extractor
        cannot read is kept in the user's words for the agent. A message that holds no detail
        may be something else: a question (answered, then the detail is asked again), giving
        up, or frustration.
        """
        collecting = state["collecting"]
        flow = self.content.flows.get(collecting["flow"] or "")
        if not collecting["pending"] or (flow is None and not collecting.get("after_ticket")):
            state["collecting"] = None
            return turn.say("restart_done")
        if text is not None and not skip and self._collect_aside(state, turn, text, nlu):
            return
        name = collecting["pending"][0]
        detail = self._detail_of(flow, name)
        norm = normalize(text or "")
        value: str | None = None
        if not skip and text is not None:
            if detail.entity in CONTACT_ENTITIES:
                found = self.extractor.extract_one(detail.entity, normalize(turn.raw_text or ""))
                if found:
                    turn.result.protected[name] = found["value"]
                    value = mask(found["entity"], found["value"])
                else:
                    value = None
            elif detail.entity:
                value = self._read_detail(turn, collecting, name, detail.entity, norm)
                if value is None:
                    if self._take_volunteered(state, flow, collecting, norm, asked=name, turn=turn):
                        self._push_details(state, turn)
                        return self._ask_detail(state, turn)
                    if collecting["tries"] >= 1 and self._plain_words(turn, text, norm):
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
        state["trail"].append({"flow": collecting["flow"], "step": f"collect:{name}", "say": turn.render(detail.prompt), "answer": answer, "at": turn.now.isoformat(timespec="seconds")})
        collecting["pending"].pop(0)
        collecting["tries"] = 0
        # One answer often carries several details (昨天下午三点充的100元，用的银行卡).
        if text is not None:
            self._take_volunteered(state, flow, collecting, norm, asked=name, turn=turn)
        if collecting["pending"]:
            self._push_details(state, turn)
            return self._ask_detail(state, turn)
        self._finish_escalation(state, turn)

    def _push_details(self, state: dict[str, Any], turn: _Turn) -> None:
        """Each detail reaches the ticket as soon as it is given: nothing waits for the last one."""
        if state.get("ticket"):
            details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
            self._add_to_ticket(turn, state, TicketUpdate(details=details))

    def _said(self, collecting: dict[str, Any], name: str) -> SaidDay | None:
        """The day (and day period) the user named for this time detail without a clock time."""
        said = collecting.get("said", {}).get(name)
        return SaidDay(date.fromisoformat(said[0]), said[1]) if said else None

    def _read_detail(self, turn: _Turn, collecting: dict[str, Any], name: str, entity: str, norm: str) -> str | None:
        """The asked detail in the answer, or None."""
        found = self.extractor.extract_one(entity, norm, now=turn.local_now, said=self._said(collecting, name))
        if found:
            return found["value"]
        return None

    def _take_volunteered(
        self, state: dict[str, Any], flow: Flow | None, collecting: dict[str, Any], norm: str, *, asked: str, turn: _Turn
    ) -> bool:
        """Fill the details still to ask that the answer gives in passing; True if it gave any.

        Only entities the extractor finds on their own count (a bare "100" is an amount only
        when the amount is asked). A day without a clock time does not fill a time detail; it
        is kept as the day a later clock time falls on. A phone number or email fills a contact
        detail: masked in the state, unmasked only for the ticket.
        """
        taken = False
        for other in list(collecting["pending"]):
            entity = self._detail_of(flow, other).entity
            if other != asked and entity in CONTACT_ENTITIES and (contact := self._contact_found(turn, norm)):
                turn.result.protected[other] = contact[1]
                state["details"][other] = mask(contact[0], contact[1])
                collecting["pending"].remove(other)
                taken = True
                continue
            if other == asked or entity is None or entity in CONTACT_ENTITIES:
                continue
            found = self.extractor.extract_one(entity, norm, now=turn.local_now, said=self._said(collecting, other), bare=False)
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

    def _plain_words(self, turn: _Turn, text: str, norm: str) -> bool:
        """An answer that may be kept in the user's words: no entity the extractor can read and
        nothing masked (a phone or card number hidden by the guard is no amount)."""
        return not self.extractor.extract(norm, now=turn.local_now) and text == (turn.raw_text if turn.raw_text is not None else text)

    def _collect_aside(self, state: dict[str, Any], turn: _Turn, text: str, nlu: ParseResult | None) -> bool:
        """While a detail is asked: a message holding no detail at all may be a question, giving
        up or frustration. Handled here (True), the detail is asked again or the asking stops."""
        norm = normalize(text)
        if self.extractor.extract(norm, now=turn.local_now) or self._contact_in(turn, text):
            return False
        kind, confidence = self.read_reply(text)[0]
        intent, intent_confidence = (nlu["intent"], nlu["confidence"]) if nlu else ("out_of_scope", 0.0)
        if kind == "give_up" and confidence >= MOVE_CONFIDENCE:
            collecting, state["collecting"] = state["collecting"], None
            turn.result.outcome = Outcome.SMALL_TALK
            if collecting.get("after_ticket"):
                turn.say("details_stopped", ticket=state.get("ticket") or "")
            else:
                state.update(flow=None, step=None)
                turn.say("give_up", [turn.button("human", PAYLOAD_HUMAN)])
            return True
        new_flow = self.content.flows.get(intent) if intent_confidence >= self.settings.nlu.intent_threshold else None
        if new_flow is not None and new_flow.name != state["collecting"].get("flow") and state.get("ticket"):
            # Another problem while the ticket's details are asked: into the ticket, at its urgency.
            state["urgency"] = higher(state.get("urgency"), new_flow.priority)
            self._note_problem(state, text)
            self._add_to_ticket(turn, state, TicketUpdate(priority=state["urgency"], problem=f"{turn.render(new_flow.title)}：{text.strip()}"))
            turn.say("ticket_updated", ticket=state["ticket"])
        elif kind == "how_long" and confidence >= MOVE_CONFIDENCE:
            turn.say("how_long_unknown")
        elif kind in ("frustration", "complaint") and confidence >= MOVE_CONFIDENCE:
            state["complaint"] = state.get("complaint") or kind == "complaint"
            turn.say(kind)
        else:
            hits = self.faq.search(norm, brand=turn.brand_key, k=1)
            entry = hits[0].entry if hits and hits[0].score >= self.settings.faq.answer_threshold else None
            if entry is None and intent_confidence >= self.settings.nlu.intent_threshold and intent not in self.content.flows:
                mapped = self.content.faq_for_intent(intent)
                entry = mapped if mapped and mapped.serves(turn.brand_key) else None
            if entry is None:
                return False
            turn.add(turn.render(entry.answer))
        turn.say("collect_continue")
        self._ask_detail(state, turn)
        return True

    def _finish_escalation(self, state: dict[str, Any], turn: _Turn) -> None:
        collecting = state["collecting"]
        state.update(collecting=None, flow=None, step=None)
        if collecting.get("after_ticket") or state.get("ticket"):
            details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
            self._add_to_ticket(turn, state, TicketUpdate(details=details, trail=state["trail"][collecting.get("trail_from", 0):]))
            turn.result.outcome = Outcome.ESCALATED
            return turn.say("details_added", ticket=state.get("ticket") or "")
        flow = self.content.flows[collecting["flow"]]
        escalation = flow.steps[collecting["step"]].escalate
        self._create_ticket(state, turn, escalation.category, escalation.priority, turn.render(escalation.summary))

    def _open_or_raise(self, state: dict[str, Any], turn: _Turn, category: str, priority: str, summary: str) -> None:
        """Open the ticket; when there is one already, add this escalation to it."""
        if not state.get("ticket"):
            return self._create_ticket(state, turn, category, priority, summary)
        self._add_to_ticket(turn, state, TicketUpdate(priority=higher(priority, state.get("urgency")), problem=summary))
        state["paused"] = None
        turn.result.outcome = Outcome.ESCALATED
        turn.say("ticket_updated", ticket=state["ticket"])

    def _create_ticket(self, state: dict[str, Any], turn: _Turn, category: str, priority: str, summary: str) -> None:
        """Open the conversation's ticket at the highest urgency the conversation called for."""
        priority = higher(priority, state.get("urgency")) or "normal"
        if state.get("fraud_risk"):
            category = "fraud_risk"
            priority = higher(priority, "high") or "high"
        details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
        words = "；".join(state.get("problems") or [])
        if words:
            summary = f"{summary}\n{turn.render(self.content.responses.texts.get('summary_user_words', '{words}'), words=words)}"
        info = turn.open_ticket(TicketRequest(category, priority, summary, details, list(state["trail"])))
        # The flow stays the conversation's topic while the ticket's details are asked.
        state.update(ticket=info.number, escalated=True, paused=None, priority=info.priority)
        turn.result.outcome = Outcome.ESCALATED
        if not info.created:
            return turn.say("ticket_exists", ticket=info.number)
        turn.say("ticket_created_urgent" if info.priority in ("high", "urgent") else "ticket_created", ticket=info.number)

    def _handoff(self, state: dict[str, Any], turn: _Turn) -> None:
        """转人工: open the ticket now, with the problem and its urgency, then ask what it lacks."""
        if state.get("ticket"):
            turn.result.outcome = Outcome.ESCALATED
            return turn.say("ticket_exists", ticket=state["ticket"])
        collecting = state.get("collecting") or {}
        name = state.get("flow") or collecting.get("flow") or (state.get("paused") or {}).get("flow") or state.get("intent") or ""
        flow = self.content.flows.get(name)
        turn.say("human_handoff")
        state["collecting"] = None
        texts = self.content.responses.texts
        if flow is not None:
            state["urgency"] = higher(state.get("urgency"), flow.priority)
            summary = turn.render(texts.get("handoff_summary", "{title}"), title=turn.render(flow.title))
            category = flow.name
        else:
            summary = turn.render(texts.get("handoff_summary_no_flow", ""))
            category = "complaint" if state.get("complaint") else "human_request"
        self._create_ticket(state, turn, category, "normal", summary)
        names = [n for n in (flow.details if flow else {})]
        if not any(self._detail_of(flow, n).entity in CONTACT_ENTITIES for n in names):
            names.append("contact")
        self._begin_collect(state, turn, flow, None, names, after_ticket=True)

    def _add_to_ticket(self, turn: _Turn, state: dict[str, Any], update: TicketUpdate) -> None:
        info = turn.update_ticket(update)
        if info is not None:
            state["priority"] = info.priority

    @staticmethod
    def _note_problem(state: dict[str, Any], text: str | None) -> None:
        """Keep the user's own words about their problems (redacted) for the ticket summary."""
        words = (text or "").strip()[:120]
        problems = state.setdefault("problems", [])
        if words and words not in problems and len(problems) < 5:
            problems.append(words)

    # ------------------------------------------------------------------ FAQ, feedback, clarification

    def _answer_faq(self, state: dict[str, Any], turn: _Turn, entry_id: str) -> None:
        """Answer from the FAQ; a checklist the question interrupted stays resumable, offered
        in a message of its own (its button is not feedback on the answer)."""
        entry = self.faq.by_id[entry_id]
        state.update(faq_id=entry.id, awaiting_feedback={"kind": "faq", "id": entry.id})
        turn.result.outcome = Outcome.ANSWERED
        turn.add(turn.render(entry.answer))
        turn.say("faq_helpful_prompt", [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)])
        paused = self.content.flows.get((state.get("paused") or {}).get("flow", ""))
        if paused is not None:
            turn.say("flow_resume_offer", [turn.button("resume", PAYLOAD_RESUME)], title=turn.render(paused.title))

    def _feedback(self, state: dict[str, Any], turn: _Turn, helpful: bool) -> None:
        target = state.get("awaiting_feedback") or {}
        state["awaiting_feedback"] = None
        turn.result.outcome = Outcome.FEEDBACK
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
        turn.result.outcome = Outcome.CLARIFY
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say("offer_human")
        turn.say("clarify", [*buttons, turn.button("human", PAYLOAD_HUMAN)])

    def _miss(self, state: dict[str, Any], turn: _Turn, key: str) -> None:
        state["misses"] += 1
        turn.result.outcome = Outcome(key)
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say(key)
            turn.say("offer_human", [turn.button("human", PAYLOAD_HUMAN)])
        else:
            turn.say(key)

    def _restart(self, state: dict[str, Any], turn: _Turn) -> None:
        keep = {"ticket": state.get("ticket"), "escalated": state.get("escalated"), "fraud_risk": state.get("fraud_risk")}
        state.clear()
        state.update(fresh_state() | keep)
        turn.result.outcome = Outcome.SMALL_TALK
        turn.say("restart_done")
