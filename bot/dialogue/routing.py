"""Routing a message when no checklist step waits for an answer: start a checklist, answer from
the FAQ, chat, or, when unsure, clarify with the likely topics as buttons and then offer a human.

A mixin of the Policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOVE_CONFIDENCE
from bot.dialogue.turn import PAYLOAD_HUMAN, PREFIX_FAQ, PREFIX_INTENT, PUNCT, Button, Outcome, Turn
from bot.dialogue.understanding import Understanding
from bot.faq.knowledge import FaqEntry
from bot.flows.model import Flow
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content import Content
    from bot.faq.index import FaqHit, FaqIndex

# When a message names what its checklist does not cover (`not_for`), another checklist the NLU
# heard at least this much is the part to walk through.
OTHER_FLOW_FLOOR = 0.02
# Intents handled by a fixed response rather than a flow or the FAQ.
SMALL_TALK = {"greet": "greet", "goodbye": "goodbye", "thanks": "thanks", "bot_challenge": "bot_challenge"}


# A clarification with one FAQ suggestion only is answered with it when the intent classifier
# gives the entry's intent at least this probability (the second reading of 有什么建议 questions).
SOLE_SUGGESTION_AGREEMENT = 0.25


class Routing(Understanding):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    content: Content
    faq: FaqIndex
    settings: Settings

    if TYPE_CHECKING:

        def _start_flow(
            self, state: dict[str, Any], turn: Turn, name: str, *, switching: bool, opening: str = ""
        ) -> None: ...

        def _say_how_long(self, turn: Turn, flow: Flow | None) -> None: ...

        def _answer_faq(self, state: dict[str, Any], turn: Turn, entry_id: str) -> None: ...

        def _surest_clause_flow(self, text: str, nlu: ParseResult | None) -> Flow | None: ...

        def _faq_answering(
            self, turn: Turn, text: str, norm: str, *, asked: bool = False, flow: Flow | None = None
        ) -> FaqEntry | None: ...

        def _faq_hits(self, turn: Turn, text: str, norm: str, *, k: int) -> list[FaqHit]: ...

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
        # Upay充不进钱，试了三张卡都不行 reads as a no (都不行) as a whole; a problem a clause names
        # surely is what a yes or no with no question before it is about.
        hesitant = not confident or intent in ("affirm", "deny")
        if hesitant and text and (sure := self._surest_clause_flow(text, nlu)) is not None:
            intent, confidence, confident = sure.name, self.settings.nlu.intent_threshold, True
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
            state["left_flow"] = flow.name  # the subject, for a 转人工 that follows the answer
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
        limit = self.settings.dialogue.max_clarify_options
        hits = self.faq.search(norm, brand=turn.brand_key, k=limit)
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
        if (entry := self._follow_up(state, turn, text, norm)) is not None:
            state["misses"] = 0
            return self._answer_faq(state, turn, entry.id)
        if (
            intent == "out_of_scope"
            and confidence >= self.settings.nlu.reject_threshold
            and self.settings.brand(turn.brand_key).named_in(norm)
        ):
            # Upay充值收手续费吗: about this wallet, so never off-topic: the FAQ entry that clearly
            # leads, else where such questions are answered.
            # A sure question needs the lead asked of one inside a checklist, not a direct answer's.
            lead = (
                self.settings.dialogue.asked_faq_lead
                if self._is_question(text, norm)
                else self.settings.faq.answer_margin
            )
            if hits and hits[0].score >= self.settings.faq.suggest_threshold and hits[0].margin >= lead:
                return self._answer_faq(state, turn, hits[0].entry.id)
            turn.result.outcome = Outcome.ANSWERED
            return turn.say("wallet_question_unknown", [turn.button("human", PAYLOAD_HUMAN)])
        if intent == "out_of_scope" and confidence >= self.settings.nlu.reject_threshold:
            turn.result.outcome = Outcome.OUT_OF_SCOPE
            return self._miss(state, turn, "out_of_scope")
        if self._is_question(text, norm) and (entry := self._faq_answering(turn, text, norm, asked=True)) is not None:
            # 不更新行不行: surely a question, and one entry clearly leads: its answer, not a menu.
            state["misses"] = 0
            return self._answer_faq(state, turn, entry.id)
        # 幸好还没点 那怎么判断官网是不是真的: the choices its question clause suggests, when the
        # whole message suggests none.
        self._clarify(state, turn, nlu, self._faq_hits(turn, text, norm, k=limit))

    def _follow_up(self, state: dict[str, Any], turn: Turn, text: str, norm: str) -> FaqEntry | None:
        """那要是急事找哪个, right after an FAQ answer (发邮件联系客服): a question that leans on the
        one just answered, read together with it; another entry that then clearly leads answers."""
        last = self.faq.by_id.get(state.get("faq_id") or "")
        if last is None or not self._is_question(text, norm):
            return None
        asked = normalize(f"{turn.render(last.question)} {text}")
        entry = self._faq_answering(turn, asked, asked, asked=True)
        return entry if entry is not None and entry.id != last.id else None

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
        sole = [h for h in hits if h.score >= self.settings.faq.suggest_threshold]
        if len(buttons) == 1 and len(sole) == 1 and (sole[0].intent_agreement or 0.0) >= SOLE_SUGGESTION_AGREEMENT:
            # "Which of these?" with one choice asks nothing: answer it (its vote buttons follow).
            return self._answer_faq(state, turn, sole[0].entry.id)
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
