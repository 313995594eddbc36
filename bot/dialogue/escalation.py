"""Escalation: opening the conversation's ticket at the urgency it called for, and adding to it
whatever the user says later (another problem, a detail, a question about its progress). The
ticket opens first, so nothing is lost when the user leaves while its details are asked.

A mixin of the Policy, built on collecting the details (bot/dialogue/collecting.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOODS, SURE_KIND
from bot.dialogue.collecting import Collecting
from bot.dialogue.details_given import CONTACT_ENTITIES
from bot.dialogue.routing import SMALL_TALK
from bot.dialogue.state import PRIORITIES, higher
from bot.dialogue.turn import PUNCT, Outcome, TicketRequest, TicketUpdate, Turn
from bot.dialogue.understanding import HANDOFF_OVER_MOOD, clauses_of
from bot.flows.model import Flow
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult

if TYPE_CHECKING:
    from bot.faq.index import IntentRanker

# The ticket detail an entity fills when the user adds it after the ticket was opened.
_DETAIL_OF_ENTITY = {"phone": "contact", "email": "contact"}

# A clause that names a person of ours (真人, 客服) and reads as a request for one at least this
# surely asks for one, when it is no outburst.
NAMED_REQUEST = 0.6
# A clause of at most this many characters that holds a no word (哦不用了) is a no.
SHORT_NO = 4


class Escalation(Collecting):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    _progress_words: set[str]
    rank_intents: IntentRanker | None
    _person_words: set[str]
    _summoned_words: set[str]
    _reach_me_words: set[str]

    def _clause_readings(self, text: str) -> list[tuple[str, str, float]]:
        """(clause, its best intent, that intent's probability) for each clause of a message of
        two clauses or more; none for one clause (the whole message's reading is that one's).
        The classifier remembers its rankings, so reading a message twice costs nothing more."""
        if self.rank_intents is None:
            return []
        clauses = clauses_of(text)
        if len(clauses) < 2:
            return []
        return [(c, *self.rank_intents(normalize(c))[0]) for c in clauses]

    def _problems_said(self, text: str | None) -> list[Flow]:
        """The checklists that clauses of the message report on their own, most urgent first:
        in 钱包被盗了 人工客服 the request for a person hides the theft from the whole message's
        intent, but not from its first clause's."""
        flows: list[Flow] = []
        for _, intent, confidence in self._clause_readings(text or ""):
            flow = self.content.flows.get(intent)
            if flow is not None and confidence >= self.settings.nlu.intent_threshold and flow not in flows:
                flows.append(flow)
        return sorted(flows, key=lambda f: -PRIORITIES.index(f.priority) if f.priority in PRIORITIES else 0)

    def _surest_clause_flow(self, text: str, nlu: ParseResult | None) -> Flow | None:
        """When the whole message hesitates between checklists (K豆充不进钱 一直转圈然后说失败),
        the one a clause names surely, if the whole message ranks it among its first three."""
        readings = [r for r in (self._clause_readings(text) if nlu is not None else []) if r[1] in self.content.flows]
        if not readings:
            return None
        _, intent, confidence = max(readings, key=lambda r: r[2])
        top = [r["intent"] for r in nlu["ranking"][:3]] if nlu else []
        sure = confidence >= self.settings.dialogue.sure_clause
        return self.content.flows.get(intent) if sure and intent in top else None

    def _person_asked_beside(self, text: str, nlu: ParseResult | None) -> bool:
        """A clause of the message surely asks for a person (Upay账户被冻结了 赶紧给我转人工),
        while the whole message reads as the problem. Clauses are read only when the whole
        message gives a person some share (`dialogue.person_hint_share`) or names one
        (`answers.person`)."""
        share = next((r["confidence"] for r in (nlu["ranking"] if nlu else []) if r["intent"] == "human_handoff"), 0.0)
        hint = self.settings.dialogue.person_hint_share
        if share < hint and not any(word in normalize(text) for word in self._person_words):
            return False
        if self._declines_person(text) or self._person_taken_back(text):
            return False
        if self._summons is not None and self._summons.search(normalize(text)):
            return True  # 能不能马上让人工帮我把账户冻住: a person asked to act
        for clause, intent, confidence in self._clause_readings(text):
            if intent != "human_handoff" or confidence < NAMED_REQUEST:
                continue
            kind = self.read_reply(clause)[0][0]
            complaint = kind == "complaint"
            if self._outburst(clause, confidence if complaint else 0.0) or self._is_question(clause, normalize(clause)):
                continue  # 垃圾客服 is a mood; 转人工有用吗 a doubt, not a request
            # 我要投诉 asks for a person (a complaint is heard by one); 我让孙子帮我找找, named no
            # person of ours nor asking to be contacted, and read unsurely, asks someone else.
            said = normalize(clause)
            ours = any(w in said for w in (*self._person_words, *self._reach_me_words))
            # Someone summoned by a word of two characters or more (领导, 主管): 人 alone is in
            # 转给一个叫李某的人 too.
            someone = ours or any(len(w) > 1 and w in said for w in self._summoned_words)
            if (complaint or someone) and confidence >= HANDOFF_OVER_MOOD or confidence >= SURE_KIND:
                return True
            if ours and confidence >= NAMED_REQUEST and kind not in MOODS:
                return True  # 你帮我转个真人看看我的账户有没有问题吧: one of ours named, and asked for
        return False

    def _person_taken_back(self, text: str) -> bool:
        """本来想叫人工的 哦不用了 / 刚想让你帮我转人工 算了: a clause that names a person, then a
        short no or giving up (not 转人工 不要机器人, which says what is not wanted)."""
        clauses = [PUNCT.sub("", normalize(c)) for c in clauses_of(text)]
        for asked, after in zip(clauses, clauses[1:], strict=False):
            if not any(w in asked for w in self._person_words) or len(after) > SHORT_NO:
                continue
            kind, sure = self.read_reply(after)[0]
            if self._says_no(after) or (kind == "give_up" and sure >= SURE_KIND):
                return True
        return False

    def _handoff(self, state: dict[str, Any], turn: Turn, text: str | None = None) -> None:
        """转人工: open the ticket now, with the problem and its urgency, then ask what it lacks.

        `text` is the message that asked, when typed: a problem it also reports (充值失败了 转人工)
        is the ticket's, unless the conversation's own problem is as urgent."""
        said = self._problems_said(text)
        if state.get("ticket"):
            if said and higher(said[0].priority, state.get("urgency")) != state.get("urgency"):
                return self._ticket_learns_problem(state, turn, said[0], text or "")
            norm = normalize(text or "")
            if text and self._is_question(text, norm) and (entry := self._faq_answering(turn, text, norm, asked=True)):
                # 你们人工客服几点下班 with a ticket open: a question about the people, answered.
                turn.result.outcome = Outcome.ANSWERED
                turn.add(turn.render(entry.answer))
                return turn.say("ticket_exists", ticket=state["ticket"])
            turn.result.outcome = Outcome.ESCALATED
            turn.say("ticket_exists", ticket=state["ticket"])
            if state.get("collecting"):
                # 能找人处理吗 while the ticket's details are asked: the question still waits.
                turn.say("collect_continue")
                self._ask_detail(state, turn)
            return None
        collecting = state.get("collecting") or {}
        name = (
            state.get("flow")
            or collecting.get("flow")
            or (state.get("paused") or {}).get("flow")
            or state.get("left_flow")
            or state.get("intent")
            or ""
        )
        flow = self.content.flows.get(name)
        missed = state.get("misses", 0) >= self.settings.dialogue.misses_before_human
        step_id = state.get("step") or collecting.get("step") or (state.get("paused") or {}).get("step")
        if said and (flow is None or higher(said[0].priority, flow.priority) != flow.priority):
            flow, step_id = said[0], None
            state["intent"] = flow.name
            self._note_problem(state, text)
        if text and self._has_mood(text):
            turn.say("mood_ack")  # 烦不烦 直接叫人工出来: the mood is heard before the handoff
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
        self._create_ticket(
            state,
            turn,
            category,
            "normal",
            summary,
            at=(flow, step_id if flow else None),
            reason="misunderstood" if missed else "handoff",
        )
        names = [n for n in (flow.details if flow else {})]
        if not any(self._detail_of(flow, n).entity in CONTACT_ENTITIES for n in names):
            names.append("contact")
        self._begin_collect(state, turn, flow, None, names, after_ticket=True)

    def _create_ticket(
        self,
        state: dict[str, Any],
        turn: Turn,
        category: str,
        priority: str,
        summary: str,
        *,
        at: tuple[Flow | None, str | None],
        reason: str = "flow",
    ) -> None:
        """Open the conversation's ticket at the highest urgency the conversation called for.

        `at` is the checklist and step it escalates from (for the insights' funnel); `reason`
        is why: "flow" (a checklist's escalate leaf), "handoff" (转人工 asked) or "misunderstood"
        (转人工 after the bot failed to understand repeatedly). A flow escalation at urgent
        priority is reported as "urgent", anything with a scam as "fraud".
        """
        priority = higher(priority, state.get("urgency")) or "normal"
        if state.get("fraud_risk"):
            category = "fraud_risk"
            priority = higher(priority, "high") or "high"
        details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
        if (given := state.get("contact")) and not any(k in details for k in CONTACT_ENTITIES):
            details["contact"] = given["value"]  # said before the ticket (我手机号138…)
        words = "；".join(state.get("problems") or [])
        if words:
            summary = f"{summary}\n{turn.render(self.content.responses.texts.get('summary_user_words', '{words}'), words=words)}"
        info = turn.open_ticket(TicketRequest(category, priority, summary, details, list(state["trail"])))
        if info.created:
            if state.get("fraud_risk"):
                reason = "fraud"
            elif reason == "flow" and priority == "urgent":
                reason = "urgent"
            flow, step_id = at
            turn.result.report.update(
                escalation=reason, escalated_flow=flow.name if flow else None, escalated_step=step_id
            )
        # The flow stays the conversation's topic while the ticket's details are asked.
        state.update(ticket=info.number, escalated=True, paused=None, priority=info.priority)
        turn.result.outcome = Outcome.ESCALATED
        if not info.created:
            return turn.say("ticket_exists", ticket=info.number)
        turn.say(
            "ticket_created_urgent" if info.priority in ("high", "urgent") else "ticket_created", ticket=info.number
        )

    def _open_or_raise(
        self,
        state: dict[str, Any],
        turn: Turn,
        category: str,
        priority: str,
        summary: str,
        *,
        at: tuple[Flow | None, str | None],
    ) -> None:
        """Open the ticket; when there is one already, add this escalation to it."""
        if not state.get("ticket"):
            return self._create_ticket(state, turn, category, priority, summary, at=at)
        problem = turn.render(self.content.responses.texts.get("summary_added", "{words}"), words=summary)
        self._add_to_ticket(turn, state, TicketUpdate(priority=higher(priority, state.get("urgency")), problem=problem))
        state["paused"] = None
        turn.result.outcome = Outcome.ESCALATED
        turn.say("ticket_updated", ticket=state["ticket"])

    def _finish_escalation(self, state: dict[str, Any], turn: Turn) -> None:
        collecting = state["collecting"]
        state.update(collecting=None, flow=None, step=None)
        if collecting.get("after_ticket") or state.get("ticket"):
            details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
            self._add_to_ticket(
                turn, state, TicketUpdate(details=details, trail=state["trail"][collecting.get("trail_from", 0) :])
            )
            turn.result.outcome = Outcome.ESCALATED
            return turn.say("details_added", ticket=state.get("ticket") or "")
        flow = self.content.flows[collecting["flow"]]
        escalation = flow.steps[collecting["step"]].escalate
        assert escalation is not None  # details are collected only at a step that escalates
        self._create_ticket(
            state,
            turn,
            escalation.category,
            escalation.priority,
            turn.render(escalation.summary),
            at=(flow, collecting["step"]),
        )

    def _ticket_learns_problem(
        self, state: dict[str, Any], turn: Turn, flow: Flow, text: str, *, sure: bool = False
    ) -> None:
        """Another problem while the ticket's details are asked: into the ticket, at its urgency.
        A more urgent one told `sure`ly (绑定的手机号被人改了 while a password reset is filed)
        becomes what the ticket is about, and its checklist's summary (`brief:`: change the
        password now…) is said at once, since its checklist cannot be walked while the details
        are asked."""
        more_urgent = sure and higher(flow.priority, state.get("urgency")) != state.get("urgency")
        state["urgency"] = higher(state.get("urgency"), flow.priority)
        self._note_problem(state, text)
        self._add_to_ticket(
            turn,
            state,
            TicketUpdate(
                priority=state["urgency"],
                category=flow.name if more_urgent else None,
                problem=self._problem_line(turn, flow, text),
            ),
        )
        turn.say("ticket_updated", ticket=state["ticket"])
        brief = self.faq.by_id.get(flow.brief or "")
        if more_urgent and brief is not None and brief.serves(turn.brand_key):
            if state.get("collecting"):
                state.update(flow=flow.name, step=None)  # what the conversation is about now
            turn.add(turn.render(brief.answer))

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
        kind, sure = self.read_reply(text)[0]
        if (
            not entities
            and kind in MOODS
            and sure >= SURE_KIND
            # 什么垃圾平台 asks nothing; 投诉有用吗 does
            and not (kind == "complaint" and self._is_question(text, norm))
        ):
            # 你们效率也太低了吧 after the handoff: heard and answered, not filed as news.
            state["complaint"] = state.get("complaint") or kind == "complaint"
            turn.result.outcome = Outcome.ANSWERED
            turn.say("mood_ack")
            turn.say("ticket_exists", ticket=state["ticket"])
            return True
        if not entities:
            if confident and (intent in SMALL_TALK or intent in ("affirm", "deny")):
                return False
            hits = self.faq.search(norm, brand=turn.brand_key, k=1)
            if (confident and intent != "out_of_scope") or (hits and self.settings.faq.answers(hits[0])):
                return False
        details = {_DETAIL_OF_ENTITY.get(k, k): v for k, v in entities.items()}
        trail = [turn.said_after_ticket(text)]
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

    def _problem_line(self, turn: Turn, flow: Flow | None, words: str) -> str:
        """The line a problem raised after the ticket adds to its summary: 另：充值失败排查：<the user's words>."""
        texts = self.content.responses.texts
        said = (
            turn.render(texts.get("summary_problem", "{words}"), title=turn.render(flow.title), words=words.strip())
            if flow
            else words.strip()
        )
        return turn.render(texts.get("summary_added", "{words}"), words=said)

    def _add_to_ticket(self, turn: Turn, state: dict[str, Any], update: TicketUpdate) -> None:
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
