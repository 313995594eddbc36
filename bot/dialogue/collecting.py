"""Collecting the details a ticket needs: asking them one at a time, pre-filling what the user
already said, reading each answer for the detail asked first (bot/dialogue/details_given.py reads
the others it gives in passing), and handling what is said instead (a correction, a question,
giving up, another problem, "it is solved now").

A mixin of the Policy. The ticket opens before its details are asked (bot/dialogue/escalation.py),
so each answer is added to it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import MOVE_CONFIDENCE, SURE_KIND
from bot.dialogue.details_given import CONTACT_ENTITIES, DetailsGiven
from bot.dialogue.state import higher
from bot.dialogue.turn import PAYLOAD_HUMAN, PAYLOAD_SKIP, PUNCT, Outcome, TicketUpdate, Turn
from bot.flows.model import Detail, Flow, Step
from bot.guard import mask
from bot.nlu.entities import has_clock
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content import Content
    from bot.faq.index import FaqIndex
    from bot.faq.knowledge import FaqEntry

# A reply read as "solved" this surely, while details are asked, ends the asking.
SURE_SOLVED = 0.8
# Another, more urgent problem said while the details are asked becomes the ticket's subject when
# the NLU reads it at least this surely (a sign of someone else in the account reads as 1.0).
SURE_PROBLEM = 0.9


class Collecting(DetailsGiven):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    _another_words: set[str]
    content: Content
    faq: FaqIndex
    settings: Settings

    if TYPE_CHECKING:

        def _open_or_raise(
            self,
            state: dict[str, Any],
            turn: Turn,
            category: str,
            priority: str,
            summary: str,
            *,
            at: tuple[Flow | None, str | None],
        ) -> None: ...

        def _finish_escalation(self, state: dict[str, Any], turn: Turn) -> None: ...

        def _say_how_long(self, turn: Turn, flow: Flow | None) -> None: ...

        def _ticket_learns_problem(
            self, state: dict[str, Any], turn: Turn, flow: Flow, text: str, *, sure: bool = False
        ) -> None: ...

        def _add_to_ticket(self, turn: Turn, state: dict[str, Any], update: TicketUpdate) -> None: ...

        def _start_flow(
            self, state: dict[str, Any], turn: Turn, name: str, *, switching: bool, opening: str = ""
        ) -> None: ...

        def _says_solved(self, flow: Flow, bare: str) -> bool: ...

        def _faq_answering(
            self, turn: Turn, text: str, norm: str, *, asked: bool = False, flow: Flow | None = None
        ) -> FaqEntry | None: ...

    def _begin_collect(
        self,
        state: dict[str, Any],
        turn: Turn,
        flow: Flow | None,
        step: Step | None,
        names: list[str] | None = None,
        *,
        after_ticket: bool = False,
    ) -> None:
        """Ask the details of a leaf that escalates (or, `after_ticket`, the details a handoff's
        ticket still lacks): pre-fill what the user already said.

        Only a value that answers the detail pre-fills it: a time detail wants the moment, so a
        day alone (今天就付了一笔) leaves it to be asked, and that day is kept so that an answer
        with only a clock time (中午12点) falls on it.
        """
        pending = []
        said: dict[str, list[Any]] = {}
        for name in step.collect if step is not None else names or []:
            detail = self._detail_of(flow, name)
            given = state.get("contact")
            if detail.entity in CONTACT_ENTITIES and given and state["details"].get(name) is None:
                turn.result.protected[name] = given["value"]
                state["details"][name] = mask(given["kind"], given["value"])
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
            self._open_or_raise(
                state,
                turn,
                step.escalate.category,
                step.escalate.priority,
                turn.render(step.escalate.summary),
                at=(flow, step.id),
            )
            after_ticket = True
        state["collecting"] = {
            "flow": flow.name if flow else None,
            "step": step.id if step else None,
            "pending": pending,
            "tries": 0,
            "said": said,
            "after_ticket": after_ticket,
            "trail_from": len(state["trail"]),
        }
        if after_ticket and state["details"]:
            self._push_details(state, turn)  # what the user already said reaches the ticket now
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
        entities: dict[str, str] = state.get("entities", {})
        if entity == "contact":
            return entities.get("phone") or entities.get("email")
        return entities.get(entity) if entity else None

    def _ask_detail(self, state: dict[str, Any], turn: Turn) -> None:
        collecting = state["collecting"]
        detail = self._detail_of(self.content.flows.get(collecting["flow"] or ""), collecting["pending"][0])
        turn.add(turn.render(detail.prompt), [turn.button("skip", PAYLOAD_SKIP), turn.button("human", PAYLOAD_HUMAN)])

    def _collect_answer(
        self, state: dict[str, Any], turn: Turn, text: str | None, *, skip: bool, nlu: ParseResult | None = None
    ) -> None:
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
            elif detail.entity:
                value = self._read_detail(turn, collecting, name, detail.entity, norm)
            else:
                value = text.strip()
            if value is None:
                if self._take_volunteered(
                    state, flow, collecting, norm, asked=name, turn=turn
                ) or self._take_correction(state, turn, flow, collecting, text, norm):
                    self._push_details(state, turn)
                    return self._ask_detail(state, turn)
                if (
                    detail.entity not in CONTACT_ENTITIES
                    and collecting["tries"] >= 1
                    and self._plain_words(turn, text, norm)
                ):
                    value = text.strip()  # second attempt: keep the user's words for the agent
        if (
            value is None
            and not skip
            and collecting["tries"] >= 1
            and self._yes_no(PUNCT.sub("", norm), "", 0.0) == "no"
        ):
            skip = True  # "没有" / "不知道" after a retry: the user does not have it
        if value is None and not skip:
            collecting["tries"] += 1
            turn.say("detail_retry", [turn.button("skip", PAYLOAD_SKIP)])
            return
        answer = value if value is not None else "(跳过)"
        if value is None and name in collecting.get("said", {}):
            value = collecting["said"][name][0]  # no time of day, but the day the user named
        state["details"][name] = value
        state["trail"].append(
            {
                "flow": collecting["flow"],
                "step": f"collect:{name}",
                "say": turn.render(detail.prompt),
                "answer": answer,
                "at": turn.now.isoformat(timespec="seconds"),
            }
        )
        collecting["pending"].pop(0)
        collecting["tries"] = 0
        # One answer often carries several details (昨天下午三点充的100元，用的银行卡).
        if text is not None:
            self._take_volunteered(state, flow, collecting, norm, asked=name, turn=turn)
        if collecting["pending"]:
            self._push_details(state, turn)
            return self._ask_detail(state, turn)
        self._finish_escalation(state, turn)

    def _push_details(self, state: dict[str, Any], turn: Turn) -> None:
        """Each detail reaches the ticket as soon as it is given: nothing waits for the last one."""
        if state.get("ticket"):
            details = {k: v for k, v in state["details"].items() if v is not None} | turn.result.protected
            self._add_to_ticket(turn, state, TicketUpdate(details=details))

    def _collect_aside(self, state: dict[str, Any], turn: Turn, text: str, nlu: ParseResult | None) -> bool:
        """While a detail is asked, a message may be something else: another matter (into the
        ticket), a status question, giving up, thanks, frustration, a question. Handled here
        (True), the detail is asked again or the asking stops; False: read it as the answer."""
        norm = normalize(text)
        intent, intent_confidence = (nlu["intent"], nlu["confidence"]) if nlu else ("out_of_scope", 0.0)
        new_flow = self.content.flows.get(intent) if intent_confidence >= self.settings.nlu.intent_threshold else None
        if new_flow is not None and (new_flow.name == state["collecting"].get("flow") or not state.get("ticket")):
            new_flow = None  # the same problem, or no ticket to add another one to
        kind, confidence = self.read_reply(text)[0]
        if kind == "correct" and confidence >= MOVE_CONFIDENCE:
            return False  # 金额写错了，应该是250: a correction, read by _collect_answer
        contact = self._contact_in(turn, text)
        found = self.extractor.extract(norm, now=turn.local_now)
        more_urgent = new_flow is not None and higher(new_flow.priority, state.get("urgency")) != state.get("urgency")
        if new_flow is not None and not contact and not more_urgent and self._asks_how(norm):
            # 另外我的登录密码也忘了 这个怎么找回: a problem of its own the user wants to fix now;
            # its checklist starts, and the ticket hears of it (_start_flow).
            self._start_flow(state, turn, new_flow.name, switching=True, opening=text)
            return True
        if (
            new_flow is not None
            and not contact
            and not more_urgent
            and self._is_question(text, norm)
            and (entry := self._faq_answering(turn, text, norm, asked=True, flow=new_flow)) is not None
        ):
            # 申请退款的按钮在哪 while the payment's details are asked: a question, answered; the
            # detail is asked again.
            turn.add(turn.render(entry.answer))
            turn.say("collect_continue")
            self._ask_detail(state, turn)
            return True
        if (
            new_flow is not None
            and not contact
            and (not found or more_urgent or any(w in norm for w in self._another_words))
        ):
            # 另外…又发现一笔200的扣款不是我操作的: another matter, into the ticket in the user's
            # words; its amount or time belongs to it, not to the detail asked about the first
            # problem. Without such a word, details in it answer what is asked (昨天三点充的100元).
            sure = intent_confidence >= SURE_PROBLEM  # the NLU, or a sign of someone else in the account
            self._ticket_learns_problem(state, turn, new_flow, text, sure=sure)
            turn.say("collect_continue")
            self._ask_detail(state, turn)
            return True
        vague = all(e["entity"] == "time" and not has_clock(e["value"]) for e in found)  # 刚刚: no detail
        asked_flow = self.content.flows.get(state["collecting"].get("flow") or "")
        if (
            kind == "solved"
            and confidence >= SURE_SOLVED
            # A checklist that names its goal (能登录了) is solved only in those words: 好了 来了
            # while a password is reset says the code came, not that the user is back in.
            and (asked_flow is None or not asked_flow.solved_by or self._says_solved(asked_flow, PUNCT.sub("", norm)))
            and not self._only_done(PUNCT.sub("", norm))  # 提交了 截图也传上去了: done, not solved
            and vague
            and not contact
            and not self._is_question(text, norm)
        ):
            # 新密码设好了 已经能登了: solved while the ticket's details were asked; the ticket says so.
            collecting, state["collecting"] = state["collecting"], None
            state.update(flow=None, step=None, resolved=True)
            turn.result.outcome = Outcome.SMALL_TALK
            texts = self.content.responses.texts
            if state.get("ticket"):
                words = turn.render(texts.get("summary_solved", ""))
                solved = turn.render(texts.get("summary_added", "{words}"), words=words)
                self._add_to_ticket(turn, state, TicketUpdate(problem=solved))
                turn.say("solved_after_ticket", ticket=state["ticket"])
            else:
                turn.say("solved_while_collecting")
            return True
        collecting = state["collecting"]
        detail = self._detail_of(asked_flow, collecting["pending"][0]) if collecting["pending"] else None
        if (
            state.get("ticket")
            and detail is not None
            and kind in ("failing", "cause")
            and confidence >= MOVE_CONFIDENCE
            and not contact
            and all(e["entity"] != detail.entity for e in found)
            and not self._is_question(text, norm)
        ):
            # 银行卡那边扣了 钱包里还是没到 while the time is asked: news of the problem for the
            # agent, not the detail asked; the ticket keeps it in the user's words, with any other
            # detail it gives (银行卡: the method).
            trail = [turn.said_after_ticket(text)]
            self._take_volunteered(state, asked_flow, collecting, norm, asked=detail.name, turn=turn)
            self._push_details(state, turn)
            self._add_to_ticket(turn, state, TicketUpdate(trail=trail))
            turn.say("ticket_noted", ticket=state["ticket"])
            self._ask_detail(state, turn)
            return True
        # 算了 不退了 才三十块钱 懒得折腾: surely giving up, though an amount is in it.
        sure_give_up = kind == "give_up" and confidence >= SURE_KIND and not contact
        # 66.5 when the amount is asked: the detail, read bare, whatever the classifier makes of it.
        bare_answer = (
            detail is not None
            and detail.entity not in (None, *CONTACT_ENTITIES)
            and self.extractor.extract_one(detail.entity, norm, now=turn.local_now) is not None
        )
        if (found or contact or bare_answer) and not sure_give_up:
            return False
        if kind == "give_up" and confidence >= MOVE_CONFIDENCE:
            collecting, state["collecting"] = state["collecting"], None
            turn.result.outcome = Outcome.SMALL_TALK
            state.update(flow=None, step=None, left_flow=collecting.get("flow"))
            if collecting.get("after_ticket"):
                turn.say("details_stopped", ticket=state.get("ticket") or "")
            else:
                turn.say("give_up", [turn.button("human", PAYLOAD_HUMAN)])
            return True
        if intent in ("thanks", "goodbye") and intent_confidence >= self.settings.nlu.intent_threshold:
            # 好的谢谢 while a detail is asked: the user is done; the ticket keeps what it has.
            collecting, state["collecting"] = state["collecting"], None
            state.update(flow=None, step=None)
            turn.result.outcome = Outcome.SMALL_TALK
            if collecting.get("after_ticket") and state.get("ticket"):
                turn.say("details_stopped", ticket=state["ticket"])
            else:
                turn.say(intent)
            return True
        if kind == "how_long" and confidence >= MOVE_CONFIDENCE:
            # 退款一般要几天: what the guides say of the problem asked about, or of the ticket's
            asked = self.content.flows.get(intent) if intent_confidence >= self.settings.nlu.intent_threshold else None
            self._say_how_long(turn, asked or self.content.flows.get(state["collecting"].get("flow") or ""))
        elif kind in ("frustration", "complaint") and confidence >= MOVE_CONFIDENCE:
            state["complaint"] = state.get("complaint") or kind == "complaint"
            turn.say(kind)
        else:
            entry = self._faq_answering(
                turn,
                text,
                norm,
                asked=self._is_question(text, norm),
                flow=self.content.flows.get(state["collecting"].get("flow") or ""),
            )
            if (
                entry is None
                and intent_confidence >= self.settings.nlu.intent_threshold
                and intent not in self.content.flows
            ):
                mapped = self.content.faq_for_intent(intent)
                entry = mapped if mapped and mapped.serves(turn.brand_key) else None
            if entry is None:
                if not self._is_question(text, norm):
                    return False
                if any(w in norm for w in self._another_words):
                    turn.say("question_unknown")  # 顺便问一下…: not about the detail asked
                else:
                    # 订单号在哪看: a question about the detail itself; its prompt says where to look.
                    turn.say("collect_question")
                    self._ask_detail(state, turn)
                    return True
            else:
                turn.add(turn.render(entry.answer))
        turn.say("collect_continue")
        self._ask_detail(state, turn)
        return True
