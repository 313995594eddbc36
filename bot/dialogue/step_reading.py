"""How a typed reply reads at a checklist step: which option it picks by its words or its kind,
turned around by a contrast (显示成功了 但是钱没到), past the step when the rest answers the next
one, and the readings that look at its clauses (an ending that says how it went, a first clause
that gives up, a last clause that asks). Reading only: what the dialogue does with a reading is
bot/dialogue/step_replies.py.

A mixin of the Policy, built on walking the checklist (bot/dialogue/checklist.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from bot.dialogue.answers import (
    MOVE_CONFIDENCE,
    MOVES,
    SURE_KIND,
    Reading,
    keyword_option,
    read_answer,
    without_echoed_labels,
)
from bot.dialogue.checklist import Checklist
from bot.dialogue.turn import PUNCT
from bot.dialogue.understanding import CLAUSE_BREAK, PAUSES, alternation, clauses_of
from bot.flows.model import Flow, Option, Step
from bot.nlu.normalize import normalize


@functools.lru_cache(maxsize=4096)
def solved_word_pattern(word: str, negators: frozenset[str]) -> re.Pattern[str]:
    """`word` with at most one character that is no negator between any two of its characters."""
    gap = f"[^{re.escape(''.join(sorted(negators)))}]?" if negators else ".?"
    return re.compile(gap.join(re.escape(c) for c in word))


def negated_part(negations: Iterable[str], affirmations: Iterable[str]) -> re.Pattern[str] | None:
    """The negated part of a correction (不是充值, 不是充值的问题): a negation word (`answers.negation`
    in data/responses.yml) and what follows it up to a pause or an affirmation word
    (`answers.affirmation`: 不是充值是提现). None when there are no negation words."""
    negated = alternation(negations)
    if not negated:
        return None
    stops = alternation(affirmations)
    rest = f"(?:(?!{stops})[^{PAUSES}])*" if stops else f"[^{PAUSES}]*"
    return re.compile(f"(?:{negated}){rest}")


class StepReading(Checklist):
    # What this part uses of the Policy it is part of (set or defined there). Declared, not
    # inherited: the Policy is the subclass, so naming it as a base would be a cycle.
    _addressed_words: tuple[str, ...]
    _negators: frozenset[str]
    _negations: frozenset[str]
    _shows: tuple[str, ...]
    _contrast: re.Pattern[str] | None

    def _after_contrast(self, text: str) -> str:
        """What the normalised message says after its last contrast word ("" without one)."""
        if self._contrast is None:
            return ""
        norm = normalize(text)
        ends = [m.end() for m in self._contrast.finditer(norm)]
        return norm[ends[-1] :] if ends else ""

    @staticmethod
    def _solved_leaf(flow: Flow, brand_key: str) -> Step | None:
        """The resolved leaf that "it works now" reaches: the one most yes options lead to
        (提现 has `waiting` before `solved`; only `solved` is what 成功了 leads to)."""
        leaves = [s for s in flow.steps.values() if s.resolved is not None]
        if not leaves:
            return None
        targets = [o.next_for(brand_key) for s in flow.steps.values() for o in s.options if o.means == "yes"]
        return max(leaves, key=lambda leaf: targets.count(leaf.id))

    def _says_solved(self, flow: Flow, bare: str) -> bool:
        """The reply holds one of the flow's `solved_by` words, not negated (不能登录了), perhaps
        with a character that negates nothing inside it (登录进去了 for 登进去了; not 登不进去了)."""
        for word in flow.solved_by:
            found = solved_word_pattern(PUNCT.sub("", normalize(word)), self._negators).search(bare)
            if found and not (found.start() > 0 and bare[found.start() - 1] in self._negators):
                return True
        return False

    @staticmethod
    def _ends_it(flow: Flow, option: Option, brand_key: str) -> bool:
        """The option says the problem is solved: it leads to a resolved leaf."""
        after = flow.steps.get(option.next_for(brand_key))
        return after is not None and after.resolved is not None

    def _ends_asking(self, text: str) -> bool:
        """The last clause of a reply of several is a question about the user's case: not one
        put to the bot or the company (你们到底会不会做软件: `answers.addressed`)."""
        clauses = clauses_of(text)
        if len(clauses) < 2:
            return False
        last = normalize(clauses[-1])
        return self._is_question(clauses[-1], last) and not any(w in last for w in self._addressed_words)

    def _opens_giving_up(self, text: str) -> bool:
        """The reply's first clause, of several, surely gives up (不整了, 算了不弄了)."""
        clauses = clauses_of(text)
        if len(clauses) < 2:
            return False
        kind, confidence = self.read_reply(clauses[0])[0]
        return kind == "give_up" and confidence >= SURE_KIND

    def _tells_outcome(self, norm: str) -> bool:
        """The text holds an `answers.outcome` word not right after a negator (充上了, not 拿不出来了)."""
        for word in self._outcome_words:
            at = norm.find(word)
            while at >= 0:
                if not (at > 0 and norm[at - 1] in self._negators):
                    return True
                at = norm.find(word, at + 1)
        return False

    def _outcome_clause(self, text: str) -> str | None:
        """The last clause of a longer reply when it surely (`dialogue.sure_outcome`) says the
        problem is solved."""
        clauses = clauses_of(text)
        if len(clauses) < 2 or self._is_question(clauses[-1], normalize(clauses[-1])):
            return None
        kind, confidence = self.read_reply(clauses[-1])[0]
        return clauses[-1] if kind == "solved" and confidence >= self.settings.dialogue.sure_outcome else None

    def read_step_reply(self, step: Step, text: str, flow: Flow | None = None) -> Reading:
        """How a typed reply reads at `step` (kind "title": it is an option's whole title).

        With the `flow`, an option named by its words whose rest answers the step it leads to
        wins over the kind of that rest: 手机号填了 一直没收到验证码 at "找到忘记密码了吗？" is
        past that step (找到了), and its "not received" is the next step's answer."""
        bare = PUNCT.sub("", normalize(text))
        for option in step.options:
            if PUNCT.sub("", normalize(option.title)) == bare:
                return Reading("title", 1.0, option=option, named=True)
        titled = [o for o in step.options if len(t := PUNCT.sub("", normalize(o.title))) >= 2 and t in bare]
        said = without_echoed_labels(step, bare)
        shown = self._as_shown(said)
        keyword = keyword_option(step, shown, negations=self._negations) or max(
            titled, key=lambda o: len(o.title), default=None
        )
        read = self.read_reply(said if said != bare else text)
        ranking = self._turned_around(text, read)
        if (
            keyword is not None
            and ranking is read
            and (self._words_explain_kind(shown, keyword, ranking) or self._rest_answers_next(flow, keyword, shown))
        ):
            kind, confidence = ranking[0]
            return Reading(kind, confidence, option=keyword, named=True, ranking=tuple(ranking))
        return read_answer(step, said, ranking, self._whole_yes_no(bare) or self._leading_yes(text), keyword)

    def _rest_answers_next(self, flow: Flow | None, keyword: Option, said: str) -> bool:
        """What the reply says beside the words of a "yes" option picks an option of the step
        that option leads to, by that option's own words (as an opening message would)."""
        if flow is None or keyword.means != "yes" or keyword.next not in flow.steps:
            return False
        rest = self._without_option_words(said, keyword)
        return len(rest) >= 2 and self._answered_by_opening(flow.steps[keyword.next], rest) is not None

    def _leading_yes(self, text: str) -> str | None:
        """ "yes" for a reply that opens with a bare yes word and says no "no" after it (好 帮我申请;
        not 好 但还是不行)."""
        clauses = [PUNCT.sub("", normalize(c)) for c in CLAUSE_BREAK.split(text)]
        clauses = [c for c in clauses if c]
        if len(clauses) < 2 or self._whole_yes_no(clauses[0]) != "yes":
            return None
        if any(self._says_no(c) for c in clauses[1:]):
            return None
        kind, confidence = self.read_reply(" ".join(clauses[1:]))[0]
        # 行了 不折腾了 我明天去银行问问: the yes closes the matter, the rest gives up.
        return None if kind in MOVES and confidence >= MOVE_CONFIDENCE else "yes"

    def _turned_around(self, text: str, ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """A reply read as "solved" or "fine" that a contrast word turns around (显示成功了 但是钱没到,
        网络没问题 可还是充不进去): what
        follows the last contrast word, read as a failure, a cause or "cannot tell" if it is one,
        else as "still failing"."""
        if not ranking or ranking[0][0] not in ("solved", "fine"):
            return ranking
        rest = self._after_contrast(text)
        if not PUNCT.sub("", rest):
            return ranking
        after = self.read_reply(rest)
        if after and after[0][0] in ("failing", "cause", "cannot"):
            return after
        if after and after[0][1] < MOVE_CONFIDENCE:
            return ranking  # 不过前天我忘了密码重置过一次: a side remark, of no clear kind
        # 可是余额一分没多 reads as "fine" alone; after a success it says the problem is still there.
        return [("failing", 1.0)]

    def _as_shown(self, bare: str) -> str:
        """`bare` with its words that report what a screen shows (`answers.shows`: 写的是) read as 显示."""
        for word in self._shows:
            bare = bare.replace(word, "显示")
        return bare

    def _words_explain_kind(self, said: str, keyword: Option, ranking: list[tuple[str, float]]) -> bool:
        """The reply reads as a kind its option's words stand against only because of those words:
        记录显示提现成功 reads as "solved" through 成功, but its author listed 提现成功 as "not
        arrived". Without the words the reply no longer reads as that kind (a sure reading: no
        longer surely); where it still does (我看不懂是扣了还是没扣 without 扣了 is still "cannot
        tell"), the kind wins over the words."""
        if not ranking or not keyword.kinds:
            return False
        kind, confidence = ranking[0]
        if kind in keyword.kinds:
            return False
        rest = self._without_option_words(said, keyword)
        if len(rest) < 2:
            return True
        again = self.read_reply(rest)
        if again and again[0][0] != kind:
            return True
        return confidence >= SURE_KIND and dict(again).get(kind, 0.0) < SURE_KIND
