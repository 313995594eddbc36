"""Answering from the FAQ: finding the entry a question asks for (whole, by its question clause,
or in a checklist's situation), saying it, and reading what the user says back: a vote on the
answer ("did this help?"), or, after a question asked in the middle of a checklist, whether to go
on with it.

A mixin of the Policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOVE_CONFIDENCE
from bot.dialogue.turn import PAYLOAD_HELPFUL, PAYLOAD_HUMAN, PAYLOAD_NOT_HELPFUL, PAYLOAD_RESUME, Outcome, Turn
from bot.dialogue.understanding import Understanding, clauses_of
from bot.nlu.normalize import normalize

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content import Content
    from bot.faq.index import FaqHit, FaqIndex
    from bot.faq.knowledge import FaqEntry
    from bot.flows.model import Flow


class FaqAnswers(Understanding):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    content: Content
    faq: FaqIndex
    settings: Settings

    if TYPE_CHECKING:

        def _resume(self, state: dict[str, Any], turn: Turn) -> None: ...

        def _start_flow(
            self, state: dict[str, Any], turn: Turn, name: str, *, switching: bool, opening: str = ""
        ) -> None: ...

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

    def _feedback(self, state: dict[str, Any], turn: Turn, helpful: bool, *, say: bool = True) -> None:
        target = state.get("awaiting_feedback") or {}
        state["awaiting_feedback"] = None
        turn.result.outcome = Outcome.FEEDBACK
        turn.result.feedback = (target.get("kind", "faq"), target.get("id", ""), helpful)
        if not say:
            return
        if helpful:
            turn.say("feedback_thanks")
        else:
            turn.say("feedback_sorry", [turn.button("human", PAYLOAD_HUMAN)])

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
        failing = False
        if helpful is None and not state.get("paused") and not self._is_question(text, bare):
            kind, kind_confidence = self.read_reply(text)[0]
            clauses = clauses_of(text)
            if kind in ("retract", "correct") and len(clauses) > 1:
                # 哦不对 我看错了 那条是上一笔的 这一笔还是失败: "solved" taken back; the last
                # clause says how it is.
                kind, kind_confidence = self.read_reply(clauses[-1])[0]
            if kind in ("failing", "cannot") and kind_confidence >= MOVE_CONFIDENCE:
                helpful, failing = False, kind == "failing"
        # 以后公共电脑是不是尽量别用: a question of its own, no vote, unless a bare 是吗/对吗.
        answer = self._whole_yes_no(bare) if self._is_question(text, bare) else self._yes_no(bare, intent, confidence)
        target = state.get("awaiting_feedback") or {}
        if failing and target.get("kind") == "flow" and target.get("id") in self.content.flows:
            # 又不行了 after the checklist said solved: the problem is back, so the checklist is
            # walked again (its last steps lead to a person); the vote counts as not helpful.
            self._feedback(state, turn, False, say=False)
            self._start_flow(state, turn, target["id"], switching=False, opening=text)
            return True
        if helpful is not None and target:
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

    def _question_clause(self, text: str) -> str | None:
        """The last clause of a message of several that is a question (幸好还没点 那怎么判断官网是不是
        真的: the lead-in words dilute the match), normalised."""
        clauses = clauses_of(text)
        asking = [c for c in clauses if self._is_question(c, normalize(c))] if len(clauses) > 1 else []
        return normalize(asking[-1]) if asking else None

    def _faq_hits(self, turn: Turn, text: str, norm: str, *, k: int) -> list[FaqHit]:
        """The FAQ entries the message hits: read whole, or by its question clause when the
        whole suggests nothing (a short clause alone, 安全吗, would match too broadly)."""
        hits = self.faq.search(norm, brand=turn.brand_key, k=k)
        clause = self._question_clause(text)
        if clause is None or (hits and hits[0].score >= self.settings.faq.suggest_threshold):
            return hits
        asked = self.faq.search(clause, brand=turn.brand_key, k=k)
        return asked if asked and (not hits or asked[0].score > hits[0].score) else hits

    def _faq_answering(
        self, turn: Turn, text: str, norm: str, *, asked: bool = False, flow: Flow | None = None
    ) -> FaqEntry | None:
        """The FAQ entry that answers the message, read whole or by its question clause alone:
        in 对了 顺便问一下 退款一般是退到哪里 the lead-in words dilute the match.

        `asked`: the user asked it in the middle of a checklist (是不是要更新app): an entry that
        clearly leads (`dialogue.asked_faq_lead`) from the suggestion level answers it, as the
        question is surely one. Asked in `flow`, it is read in that situation: one of the
        flow's own entries (its `faq:`) among the best few answers it from a lower score
        (`dialogue.situation_faq_floor`), as 新密码有什么要求 while a password is reset is about
        the password rules even in words no entry lists."""
        clause = self._question_clause(text)
        candidates = [norm] if clause is None else [norm, clause]
        faq, dialogue = self.settings.faq, self.settings.dialogue
        situation = set(flow.faq) if asked and flow is not None else set()
        for candidate in candidates:
            hits = self.faq.search(candidate, brand=turn.brand_key, k=3 if situation else 1)
            if hits and faq.answers(hits[0]):
                return hits[0].entry
            if asked and hits and hits[0].score >= faq.suggest_threshold and hits[0].margin >= dialogue.asked_faq_lead:
                return hits[0].entry
            for hit in hits:
                if hit.entry.id in situation and hit.score >= dialogue.situation_faq_floor:
                    return hit.entry
        return None
