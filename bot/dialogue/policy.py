"""The dialogue policy: what happens on each turn, given the conversation state and the NLU.

The policy is pure with respect to storage: it reads and mutates the conversation's `state`
dict (keys: bot/dialogue/state.py), returns the messages to send, and opens or adds to the
ticket through the callbacks the engine gives it (so the ticket is written in the same
transaction as the state).

This module holds the turn's entry point: a button press or a typed message, sent to the part
that handles it. The parts are mixins with one job each, listed in bot/dialogue/__init__.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from actions.base import Action
from bot.config import Settings
from bot.content import Content
from bot.dialogue.checklist import Checklist
from bot.dialogue.collecting import Collecting
from bot.dialogue.escalation import Escalation
from bot.dialogue.faq_answers import FaqAnswers
from bot.dialogue.routing import Routing
from bot.dialogue.state import fresh_state, higher, migrate
from bot.dialogue.step_reading import negated_part
from bot.dialogue.step_replies import StepReplies
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
    OpenTicket,
    Outcome,
    ReadReply,
    TicketUpdate,
    Turn,
    TurnResult,
    UpdateTicket,
)
from bot.dialogue.understanding import (
    alternation,
    contrast_pattern,
    decline_pattern,
    either_pattern,
    indefinite_pattern,
    summon_pattern,
)
from bot.errors import ConversationError
from bot.faq.index import FaqIndex, IntentRanker
from bot.nlu.entities import EntityExtractor, said_day
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult, RankedIntent
from bot.secret_requests import SECRET
from bot.text import render


def read_surely(nlu: ParseResult, intent: str) -> ParseResult:
    """The parse with `intent` read surely, the rest of its ranking kept below it."""
    ranking = [RankedIntent(intent=intent, confidence=1.0)] + [r for r in nlu["ranking"] if r["intent"] != intent]
    return ParseResult(text=nlu["text"], intent=intent, confidence=1.0, entities=nlu["entities"], ranking=ranking)


def read_without(nlu: ParseResult, intent: str) -> ParseResult:
    """The parse as if `intent` had not been heard: the next of its ranking leads, at its own
    probability."""
    ranking = [r for r in nlu["ranking"] if r["intent"] != intent]
    best = ranking[0] if ranking else RankedIntent(intent="out_of_scope", confidence=0.0)
    return ParseResult(
        text=nlu["text"],
        intent=best["intent"],
        confidence=best["confidence"],
        entities=nlu["entities"],
        ranking=ranking,
    )


class Policy(Routing, StepReplies, Checklist, FaqAnswers, Escalation, Collecting):
    """The turn's entry point over its parts (the module docstring lists them). One Policy answers
    many conversations at once: what belongs to a turn lives on its `Turn`, never here."""

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
        self._either = either_pattern(
            answers.get("either_lead", []), answers.get("either", []), answers.get("either_not", [])
        )
        self._progress_words = {normalize(w) for w in answers.get("progress", [])}
        self._another_words = {normalize(w) for w in answers.get("another", [])}
        self._interjections = "".join(normalize(w) for w in answers.get("interjections", []))
        self._person_words = {normalize(w) for w in answers.get("person", [])}
        self._summoned_words = {normalize(w) for w in answers.get("summoned", [])}
        self._reach_me_words = {normalize(w) for w in answers.get("reach_me", [])}
        self._addressed_words = tuple(normalize(w) for w in answers.get("addressed", []))
        self._decline = decline_pattern(
            [normalize(w) for w in answers.get("decline", [])],
            [normalize(w) for w in answers.get("request", [])],
            self._person_words,
        )
        self._reproach_words = {normalize(w) for w in answers.get("reproach", [])}
        self._offer_words = tuple(normalize(w) for w in answers.get("offer", []))
        how, how_not = answers.get("how", []), answers.get("how_not", [])
        self._how = re.compile(f"(?:{alternation(how)})(?!{alternation(how_not)})") if how and how_not else None
        self._summons = summon_pattern(
            [normalize(w) for w in answers.get("summon", [])],
            self._person_words | {normalize(w) for w in answers.get("summoned", [])},
            [normalize(w) for w in answers.get("person_help", [])],
        )
        self._hypothesis_words = {normalize(w) for w in answers.get("hypothesis", [])}
        self._conditional_words = {normalize(w) for w in answers.get("conditional", [])}
        self._resume_words = {normalize(w) for w in answers.get("resume", [])}
        self._lead_back_words = tuple(normalize(w) for w in answers.get("lead_back", []))
        self._ask_lead_words = tuple(normalize(w) for w in answers.get("ask_lead", []))
        self._all_at_once_words = {normalize(w) for w in answers.get("all_at_once", [])}
        self._not_person_words = tuple(normalize(w) for w in answers.get("not_person", []))
        # Longest first: 重启好了 is taken out whole, not as 重启 leaving 好了.
        self._done_words = tuple(sorted((normalize(w) for w in answers.get("done", [])), key=len, reverse=True))
        self._outcome_words = tuple(normalize(w) for w in answers.get("outcome", []))
        self._helpful_words = {normalize(w) for w in answers.get("helpful", [])}
        self._not_helpful_words = {normalize(w) for w in answers.get("not_helpful", [])}
        self._negators = frozenset(answers.get("negators", []))
        # What negates a step's match word right before it: a negator, alone or with a link (不是, 没有).
        links = [normalize(w) for w in answers.get("negation_links", [])]
        self._negations = self._negators | {n + link for n in self._negators for link in links}
        self._contrast = contrast_pattern(answers.get("contrast", []), answers.get("contrast_heads", []))
        self._shows = tuple(sorted((normalize(w) for w in answers.get("shows", [])), key=len, reverse=True))
        self._function_chars = frozenset(answers.get("function_chars", []))
        self._indefinite = indefinite_pattern(answers.get("indefinite", []), answers.get("indefinite_ends", []))
        self._negated = negated_part(
            [normalize(w) for w in answers.get("negation", [])], [normalize(w) for w in answers.get("affirmation", [])]
        )
        # Longest first: 不对不对 is taken out whole.
        self._correction_leads = tuple(
            sorted((normalize(w) for w in answers.get("correction_leads", [])), key=len, reverse=True)
        )
        self._facts: dict[str, dict[str, str]] = {}  # per brand: settings and content never change under a Policy

    def _offers_secret(self, text: str) -> bool:
        """The user offers to hand over a secret (要不我把原来的登录密码也发你; CVV是啥 要不要我把它
        发你): a secret's name (bot/secret_requests.py) and an offer word (`answers.offer`)."""
        norm = normalize(text)
        return SECRET.search(norm) is not None and any(w in norm for w in self._offer_words)

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
        elif text and self._offers_secret(text):
            turn.say("secret_offer")
            if state.get("collecting") and state["collecting"].get("pending"):
                turn.result.outcome = Outcome.ANSWERED
                self._ask_detail(state, turn)  # the offer is no answer to the detail asked
                return turn.result
            flow = self.content.flows.get(state.get("flow") or "")
            step = flow.steps.get(state.get("step") or "") if flow is not None else None
            if step is not None and step.options:
                # 我把银行卡号跟支付密码都给你 你去查: no answer to the step, nor another problem
                turn.result.outcome = Outcome.FLOW
                self._step_buttons(turn, step, "step_continue")
                return turn.result
        if nlu:
            for entity in nlu["entities"]:
                state["entities"][entity["entity"]] = entity["value"]
                if entity["entity"] == "time":
                    # 昨天下午 keeps its 下午 for a clock time said later (see _begin_collect)
                    said = said_day(entity["value"], normalize(nlu["text"][entity["start"] : entity["end"]]))
                    state["time_period"] = said.period if said else None
            state["intent"] = nlu["intent"]
        if text is not None and not state.get("ticket") and not state.get("contact"):
            # 我手机号138… 钱包被盗了: kept for the ticket this conversation may open later.
            if (found := self._contact_found(turn, text)) is not None:
                state["contact"] = {"kind": found[0], "value": found[1]}
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
            # 被骗了 快给我接人工: the warning, then the person asked for; else the offer of one.
            asks_person = (
                nlu is not None
                and nlu["intent"] == "human_handoff"
                and nlu["confidence"] >= self.settings.nlu.intent_threshold
            )
            turn.say("scam_warning", [] if asks_person else [turn.button("human", PAYLOAD_HUMAN)])
            turn.result.outcome = Outcome.ANSWERED
            if asks_person:
                self._handoff(state, turn, text)
            return turn.result
        if nlu is not None and text and (problem := self._compromise(text)) is not None:
            nlu = read_surely(nlu, problem)  # 一笔1500的消费 我根本没买过: someone else is in the account
            state["intent"] = nlu["intent"]
        elif nlu is not None and text and self._denies_compromise(text, nlu["intent"]):
            nlu = read_without(nlu, nlu["intent"])  # 交易记录我看了 没有什么不认识的: no theft told
            state["intent"] = nlu["intent"]
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
        if intent == "human_handoff" and (rest := self._without_declines(text)) != text:
            # 先不转人工了 我再等两天看看: a no to a person; what follows is the answer, if anything
            intent = "deny"
            if PUNCT.sub("", normalize(rest)):
                text, norm, bare = rest, normalize(rest), PUNCT.sub("", normalize(rest))
        confident = confidence >= self.settings.nlu.intent_threshold

        if self._asks_progress(state, turn, text, bare, intent if confident else None):
            return self._tell_progress(state, turn)
        no_person = self._person_only_in_other_words(norm)
        if intent == "human_handoff" and no_person:
            # 你到底懂不懂啊 人工智障: 人工 inside another word names no person to talk to.
            intent, confidence, confident = "out_of_scope", 0.0, False
        # Giving up (算了 不转了 让他明天再来找我要吧) or no person named: no handoff.
        no_handoff = no_person or self._gives_up_alone(text, norm)
        if (
            confident
            and intent == "human_handoff"
            and not no_handoff
            and not self._outburst(text, confidence)
            and not (state.get("collecting") and self._carries_detail(turn, text))
        ):
            return self._handoff(state, turn, text)
        if (
            not (confident and intent == "human_handoff")
            and not no_handoff
            and not (state.get("collecting") and self._carries_detail(turn, text))
            and self._person_asked_beside(text, nlu)
        ):
            return self._handoff(state, turn, text)  # 提现失败 转人工 / 改了 还是不放心 转人工
        if state.get("paused") and not state.get("collecting") and (rest := self._after_lead_ins(text)) != text:
            # 好的 回到充值的事 余额什么的都没问题: the acknowledgement and the way back lead in; the
            # rest answers the paused step.
            text, norm, bare = rest, normalize(rest), PUNCT.sub("", normalize(rest))
        if (
            state.get("paused")
            and not state.get("collecting")
            and (self._means_resume(bare) or (state.get("flow") and self._whole_yes_no(bare) == "yes"))
        ):
            # 接着来 / 继续吧 after an FAQ question mid-checklist; and 好的 right after the answer
            # acknowledges it, it does not say the step worked.
            return self._resume(state, turn)
        paused = self.content.flows.get((state.get("paused") or {}).get("flow", ""))
        answers_step = paused is not None and self._answers_a_step(text, norm)
        if (
            paused is not None
            and ((confident and intent == paused.name) or answers_step)
            # a no (不用了) leaves it, unless the reply surely answers its step (写的是失败 没说原因)
            and (answers_step or not self._says_no(bare))
            and state["paused"].get("step") in paused.steps
        ):
            # More about the interrupted problem (找到了 T2026… 128元), or an answer to its step
            # (余额也够, after a question answered from the FAQ): back to its step, read there.
            step_id = state["paused"]["step"]
            state.update(paused=None, awaiting_feedback=None, flow=paused.name, step=step_id)
            return self._step_reply(
                state, turn, paused, paused.steps[step_id], text, norm, bare, intent, confident, nlu
            )
        if confident and intent == "restart" and not (state.get("step") and self._sure_answer(text)):
            return self._restart(state, turn)  # not 重新登录也一样, an answer to the step
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
