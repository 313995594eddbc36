"""A typed reply while a checklist step waits for its answer: read against the step first
(bot/dialogue/answers.py); only a reply that is clearly something else leaves the step: another
problem, a correction, small talk, a mood, a move (giving up, going back, how long) or an FAQ
question.

A mixin of the Policy, built on reading a reply at a step (bot/dialogue/step_reading.py). Over
400 lines on purpose: the readings of a reply at a step are tried in an order that matters (an
outburst, a correction, another matter, a cause with an ending, another problem, a question, an
option, a move), and that order is read best in one file.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from bot.dialogue.answers import (
    MOODS,
    MOVE_CONFIDENCE,
    MOVES,
    NOT_ANSWERS,
    SURE_KIND,
    Reading,
)
from bot.dialogue.routing import SMALL_TALK
from bot.dialogue.state import higher
from bot.dialogue.step_reading import StepReading
from bot.dialogue.turn import PAYLOAD_HUMAN, PUNCT, Outcome, Turn
from bot.dialogue.understanding import SURE_ANSWER
from bot.flows.model import ANSWER_KINDS, Flow, Step
from bot.nlu.normalize import normalize
from bot.nlu.pipeline import ParseResult

if TYPE_CHECKING:
    from bot.faq.index import FaqIndex, IntentRanker
    from bot.faq.knowledge import FaqEntry

# A failure or cause at a step belongs to another problem when the NLU gives that problem this
# much and the current one less than CURRENT_PROBLEM_SHARE.
OTHER_PROBLEM_CONFIDENCE = 0.9
CURRENT_PROBLEM_SHARE = 0.05
# A cause that is a more urgent problem (一笔付款不是我付的 in the balance checklist) needs less:
# missing it leaves a theft in a normal checklist.
URGENT_CAUSE_CONFIDENCE = 0.6
# At a step, small talk with this much frustration or complaint in it is taken as a mood.
MOOD_SHARE = 0.2
# A correction (说错了，是…) switches to another problem the NLU ranks at least this high.
CORRECTION_CONFIDENCE = 0.2
# A reply read partly as a correction or as taking back (哦不是 没冻结 我看错了 是登录密码忘了:
# at least this share of the reply kinds) corrects the problem when another one is named at
# least CORRECTED_PROBLEM_CONFIDENCE without its negated part.
CORRECTION_SHARE = 0.3
CORRECTED_PROBLEM_CONFIDENCE = 0.5


class StepReplies(StepReading):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    _faq_intents: frozenset[str]
    rank_intents: IntentRanker | None
    _negated: re.Pattern[str] | None
    _correction_leads: tuple[str, ...]
    _hypothesis_words: set[str]
    _conditional_words: set[str]
    _function_chars: frozenset[str]
    _another_words: set[str]
    _ask_lead_words: tuple[str, ...]
    _all_at_once_words: set[str]
    faq: FaqIndex

    if TYPE_CHECKING:

        def _answer_faq(self, state: dict[str, Any], turn: Turn, entry_id: str) -> None: ...

        def _compromise(self, text: str) -> str | None: ...

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
        state["paused"] = None  # an answer to the step: nothing to go back to any more
        if not bare:
            return self._not_understood(state, turn, flow, step)
        rest = self._without_outburst(text)
        if rest is not None:
            # 有病吧，说了网络没问题: the outburst is acknowledged, the rest answers the step.
            turn.say("mood_ack")
            text, norm = rest, normalize(rest)
            bare = PUNCT.sub("", norm)
        brief = self.faq.by_id.get(flow.brief or "")
        if brief is not None and brief.serves(turn.brand_key) and any(w in bare for w in self._all_at_once_words):
            # 别一步步问了 你直接告诉我要怎么弄: the whole checklist in one answer, and the step
            # still waits for whoever wants to go on.
            return self._answer_at_step(state, turn, flow, step, brief)
        if (
            self._opens_with(norm, (*self._another_words, *self._ask_lead_words))
            and (self._is_question(text, norm) or self._asks_how(norm))
            and (entry := self._faq_answering(turn, text, norm, asked=True, flow=flow)) is not None
        ):
            # 对了插一句 双重验证在哪开 我想顺手开了 / 问一下 退款是退回银行卡还是钱包余额: an aside
            # or a question that says it is one, not an answer (开了 in it is no "it works now");
            # answered, and the step still waits.
            return self._answer_at_step(state, turn, flow, step, entry)
        reading = self.read_step_reply(step, text, flow)
        if (
            confident
            and intent in self.content.flows
            and intent != flow.name
            and self._opens_with(norm, self._another_words)
            and not (reading.kind in ANSWER_KINDS and reading.confidence >= SURE_ANSWER)
        ):
            # 哦对了 上个月还买过一个网课…想先把那笔钱退回来: another matter, said to be one, and
            # surely no answer to this step.
            return self._start_flow(state, turn, intent, switching=True, opening=text)
        worked = reading.option is not None and self._ends_it(flow, reading.option, turn.brand_key)
        names_it = reading.named and not worked
        if intent != flow.name and not names_it and self._compromise(text) == intent:
            # 我翻记录的时候看到一笔1500的消费 我根本没买过 in the payment checklist: someone else is
            # in the account, whatever this step asked (a step that asks about such transactions
            # names them in its options; "it worked" does not: 有一笔提现成功了 但是提到一张我不认识
            # 的卡上).
            return self._start_flow(state, turn, intent, switching=True, opening=text)
        if (meant := self._problem_meant(flow, norm, reading, nlu)) is not None:
            # 说错了，是提现不是充值 / 哦不是 没冻结 我看错了 是登录密码忘了: the problem the user meant.
            return self._start_flow(state, turn, meant, switching=True, opening=text)
        yes = reading.option if reading.option is not None and reading.option.means == "yes" else None
        after_yes = flow.steps.get(yes.next_for(turn.brand_key)) if yes is not None else None
        if after_yes is not None and after_yes.resolved is not None and self._only_done(bare):
            # 重启好了 / 我切成流量了 at "…再试一次，成功了吗？": the instruction done, not how it went.
            turn.result.outcome = Outcome.FLOW
            return self._step_buttons(turn, step, "done_ask")
        if reading.kind in ("solved", "fine") and self._says_solved(flow, bare) and not self._is_question(text, norm):
            # 新密码能登了 at "找到忘记密码了吗？": the whole problem, not only this step, is solved.
            leaf = self._solved_leaf(flow, turn.brand_key)
            if leaf is not None:
                self._trail(turn, state, flow, step, "", answer=text.strip())
                return self._enter(state, turn, flow, leaf.id)
        if reading.kind in ("cause", "fine", "solved") and (outcome := self._outcome_clause(text)) is not None:
            # 原来是渠道在维护 刚才又充了一次 到账了 / 钱也够 我把app关了重新打开 诶这下付成功了:
            # the cause or the checks (or a reply between the two), then how it ended; the
            # ending answers after a cause, and after checks where it picks the option that
            # solves the problem (没有处理中的 退款那笔早就到账了 at "有没有处理中的交易？" tells of
            # another transaction).
            ending = self.read_step_reply(step, outcome, flow)
            solves = ending.option is not None and self._ends_it(flow, ending.option, turn.brand_key)
            # 余额也有 我上礼拜刚给她转了一千进去 / 有效期是26年 我填成25了: a fact about the checks
            # or the cause itself, with no outcome word, is no ending.
            told = self._tells_outcome(normalize(outcome))
            if told and (solves or (reading.kind in ("cause", "solved") and not reading.named)):
                reading = ending
        if reading.kind == "give_up" and reading.move != "give_up" and self._opens_giving_up(text):
            # 不整了 我用现金付了: given up first, whatever the rest sounds like (付了 is no success here).
            reading = dataclasses.replace(reading, option=None, leaning=None, move="give_up")
        if reading.kind == "title" and reading.option is not None:
            return self._choose(state, turn, flow, step, reading.option, text)
        ranking = list(reading.ranking)
        if (
            confident
            and intent in self.content.flows
            and intent != flow.name
            and not reading.named
            and not self._asked_beside(flow, intent, text, norm)
            and not self._turns_back_to(flow, text)
        ):
            # Another problem leaves the step only when the reply is more likely no answer to it
            # (算了，我提现三天没到账) than an answer (余额是够的 in the top-up checklist).
            share = dict(ranking)
            # Giving up (不弄了 我直接付现金了) leaves for another problem only when it is said surely.
            sure_enough = reading.kind != "give_up" or (
                nlu is not None and nlu["confidence"] >= OTHER_PROBLEM_CONFIDENCE
            )
            if sure_enough and sum(share.get(k, 0.0) for k in NOT_ANSWERS) > sum(
                share.get(k, 0.0) for k in ANSWER_KINDS
            ):
                return self._start_flow(state, turn, intent, switching=True, opening=text)
            # "Still fails" about another problem altogether (我提现三天还没到账 in the top-up
            # checklist). Not a "cause": 限额不可能超 in the payment checklist reads as one.
            # A cause that is itself a more urgent problem (账户好像被冻结了 in the top-up
            # checklist) gets its own checklist too.
            other = self.content.flows[intent]
            more_urgent = other.priority is not None and higher(other.priority, flow.priority) != flow.priority
            urgent_cause = reading.kind == "cause" and more_urgent
            if (
                (reading.kind == "failing" or urgent_cause)
                and nlu is not None
                and nlu["confidence"] >= (URGENT_CAUSE_CONFIDENCE if urgent_cause else OTHER_PROBLEM_CONFIDENCE)
            ):
                current = next((r["confidence"] for r in nlu["ranking"] if r["intent"] == flow.name), 0.0)
                if current < CURRENT_PROBLEM_SHARE:
                    return self._start_flow(state, turn, intent, switching=True, opening=text)
        # Surely an answer, of whichever kind (重启过手机了 一样: half "cause", a third "failing"),
        # or one kind surely even in a question's words.
        answer_share = sum(share for kind, share in ranking if kind in ("solved", "fine", "failing", "cause"))
        sure_answer = (
            reading.kind in ("solved", "fine", "failing", "cause") and reading.confidence >= SURE_ANSWER
        ) or (answer_share >= SURE_ANSWER and not self._is_question(text, norm))
        mood_or_move = reading.kind in MOVES and reading.confidence >= MOVE_CONFIDENCE  # 垃圾客服 能不能快点
        if confident and intent in self._faq_intents and not sure_answer and not mood_or_move:
            # 双重验证在哪开 / 公共wifi付钱安全吗: a question of its own, answered from the FAQ;
            # the step stays resumable.
            return self._digress(state, turn, flow, step, norm, intent, confident)
        # A mood or giving up only leads up to a question the reply ends with, unless surely one
        # (工作太忙不想练了…这种情况能退吗, 我自己不想要了…这样能退吗): the question is what the
        # user came to ask.
        leads_to_question = (
            reading.kind in (*MOODS, "give_up") and reading.confidence < SURE_KIND and self._ends_asking(text)
        )
        mood = reading.kind in MOODS and reading.confidence >= MOVE_CONFIDENCE and not leads_to_question  # 搞什么啊
        hypothesis = any(word in norm for word in self._hypothesis_words)  # 会不会是限额的问题
        # 按钮我点了 订单号也填进去了 那提交完以后一般几天能退到我卡里啊: what was done, then a
        # question; unless the report is sure, the question is what is asked.
        asked_after = reading.confidence < SURE_ANSWER and self._ends_asking(text)
        if (
            (reading.kind not in ("solved", "fine", "failing") or hypothesis or asked_after)
            and not mood
            and (self._is_question(text, norm) or self._asks_how(norm))
        ):
            # 交易记录在哪看 / 是不是要更新app: how to do the check or what might cause it, not a
            # report; the FAQ's best entry answers it when it scores as a direct answer would (a
            # lead is not needed: the step says what is being looked for).
            if (entry := self._faq_answering(turn, text, norm, asked=True)) is not None:
                return self._answer_at_step(state, turn, flow, step, entry)
            if reading.kind in ("cannot", "other", "cause") and self._step_speaks_of(turn, flow, step, norm):
                # 余额在哪里看 at "请进入个人钱包页面，确认余额…": the step's own words answer it.
                turn.result.outcome = Outcome.FLOW
                return self._enter(state, turn, flow, step.id)
            if (leads_to_question or not (reading.kind in MOVES and reading.confidence >= MOVE_CONFIDENCE)) and (
                entry := self._faq_answering(turn, text, norm, asked=True, flow=flow)
            ):
                # 新密码有什么要求: no entry leads, but one about this checklist's situation is near
                # (not for 要审核多长时间啊: how long, which the guides answer as such).
                return self._answer_at_step(state, turn, flow, step, entry)
            if reading.move == "other" and reading.leaning is None and not (confident and intent in SMALL_TALK):
                # 那怎么解除啊 with no answer anywhere: said plainly, and the step still waits.
                turn.result.outcome = Outcome.FLOW
                turn.say("question_unknown")
                return self._step_buttons(turn, step, "step_continue")
        option = reading.option or reading.leaning
        if option is not None:
            return self._choose(state, turn, flow, step, option, text)
        if reading.move == "other" and confident and intent == flow.name:
            if self._is_question(text, norm):
                # 被刷的钱能全额赔吗: answered from the FAQ if it can be, else said to be unknown.
                if (entry := self._faq_answering(turn, text, norm, asked=True, flow=flow)) is not None:
                    return self._answer_at_step(state, turn, flow, step, entry)
                turn.say("question_unknown")
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
        self._trail(turn, state, flow, step, "", answer=text.strip())
        state["trail"][-1].update(move=reading.move)
        self._step_move(state, turn, flow, step, reading, norm, intent, confident)

    def _problem_meant(self, flow: Flow, norm: str, reading: Reading, nlu: ParseResult | None) -> str | None:
        """The other checklist a correction names. Read as a correction, any other problem the
        NLU hears (from CORRECTION_CONFIDENCE) is the one meant; a reply only partly read as one
        (a correction or taking back: `CORRECTION_SHARE`) or opening with words that announce one
        (`answers.correction_leads`), with an option of the step beside it, must name it surely (`CORRECTED_PROBLEM_CONFIDENCE`). The negated part (不是充值) names
        the problem the user did not mean: the reply is read without it."""
        share = dict(reading.ranking)
        corrects = reading.move == "correct"
        # 哦不对 我看错了 … / 啊不是 没被冻 我看岔了 …: opening with a correction word, or holding
        # one of three characters or more anywhere (不对 alone may be a balance that is off).
        announced = self._opens_with(norm, self._correction_leads) or any(
            len(w) >= 3 and w in norm for w in self._correction_leads
        )
        partly = share.get("correct", 0.0) + share.get("retract", 0.0) >= CORRECTION_SHARE
        if not corrects and (reading.named or not (announced or partly)):
            return None  # 是payment 就是付款 at "哪种交易失败了？" names an option: an answer
        affirmed = self._negated.sub(" ", norm) if self._negated is not None else norm
        for word in self._correction_leads:
            affirmed = affirmed.replace(word, " ")
        heard: list[tuple[str, float]] = (
            self.rank_intents(affirmed)
            if affirmed != norm and self.rank_intents is not None
            else [(r["intent"], r["confidence"]) for r in (nlu["ranking"] if nlu else [])]
        )
        if not corrects:
            heard = heard[:1]
        floor = CORRECTION_CONFIDENCE if corrects else CORRECTED_PROBLEM_CONFIDENCE
        return next(
            (name for name, sure in heard if name in self.content.flows and name != flow.name and sure >= floor),
            None,
        )

    def _asked_beside(self, flow: Flow, intent: str, text: str, norm: str) -> bool:
        """A question touching another problem (新密码用生日行不行 in the stolen-account checklist,
        支付密码输错几次会被锁吗 in the payment one) is asked beside the checklist, not a switch to
        that problem's checklist; unless that problem is more urgent (是不是被盗了?) and the
        question is not about what could happen (`answers.conditional`: 要是…会被锁吗)."""
        if not self._is_question(text, norm):
            return False
        other = self.content.flows[intent]
        more_urgent = other.priority is not None and higher(other.priority, flow.priority) != flow.priority
        return not more_urgent or any(w in norm for w in self._conditional_words)

    def _turns_back_to(self, flow: Flow, text: str) -> bool:
        """充值是成功的 就是付款不行 in the payment checklist: the other problem is set aside by a
        contrast word, and what follows it is this checklist's own problem."""
        if self.rank_intents is None:
            return False
        rest = PUNCT.sub("", self._after_contrast(text))
        return bool(rest) and self.rank_intents(rest)[0][0] == flow.name

    def _step_speaks_of(self, turn: Turn, flow: Flow, step: Step, norm: str) -> bool:
        """A question about something the step's own text names: a two-character word of it
        (question words aside) that the flow's other steps and its title do not use (余额 at
        the balance step; not 失败, which every step of a failure checklist says)."""
        if step.say is None:
            return False
        asked = norm
        for word in self._question_words:
            asked = asked.replace(word, " ")
        said = normalize(turn.render(step.say))
        others = [normalize(turn.render(o.say)) for o in flow.steps.values() if o.say is not None and o is not step]
        title = normalize(turn.render(flow.title))
        pairs = {asked[i : i + 2] for i in range(len(asked) - 1)}
        return any(
            all("\u4e00" <= c <= "\u9fff" and c not in self._function_chars for c in p)
            and p in said
            and p not in title
            and sum(p in o for o in others) <= 1
            for p in pairs
        )

    def _step_on_cause(self, turn: Turn, flow: Flow, step: Step, norm: str) -> str | None:
        """The one other question step of `flow` whose text names what the reply names, when this
        step's text does not."""
        if self._step_speaks_of(turn, flow, step, norm):
            return None
        found = [
            s.id
            for s in flow.steps.values()
            if s is not step and s.options and self._step_speaks_of(turn, flow, s, norm)
        ]
        return found[0] if len(found) == 1 else None

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
            leaf = self._solved_leaf(flow, turn.brand_key)
            if leaf is not None:
                return self._enter(state, turn, flow, leaf.id)
        if move == "give_up":
            state.update(flow=None, step=None, paused=None, awaiting_feedback=None, left_flow=flow.name)
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
            # 页面上写着余额不足: the advice of the step that speaks of that cause (先充值) follows:
            # this step's own, unless one other step of the checklist alone names it (余额 at
            # "哪种交易失败了？").
            turn.say("cause_found")
            return self._enter(state, turn, flow, self._step_on_cause(turn, flow, step, norm) or step.id)
        if move == "cannot":
            return self._step_buttons(turn, step, "cannot_check")
        self._digress(state, turn, flow, step, norm, intent, confident)

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
            return self._answer_aside(state, turn, flow, step, entry)
        if self._is_question(norm, norm):
            # 能不能帮我把额度调高点: a question nothing here answers is said to be one, not "not understood".
            turn.result.outcome = Outcome.ANSWERED
            turn.say("question_unknown")
            return self._step_buttons(turn, step, "step_continue")
        self._not_understood(state, turn, flow, step)

    def _answer_at_step(self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step, entry: FaqEntry) -> None:
        """A question asked at a step (限额是多少, 公共wifi付钱安全吗): answered from the FAQ."""
        self._answer_aside(state, turn, flow, step, entry)

    def _answer_aside(self, state: dict[str, Any], turn: Turn, flow: Flow, step: Step, entry: FaqEntry) -> None:
        """An FAQ answer in the middle of a checklist: said, and the step still waits for its
        answer, as a support agent would go on (no "did this help?" between the two). The step is
        also kept as paused, so 好 接着刚才的吧 goes back to it instead of reading as a yes."""
        state.update(faq_id=entry.id, paused={"flow": flow.name, "step": step.id})
        turn.result.report["faq"] = entry.id
        turn.result.outcome = Outcome.ANSWERED
        turn.add(turn.render(entry.answer))
        self._step_buttons(turn, step, "step_continue")
