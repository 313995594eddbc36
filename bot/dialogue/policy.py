"""The dialogue policy: what happens on each turn, given the conversation state and the NLU.

The policy is pure with respect to storage: it reads and mutates the conversation's `state`
dict (keys: bot/dialogue/state.py), returns the messages to send, and opens or adds to the
ticket through the callbacks the engine gives it (so the ticket is written in the same
transaction as the state).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from actions.base import Action, ActionContext
from bot.config import Settings
from bot.content import Content
from bot.dialogue.answers import (
    MOODS,
    MOVE_CONFIDENCE,
    MOVES,
    NOT_ANSWERS,
    SURE_KIND,
    Reading,
    keyword_option,
    keyword_scores,
    read_answer,
    without_echoed_labels,
)
from bot.dialogue.escalation import Escalation
from bot.dialogue.state import fresh_state, higher, migrate
from bot.dialogue.turn import (
    PAYLOAD_HELPFUL,
    PAYLOAD_HUMAN,
    PAYLOAD_NOT_HELPFUL,
    PAYLOAD_RESTART,
    PAYLOAD_RESUME,
    PAYLOAD_SKIP,
    PREFIX_FAQ,
    PREFIX_INTENT,
    PUNCT,
    Button,
    OpenTicket,
    Outcome,
    ReadReply,
    TicketUpdate,
    Turn,
    TurnResult,
    UpdateTicket,
)
from bot.errors import ConversationError
from bot.faq.index import FaqHit, FaqIndex, IntentRanker
from bot.faq.knowledge import FaqEntry
from bot.flows.model import ANSWER_KINDS, Flow, Option, Step
from bot.nlu.entities import EntityExtractor, said_day
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult
from bot.text import render

# Intents handled by a fixed response rather than a flow or the FAQ.
# A failure or cause at a step belongs to another problem when the NLU gives that problem this
# much and the current one less than CURRENT_PROBLEM_SHARE.
OTHER_PROBLEM_CONFIDENCE = 0.9
CURRENT_PROBLEM_SHARE = 0.05
# When a message names what its checklist does not cover (`not_for`), another checklist the NLU
# heard at least this much is the part to walk through.
OTHER_FLOW_FLOOR = 0.02
# A reply kind this probable is an answer even when the NLU also hears an FAQ question in it.
SURE_ANSWER = 0.6
# At a step, small talk with this much frustration or complaint in it is taken as a mood.
MOOD_SHARE = 0.2
# A correction (说错了，是…) switches to another problem the NLU ranks at least this high.
CORRECTION_CONFIDENCE = 0.2
# Where a message breaks into clauses (有病吧，说了网络没问题).
CLAUSE_BREAK = re.compile(r"[，,。；;！!？?\s]+")
# The negated part of a correction (不是充值, 不是充值的问题): up to a pause or the next 是.
NEGATED = re.compile(r"不是[^，,。；;！!？?\s是]*")
# An outburst that mentions support (什么垃圾客服 能不能快点) is a mood, not a request for a
# person, unless the NLU is at least this sure it asks for one; the apology offers a human anyway.
HANDOFF_OVER_MOOD = 0.8
# The ticket detail an entity fills when the user adds it after the ticket was opened.
_DETAIL_OF_ENTITY = {"phone": "contact", "email": "contact"}
SMALL_TALK = {"greet": "greet", "goodbye": "goodbye", "thanks": "thanks", "bot_challenge": "bot_challenge"}


class Policy(Escalation):
    def __init__(
        self,
        content: Content,
        settings: Settings,
        faq_index: FaqIndex,
        extractor: EntityExtractor,
        actions: dict[str, Action],
        read_reply: ReadReply,
        rank_intents: IntentRanker | None = None,
    ) -> None:
        self.content = content
        self.read_reply = read_reply
        # Intents of a piece of a message (the part of a correction that is not negated).
        self.rank_intents = rank_intents
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
        self._question_words = tuple(answers.get("question", []))
        self._progress_words = {normalize(w) for w in answers.get("progress", [])}
        self._another_words = {normalize(w) for w in answers.get("another", [])}
        self._resume_words = {normalize(w) for w in answers.get("resume", [])}
        self._helpful_words = {normalize(w) for w in answers.get("helpful", [])}
        self._not_helpful_words = {normalize(w) for w in answers.get("not_helpful", [])}
        self._facts: dict[str, dict[str, str]] = {}  # per brand: settings and content never change under a Policy

    def fact_values(self, brand_key: str) -> dict[str, str]:
        """The brand's placeholder values. A fact the deployment has not supplied (a phone number
        the guides never give) is never shown as a raw `<…>`: its `unset_<fact>` response, which
        points to where the user finds it, stands in."""
        cached = self._facts.get(brand_key)
        if cached is not None:
            return cached
        brand = self.settings.brand(brand_key)
        values = brand.placeholders()
        texts = self.content.responses.texts
        for fact in brand.unset_facts():
            values[fact] = render(texts.get(f"unset_{fact}", ""), brand_key, values)
        self._facts[brand_key] = values
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
        ticket_status: Callable[[], str | None] = lambda: None,
    ) -> TurnResult:
        """Decide this turn. `text` is already redacted; `nlu` is its parse (None for payloads).

        `raw_text` (unredacted) is read only to capture a contact detail the bot asked for.
        """
        turn = Turn(
            self,
            brand_key,
            raw_text=raw_text if raw_text is not None else text,
            now=now or datetime.now(UTC),
            open_ticket=open_ticket,
            update_ticket=update_ticket,
            ticket_status=ticket_status,
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
                    said = said_day(entity["value"], normalize(nlu["text"][entity["start"] : entity["end"]]))
                    state["time_period"] = said.period if said else None
            state["intent"] = nlu["intent"]
        if scam:
            # A scam is at least high; with money in it (我已经给他转了3000) the money may still be
            # stopped: urgent.
            at_stake = any(e["entity"] == "amount" for e in (nlu.get("entities", []) if nlu else []))
            state["fraud_risk"] = True
            state["urgency"] = higher(state.get("urgency"), "urgent" if at_stake else "high")
            self._note_problem(state, text)
            if state.get("ticket"):
                self._add_to_ticket(
                    turn,
                    state,
                    TicketUpdate(priority=state["urgency"], problem=self._problem_line(turn, None, text or "")),
                )
            turn.say("scam_warning", [turn.button("human", PAYLOAD_HUMAN)])
            turn.result.outcome = Outcome.ANSWERED
            return turn.result
        offered = {PUNCT.sub("", normalize(b["title"])): b["payload"] for b in state.get("offered") or []}
        typed = PUNCT.sub("", normalize(text or ""))
        if payload is None and typed in offered:
            payload = offered[typed]  # typing a button's title is the same as pressing it
        if payload is not None:
            self._payload(state, turn, payload)
        else:
            self._text(state, turn, text or "", nlu)
        state["offered"] = [b for m in turn.result.messages for b in m["buttons"]]
        return turn.result

    # ------------------------------------------------------------------ payloads

    def _payload(self, state: dict[str, Any], turn: Turn, payload: str) -> None:
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
            intent = payload[len(PREFIX_INTENT) :]
            if intent in self.content.flows:
                state["misses"] = 0
                return self._start_flow(state, turn, intent, switching=bool(state.get("flow")))
        if payload.startswith(PREFIX_FAQ):
            entry = self.faq.by_id.get(payload[len(PREFIX_FAQ) :])
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
            f"Button payload '{payload}' is not valid at this point of the conversation.",
            code="unknown_payload",
        )

    # ------------------------------------------------------------------ free text

    def _text(self, state: dict[str, Any], turn: Turn, text: str, nlu: ParseResult | None) -> None:
        norm = normalize(text)
        bare = PUNCT.sub("", norm)
        intent, confidence = (nlu["intent"], nlu["confidence"]) if nlu else ("out_of_scope", 0.0)
        confident = confidence >= self.settings.nlu.intent_threshold

        if self._asks_progress(state, turn, text, bare, intent if confident else None):
            return self._tell_progress(state, turn)
        if (
            confident
            and intent == "human_handoff"
            and not self._outburst(text, confidence)
            and not (state.get("collecting") and self._carries_detail(turn, text))
        ):
            return self._handoff(state, turn)
        if state.get("paused") and not state.get("collecting") and self._means_resume(bare):
            return self._resume(state, turn)  # 接着来 / 继续吧 after an FAQ question mid-checklist
        paused = self.content.flows.get((state.get("paused") or {}).get("flow", ""))
        if (
            paused is not None
            and ((confident and intent == paused.name) or self._answers_a_step(text, norm))
            and not self._says_no(bare)
            and state["paused"].get("step") in paused.steps
        ):
            # More about the interrupted problem (找到了 T2026… 128元), or an answer to its step
            # (余额也够, after a question answered from the FAQ): back to its step, read there.
            step_id = state["paused"]["step"]
            state.update(paused=None, awaiting_feedback=None, flow=paused.name, step=step_id)
            return self._step_reply(
                state, turn, paused, paused.steps[step_id], text, norm, bare, intent, confident, nlu
            )
        if confident and intent == "restart":
            return self._restart(state, turn)
        if state.get("collecting"):
            return self._collect_answer(state, turn, text, skip=self._skips_detail(text, bare), nlu=nlu)

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
                if self._short_answer(state, turn, text, bare, intent, confidence):
                    return
        self._route(state, turn, norm, intent, confidence, nlu, text)

    def _asks_progress(self, state: dict[str, Any], turn: Turn, text: str, bare: str, intent: str | None) -> bool:
        """工单处理到哪了 / 有人处理了吗 once a ticket exists (and not a new problem or a detail)."""
        return (
            bool(state.get("ticket"))
            and any(word in bare for word in self._progress_words)
            and intent not in self.content.flows
            and not self._carries_detail(turn, text, besides_time=True)  # 现在 is a time, not a detail here
        )

    def _tell_progress(self, state: dict[str, Any], turn: Turn) -> None:
        """The ticket's status as the store has it; a detail being asked is asked again."""
        status = turn.ticket_status() or "open"
        turn.result.outcome = Outcome.ANSWERED
        turn.say(f"ticket_progress_{status}", ticket=state["ticket"])
        if state.get("collecting"):
            turn.say("collect_continue")
            self._ask_detail(state, turn)

    def _carries_detail(self, turn: Turn, text: str, *, besides_time: bool = False) -> bool:
        """The message holds a detail the extractor reads (联系我 138…: the number is the answer)."""
        found = self.extractor.extract(normalize(text), now=turn.local_now)
        if besides_time:
            found = [e for e in found if e["entity"] != "time"]
        return bool(found or self._contact_in(turn, text))

    def _without_outburst(self, text: str) -> str | None:
        """The message without its outburst clauses, when the rest surely answers a step."""
        clauses = [c for c in CLAUSE_BREAK.split(text) if PUNCT.sub("", c)]
        if len(clauses) < 2:
            return None
        moods = [c for c in clauses if (r := self.read_reply(c)[0])[0] in MOODS and r[1] >= SURE_ANSWER]
        if not moods or len(moods) == len(clauses):
            return None
        rest = "，".join(c for c in clauses if c not in moods)
        kind, confidence = self.read_reply(rest)[0]
        return rest if kind in ANSWER_KINDS and confidence >= SURE_ANSWER else None

    def _answers_a_step(self, text: str, norm: str) -> bool:
        """The reply surely reads as a step's answer (余额也够, 网络是好的), not a question, and
        not a bare yes (好的: to "要继续吗？"), a resume word or a word about the answer (有帮助)."""
        bare = PUNCT.sub("", norm)
        if (
            self._whole_yes_no(bare) is not None
            or self._has_word(bare, self._resume_words)
            or self._helpfulness(bare) is not None
        ):
            return False
        kind, confidence = self.read_reply(text)[0]
        return kind in ("fine", "solved", "cause") and confidence >= SURE_ANSWER and not self._is_question(text, norm)

    def _is_question(self, text: str, norm: str) -> bool:
        """The message asks something (`answers.question` words: 在哪, 多少, 吗…)."""
        return any(word in text or word in norm for word in self._question_words)

    def _outburst(self, text: str, handoff_confidence: float) -> bool:
        """Frustration or a complaint read surely, with only a weak request for a person in it."""
        if handoff_confidence >= HANDOFF_OVER_MOOD:
            return False
        kind, confidence = self.read_reply(text)[0]
        return kind in MOODS and confidence >= SURE_KIND

    def _skips_detail(self, text: str, bare: str) -> bool:
        """A skip word (跳过, 不知道, 算了) skips the detail asked, unless the reply says more and
        reads as giving up the whole matter (算了 不想退了): that is read as giving up."""
        if not self._has_word(bare, self._skip):
            return False
        if bare in self._skip:
            return True
        kind, confidence = self.read_reply(text)[0]
        return not (kind == "give_up" and confidence >= MOVE_CONFIDENCE)

    def _means_resume(self, bare: str) -> bool:
        """继续 / 接着来 / 继续吧, and not 不继续 / 不用继续 (any no word in it)."""
        return self._has_word(bare, self._resume_words) and not self._says_no(bare)

    def _says_no(self, bare: str) -> bool:
        """The reply is a no word, or holds one of two characters or more (不用继续了)."""
        return bare in self._no or any(len(w) > 1 and w in bare for w in self._no)

    def _accepts_human_offer(self, state: dict[str, Any], bare: str) -> bool:
        """A plain yes right after the bot offered a human (and nothing else to say yes to)."""
        offered = [b["payload"] for b in state.get("offered") or []]
        return offered == [PAYLOAD_HUMAN] and not state.get("paused") and bare in self._yes

    def _add_message_to_ticket(
        self,
        state: dict[str, Any],
        turn: Turn,
        text: str,
        norm: str,
        intent: str,
        confident: bool,
        nlu: ParseResult | None,
    ) -> bool:
        """After the ticket: a message with details (a time, 500, a phone number) or that the bot
        cannot otherwise place goes to the ticket, and the user is told so. Small talk, FAQ
        questions and yes/no answers are answered as usual (False)."""
        entities = {e["entity"]: e["value"] for e in (nlu.get("entities", []) if nlu else [])}
        contact = self._contact_in(turn, text)
        if contact:
            entities.update(contact)
        if not entities:
            if confident and (intent in SMALL_TALK or intent in ("affirm", "deny")):
                return False
            hits = self.faq.search(norm, brand=turn.brand_key, k=1)
            if (confident and intent != "out_of_scope") or (hits and self.settings.faq.answers(hits[0])):
                return False
        details = {_DETAIL_OF_ENTITY.get(k, k): v for k, v in entities.items()}
        trail = [
            {
                "flow": None,
                "step": "after_ticket",
                "say": "",
                "answer": text.strip(),
                "at": turn.now.isoformat(timespec="seconds"),
            }
        ]
        # The first words about the problem of a ticket opened before any were said (转人工 first).
        problem = text.strip() if not entities and not state.get("problems") else None
        self._note_problem(state, problem)
        self._add_to_ticket(
            turn,
            state,
            TicketUpdate(
                details=details, trail=trail, problem=self._problem_line(turn, None, problem) if problem else None
            ),
        )
        turn.result.outcome = Outcome.ESCALATED
        turn.say("ticket_noted", ticket=state["ticket"])
        return True

    def _contact_in(self, turn: Turn, text: str) -> dict[str, str]:
        """A phone number or email in the message, unmasked for the ticket only."""
        found = self._contact_found(turn, text)
        return {"contact": found[1]} if found else {}

    def _contact_found(self, turn: Turn, text: str) -> tuple[str, str] | None:
        """(phone | email, the unmasked value) of a contact detail in the message, or None."""
        raw = normalize(turn.raw_text or text)
        for entity in ("phone", "email"):
            found = self.extractor.extract_one(entity, raw)
            if found:
                return entity, found["value"]
        return None

    # ------------------------------------------------------------------ answers to a checklist step

    def _step_reply(
        self,
        state: dict[str, Any],
        turn: Turn,
        flow: Flow,
        step: Step,
        text: str,
        norm: str,
        bare: str,
        intent: str,
        confident: bool,
        nlu: ParseResult | None = None,
    ) -> None:
        """A typed reply while a step waits for its answer: read against the step first
        (bot/dialogue/answers.py); only a reply that is clearly something else leaves it."""
        if not bare:
            return self._not_understood(state, turn, flow, step)
        rest = self._without_outburst(text)
        if rest is not None:
            # 有病吧，说了网络没问题: the outburst is acknowledged, the rest answers the step.
            turn.say("mood_ack")
            text, norm = rest, normalize(rest)
            bare = PUNCT.sub("", norm)
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
            # A cause that is itself a more urgent problem (账户好像被冻结了 in the top-up
            # checklist) gets its own checklist too.
            other = self.content.flows[intent]
            more_urgent = other.priority is not None and higher(other.priority, flow.priority) != flow.priority
            if (
                (reading.kind == "failing" or (reading.kind == "cause" and more_urgent))
                and nlu is not None
                and nlu["confidence"] >= OTHER_PROBLEM_CONFIDENCE
            ):
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
        if (
            reading.move == "other"
            and confident
            and intent in SMALL_TALK
            and dict(ranking).get("frustration", 0.0) + dict(ranking).get("complaint", 0.0) >= MOOD_SHARE
        ):
            return self._step_buttons(turn, step, "frustration")  # 你是不是傻: an insult, not a question about the bot
        if reading.move == "other" and confident and intent in SMALL_TALK:
            # 你是真人吗 / 你好 at a step: answered, and the step still waits.
            turn.say(SMALL_TALK[intent])
            return self._step_buttons(turn, step, "step_continue")
        if reading.move == "correct":
            # 说错了，是提现不是充值: the problem the user meant, if the NLU sees another one. The
            # negated part (不是充值) names the problem the user did not mean: it is read without it.
            affirmed = NEGATED.sub(" ", norm)
            heard: list[tuple[str, float]] = (
                self.rank_intents(affirmed)
                if affirmed != norm and self.rank_intents is not None
                else [(r["intent"], r["confidence"]) for r in (nlu["ranking"] if nlu else [])]
            )
            meant = next(
                (
                    name
                    for name, share in heard
                    if name in self.content.flows and name != flow.name and share >= CORRECTION_CONFIDENCE
                ),
                None,
            )
            if meant:
                return self._start_flow(state, turn, meant, switching=True, opening=text)
        self._trail(turn, state, flow, step, "", answer=text.strip())
        state["trail"][-1].update(move=reading.move)
        self._step_move(state, turn, flow, step, reading, norm, intent, confident)

    def read_step_reply(self, step: Step, text: str) -> Reading:
        """How a typed reply reads at `step` (kind "title": it is an option's whole title)."""
        bare = PUNCT.sub("", normalize(text))
        for option in step.options:
            if PUNCT.sub("", normalize(option.title)) == bare:
                return Reading("title", 1.0, option=option, named=True)
        titled = [o for o in step.options if len(t := PUNCT.sub("", normalize(o.title))) >= 2 and t in bare]
        said = without_echoed_labels(step, bare)
        keyword = keyword_option(step, said) or max(titled, key=lambda o: len(o.title), default=None)
        return read_answer(
            step, said, self.read_reply(said if said != bare else text), self._whole_yes_no(bare), keyword
        )

    def _step_move(
        self,
        state: dict[str, Any],
        turn: Turn,
        flow: Flow,
        step: Step,
        reading: Reading,
        norm: str,
        intent: str,
        confident: bool,
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

    def _whole_yes_no(self, bare: str) -> str | None:
        """The reply is nothing but a yes or no word (是 / 不行 / 有): the option that means it."""
        if bare in self._no:
            return "no"
        if bare in self._yes:
            return "yes"
        return None

    def _short_answer(
        self, state: dict[str, Any], turn: Turn, text: str, bare: str, intent: str, confidence: float
    ) -> bool:
        """A reply to "did this help?" or, after an FAQ question asked mid-flow, to "要继续吗？".

        While a flow is paused the question last asked is whether to continue, so a yes (好的,
        是的, 要) or a resume word (继续…) goes back to the paused step; only words about the
        answer itself (有帮助, 没用…) are feedback. Otherwise a report that the advice did not
        work (重启了也不行) is a "not helpful", which offers a human. Returns False when the text
        is none of these.
        """
        helpful = self._helpfulness(bare)
        if helpful is None and not state.get("paused") and not self._is_question(text, bare):
            kind, kind_confidence = self.read_reply(text)[0]
            if kind in ("failing", "cannot") and kind_confidence >= MOVE_CONFIDENCE:
                helpful = False
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

    def _route(
        self,
        state: dict[str, Any],
        turn: Turn,
        norm: str,
        intent: str,
        confidence: float,
        nlu: ParseResult | None,
        text: str = "",
    ) -> None:
        """No flow is active: start a flow, answer from the FAQ, chat, or clarify."""
        confident = confidence >= self.settings.nlu.intent_threshold
        state["awaiting_feedback"] = None
        reply, reply_confidence = self.read_reply(text)[0] if text else ("other", 0.0)
        if confident and intent in self.content.flows and self._outside_flow(self.content.flows[intent], norm):
            # 提现失败 而且支付密码也忘了: the part the checklist covers, if the NLU heard one at all
            intent = next(
                (
                    r["intent"]
                    for r in (nlu.get("ranking", []) if nlu else [])[1:3]
                    if r["intent"] in self.content.flows
                    and r["confidence"] >= OTHER_FLOW_FLOOR
                    and not self._outside_flow(self.content.flows[r["intent"]], norm)
                ),
                intent,
            )
        if confident and intent in self.content.flows and not self._outside_flow(self.content.flows[intent], norm):
            state["misses"] = 0
            flow = self.content.flows[intent]
            offer: list[Button] = [{"title": turn.render(flow.title), "payload": PREFIX_INTENT + flow.name}]
            if reply == "how_long" and reply_confidence >= MOVE_CONFIDENCE:
                # 退款多久到账: the guides' answer, and the checklist if the user wants it
                turn.result.outcome = Outcome.ANSWERED
                self._say_how_long(turn, flow)
                return turn.say("how_long_start_offer", offer)
            if (entry := self._question_answered_by_faq(turn, norm, text)) is not None:
                # 在哪里申请退款 / 限额是多少: a question the FAQ answers, not a problem to walk through
                self._answer_faq(state, turn, entry.id)
                return turn.say("how_long_start_offer", offer)
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
        if confident and intent in ("affirm", "deny") and self._yes_no(PUNCT.sub("", norm), "", 0.0):
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
        if hits and self.settings.faq.answers(hits[0]):
            state["misses"] = 0
            return self._answer_faq(state, turn, hits[0].entry.id)
        if intent == "out_of_scope" and confidence >= self.settings.nlu.reject_threshold:
            turn.result.outcome = Outcome.OUT_OF_SCOPE
            return self._miss(state, turn, "out_of_scope")
        self._clarify(state, turn, nlu, hits)

    @staticmethod
    def _outside_flow(flow: Flow, norm: str) -> bool:
        """忘记支付密码: the message names what the flow's `not_for` words say it does not cover."""
        return any(normalize(word) in norm for word in flow.not_for)

    def _question_answered_by_faq(self, turn: Turn, norm: str, text: str) -> FaqEntry | None:
        """The FAQ entry that answers a question about a checklist's subject, if one does.

        A problem report (退款一直没到账, 充值失败怎么办) starts the checklist. A question
        (`answers.question` words: 在哪, 多少, 吗…) whose best FAQ match is confident and is not
        a checklist's own summary (tagged what_if) is answered from the FAQ instead.
        """
        if not self._is_question(text, norm):
            return None
        hits = self.faq.search(norm, brand=turn.brand_key, k=1)
        # From the suggestion level: the checklist stays one button away if the answer is not it.
        if hits and hits[0].score >= self.settings.faq.suggest_threshold and not hits[0].entry.summarises_a_checklist:
            return hits[0].entry
        return None

    # ------------------------------------------------------------------ understanding answers

    def _yes_no(self, bare: str, intent: str, confidence: float) -> str | None:
        whole = self._whole_yes_no(bare)
        if whole:
            return whole
        if self._says_no(bare):
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
        scores = keyword_scores(step, bare, ignore=lambda word: any(u in word for u in unsure))
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
        self._enter(state, turn, flow, option.next_for(turn.brand_key))

    def _digress(
        self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step, norm: str, intent: str, confident: bool
    ) -> None:
        """The reply is not an answer: an FAQ question (answered, the step stays resumable), or
        not understood (the step is asked again)."""
        hits = self.faq.search(norm, brand=turn.brand_key, k=1)
        entry = None
        if hits and self.settings.faq.answers(hits[0]):
            entry = hits[0].entry
        elif (
            confident
            and intent not in self.content.flows
            and (mapped := self.content.faq_for_intent(intent))
            and mapped.serves(turn.brand_key)
        ):
            # An FAQ intent, as outside a checklist: the best entry if it is a fair match
            # (常见问题在哪看 -> the help centre), else the intent's own entry (客服电话多少).
            entry = hits[0].entry if hits and hits[0].score >= self.settings.faq.suggest_threshold else mapped
        if entry is not None:
            state["paused"] = {"flow": flow.name, "step": step.id}
            state.update(flow=None, step=None)
            return self._answer_faq(state, turn, entry.id)
        self._not_understood(state, turn, flow, step)

    def _not_understood(self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step) -> None:
        state["misses"] += 1
        turn.result.outcome = Outcome.FALLBACK
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            self._step_buttons(turn, step, "offer_human")
        else:
            self._step_buttons(turn, step, "step_not_understood")

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

    # ------------------------------------------------------------------ FAQ, feedback, clarification

    def _answer_faq(self, state: dict[str, Any], turn: Turn, entry_id: str) -> None:
        """Answer from the FAQ; a checklist the question interrupted stays resumable, offered
        in a message of its own (its button is not feedback on the answer)."""
        entry = self.faq.by_id[entry_id]
        state.update(faq_id=entry.id, awaiting_feedback={"kind": "faq", "id": entry.id})
        turn.result.report["faq"] = entry.id
        turn.result.outcome = Outcome.ANSWERED
        turn.add(turn.render(entry.answer))
        turn.say(
            "faq_helpful_prompt",
            [turn.button("helpful", PAYLOAD_HELPFUL), turn.button("not_helpful", PAYLOAD_NOT_HELPFUL)],
        )
        paused = self.content.flows.get((state.get("paused") or {}).get("flow", ""))
        if paused is not None:
            turn.say("flow_resume_offer", [turn.button("resume", PAYLOAD_RESUME)], title=turn.render(paused.title))

    def _feedback(self, state: dict[str, Any], turn: Turn, helpful: bool) -> None:
        target = state.get("awaiting_feedback") or {}
        state["awaiting_feedback"] = None
        turn.result.outcome = Outcome.FEEDBACK
        turn.result.feedback = (target.get("kind", "faq"), target.get("id", ""), helpful)
        if helpful:
            turn.say("feedback_thanks")
        else:
            turn.say("feedback_sorry", [turn.button("human", PAYLOAD_HUMAN)])

    def _clarify(self, state: dict[str, Any], turn: Turn, nlu: ParseResult | None, hits: list[FaqHit]) -> None:
        limit = self.settings.dialogue.max_clarify_options
        buttons: list[Button] = []
        for ranked in nlu.get("ranking", []) if nlu else []:
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

    def _miss(self, state: dict[str, Any], turn: Turn, key: str) -> None:
        state["misses"] += 1
        turn.result.outcome = Outcome(key)
        if state["misses"] >= self.settings.dialogue.misses_before_human:
            turn.say(key)
            turn.say("offer_human", [turn.button("human", PAYLOAD_HUMAN)])
        else:
            turn.say(key)

    def _restart(self, state: dict[str, Any], turn: Turn) -> None:
        keep = {
            "ticket": state.get("ticket"),
            "escalated": state.get("escalated"),
            "fraud_risk": state.get("fraud_risk"),
        }
        state.clear()
        state.update(fresh_state() | keep)
        turn.result.outcome = Outcome.SMALL_TALK
        turn.say("restart_done")
